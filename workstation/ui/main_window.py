"""The workstation's main window: question area, reasoning tree, step inspector, sessions, model.

Widgets hold no business state: every change goes to a review use case on the worker
(`Backend`), and what is shown comes back as `SessionState` snapshots. Each action lives in
`self.actions` with its shortcut, so menus, buttons and the Help dialog share one list. How it
is laid out (the actions table, widgets, docks, menus, status bar) is window_layout.py's.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QModelIndex, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QInputDialog, QMainWindow, QMessageBox

from workstation import paths, settings
from workstation.ui import window_layout
from workstation.ui.backend import Backend, Ready, SessionState
from workstation.ui.inspector import set_plain
from workstation.ui.tree_model import LABEL_WORDS, StreamAnchor, one_line
from workstation.ui.window_layout import ACTIONS, MODEL_ACTIONS, STEP_ACTIONS
from workstation.ui.undo import ReviewCommand
from workstation.ui.workers import run_task

if TYPE_CHECKING:  # DuckDB and the engine load on the worker thread, after the window shows
    from workstation.core.model import Node
    from workstation.review import Finished, Review, Streaming


def sampling_from(values: dict[str, Any]) -> Any:
    """The review's sampling parameters from settings values (called on the worker)."""
    from workstation.review import sampling_from as build

    return build(values)

def _seed(review: Review) -> tuple[list[str], list]:
    from workstation.ui.samples import seed_samples

    if review.store.read_only:  # a read-only view shows what is there, and adds nothing
        return [], review.sessions()
    return seed_samples(review), review.sessions()


def _settings() -> QSettings:
    return QSettings(str(paths.config_dir() / "ui.ini"), QSettings.Format.IniFormat)


class _Shown:
    """The session a window shows now, for the pool threads that write it to ui.ini: each
    reads it under the lock when it runs, so of several writes the last one writes the newest.
    A plain object, not the window: the pool thread touches no widget (QSettings is reentrant)."""

    lock = threading.Lock()

    def __init__(self) -> None:
        self.session = ""

    def remember(self) -> None:
        """Write it to ui.ini (on a pool thread: a file write)."""
        with self.lock:
            stored = _settings()
            stored.setValue("session/last", self.session)
            stored.sync()


