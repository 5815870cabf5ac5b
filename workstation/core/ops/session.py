"""Operations on the session itself."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from typing import ClassVar

from workstation.core.model import Node, Session
from workstation.core.ops.base import Changes, Operation, Outcome, _fail, _quoted, _register
from workstation.core.tree import Tree


@_register
@dataclass(frozen=True)
class SessionStarted(Operation):
    """Creates a session and its question node; the first event of every session.

    It cannot be applied to an existing tree: `start` turns it into a new tree.
    """

    type: ClassVar[str] = "session_started"
    undoable: ClassVar[bool] = False
    _nested: ClassVar[dict[str, tuple[builtins.type, bool]]] = {"session": (Session, False), "question": (Node, False)}

    session: Session
    question: Node

    def check(self, tree: Tree) -> None:
        _fail(f"session {tree.session.id} has already started")

    def start(self) -> Tree:
        """A new tree holding just the session and its question."""
        if self.question.kind != "question" or self.question.parent_id is not None:
            _fail("a session must start with a question node at the root")
        if self.question.session_id != self.session.id:
            _fail("the question node belongs to another session")
        return Tree(self.session, self.question)

    def describe(self, tree: Tree) -> str:
        return "start session"


@_register
@dataclass(frozen=True)
class SessionRenamed(Operation):
    """Gives the session a new title."""

    type: ClassVar[str] = "session_renamed"

    title: str

    def check(self, tree: Tree) -> None:
        if not self.title.strip():
            _fail("a session title must not be empty")

    def _apply(self, tree: Tree) -> Outcome:
        inverse = SessionRenamed(tree.session.title)
        tree.session = replace(tree.session, title=self.title)
        return Outcome(inverse, Changes(session=True))

    def describe(self, tree: Tree) -> str:
        return f"rename session to {_quoted(self.title)}"


@_register
@dataclass(frozen=True)
class SessionDeleted(Operation):
    """Hides the session from lists, searches and exports of all sessions.

    Nothing is removed: the tree and its event log stay, and the reverse is `SessionRestored`.
    """

    type: ClassVar[str] = "session_deleted"

    def check(self, tree: Tree) -> None:
        if tree.session.deleted:
            _fail(f"session {tree.session.id} is already deleted")

    def _apply(self, tree: Tree) -> Outcome:
        tree.session = replace(tree.session, deleted=True)
        return Outcome(SessionRestored(), Changes(session=True))

    def describe(self, tree: Tree) -> str:
        return f"delete session {_quoted(tree.session.title)}"


@_register
@dataclass(frozen=True)
class SessionRestored(Operation):
    """Shows a deleted session again; the reverse of `SessionDeleted`."""

    type: ClassVar[str] = "session_restored"

    def check(self, tree: Tree) -> None:
        if not tree.session.deleted:
            _fail(f"session {tree.session.id} is not deleted")

    def _apply(self, tree: Tree) -> Outcome:
        tree.session = replace(tree.session, deleted=False)
        return Outcome(SessionDeleted(), Changes(session=True))

    def describe(self, tree: Tree) -> str:
        return f"restore session {_quoted(tree.session.title)}"
