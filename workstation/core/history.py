"""Events and undo/redo: one immutable event per applied operation, undo as a new event.

`History` owns a tree. `apply` changes the tree through `core.ops.apply` and returns an
`Applied`: the event to append to the audit log (with its own uuid, the reviewer's id and
role, the time) and what changed. Undo and redo work on units, one user action each: most
actions are one event, a challenge is two (its question, then the model's answer), grouped by
what the operations declare (`Operation.opens_unit`/`joins_unit`). An undo never deletes
anything: it applies the reverse of each event of the unit as a new event whose `reverts` names
the event it reverses, and returns them all (to be stored in one transaction); a redo reverses
the undo the same way. If writing fails, `rollback` puts the tree and the stacks back as they
were, so memory and the database never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from workstation.core import codec, ops
from workstation.core.ids import event_id
from workstation.core.jsontypes import JSONObject
from workstation.core.model import Reviewer, SchemaError, now_iso
from workstation.core.ops import Changes, Operation, Outcome, SessionStarted
from workstation.core.tree import Tree
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

    def to_dict(self) -> JSONObject:
        """The event as plain JSON-able data: the operation goes under `payload`."""
        return codec.event_dict(self)

    @classmethod
    def from_dict(cls, data: object) -> Event:
        """Decode `to_dict` output; raises SchemaError naming what is wrong."""
        return cls(**codec.event_kwargs(data))


@dataclass(frozen=True)
class Applied:
    """What `History.apply/undo/redo` did: the event to record and what it changed."""

    event: Event
    changes: Changes


@dataclass(frozen=True)
class UndoUnit:
    """One user action as undo and redo see it: what it did and the events it was made of."""

    description: str
    #: The events undo (or redo) would reverse, in the order they were committed.
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Part:
    event_id: str  # the event this part reverses
    op: Operation  # what to apply to reverse it


@dataclass(frozen=True)
class _Unit:
    # In the order their events were committed; reversing applies them last first, so a
    # challenge's answer is taken back before its question.
    parts: tuple[_Part, ...]
    description: str
    key: str | None = None  # what a later operation names to join it (`Operation.opens_unit`)

    def public(self) -> UndoUnit:
        """The unit as callers see it (without the operations that reverse it)."""
        return UndoUnit(self.description, tuple(p.event_id for p in self.parts))


class History:
    """The undo and redo stacks of one tree, and the only way the review changes it.

    Each stack holds units: one user action each, made of one event or several (a challenge's
    question and the model's answer, grouped by `Operation.opens_unit`/`joins_unit`). Undo and
    redo reverse a whole unit. The CLI, the store and the GUI all use this one history: the
    window shows `can_undo` and `undo_description` and asks the review to undo.
    """

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._undo: list[_Unit] = []
        self._redo: list[_Unit] = []
        # What rollback() needs to put back the last change: the reverse of each operation it
        # applied (in the order applied) and the old stacks.
        self._last: tuple[tuple[Operation, ...], list[_Unit], list[_Unit]] | None = None

    @classmethod
    def start(cls, op: SessionStarted, reviewer: Reviewer, at: str | None = None) -> tuple[History, Applied]:
        """A history for a new session, and the session's first event."""
        tree = op.start()
        event = Event(event_id(), tree.session.id, op, reviewer.id, reviewer.role, at or now_iso())
        return cls(tree), Applied(event, Changes(nodes=(tree.question_id,), session=True))

    # -- doing -------------------------------------------------------------------------

    def apply(self, op: Operation, reviewer: Reviewer, at: str | None = None) -> Applied:
        """Apply `op` as `reviewer`: undoable operations go on the undo stack (in the unit they
        join, else as a unit of their own) and clear redo."""
        self._last = None  # a refused operation changes nothing, so there is nothing to roll back
        description = op.describe(self.tree)
        outcome = ops.apply(self.tree, op)
        event = self._event(op, reviewer, at, None)
        self._last = (_present(outcome.inverse), list(self._undo), list(self._redo))
        self._done(op, event.id, outcome.inverse, description)
        return Applied(event, outcome.changes)

    def undo(self, reviewer: Reviewer, at: str | None = None) -> tuple[Applied, ...]:
        """Reverse the latest undo unit; returns its new events (one per event of the unit,
        the latest first), each naming in `reverts` the event it reverses."""
        if not self._undo:
            raise NothingToUndoError("there is nothing to undo")
        return self._reverse(self._undo, self._redo, reviewer, at)

    def redo(self, reviewer: Reviewer, at: str | None = None) -> tuple[Applied, ...]:
        """Do again the unit the latest undo reversed, as new events (see `undo`)."""
        if not self._redo:
            raise NothingToUndoError("there is nothing to redo")
        return self._reverse(self._redo, self._undo, reviewer, at)

    def rollback(self) -> Changes:
        """Put back the tree and stacks as they were before the last apply/undo/redo.

        For when recording its events failed (disk full, database locked): they are forgotten,
        no new ones are made; an undo or redo of several events is taken back whole, and an
        operation that joined a unit leaves the unit as it was before. Returns what changed
        back. Only one step deep.
        """
        if self._last is None:
            raise NothingToUndoError("there is no change to roll back")
        inverses, undo, redo = self._last
        self._last = None
        changes = [ops.apply(self.tree, inverse).changes for inverse in reversed(inverses)]
        self._undo, self._redo = undo, redo
        return Changes.union(changes)

    def _done(self, op: Operation, done_id: str, inverse: Operation | None, description: str) -> None:
        """Put a newly done operation on the undo stack, in the unit it joins or its own."""
        if not op.undoable or inverse is None:
            return
        part = _Part(done_id, inverse)
        index = self._unit_index(op.joins_unit())
        if index is None:
            self._undo.append(_Unit((part,), description, op.opens_unit()))
        else:
            # The action has just finished: its unit becomes the latest, above whatever was
            # done while it ran (a label committed while the answer streamed stays as it is).
            unit = self._undo.pop(index)
            self._undo.append(replace(unit, parts=(*unit.parts, part)))
        self._redo.clear()

    def _unit_index(self, key: str | None) -> int | None:
        if key is None:
            return None
        for index in range(len(self._undo) - 1, -1, -1):
            if self._undo[index].key == key:
                return index
        return None

    def _reverse(self, source: list[_Unit], target: list[_Unit], reviewer: Reviewer, at: str | None) -> tuple[Applied, ...]:
        """Apply the reverse of `source`'s top unit, part by part from its latest; the unit
        moves to `target` with the reverses of what was just done."""
        self._last = None
        unit = source[-1]
        parts = tuple(reversed(unit.parts))
        outcomes = self._apply_all([p.op for p in parts])
        at = at or now_iso()
        applied: list[Applied] = []
        back: list[_Part] = []
        for part, outcome in zip(parts, outcomes, strict=True):
            event = self._event(part.op, reviewer, at, part.event_id)
            applied.append(Applied(event, outcome.changes))
            back.append(_Part(event.id, _reverse_of(part.op, outcome)))
        self._last = (tuple(p.op for p in back), list(self._undo), list(self._redo))
        source.pop()
        target.append(replace(unit, parts=tuple(back)))
        return tuple(applied)

    def _apply_all(self, operations: list[Operation]) -> list[Outcome]:
        """Apply operations in order, all or none: if one does not fit, those applied are
        reversed and its error raised, leaving the tree as it was."""
        outcomes: list[Outcome] = []
        try:
            for op in operations:
                outcomes.append(ops.apply(self.tree, op))
        except BaseException:
            for outcome in reversed(outcomes):
                for inverse in _present(outcome.inverse):
                    ops.apply(self.tree, inverse)
            raise
        return outcomes

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
        """What undo would reverse ("challenge step 2"), or "" when nothing: the window's
        Edit menu shows it as "Undo challenge step 2"."""
        return self._undo[-1].description if self._undo else ""

    @property
    def redo_description(self) -> str:
        """What redo would do again, or "" when nothing."""
        return self._redo[-1].description if self._redo else ""

    @property
    def undo_stack(self) -> tuple[UndoUnit, ...]:
        """The units undo would reverse, the oldest first (the last is undone next)."""
        return tuple(u.public() for u in self._undo)

    @property
    def redo_stack(self) -> tuple[UndoUnit, ...]:
        """The units redo would do again, the oldest first (the last is redone next)."""
        return tuple(u.public() for u in self._redo)

    def has_unit(self, key: str) -> bool:
        """Whether a unit that an operation's `joins_unit` names is on the undo stack."""
        return self._unit_index(key) is not None

    # -- rebuilding from the event log -------------------------------------------------

    @classmethod
    def replay(cls, events: Iterable[Event]) -> History:
        """Rebuild a session's tree and its undo/redo stacks from its events, oldest first.

        The first event must be the session's SessionStarted. Units are grouped by the same
        declaration as when the events were made (`Operation.joins_unit`), and an undo's or
        redo's events (consecutive in the log: they are committed together) reverse their
        unit whole. An event that reverts one not at the top of a stack (a merged teammate's
        undo) is applied and the event it reverts leaves the stacks, so undo never reverses
        it a second time.
        """
        it = iter(events)
        first = next(it, None)
        if first is None or not isinstance(first.op, SessionStarted):
            raise SchemaError("a session's events must begin with session_started")
        history = cls(first.op.start())
        rest = list(it)
        index = 0
        while index < len(rest):
            index = history._replay_at(rest, index)
        return history

    def _replay_at(self, events: list[Event], index: int) -> int:
        """Replay `events[index]` (an undo or redo: with the rest of its unit's events);
        returns the index of the next event to replay."""
        event = self._own(events[index])
        if event.reverts is not None:
            for source, target in ((self._undo, self._redo), (self._redo, self._undo)):
                if source and source[-1].parts[-1].event_id == event.reverts:
                    return self._replay_reversal(events, index, source, target)
        description = event.op.describe(self.tree)
        outcome = ops.apply(self.tree, event.op)
        if event.reverts is None:
            self._done(event.op, event.id, outcome.inverse, description)
        else:
            self._drop(event.reverts)
        return index + 1

    def _replay_reversal(self, events: list[Event], index: int, source: list[_Unit], target: list[_Unit]) -> int:
        unit = source.pop()
        remaining = list(unit.parts)
        back: list[_Part] = []
        while remaining and index < len(events) and events[index].reverts == remaining[-1].event_id:
            event = self._own(events[index])
            outcome = ops.apply(self.tree, event.op)
            back.append(_Part(event.id, _reverse_of(event.op, outcome)))
            remaining.pop()
            index += 1
        if remaining:
            # Only part of the unit was reversed (a log written before units existed): the
            # rest stays to be undone, the reversed part can be redone.
            source.append(replace(unit, parts=tuple(remaining)))
        target.append(replace(unit, parts=tuple(back)))
        return index

    def _drop(self, reverted_id: str) -> None:
        """Take the part reversing `reverted_id` off the stacks (it was reversed already)."""
        for stack in (self._undo, self._redo):
            for index, unit in enumerate(stack):
                parts = tuple(p for p in unit.parts if p.event_id != reverted_id)
                if len(parts) != len(unit.parts):
                    if parts:
                        stack[index] = replace(unit, parts=parts)
                    else:
                        del stack[index]
                    return

    def _own(self, event: Event) -> Event:
        if event.session_id != self.tree.session.id:
            raise SchemaError(f"event {event.id} belongs to another session")
        return event


def _present(op: Operation | None) -> tuple[Operation, ...]:
    return () if op is None else (op,)


def _reverse_of(op: Operation, outcome: Outcome) -> Operation:
    """The operation that takes back `op` (every reverse operation has one)."""
    if outcome.inverse is None:  # pragma: no cover - only SessionStarted and navigation lack one
        raise SchemaError(f"a '{op.type}' event cannot be undone or redone")
    return outcome.inverse
