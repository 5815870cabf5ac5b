"""The open session: which one is shown, its state from the worker, the selected row.

Opening, new, rename and delete go to the review on the worker; what is shown comes back as
`SessionState` snapshots (`on_state`). The selection is kept across snapshots by node id.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from workstation import paths
from workstation.ui.backend import Backend, SessionState
from workstation.ui.host import Host
from workstation.ui.inspector import set_plain
from workstation.ui.tree_model import one_line
from workstation.ui.window_layout import WindowParts
from workstation.ui.workers import run_task

if TYPE_CHECKING:  # the review layer loads on the worker thread, after the window shows
    from workstation.core.model import Node
    from workstation.core.tree import Tree
    from workstation.store.records import SearchHit, SessionSummary


def ui_settings() -> QSettings:
    """The window's own settings file (layout, the last session)."""
    return QSettings(str(paths.config_dir() / "ui.ini"), QSettings.Format.IniFormat)


class _Shown:
    """The session a window shows now, for the pool threads that write it to ui.ini: each
    reads it under the lock when it runs, so of several writes the last one writes the newest.
    A plain object, not the window: the pool thread touches no widget (QSettings is reentrant)."""

    lock = threading.Lock()

    def __init__(self) -> None:
        self.session = ""
        self.step = ""

    def remember(self) -> None:
        """Write it to ui.ini (on a pool thread: a file write)."""
        with self.lock:
            stored = ui_settings()
            stored.setValue("session/last", self.session)
            stored.setValue("session/lastStep", self.step)
            stored.sync()


def last_step(session_id: str) -> str:
    """The step selected when the window last showed `session_id` ("" if unknown)."""
    stored = ui_settings()
    if str(stored.value("session/last", "") or "") != session_id:
        return ""
    return str(stored.value("session/lastStep", "") or "")


