"""The workstation's main window: question area, reasoning tree, step inspector, sessions, model.

The window assembles parts: `window_layout.build` makes the widgets and actions (one
`WindowParts`); controllers hold the behaviour, each with a small interface: the open session
(`session`), the review actions and undo (`edits`), the model's streams (`generation`), the model
(`model`). Each action's enablement is declared in actions.py and evaluated from one immutable
`WindowState` (`update_actions`). Widgets hold no business state: every change goes to a review
use case on the worker (`Backend`), and what is shown comes back as `SessionState` snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QShowEvent
from PySide6.QtWidgets import QMainWindow, QMenu

from workstation import paths, settings
from workstation.ui import window_layout
from workstation.ui.actions import OUTCOME_KEYS, SPECS, WindowState, apply_state, create_actions
from workstation.ui.backend import Backend, Ready
from workstation.ui.generation import GenerationController
from workstation.ui.model_controller import ModelController
from workstation.ui.reading_controller import ReadingController
from workstation.ui.review_actions import ReviewActions
from workstation.ui.session_controller import SessionController, last_step, ui_settings

if TYPE_CHECKING:  # DuckDB and the engine load on the worker thread, after the window shows
    from workstation.review import Review
    from workstation.store.records import SessionSummary
    from workstation.ui.dialogs import HelpDialog


def _seed(review: Review) -> tuple[list[str], list[SessionSummary]]:
    from workstation.ui.samples import seed_samples

    if review.store.read_only:  # a read-only view shows what is there, and adds nothing
        return [], review.sessions()
    return seed_samples(review), review.sessions()


def _outcome_setter(edits: ReviewActions, outcome: str) -> Callable[[], None]:
    # A closure per key: Qt passes `checked` to a handler that takes arguments.
    return lambda: edits.set_outcome(outcome)


def _open_file(path: Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class MainWindow(QMainWindow):
    """The workstation window."""

    #: A user action was committed (Anki's "operation did execute"): session id, what was done.
    operation_done = Signal(str, str)

    def __init__(self, model: str | None = None, db: Path | None = None, *, autoload: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Reasoning Workstation")
        self.setObjectName("mainWindow")
        self.resize(1280, 820)
        self.db_path = Path(db) if db else paths.default_db()
        self.values: dict[str, Any] = settings.defaults()
        self.reviewer_id = ""
        self.ready = False
        self.help_dialog: HelpDialog | None = None

        self.backend = Backend(self)
        self.backend.error.connect(self.show_error)
        self.parts = window_layout.build(self, create_actions(self), self.db_path)
        self.session = SessionController(self.parts, self.backend, self, self, lambda: self.generation.busy)
        self.edits = ReviewActions(self.parts, self.backend, self, self.session, self)
        self.model = ModelController(self.parts, self.backend, self, model, autoload, lambda: self.ready, self)
        self.generation = GenerationController(self.parts, self.backend, self, self.session,
                                               self.model.context_size, self)
        self.reading = ReadingController(self.parts, self.backend, self, self.session, self.generation, self)
        for source in (self.session, self.edits, self.generation):
            source.changed.connect(self.operation_done)
        self.operation_done.connect(lambda _sid, _what: self.parts.messages.clear_stale())
        self.operation_done.connect(lambda _sid, _what: self.session.schedule_refresh_sessions())
        from workstation.ui.triage import TriageController

        self.triage = TriageController(self, self.parts, self.backend, self, self.session)
        self.operation_done.connect(lambda _sid, _what: self.triage.schedule_refresh())
        self.generation.saved.connect(self.edits.label_streamed)
        self.generation.dropped.connect(self.edits.drop_stream_labels)
        self.parts.tree_view.selectionModel().currentChanged.connect(lambda *_: self.edits.show_outcome())
        self._connect_actions()
        self.parts.model_panel.value_changed.connect(self._on_value_changed)
        self._last_session = self._restore_layout()
        self.update_actions()

        self._started = False
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self._save_values)

    def _connect_actions(self) -> None:
        parts, edits, generation, session = self.parts, self.edits, self.generation, self.session
        handlers = {
            "generate": generation.generate,
            "stop": generation.stop,
            "label_wrong": lambda: edits.label(-1),
            "label_neutral": lambda: edits.label(0),
            "label_right": lambda: edits.label(1),
            "save_annotation": edits.save_annotation,
            "edit": edits.edit_step,
            "commit_rewrite": edits.commit_rewrite,
            "regenerate": lambda: generation.regenerate(False),
            "regenerate_with_note": lambda: generation.regenerate(True),
            "continue_after": generation.continue_after,
            "challenge": lambda: generation.challenge(None),
            "ask": generation.ask,
            "delete_branch": edits.ask_delete_branch,
            "next_step": lambda: session.move(1),
            "previous_step": lambda: session.move(-1),
            "next_unlabelled": lambda: session.go_to_next("unlabelled"),
            "next_flagged": lambda: session.go_to_next("flagged"),
            "focus_note": edits.focus_note,
            "focus_tags": edits.focus_tags,
            "cycle_severity": edits.cycle_severity,
            "confirm_flag": lambda: self.triage.confirm_flag(),
            **{f"outcome_{name}": _outcome_setter(edits, name) for name, _text, _key in OUTCOME_KEYS},
            "previous_alternative": lambda: edits.switch_alternative(-1),
            "next_alternative": lambda: edits.switch_alternative(1),
            "prefer": edits.prefer,
            "compare": edits.compare,
            "new_session": session.new_session,
            "rename_session": session.ask_rename_session,
            "delete_session": session.ask_delete_session,
            "undo": edits.undo,
            "redo": edits.redo,
            "search": self._focus_search,
            "focus_tree": lambda: parts.tree_view.setFocus(),
            "focus_question": lambda: parts.question.setFocus(),
            "load_model": self.model.load_model,
            "use_server": self.model.ask_server,
            "settings": self.open_settings,
            "help": self.show_help,
            "quit": self.close,
        }
        for name, handler in handlers.items():
            parts.actions[name].triggered.connect(handler)

    def _focus_search(self) -> None:
        self.parts.sessions_dock.raise_()
        self.parts.sessions.text.setFocus()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
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
            self.parts.messages.show_message(
                "warning", f"The last session ended with an error; the log is {crash}",
                ("Show log", lambda: _open_file(crash)),
            )
            diagnostics.mark_crash_seen()
        self.backend.open(self.db_path, self._on_ready, self._on_open_failed)
        self.model.discover()

    def _restore_layout(self) -> str:
        stored = ui_settings()
        # Defaults everywhere: a missing key would come back as None, and PySide6 6.12 drops a
        # reference to None when it converts an empty QVariant.
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/state", self.restoreState),
            ("window/mainSplit", self.parts.main_split.restoreState),
            ("window/treeSplit", self.parts.tree_split.restoreState),
            ("window/treeHeader", self.parts.tree_view.header().restoreState),
        ):
            value = stored.value(key, QByteArray())
            if isinstance(value, QByteArray) and not value.isEmpty():
                restore(value)
        return str(stored.value("session/last", "") or "")

    # -- the state of the actions -----------------------------------------------------------------

    def window_state(self) -> WindowState:
        """What every action's enablement depends on, now."""
        node = self.session.current_node()
        shown = self.session.state
        tree = shown.tree if shown is not None else None
        return WindowState(
            ready=self.ready,
            model_loaded=self.model.loaded is not None,
            busy=self.generation.busy,
            stopping=self.generation.stopping,
            session_open=self.session.current_session is not None,
            session_shown=shown is not None,
            session_deleted=tree is not None and tree.session.deleted,
            node_kind=node.kind if node is not None else None,
            alternatives=len(tree.alternatives(node.id)) if tree is not None and node is not None else 0,
            can_undo=shown is not None and shown.can_undo,
            undo_text=shown.undo_text if shown is not None else "",
            can_redo=shown is not None and shown.can_redo,
            redo_text=shown.redo_text if shown is not None else "",
            in_chain=node is not None and node.chain_id is not None,
            stream_row=self.parts.tree_model.stream_position(self.parts.tree_view.currentIndex()) is not None,
            flagged=node is not None and any(f.severity == "warning" for f in node.current.flags),
        )

    def update_actions(self) -> None:
        """Enable (and name) every action for the window's state now."""
        apply_state(self.parts.actions, self.window_state())

    # -- messages (the one path) ------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        """Tell the user about a failure: one line in the message bar, never a traceback."""
        self.parts.messages.show_message("error", message)

    def show_info(self, message: str) -> None:
        """A notice in the message bar."""
        self.parts.messages.show_message("info", message)

    # -- opening -----------------------------------------------------------------------------------

    def _on_open_failed(self, message: str) -> None:
        self.show_error(f"{message} (the window stays open; close it and try again)")

    def _on_ready(self, ready: Ready) -> None:
        parts = self.parts
        self.ready = True
        self.reviewer_id = ready.reviewer.id
        parts.inspector.reviewer_id = ready.reviewer.id
        self.values.clear()
        self.values.update(ready.values)
        parts.model_panel.set_values(self.values)
        parts.model_panel.set_gpu_supported(ready.gpu_supported)
        parts.device_status.setText("CPU" if not ready.gpu_supported else "GPU available")
        parts.template.clear()
        for name, description in ready.templates:
            parts.template.addItem(name, name)
            parts.template.setItemData(parts.template.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        parts.template.setCurrentIndex(max(0, parts.template.findData(self.values.get("review.template"))))
        parts.inspector.set_tag_vocabulary(list(ready.tags))
        if ready.problems:
            parts.messages.show_message("warning", "; ".join(ready.problems))
        if ready.sessions:
            parts.sessions.show_sessions(list(ready.sessions))
            ids = [s.id for s in ready.sessions]
            if self._last_session in ids:
                self.session.open_session(self._last_session, last_step(self._last_session))
            else:
                self.session.open_session(ids[0])
        else:
            self.backend.call(_seed, self._on_seeded)
        self.model.maybe_autoload()
        self.update_actions()

    def _on_seeded(self, result: tuple[list[str], list[SessionSummary]]) -> None:
        ids, sessions = result
        self.parts.sessions.show_sessions(sessions)
        if ids:
            self.session.open_session(ids[0])
        if self.parts.messages.isHidden():
            self.show_info("Welcome: these sample sessions show one question per task family. "
                           "Select a step and press 1, 2 or 3 to label it; type your own question above.")

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
            self.parts.model_panel.set_values(self.values)
            self._save_values()

    def show_help(self) -> None:
        """The shortcuts of every action."""
        from workstation.ui.dialogs import HelpDialog

        def keys_of(action: QAction) -> str:
            return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())

        rows = []
        for name, action in self.parts.actions.items():
            if keys := keys_of(action):  # the table's own text and tip: Undo's shown text names a step
                rows.append((SPECS[name].text.replace("&", ""), keys, SPECS[name].tip))
        # Menus added by others (Team: Export, Import, Team view, Keys) list their keys too.
        mine = set(self.parts.actions.values())
        for entry in self.menuBar().actions():
            menu = entry.menu()
            for action in menu.actions() if isinstance(menu, QMenu) else []:
                if action not in mine and not action.isSeparator() and (keys := keys_of(action)):
                    rows.append((action.text().replace("&", ""), keys, action.toolTip()))
        rows += [("Generate (in the question editor)", "Ctrl+Enter", ""),
                 ("Save the rewrite (in the rewrite editor)", "Ctrl+Enter", "")]
        self.help_dialog = HelpDialog(rows, self)
        self.help_dialog.show()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            # Next turn of the event loop: by then every palette (and the scheme hint) is updated.
            QTimer.singleShot(0, self.parts.inspector.refresh_style)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        stored = ui_settings()
        stored.setValue("window/geometry", self.saveGeometry())
        stored.setValue("window/state", self.saveState())
        stored.setValue("window/mainSplit", self.parts.main_split.saveState())
        stored.setValue("window/treeSplit", self.parts.tree_split.saveState())
        stored.setValue("window/treeHeader", self.parts.tree_view.header().saveState())
        if self.session.current_session:
            stored.setValue("session/last", self.session.current_session)
            stored.setValue("session/lastStep", self.session.current_node_id or "")
        stored.sync()
        self.edits.flush_typed()  # queued before the shut-down below, so it is saved first
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save_values()
        self.backend.shut_down()
        super().closeEvent(event)
