"""The reading view: the shown branch as one document, every step's full text in order.

Each step is a header line (its number, a label chip, the confidence bar, its flags), its text,
its flags' messages, and the challenges asked about it with the model's replies, indented.
Everything is inserted as plain text with character formats (`QTextCursor.insertText`), so
nothing the model wrote is ever read as markup; fenced code is highlighted by the same
pygments highlighter as the inspector.

A long branch is built in chunks, one per turn of the event loop, so a 5,000-step session
opens without blocking the window; a new state of the same branch (a label, a flag, a reply)
re-renders only the steps whose rendering changed, in place. The current step is shown with
an extra selection (no change to the document) and follows the tree; a click on a step selects
it in the tree (`step_clicked`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from workstation.core.model import Node
from workstation.core.tree import Tree
from workstation.ui.delegates import confidence_color
from workstation.ui.highlight import CodeHighlighter

#: (text, style) pieces of one step's rendering; a style names a character format.
Segments = tuple[tuple[str, str], ...]

#: Steps inserted per turn of the event loop while a branch is built (about 10 ms).
CHUNK = 120
#: Steps compared per turn when a new state of the same branch arrives (about 10 ms).
UPDATE_CHUNK = 300

CHIPS = {-1: (" ✗ wrong ", "#c62828"), 0: (" – neutral ", "#757575"), 1: (" ✓ right ", "#2e7d32")}
_BAR = 10  # cells of the confidence bar


@dataclass
class _Job:
    """A branch being shown, chunk by chunk: built anew, or compared and redrawn in place."""

    tree: Tree
    path: list[Node]
    reviewer_id: str
    update: bool
    next: int = 0


@dataclass
class _Entry:
    node_id: str
    start: int
    end: int
    segments: Segments


#: The most characters of one text the reading view lays out: a megabyte-long line would hold the
#: GUI thread for seconds while it wraps. The inspector shows a step whole (up to its own limit).
READ_LIMIT = 20_000


def _readable(text: str) -> str:
    if len(text) <= READ_LIMIT:
        return text
    return text[:READ_LIMIT] + f" [… {len(text) - READ_LIMIT:,} more characters: select the step to read it all]"


def step_segments(tree: Tree, node: Node, number: int, reviewer_id: str) -> Segments:
    """How one step reads: header, text, flag messages, challenges and replies (pure data)."""
    out: list[tuple[str, str]] = []
    if node.kind == "question":
        out += [("Question\n", "number"), (_readable(node.text) + "\n", "text")]
        return tuple(out)
    title = "Answer" if node.kind == "answer" else f"Step {number}"
    out.append((title + "  ", "number"))
    mine = tree.current_annotations(node.id).get(reviewer_id)
    label = mine.label if mine is not None and mine.version_id == node.current_version_id else None
    if label is None:
        out.append((" unlabelled ", "chip"))
    else:
        out.append((CHIPS[label][0], f"chip{label}"))
    version = node.current
    if version.origin != "model":
        out.append(("  rewritten" if version.origin == "rewrite" else "  typed", "dim"))
    elif version.mean_logprob is not None:
        p = math.exp(version.mean_logprob)
        filled = round(p * _BAR)
        hue = round(p * 20)  # the bar's colour in 21 steps: few formats, same scale as the tree
        out.append(("  " + "█" * filled, f"bar{hue}"))
        out.append(("░" * (_BAR - filled) + f" {p:.0%}", "dim"))
    for check in dict.fromkeys(f.check for f in version.flags):  # each check once; the lines below say all
        out.append((f"  ⚑ {check}", "flag"))
    out.append(("\n", "text"))
    out.append((_readable(node.text or "(empty)") + "\n", "text"))
    for flag in version.flags:
        out.append((f"⚑ {flag.check}: {flag.message}\n", "flag"))
    for challenge in tree.challenges(node.id):
        out.append((_indented("? ", f"{_readable(challenge.text)}  ({challenge.current.author})"), "challenge"))
        for reply in tree.replies(challenge.id):
            out.append((_indented("↳ ", _readable(reply.text or "(no reply)")), "reply"))
    return tuple(out)


def _indented(marker: str, text: str) -> str:
    lines = text.splitlines() or [""]
    return "".join(("    " + (marker if i == 0 else "  ") + line + "\n") for i, line in enumerate(lines))


class ReadingView(QPlainTextEdit):
    """The shown branch of a session as a read-only document that follows the selection."""

    #: The reader clicked (or moved the caret onto) a step: its node id.
    step_clicked = Signal(str)
    #: The branch has been fully built (tests and benches wait on it).
    built = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readingView")
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setPlaceholderText("The selected branch reads here, step by step.")
        self._highlighter = CodeHighlighter(self.document())
        self._entries: list[_Entry] = []
        self._starts: list[int] = []
        self._job: _Job | None = None
        self._current: str | None = None
        self._moving = False
        self._formats: dict[str, QTextCharFormat] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)
        self.cursorPositionChanged.connect(self._on_cursor)

    # -- what is shown ----------------------------------------------------------------------------

    def node_ids(self) -> list[str]:
        """The steps shown so far, in order (the question first)."""
        return [e.node_id for e in self._entries]

    def building(self) -> bool:
        """Whether chunks of the branch are still to be inserted."""
        return self._job is not None

    def step_text(self, node_id: str) -> str:
        """The document text of one step as shown (header, text, flags, challenges)."""
        for entry in self._entries:
            if entry.node_id == node_id:
                return "".join(text for text, _ in entry.segments)
        return ""

    def show_tree(self, tree: Tree | None, reviewer_id: str) -> None:
        """Show the tree's shown branch: built anew when the branch changed, else only the steps
        whose rendering changed are redrawn; either way in chunks, one per turn of the event loop."""
        if tree is None:
            self._reset()
            return
        path = tree.shown_path()
        same = (
            (self._job is None or self._job.update)
            and len(path) == len(self._entries)
            and all(n.id == e.node_id for n, e in zip(path, self._entries, strict=True))
        )
        if not same:
            self._reset()
        self._job = _Job(tree, path, reviewer_id, update=same)
        self._timer.start()

    def _reset(self) -> None:
        self._timer.stop()
        self._job = None
        self._entries = []
        self._starts = []
        self._moving = True
        self.clear()
        self._moving = False
        self.setExtraSelections([])

    def _step(self) -> None:
        job = self._job
        if job is None:
            return
        done = job.next
        if job.update:
            job.next = min(done + UPDATE_CHUNK, len(job.path))
            changed = []
            for i in range(done, job.next):
                segments = step_segments(job.tree, job.path[i], i, job.reviewer_id)
                if segments != self._entries[i].segments:
                    changed.append((i, segments))
            if changed:
                self._replace(changed)
        else:
            job.next = min(done + CHUNK, len(job.path))
            self._append(job, done, job.next)
        if job.next < len(job.path):
            self._timer.start()
            return
        self._job = None
        if self._current is not None:
            self.set_current(self._current)
        self.built.emit()

    def _append(self, job: _Job, first: int, last: int) -> None:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self._moving = True
        cursor.beginEditBlock()
        for i in range(first, last):
            segments = step_segments(job.tree, job.path[i], i, job.reviewer_id)
            start = cursor.position()
            if start:
                cursor.insertText("\n", self._format("text"))
                start += 1
            self._insert(cursor, segments)
            self._entries.append(_Entry(job.path[i].id, start, cursor.position(), segments))
            self._starts.append(start)
        cursor.endEditBlock()
        self._moving = False
        if self._current is not None and any(e.node_id == self._current for e in self._entries[first:]):
            self.set_current(self._current)

    def _replace(self, changed: list[tuple[int, Segments]]) -> None:
        self._moving = True
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        for i, segments in changed:
            entry = self._entries[i]
            cursor.setPosition(entry.start)
            cursor.setPosition(entry.end, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self._insert(cursor, segments)
            delta = cursor.position() - entry.end
            entry.end = cursor.position()
            entry.segments = segments
            if delta:  # rare (a label chip's width changed): shift what follows
                for later in self._entries[i + 1:]:
                    later.start += delta
                    later.end += delta
        cursor.endEditBlock()
        self._starts = [e.start for e in self._entries]
        self._moving = False
        if self._current is not None:
            self._highlight(self._current)

    def _insert(self, cursor: QTextCursor, segments: Segments) -> None:
        for i, (text, style) in enumerate(segments):
            # The step's last newline is the separator's job: the entry ends at its text.
            if i == len(segments) - 1 and text.endswith("\n"):
                text = text[:-1]
            if text:
                cursor.insertText(text, self._format(style))

    def _format(self, style: str) -> QTextCharFormat:
        fmt = self._formats.get(style)
        if fmt is not None:
            return fmt
        fmt = QTextCharFormat()
        palette = self.palette()
        if style == "number":
            fmt.setFontWeight(QFont.Weight.Bold)
        elif style.startswith("chip"):
            label = style[4:]
            colour = CHIPS[int(label)][1] if label else None
            fmt.setFontWeight(QFont.Weight.Bold)
            if colour:
                fmt.setBackground(QColor(colour))
                fmt.setForeground(QColor("#ffffff"))
            else:
                fmt.setForeground(palette.color(palette.ColorRole.PlaceholderText))
                fmt.setBackground(palette.color(palette.ColorRole.AlternateBase))
        elif style.startswith("bar"):
            fmt.setForeground(confidence_color(int(style[3:]) / 20))
        elif style == "dim":
            fmt.setForeground(palette.color(palette.ColorRole.PlaceholderText))
        elif style == "flag":
            fmt.setForeground(QColor("#e65100"))
        elif style == "challenge":
            fmt.setForeground(QColor("#1565c0"))
        elif style == "reply":
            fmt.setFontItalic(True)
        self._formats[style] = fmt
        return fmt

    # -- the current step -----------------------------------------------------------------------

    def set_current(self, node_id: str | None) -> None:
        """Highlight a step and scroll to it (the tree's selection moved)."""
        self._current = node_id
        if node_id is None or not self._highlight(node_id):
            return
        entry = next(e for e in self._entries if e.node_id == node_id)
        self._moving = True
        cursor = self.textCursor()
        # The end first, then the start: the whole step comes into view when it fits.
        cursor.setPosition(entry.end)
        self.setTextCursor(cursor)
        self.ensureCursorVisible()
        cursor.setPosition(entry.start)
        self.setTextCursor(cursor)
        self.ensureCursorVisible()
        self._moving = False

    def current(self) -> str | None:
        """The highlighted step's node id."""
        return self._current

    def _highlight(self, node_id: str) -> bool:
        entry = next((e for e in self._entries if e.node_id == node_id), None)
        if entry is None:
            self.setExtraSelections([])
            return False
        palette = self.palette()
        colour = QColor(palette.color(palette.ColorRole.Highlight))
        colour.setAlpha(40)
        selections = []
        # The header's label chip and confidence bar keep their own colours; the rest of the
        # step (from its text on) is marked across the full width.
        at, body = entry.start, None
        for text, style in entry.segments:
            end = min(at + len(text), entry.end)
            if body is None and not style.startswith(("chip", "bar")) and end > at:
                selections.append(self._selection(at, end, colour, False))
            if body is None and style == "text" and text == "\n":
                body = end
            at = end
        if body is not None and body < entry.end:
            selections.append(self._selection(body, entry.end, colour, True))
        self.setExtraSelections(selections)
        return True

    def _selection(self, start: int, end: int, colour: QColor, full: bool) -> QTextEdit.ExtraSelection:
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(colour)
        if full:
            fmt.setProperty(QTextFormat.Property.FullWidthSelection, True)
        selection.format = fmt
        return selection

    def node_at(self, position: int) -> str | None:
        """The step shown at a document position."""
        i = bisect.bisect_right(self._starts, position) - 1
        return self._entries[i].node_id if 0 <= i < len(self._entries) else None

    def _on_cursor(self) -> None:
        if self._moving:
            return
        node_id = self.node_at(self.textCursor().position())
        if node_id is not None and node_id != self._current:
            self._current = node_id
            self._highlight(node_id)
            self.step_clicked.emit(node_id)
