"""Operations on a node's versions: a rewrite, choosing which version is current."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from typing import ClassVar

from workstation.core.model import Version
from workstation.core.ops.base import Changes, Operation, Outcome, _existing, _fail, _label, _register
from workstation.core.tree import CHAIN_NODE_KINDS, Tree


@_register
@dataclass(frozen=True)
class StepRewritten(Operation):
    """A reviewer's rewrite of a step becomes its current version; the old ones stay."""

    type: ClassVar[str] = "step_rewritten"
    _nested: ClassVar[dict[str, tuple[builtins.type, bool]]] = {"version": (Version, False)}

    node_id: str
    version: Version

    def check(self, tree: Tree) -> None:
        node = _existing(tree, self.node_id)
        if node.kind not in CHAIN_NODE_KINDS:
            _fail(f"only steps and answers can be rewritten, not {_label(node)}")
        version = self.version
        if version.node_id != node.id or version.origin != "rewrite":
            _fail("the new version does not belong to this step or is not a rewrite")
        if any(v.id == version.id for v in node.versions):
            _fail(f"step {node.id} already has version {version.id}")
        if not version.text.strip():
            _fail("a rewrite must not be empty")

    def _apply(self, tree: Tree) -> Outcome:
        node = tree.nodes[self.node_id]
        inverse = VersionSelected(node.id, node.current_version_id)
        tree._put_node(replace(node, versions=node.versions + (self.version,), current_version_id=self.version.id))
        return Outcome(inverse, Changes(nodes=(node.id,)))

    def describe(self, tree: Tree) -> str:
        return f"rewrite {_label(tree.node(self.node_id))}"


@_register
@dataclass(frozen=True)
class VersionSelected(Operation):
    """Makes one of a node's existing versions the current one (undo of a rewrite, or a revert)."""

    type: ClassVar[str] = "version_selected"

    node_id: str
    version_id: str

    def check(self, tree: Tree) -> None:
        node = _existing(tree, self.node_id)
        node.version(self.version_id)

    def _apply(self, tree: Tree) -> Outcome:
        node = tree.nodes[self.node_id]
        inverse = VersionSelected(node.id, node.current_version_id)
        tree._put_node(replace(node, current_version_id=self.version_id))
        return Outcome(inverse, Changes(nodes=(node.id,)))

    def describe(self, tree: Tree) -> str:
        return f"choose version of {_label(tree.node(self.node_id))}"
