"""The Team view's disagreement queue: its table model and the adjudication form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from workstation.ui.exchange_dialogs import plain_label
from workstation.ui.inspector import set_plain, shown_text
from workstation.ui.tree_model import plain_tooltip

if TYPE_CHECKING:
    from workstation.exchange.agreement import QueueItem

LABEL_WORDS = {-1: "wrong", 0: "neutral", 1: "right"}
ADJUDICATOR_ROLES = (("expert", "expert"), ("ethics_reviewer", "ethics reviewer"))


class DisagreementModel(QAbstractTableModel):
    """The disagreement queue (dicts from `Disagreement.to_dict`), one row per step."""

    HEADERS = ("Session", "Step", "Labels", "Text")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.items: list[QueueItem] = []

    def set_items(self, items: list[QueueItem]) -> None:
        """Replace the queue."""
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    # headerData and data give Any: a QVariant of any type, as PySide6's stubs declare it.
    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 4:
            return self.HEADERS[section]
        return None

    @staticmethod
    def labels_text(item: QueueItem) -> str:
        """'alice: right, bob: wrong'."""
        return ", ".join(f"{rid}: {LABEL_WORDS.get(v['label'], v['label'])}" for rid, v in item["labels"].items())

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item = self.items[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = item["text"] or ""
            values = (
                item.get("session_title") or item["session_id"],
                str(item["position"]),
                self.labels_text(item),
                (text.splitlines() or [""])[0][:200] if role == Qt.ItemDataRole.DisplayRole else text,
            )
            value = values[index.column()]
            return value if role == Qt.ItemDataRole.DisplayRole else plain_tooltip(value)
        if role == Qt.ItemDataRole.UserRole:
            return item["node_id"]
        return None


class AdjudicateForm(QGroupBox):
    """The selected step in full, each reviewer's label, and the adjudicator's label and reason."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Adjudicate", parent)
        self.step_text = QPlainTextEdit()
        self.step_text.setObjectName("adjudicateStepText")
        self.step_text.setReadOnly(True)
        self.step_text.setMaximumHeight(110)
        self.labels = plain_label(name="adjudicateLabels")
        self.identity = plain_label(name="adjudicateIdentity")
        self.role = QComboBox()
        for value, text in ADJUDICATOR_ROLES:
            self.role.addItem(text, value)
        self.label_buttons = QButtonGroup(self)
        row = QHBoxLayout()
        for label in (-1, 0, 1):
            button = QRadioButton(LABEL_WORDS[label].capitalize())
            button.setObjectName(f"adjudicate_{LABEL_WORDS[label]}")
            self.label_buttons.addButton(button, label + 1)  # ids must not be -1 (Qt's "no id")
            row.addWidget(button)
        row.addStretch(1)
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("adjudicateReason")
        self.reason.setPlaceholderText("Why this label is right (required; kept with the adjudication). "
                                       "Ctrl+Enter adjudicates.")
        self.reason.setMaximumHeight(80)
        self.submit = QPushButton("Adjudicate")
        self.submit.setObjectName("adjudicateButton")
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self.reason)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.submit.click)
        self.show_step = QPushButton("Show in tree")
        self.show_step.setToolTip("Open the session at this step, to read it in context (or double-click the row)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.submit)
        buttons.addWidget(self.show_step)
        buttons.addStretch(1)
        self.feedback = plain_label(name="adjudicateFeedback")
        form = QFormLayout(self)
        form.addRow(self.step_text)
        form.addRow("Labels", self.labels)
        form.addRow("As", self.identity)
        form.addRow("Role", self.role)
        form.addRow("Label", row)
        form.addRow("Reason", self.reason)
        form.addRow(buttons)
        form.addRow(self.feedback)
        self.show_item(None)

    def show_item(self, item: QueueItem | None) -> None:
        """Show a queued step (None: nothing selected)."""
        self.setEnabled(item is not None)
        set_plain(self.step_text, shown_text(item["text"]) if item else "")
        self.labels.setText(DisagreementModel.labels_text(item) if item else "Select a step in the queue.")
        self.label_buttons.setExclusive(False)
        for button in self.label_buttons.buttons():
            button.setChecked(False)
        self.label_buttons.setExclusive(True)
        self.reason.clear()

    def set_identity(self, reviewer_id: str, role: str) -> None:
        """Who adjudicates; the role defaults to theirs where they are an expert or ethics reviewer."""
        self.identity.setText(reviewer_id)
        index = self.role.findData(role)
        if index >= 0:
            self.role.setCurrentIndex(index)

    def chosen_label(self) -> int | None:
        """-1, 0 or 1, or None when no label is picked."""
        checked = self.label_buttons.checkedId()
        return None if checked < 0 else checked - 1

    def set_label(self, label: int) -> None:
        """Pick a label (as a click would)."""
        self.label_buttons.button(label + 1).setChecked(True)