class SessionController(QObject):
    """Shows one session at a time and keeps its selection; the window's session actions."""

    #: A session's tree has just been put in the tree model (before the selection moves).
    tree_shown = Signal(object)
    #: A change to a session was committed: session id, what was done (Anki's "operation did execute").
    changed = Signal(str, str)
    #: The selection is about to leave a node (its id): what was typed about it must be saved.
    leaving = Signal(str)

    def __init__(self, parts: WindowParts, backend: Backend, host: Host, window: QWidget,
                 busy: Callable[[], bool]) -> None:
        super().__init__(window)
        self.parts, self.backend, self.host, self.window = parts, backend, host, window
        self._busy = busy
        self.state: SessionState | None = None
        self.current_session: str | None = None
        self.current_node_id: str | None = None
        #: A generation is starting a new session: the next one it names becomes current.
        self.awaiting_new = False
        self._select_after: str | None = None
        self._revealing: str | None = None  # a hidden step whose branches are being shown
        self._shown = _Shown()
        # The selected step goes to ui.ini a moment after it settles (J held down moves it often).
        self._remember_timer = QTimer(self)
        self._remember_timer.setSingleShot(True)
        self._remember_timer.setInterval(1000)
        self._remember_timer.timeout.connect(self._remember)
        # The list's labelled/total counts follow each change; a burst of label keys asks once.
        self._list_timer = QTimer(self)
        self._list_timer.setSingleShot(True)
        self._list_timer.setInterval(250)
        self._list_timer.timeout.connect(self.refresh_sessions)
        backend.state_changed.connect(self.on_state)
        parts.sessions.search_changed.connect(self.search)
        parts.sessions.open_requested.connect(self.open_session)
        parts.tree_view.selectionModel().currentChanged.connect(self._on_current_changed)
        parts.tree_model.rowsInserted.connect(self._on_rows_inserted)

    # -- the list -------------------------------------------------------------------------------

    def refresh_sessions(self) -> None:
        """Reload the session list (or the search hits) from the store."""
        self.search(self.parts.sessions.criteria())

    def schedule_refresh_sessions(self) -> None:
        """Reload the list shortly (after a change: its counts follow)."""
        self._list_timer.start()

    def search(self, criteria: dict[str, Any]) -> None:
        """Search steps by the typed criteria, or list every session when there are none."""
        if not criteria:
            self.backend.call(lambda r: r.sessions(), self._show_sessions)
            return
        self.backend.call(lambda r: r.search(**criteria), self._show_hits)

    def _show_sessions(self, sessions: list[SessionSummary]) -> None:
        self.parts.sessions.show_sessions(sessions)

    def _show_hits(self, hits: list[SearchHit]) -> None:
        self.parts.sessions.show_hits(hits)

    # -- which session --------------------------------------------------------------------------

    def open_session(self, session_id: str, node_id: str = "") -> None:
        """Show a session (its state arrives from the worker), optionally at a step."""
        if self.current_node_id is not None:
            self.leaving.emit(self.current_node_id)
        self.current_session = session_id
        self.awaiting_new = False
        self._revealing = None
        if node_id:
            self._select_after = node_id
        self.backend.call(lambda r: None, refresh=session_id)

    def adopt(self, session_id: str) -> None:
        """A generation started a new session: it is the one shown from now on."""
        if self.awaiting_new:
            self.awaiting_new = False
            self.current_session = session_id

    def new_session(self) -> None:
        """Clear the tree for a new question."""
        if self.current_node_id is not None:
            self.leaving.emit(self.current_node_id)
        self.current_session = None
        self.state = None
        self.parts.tree_model.set_tree(None)
        self.parts.inspector.show_node(None, None)
        self.parts.sessions.mark_current(None)
        self.window.setWindowTitle("Reasoning Workstation")
        self.parts.question.clear()
        self.parts.question.setFocus()
        self.host.update_actions()

    def ask_rename_session(self) -> None:
        """Ask for a new title and rename the open session."""
        if self.state is None:
            return
        title, ok = QInputDialog.getText(self.window, "Rename session", "Title", text=self.state.tree.session.title)
        if ok:
            self.rename_session(title)

    def rename_session(self, title: str) -> None:
        """Give the open session a new title (undoable)."""
        sid = self.current_session
        if sid is None:
            return

        def done(_result: object) -> None:
            self.changed.emit(sid, f"rename session to '{title[:40]}'")
            self.refresh_sessions()

        self.backend.call(lambda r: r.rename(sid, title), done, refresh=sid)

    def ask_delete_session(self) -> None:
        """Ask for confirmation, naming the open session, then delete it."""
        if self.state is None or self.current_session is None:
            return
        title = self.state.tree.session.title
        answer = QMessageBox.question(
            self.window, "Delete session",
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

        def done(_result: object) -> None:
            self.changed.emit(sid, f"delete session '{one_line(title, 40)}'")
            self.refresh_sessions()
            self.host.show_info(f"Deleted '{one_line(title, 60)}'. Undo (Ctrl+Z) brings it back.")

        self.backend.call(lambda r: r.delete_session(sid), done, self.host.show_error, refresh=sid)

    # -- state from the worker -------------------------------------------------------------------

    def on_state(self, state: SessionState) -> None:
        """Show a session's new state if it is the open one, keeping the selection."""
        if state.session_id != self.current_session:
            return  # another session's, or one still on its way from before New session
        if self.backend.superseded(state):
            return  # the newer one, already queued, shows all of this
        first = self.state is None or self.state.session_id != state.session_id
        self.state = state
        self.parts.tree_model.set_tree(state.tree)
        self.tree_shown.emit(state.tree)
        if first:
            self._first_shown(state.tree)
        if self._select_after is not None:
            index = self.parts.tree_model.index_of_node(self._select_after)
            if index.isValid():
                self._select_after = None
                self.parts.tree_view.setCurrentIndex(index)
                self.parts.tree_view.scrollTo(index)
            elif self._select_after in state.tree.nodes and self._revealing != self._select_after:
                self._reveal(state.session_id, self._select_after)
        self.refresh_inspector()

    def _reveal(self, session_id: str, node_id: str) -> None:
        """A step on a hidden alternative (a search hit): show its branch, then select it."""
        from workstation.review_queue import reveal

        self._revealing = node_id
        self.backend.call(lambda r: reveal(r, node_id), refresh=session_id)

    def _first_shown(self, tree: Tree) -> None:
        # Written at once, on a pool thread (the worker may be busy with the model for a
        # while): a window that never closes normally (killed, crashed, power lost) reopens
        # the session it showed, as one that closed does.
        if self._shown.session != tree.session.id:
            self._shown.session, self._shown.step = tree.session.id, ""
        run_task(self._shown.remember, lambda _: None, lambda _: None)
        self.parts.sessions.mark_current(tree.session.id)
        self.window.setWindowTitle(f"{tree.session.title} — Reasoning Workstation")
        if self.parts.question.toPlainText() != tree.session.question:
            set_plain(self.parts.question, tree.session.question)
        for index in self.parts.tree_model.parents():  # not expandAll: it walks every row
            self.parts.tree_view.expand(index)
        if self._select_after is None:
            self._select_after = tree.question_id
        if not tree.chains and not self.awaiting_new and not self._busy():
            action = self.parts.actions["continue_after"]
            shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            self.host.show_info(
                "this session has no steps yet (its generation stopped before any step was saved): "
                f"select the question and choose Continue after ({shortcut}) to generate them"
            )

    # -- the selection -----------------------------------------------------------------------------

    def select(self, node_id: str) -> None:
        """Select a node's row, now or as soon as a state shows it."""
        index = self.parts.tree_model.index_of_node(node_id)
        if index.isValid():
            self.parts.tree_view.setCurrentIndex(index)
            self.parts.tree_view.scrollTo(index)
        else:
            self._select_after = node_id

    def select_later(self, node_id: str | None) -> None:
        """Select a node once the next state shows it (after a change that moves the selection)."""
        self._select_after = node_id

    def current_node(self) -> Node | None:
        """The selected step (None for no selection or a row still being written)."""
        if self.state is None or self.current_node_id is None:
            return None
        return self.state.tree.nodes.get(self.current_node_id)

    def step(self) -> Node | None:
        """The selected step, or None after telling the user to select one."""
        node = self.current_node()
        if node is None:
            self.host.show_error("select a step first")
        return node

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            self.parts.tree_view.expand(parent)
        if self.parts.tree_model.streaming:
            self.parts.tree_view.scrollTo(self.parts.tree_model.index(last, 0, parent))

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        node = self.parts.tree_model.node(current)
        new_id = node.id if node is not None else None
        if self.current_node_id is not None and new_id != self.current_node_id:
            self.leaving.emit(self.current_node_id)
        self.current_node_id = new_id
        if new_id is not None and self.current_session is not None:
            self._remember_timer.start()
        self.refresh_inspector()

    def _remember(self) -> None:
        if self.current_session is None or self.current_node_id is None:
            return
        self._shown.session, self._shown.step = self.current_session, self.current_node_id
        run_task(self._shown.remember, lambda _: None, lambda _: None)

    # -- the keyboard flow -------------------------------------------------------------------------

    def move(self, delta: int) -> None:
        """Select the next (+1) or previous (-1) row of the tree, as Down and Up do."""
        view = self.parts.tree_view
        current = view.currentIndex()
        if not current.isValid():
            target = self.parts.tree_model.index(0, 0)
        else:
            target = view.indexBelow(current) if delta > 0 else view.indexAbove(current)
        if target.isValid():
            view.setCurrentIndex(target)
            view.scrollTo(target)

    def go_to_next(self, want: str) -> None:
        """Select the next unlabelled or flagged step: here, else in the next session that has one
        (a query on the worker)."""
        from workstation.review_queue import next_step

        sid, after = self.current_session, self.current_node_id
        if after is None and self.state is not None:
            after = self.state.tree.question_id

        def done(found: object) -> None:
            from workstation.review_queue import Found

            if not isinstance(found, Found):
                self.host.show_info(f"no {want} step is left in any session")
            elif found.session_id == self.current_session:
                self.select(found.node_id)
            else:
                self.open_session(found.session_id, found.node_id)

        self.backend.call(lambda r: next_step(r, sid, after, want), done, self.host.show_error)

    def refresh_inspector(self) -> None:
        """Show the selected node in the inspector (and the actions that apply to it)."""
        tree = self.state.tree if self.state is not None else None
        node = tree.nodes.get(self.current_node_id) if tree is not None and self.current_node_id else None
        self.parts.inspector.show_node(tree, node)
        self.host.update_actions()
