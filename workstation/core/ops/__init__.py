"""Every change to a review tree is an operation object, applied by one function: `apply`.

An operation is a frozen dataclass that serializes to a plain dict (the payload of an event).
`apply(tree, op)` checks the operation against the tree first, raising BadInputError before
anything changes (nothing is ever half applied), then changes the tree and returns an `Outcome`:
the operation that reverses this one and what changed (for the store to write). Undo applies
the reverse operation as a new event, so history is never deleted; see `core.history`.

Nothing is removed from a tree: deleting a branch hides its nodes, undoing an annotation
retracts it, undoing a rewrite selects the earlier version again, and deleting a session
hides it (`SessionDeleted`, reversed by `SessionRestored`).
"""

from workstation.core.ops.annotations import Adjudicated, Annotated, AnnotationRestored, AnnotationRetracted
from workstation.core.ops.base import (
    OPERATIONS,
    Changes,
    Operation,
    OperationError,
    Outcome,
    apply,
    operation_from_dict,
)
from workstation.core.ops.branches import BranchDeleted, BranchPreferred, BranchRestored, BranchShown
from workstation.core.ops.chains import ChallengeAnswered, ChallengeAsked, StepsAdded
from workstation.core.ops.outcomes import ChainOutcomeSet
from workstation.core.ops.session import (
    SessionDeleted,
    SessionRenamed,
    SessionRestored,
    SessionStarted,
)
from workstation.core.ops.versions import StepRewritten, VersionSelected

__all__ = [
    "OPERATIONS",
    "Adjudicated",
    "Annotated",
    "AnnotationRestored",
    "AnnotationRetracted",
    "BranchDeleted",
    "BranchPreferred",
    "BranchRestored",
    "BranchShown",
    "ChainOutcomeSet",
    "ChallengeAnswered",
    "ChallengeAsked",
    "Changes",
    "Operation",
    "OperationError",
    "Outcome",
    "SessionDeleted",
    "SessionRenamed",
    "SessionRestored",
    "SessionStarted",
    "StepRewritten",
    "StepsAdded",
    "VersionSelected",
    "apply",
    "operation_from_dict",
]
