"""The database shared or locked away while windows run.

- Two windows on one database, in two processes or in one: the first keeps the file; the second
  says who holds it (one line, naming the file) and opens a read-only snapshot taken then, in
  which reading, browsing and exporting work and each change is refused in one line that
  names the file and says what to do. The first window's work is all kept.
- The database file and its folder made read-only while a window runs (as an ordinary user:
  root ignores permissions): the OS checks permissions when a file is opened, so the running
  window, which holds the file open, goes on saving (honestly: nothing is refused, nothing
  lost). A window opened afterwards cannot write the file: it says so, naming the file, and
  opens it read-only, with everything saved before; a change there is refused in one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.store import Store
from workstation.ui.export_dialog import ExportDialog

from ..store.helpers import child_env
from .fault_window import CHILD_WINDOW, clear_message, message, open_window, select_row, wait_error, wait_idle
from .fault_window import write_fast_settings

pytestmark = pytest.mark.qt

SETPRIV = shutil.which("setpriv") or "setpriv"


class ChildWindow:
    """A real window in another process (see `CHILD_WINDOW`)."""

    def __init__(self, db: Path, env: dict[str, str] | None = None, *, as_user: bool = False) -> None:
        # As a user: root without the capabilities that override file permissions, so that a
        # read-only file or folder is refused to it as to anyone (and it still reads Python's
        # own files under /root).
        prefix = [SETPRIV, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"] if as_user else []
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [*prefix, sys.executable, "-c", CHILD_WINDOW, str(db), "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**child_env(), "QT_QPA_PLATFORM": "offscreen", **(env or {})},
        )

    def send(self, command: str) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            raise AssertionError(f"the child window ended: {self.process.stderr.read()[-3000:]}")
        return json.loads(line)

    def quit(self) -> None:
        """End the child (if it still runs) and close its pipes."""
        try:
            if self.process.poll() is None:
                self.process.communicate("quit\n", timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.communicate()


@pytest.fixture
def child_windows() -> Iterator[list[ChildWindow]]:
    children: list[ChildWindow] = []
    yield children
    for child in children:
        child.quit()


def _label_of(db: Path, session: str, node: str, reviewer: str) -> int | None:
    with Store.open(db, read_only=True) as store:
        mine = store.history(session).tree.current_annotations(node).get(reviewer)
        return mine.label if mine else None


def _check_read_only_view(qtbot, window, db: Path, tmp_path: Path) -> None:
    """Browsing and exporting work in a read-only window; a change is refused in one line."""
    assert window.parts.sessions.list.topLevelItemCount() >= 1
    assert window.parts.tree_model.rowCount() >= 2
    select_row(qtbot, window, 1)
    clear_message(window)
    window.edits.label(1)
    text = wait_error(qtbot, window)
    assert str(db) in text and "read-only" in text and "not saved" in text, text
    dialog = ExportDialog(window.backend, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=30_000)
    dialog.set_format("report")
    out = tmp_path / "from-the-snapshot.html"
    with qtbot.waitSignal(dialog.exported, timeout=60_000):
        dialog.export(out)
    assert out.stat().st_size > 0
    dialog.close()


def test_a_second_process_opens_a_read_only_snapshot(qtbot, tmp_path: Path, child_windows, figures) -> None:
    write_fast_settings()
    db = tmp_path / "review.duckdb"
    first = ChildWindow(db, env={"WORKSTATION_HOME": str(tmp_path / "child-home")})
    child_windows.append(first)
    assert first.send("open")["ready"]
    saved = first.send("label -1")
    assert saved["level"] != "error" and "wrong" in saved["label"], saved

    second = open_window(qtbot, db)
    assert second.ready and second.parts.messages.level == "warning", message(second)
    text = message(second)
    assert str(db) in text and "another workstation window" in text and "read-only" in text, text
    assert str(first.process.pid) in text
    _check_read_only_view(qtbot, second, db, tmp_path)

    again = first.send("label 1")  # the first window keeps working
    assert again["level"] != "error" and "right" in again["label"], again
    second.close()
    first.send("close")
    with Store.open(db, read_only=True) as store:
        mine = store.history(saved["session"]).tree.current_annotations(saved["node"])
    assert [a.label for a in mine.values()] == [1]
    figures.add("file faults survived", 1)


def test_two_windows_in_one_process(qtbot, tmp_path: Path, figures) -> None:
    write_fast_settings()
    db = tmp_path / "review.duckdb"
    first = open_window(qtbot, db)
    second = open_window(qtbot, db)
    assert second.ready and second.parts.messages.level == "warning", message(second)
    text = message(second)
    assert str(db) in text and "already open in this workstation window" in text and "read-only" in text, text
    _check_read_only_view(qtbot, second, db, tmp_path)
    # The first window still saves.
    node = select_row(qtbot, first, 1)
    clear_message(first)
    first.edits.label(1)
    wait_idle(qtbot, first)
    assert first.parts.messages.level != "error", message(first)
    session = first.session.current_session
    reviewer = first.reviewer_id
    second.close()
    first.close()
    assert _label_of(db, session, node, reviewer) == 1
    figures.add("file faults survived", 1)


def test_database_made_read_only_while_a_window_runs(tmp_path: Path, child_windows, figures) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv, to run a window without root's file-permission override")
    home, data = tmp_path / "child-home", tmp_path / "data"
    data.mkdir()
    db = data / "review.duckdb"
    window = ChildWindow(db, env={"WORKSTATION_HOME": str(home)}, as_user=True)
    child_windows.append(window)
    assert window.send("open")["ready"]
    first = window.send("label -1")
    assert first["level"] != "error" and "wrong" in first["label"], first

    # Read-only while it runs: the file and its folder.
    for path in data.iterdir():
        path.chmod(0o444)
    data.chmod(0o555)
    kept = window.send("label 1")
    assert kept["level"] != "error" and "right" in kept["label"], kept
    assert window.send("close")["closed"]

    # Opened again: told why, in one line naming the file; shown read-only, with everything.
    reopened = window.send("open")
    assert reopened["ready"] and reopened["level"] == "warning", reopened
    assert str(db) in reopened["text"] and "read-only" in reopened["text"], reopened
    refused = window.send("label 0")
    assert refused["level"] == "error" and str(db) in refused["text"] and "not saved" in refused["text"], refused
    assert "\n" not in refused["text"] and "Traceback" not in refused["text"]
    assert "right" in refused["label"], "the read-only view lost the label saved before"
    assert window.send("close")["closed"]
    window.quit()

    data.chmod(0o755)
    with Store.open(db, read_only=True) as store:
        labels = [a.label for a in store.history(first["session"]).tree.current_annotations(first["node"]).values()]
    assert labels == [1], labels
    figures.add("file faults survived", 2)


def _cli(*args: str, as_user: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line in its own process (as a user without root's override, if asked)."""
    prefix = [SETPRIV, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"] if as_user else []
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [*prefix, sys.executable, "-m", "workstation", *args], capture_output=True, text=True,
        env={**child_env(), **(env or {})}, timeout=120, check=False,
    )


