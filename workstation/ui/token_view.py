"""The token view: one model-written step's tokens, each shaded by how likely the model found it.

Hovering a token shows the model's top alternatives at that place with their probabilities;
selecting one (a click, or the caret moved onto it) lists them below, where "Branch here with
this token" (the context menu, a double click, or the B key) asks for a new alternative of the
step that keeps its text up to that token and continues with the chosen one. Tokens are plain
text with a background per token, never markup.
"""

from __future__ import annotations

import bisect
import math

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QTextEdit,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from workstation.store.tokens import StepToken, VersionTokens
from workstation.ui.delegates import confidence_color
from workstation.ui.tree_model import plain_tooltip

BRANCH_TEXT = "Branch here with this token"


def shade(logprob: float | None) -> QColor:
    """A token's background: the tree's confidence colours, light enough to read text on (none
    where the engine gave no log-probability: an inference server without them)."""
    if logprob is None:
        return QColor(0, 0, 0, 0)
    colour = confidence_color(math.exp(logprob) if math.isfinite(logprob) else 0.0)
    colour.setAlpha(110)
    return colour


def visible(text: str) -> str:
    """A token's text with blank space made visible: "␣" for an outer space, \\n for a line end."""
    shown = text.replace("\n", "\\n").replace("\t", "\\t")
    inner = shown.strip(" ")
    if not inner:
        return "␣" * len(shown) or "(empty)"
    lead = len(shown) - len(shown.lstrip(" "))
    trail = len(shown) - len(shown.rstrip(" "))
    return "␣" * lead + inner + "␣" * trail


