"""The reasoning tree as a Qt item model: an adapter over a private copy of the core `Tree`.

Rows at the top level are the shown branch: the question, then each step down to the answer.
Below a step hang the challenges asked about it, and below a challenge the model's replies.
Alternatives are not rows of their own: a step says how many it has, and switching shows
another branch (the rows below that step are replaced).

While the model writes, *stream rows* (`StreamRow` items, not nodes) stand for the steps so far;
the committed tree replaces them when the generation ends. Updates compare the rows there are
with the rows wanted and emit begin/end insert/remove rows for the difference (the napari
pattern), so selection and expansion survive a new snapshot.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from workstation.ui.icons import flag_icon

if TYPE_CHECKING:
    from workstation.core.model import Node
    from workstation.core.tree import Tree

COL_STEP, COL_LABEL, COL_FLAGS, COL_CONFIDENCE, COL_ALTERNATIVES = range(5)
HEADERS = ("Step", "Label", "Flags", "Conf.", "Alt.")
#: The full names, as the headers' tooltips (the numeric columns are kept narrow).
HEADER_TIPS = ("The step (its full text reads in the pane below)", "Your label and others'", "Automated checks",
               "Confidence: the model's typical token probability", "Alternatives of this step (★: preferred)")

NodeIdRole = Qt.ItemDataRole.UserRole + 1
#: (mean token probability 0..1, lowest token probability 0..1 or None, token count) or None.
ConfidenceRole = Qt.ItemDataRole.UserRole + 2
KindRole = Qt.ItemDataRole.UserRole + 3
#: Highest flag severity of a step: "warning", "info" or "".
FlagRole = Qt.ItemDataRole.UserRole + 4
#: The step's consensus label: -1, 0, 1 or None.
LabelRole = Qt.ItemDataRole.UserRole + 5

LABEL_WORDS = {-1: "✗ wrong", 0: "– neutral", 1: "✓ right"}
#: What the flags column calls each check ("low_confidence" was cut to "low_confi…").
FLAG_WORDS = {"low_confidence": "unsure", "python_syntax": "syntax", "arithmetic": "arithmetic",
              "repetition": "repeats"}
KIND_PREFIX = {"question": "Q", "answer": "A", "challenge": "Asked", "reply": "Reply"}

Index = QModelIndex | QPersistentModelIndex
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


@dataclass(frozen=True)
class StreamRow:
    """A row the model is still writing: the `index`-th step of the stream so far."""

    index: int


#: What a row shows: a node of the tree (its id) or a step being written.
RowRef = str | StreamRow


class _Item:
    __slots__ = ("key", "parent", "children", "ref")

    def __init__(self, key: int, parent: _Item | None, ref: RowRef) -> None:
        self.key = key
        self.parent = parent
        self.children: list[_Item] = []
        self.ref = ref

    def row(self) -> int:
        assert self.parent is not None
        return self.parent.children.index(self)


@dataclass(frozen=True)
class StreamAnchor:
    """Where stream rows go: after `node_id` on the top level (a chain), or below it (a reply)."""

    node_id: str
    below: bool = False


def plain_tooltip(text: str | None) -> str | None:
    """A tooltip that shows `text` literally.

    Qt renders a tooltip as rich text whenever it looks like markup (`Qt.mightBeRichText`), so a
    step saying `<img src=...>` or `<b>` would be drawn, not shown; escaped inside a paragraph
    it is always text.
    """
    if not text:
        return None
    # Qt's rich text breaks a line at CR and again at LF: a Windows line end is one break.
    text = text.replace("\r\n", "\n")
    return f'<p style="white-space:pre-wrap">{html.escape(text, quote=False)}</p>'


def one_line(text: str, limit: int = 240) -> str:
    """The text on one line (rows show a summary; the inspector shows all of it)."""
    # Only the start is read: rows are painted often, and a step may be a megabyte long.
    head = text if len(text) <= limit * 8 else text[: limit * 8]
    flat = " ".join(head.split())
    if len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat if head is text else flat + "…"


def label_summary(labels: list[int]) -> tuple[str, int | None]:
    """What a row shows for the current labels of every reviewer, and the label they agree on."""
    if not labels:
        return "", None
    if len(set(labels)) == 1:
        word = LABEL_WORDS[labels[0]]
        return (word if len(labels) == 1 else f"{word} ×{len(labels)}"), labels[0]
    counts = [f"{LABEL_WORDS[v].split()[0]}{labels.count(v)}" for v in (1, 0, -1) if v in labels]
    return " ".join(counts), None


#: What one role of one cell holds, as `data()` hands it to Qt in a QVariant: text, a font, an
#: icon, a number or tuple for our own roles, or None.
CellValue = object


class ReasoningTreeModel(QAbstractItemModel):
    """Adapts a session's tree (a private copy) to a QTreeView.

    `headerData` and `data` give Any, as PySide6's stubs declare a QVariant; the cells' own
    helpers say `CellValue`.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = _Item(0, None, "")
        self._items: dict[int, _Item] = {0: self._root}
        self._next_key = 1
        self.tree: Tree | None = None
        self._stream_texts: list[str] = []
        self._anchor: StreamAnchor | None = None

    # -- feeding ---------------------------------------------------------------------------

    def set_tree(self, tree: Tree | None) -> None:
        """Show a tree (a copy nobody changes); rows that stay keep their selection."""
        if tree is None or self.tree is None or tree.session.id != self.tree.session.id:
            self.beginResetModel()
            self._root.children = []
            self._items = {0: self._root}
            self.tree = tree
            if tree is None:
                self._anchor, self._stream_texts = None, []
            self.endResetModel()
        else:
            self.tree = tree
        self._sync(self._root, QModelIndex(), self._wanted(self._root), recurse=True)

    def begin_stream(self, anchor: StreamAnchor) -> None:
        """Rows for a generation starting: replaces what is below the anchor on its branch."""
        self._anchor = anchor
        self._stream_texts = []
        self._sync_stream_parent()

    def update_stream(self, texts: list[str]) -> None:
        """The steps written so far (the last one may be unfinished)."""
        if self._anchor is None:
            return
        grew = len(texts) != len(self._stream_texts)
        self._stream_texts = list(texts)
        if grew:
            self._sync_stream_parent()
        parent = self._stream_parent()
        if parent is None or not texts:
            return
        rows = [i for i, c in enumerate(parent.children) if isinstance(c.ref, StreamRow)]
        if rows:
            parent_index = self._index_of(parent)
            self.dataChanged.emit(
                self.index(rows[0], 0, parent_index), self.index(rows[-1], len(HEADERS) - 1, parent_index)
            )

    def end_stream(self) -> None:
        """The generation ended: its stream rows go (the committed steps come with the tree)."""
        parent = self._stream_parent()
        self._anchor = None
        self._stream_texts = []
        if parent is not None:
            self._sync(parent, self._index_of(parent), self._wanted(parent), recurse=True)

    @property
    def streaming(self) -> bool:
        """Whether stream rows are shown."""
        return self._anchor is not None

    # -- what rows are wanted --------------------------------------------------------------

    def _stream_rows(self) -> list[RowRef]:
        return [StreamRow(i) for i in range(len(self._stream_texts))]

    def _wanted(self, item: _Item) -> list[RowRef]:
        tree, anchor = self.tree, self._anchor
        if tree is None or isinstance(item.ref, StreamRow):
            return []
        ids: list[RowRef]
        if item is self._root:
            ids = [n.id for n in tree.shown_path()]
            if anchor is not None and not anchor.below:
                if anchor.node_id in ids:
                    ids = ids[: ids.index(anchor.node_id) + 1]
                ids += self._stream_rows()
            return ids
        node = tree.nodes.get(item.ref)
        if node is None:
            return []
        if node.kind == "challenge":
            ids = [n.id for n in tree.replies(node.id)]
        elif node.kind in ("step", "answer", "question"):
            ids = [n.id for n in tree.challenges(node.id)]
        else:
            ids = []
        if anchor is not None and anchor.below and anchor.node_id == node.id:
            ids += self._stream_rows()
        return ids

    def _stream_parent(self) -> _Item | None:
        if self._anchor is None:
            return None
        if not self._anchor.below:
            return self._root
        return self._find(self._root, self._anchor.node_id)

    def _find(self, item: _Item, node_id: str) -> _Item | None:
        for child in item.children:
            if child.ref == node_id:
                return child
            found = self._find(child, node_id) if child.children else None
            if found is not None:
                return found
        return None

    def _sync_stream_parent(self) -> None:
        parent = self._stream_parent()
        if parent is not None:
            self._sync(parent, self._index_of(parent), self._wanted(parent), recurse=False)

    def _index_of(self, item: _Item) -> QModelIndex:
        if item is self._root:
            return QModelIndex()
        return self.createIndex(item.row(), 0, item.key)

    def _sync(self, item: _Item, index: QModelIndex, wanted: list[RowRef], *, recurse: bool) -> None:
        have = [c.ref for c in item.children]
        keep = 0
        while keep < len(have) and keep < len(wanted) and have[keep] == wanted[keep]:
            keep += 1
        if keep < len(have):
            self.beginRemoveRows(index, keep, len(have) - 1)
            for gone in item.children[keep:]:
                self._forget(gone)
            del item.children[keep:]
            self.endRemoveRows()
        if keep < len(wanted):
            self.beginInsertRows(index, keep, len(wanted) - 1)
            for ref in wanted[keep:]:
                child = _Item(self._next_key, item, ref)
                self._next_key += 1
                self._items[child.key] = child
                item.children.append(child)
            self.endInsertRows()
        if keep:
            self.dataChanged.emit(self.index(0, 0, index), self.index(keep - 1, len(HEADERS) - 1, index))
        if recurse:
            for row, child in enumerate(item.children):
                wanted_below = self._wanted(child)
                if wanted_below or child.children:
                    self._sync(child, self.index(row, 0, index), wanted_below, recurse=True)

    def _forget(self, item: _Item) -> None:
        self._items.pop(item.key, None)
        for child in item.children:
            self._forget(child)

    # -- QAbstractItemModel --------------------------------------------------------------------

    def _item(self, index: Index) -> _Item:
        if not index.isValid():
            return self._root
        return self._items.get(index.internalId(), self._root)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if column < 0 or column >= len(HEADERS) or row < 0:
            return QModelIndex()
        if parent.isValid() and parent.column() != 0:
            return QModelIndex()
        item = self._item(parent)
        if row >= len(item.children):
            return QModelIndex()
        return self.createIndex(row, column, item.children[row].key)

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        item = self._item(index)
        parent = item.parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row(), 0, parent.key)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._item(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return len(HEADERS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802
        return self.rowCount(parent) > 0

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(HEADERS):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return HEADER_TIPS[section]
        return None

    def parents(self) -> list[QModelIndex]:
        """Every row that has rows below it (challenges, replies): what to expand."""
        found: list[QModelIndex] = []
        stack = [self._root]
        while stack:
            item = stack.pop()
            for row, child in enumerate(item.children):
                if child.children:
                    found.append(self.createIndex(row, 0, child.key))
                    stack.append(child)
        return found

    def node(self, index: Index) -> Node | None:
        """The core node of a row (None for a stream row or no row)."""
        if self.tree is None or not index.isValid():
            return None
        ref = self._item(index).ref
        return self.tree.nodes.get(ref) if isinstance(ref, str) else None

    def stream_position(self, index: Index) -> int | None:
        """Which step of the stream a row being written shows (None for any other row)."""
        ref = self._item(index).ref if index.isValid() else None
        return ref.index if isinstance(ref, StreamRow) else None

    def index_of_node(self, node_id: str, column: int = 0) -> QModelIndex:
        """The row showing a node, or an invalid index."""
        item = self._find(self._root, node_id)
        if item is None:
            return QModelIndex()
        return self.createIndex(item.row(), column, item.key)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.tree is None:
            return None
        item = self._item(index)
        if item is self._root:
            return None
        column = index.column()
        if isinstance(item.ref, StreamRow):
            return self._stream_data(item.ref, column, role)
        node = self.tree.nodes.get(item.ref)
        if node is None:
            return None
        if role == NodeIdRole:
            return node.id
        if role == KindRole:
            return node.kind
        if column == COL_STEP:
            return self._step_data(node, role)
        if column == COL_LABEL:
            return self._label_data(node, role)
        if column == COL_FLAGS:
            return self._flag_data(node, role)
        if column == COL_CONFIDENCE:
            return self._confidence_data(node, role)
        if column == COL_ALTERNATIVES:
            return self._alternatives_data(node, role)
        return None

    # -- cells ----------------------------------------------------------------------------

    def _stream_data(self, row: StreamRow, column: int, role: int) -> CellValue:
        i = row.index
        text = self._stream_texts[i] if i < len(self._stream_texts) else ""
        if role == KindRole:
            return "stream"
        if column != COL_STEP:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return one_line(text) or "…"
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return "the model is writing this step"
        return None

    def _step_data(self, node: Node, role: int) -> CellValue:
        if role == Qt.ItemDataRole.DisplayRole:
            prefix = KIND_PREFIX.get(node.kind, str(node.position))
            edited = " ✎" if node.current.origin == "rewrite" else ""
            return f"{prefix}{edited}  {one_line(node.text)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(node.text[:2000])
        if role == Qt.ItemDataRole.FontRole and node.kind in ("question", "answer"):
            font = QFont()
            font.setBold(True)
            return font
        return None

    def _labels(self, node: Node) -> list[int]:
        assert self.tree is not None
        # A label belongs to the version it was given on: a rewrite starts unlabelled.
        return [a.label for a in self.tree.current_annotations(node.id).values()
                if a.label is not None and a.version_id == node.current_version_id]

    def _label_data(self, node: Node, role: int) -> CellValue:
        if node.kind == "question":
            return None
        text, agreed = label_summary(self._labels(node))
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == LabelRole:
            return agreed
        if role == Qt.ItemDataRole.ToolTipRole:
            assert self.tree is not None
            notes = [
                f"{reviewer}: {LABEL_WORDS.get(a.label, 'no label') if a.label is not None else 'no label'}"
                + (" on an earlier version" if a.version_id != node.current_version_id else "")
                + (f" ({a.severity})" if a.severity else "")
                + (f" [{', '.join(a.tags)}]" if a.tags else "")
                + (f" — {one_line(a.note, 120)}" if a.note else "")
                for reviewer, a in self.tree.current_annotations(node.id).items()
            ]
            return plain_tooltip("\n".join(notes))
        return None

    def _flag_data(self, node: Node, role: int) -> CellValue:
        flags = node.current.flags
        if not flags:
            return None
        if role == Qt.ItemDataRole.DisplayRole:  # short words: the column is narrow (the tooltip says all)
            return ", ".join(sorted({FLAG_WORDS.get(f.check, f.check) for f in flags}))
        if role == FlagRole:
            return "warning" if any(f.severity == "warning" for f in flags) else "info"
        if role == Qt.ItemDataRole.DecorationRole:
            return flag_icon("warning" if any(f.severity == "warning" for f in flags) else "info")
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip("\n".join(f"{f.check} ({f.severity}): {f.message}" for f in flags))
        return None

    def _confidence_data(self, node: Node, role: int) -> CellValue:
        version = node.current
        if version.mean_logprob is None:
            if role == Qt.ItemDataRole.ToolTipRole and version.origin != "model":
                return "written by a reviewer: no model confidence"
            return None
        mean_p = math.exp(version.mean_logprob)
        if role == ConfidenceRole:
            return (mean_p, version.min_token_prob, version.token_count)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{mean_p:.0%}"
        if role == Qt.ItemDataRole.ToolTipRole:
            lowest = f", lowest token probability {version.min_token_prob:.2f}" if version.min_token_prob is not None else ""
            count = f" over {version.token_count} tokens" if version.token_count else ""
            return (
                f"mean token log-probability {version.mean_logprob:.2f} "
                f"(typical token probability {mean_p:.0%}){lowest}{count}"
            )
        return None

    def _alternatives_data(self, node: Node, role: int) -> CellValue:
        assert self.tree is not None
        if node.kind not in ("step", "answer"):
            return None
        options = self.tree.alternatives(node.id)
        preferred = node.parent_id is not None and self.tree.preferred.get(node.parent_id) == node.id
        if role == Qt.ItemDataRole.DisplayRole:
            star = "★ " if preferred else ""
            if len(options) < 2:
                return star.strip() or None
            position = next((i for i, n in enumerate(options) if n.id == node.id), 0) + 1
            return f"{star}{position}/{len(options)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"{len(options)} alternatives for this step; [ and ] switch between them" if len(options) > 1 else ""
            if preferred:
                text = ("preferred branch. " + text).strip()
            return text or None
        return None
