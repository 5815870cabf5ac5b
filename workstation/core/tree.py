"""The review tree of one session: read-only queries here, changes only through `core.ops`.

The question is the root. A chain of model steps hangs below it, each step the parent of the
next; regenerating from step k adds a sibling of step k (an alternative, as in PRM800K's
per-step completions) with its own steps below. A challenge is a child of the step it asks
about and the model's reply a child of the challenge; they are never part of the chain that
prompts continue from. For every parent the tree remembers which alternative is shown and which
one a reviewer marked as preferred.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice

from workstation.core.jsontypes import JSONObject
from workstation.core.model import Annotation, Chain, Node, SchemaError, Session
from workstation.errors import BadInputError

#: Node kinds that make up a chain of reasoning (what prompts continue and exports contain).
CHAIN_NODE_KINDS = ("step", "answer")


class UnknownIdError(BadInputError):
    """An id names no node, chain or annotation of this session."""


class DeletedNodeError(BadInputError):
    """A change was asked of a node in a deleted branch."""


class Tree:
    """All nodes, chains and annotations of one session, and the shown/preferred choices.

    The dicts are in insertion order, which is creation order; treat them as read-only and
    change the tree with `workstation.core.ops.apply` so that every change is an event.
    """

    def __init__(self, session: Session, question: Node) -> None:
        self.session = session
        self.nodes: dict[str, Node] = {question.id: question}
        self.chains: dict[str, Chain] = {}
        self.annotations: dict[str, Annotation] = {}
        #: parent node id -> id of the child alternative shown (absent: the first one).
        self.shown: dict[str, str] = {}
        #: parent node id -> id of the child alternative a reviewer prefers.
        self.preferred: dict[str, str] = {}
        self.question_id = question.id
        # Children per parent, in creation order, kept beside `nodes` for cheap walks.
        self._children: dict[str, list[str]] = {question.id: []}
        # Annotation ids per node, built lazily from `annotations` (see _annotation_ids).
        self._by_node: dict[str, list[str]] = {}
        self._indexed = 0

    # -- lookups -----------------------------------------------------------------------

    @property
    def question(self) -> Node:
        """The root node holding the question."""
        return self.nodes[self.question_id]

    def node(self, node_id: str) -> Node:
        """The node with this id; raises UnknownIdError naming it otherwise."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UnknownIdError(f"no step with id '{node_id}' in session {self.session.id}") from None

    def live_node(self, node_id: str) -> Node:
        """The node with this id if it is not in a deleted branch; raises otherwise.

        What a reviewer may change; operations themselves accept deleted nodes so that a
        teammate's events about them still merge.
        """
        node = self.node(node_id)
        if node.deleted:
            raise DeletedNodeError(f"{node.kind} {node_id} is in a deleted branch; undo the deletion first")
        return node

    def chain(self, chain_id: str) -> Chain:
        """The chain with this id; raises UnknownIdError otherwise."""
        try:
            return self.chains[chain_id]
        except KeyError:
            raise UnknownIdError(f"no chain with id '{chain_id}' in session {self.session.id}") from None

    def annotation(self, annotation_id: str) -> Annotation:
        """The annotation with this id; raises UnknownIdError otherwise."""
        try:
            return self.annotations[annotation_id]
        except KeyError:
            raise UnknownIdError(f"no annotation with id '{annotation_id}' in session {self.session.id}") from None

    def find(self, prefix: str) -> Node:
        """The node whose id starts with `prefix` (for short ids typed on the command line)."""
        if prefix in self.nodes:
            return self.nodes[prefix]
        matches = [n for n in self.nodes.values() if n.id.startswith(prefix)] if prefix else []
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownIdError(f"no step with id '{prefix}' in session {self.session.id}")
        raise UnknownIdError(f"'{prefix}' matches {len(matches)} steps; give more of the id")

    # -- structure ---------------------------------------------------------------------

    def children(
        self, node_id: str, kinds: Iterable[str] | None = None, include_deleted: bool = False
    ) -> list[Node]:
        """The children of a node in creation order, optionally only of some kinds."""
        wanted = tuple(kinds) if kinds is not None else None
        out = []
        for child_id in self._children.get(node_id, ()):
            child = self.nodes[child_id]
            if (include_deleted or not child.deleted) and (wanted is None or child.kind in wanted):
                out.append(child)
        return out

    def alternatives(self, node_id: str, include_deleted: bool = False) -> list[Node]:
        """A chain node and its sibling alternatives (same parent), in creation order."""
        node = self.node(node_id)
        if node.parent_id is None or node.kind not in CHAIN_NODE_KINDS:
            return [node]
        return self.children(node.parent_id, CHAIN_NODE_KINDS, include_deleted)

    def challenges(self, node_id: str, include_deleted: bool = False) -> list[Node]:
        """The challenges asked about a node."""
        return self.children(node_id, ("challenge",), include_deleted)

    def replies(self, challenge_id: str, include_deleted: bool = False) -> list[Node]:
        """The model's replies to a challenge."""
        return self.children(challenge_id, ("reply",), include_deleted)

    def shown_child(self, parent_id: str) -> Node | None:
        """The alternative shown below `parent_id`: the chosen one, else the first one."""
        options = self.children(parent_id, CHAIN_NODE_KINDS)
        chosen = self.shown.get(parent_id)
        for child in options:
            if child.id == chosen:
                return child
        return options[0] if options else None

    def preferred_child(self, parent_id: str) -> Node | None:
        """The alternative a reviewer marked as preferred below `parent_id`, if any."""
        chosen = self.preferred.get(parent_id)
        if chosen is None or chosen not in self.nodes or self.nodes[chosen].deleted:
            return None
        return self.nodes[chosen]

    def _walk(self, pick: Callable[[str], Node | None]) -> list[Node]:
        path = [self.question]
        while (child := pick(path[-1].id)) is not None:
            path.append(child)
        return path

    def shown_path(self) -> list[Node]:
        """Question, then the shown alternative at every step down to the end of the chain."""
        return self._walk(self.shown_child)

    def preferred_path(self) -> list[Node]:
        """Question, then the preferred alternative at every step (the shown one where no
        preference was marked): the branch that exports use."""
        return self._walk(lambda pid: self.preferred_child(pid) or self.shown_child(pid))

    def path_to(self, node_id: str) -> list[Node]:
        """The nodes from the question down to `node_id`, both included."""
        path = [self.node(node_id)]
        while path[-1].parent_id is not None:
            path.append(self.nodes[path[-1].parent_id])
        path.reverse()
        return path

    def steps_to(self, node_id: str) -> list[Node]:
        """The chain nodes (steps, answer) from step 1 down to `node_id`, both included.

        For a challenge or reply this is the chain down to the step it is about: a challenge's
        context is the steps 1..k of the branch it was asked on.
        """
        return [n for n in self.path_to(node_id) if n.kind in CHAIN_NODE_KINDS]

    def subtree(self, node_id: str, include_deleted: bool = True) -> list[Node]:
        """`node_id` and all its descendants, parents before children."""
        out = [self.node(node_id)]
        i = 0
        while i < len(out):
            out.extend(self.children(out[i].id, include_deleted=include_deleted))
            i += 1
        return out

    # -- annotations -------------------------------------------------------------------

    def _annotation_ids(self, node_id: str) -> list[str]:
        # Annotations are only ever added (retracting replaces an entry in place), so the index
        # catches up by reading just the entries added since it was last brought up to date;
        # exports that ask about every node of 100,000 stay linear.
        count = len(self.annotations)
        if count < self._indexed:
            self._by_node, self._indexed = {}, 0
        if count != self._indexed:
            for a in islice(self.annotations.values(), self._indexed, None):
                self._by_node.setdefault(a.node_id, []).append(a.id)
            self._indexed = count
        return self._by_node.get(node_id, [])

    def annotations_for(self, node_id: str, include_retracted: bool = False) -> list[Annotation]:
        """Every annotation on a node (every reviewer, every version), oldest first."""
        found = (self.annotations[i] for i in self._annotation_ids(node_id))
        return [a for a in found if include_retracted or not a.retracted]

    def current_annotations(self, node_id: str) -> dict[str, Annotation]:
        """Each reviewer's latest annotation on a node: reviewer id -> annotation.

        Reviewers never overwrite each other; a reviewer's newer annotation supersedes their own
        older one, which stays in the record.
        """
        latest: dict[str, Annotation] = {}
        for a in self.annotations_for(node_id):
            latest[a.reviewer_id] = a  # creation order, so the last one wins
        return latest

    # -- used by core.ops only ---------------------------------------------------------

    def _put_node(self, node: Node) -> None:
        if node.id not in self.nodes:
            self._children.setdefault(node.id, [])
            if node.parent_id is not None:
                self._children.setdefault(node.parent_id, []).append(node.id)
        self.nodes[node.id] = node

    # -- serialization -----------------------------------------------------------------

    def to_dict(self) -> JSONObject:
        """The whole tree as plain JSON-able data (what `show --json` prints)."""
        return {
            "session": self.session.to_dict(),
            "question_id": self.question_id,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "chains": [c.to_dict() for c in self.chains.values()],
            "annotations": [a.to_dict() for a in self.annotations.values()],
            "shown": dict(self.shown),
            "preferred": dict(self.preferred),
        }

    @classmethod
    def load(
        cls,
        session: Session,
        question_id: str,
        nodes: Iterable[Node],
        chains: Iterable[Chain] = (),
        annotations: Iterable[Annotation] = (),
        shown: dict[str, str] | None = None,
        preferred: dict[str, str] | None = None,
    ) -> Tree:
        """A tree from stored records (for a store or an importer): nodes in creation order,
        parents first; chains and annotations in creation order. Raises SchemaError."""
        nodes = list(nodes)
        by_id = {n.id: n for n in nodes}
        if question_id not in by_id:
            raise SchemaError("tree: the question node is missing")
        tree = cls(session, by_id[question_id])
        for node in nodes:
            if node.id == question_id:
                continue
            if node.parent_id not in tree.nodes:
                raise SchemaError(f"tree: node {node.id} comes before its parent {node.parent_id}")
            tree._put_node(node)
        tree.chains.update((c.id, c) for c in chains)
        tree.annotations.update((a.id, a) for a in annotations)
        tree.shown.update(shown or {})
        tree.preferred.update(preferred or {})
        return tree

    @classmethod
    def from_dict(cls, data: object) -> Tree:
        """Rebuild a tree from `to_dict` output (nodes must come parents first)."""
        if not isinstance(data, dict):
            raise SchemaError("tree: expected an object")
        for key in ("session", "question_id", "nodes"):
            if key not in data:
                raise SchemaError(f"tree: missing field '{key}'")
        for key in ("nodes", "chains", "annotations"):
            if not isinstance(data.get(key, []), list):
                raise SchemaError(f"tree: field '{key}' must be a list")
        for key in ("shown", "preferred"):
            choices = data.get(key, {})
            if not isinstance(choices, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in choices.items()
            ):
                raise SchemaError(f"tree: field '{key}' must map node ids to node ids")
        return cls.load(
            Session.from_dict(data["session"]),
            data["question_id"],
            [Node.from_dict(n) for n in data["nodes"]],
            [Chain.from_dict(c) for c in data.get("chains", ())],
            [Annotation.from_dict(a) for a in data.get("annotations", ())],
            dict(data.get("shown", {})),
            dict(data.get("preferred", {})),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable
