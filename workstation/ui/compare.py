"""Differences between texts, shown with character formats in plain-text views (never markup).

Used for a rewrite against the original step, and for two branches side by side.
"""

from __future__ import annotations

import difflib
import re

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPlainTextEdit,
    QWidget,
)

from workstation.core.tree import Tree
from workstation.ui.highlight import dark_palette

_WORDS = re.compile(r"\s+|\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Text cut into words, spaces and punctuation (joined, they give the text back)."""
    return _WORDS.findall(text)


def diff_ops(old: str, new: str) -> list[tuple[str, str, str]]:
    """(tag, old piece, new piece) per difflib opcode over words; tag is equal/replace/delete/insert."""
    a, b = words(old), words(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(tag, "".join(a[i1:i2]), "".join(b[j1:j2])) for tag, i1, i2, j1, j2 in matcher.get_opcodes()]


def _formats() -> tuple[QTextCharFormat, QTextCharFormat, QTextCharFormat]:
    plain, removed, added = QTextCharFormat(), QTextCharFormat(), QTextCharFormat()
    dark = dark_palette()
    removed.setBackground(QColor(110, 30, 30) if dark else QColor(255, 205, 205))
    removed.setFontStrikeOut(True)
    added.setBackground(QColor(30, 95, 40) if dark else QColor(200, 245, 200))
    return plain, removed, added


def show_inline_diff(view: QPlainTextEdit, old: str, new: str) -> None:
    """Fill `view` with `new`, removed words struck through in red and added ones in green."""
    plain, removed, added = _formats()
    view.clear()
    cursor = QTextCursor(view.document())
    for tag, left, right in diff_ops(old, new):
        if tag == "equal":
            cursor.insertText(left, plain)
            continue
        if left:
            cursor.insertText(left, removed)
        if right:
            cursor.insertText(right, added)


def show_side_by_side(left_view: QPlainTextEdit, right_view: QPlainTextEdit, left: str, right: str) -> int:
    """Fill two views with two texts, highlighting what differs; returns how many pieces differ."""
    plain, removed, added = _formats()
    left_view.clear()
    right_view.clear()
    lc, rc = QTextCursor(left_view.document()), QTextCursor(right_view.document())
    changed = 0
    for tag, a, b in diff_ops(left, right):
        if tag == "equal":
            lc.insertText(a, plain)
            rc.insertText(b, plain)
            continue
        changed += 1
        if a:
            lc.insertText(a, removed)
        if b:
            rc.insertText(b, added)
    return changed


def branch_text(tree: Tree, node_id: str) -> str:
    """A branch from one alternative down to its end (the shown alternative at every step)."""
    node = tree.node(node_id)
    lines = [node.text]
    while (child := tree.shown_child(node.id)) is not None:
        node = child
        lines.append(node.text)
    return "\n\n".join(lines)


class CompareDialog(QDialog):
    """Two alternatives of a step and the branches below them, side by side."""

    def __init__(self, tree: Tree, node_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareDialog")
        self.setWindowTitle("Compare branches")
        self.resize(1000, 620)
        self.tree = tree
        self.options = tree.alternatives(node_id)
        self.left_pick, self.right_pick = QComboBox(), QComboBox()
        for combo in (self.left_pick, self.right_pick):
            for i, option in enumerate(self.options, 1):
                combo.addItem(f"Alternative {i}: {option.text[:60]}", option.id)
        current = next((i for i, n in enumerate(self.options) if n.id == node_id), 0)
        self.left_pick.setCurrentIndex(current)
        self.right_pick.setCurrentIndex((current + 1) % max(1, len(self.options)))
        self.left, self.right = QPlainTextEdit(), QPlainTextEdit()
        for view in (self.left, self.right):
            view.setReadOnly(True)
        self.summary = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QGridLayout(self)
        layout.addWidget(self.left_pick, 0, 0)
        layout.addWidget(self.right_pick, 0, 1)
        layout.addWidget(self.left, 1, 0)
        layout.addWidget(self.right, 1, 1)
        layout.addWidget(self.summary, 2, 0)
        layout.addWidget(buttons, 2, 1)
        self.left_pick.currentIndexChanged.connect(self.refresh)
        self.right_pick.currentIndexChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Redraw both sides for the picked alternatives."""
        left_id, right_id = self.left_pick.currentData(), self.right_pick.currentData()
        if left_id is None or right_id is None:
            return
        changed = show_side_by_side(
            self.left, self.right, branch_text(self.tree, left_id), branch_text(self.tree, right_id)
        )
        self.summary.setText(f"{changed} differences" if changed else "the branches read the same")
