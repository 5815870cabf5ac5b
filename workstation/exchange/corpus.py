"""What exports and statistics read: the trees of some sessions and facts beside them.

A `ReviewSet` holds session trees plus what a tree alone does not say: which annotations are
adjudications (only the event log knows; the tree stores them as plain annotations) and the
engine's record of each chain's model (file name, SHA-256). Build one from a store with
`ReviewSet.from_store`, or from trees and event dicts with `ReviewSet.from_trees`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workstation.core.model import Node, Version
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
from workstation.exchange.result import json_str


def _escape(text: str) -> str:
    """The inside of a JSON string literal for `text` (UTF-8 kept as is, as `dumps_line` writes it)."""
    return json_str(text)[1:-1]


#: What joins the question and the earlier steps into a prompt, and steps into a completion.
#: TRL's PRMTrainer joins steps with "\n" by default, so the same default keeps them aligned.
DEFAULT_SEPARATOR = "\n"


@dataclass(frozen=True)
class ModelInfo:
    """The model behind a chain: its file name and, when the engine recorded it, SHA-256."""

    name: str
    sha256: str | None = None
    size: int | None = None


@dataclass
class ReviewSet:
    """Session trees to export or measure, with adjudications and models beside them."""

    trees: list[Tree]
    #: Annotation id -> ids of the annotations it settles, for every adjudication.
    adjudications: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Chain id -> the model that produced it.
    models: dict[str, ModelInfo] = field(default_factory=dict)

    @classmethod
    def from_trees(
        cls,
        trees: Iterable[Tree],
        events: Iterable[Mapping[str, Any]] = (),
        models: Mapping[str, ModelInfo] | None = None,
    ) -> ReviewSet:
        """A set of trees; `events` (event dicts) tell which annotations are adjudications."""
        trees = list(trees)
        found = dict(models or {})
        for tree in trees:
            for chain in tree.chains.values():
                found.setdefault(chain.id, ModelInfo(chain.model))
        return cls(trees, adjudications_from_events(events), found)

    @classmethod
    def from_store(cls, store: Any, session_ids: Sequence[str] | None = None) -> ReviewSet:
        """The sessions of a `workstation.store.Store` (every one not deleted when `session_ids` is
        None)."""
        if session_ids is None:
            session_ids = [s.id for s in store.list_sessions()]
        trees = [store.load_session(sid) for sid in session_ids]
        # Only adjudications matter here: the store reads those alone, not every event.
        events = [e.to_dict() for sid in session_ids for e in store.events(sid, types=("adjudicated",))]
        models: dict[str, ModelInfo] = {}
        for tree in trees:
            for chain in tree.chains.values():
                generation = store.generation(chain.id)
                if generation is not None:
                    models[chain.id] = ModelInfo(
                        generation.model_file or chain.model, generation.model_sha256, generation.model_size
                    )
        return cls.from_trees(trees, events, models)

    def model_of(self, tree: Tree, node: Node) -> str:
        """The model name of the chain a node belongs to ("" for typed text)."""
        if node.chain_id is None:
            return ""
        info = self.models.get(node.chain_id)
        if info is not None and info.name:
            return info.name
        chain = tree.chains.get(node.chain_id)
        return chain.model if chain is not None else ""


def adjudications_from_events(events: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Annotation id -> settled ids, for every `adjudicated` event among `events`."""
    found: dict[str, tuple[str, ...]] = {}
    for event in events:
        if event.get("type") == "adjudicated":
            payload = event.get("payload") or {}
            annotation = payload.get("annotation") or {}
            if "id" in annotation:
                found[annotation["id"]] = tuple(payload.get("settles") or ())
    return found


def chain_steps(path: Sequence[Node]) -> list[Node]:
    """The steps and answer of a path from the question (the question itself left out)."""
    return [n for n in path if n.kind in CHAIN_NODE_KINDS]


def prompt_for(tree: Tree, earlier: Sequence[Node], separator: str = DEFAULT_SEPARATOR) -> str:
    """The question followed by the current text of the earlier steps, one per separator."""
    return separator.join([tree.question.text, *(n.text for n in earlier)])


def live_chain_nodes(tree: Tree) -> list[Node]:
    """Every step and answer not in a deleted branch, in creation order."""
    return [n for n in tree.nodes.values() if n.kind in CHAIN_NODE_KINDS and not n.deleted]


def model_version(node: Node) -> Version:
    """The model's own text of a node: its first version with origin 'model' (else the first)."""
    for version in node.versions:
        if version.origin == "model":
            return version
    return node.versions[0]


class Prefixes:
    """The text of the path from the question down to a node, memoized per node.

    `before(node)` is a step's prompt: the question and the current text of every earlier step
    of its branch. Built from the parent's prefix, so a whole tree costs one pass.
    """

    def __init__(self, tree: Tree, separator: str = DEFAULT_SEPARATOR) -> None:
        self.tree = tree
        self.separator = separator
        self._memo: dict[str, str] = {tree.question_id: tree.question.text}
        self._json_memo: dict[str, str] = {}

    def through(self, node_id: str) -> str:
        """Question plus every chain node down to `node_id`, that node included."""
        memo = self._memo
        if node_id in memo:
            return memo[node_id]
        pending = []
        current: str | None = node_id
        while current is not None and current not in memo:
            pending.append(current)
            current = self.tree.nodes[current].parent_id
        text = memo[current] if current is not None else ""
        for nid in reversed(pending):
            node = self.tree.nodes[nid]
            if node.kind in CHAIN_NODE_KINDS:
                text = text + self.separator + node.text
            memo[nid] = text
        return text

    def before(self, node: Node) -> str:
        """A node's prompt: the path down to its parent."""
        return self.through(node.parent_id) if node.parent_id is not None else ""

    def json_before(self, node: Node) -> str:
        """`before(node)` as a JSON string literal, quotes included.

        Escaping is memoized per node like the text, so a deep branch does not escape its
        early steps once per later step (KTO rows repeat every earlier step in the prompt).
        """
        if node.parent_id is None:
            return '""'
        return '"' + self._escaped(node.parent_id) + '"'

    def _escaped(self, node_id: str) -> str:
        memo = self._json_memo
        if node_id in memo:
            return memo[node_id]
        pending = []
        current: str | None = node_id
        while current is not None and current not in memo:
            pending.append(current)
            current = self.tree.nodes[current].parent_id
        text = memo[current] if current is not None else ""
        for nid in reversed(pending):
            node = self.tree.nodes[nid]
            if nid == self.tree.question_id:
                text = _escape(node.text)
            elif node.kind in CHAIN_NODE_KINDS:
                text = text + _escape(self.separator + node.text)
            memo[nid] = text
        return text


def continuation(tree: Tree, node: Node) -> list[Node]:
    """`node` and the branch below it, following preferred (else shown) alternatives."""
    out = [node]
    while True:
        nxt = tree.preferred_child(out[-1].id) or tree.shown_child(out[-1].id)
        if nxt is None:
            return out
        out.append(nxt)
