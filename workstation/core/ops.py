"""Every change to a review tree is an operation object, applied by one function: `apply`.

An operation is a frozen dataclass that serializes to a plain dict (the payload of an event).
`apply(tree, op)` checks the operation against the tree first, raising BadInputError before
anything changes (nothing is ever half applied), then changes the tree and returns an `Outcome`:
the operation that reverses this one and what changed (for the store to write). Undo applies
the reverse operation as a new event, so history is never deleted; see `core.history`.

Nothing is removed from a tree: deleting a branch hides its nodes, undoing an annotation
retracts it, undoing a rewrite selects the earlier version again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from workstation.core.model import (
    Annotation,
    Chain,
    Node,
    SchemaError,
    Session,
    Version,
    _Record,
)
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
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
        """A short description for menus ("Undo rewrite of step 3")."""
        return self.type

    def payload(self) -> dict[str, Any]:
        """The operation as a plain dict, without its type (the event carries the type)."""
        return self.to_dict()


OPERATIONS: dict[str, type[Operation]] = {}


def _register(cls: type[Operation]) -> type[Operation]:
    assert cls.type and cls.type not in OPERATIONS, cls
    OPERATIONS[cls.type] = cls
    return cls


def operation_from_dict(type_: str, payload: Any) -> Operation:
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


def _fail(message: str) -> None:
    raise OperationError(message)


def _live(tree: Tree, node_id: str, what: str = "step") -> Node:
    if node_id not in tree.nodes:
        _fail(f"no {what} with id '{node_id}' in session {tree.session.id}")
    node = tree.nodes[node_id]
    if node.deleted:
        _fail(f"{what} {node_id} is in a deleted branch")
    return node


def _label(node: Node) -> str:
    if node.kind == "question":
        return "the question"
    if node.kind in ("challenge", "reply"):
        return f"{node.kind} on step {node.position}"
    return f"{node.kind} {node.position}"


def _set_choice(choices: dict[str, str], parent_id: str, child_id: str | None) -> None:
    if child_id is None:
        choices.pop(parent_id, None)
    else:
        choices[parent_id] = child_id


# -- session -------------------------------------------------------------------------


@_register
@dataclass(frozen=True)
class SessionStarted(Operation):
    """Creates a session and its question node; the first event of every session.

    It cannot be applied to an existing tree: `start` turns it into a new tree.
    """

    type: ClassVar[str] = "session_started"
    undoable: ClassVar[bool] = False
    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"session": (Session, False), "question": (Node, False)}

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
        from dataclasses import replace

        inverse = SessionRenamed(tree.session.title)
        tree.session = replace(tree.session, title=self.title)
        return Outcome(inverse, Changes(session=True))

    def describe(self, tree: Tree) -> str:
        return "rename session"


# -- model output --------------------------------------------------------------------


@_register
@dataclass(frozen=True)
class StepsAdded(Operation):
    """Adds a chain of model output and its steps below `chain.parent_id`.

    The first generation hangs from the question; regenerating from step k hangs from step k-1
    and so becomes an alternative of step k. With `show`, the new branch is the one shown.
    """

    type: ClassVar[str] = "steps_added"
    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"chain": (Chain, False), "nodes": (Node, True)}
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
        parent = _live(tree, chain.parent_id)
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
        return "generate" if self.chain.kind == "generate" else f"regenerate from step {self.nodes[0].position}"


@_register
@dataclass(frozen=True)
class ChallengeAsked(Operation):
    """A reviewer asks "why?" (or their own question) about a step: a challenge child node."""

    type: ClassVar[str] = "challenge_asked"
    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"node": (Node, False)}

    node: Node

    def check(self, tree: Tree) -> None:
        node = self.node
        if node.kind != "challenge":
            _fail("a challenge must be a 'challenge' node")
        if node.id in tree.nodes:
            _fail(f"challenge {node.id} is already in the session")
        if node.session_id != tree.session.id or node.deleted or node.parent_id is None:
            _fail(f"challenge {node.id} does not fit this session")
        parent = _live(tree, node.parent_id)
        if parent.kind not in CHAIN_NODE_KINDS:
            _fail(f"only steps and answers can be challenged, not {_label(parent)}")
        if not node.text.strip():
            _fail("a challenge needs a question")

    def _apply(self, tree: Tree) -> Outcome:
        tree._put_node(self.node)
        return Outcome(BranchDeleted(self.node.id), Changes(nodes=(self.node.id,)))

    def describe(self, tree: Tree) -> str:
        return f"challenge step {self.node.position}"


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
        return f"answer challenge on step {self.nodes[0].position}"


# -- versions ------------------------------------------------------------------------


@_register
@dataclass(frozen=True)
class StepRewritten(Operation):
    """A reviewer's rewrite of a step becomes its current version; the old ones stay."""

    type: ClassVar[str] = "step_rewritten"
    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"version": (Version, False)}

    node_id: str
    version: Version

    def check(self, tree: Tree) -> None:
        node = _live(tree, self.node_id)
        if node.kind not in CHAIN_NODE_KINDS:
            _fail(f"only steps and answers can be rewritten, not {_label(node)}")
        version = self.version
        if version.node_id != node.id or version.origin != "rewrite":
            _fail("the new version does not belong to this step or is not a rewrite")
        if any(v.id == version.id for v in node.versions):
            _fail(f"step {node.id} already has version {version.id}")
        if not version.text.strip():
            _fail("a rewrite must not be empty")
        if version.text == node.text:
            _fail("the rewrite is the same as the current text")

    def _apply(self, tree: Tree) -> Outcome:
        from dataclasses import replace

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
        node = _live(tree, self.node_id)
        node.version(self.version_id)

    def _apply(self, tree: Tree) -> Outcome:
        from dataclasses import replace

        node = tree.nodes[self.node_id]
        inverse = VersionSelected(node.id, node.current_version_id)
        tree._put_node(replace(node, current_version_id=self.version_id))
        return Outcome(inverse, Changes(nodes=(node.id,)))

    def describe(self, tree: Tree) -> str:
        return f"choose version of {_label(tree.node(self.node_id))}"


# -- annotations ---------------------------------------------------------------------


@_register
@dataclass(frozen=True)
class Annotated(Operation):
    """A reviewer labels, notes or tags one version of a step. Never overwrites anyone."""

    type: ClassVar[str] = "annotated"
    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"annotation": (Annotation, False)}

    annotation: Annotation

    def check(self, tree: Tree) -> None:
        a = self.annotation
        if a.session_id != tree.session.id:
            _fail(f"annotation {a.id} belongs to another session")
        if a.id in tree.annotations:
            _fail(f"annotation {a.id} is already in the session")
        node = _live(tree, a.node_id)
        if node.kind not in ("step", "answer", "reply"):
            _fail(f"{_label(node)} cannot be annotated")
        node.version(a.version_id)
        if a.retracted:
            _fail("a new annotation cannot be retracted already")
        if a.label is None and not a.note.strip() and not a.tags and a.severity is None:
            _fail("an annotation needs a label, a note, a tag or a severity")

    def _apply(self, tree: Tree) -> Outcome:
        tree.annotations[self.annotation.id] = self.annotation
        return Outcome(AnnotationRetracted(self.annotation.id), Changes(annotations=(self.annotation.id,)))

    def describe(self, tree: Tree) -> str:
        return f"annotate {_label(tree.node(self.annotation.node_id))}"


@_register
@dataclass(frozen=True)
class Adjudicated(Annotated):
    """An expert or ethics reviewer settles a disagreement: an annotation with a reason.

    `settles` lists the annotations (of other reviewers) it decides between; they stay as
    they are, side by side with the adjudication.
    """

    type: ClassVar[str] = "adjudicated"

    settles: tuple[str, ...] = ()

    def check(self, tree: Tree) -> None:
        super().check(tree)
        if self.annotation.role not in ("expert", "ethics_reviewer"):
            _fail("only an expert or an ethics reviewer can adjudicate")
        if not self.annotation.note.strip():
            _fail("an adjudication needs a reason (the note)")
        for annotation_id in self.settles:
            if annotation_id not in tree.annotations:
                _fail(f"no annotation with id '{annotation_id}' to adjudicate")
            if tree.annotations[annotation_id].node_id != self.annotation.node_id:
                _fail(f"annotation {annotation_id} is about another step")

    def describe(self, tree: Tree) -> str:
        return f"adjudicate {_label(tree.node(self.annotation.node_id))}"


@_register
@dataclass(frozen=True)
class AnnotationRetracted(Operation):
    """Withdraws an annotation (undo of annotating); it stays in the record, marked retracted."""

    type: ClassVar[str] = "annotation_retracted"

    annotation_id: str

    def check(self, tree: Tree) -> None:
        if self.annotation_id not in tree.annotations:
            _fail(f"no annotation with id '{self.annotation_id}'")
        if tree.annotations[self.annotation_id].retracted:
            _fail(f"annotation {self.annotation_id} is already retracted")

    def _apply(self, tree: Tree) -> Outcome:
        return _set_retracted(tree, self.annotation_id, True)

    def describe(self, tree: Tree) -> str:
        return "retract annotation"


@_register
@dataclass(frozen=True)
class AnnotationRestored(Operation):
    """Brings a retracted annotation back (redo of annotating)."""

    type: ClassVar[str] = "annotation_restored"

    annotation_id: str

    def check(self, tree: Tree) -> None:
        if self.annotation_id not in tree.annotations:
            _fail(f"no annotation with id '{self.annotation_id}'")
        if not tree.annotations[self.annotation_id].retracted:
            _fail(f"annotation {self.annotation_id} is not retracted")

    def _apply(self, tree: Tree) -> Outcome:
        return _set_retracted(tree, self.annotation_id, False)

    def describe(self, tree: Tree) -> str:
        return "restore annotation"


