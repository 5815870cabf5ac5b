"""Events and undo/redo: one immutable event per applied operation, undo as a new event.

`History` owns a tree. `apply`, `undo` and `redo` each change the tree through
`core.ops.apply` and return an `Applied`: the event to append to the audit log (with its own
uuid, the reviewer's id and role, the time) and what changed. An undo never deletes anything:
it applies the reverse operation as a new event whose `reverts` names the event it reverses;
a redo reverses the undo the same way. If writing the event fails, `rollback` puts the tree
and the stacks back as they were, so memory and the database never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from workstation.core import codec, ops
from workstation.core.model import Reviewer, SchemaError, now_iso
from workstation.core.ops import Changes, Operation, SessionStarted
from workstation.core.tree import Tree
from workstation.core.ids import event_id
from workstation.errors import BadInputError


class NothingToUndoError(BadInputError):
    """Undo or redo was asked for with nothing to undo or redo."""


@dataclass(frozen=True)
class Event:
    """One action, as recorded forever: an operation with who did it, when, and why.

    `reverts` is the id of the event this one reverses (for undo and redo), else None.
    """

    id: str
    session_id: str
    op: Operation
    reviewer_id: str
    role: str
    at: str
    reverts: str | None = None

    @property
    def type(self) -> str:
        """The operation's type name (`steps_added`, `annotated`, ...)."""
        return self.op.type

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON-able data: the operation goes under `payload`."""
        return codec.event_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Event:
        """Decode `to_dict` output; raises SchemaError naming what is wrong."""
        return cls(**codec.event_kwargs(data))


@dataclass(frozen=True)
class Applied:
    """What `History.apply/undo/redo` did: the event to record and what it changed."""

    event: Event
    changes: Changes


@dataclass(frozen=True)
class _Entry:
    event_id: str
    op: Operation  # what to apply to undo (on the undo stack) or redo (on the redo stack)
    description: str


class History:
    """The undo and redo stacks of one tree, and the only way the review changes it.

    Wrap it in the GUI's undo stack; the CLI and the store use it directly.
    """

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._undo: list[_Entry] = []
        self._redo: list[_Entry] = []
        # What rollback() needs to put back the last change: its reverse and the old stacks.
        self._last: tuple[Operation | None, list[_Entry], list[_Entry]] | None = None

    @classmethod
    def start(cls, op: SessionStarted, reviewer: Reviewer, at: str | None = None) -> tuple[History, Applied]:
        """A history for a new session, and the session's first event."""
        tree = op.start()
        event = Event(event_id(), tree.session.id, op, reviewer.id, reviewer.role, at or now_iso())
        return cls(tree), Applied(event, Changes(nodes=(tree.question_id,), session=True))

    # -- doing -------------------------------------------------------------------------

    def apply(self, op: Operation, reviewer: Reviewer, at: str | None = None) -> Applied:
        """Apply `op` as `reviewer`; undoable operations go on the undo stack and clear redo."""
        description = op.describe(self.tree)
        outcome = ops.apply(self.tree, op)
        event = self._event(op, reviewer, at, None)
        self._last = (outcome.inverse, list(self._undo), list(self._redo))
        if op.undoable and outcome.inverse is not None:
            self._undo.append(_Entry(event.id, outcome.inverse, description))
            self._redo.clear()
        return Applied(event, outcome.changes)

    def undo(self, reviewer: Reviewer, at: str | None = None) -> Applied:
        """Reverse the latest undoable operation, recorded as a new event."""
        if not self._undo:
            raise NothingToUndoError("there is nothing to undo")
        entry = self._undo[-1]
        outcome = ops.apply(self.tree, entry.op)
        event = self._event(entry.op, reviewer, at, entry.event_id)
        self._last = (outcome.inverse, list(self._undo), list(self._redo))
        self._undo.pop()
        assert outcome.inverse is not None
        self._redo.append(_Entry(event.id, outcome.inverse, entry.description))
        return Applied(event, outcome.changes)

    def redo(self, reviewer: Reviewer, at: str | None = None) -> Applied:
        """Do again what the latest undo reversed, recorded as a new event."""
        if not self._redo:
            raise NothingToUndoError("there is nothing to redo")
        entry = self._redo[-1]
        outcome = ops.apply(self.tree, entry.op)
        event = self._event(entry.op, reviewer, at, entry.event_id)
        self._last = (outcome.inverse, list(self._undo), list(self._redo))
        self._redo.pop()
        assert outcome.inverse is not None
        self._undo.append(_Entry(event.id, outcome.inverse, entry.description))
        return Applied(event, outcome.changes)

    def rollback(self) -> Changes:
        """Put back the tree and stacks as they were before the last apply/undo/redo.

        For when recording that event failed (disk full, database locked): the event is
        forgotten, no new one is made. Returns what changed back. Only one step deep.
        """
        if self._last is None:
            raise NothingToUndoError("there is no change to roll back")
        inverse, undo, redo = self._last
        self._last = None
        changes = ops.apply(self.tree, inverse).changes if inverse is not None else Changes()
        self._undo, self._redo = undo, redo
        return changes

    def _event(self, op: Operation, reviewer: Reviewer, at: str | None, reverts: str | None) -> Event:
        return Event(event_id(), self.tree.session.id, op, reviewer.id, reviewer.role, at or now_iso(), reverts)

    # -- what can be done --------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        """Whether there is something to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is something to redo."""
        return bool(self._redo)

    @property
    def undo_description(self) -> str:
        """What undo would reverse ("rewrite step 3"), or "" when nothing."""
        return self._undo[-1].description if self._undo else ""

    @property
    def redo_description(self) -> str:
        """What redo would do again, or "" when nothing."""
        return self._redo[-1].description if self._redo else ""

    # -- rebuilding from the event log -------------------------------------------------

    @classmethod
    def replay(cls, events: Iterable[Event]) -> History:
        """Rebuild a session's tree and its undo/redo stacks from its events, oldest first.

        The first event must be the session's SessionStarted. An event that reverts one not on
        top of a stack (a merged teammate's undo) is applied without touching the stacks.
        """
        it = iter(events)
        first = next(it, None)
        if first is None or not isinstance(first.op, SessionStarted):
            raise SchemaError("a session's events must begin with session_started")
        history = cls(first.op.start())
        for event in it:
            if event.session_id != history.tree.session.id:
                raise SchemaError(f"event {event.id} belongs to another session")
            description = event.op.describe(history.tree)
            outcome = ops.apply(history.tree, event.op)
            inverse = outcome.inverse
            if event.reverts is None:
                if event.op.undoable and inverse is not None:
                    history._undo.append(_Entry(event.id, inverse, description))
                    history._redo.clear()
            elif history._undo and history._undo[-1].event_id == event.reverts and inverse is not None:
                entry = history._undo.pop()
                history._redo.append(_Entry(event.id, inverse, entry.description))
            elif history._redo and history._redo[-1].event_id == event.reverts and inverse is not None:
                entry = history._redo.pop()
                history._undo.append(_Entry(event.id, inverse, entry.description))
        return history
