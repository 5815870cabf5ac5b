"""Drive the real workstation window as a user would, until killed (for tests/reliability/test_kill.py).

    python -m tests.reliability.gui_driver --db DB --acks ACKS --bundles DIR --exports DIR
        [--model GGUF] [--seed N] [--focus PHASE] [--reopen SESSION] [--ops N]
    python -m tests.reliability.gui_driver --zygote   (then one JSON request per line on stdin)

It starts the application the way `workstation` does (`ui.app.run_gui`: QApplication, the
MainWindow with the model loading by itself, the Team menu), offscreen. With `--reopen` it
first opens that session and reports the rows the tree shows. Then it loops through operations
through the window's own methods: generate, label, save a note, rewrite, regenerate, import a
teammate's signed bundle, export. The GUI thread never waits: each operation is started, and a
timer looks for the moment the window acknowledges it (its `operation_done` signal, which the
window emits in the operation's done callback, after the commit; an export's or import's
dialog reports its result).

Stdout (written with os.write, so a SIGKILL loses nothing already "said"), one line each:
  ready {"session": ...}                  the database is open, the model loaded, this session shown
  reopened {"session": ..., "rows": [...]} the tree of the session asked for, top-level row ids
  phase KIND N                            operation N, of KIND, starts now
  done KIND N SECONDS                     the window acknowledged it (the ack line is on disk)
  error KIND N MESSAGE                    the window showed an error instead
The acknowledgment file gets one JSON line per acknowledged operation, fsync'd before `done`.
The test starts each app through the zygote (`zygote()`), which forks it after the imports.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Operations and how often the driver picks each (besides the focus).
WEIGHTS = {
    "generate": 2,
    "regenerate": 2,
    "label": 3,
    "annotate": 1,
    "rewrite": 3,
    "import": 2,
    "export": 2,
    "open": 1,
}
#: Export formats and the file (or folder) name each is written to, always the same one, so that
#: a later export replaces an earlier one: a killed export must leave the complete old file.
EXPORTS = {
    "trl-stepwise": "stepwise.jsonl",
    "prm800k": "prm800k.jsonl",
    "kto": "kto.jsonl",
    "report": "report.html",
    "parquet": "parquet",
    "bundle": "mine.wsbundle",
}
#: What the zygote imports before it forks (what the app imports at start and on first use).
WARM_IMPORTS = (
    "duckdb", "keyring", "llama_cpp", "PySide6.QtWidgets", "PySide6.QtCharts", "workstation.engine.llama_engine",
    "workstation.exchange.merge", "workstation.review_exchange", "workstation.ui.app",
    "workstation.ui.exchange_dialogs", "workstation.ui.main_window", "workstation.ui.team_menu",
)
#: An operation that takes longer than this is reported stuck (the test then fails).
STUCK_S = 300.0


def say(line: str) -> None:
    """One line on stdout, unbuffered."""
    os.write(1, (line.replace("\n", " ") + "\n").encode())


class Acks:
    """The acknowledgment file: one JSON line per operation the app said was saved."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = read_acks(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def add(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(self._fd)
        self.records.append(record)


