"""Code blocks in a step's text highlighted with pygments, in a plain-text editor.

The text stays plain text: the highlighter only sets character formats on fenced blocks
(```lang ... ```), so nothing the model wrote is ever interpreted as markup.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)

_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)\s*([\w+#.-]*)")
_OUTSIDE = -1


def dark_palette() -> bool:
    """Whether the application follows a dark colour scheme."""
    hints = QGuiApplication.styleHints()
    if hints.colorScheme() == Qt.ColorScheme.Dark:
        return True
    return QGuiApplication.palette().base().color().lightness() < 128


@cache
def _lexer(index: int) -> Any:
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    name = _LANGS[index] if 0 <= index < len(_LANGS) else ""
    try:
        return get_lexer_by_name(name or "python", stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


# Block states: -1 outside a fence; otherwise the index of the fence's language in _LANGS.
_LANGS: list[str] = []


def _lang_index(name: str) -> int:
    name = name.lower()
    if name not in _LANGS:
        _LANGS.append(name)
    return _LANGS.index(name)


class CodeHighlighter(QSyntaxHighlighter):
    """Highlights fenced code blocks line by line with a pygments lexer and style."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._formats: dict[object, QTextCharFormat] = {}
        self._fence_format = QTextCharFormat()
        self._styled = False

    def refresh_style(self) -> None:
        """Follow the palette (light or dark): restyle and re-highlight."""
        if self._styled:
            self._styled = False
            self.rehighlight()

    def _load_style(self) -> None:
        # pygments loads with the first code block, not at start-up.
        from pygments.styles import get_style_by_name

        self._styled = True
        style = get_style_by_name("monokai" if dark_palette() else "default")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._formats = {}
        for token, spec in style:
            fmt = QTextCharFormat()
            fmt.setFont(mono)
            if spec["color"]:
                fmt.setForeground(QColor(f"#{spec['color']}"))
            if spec["bold"]:
                fmt.setFontWeight(QFont.Weight.Bold)
            if spec["italic"]:
                fmt.setFontItalic(True)
            self._formats[token] = fmt
        self._fence_format = QTextCharFormat()
        self._fence_format.setFont(mono)
        self._fence_format.setForeground(QColor("#888888"))

    def _format_for(self, token: object) -> QTextCharFormat | None:
        while token is not None:
            fmt = self._formats.get(token)
            if fmt is not None and (fmt.foreground().style() != Qt.BrushStyle.NoBrush or fmt.fontWeight() > 400):
                return fmt
            token = getattr(token, "parent", None)
        return self._formats.get(None)

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        state = self.previousBlockState()
        inside = state is not None and state >= 0
        fence = _FENCE.match(text)
        if (fence or inside) and not self._styled:
            self._load_style()
        if fence:
            self.setFormat(0, len(text), self._fence_format)
            self.setCurrentBlockState(_OUTSIDE if inside else _lang_index(fence.group(2)))
            return
        if not inside:
            self.setCurrentBlockState(_OUTSIDE)
            return
        self.setCurrentBlockState(state)
        position = 0
        for token, value in _lexer(state).get_tokens(text):
            fmt = self._format_for(token)
            if fmt is not None and value:
                self.setFormat(position, len(value), fmt)
            position += len(value)
