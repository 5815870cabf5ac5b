"""The machinery shared by all operations: the base class, the registry, `apply`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, NoReturn

from workstation.core.jsontypes import JSONObject
from workstation.core.model import Node, SchemaError, _Record
from workstation.core.tree import Tree
from workstation.errors import BadInputError


class OperationError(BadInputError):
    """An operation does not fit the tree it is applied to (says why; nothing was changed)."""


@dataclass(frozen=True)
class Changes:
    """What one applied operation touched, so that the store can write just that."""

    nodes: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    #: Parent node ids whose shown or preferred alternative changed.
    selections: tuple[str, ...] = ()
    session: bool = False

    @classmethod
    def union(cls, changes: Iterable[Changes]) -> Changes:
        """What any of `changes` touched, each id once, in order."""
        every = list(changes)
        return cls(
            nodes=tuple(dict.fromkeys(i for c in every for i in c.nodes)),
            chains=tuple(dict.fromkeys(i for c in every for i in c.chains)),
            annotations=tuple(dict.fromkeys(i for c in every for i in c.annotations)),
            selections=tuple(dict.fromkeys(i for c in every for i in c.selections)),
            session=any(c.session for c in every),
        )


@dataclass(frozen=True)
class Outcome:
    """The result of `apply`: the reverse operation and what changed."""

    inverse: Operation | None
    changes: Changes


class Operation(_Record):
    """Base of all operations. Subclasses are frozen dataclasses registered by `type`."""

    #: The event type name stored with the event; never changes once released.
    type: ClassVar[str] = ""
    #: Whether the operation goes on the undo stack (navigation does not).
    undoable: ClassVar[bool] = True

    def check(self, tree: Tree) -> None:
        """Raise OperationError if this operation cannot be applied to `tree`."""

    def _apply(self, tree: Tree) -> Outcome:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def describe(self, tree: Tree) -> str:
        """What the operation does, for the Edit menu's "Undo <description>" ("rewrite step 3").

        Asked before the operation is applied, of the tree it is applied to."""
        return self.type

    # One user action may be committed as several events (a challenge: the question when it is
    # asked, the model's answer when the stream ends, with a reviewer's label possibly committed
    # between them). The history groups them into one undo unit by these keys, both live and
    # when it replays the event log, so the grouping is declared here and not counted by callers.

    def opens_unit(self) -> str | None:
        """A key naming the undo unit this operation starts, for a later operation to join."""
        return None

    def joins_unit(self) -> str | None:
        """The key of an earlier undo unit this operation belongs to, or None for a unit of its own.

        When that unit is still on the undo stack, the operation joins it and the unit becomes the
        latest one (the action has just finished); otherwise it is a unit of its own."""
        return None

    def payload(self) -> JSONObject:
        """The operation as a plain dict, without its type (the event carries the type)."""
        return self.to_dict()


OPERATIONS: dict[str, type[Operation]] = {}


def _register(cls: type[Operation]) -> type[Operation]:
    assert cls.type and cls.type not in OPERATIONS, cls
    OPERATIONS[cls.type] = cls
    return cls


def operation_from_dict(type_: str, payload: object) -> Operation:
    """Decode an operation from its type name and payload; SchemaError if either is unknown."""
    cls = OPERATIONS.get(type_)
    if cls is None:
        raise SchemaError(f"unknown event type '{type_}'")
    return cls.from_dict(payload)


def apply(tree: Tree, op: Operation) -> Outcome:
    """Apply `op` to `tree`: check it, change the tree, return the reverse and the changes.

    This is the only function that changes a tree. If the check fails it raises
    OperationError (a BadInputError) and the tree is exactly as it was.
    """
    op.check(tree)
    return op._apply(tree)


def _fail(message: str) -> NoReturn:
    raise OperationError(message)


def _existing(tree: Tree, node_id: str, what: str = "step") -> Node:
    # Operations check structure only (the node exists), not whether it is in a deleted branch:
    # a teammate's bundle may annotate a step that this database has deleted since, and that
    # label must still merge. Refusing edits of deleted steps is the builders' job (core.build).
    if node_id not in tree.nodes:
        _fail(f"no {what} with id '{node_id}' in session {tree.session.id}")
    return tree.nodes[node_id]


def _label(node: Node) -> str:
    if node.kind == "question":
        return "the question"
    if node.kind in ("challenge", "reply"):
        return f"{node.kind} on step {node.position}"
    return f"{node.kind} {node.position}"


def _quoted(text: str, limit: int = 40) -> str:
    """A title or question on one line, cut to `limit` characters, in quotes (for descriptions)."""
    flat = " ".join(text[: limit * 8].split())
    return f"'{flat if len(flat) <= limit else flat[: limit - 1] + '…'}'"


def _set_choice(choices: dict[str, str], parent_id: str, child_id: str | None) -> None:
    if child_id is None:
        choices.pop(parent_id, None)
    else:
        choices[parent_id] = child_id