def read_acks(path: Path) -> list[dict[str, Any]]:
    """The acknowledged operations (a last line cut short by a kill is not one: it had no fsync)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


class Driver:
    """Runs one operation at a time through the window; a timer watches for each result."""

    def __init__(self, window: Any, args: argparse.Namespace) -> None:
        from PySide6.QtCore import QTimer

        from workstation.ui.team_menu import TeamMenu

        self.window = window
        self.team: TeamMenu = window.findChild(TeamMenu)
        self.args = args
        self.rng = random.Random(args.seed)
        self.acks = Acks(Path(args.acks))
        self.bundles = sorted(Path(args.bundles).glob("*.wsbundle")) if args.bundles else []
        self.exports = Path(args.exports)
        self.count = 0
        self.kind = ""
        self.started = 0.0
        self.check: Callable[[], Any] | None = None
        #: Sessions named by the window's `operation_done`, in order (the acknowledgments).
        self.done_sessions: list[str] = []
        window.operation_done.connect(lambda session_id, _what: self.done_sessions.append(session_id))
        self.timer = QTimer(window)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    # -- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        self.kind = "start"
        self.started = time.monotonic()
        self.check = self._started
        self.timer.start()

    def _tick(self) -> None:
        if self.check is None:
            return
        try:
            result = self.check()
        except Exception:  # the driver's own fault: say so, and stop (an exception in a slot would not)
            import traceback

            say(f"error {self.kind} {self.count} driver: {traceback.format_exc()}")
            os._exit(4)
        if result is None:
            if time.monotonic() - self.started > STUCK_S:
                say(f"error {self.kind} {self.count} stuck for {STUCK_S:.0f} s")
                os._exit(5)
            return
        self.check = None
        self._next()

    def _error_shown(self) -> str | None:
        bar = self.window.parts.messages
        if bar.level == "error" and not bar.isHidden():
            return bar.label.text()
        return None

    def _started(self) -> bool | None:
        w = self.window
        if not (w.ready and w.session.state is not None and w.model.loaded is not None):
            if (message := self._error_shown()) is not None:
                say(f"error start 0 {message}")
                os._exit(3)
            return None
        say("ready " + json.dumps({"session": w.session.state.session_id}))
        if self.args.reopen:
            w.session.open_session(self.args.reopen)
            self.kind = "reopen"
            self.check = self._reopened
            return None
        return True

    def _reopened(self) -> bool | None:
        state = self.window.session.state
        if state is None or state.session_id != self.args.reopen:
            return None
        model = self.window.parts.tree_model
        from PySide6.QtCore import QModelIndex

        rows = [model.node(model.index(r, 0, QModelIndex())).id for r in range(model.rowCount(QModelIndex()))]
        say("reopened " + json.dumps({"session": state.session_id, "rows": rows}))
        self.check = None
        return True

    def _next(self) -> None:
        self.count += 1
        self.started = time.monotonic()
        self.window.parts.messages.hide()  # the user dismisses the last message
        # Nothing to work on in the open session (a generation killed before its steps were
        # saved leaves a session with none): open another, as a user would, or ask a question.
        for kind in (self._pick(), "open", "generate"):
            self.kind = kind
            self.check = getattr(self, f"_do_{kind}")()
            if self.check is not None:
                return

    def _begin(self) -> None:
        """Say which operation starts, just before the window is asked to do it."""
        self.started = time.monotonic()
        say(f"phase {self.kind} {self.count}")

    def _pick(self) -> str:
        if self.args.focus and (self.count == 1 or self.rng.random() < 0.4):
            return self.args.focus
        kinds = list(WEIGHTS)
        return self.rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]

    def _finish(self, record: dict[str, Any] | None, message: str | None = None) -> bool:
        """Acknowledged (record it, then say so) or refused with a message."""
        elapsed = time.monotonic() - self.started
        if record is not None:
            record.update(kind=self.kind, n=self.count, pid=os.getpid())
            self.acks.add(record)
            say(f"done {self.kind} {self.count} {elapsed:.3f}")
        else:
            say(f"error {self.kind} {self.count} {message}")
        return True

    # -- helpers ------------------------------------------------------------------------------

    def _acknowledged(self, before: int) -> str | None:
        """The session of the first operation the window said was done since `before` of them."""
        return self.done_sessions[before] if len(self.done_sessions) > before else None

    def _wait_push(self, make: Callable[[str], dict[str, Any]]) -> Callable[[], Any]:
        """A check: done when the window acknowledges an operation (then `make(session)` describes
        it) or an error shows."""
        before = len(self.done_sessions)

        def check() -> bool | None:
            sid = self._acknowledged(before)
            if sid is not None and self.window.generation.job is None:
                return self._finish(make(sid))
            if (message := self._error_shown()) is not None and self.window.generation.job is None:
                return self._finish(None, message)
            return None

        return check

    def _steps(self) -> list[Any]:
        """The steps the tree shows (top-level rows other than the question)."""
        state = self.window.session.state
        if state is None:
            return []
        return [n for n in state.tree.shown_path() if n.kind in ("step", "answer")]

    def _pick_step(self) -> Any | None:
        """A random step the tree shows, selected in the window; None when there is none."""
        steps = self._steps()
        if not steps:
            return None
        node = self.rng.choice(steps)
        return node if self._select(node) else None

    def _select(self, node: Any) -> bool:
        index = self.window.parts.tree_model.index_of_node(node.id)
        if not index.isValid():
            return False
        self.window.parts.tree_view.setCurrentIndex(index)
        return self.window.session.current_node_id == node.id

    def _unique(self) -> str:
        return f"{os.getpid()}-{self.count}-{self.rng.randrange(10**9)}"

    # -- operations: each returns the check that sees it end -------------------------------------

    def _do_generate(self) -> Callable[[], Any]:
        w = self.window
        a, b = self.rng.randrange(2, 30), self.rng.randrange(2, 30)
        question = f"What is {a} * {b}? Show each step. (case {self._unique()})"
        self._begin()
        w.session.new_session()
        w.parts.question.setPlainText(question)
        w.generation.generate()

        def record(sid: str) -> dict[str, Any]:
            state = w.session.state
            assert state is not None and state.session_id == sid, "the new session is shown when acknowledged"
            nodes = [n.id for n in state.tree.nodes.values() if n.kind != "question"]
            return {"session": sid, "question": question, "nodes": nodes}

        return self._wait_push(record)

    def _do_regenerate(self) -> Callable[[], Any] | None:
        w = self.window
        node = self._pick_step()
        if node is None or w.session.state is None:
            return None
        known = set(w.session.state.tree.nodes)
        self._begin()
        w.generation.regenerate(False)

        def record(sid: str) -> dict[str, Any]:
            state = w.session.state
            assert state is not None and state.session_id == sid
            new = [n for n in state.tree.nodes if n not in known]
            return {"session": sid, "node": node.id, "nodes": new}

        return self._wait_push(record)

    def _label(self, value: int | None) -> Callable[[], Any] | None:
        w = self.window
        node = self._pick_step()
        if node is None:
            return None
        note = f"note {self._unique()}"
        kept = value
        if value is None:
            # Saving a note keeps the label this reviewer gave the step's current version, as the
            # inspector shows it (a label belongs to the version it was given on: one on a version
            # since rewritten is not carried over).
            from workstation.review_queue import labelled_by

            tree = w.session.state.tree if w.session.state else None
            kept = labelled_by(tree, tree.node(node.id), w.reviewer_id) if tree is not None else None
        w.parts.inspector.note.setPlainText(note)
        self._begin()
        if value is None:
            w.edits.save_annotation()
        else:
            w.edits.label(value)
        reviewer = w.reviewer_id

        def record(sid: str) -> dict[str, Any]:
            return {"session": sid, "node": node.id, "label": kept, "note": note, "reviewer": reviewer}

        return self._wait_push(record)

    def _do_label(self) -> Callable[[], Any] | None:
        return self._label(self.rng.choice((-1, 0, 1)))

    def _do_annotate(self) -> Callable[[], Any] | None:
        return self._label(None)

    def _do_rewrite(self) -> Callable[[], Any] | None:
        w = self.window
        node = self._pick_step()
        if node is None:
            return None
        text = f"{self.rng.randrange(2, 30)} * 4 = {self.rng.randrange(8, 120)} (rewrite {self._unique()})"
        self._begin()
        w.edits.edit_step()
        w.parts.inspector.editor.setPlainText(text)
        w.edits.rewrite(w.parts.inspector.editor.toPlainText())

        def record(sid: str) -> dict[str, Any]:
            return {"session": sid, "node": node.id, "text": text}

        return self._wait_push(record)

    def _do_import(self) -> Callable[[], Any] | None:
        if not self.bundles:
            return None
        flow = self.team.import_flow
        # Bundles not imported yet first; then any (an import of a known bundle changes nothing).
        done = {r["bundle"] for r in self.acks.records if r["kind"] == "import"}
        fresh = [b for b in self.bundles if str(b) not in done]
        bundle = fresh[0] if fresh else self.rng.choice(self.bundles)
        self._begin()
        flow.start([bundle])

        def check() -> bool | None:
            if flow.trust_dialog is not None:
                flow.trust_dialog.accept()  # the user compared the fingerprint and trusts it
                return None
            if flow.running:
                return None
            if flow.results_dialog is not None:
                flow.results_dialog.accept()
            outcomes = list(flow.outcomes.values())
            if not outcomes or any(o.status == "refused" for o in outcomes):
                why = "; ".join(o.error for o in outcomes) or self._error_shown()
                return self._finish(None, f"import refused: {why}")
            o = outcomes[0]
            return self._finish({"bundle": str(bundle), "status": o.status, "new_events": o.new_events})

        return check

    def _do_export(self) -> Callable[[], Any]:
        # The phase starts when Export is pressed, once the dialog has read the sessions: kills
        # aimed at an export land while it writes, not while the dialog fills in.
        dialog = self.team.open_export()
        fmt = self.rng.choice(list(EXPORTS))
        out = self.exports / EXPORTS[fmt]
        phase = ["load"]
        results: list[str] = []

        def check() -> bool | None:
            if phase[0] == "load":
                if not dialog.loaded:
                    return None
                dialog.set_format(fmt)
                dialog.exported.connect(results.append)
                self._begin()
                dialog.export(out)
                phase[0] = "run"
                return None
            if dialog.running:
                return None
            dialog.exported.disconnect(results.append)
            dialog.hide()
            if not results:
                return self._finish(None, dialog.result.text())
            return self._finish({"format": fmt, "path": str(out), "summary": results[-1]})

        return check

    def _do_open(self) -> Callable[[], Any] | None:
        """Open another session that has steps, from the sessions list (as a double-click does)."""
        from workstation.ui.sessions_panel import SessionRole

        listed = self.window.parts.sessions.list
        items = [listed.topLevelItem(i) for i in range(listed.topLevelItemCount())]
        current = self.window.session.current_session
        sessions = [i.data(0, SessionRole) for i in items if i.text(1).isdigit() and int(i.text(1)) > 0]
        sessions = [sid for sid in sessions if sid and sid != current]
        if not sessions:
            return None
        sid = self.rng.choice(sessions)
        self._begin()
        self.window.session.open_session(sid)

        def check() -> bool | None:
            state = self.window.session.state
            if state is not None and state.session_id == sid:
                say(f"done open {self.count} {time.monotonic() - self.started:.3f}")
                return True
            if (message := self._error_shown()) is not None:
                return self._finish(None, message)
            return None

        return check


def zygote() -> int:
    """Import what the app imports once, then start one app per request line on stdin, by fork.

    A request is JSON: {"args": [driver arguments], "stderr": file}. The zygote says `pid N`
    when the app starts and `reaped N STATUS` when it has ended (killed: -9); the app's own
    lines come in between, on the same stdout. Each app is a new process that starts the way
    `workstation` does from `run_gui` (QApplication, window, database, model); only the
    imports are already done, which saves a second or two per restart.
    """
    import importlib
    import traceback

    for name in WARM_IMPORTS:
        importlib.import_module(name)

    # fork() copies only the calling thread: with another thread running (OpenBLAS starts
    # one unless OPENBLAS_NUM_THREADS=1), a lock it held would stay locked in the child.
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        say(f"error zygote 0 {threads} threads before fork; set OPENBLAS_NUM_THREADS=1")
        return 2
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(err, 2)
                status = main(request["args"])
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - reported, then the child ends
                say("error fork 0 driver: " + traceback.format_exc())
            os._exit(status)
        say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"reaped {pid} {os.waitstatus_to_exitcode(status)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--acks", required=True)
    parser.add_argument("--bundles", default="")
    parser.add_argument("--exports", required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--focus", default="", choices=["", *WEIGHTS])
    parser.add_argument("--reopen", default="")
    parser.add_argument("--ops", type=int, default=0, help="stop (close the window) after this many; 0: never")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from workstation.ui.app import run_gui
    from workstation.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    drivers: list[Driver] = []

    def attach() -> None:
        # The window `run_gui` made, as the `workstation` command makes it.
        window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        driver = Driver(window, args)
        drivers.append(driver)
        if args.ops:
            original = driver._next

            def limited() -> None:
                if driver.count >= args.ops:
                    driver.timer.stop()
                    say("closing")
                    window.close()
                    app.quit()
                    return
                original()

            driver._next = limited  # type: ignore[method-assign]
        driver.start()

    QTimer.singleShot(0, attach)
    return run_gui(args.model, Path(args.db))

if __name__ == "__main__":
    sys.exit(zygote() if sys.argv[1:] == ["--zygote"] else main())
