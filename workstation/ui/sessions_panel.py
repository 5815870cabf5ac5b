"""The sessions browser: every session, or search hits (text, label, tag, reviewer, model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.tree_model import one_line, plain_tooltip

if TYPE_CHECKING:
    from workstation.store.records import SearchHit, SessionSummary

SessionRole = Qt.ItemDataRole.UserRole + 10
NodeRole = Qt.ItemDataRole.UserRole + 11


def _short_button(action: QAction, text: str) -> QToolButton:
    """A button for an action with a short caption (the menu keeps the full name)."""
    button = QToolButton()
    button.setText(text)
    button.setToolTip(action.toolTip())
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    button.clicked.connect(action.trigger)
    button.setEnabled(action.isEnabled())
    action.changed.connect(lambda: button.setEnabled(action.isEnabled()))
    return button


class SessionsPanel(QWidget):
    """Lists sessions; typing in the search fields lists matching steps under their sessions.

    `search_changed(criteria)` asks the window for a search (empty dict: list every session);
    `open_requested(session_id, node_id)` opens a session, at a step when a hit was picked.
    """

    search_changed = Signal(dict)
    open_requested = Signal(str, str)

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLineEdit()
        self.text.setObjectName("searchText")
        self.text.setPlaceholderText("Search questions and steps…")
        self.text.setClearButtonEnabled(True)
        self.label = QComboBox()
        self.label.setObjectName("searchLabel")
        # "" for any: never None as item data (see delegates.py)
        for text, value in (("any label", ""), ("wrong", -1), ("neutral", 0), ("right", 1)):
            self.label.addItem(text, value)
        self.tag = QLineEdit()
        self.tag.setPlaceholderText("tag")
        self.reviewer = QLineEdit()
        self.reviewer.setPlaceholderText("reviewer")
        self.model = QLineEdit()
        self.model.setPlaceholderText("model")
        self.list = QTreeWidget()
        self.list.setObjectName("sessionList")
        self.list.setHeaderLabels(["Session", "Labelled"])
        self.list.setRootIsDecorated(True)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        header.setSectionResizeMode(1, header.ResizeMode.ResizeToContents)
        self.list.headerItem().setToolTip(1, "Steps labelled on their current version / all steps")
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(lambda: self.search_changed.emit(self.criteria()))
        for edit in (self.text, self.tag, self.reviewer, self.model):
            edit.textChanged.connect(self._timer.start)
        self.label.currentIndexChanged.connect(self._timer.start)
        filters = QFormLayout()
        filters.addRow(self.text)
        row = QHBoxLayout()
        row.addWidget(self.label)
        row.addWidget(self.tag)
        filters.addRow(row)
        row = QHBoxLayout()
        row.addWidget(self.reviewer)
        row.addWidget(self.model)
        filters.addRow(row)
        buttons = QHBoxLayout()
        for name, text in (("new_session", "New"), ("rename_session", "Rename"), ("delete_session", "Delete")):
            buttons.addWidget(_short_button(actions[name], text), 1)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        self.current_session: str | None = None

    def criteria(self) -> dict[str, str | int]:
        """The search criteria typed (only those given): `Review.search`'s keyword arguments."""
        found: dict[str, str | int] = {}
        for key, edit in (("text", self.text), ("tag", self.tag), ("reviewer", self.reviewer), ("model", self.model)):
            if edit.text().strip():
                found[key] = edit.text().strip()
        if self.label.currentData() != "":
            found["label"] = self.label.currentData()
        return found

    def show_sessions(self, sessions: list[SessionSummary]) -> None:
        """List sessions (SessionSummary records)."""
        self.list.clear()
        for summary in sessions:
            item = QTreeWidgetItem([summary.title, f"{summary.labelled}/{summary.steps}"])
            item.setData(0, SessionRole, summary.id)
            item.setData(0, NodeRole, "")
            item.setToolTip(0, plain_tooltip(
                f"{summary.title}\n\n{summary.question[:500]}\n\nstarted {summary.created_at[:19]} by {summary.reviewer_id}"
                + (f"\nmodels: {', '.join(summary.models)}" if summary.models else "")
            ) or "")
            self.list.addTopLevelItem(item)
        self.mark_current(self.current_session)

    def show_hits(self, hits: list[SearchHit]) -> None:
        """List search hits (SearchHit records) under their sessions."""
        self.list.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for hit in hits:
            group = groups.get(hit.session_id)
            if group is None:
                group = QTreeWidgetItem([hit.session_title, ""])
                group.setData(0, SessionRole, hit.session_id)
                group.setData(0, NodeRole, "")
                groups[hit.session_id] = group
                self.list.addTopLevelItem(group)
            child = QTreeWidgetItem([f"{hit.position}. {one_line(hit.text, 120)}", ""])
            child.setData(0, SessionRole, hit.session_id)
            child.setData(0, NodeRole, hit.node_id)
            child.setToolTip(0, plain_tooltip(hit.text[:1000]) or "")
            group.addChild(child)
            group.setText(1, f"{group.childCount()} hits")
        self.list.expandAll()
        if not hits:
            empty = QTreeWidgetItem(["no matches", ""])
            empty.setData(0, SessionRole, "")
            empty.setData(0, NodeRole, "")
            self.list.addTopLevelItem(empty)

    def mark_current(self, session_id: str | None) -> None:
        """Highlight the open session in the list."""
        self.current_session = session_id
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item is None:
                continue
            font = item.font(0)
            font.setBold(item.data(0, SessionRole) == session_id)
            item.setFont(0, font)

    def _activated(self, item: QTreeWidgetItem) -> None:
        session_id = item.data(0, SessionRole)
        if session_id:
            self.open_requested.emit(session_id, item.data(0, NodeRole) or "")
