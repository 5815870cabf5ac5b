"""Operations on reviewers' annotations. None ever changes another reviewer's annotation."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from typing import ClassVar

from workstation.core.model import Annotation
from workstation.core.ops.base import Changes, Operation, Outcome, _existing, _fail, _label, _register
from workstation.core.tree import Tree

#: A label's word in descriptions ("label step 3 wrong").
LABEL_WORDS = {-1: "wrong", 0: "neutral", 1: "right"}
#: The kinds of node an annotation may name (the import's fast lane checks the same).
ANNOTATABLE = frozenset(("step", "answer", "reply"))


@_register
@dataclass(frozen=True)
class Annotated(Operation):
    """A reviewer labels, notes or tags one version of a step. Never overwrites anyone."""

    type: ClassVar[str] = "annotated"
    _nested: ClassVar[dict[str, tuple[builtins.type, bool]]] = {"annotation": (Annotation, False)}

    annotation: Annotation

    def check(self, tree: Tree) -> None:
        a = self.annotation
        if a.session_id != tree.session.id:
            _fail(f"annotation {a.id} belongs to another session")
        if a.id in tree.annotations:
            _fail(f"annotation {a.id} is already in the session")
        node = _existing(tree, a.node_id)
        if node.kind not in ANNOTATABLE:
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
        a = self.annotation
        what = _label(tree.node(a.node_id))
        return f"label {what} {LABEL_WORDS[a.label]}" if a.label in LABEL_WORDS else f"annotate {what}"


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
        a = self.annotation
        what = _label(tree.node(a.node_id))
        return f"settle {what} as {LABEL_WORDS[a.label]}" if a.label in LABEL_WORDS else f"settle {what}"


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
        return f"retract annotation on {_annotated(tree, self.annotation_id)}"


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
        return f"restore annotation on {_annotated(tree, self.annotation_id)}"


def _annotated(tree: Tree, annotation_id: str) -> str:
    annotation = tree.annotations.get(annotation_id)
    node = tree.nodes.get(annotation.node_id) if annotation is not None else None
    return _label(node) if node is not None else "a step"


def _set_retracted(tree: Tree, annotation_id: str, retracted: bool) -> Outcome:
    tree.annotations[annotation_id] = replace(tree.annotations[annotation_id], retracted=retracted)
    inverse: Operation = AnnotationRestored(annotation_id) if retracted else AnnotationRetracted(annotation_id)
    return Outcome(inverse, Changes(annotations=(annotation_id,)))