def _one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_cli_on_a_database_another_window_holds(tmp_path: Path, child_windows, figures) -> None:
    db = tmp_path / "review.duckdb"
    env = {"WORKSTATION_HOME": str(tmp_path / "home")}
    window = ChildWindow(db, env=env)
    child_windows.append(window)
    assert window.send("open")["ready"]
    labelled = window.send("label 1")
    # A change is refused, naming the file and who holds it.
    done = _cli("annotate", labelled["node"], "--db", str(db), "--label", "-1", env=env)
    _one_line_error(done, str(db), "another workstation window", str(window.process.pid))
    # Reading and exporting work, from a snapshot.
    done = _cli("sessions", "--db", str(db), "--json", env=env)
    assert done.returncode == 0 and "read-only" in done.stderr, done.stderr
    assert labelled["session"] in done.stdout
    out = tmp_path / "held.jsonl"
    done = _cli("export", "--db", str(db), "--format", "trl-stepwise", "--out", str(out), env=env)
    assert done.returncode == 0 and out.stat().st_size > 0, done.stderr
    assert window.send("label -1")["level"] != "error"  # the window's own work goes on
    window.send("close")
    with Store.open(db, read_only=True) as store:
        labels = [a.label for a in store.history(labelled["session"]).tree.current_annotations(labelled["node"]).values()]
    assert labels == [-1]
    figures.add("file faults survived", 1)


def test_cli_on_a_read_only_database(tmp_path: Path, figures) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv, to run without root's file-permission override")
    data = tmp_path / "data"
    data.mkdir()
    db = data / "review.duckdb"
    env = {"WORKSTATION_HOME": str(tmp_path / "home")}
    from .fault_disk import populate

    populate(db, sessions=2)
    with Store.open(db) as store:
        session = store.list_sessions()[0].id
        step = store.history(session).tree.preferred_path()[1].id
        before = store.verify_events()
    db.chmod(0o444)
    data.chmod(0o555)
    try:
        done = _cli("annotate", step, "--db", str(db), "--label", "1", as_user=True, env=env)
        _one_line_error(done, str(db), "permission denied")
        done = _cli("show", session, "--db", str(db), as_user=True, env=env)
        assert done.returncode == 0 and "read-only" in done.stderr, done.stderr
    finally:
        data.chmod(0o755)
        db.chmod(0o644)
    with Store.open(db) as store:
        assert store.verify_events() == before
    figures.add("file faults survived", 1)
