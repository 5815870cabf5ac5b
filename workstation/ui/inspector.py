"""The step inspector: a step's text, rewrite with a diff, version history, and annotation.

Widgets only: the buttons are bound to the main window's actions, which call the review use
cases. Every text view is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from workstation.core.model import Node
    from workstation.core.tree import Tree
from workstation.ui.highlight import CodeHighlighter
from workstation.ui.tree_model import LABEL_WORDS


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # model output and ids are text, never markup
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


#: Qt's word wrap takes minutes over a long run without a space (a 1 MB line: about three, the
#: window frozen); text holding such a run wraps anywhere instead, which takes about a second.
_UNBROKEN = re.compile(r"\S{2000}")


def _fit_wrap(view: QPlainTextEdit, text: str) -> None:
    """Choose how `view` wraps before it shows `text` (see _UNBROKEN)."""
    wrap = QTextOption.WrapMode
    mode = wrap.WrapAnywhere if _UNBROKEN.search(text) else wrap.WrapAtWordBoundaryOrAnywhere
    if view.wordWrapMode() != mode:
        view.setWordWrapMode(mode)


def set_plain(view: QPlainTextEdit, text: str) -> None:
    """Show `text` in `view` as plain text, wrapped in a way that stays fast.

    The wrap mode changes while the view holds the shorter text: switching a view that holds
    a megabyte line back to word wrap would lay that line out the slow way first.
    """
    if _UNBROKEN.search(text):
        _fit_wrap(view, text)
        view.setPlainText(text)
    else:
        view.setPlainText(text)
        _fit_wrap(view, text)


#: Read-only views show at most this much of a text: Qt lays a paragraph out whole, so a 1 MB
#: step would cost seconds on every resize. The rest is said to be there (and is kept, rewritten
#: from and exported in full).
SHOWN_LIMIT = 100_000


def shown_text(text: str) -> str:
    """`text` as a read-only view shows it: whole, or its first SHOWN_LIMIT characters and a note."""
    if len(text) <= SHOWN_LIMIT:
        return text
    rest = len(text) - SHOWN_LIMIT
    return text[:SHOWN_LIMIT] + f"\n\n[… {rest:,} more characters are not shown here; the full text is kept]"


def _button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


class _EscapeToChain(QObject):
    """Esc in a review field returns to the chain; it takes Esc from the window's shortcuts
    (Stop) only while the field has focus, so a second Esc, from the tree, stops the model."""

    def __init__(self, escaped: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._escaped = escaped

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            key = event.key() if isinstance(event, QKeyEvent) else None
            if key == Qt.Key.Key_Escape:
                event.accept()
                if event.type() == QEvent.Type.KeyPress:
                    self._escaped()
                return event.type() == QEvent.Type.KeyPress
        return False


class StepInspector(QWidget):
    """Everything about the selected step; emits `commit_rewrite` on Ctrl+Enter, `edited` when
    the reviewer changes the note, tags or severity, `escaped` on Esc in one of them."""

    commit_rewrite = Signal(str)
    #: The reviewer changed the note, tags or severity of the node shown (not a load).
    edited = Signal()
    #: Esc in the note, tags or severity: back to the chain.
    escaped = Signal()

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.node: Node | None = None
        self.tree: Tree | None = None
        self.reviewer_id = ""
        self._loaded_note: tuple[str, str, str | None] = ("", "", None)
        self._loading = False  # show_node is filling the fields: not an edit
        #: Model file name -> the name the window shows for it (from discovery).
        self.model_names: dict[str, str] = {}

        self.header = _plain_label("Select a step to inspect it.")
        self.header.setObjectName("inspectorHeader")
        self.flags = _plain_label()
        self.flags.setObjectName("inspectorFlags")

        self.text = QPlainTextEdit()
        self.text.setObjectName("stepText")
        self.text.setReadOnly(True)
        self.highlighter = CodeHighlighter(self.text.document())

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("rewriteEditor")
        self.editor.setPlaceholderText("Rewrite the step here; Ctrl+Enter saves it as a new version.")
        self.editor_highlighter = CodeHighlighter(self.editor.document())
        self.diff = QPlainTextEdit()
        self.diff.setObjectName("rewriteDiff")
        self.diff.setReadOnly(True)
        self._diff_timer = QTimer(self)
        self._diff_timer.setSingleShot(True)
        self._diff_timer.setInterval(150)
        self._diff_timer.timeout.connect(self._update_diff)
        self.editor.textChanged.connect(self._diff_timer.start)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self.editor)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda: self.commit_rewrite.emit(self.editor.toPlainText()))
        rewrite_page = QWidget()
        rewrite_layout = QVBoxLayout(rewrite_page)
        rewrite_layout.addWidget(self.editor, 3)
        rewrite_layout.addWidget(_plain_label("Changes against the original:"))
        rewrite_layout.addWidget(self.diff, 2)
        rewrite_layout.addWidget(_button(actions["commit_rewrite"]))

        self.versions = QListWidget()
        self.versions.setObjectName("versionList")
        self.version_text = QPlainTextEdit()
        self.version_text.setReadOnly(True)
        self.versions.currentItemChanged.connect(self._show_version)
        versions_page = QSplitter(Qt.Orientation.Vertical)
        versions_page.addWidget(self.versions)
        versions_page.addWidget(self.version_text)

        self.tabs = QTabWidget()
        self.tabs.setMinimumHeight(110)
        self.tabs.addTab(self.text, "Text")
        self.tabs.addTab(rewrite_page, "Rewrite")
        self.tabs.addTab(versions_page, "Versions")

        self.alternative_label = _plain_label()
        alternatives = QHBoxLayout()
        for name in ("previous_alternative", "next_alternative"):
            alternatives.addWidget(_button(actions[name]))
        alternatives.addWidget(self.alternative_label, 1)
        for name in ("prefer", "compare"):
            alternatives.addWidget(_button(actions[name]))

        model_actions = QVBoxLayout()
        for names in (("regenerate", "regenerate_with_note"), ("continue_after", "delete_branch"), ("challenge", "ask")):
            row = QHBoxLayout()
            for name in names:
                row.addWidget(_button(actions[name]))
            row.addStretch(1)
            model_actions.addLayout(row)

        self.severity = QComboBox()
        self.severity.setObjectName("severity")
        self.severity.addItem("(none)", "")  # never None as item data (see delegates.py)
        self.tags = QLineEdit()
        self.tags.setObjectName("tags")
        self.tags.setPlaceholderText("comma-separated, e.g. arithmetic error, unclear")
        self.note = QPlainTextEdit()
        self.note.setObjectName("note")
        self.note.setPlaceholderText("A note (also the critique for 'Regenerate with note')")
        self.note.setMaximumHeight(64)
        labels = QHBoxLayout()
        for name in ("label_wrong", "label_neutral", "label_right"):
            labels.addWidget(_button(actions[name]))
        labels.addStretch(1)
        labels.addWidget(_button(actions["save_annotation"]))
        self.note.textChanged.connect(self._on_edited)
        self.tags.textChanged.connect(self._on_edited)
        self.severity.currentIndexChanged.connect(self._on_edited)
        self._escape = _EscapeToChain(self.escaped.emit, self)
        for field in (self.note, self.tags, self.severity):
            field.installEventFilter(self._escape)
        self.my_label = _plain_label()
        annotation = QGroupBox("Your review")
        form = QFormLayout(annotation)
        form.addRow("Label", labels)
        form.addRow("", self.my_label)
        form.addRow("Severity", self.severity)
        form.addRow("Tags", self.tags)
        form.addRow("Note", self.note)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.flags)
        layout.addLayout(alternatives)
        layout.addLayout(model_actions)
        layout.addWidget(annotation)

    def set_tag_vocabulary(self, tags: list[str]) -> None:
        """Offer these tags while typing (and the severities, once the core is loaded)."""
        from workstation.core.model import SEVERITIES

        if self.severity.count() == 1:
            for severity in SEVERITIES:
                self.severity.addItem(severity, severity)
        completer = QCompleter(tags, self.tags)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.tags.setCompleter(completer)

    # -- showing ------------------------------------------------------------------------------

    def show_node(self, tree: Tree | None, node: Node | None) -> None:
        """Show a node of a tree (a private copy); keeps unsaved edits when it is the same node."""
        same = node is not None and self.node is not None and node.id == self.node.id
        previous = self.node
        self.tree, self.node = tree, node
        if node is None or tree is None:
            self._loading = True  # clearing is not an edit (what was typed is already saved)
            self.note.setPlainText("")
            self.tags.setText("")
            self.severity.setCurrentIndex(0)
            self._loading = False
            self._loaded_note = ("", "", None)
            self.header.setText("Select a step to inspect it.")
            for view in (self.text, self.diff, self.version_text):
                view.setPlainText("")
            self.editor.setPlainText("")
            self.versions.clear()
            self.flags.setText("")
            self.alternative_label.setText("")
            self.my_label.setText("")
            return
        version = node.current
        kind = {"question": "Question", "answer": "Answer", "challenge": "Challenge", "reply": "Reply"}.get(
            node.kind, f"Step {node.position}"
        )
        origin = {"model": "written by the model", "rewrite": f"rewritten by {version.author}",
                  "reviewer": f"typed by {version.author}"}[version.origin]
        chain = tree.chains.get(node.chain_id) if node.chain_id else None
        model = f" · {self.model_names.get(chain.model, chain.model)}" if chain and chain.model else ""
        tokens = f" · {version.token_count} tokens" if version.token_count else ""
        self.header.setText(f"{kind} · {origin}{model}{tokens} · id {node.id[:10]}")
        if self.text.toPlainText() != shown_text(version.text):
            set_plain(self.text, shown_text(version.text))
        editor_untouched = previous is None or self.editor.toPlainText() == previous.text
        if not same or editor_untouched:
            set_plain(self.editor, version.text)
        self._update_diff()
        self.flags.setText(
            "\n".join(f"⚠ {f.check}: {f.message}" if f.severity == "warning" else f"ℹ {f.check}: {f.message}"
                      for f in version.flags)
        )
        self.versions.clear()
        for i, v in enumerate(node.versions, 1):
            current = " (current)" if v.id == node.current_version_id else ""
            item = QListWidgetItem(f"{i}. {v.origin} by {v.author}, {v.created_at[:19].replace('T', ' ')}{current}")
            item.setData(Qt.ItemDataRole.UserRole, v.text)
            self.versions.addItem(item)
        self.versions.setCurrentRow(len(node.versions) - 1)
        options = tree.alternatives(node.id)
        if len(options) > 1:
            position = next(i for i, n in enumerate(options) if n.id == node.id) + 1
            preferred = node.parent_id is not None and tree.preferred.get(node.parent_id) == node.id
            self.alternative_label.setText(
                f"Alternative {position} of {len(options)}" + (" · preferred" if preferred else "")
            )
        else:
            self.alternative_label.setText("No alternatives yet")
        mine = tree.current_annotations(node.id).get(self.reviewer_id)
        loaded = (mine.note, ", ".join(mine.tags), mine.severity) if mine else ("", "", None)
        if not same or self._note_values() == self._loaded_note:
            self._loading = True
            try:
                if self.note.toPlainText() != loaded[0]:
                    set_plain(self.note, loaded[0])
                if self.tags.text() != loaded[1]:
                    self.tags.setText(loaded[1])
                self.severity.setCurrentIndex(max(0, self.severity.findData(loaded[2] or "")))
            finally:
                self._loading = False
        self._loaded_note = loaded
        # A label belongs to the version it was given on (as exports and the Team view count it).
        current = node.current_version_id
        others = [
            f"{rid}: {LABEL_WORDS[a.label]}" for rid, a in tree.current_annotations(node.id).items()
            if a.label is not None and rid != self.reviewer_id and a.version_id == current
        ]
        if mine is not None and mine.label is not None and mine.version_id == current:
            own = f"Your label: {LABEL_WORDS[mine.label]}"
        elif mine is not None and mine.label is not None:
            own = f"Not labelled by you since the rewrite (you said {LABEL_WORDS[mine.label]} on an earlier version)"
        else:
            own = "Not labelled by you"
        self.my_label.setText(own + (f" · others: {', '.join(others)}" if others else ""))

    def _on_edited(self) -> None:
        if not self._loading and self.node is not None:
            self.edited.emit()

    def cycle_severity(self) -> None:
        """Choose the next severity ((none) after the last): one key per step."""
        if self.severity.count():
            self.severity.setCurrentIndex((self.severity.currentIndex() + 1) % self.severity.count())

    def _note_values(self) -> tuple[str, str, str | None]:
        return self.note.toPlainText(), self.tags.text(), self.severity.currentData() or None

    def annotation_values(self) -> tuple[str, tuple[str, ...], str | None]:
        """(note, tags, severity) as typed."""
        tags = tuple(t.strip() for t in self.tags.text().split(",") if t.strip())
        return self.note.toPlainText().strip(), tags, self.severity.currentData() or None

    def _update_diff(self) -> None:
        if self.node is None:
            self.diff.setPlainText("")
            return
        from workstation.ui.compare import show_inline_diff  # difflib: loaded when first needed

        old, new = shown_text(self.node.original.text), shown_text(self.editor.toPlainText())
        self.diff.clear()  # before the wrap mode changes (see set_plain)
        _fit_wrap(self.diff, old + new)
        show_inline_diff(self.diff, old, new)

    def _show_version(self, item: QListWidgetItem | None) -> None:
        set_plain(self.version_text, shown_text(item.data(Qt.ItemDataRole.UserRole)) if item else "")

    def refresh_style(self) -> None:
        """Follow a palette change (light/dark) in highlighted code and diffs."""
        self.highlighter.refresh_style()
        self.editor_highlighter.refresh_style()
        self._update_diff()