def _set_retracted(tree: Tree, annotation_id: str, retracted: bool) -> Outcome:
    from dataclasses import replace

    tree.annotations[annotation_id] = replace(tree.annotations[annotation_id], retracted=retracted)
    inverse: Operation = AnnotationRestored(annotation_id) if retracted else AnnotationRetracted(annotation_id)
    return Outcome(inverse, Changes(annotations=(annotation_id,)))


# -- branches ------------------------------------------------------------------------


def _check_alternative(tree: Tree, parent_id: str, node_id: str | None) -> None:
    _live(tree, parent_id)
    if node_id is None:
        return
    node = _live(tree, node_id)
    if node.parent_id != parent_id or node.kind not in CHAIN_NODE_KINDS:
        _fail(f"step {node_id} is not an alternative below {parent_id}")


def _alternative_or_none(tree: Tree, parent_id: str, node_id: str | None) -> str | None:
    node = tree.nodes.get(node_id) if node_id is not None else None
    if node is None or node.deleted or node.parent_id != parent_id or node.kind not in CHAIN_NODE_KINDS:
        return None
    return node_id


@_register
@dataclass(frozen=True)
class BranchPreferred(Operation):
    """Marks the alternative `node_id` below `parent_id` as preferred (None clears the mark)."""

    type: ClassVar[str] = "branch_preferred"

    parent_id: str
    node_id: str | None

    @classmethod
    def of(cls, tree: Tree, node_id: str) -> BranchPreferred:
        """Prefer the branch that starts at `node_id`."""
        parent_id = tree.node(node_id).parent_id
        if parent_id is None:
            _fail("the question is not a branch")
        return cls(parent_id, node_id)  # type: ignore[arg-type]

    def check(self, tree: Tree) -> None:
        _check_alternative(tree, self.parent_id, self.node_id)

    def _apply(self, tree: Tree) -> Outcome:
        inverse = BranchPreferred(self.parent_id, tree.preferred.get(self.parent_id))
        _set_choice(tree.preferred, self.parent_id, self.node_id)
        return Outcome(inverse, Changes(selections=(self.parent_id,)))

    def describe(self, tree: Tree) -> str:
        return "prefer branch" if self.node_id else "clear preferred branch"


@_register
@dataclass(frozen=True)
class BranchShown(Operation):
    """Shows the alternative `node_id` below `parent_id`. Navigation: recorded so that a
    reopened session shows the same branch, but not put on the undo stack."""

    type: ClassVar[str] = "branch_shown"
    undoable: ClassVar[bool] = False

    parent_id: str
    node_id: str | None

    @classmethod
    def of(cls, tree: Tree, node_id: str) -> BranchShown:
        """Show the branch that starts at `node_id`."""
        parent_id = tree.node(node_id).parent_id
        if parent_id is None:
            _fail("the question is not a branch")
        return cls(parent_id, node_id)  # type: ignore[arg-type]

    def check(self, tree: Tree) -> None:
        _check_alternative(tree, self.parent_id, self.node_id)

    def _apply(self, tree: Tree) -> Outcome:
        inverse = BranchShown(self.parent_id, tree.shown.get(self.parent_id))
        _set_choice(tree.shown, self.parent_id, self.node_id)
        return Outcome(inverse, Changes(selections=(self.parent_id,)))

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
        node = _live(tree, self.node_id)
        if node.kind == "question":
            _fail("the question cannot be deleted; delete the session instead")
        if self.show_instead == self.node_id:
            _fail("cannot show the branch being deleted")

    def _apply(self, tree: Tree) -> Outcome:
        from dataclasses import replace

        node = tree.nodes[self.node_id]
        parent_id: str = node.parent_id  # type: ignore[assignment]
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
        return f"delete {_label(tree.node(self.node_id))}"


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
        if self.node_id not in self.node_ids:
            _fail("a restored branch must include its first node")
        for node_id in self.node_ids:
            if node_id not in tree.nodes:
                _fail(f"no step with id '{node_id}'")
            if not tree.nodes[node_id].deleted:
                _fail(f"step {node_id} is not deleted")
        parent_id = tree.nodes[self.node_id].parent_id
        if parent_id is None or tree.nodes[parent_id].deleted:
            _fail("the branch hangs from a deleted step; restore that first")

    def _apply(self, tree: Tree) -> Outcome:
        from dataclasses import replace

        parent_id: str = tree.nodes[self.node_id].parent_id  # type: ignore[assignment]
        inverse = BranchDeleted(self.node_id, show_instead=tree.shown.get(parent_id))
        for node_id in self.node_ids:
            tree._put_node(replace(tree.nodes[node_id], deleted=False))
        # Choices that were deleted since are dropped rather than failing the undo.
        _set_choice(tree.shown, parent_id, _alternative_or_none(tree, parent_id, self.shown))
        _set_choice(tree.preferred, parent_id, _alternative_or_none(tree, parent_id, self.preferred))
        return Outcome(inverse, Changes(nodes=self.node_ids, selections=(parent_id,)))

    def describe(self, tree: Tree) -> str:
        return f"restore {_label(tree.node(self.node_id))}"