class TokenView(QWidget):
    """Shows the tokens of one step; emits `branch_requested(node id, at char, token text)`."""

    branch_requested = Signal(str, int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tokenView")
        self.title = QLabel("Select a step written by the model to see its tokens.")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setObjectName("tokenText")
        self.text.setReadOnly(True)
        self.text.setUndoRedoEnabled(False)
        self.text.setMouseTracking(True)
        self.text.viewport().installEventFilter(self)
        self.text.cursorPositionChanged.connect(self._on_cursor)
        self.text.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.text.customContextMenuRequested.connect(self._text_menu)
        self.alternatives = QListWidget()
        self.alternatives.setObjectName("tokenAlternatives")
        self.alternatives.setMaximumHeight(130)
        self.alternatives.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.alternatives.customContextMenuRequested.connect(self._list_menu)
        self.alternatives.itemActivated.connect(lambda _item: self.branch_here())
        hint = QLabel("Shading: the model's probability of each token (green likely, red unlikely). "
                      "Select a token for its alternatives; B or a double click branches with one.")
        hint.setWordWrap(True)
        hint.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.alternatives)
        layout.addWidget(hint)
        self.node_id: str | None = None
        self.tokens: tuple[StepToken, ...] = ()
        self._offset = 0
        self._starts: list[int] = []  # each token's start in the document
        self.selected: int | None = None
        self._moving = False

    # -- what is shown ----------------------------------------------------------------------------

    def show_tokens(self, node_id: str | None, title: str, held: VersionTokens | None) -> None:
        """Show a step's tokens (None: a message in the title only)."""
        self.node_id = node_id if held is not None else None
        self.title.setText(title)
        self.tokens = held.tokens if held is not None else ()
        self._offset = held.offset if held is not None else 0
        self._starts = []
        self.selected = None
        self.alternatives.clear()
        self._moving = True
        self.text.clear()
        cursor = QTextCursor(self.text.document())
        cursor.beginEditBlock()
        for token in self.tokens:
            self._starts.append(cursor.position())
            fmt = QTextCharFormat()
            fmt.setBackground(shade(token.logprob))
            cursor.insertText(token.text, fmt)
        cursor.endEditBlock()
        self._moving = False
        self.text.setExtraSelections([])

    def at_char(self, index: int) -> int:
        """Where token `index` starts in its version's raw text (what `branch_at` takes)."""
        return self._offset + self._starts[index]

    def token_at(self, position: int) -> int | None:
        """The index of the token at a document position."""
        i = bisect.bisect_right(self._starts, position) - 1
        return i if 0 <= i < len(self.tokens) else None

    def select_token(self, index: int) -> None:
        """Select a token: mark it and list its alternatives (the likeliest first)."""
        if not 0 <= index < len(self.tokens):
            return
        self.selected = index
        token = self.tokens[index]
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(self._starts[index])
        cursor.setPosition(self._starts[index] + len(token.text), QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(self.palette().color(self.palette().ColorRole.Highlight))
        fmt.setForeground(self.palette().color(self.palette().ColorRole.HighlightedText))
        selection.format = fmt
        self.text.setExtraSelections([selection])
        self.alternatives.clear()
        chosen_row = 0
        for row, (text, logprob) in enumerate(token.top):
            marker = "  (written)" if text == token.text else ""
            item = QListWidgetItem(f"{math.exp(logprob):7.2%}   {visible(text)}{marker}")
            item.setData(Qt.ItemDataRole.UserRole, text)
            item.setToolTip(plain_tooltip(text) or "")
            self.alternatives.addItem(item)
            if not chosen_row and text != token.text:
                chosen_row = row
        if self.alternatives.count():
            # The likeliest token the model did not write: the one a branch most often wants.
            self.alternatives.setCurrentRow(chosen_row)

    def chosen_text(self) -> str | None:
        """The alternative selected in the list."""
        item = self.alternatives.currentItem()
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return value if isinstance(value, str) else None

    def branch_here(self, text: str | None = None) -> bool:
        """Ask for a branch at the selected token with `text` (default: the listed choice)."""
        text = text if text is not None else self.chosen_text()
        if self.node_id is None or self.selected is None or not text:
            return False
        self.branch_requested.emit(self.node_id, self.at_char(self.selected), text)
        return True

    # -- hover, click, menus --------------------------------------------------------------------

    def tooltip_for(self, index: int) -> str:
        """What hovering a token shows: its probability and the alternatives (plain text)."""
        token = self.tokens[index]
        if token.logprob is None:
            return f"{visible(token.text)}  (probability not given by this server)"
        p = math.exp(token.logprob) if math.isfinite(token.logprob) else 0.0
        lines = [f"{visible(token.text)}  {p:.2%}", "alternatives:"]
        lines += [f"  {math.exp(lp):7.2%}  {visible(t)}" for t, lp in token.top]
        return "\n".join(lines)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ToolTip and self.tokens:
            assert isinstance(event, QHelpEvent)  # what a ToolTip event is
            index = self.token_at(self.text.cursorForPosition(event.pos()).position())
            if index is not None:
                QToolTip.showText(event.globalPos(), plain_tooltip(self.tooltip_for(index)) or "", self.text)
                return True
        return super().eventFilter(watched, event)

    def _on_cursor(self) -> None:
        if self._moving:
            return
        index = self.token_at(self.text.textCursor().position())
        if index is not None and index != self.selected:
            self.select_token(index)

    def _text_menu(self, point: QPoint) -> None:
        index = self.token_at(self.text.cursorForPosition(point).position())
        if index is None:
            return
        self.select_token(index)
        menu = QMenu(self)
        branch = menu.addMenu(BRANCH_TEXT)
        for text, logprob in self.tokens[index].top:
            action = branch.addAction(f"{visible(text)}   {math.exp(logprob):.1%}")
            action.triggered.connect(lambda _checked=False, t=text: self.branch_here(t))
        menu.exec(self.text.mapToGlobal(point))

    def _list_menu(self, point: QPoint) -> None:
        if self.alternatives.itemAt(point) is None:
            return
        menu = QMenu(self)
        menu.addAction(BRANCH_TEXT).triggered.connect(lambda: self.branch_here())
        menu.exec(self.alternatives.mapToGlobal(point))
