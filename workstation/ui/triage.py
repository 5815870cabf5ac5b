"""Flag triage: the queue of warning flags (arithmetic, code, low confidence, repetition) on steps
not labelled yet, across sessions, in a dock beside the session list.

Selecting a row opens its step in the tree; C (the `confirm_flag` action) labels the step wrong
with the check as its tag and the check's message as the critique ("60 / 1.5 is 40"), and
Shift+R then regenerates from it with that critique. The queue is a review query
(`review_queue.triage_queue`) run on the worker, again after every change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.backend import Backend
from workstation.ui.host import Host
from workstation.ui.session_controller import SessionController
from workstation.ui.tree_model import one_line
from workstation.ui.window_layout import WindowParts

if TYPE_CHECKING:
    from workstation.review import Review
    from workstation.review_queue import TriageItem

_ItemRole = Qt.ItemDataRole.UserRole


class TriagePanel(QWidget):
    """The list of flags to judge; emits `open_requested(session_id, node_id)` for the one chosen."""

    open_requested = Signal(str, str)
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("triagePanel")
        self.summary = QLabel("Flags to judge: …")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("triageList")
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.currentItemChanged.connect(self._on_current)
        hint = QLabel("Select a flag to see its step; C confirms it as wrong (tag and critique from the "
                      "check), Shift+R regenerates with that critique, 3 labels it right instead.")
        hint.setWordWrap(True)
        hint.setTextFormat(Qt.TextFormat.PlainText)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_requested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addWidget(hint)
        layout.addWidget(refresh)
        self.items: list[TriageItem] = []

    def show_items(self, items: list[TriageItem]) -> None:
        """Show the queue. The list keeps its place (the same step, or the row that took the
        place of one just confirmed) without opening it: the tree stays on the step judged, so
        Shift+R regenerates that one."""
        chosen = self.list.currentRow()
        keep = (self.items[chosen].session_id, self.items[chosen].node_id) if 0 <= chosen < len(self.items) else None
        self.items = items
        self.list.blockSignals(True)  # a reload is not the reviewer choosing a row
        self.list.clear()
        for i, item in enumerate(items):
            text = f"{one_line(item.session_title, 40)} · step {item.position} · {item.check}: {item.message}"
            row = QListWidgetItem(text)
            row.setToolTip(item.text)
            row.setData(_ItemRole, i)
            self.list.addItem(row)
        rows = {(it.session_id, it.node_id): i for i, it in enumerate(items)}
        if keep is not None and items:
            self.list.setCurrentRow(rows.get(keep, min(chosen, len(items) - 1)))
        self.list.blockSignals(False)
        sessions = len({it.session_id for it in items})
        self.summary.setText(f"Flags to judge: {len(items)} in {sessions} session(s)" if items
                             else "No flags left to judge: every flagged step has your label.")

    def _on_current(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        item = self.items[current.data(_ItemRole)]
        self.open_requested.emit(item.session_id, item.node_id)


class TriageController(QObject):
    """The Flag triage dock and the `confirm_flag` action."""

    def __init__(self, window: QMainWindow, parts: WindowParts, backend: Backend, host: Host,
                 session: SessionController) -> None:
        super().__init__(window)
        self.parts, self.backend, self.host, self.session = parts, backend, host, session
        self.panel = TriagePanel()
        self.dock = QDockWidget("Flag triage", window)
        self.dock.setObjectName("triageDock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        window.tabifyDockWidget(parts.sessions_dock, self.dock)
        parts.sessions_dock.raise_()
        for entry in window.menuBar().actions():
            menu = entry.menu()
            if entry.text().replace("&", "") == "View" and isinstance(menu, QMenu):
                menu.addAction(self.dock.toggleViewAction())
        self.panel.open_requested.connect(self._open)
        self.panel.refresh_requested.connect(self.refresh)
        self.dock.visibilityChanged.connect(lambda visible: self.refresh() if visible else None)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)  # a burst of changes (a label per key) asks once
        self._timer.timeout.connect(self.refresh)

    def schedule_refresh(self) -> None:
        """Something changed: ask for the queue again shortly (only while the dock is shown)."""
        if not self.dock.isHidden():
            self._timer.start()

    def refresh(self) -> None:
        """Ask the worker for the queue."""
        from workstation.review_queue import triage_queue

        self.backend.call(lambda r: triage_queue(r), self._show, self.host.show_error)

    def _show(self, items: object) -> None:
        if isinstance(items, list):
            self.panel.show_items(items)

    def _open(self, session_id: str, node_id: str) -> None:
        if session_id == self.session.current_session:
            self.session.select(node_id)
        else:
            self.session.open_session(session_id, node_id)

    def confirm_flag(self) -> None:
        """Label the selected step wrong, tagged with its first warning's check and that
        check's message as the critique (undoable); Shift+R then regenerates with it."""
        from workstation.review_queue import confirm_flag

        node = self.session.step()
        sid = self.session.current_session
        if node is None or sid is None:
            return
        warnings = [f for f in node.current.flags if f.severity == "warning"]
        if not warnings:
            self.host.show_error(f"step {node.position} has no warning flag to confirm; label it with 1, 2 or 3")
            return
        flag, nid = warnings[0], node.id

        def run(review: Review) -> object:
            return confirm_flag(review, nid, flag.check, flag.message)

        def done(_result: object) -> None:
            self.session.changed.emit(sid, f"confirm flag on step {node.position}")
            self.schedule_refresh()

        self.backend.call(run, done, self.host.show_error, refresh=sid)
