"""Operations that add nodes: model output, challenges and the replies to them."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import ClassVar

from workstation.core.model import Chain, Node
from workstation.core.ops.base import Changes, Operation, Outcome, _existing, _fail, _label, _register
from workstation.core.ops.branches import BranchDeleted
from workstation.core.tree import CHAIN_NODE_KINDS, Tree


@_register
@dataclass(frozen=True)
class StepsAdded(Operation):
    """Adds a chain of model output and its steps below `chain.parent_id`.

    The first generation hangs from the question; regenerating from step k hangs from step k-1
    and so becomes an alternative of step k. With `show`, the new branch is the one shown.
    """

    type: ClassVar[str] = "steps_added"
    _nested: ClassVar[dict[str, tuple[builtins.type, bool]]] = {"chain": (Chain, False), "nodes": (Node, True)}
    #: Node kinds this operation may add, and chain kinds it may carry.
    _node_kinds: ClassVar[tuple[str, ...]] = CHAIN_NODE_KINDS
    _chain_kinds: ClassVar[tuple[str, ...]] = ("generate", "regenerate")

    chain: Chain
    nodes: tuple[Node, ...]
    show: bool = True

    def check(self, tree: Tree) -> None:
        chain = self.chain
        if chain.session_id != tree.session.id:
            _fail(f"chain {chain.id} belongs to another session")
        if chain.kind not in self._chain_kinds:
            _fail(f"a {self.type} event cannot carry a '{chain.kind}' chain")
        if chain.id in tree.chains:
            _fail(f"chain {chain.id} is already in the session")
        parent = _existing(tree, chain.parent_id)
        self._check_parent(parent)
        if not self.nodes:
            _fail("the model produced no steps")
        if tuple(n.id for n in self.nodes) != chain.node_ids:
            _fail(f"chain {chain.id} lists other nodes than the ones added")
        if len({n.id for n in self.nodes}) != len(self.nodes):
            _fail("two added steps have the same id")
        expected_parent = chain.parent_id
        for node in self.nodes:
            if node.id in tree.nodes:
                _fail(f"step {node.id} is already in the session")
            if node.kind not in self._node_kinds:
                _fail(f"a {self.type} event cannot add a '{node.kind}' node")
            if node.session_id != tree.session.id or node.chain_id != chain.id:
                _fail(f"step {node.id} does not belong to chain {chain.id}")
            if node.parent_id != expected_parent or node.deleted:
                _fail(f"step {node.id} does not continue the chain")
            expected_parent = node.id

    def _check_parent(self, parent: Node) -> None:
        if parent.kind not in ("question", "step"):
            _fail(f"steps cannot continue from {_label(parent)}")

    def _apply(self, tree: Tree) -> Outcome:
        parent_id = self.chain.parent_id
        previous = tree.shown.get(parent_id)
        tree.chains[self.chain.id] = self.chain
        for node in self.nodes:
            tree._put_node(node)
        if self.show and self.nodes[0].kind in CHAIN_NODE_KINDS:
            tree.shown[parent_id] = self.nodes[0].id
        inverse = BranchDeleted(self.nodes[0].id, show_instead=previous)
        return Outcome(
            inverse,
            Changes(nodes=tuple(n.id for n in self.nodes), chains=(self.chain.id,), selections=(parent_id,)),
        )

    def describe(self, tree: Tree) -> str:
        parent = tree.node(self.chain.parent_id)
        if tree.children(parent.id, CHAIN_NODE_KINDS):
            # Beside steps already there: an alternative to them.
            what = f"regenerate from step {self.nodes[0].position}"
        elif parent.kind == "question":
            what = "generate"
        else:
            what = f"continue after {_label(parent)}"
        return what + (" with critique" if self.chain.critique else "")


@_register
@dataclass(frozen=True)
class ChallengeAsked(Operation):
    """A reviewer asks "why?" (or their own question) about a step: a challenge child node."""

    type: ClassVar[str] = "challenge_asked"
    _nested: ClassVar[dict[str, tuple[builtins.type, bool]]] = {"node": (Node, False)}

    node: Node

    def check(self, tree: Tree) -> None:
        node = self.node
        if node.kind != "challenge":
            _fail("a challenge must be a 'challenge' node")
        if node.id in tree.nodes:
            _fail(f"challenge {node.id} is already in the session")
        if node.session_id != tree.session.id or node.deleted or node.parent_id is None:
            _fail(f"challenge {node.id} does not fit this session")
        parent = _existing(tree, node.parent_id)
        if parent.kind not in CHAIN_NODE_KINDS:
            _fail(f"only steps and answers can be challenged, not {_label(parent)}")
        if not node.text.strip():
            _fail("a challenge needs a question")

    def _apply(self, tree: Tree) -> Outcome:
        tree._put_node(self.node)
        return Outcome(BranchDeleted(self.node.id), Changes(nodes=(self.node.id,)))

    def describe(self, tree: Tree) -> str:
        parent = tree.nodes.get(self.node.parent_id or "")
        return f"challenge {_label(parent)}" if parent is not None else f"challenge step {self.node.position}"

    def opens_unit(self) -> str:
        """The challenge's unit, which the model's answer joins (see `ChallengeAnswered`)."""
        return _challenge_unit(self.node.id)


@_register
@dataclass(frozen=True)
class ChallengeAnswered(StepsAdded):
    """The model's reply to a challenge: a 'challenge' chain of 'reply' nodes below it."""

    type: ClassVar[str] = "challenge_answered"
    _node_kinds: ClassVar[tuple[str, ...]] = ("reply",)
    _chain_kinds: ClassVar[tuple[str, ...]] = ("challenge",)

    def _check_parent(self, parent: Node) -> None:
        if parent.kind != "challenge":
            _fail(f"a reply must answer a challenge, not {_label(parent)}")

    def describe(self, tree: Tree) -> str:
        challenge = tree.node(self.chain.parent_id)
        challenged = tree.nodes.get(challenge.parent_id or "")
        return f"answer to the challenge of {_label(challenged) if challenged is not None else 'a step'}"

    def joins_unit(self) -> str:
        """The answer is undone and redone with its question: one action, two events."""
        return _challenge_unit(self.chain.parent_id)


def _challenge_unit(challenge_id: str) -> str:
    return f"challenge:{challenge_id}"