class MainWindow(QMainWindow):
    """The workstation window."""

    def __init__(self, model: str | None = None, db: Path | None = None, *, autoload: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Reasoning Workstation")
        self.setObjectName("mainWindow")
        self.resize(1280, 820)
        self.model_arg = model
        self.db_path = Path(db) if db else paths.default_db()
        self.autoload = autoload
        self.values: dict[str, Any] = settings.defaults()
        self.reviewer_id = ""
        self.state: SessionState | None = None
        self.current_session: str | None = None
        self.current_node_id: str | None = None
        self.ready = False
        self.model_loaded: dict[str, Any] | None = None
        self.streaming_job: int | None = None
        self._stopping = False
        self._stream_kind = ""
        self._anchor_on_state: Any = None
        self._awaiting_new = False
        self._select_after: str | None = None
        self._shown = _Shown()
        self._stream_started = 0.0
        self._compare: Any = None
        self._discovered: list = []

        self.backend = Backend(self)
        self.backend.state_changed.connect(self._on_state)
        self.backend.error.connect(self.show_error)

        self.actions = self._make_actions()
        self.undo_group = QUndoGroup(self)
        self.undo_stacks: dict[str, QUndoStack] = {}
        undo = self.undo_group.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_group.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        self.actions["undo"], self.actions["redo"] = undo, redo
        self.addAction(undo)
        self.addAction(redo)

        window_layout.build_central(self)
        window_layout.build_docks(self)
        window_layout.build_menus(self)
        window_layout.build_status(self)
        self._restore_layout()
        self._update_actions()

        self._started = False
        self._discovery: Any = None
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self._save_values)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._started:
            # After the first paint: the worker's imports (DuckDB, the engine) would otherwise
            # compete with drawing the window for the interpreter.
            self._started = True
            QTimer.singleShot(0, self._start_work)

    def _start_work(self) -> None:
        from workstation import diagnostics

        crash = diagnostics.unseen_crash()
        if crash is not None:
            self.messages.show_message(
                "warning", f"The last session ended with an error; the log is {crash}",
                ("Show log", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(crash)))),
            )
            diagnostics.mark_crash_seen()
        self.backend.open(self.db_path, self._on_ready, self._on_open_failed)
        # Discovery reads model headers from disk: never on the GUI thread.
        self._discovery = run_task(self._discover, self._on_discovered, self.show_error)

    # -- building ------------------------------------------------------------------------------

    def _make_actions(self) -> dict[str, QAction]:
        handlers = {
            "generate": self.generate,
            "stop": self.stop,
            "label_wrong": lambda: self.label(-1),
            "label_neutral": lambda: self.label(0),
            "label_right": lambda: self.label(1),
            "save_annotation": self.save_annotation,
            "edit": self.edit_step,
            "commit_rewrite": lambda: self.rewrite(self.inspector.editor.toPlainText()),
            "regenerate": lambda: self.regenerate(False),
            "regenerate_with_note": lambda: self.regenerate(True),
            "continue_after": self.continue_after,
            "challenge": lambda: self.challenge(None),
            "ask": self.ask,
            "delete_branch": self.delete_branch,
            "previous_alternative": lambda: self.switch_alternative(-1),
            "next_alternative": lambda: self.switch_alternative(1),
            "prefer": self.prefer,
            "compare": self.compare,
            "new_session": self.new_session,
            "rename_session": self.ask_rename_session,
            "delete_session": self.ask_delete_session,
            "search": lambda: (self.sessions_dock.raise_(), self.sessions.text.setFocus()),
            "focus_tree": lambda: self.tree_view.setFocus(),
            "focus_question": lambda: self.question.setFocus(),
            "load_model": self.load_model,
            "settings": self.open_settings,
            "help": self.show_help,
            "quit": self.close,
        }
        return window_layout.create_actions(self, handlers)

    def _restore_layout(self) -> None:
        stored = _settings()
        # Defaults everywhere: a missing key would come back as None, and PySide6 6.12 drops a
        # reference to None when it converts an empty QVariant.
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/state", self.restoreState),
            ("window/mainSplit", self.main_split.restoreState),
            ("window/treeHeader", self.tree_view.header().restoreState),
        ):
            value = stored.value(key, QByteArray())
            if isinstance(value, QByteArray) and not value.isEmpty():
                restore(value)
        self._last_session = str(stored.value("session/last", "") or "")

    # -- messages (the one path) ------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        """Tell the user about a failure: one line in the message bar, never a traceback."""
        self.messages.show_message("error", message)

    def show_info(self, message: str) -> None:
        """A notice in the message bar."""
        self.messages.show_message("info", message)

    # -- opening -----------------------------------------------------------------------------------

    def _on_open_failed(self, message: str) -> None:
        self.show_error(f"{message} (the window stays open; close it and try again)")

    def _on_ready(self, ready: Ready) -> None:
        self.ready = True
        self.reviewer_id = ready.reviewer.id
        self.inspector.reviewer_id = ready.reviewer.id
        self.values = dict(ready.values)
        self.model_panel.set_values(self.values)
        self.model_panel.set_gpu_supported(ready.gpu_supported)
        self.device_status.setText("CPU" if not ready.gpu_supported else "GPU available")
        self.template.clear()
        for name, description in ready.templates:
            self.template.addItem(name, name)
            self.template.setItemData(self.template.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.template.setCurrentIndex(max(0, self.template.findData(self.values.get("review.template"))))
        self.inspector.set_tag_vocabulary(list(ready.tags))
        if ready.problems:
            self.messages.show_message("warning", "; ".join(ready.problems))
        if ready.sessions:
            self.sessions.show_sessions(list(ready.sessions))
            ids = [s.id for s in ready.sessions]
            self.open_session(self._last_session if self._last_session in ids else ids[0])
        else:
            self.backend.call(_seed, self._on_seeded)
        self._maybe_autoload()
        self._update_actions()

    def _on_seeded(self, result: tuple[list[str], list]) -> None:
        ids, sessions = result
        self.sessions.show_sessions(sessions)
        if ids:
            self.open_session(ids[0])
        if self.messages.isHidden():
            self.show_info("Welcome: these sample sessions show one question per task family. "
                           "Select a step and press 1, 2 or 3 to label it; type your own question above.")

    def _discover(self) -> list:
        from workstation.engine.discovery import discover

        return discover(self.model_arg)

    def _on_discovered(self, models: list) -> None:
        self._discovered = models
        self.model_panel.set_models(models)
        usable = [model for model in models if model.usable]
        if self.model_loaded is None:
            self.model_status.setText(f"Model: {usable[0].name} (not loaded)" if usable else "Model: none found")
        self._maybe_autoload()

    def _maybe_autoload(self) -> None:
        if self.autoload and self.ready and self._discovered and self.model_loaded is None:
            self.autoload = False
            if any(m.usable for m in self._discovered):
                self.load_model()

    # -- sessions -------------------------------------------------------------------------------

    def refresh_sessions(self) -> None:
        """Reload the session list (or the search hits) from the store."""
        criteria = self.sessions.criteria()
        if criteria:
            self.search(criteria)
        else:
            self.backend.call(lambda r: r.sessions(), self.sessions.show_sessions)

    def search(self, criteria: dict) -> None:
        """Search steps by the typed criteria, or list every session when there are none."""
        if not criteria:
            self.backend.call(lambda r: r.sessions(), self.sessions.show_sessions)
            return
        self.backend.call(lambda r: r.search(**criteria), self.sessions.show_hits)

    def open_session(self, session_id: str, node_id: str = "") -> None:
        """Show a session (its state arrives from the worker), optionally at a step."""
        self.current_session = session_id
        self._awaiting_new = False
        if node_id:
            self._select_after = node_id
        self.backend.call(lambda r: None, refresh=session_id)

    def new_session(self) -> None:
        """Clear the tree for a new question."""
        self.current_session = None
        self.state = None
        self.tree_model.set_tree(None)
        self.inspector.show_node(None, None)
        self.undo_group.setActiveStack(None)
        self.sessions.mark_current(None)
        self.setWindowTitle("Reasoning Workstation")
        self.question.clear()
        self.question.setFocus()
        self._update_actions()

    def ask_rename_session(self) -> None:
        """Ask for a new title and rename the open session."""
        if self.state is None:
            return
        title, ok = QInputDialog.getText(self, "Rename session", "Title", text=self.state.tree.session.title)
        if ok:
            self.rename_session(title)

    def rename_session(self, title: str) -> None:
        """Give the open session a new title (undoable)."""
        sid = self.current_session
        if sid is None:
            return
        self.backend.call(lambda r: r.rename(sid, title),
                          lambda _: (self._push(sid, f"rename session to '{title[:40]}'"), self.refresh_sessions()),
                          refresh=sid)

    def ask_delete_session(self) -> None:
        """Ask for confirmation, naming the open session, then delete it."""
        if self.state is None or self.current_session is None:
            return
        title = self.state.tree.session.title
        answer = QMessageBox.question(
            self, "Delete session",
            # Rich text with the title escaped: a title such as "<img src=...>" shows as text.
            f"<p>Delete the session '{html.escape(one_line(title, 80), quote=False)}'?</p><p>It disappears from "
            "the session list, searches and exports; Undo (Ctrl+Z) brings it back, and the audit log keeps "
            "everything.</p>",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )  # fmt: skip
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_session()

    def delete_session(self) -> None:
        """Delete (hide) the open session without asking; it stays open, so Undo restores it."""
        sid = self.current_session
        if sid is None or self.state is None:
            return
        title = self.state.tree.session.title
        self.backend.call(lambda r: r.delete_session(sid),
                          lambda _: self._session_deleted(sid, title),
                          self.show_error, refresh=sid)

    def _session_deleted(self, session_id: str, title: str) -> None:
        self._push(session_id, f"delete session '{one_line(title, 40)}'")
        self.refresh_sessions()
        self.show_info(f"Deleted '{one_line(title, 60)}'. Undo (Ctrl+Z) brings it back.")

    def _stack(self, session_id: str) -> QUndoStack:
        stack = self.undo_stacks.get(session_id)
        if stack is None:
            stack = self.undo_stacks[session_id] = QUndoStack(self.undo_group)
        return stack

    def _push(self, session_id: str, text: str, events: int = 1) -> None:
        self._stack(session_id).push(ReviewCommand(text, session_id, events, self._run_undo))

    def remember_undo(self, session_id: str, text: str, events: int = 1) -> None:
        """Put an edit made elsewhere in the window (the Team view's adjudication) on the
        session's undo stack; Ctrl+Z then reverses it like the window's own edits."""
        self._push(session_id, text, events)

    def _run_undo(self, kind: str, session_id: str, events: int) -> None:
        def run(review: Review) -> None:
            for _ in range(events):
                getattr(review, kind)(session_id)

        def failed(message: str) -> None:
            # The review and the undo stack no longer agree: start the stack afresh.
            self._stack(session_id).clear()
            self.show_error(message)

        # The list follows: an undone rename, deletion or label changes what it shows.
        self.backend.call(run, lambda _: self.refresh_sessions(), failed, refresh=session_id)

    # -- state from the worker -------------------------------------------------------------------

    def _on_state(self, state: SessionState) -> None:
        # Only the generation's own state names the new session (one still on its way from an
        # earlier job, say opening a session just before New session, names an old one).
        if self._awaiting_new and state.job_id == self.streaming_job and state.session_id != self.current_session:
            self._awaiting_new = False
            self.current_session = state.session_id
        if state.session_id != self.current_session:
            return
        first = self.state is None or self.state.session_id != state.session_id
        self.state = state
        self.tree_model.set_tree(state.tree)
        if self._anchor_on_state is not None:
            anchor = self._anchor_on_state(state.tree)
            self._anchor_on_state = None
            if anchor is not None:
                self.tree_model.begin_stream(anchor)
                if anchor.below:
                    self.tree_view.expand(self.tree_model.index_of_node(anchor.node_id))
        if first:
            # Written at once, on a pool thread (the worker may be busy with the model for a
            # while): a window that never closes normally (killed, crashed, power lost) reopens
            # the session it showed, as one that closed does.
            self._shown.session = state.session_id
            run_task(self._shown.remember, lambda _: None, lambda _: None)
            self.undo_group.setActiveStack(self._stack(state.session_id))
            self.sessions.mark_current(state.session_id)
            self.setWindowTitle(f"{state.tree.session.title} — Reasoning Workstation")
            if self.question.toPlainText() != state.tree.session.question:
                set_plain(self.question, state.tree.session.question)
            for index in self.tree_model.parents():  # not expandAll: it walks every row
                self.tree_view.expand(index)
            if self._select_after is None:
                self._select_after = state.tree.question_id
            if not state.tree.chains and not self._awaiting_new and self.streaming_job is None:
                shortcut = self.actions["continue_after"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                self.show_info(
                    "this session has no steps yet (its generation stopped before any step was saved): "
                    f"select the question and choose Continue after ({shortcut}) to generate them"
                )
        if self._select_after is not None:
            target = self._select_after
            index = self.tree_model.index_of_node(target)
            if index.isValid():
                self._select_after = None
                self.tree_view.setCurrentIndex(index)
                self.tree_view.scrollTo(index)
        self._refresh_inspector()

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            self.tree_view.expand(parent)
        if self.tree_model.streaming:
            self.tree_view.scrollTo(self.tree_model.index(last, 0, parent))

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        node = self.tree_model.node(current)
        self.current_node_id = node.id if node is not None else None
        self._refresh_inspector()

    def _refresh_inspector(self) -> None:
        tree = self.state.tree if self.state is not None else None
        node = tree.nodes.get(self.current_node_id) if tree is not None and self.current_node_id else None
        self.inspector.show_node(tree, node)
        self._update_actions()

    def current_node(self) -> Node | None:
        """The selected step (None for no selection or a row still being written)."""
        if self.state is None or self.current_node_id is None:
            return None
        return self.state.tree.nodes.get(self.current_node_id)

    def _update_actions(self) -> None:
        node = self.current_node()
        busy = self.streaming_job is not None
        is_step = node is not None and node.kind in ("step", "answer")
        annotatable = node is not None and node.kind != "question"
        for name in STEP_ACTIONS:
            self.actions[name].setEnabled(is_step)
        for name in ("label_wrong", "label_neutral", "label_right", "save_annotation", "edit", "commit_rewrite",
                     "delete_branch"):
            self.actions[name].setEnabled(annotatable)
        if node is not None and node.kind == "question":
            # Steps from the start: the first chain of a session that has none, or another one.
            self.actions["continue_after"].setEnabled(True)
        loaded = self.model_loaded is not None
        for name in MODEL_ACTIONS:
            if busy or not loaded or not self.ready:
                self.actions[name].setEnabled(False)
        if node is not None and node.kind == "answer":
            self.actions["continue_after"].setEnabled(False)  # steps follow steps, not the answer
        self.actions["generate"].setEnabled(self.ready and loaded and not busy)
        self.actions["stop"].setEnabled(busy)
        self.actions["rename_session"].setEnabled(self.current_session is not None)
        deleted = self.state is not None and self.state.tree.session.deleted
        self.actions["delete_session"].setEnabled(
            self.current_session is not None and self.state is not None and not deleted and not busy
        )
        self.actions["load_model"].setEnabled(self.ready and not busy)
        if node is not None and is_step and self.state is not None:
            options = self.state.tree.alternatives(node.id)
            self.actions["previous_alternative"].setEnabled(len(options) > 1)
            self.actions["next_alternative"].setEnabled(len(options) > 1)
            self.actions["compare"].setEnabled(len(options) > 1)

    # -- the model -------------------------------------------------------------------------------

    def load_model(self) -> None:
        """Load the selected model with the panel's options, on the worker, with a busy bar."""
        chosen = self.model_panel.selected()
        path = str(chosen.path) if chosen is not None and chosen.usable else (self.model_arg or None)
        name = chosen.name if chosen is not None else (path or "the default model")
        options = {
            "n_gpu_layers": self.values["model.n_gpu_layers"],
            "n_threads": self.values["model.n_threads"],
            "n_ctx_cap": self.values["model.n_ctx_cap"],
        }

        def run(review: Review) -> dict[str, Any]:
            engine = review.load_model(path, **options)
            return {
                "name": Path(engine.info.path).name,
                "n_ctx": engine.n_ctx,
                "notices": list(engine.notices),
                "n_gpu_layers": getattr(engine, "n_gpu_layers", 0),
            }

        self.model_panel.set_loading(name, True)
        self.model_status.setText(f"Model: loading {name}…")
        self.backend.call(run, self._on_model_loaded, self._on_model_failed, quick=False)

    def _on_model_loaded(self, info: dict[str, Any]) -> None:
        self.model_loaded = info
        self.model_panel.set_loading(None, False, info["name"])
        self.model_status.setText(f"Model: {info['name']}")
        layers = info["n_gpu_layers"]
        self.device_status.setText(f"GPU ({'all' if layers == -1 else layers} layers)" if layers else "CPU")
        self.context_status.setText(f"Context: 0 / {info['n_ctx']:,}")
        if info["notices"]:
            self.messages.show_message("warning", " ".join(info["notices"]))
        self._update_actions()

    def _on_model_failed(self, message: str) -> None:
        self.model_panel.set_loading(None, False, self.model_loaded["name"] if self.model_loaded else None)
        self.model_status.setText(f"Model: {self.model_loaded['name']}" if self.model_loaded else "Model: not loaded")
        self.show_error(message)
        self._update_actions()

    def _sampling_values(self) -> dict[str, Any]:
        return dict(self.values)

    # -- generation ---------------------------------------------------------------------------------

    def _start_stream(self, kind: str, run: Any, *, anchor: StreamAnchor | None = None, anchor_on_state: Any = None,
                      new_session: bool = False, events: int = 1, description: str = "") -> None:
        sid = self.current_session
        self._stream_kind = kind
        self._stream_started = time.monotonic()
        self.speed_status.setText("writing…")
        if anchor is not None:
            self.tree_model.begin_stream(anchor)
        self._anchor_on_state = anchor_on_state
        if new_session:
            self._awaiting_new = True

        def done(finished: Finished | None) -> None:
            self._end_stream()
            if finished is None:
                return
            self._push(finished.session_id, description, events)
            if finished.node_ids:
                self._select(finished.node_ids[0])
            fin = finished.finish
            self.speed_status.setText(f"{fin.tokens_per_s:.1f} tokens/s")
            if self.model_loaded:
                used = fin.prompt_tokens + fin.completion_tokens
                self.context_status.setText(f"Context: {used:,} / {self.model_loaded['n_ctx']:,}")
            if fin.finish_reason == "cancelled":
                self.show_info("Stopped: the steps written so far are saved.")
            self.refresh_sessions()

        def failed(message: str) -> None:
            self._end_stream()
            if sid is not None:
                self._stack(sid).clear()  # a half-done action may have recorded an event
            self.speed_status.setText("")
            self.show_error(message)
            self.refresh_sessions()

        self.streaming_job = self.backend.stream(
            run, self._on_stream_item, done, failed,
            refresh=sid, new_session=new_session, state_on_start=anchor_on_state is not None,
        )
        self._update_actions()

    def _end_stream(self) -> None:
        self.streaming_job = None
        self._stopping = False
        self._anchor_on_state = None
        self._awaiting_new = False
        self.tree_model.end_stream()
        self._update_actions()

    def _on_stream_item(self, item: Streaming) -> None:
        if self._stopping:
            return
        if self._stream_kind == "challenge":
            texts = [item.raw.strip() or "…"]
        else:
            texts = [s.text for s in item.steps]
            if item.pending.strip():
                texts.append(item.pending.strip())
        self.tree_model.update_stream(texts)
        elapsed = max(time.monotonic() - self._stream_started, 1e-3)
        tokens = self.backend.stream_tokens
        self.speed_status.setText(f"writing… {tokens} tokens, {tokens / elapsed:.1f} tokens/s")

    def _select(self, node_id: str) -> None:
        index = self.tree_model.index_of_node(node_id)
        if index.isValid():
            self.tree_view.setCurrentIndex(index)
            self.tree_view.scrollTo(index)
        else:
            self._select_after = node_id

    def generate(self) -> None:
        """Start a new session on the typed question and let the model reason."""
        if self.streaming_job is not None or not self.actions["generate"].isEnabled():
            return
        question = self.question.toPlainText()
        if not question.strip():
            self.show_error("the question is empty; type the question for the model to reason about")
            return
        template = self.template.currentData()
        values = self._sampling_values()
        self._start_stream(
            "generate",
            lambda r, stop: r.generate(question, template, sampling_from(values), stop),
            anchor_on_state=lambda tree: StreamAnchor(tree.question_id),
            new_session=True,
            description="generate",
        )
        self.tree_view.setFocus()

    def stop(self) -> None:
        """Stop the model: the engine ends within one token; what it wrote is kept."""
        if self.streaming_job is not None:
            self.backend.stop(self.streaming_job)
            # The effect shows at once: no more text appears; the steps so far are being saved.
            self._stopping = True
            self.actions["stop"].setEnabled(False)
            self.speed_status.setText("stopping… saving what was written")

    def _step(self) -> Node | None:
        node = self.current_node()
        if node is None:
            self.show_error("select a step first")
        return node

    def regenerate(self, with_note: bool) -> None:
        """A new alternative for the selected step and what follows (optionally steered by the note)."""
        node = self._step()
        if node is None or node.parent_id is None or self.streaming_job is not None:
            return
        critique = None
        if with_note:
            critique = self.inspector.note.toPlainText().strip()
            if not critique:
                self.show_error("type the critique in the note first, then regenerate with note")
                return
        values, nid = self._sampling_values(), node.id
        self._start_stream(
            "chain",
            lambda r, stop: r.regenerate(nid, critique, sampling=sampling_from(values), stop=stop),
            anchor=StreamAnchor(node.parent_id),
            description=f"regenerate from step {node.position}" + (" with critique" if critique else ""),
        )

    def continue_after(self) -> None:
        """New steps after the selected one, as a new branch below it."""
        node = self._step()
        if node is None or self.streaming_job is not None:
            return
        values, nid = self._sampling_values(), node.id
        self._start_stream(
            "chain",
            lambda r, stop: r.continue_after(nid, sampling=sampling_from(values), stop=stop),
            anchor=StreamAnchor(nid),
            description=f"continue after step {node.position}",
        )

    def challenge(self, question: str | None) -> None:
        """Ask the model why (or a typed question) about the selected step; the reply streams in."""
        node = self._step()
        if node is None or self.streaming_job is not None:
            return
        values, nid = self._sampling_values(), node.id

        def anchor(tree: Any) -> StreamAnchor | None:
            asked = tree.challenges(nid)
            return StreamAnchor(asked[-1].id, below=True) if asked else None

        self._start_stream(
            "challenge",
            lambda r, stop: r.challenge(nid, question, sampling=sampling_from(values), stop=stop),
            anchor_on_state=anchor,
            events=2,
            description=f"challenge step {node.position}",
        )

    def ask(self) -> None:
        """Type a question about the selected step, then challenge with it."""
        if self._step() is None:
            return
        question, ok = QInputDialog.getText(self, "Ask about this step", "Your question")
        if ok and question.strip():
            self.challenge(question)

    # -- review actions ---------------------------------------------------------------------------

    def _mutate(self, run: Any, description: str, events: int = 1, after: Any = None) -> None:
        sid = self.current_session
        if sid is None:
            return

        def done(result: Any) -> None:
            self._push(sid, description, events)
            if after is not None:
                after(result)

        self.backend.call(run, done, refresh=sid)

    def label(self, value: int) -> None:
        """Label the selected step wrong (-1), neutral (0) or right (1), keeping the note."""
        node = self._step()
        if node is None or node.kind == "question":
            return
        note, tags, severity = self.inspector.annotation_values()
        nid = node.id
        self._mutate(lambda r: r.annotate(nid, value, note, tags, severity),
                     f"label step {node.position} {LABEL_WORDS[value].split()[1]}")

    def save_annotation(self) -> None:
        """Save the note, tags and severity, keeping your current label."""
        node = self._step()
        if node is None or self.state is None:
            return
        mine = self.state.tree.current_annotations(node.id).get(self.reviewer_id)
        note, tags, severity = self.inspector.annotation_values()
        nid, label = node.id, (mine.label if mine else None)
        self._mutate(lambda r: r.annotate(nid, label, note, tags, severity), f"annotate step {node.position}")

    def edit_step(self) -> None:
        """Open the rewrite editor on the selected step."""
        if self._step() is None:
            return
        self.inspector.tabs.setCurrentIndex(1)
        self.inspector.editor.setFocus()

    def rewrite(self, text: str) -> None:
        """Save a rewrite of the selected step as a new version."""
        node = self._step()
        if node is None:
            return
        nid = node.id
        self._mutate(lambda r: r.rewrite(nid, text), f"rewrite step {node.position}",
                     after=lambda _: self.inspector.tabs.setCurrentIndex(0))

    def delete_branch(self) -> None:
        """Delete the branch starting at the selected step (undoable)."""
        node = self._step()
        if node is None or node.kind == "question":
            return
        nid = node.id
        self._select_after = node.parent_id
        self._mutate(lambda r: r.delete_branch(nid), f"delete branch at step {node.position}")

    def prefer(self) -> None:
        """Mark the selected step's branch as preferred."""
        node = self._step()
        if node is None:
            return
        nid = node.id
        self._mutate(lambda r: r.prefer(nid), f"prefer branch at step {node.position}")

    def switch_alternative(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) alternative of the selected step."""
        node = self._step()
        if node is None or self.state is None:
            return
        options = self.state.tree.alternatives(node.id)
        if len(options) < 2:
            return
        position = next(i for i, n in enumerate(options) if n.id == node.id)
        target = options[(position + delta) % len(options)].id
        self._select_after = target
        self.backend.call(lambda r: r.show(target), refresh=self.current_session)

    def compare(self) -> None:
        """Compare the selected step's alternatives side by side."""
        node = self._step()
        if node is None or self.state is None:
            return
        from workstation.ui.compare import CompareDialog

        self._compare = CompareDialog(self.state.tree, node.id, self)
        self._compare.show()

    # -- settings, help, layout ----------------------------------------------------------------------

    def _on_value_changed(self, key: str, value: Any) -> None:
        self.values[key] = value
        self._save_timer.start()

    def _save_values(self) -> None:
        values = dict(self.values)

        def run(review: Review) -> None:
            settings.save(values)
            review.values.update(values)

        self.backend.call(run)

    def open_settings(self) -> None:
        """The settings dialog; saving applies the values from now on."""
        from workstation.ui.dialogs import SettingsDialog

        dialog = SettingsDialog(self.values, self)
        if dialog.exec():
            self.values.update(dialog.values())
            self.model_panel.set_values(self.values)
            self._save_values()

    def show_help(self) -> None:
        """The shortcuts of every action."""
        from workstation.ui.dialogs import HelpDialog

        ordered = [self.actions[name] for name, *_ in ACTIONS] + [self.actions["undo"], self.actions["redo"]]
        extra = [("Generate (in the question editor)", "Ctrl+Enter"),
                 ("Save the rewrite (in the rewrite editor)", "Ctrl+Enter")]
        self._help = HelpDialog(ordered, self, extra)
        self._help.show()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            # Next turn of the event loop: by then every palette (and the scheme hint) is updated.
            QTimer.singleShot(0, self.inspector.refresh_style)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        stored = _settings()
        stored.setValue("window/geometry", self.saveGeometry())
        stored.setValue("window/state", self.saveState())
        stored.setValue("window/mainSplit", self.main_split.saveState())
        stored.setValue("window/treeHeader", self.tree_view.header().saveState())
        if self.current_session:
            stored.setValue("session/last", self.current_session)
        stored.sync()
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save_values()
        self.backend.shut_down()
        super().closeEvent(event)
