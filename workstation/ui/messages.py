"""The window's one message path: errors, warnings and notices, always as one line of text."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

_STYLES = {
    "error": "background: #c62828; color: white;",
    "warning": "background: #ef9f00; color: black;",
    "info": "background: palette(highlight); color: palette(highlighted-text);",
}


class MessageBar(QFrame):
    """A strip above the work area that shows the latest message until dismissed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QLabel()
        self.label.setObjectName("messageText")
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote files and model text
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.hide()
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self._callback: Callable[[], None] | None = None
        self.action_button.clicked.connect(self._run_action)
        self.level = ""
        self.hide()

    def show_message(self, level: str, text: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        """Show `text` (error, warning or info), optionally with one button."""
        self.level = level
        self.setStyleSheet(f"#messageBar {{{_STYLES.get(level, _STYLES['info'])}}} QLabel {{background: transparent;}}")
        self.label.setText(text)
        if action is not None:
            self.action_button.setText(action[0])
            self._callback = action[1]
            self.action_button.show()
        else:
            self._callback = None
            self.action_button.hide()
        self.show()

    def clear_stale(self) -> None:
        """Something has since succeeded: an error it fixed or a notice about what came before
        ("Stopped…") would mislead now, so they go. Warnings (a crash log, a read-only database)
        hold until dismissed."""
        if self.level in ("error", "info") and not self.isHidden():
            self.hide()
            self.level = ""

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if self.isVisible() or not self.isHidden() else ""

    def _run_action(self) -> None:
        if self._callback is not None:
            self._callback()
