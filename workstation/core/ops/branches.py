"""Operations on branches: which alternative is preferred or shown, hiding and restoring."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Self

from workstation.core.model import Node
from workstation.core.ops.base import Changes, Operation, Outcome, _existing, _fail, _label, _register, _set_choice
from workstation.core.tree import CHAIN_NODE_KINDS, Tree


def _check_alternative(tree: Tree, parent_id: str, node_id: str | None) -> None:
    _existing(tree, parent_id)
    if node_id is None:
        return
    node = _existing(tree, node_id)
    if node.parent_id != parent_id or node.kind not in CHAIN_NODE_KINDS:
        _fail(f"step {node_id} is not an alternative below {parent_id}")


def _alternative_or_none(tree: Tree, parent_id: str, node_id: str | None) -> str | None:
    node = tree.nodes.get(node_id) if node_id is not None else None
    if node is None or node.deleted or node.parent_id != parent_id or node.kind not in CHAIN_NODE_KINDS:
        return None
    return node_id


def _branch(node: Node) -> str:
    # A step starts a branch (what follows goes with it); an answer, a challenge, a reply is one node.
    return f"branch at step {node.position}" if node.kind == "step" else _label(node)


@dataclass(frozen=True)
class _BranchChoice(Operation):
    """Chooses the alternative `node_id` below `parent_id` (None clears the choice) in one of
    the tree's choice maps; its inverse puts back the previous choice."""

    parent_id: str
    node_id: str | None

    def _choices(self, tree: Tree) -> dict[str, str]:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @classmethod
    def of(cls, tree: Tree, node_id: str) -> Self:
        """Choose the branch that starts at `node_id`."""
        parent_id = tree.live_node(node_id).parent_id
        if parent_id is None:
            _fail("the question is not a branch")
        return cls(parent_id, node_id)

    def check(self, tree: Tree) -> None:
        _check_alternative(tree, self.parent_id, self.node_id)

    def _apply(self, tree: Tree) -> Outcome:
        choices = self._choices(tree)
        inverse = type(self)(self.parent_id, choices.get(self.parent_id))
        _set_choice(choices, self.parent_id, self.node_id)
        return Outcome(inverse, Changes(selections=(self.parent_id,)))


@_register
@dataclass(frozen=True)
class BranchPreferred(_BranchChoice):
    """Marks the alternative `node_id` below `parent_id` as preferred (None clears the mark)."""

    type: ClassVar[str] = "branch_preferred"

    def _choices(self, tree: Tree) -> dict[str, str]:
        return tree.preferred

    def describe(self, tree: Tree) -> str:
        if self.node_id is None:
            return f"clear preferred branch below {_label(tree.node(self.parent_id))}"
        return f"prefer branch at {_label(tree.node(self.node_id))}"


@_register
@dataclass(frozen=True)
class BranchShown(_BranchChoice):
    """Shows the alternative `node_id` below `parent_id`. Navigation: recorded so that a
    reopened session shows the same branch, but not put on the undo stack."""

    type: ClassVar[str] = "branch_shown"
    undoable: ClassVar[bool] = False

    def _choices(self, tree: Tree) -> dict[str, str]:
        return tree.shown

    def describe(self, tree: Tree) -> str:
        return "show branch"


@_register
@dataclass(frozen=True)
class BranchDeleted(Operation):
    """Hides the node `node_id` and everything below it (a branch, a challenge, a reply).

    `show_instead` is the alternative shown afterwards when the hidden one was shown (None:
    the first remaining one). The nodes stay in the tree and the store, marked deleted.
    """

    type: ClassVar[str] = "branch_deleted"

    node_id: str
    show_instead: str | None = None

    def check(self, tree: Tree) -> None:
        node = _existing(tree, self.node_id)
        if node.kind == "question":
            _fail("the question cannot be deleted; delete the session instead")
        if self.show_instead == self.node_id:
            _fail("cannot show the branch being deleted")

    def _apply(self, tree: Tree) -> Outcome:
        node = tree.nodes[self.node_id]
        parent_id = node.parent_id
        assert parent_id is not None  # check() refused the question, the only node without one
        hidden = [n.id for n in tree.subtree(node.id) if not n.deleted]
        inverse = BranchRestored(
            node.id, tuple(hidden), shown=tree.shown.get(parent_id), preferred=tree.preferred.get(parent_id)
        )
        for hidden_id in hidden:
            tree._put_node(replace(tree.nodes[hidden_id], deleted=True))
        if self.show_instead is not None or tree.shown.get(parent_id) == node.id:
            # An undo may name an alternative that was deleted since; then show the first one.
            _set_choice(tree.shown, parent_id, _alternative_or_none(tree, parent_id, self.show_instead))
        if tree.preferred.get(parent_id) == node.id:
            del tree.preferred[parent_id]
        return Outcome(inverse, Changes(nodes=tuple(hidden), selections=(parent_id,)))

    def describe(self, tree: Tree) -> str:
        return f"delete {_branch(tree.node(self.node_id))}"


@_register
@dataclass(frozen=True)
class BranchRestored(Operation):
    """Brings back nodes hidden by BranchDeleted (its undo), with the parent's choices then."""

    type: ClassVar[str] = "branch_restored"

    node_id: str
    node_ids: tuple[str, ...]
    shown: str | None = None
    preferred: str | None = None

    def check(self, tree: Tree) -> None:
        node = _existing(tree, self.node_id)
        if node.parent_id is None:
            _fail("the question is not a branch")
        for node_id in self.node_ids:
            if node_id not in tree.nodes:
                _fail(f"no step with id '{node_id}'")
            if not tree.nodes[node_id].deleted:
                _fail(f"step {node_id} is not deleted")

    def _apply(self, tree: Tree) -> Outcome:
        parent_id = tree.nodes[self.node_id].parent_id
        assert parent_id is not None  # check() refused the question, the only node without one
        inverse = BranchDeleted(self.node_id, show_instead=tree.shown.get(parent_id))
        for node_id in self.node_ids:
            tree._put_node(replace(tree.nodes[node_id], deleted=False))
        # Choices that were deleted since are dropped rather than failing the undo.
        _set_choice(tree.shown, parent_id, _alternative_or_none(tree, parent_id, self.shown))
        _set_choice(tree.preferred, parent_id, _alternative_or_none(tree, parent_id, self.preferred))
        return Outcome(inverse, Changes(nodes=self.node_ids, selections=(parent_id,)))

    def describe(self, tree: Tree) -> str:
        return f"restore {_branch(tree.node(self.node_id))}"
