"""The settings dialog (built from the settings declaration) and the shortcuts help."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workstation.settings import SETTINGS, Setting, Values
from workstation.ui.model_panel import setting_editor


class AskDialog(QDialog):
    """Ask the model your own question about a step: the step is shown above the question."""

    def __init__(self, position: int, step_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("askDialog")
        self.setWindowTitle(f"Ask about step {position}")
        self.setMinimumSize(520, 340)
        step = QPlainTextEdit()
        step.setObjectName("askStep")
        step.setReadOnly(True)
        step.setPlainText(step_text)  # model output: plain text, never markup
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("askQuestion")
        self.editor.setPlaceholderText("Your question about this step (Ctrl+Enter asks it)")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Ask")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.accept)
        layout = QVBoxLayout(self)
        caption = QLabel(f"Step {position}:")
        caption.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(caption)
        layout.addWidget(step, 2)
        layout.addWidget(QLabel("Your question:"))
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)
        self.editor.setFocus()

    def question(self) -> str:
        """The question as typed."""
        return self.editor.toPlainText()


class SettingsDialog(QDialog):
    """Every setting of `workstation.settings.SETTINGS`, grouped, with its description."""

    def __init__(self, values: Values, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        groups: dict[str, QFormLayout] = {}
        for setting in SETTINGS:
            form = groups.get(setting.group)
            if form is None:
                box = QGroupBox(setting.group.capitalize())
                form = groups[setting.group] = QFormLayout(box)
                layout.addWidget(box)
            editor = self._editor(setting, values)
            editor.setToolTip(setting.description)
            self.editors[setting.key] = editor
            form.addRow(setting.title, editor)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @staticmethod
    def _editor(setting: Setting, values: Values) -> QWidget:
        value = values[setting.key]  # of the type the setting declares (see `Values`)
        if setting.choices is not None:
            combo = QComboBox()
            for choice in setting.choices:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(max(0, combo.findData(value)))
            return combo
        if setting.type is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            return box
        if setting.type in (int, float):
            editor = setting_editor(setting.key)
            editor.setValue(value)
            return editor
        line = QLineEdit(setting.text(value))
        return line

    def values(self) -> Values:
        """The values as edited."""
        out: Values = {}
        for key, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[key] = editor.currentData()
            elif isinstance(editor, QCheckBox):
                out[key] = editor.isChecked()
            elif isinstance(editor, QLineEdit):
                out[key] = editor.text()
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                out[key] = editor.value()
        return out


class HelpDialog(QDialog):
    """Every action and its keyboard shortcut."""

    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        """`rows`: (action, keys, tooltip), in the order shown."""
        super().__init__(parent)
        self.setObjectName("helpDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 640)
        self.table = QTableWidget(len(rows), 2)
        self.table.setObjectName("shortcutTable")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        for i, (name, keys, tip) in enumerate(rows):
            name_item = QTableWidgetItem(name)
            name_item.setToolTip(tip)
            self.table.setItem(i, 0, name_item)
            self.table.setItem(i, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
