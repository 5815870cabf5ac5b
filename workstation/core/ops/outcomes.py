"""The reviewer's outcome of a chain: how its solution ended, in PRM800K's finish reasons.

The outcome lives in the event log only (the tree has no field for it): exports read the latest
`chain_outcome_set` event of each chain, as they read adjudications. The event carries the
outcome it replaces, so undo is one more event that sets the earlier value again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from workstation.core.ops.base import Changes, Operation, Outcome, _fail, _register
from workstation.core.tree import Tree

#: PRM800K's finish reasons (`label.finish_reason`), the outcomes a reviewer can set.
CHAIN_OUTCOMES = ("solution", "found_error", "give_up", "bad_problem")


@_register
@dataclass(frozen=True)
class ChainOutcomeSet(Operation):
    """A reviewer sets (or, with `outcome=None`, clears) the outcome of one chain."""

    type: ClassVar[str] = "chain_outcome_set"

    chain_id: str
    outcome: str | None
    previous: str | None = None

    def check(self, tree: Tree) -> None:
        if self.chain_id not in tree.chains:
            _fail(f"no chain with id '{self.chain_id}' in session {tree.session.id}")
        for value in (self.outcome, self.previous):
            if value is not None and value not in CHAIN_OUTCOMES:
                _fail(f"a chain outcome must be one of {', '.join(CHAIN_OUTCOMES)}, not '{value}'")

    def _apply(self, tree: Tree) -> Outcome:
        return Outcome(ChainOutcomeSet(self.chain_id, self.previous, self.outcome), Changes())

    def describe(self, tree: Tree) -> str:
        return f"outcome {self.outcome}" if self.outcome else "clear outcome"
