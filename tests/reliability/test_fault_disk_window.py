"""A full disk while the window saves: labels, notes, rewrites and generations.

The database lives on a small tmpfs. With the disk full, each change is refused with one line
in the message bar that names the database file, says the disk is full and to free space and
try again; nothing saved before is lost and the file opens. Once space is back the same
window, with no restart, saves the same change. (The store closes its connection after a failed
write and opens the file again on its next use; DuckDB replays its log.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.store import Store
from workstation.ui.tree_model import COL_LABEL

from .fault_disk import TinyDisk, mount_tiny_disk
from .fault_window import clear_message, open_window, select_row, wait_error, wait_idle, write_fast_settings

pytestmark = pytest.mark.qt


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    yield from mount_tiny_disk(tmp_path / "tiny", "8m")


def _events(db: Path) -> int:
    # This process holds the file for writing: a read-only open reads a snapshot of it.
    with Store.open(db, read_only=True) as store:
        return store.verify_events()


def _assert_disk_full(text: str, db: Path) -> None:
    assert str(db) in text and "disk is full" in text and "free some space" in text, text


def test_autosave_on_a_full_disk_fails_cleanly_and_retries(qtbot, disk: TinyDisk, figures) -> None:
    write_fast_settings()
    db = disk.root / "review.duckdb"
    window = open_window(qtbot, db)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    select_row(qtbot, window, 1)
    node_id = window.session.current_node_id
    before = _events(db)

    # Each change is larger than the page DuckDB's log file may still have room in.
    filler = " (a long note, to be larger than a page)" * 300
    note_text = "checked on a full disk" + filler
    rewrite_text = "Rewritten while the disk was full." + filler

    def label() -> None:
        window.parts.inspector.note.setPlainText("labelled" + filler)
        window.edits.label(1)

    def note() -> None:
        window.parts.inspector.note.setPlainText(note_text)
        window.edits.save_annotation()

    def rewrite() -> None:
        window.edits.rewrite(rewrite_text)

    def labelled() -> bool:
        return "right" in (window.parts.tree_model.index(1, COL_LABEL).data() or "")

    def noted() -> bool:
        mine = window.session.state.tree.current_annotations(node_id).get(window.reviewer_id)
        return mine is not None and mine.note == note_text

    def rewritten() -> bool:
        node = window.session.state.tree.node(node_id)
        return node.current.origin == "rewrite" and node.text == rewrite_text

    faults = 0
    for action, done in ((label, labelled), (note, noted), (rewrite, rewritten)):
        disk.fill(0)
        clear_message(window)
        action()
        _assert_disk_full(wait_error(qtbot, window), db)
        wait_idle(qtbot, window)
        assert not done(), f"{action.__name__}: shown as saved although the disk was full"
        faults += 1
        disk.free()
        clear_message(window)
        select_row(qtbot, window, 1)
        action()
        qtbot.waitUntil(done, timeout=20_000)
        assert window.parts.messages.level != "error", window.parts.messages.label.text()
    window.close()
    # Everything from before is there, and exactly the three retried changes were added.
    with Store.open(db) as store:
        assert store.verify_events() == before + 3
        node = store.history(window.session.current_session).tree.node(node_id)
        assert node.text == rewrite_text
    figures.add("disk-full faults survived", faults)


@pytest.mark.model
def test_generation_on_a_full_disk_fails_cleanly_and_retries(qtbot, disk: TinyDisk, default_model_path, figures) -> None:
    write_fast_settings()
    db = disk.root / "review.duckdb"
    window = open_window(qtbot, db, default_model_path)
    with Store.open(db, read_only=True) as store:
        sessions_before = len(store.list_sessions())
    session = window.session.current_session
    faults = 0

    # A new session: its small first event may still fit in the log's last page; its steps
    # do not. Either way the message says so, and no steps are shown as saved.
    disk.fill(0)
    clear_message(window)
    window.parts.question.setPlainText("What is 7 * 6?")
    window.parts.actions["generate"].trigger()
    _assert_disk_full(wait_error(qtbot, window), db)
    wait_idle(qtbot, window)
    faults += 1

    # A regeneration: the model writes, then saving its steps is refused.
    disk.free()
    window.session.open_session(session)
    qtbot.waitUntil(lambda: window.session.state is not None and window.session.state.tree.session.id == session)
    step = select_row(qtbot, window, 1)
    alternatives = len(window.session.state.tree.alternatives(step))
    disk.fill(0)
    clear_message(window)
    window.parts.actions["regenerate"].trigger()
    _assert_disk_full(wait_error(qtbot, window, timeout=120_000), db)
    wait_idle(qtbot, window)
    faults += 1

    # Space back: the same window regenerates and generates again.
    disk.free()
    clear_message(window)
    select_row(qtbot, window, 1)
    window.parts.actions["regenerate"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    assert window.session.current_session == session
    window.parts.question.setPlainText("What is 7 * 6?")
    window.parts.actions["generate"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    window.close()
    with Store.open(db) as store:
        asked = [s for s in store.list_sessions() if s.question == "What is 7 * 6?"]
        assert len(store.list_sessions()) == sessions_before + len(asked)
        # The retried generation saved its steps; the refused one saved none.
        assert sorted(s.steps > 0 for s in asked) in ([True], [False, True]), asked
        tree = store.history(session).tree
        assert len(tree.alternatives(step)) == alternatives + 1, "the retried regeneration was not saved"
    figures.add("disk-full faults survived", faults)


def test_cli_saves_on_a_full_disk(disk: TinyDisk, capsys, figures) -> None:
    from workstation.cli import main

    from .fault_disk import counts, populate

    db = disk.root / "review.duckdb"
    populate(db, sessions=2)
    with Store.open(db) as store:
        held = counts(store)
        session = store.list_sessions()[0].id
        step = store.history(session).tree.preferred_path()[1].id
    long = " (longer than a page)" * 400
    commands = (
        ["annotate", step, "--db", str(db), "--label", "0", "--note", "full" + long],
        ["rewrite", step, "--db", str(db), "--text", "Rewritten" + long],
    )
    faults = 0
    for args in commands:
        disk.fill(0)
        capsys.readouterr()
        status = main(args)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
        _assert_disk_full(lines[0], db)
        faults += 1
        disk.free()
        assert main(args) == 0, capsys.readouterr().err  # the same process, once space is back
    with Store.open(db) as store:
        assert counts(store)["events"] == held["events"] + 2
        node = store.history(session).tree.node(step)
        assert node.text == "Rewritten" + long
    figures.add("disk-full faults survived", faults)
