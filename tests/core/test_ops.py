"""Operations: each one checks before it changes anything, and its inverse undoes it exactly."""

import copy
import json

import pytest

from workstation.core import build, ops
from workstation.core.model import Reviewer, SchemaError
from workstation.core.ops import (
    Annotated,
    AnnotationRestored,
    AnnotationRetracted,
    BranchDeleted,
    BranchPreferred,
    BranchRestored,
    BranchShown,
    OperationError,
    SessionDeleted,
    SessionRenamed,
    SessionRestored,
    SessionStarted,
    StepRewritten,
    VersionSelected,
    apply,
)
from workstation.core.splitter import split
from workstation.core.tree import DeletedNodeError
from workstation.errors import BadInputError


def _every_kind_of_operation(sample, alice):
    """(name, factory) pairs; each factory builds an operation for the tree as it is then."""
    tree = sample.tree
    s1, s2, answer = sample.steps()
    bob = Reviewer("bob", "expert")

    def regenerate():
        raw = "Step 2: 48 + 2 = 50\n\nAnswer: 50"
        return build.steps_added(tree, s1.id, raw, split(raw), alice, "chain-of-thought", "1", critique="recheck")

    def challenge():
        return build.ask_challenge(tree, s1.id, "Why?", alice)

    def reply():
        challenge_node = tree.challenges(s1.id)[0]
        return build.challenge_answered(tree, challenge_node.id, "Because.", alice, "why", "1")

    def adjudicate():
        first = next(iter(tree.annotations))
        return build.adjudicate(tree, s1.id, bob, -1, "48 is right, 46 is not", [first])

    return [
        ("rename", lambda: SessionRenamed("Twelve fours")),
        ("annotate", lambda: build.annotate(tree, s1.id, alice, -1, "wrong", ["arithmetic error"], "major")),
        ("adjudicate", adjudicate),
        ("rewrite", lambda: build.rewrite(tree, s1.id, "Step 1: 12 * 4 = 48", alice)),
        ("select version", lambda: VersionSelected(s1.id, tree.node(s1.id).original.id)),
        ("regenerate", regenerate),
        ("prefer", lambda: BranchPreferred.of(tree, s2.id)),
        ("clear preference", lambda: BranchPreferred(s1.id, None)),
        ("show", lambda: BranchShown.of(tree, s2.id)),
        ("challenge", challenge),
        ("reply", reply),
        ("retract", lambda: AnnotationRetracted(next(iter(tree.annotations)))),
        ("restore annotation", lambda: AnnotationRestored(next(iter(tree.annotations)))),
        ("delete branch", lambda: BranchDeleted(s2.id)),
        ("delete answer", lambda: BranchDeleted(tree.children(s1.id)[-1].id)),
        ("delete session", lambda: SessionDeleted()),
    ]


def _visible(tree):
    """What a reviewer sees: live nodes with their current text, live annotations, choices.

    An undo brings this back exactly; the record keeps more (a retracted annotation, a
    hidden branch), because nothing is ever deleted.
    """
    return {
        "session": tree.session,
        "nodes": {n.id: (n.current_version_id, n.parent_id) for n in tree.nodes.values() if not n.deleted},
        "annotations": {a.id for a in tree.annotations.values() if not a.retracted},
        "shown": [n.id for n in tree.shown_path()],
        "preferred": {p: tree.preferred_child(p).id for p in tree.preferred if tree.preferred_child(p)},
    }


def test_every_operation_is_undone_by_its_inverse(sample, alice):
    for name, factory in _every_kind_of_operation(sample, alice):
        op = factory()
        before = _visible(sample.tree)
        outcome = apply(sample.tree, op)
        after = copy.deepcopy(sample.tree.to_dict())
        assert _visible(sample.tree) != before, name
        redo = apply(sample.tree, outcome.inverse).inverse
        assert _visible(sample.tree) == before, name
        apply(sample.tree, redo)
        assert sample.tree.to_dict() == after, name


def test_every_operation_round_trips_through_json(sample, alice):
    seen = set()
    for name, factory in _every_kind_of_operation(sample, alice):
        op = factory()
        outcome = apply(sample.tree, op)
        for o in (op, outcome.inverse):
            data = json.loads(json.dumps(o.payload()))
            assert ops.operation_from_dict(o.type, data) == o, name
            seen.add(o.type)
    # chain_outcome_set changes the log, not the tree: tests/core/test_outcomes.py covers it.
    assert seen >= set(ops.OPERATIONS) - {"session_started", "chain_outcome_set"}


def test_session_started_round_trips_and_starts_a_tree(alice):
    op = build.start_session("Q?", "cot", "1", alice)
    again = ops.operation_from_dict(op.type, json.loads(json.dumps(op.payload())))
    assert again == op
    tree = again.start()
    assert tree.question.text == "Q?" and tree.session.title == "Q?"
    with pytest.raises(OperationError, match="already started"):
        apply(tree, op)


def test_unknown_event_type_is_a_schema_error():
    with pytest.raises(SchemaError, match="unknown event type"):
        ops.operation_from_dict("teleported", {})
    with pytest.raises(SchemaError):
        ops.operation_from_dict("annotated", {})


def _refused(sample, op, match):
    before = copy.deepcopy(sample.tree.to_dict())
    with pytest.raises(BadInputError, match=match):
        apply(sample.tree, op)
    assert sample.tree.to_dict() == before


def test_bad_operations_change_nothing(sample, alice):
    tree = sample.tree
    s1, s2, answer = sample.steps()
    _refused(sample, SessionRenamed(" "), "title")
    _refused(sample, build.rewrite(tree, s1.id, "x", alice).__class__(
        "nope", build.rewrite(tree, s1.id, "x", alice).version), "no step")
    with pytest.raises(BadInputError, match="same as the current"):
        build.rewrite(tree, s1.id, s1.text + " ", alice)
    _refused(sample, build.annotate(tree, s1.id, alice), "needs a label")
    _refused(sample, VersionSelected(s1.id, "nope"), "no version")
    _refused(sample, BranchDeleted(tree.question_id), "question cannot be deleted")
    _refused(sample, BranchPreferred(s1.id, answer.id), "not an alternative")
    _refused(sample, BranchRestored(s1.id, (s1.id,)), "not deleted")
    _refused(sample, BranchRestored(tree.question_id, ()), "not a branch")
    _refused(sample, AnnotationRetracted("nope"), "no annotation")
    raw = "Step 2: again"
    added = build.steps_added(tree, s1.id, raw, split(raw), alice, "cot", "1")
    apply(tree, added)
    _refused(sample, added, "already in the session")
    _refused(sample, build.ask_challenge(tree, tree.question_id, "why", alice), "only steps and answers")
    annotated = build.annotate(tree, s1.id, alice, 1)
    apply(tree, annotated)
    _refused(sample, annotated, "already in the session")
    _refused(sample, AnnotationRestored(annotated.annotation.id), "not retracted")
    _refused(sample, build.adjudicate(tree, s1.id, alice, 1, "because"), "only an expert")
    _refused(sample, build.adjudicate(tree, s1.id, Reviewer("e", "expert"), 1, " "), "needs a reason")


def test_answers_cannot_be_continued_and_replies_need_a_challenge(sample, alice):
    tree = sample.tree
    answer = sample.steps()[-1]
    raw = "more"
    _refused(sample, build.steps_added(tree, answer.id, raw, split(raw), alice, "cot", "1"), "cannot continue")
    reply = build.challenge_answered(tree, sample.steps()[0].id, "text", alice, "why", "1")
    _refused(sample, reply, "must answer a challenge")


def test_reviewers_cannot_change_deleted_branches_until_restored(sample, alice):
    tree = sample.tree
    s1, s2, answer = sample.steps()
    outcome = apply(tree, build.delete_branch(tree, s2.id))
    assert tree.node(answer.id).deleted and tree.shown_path()[-1].id == s1.id
    refused = [
        lambda: build.annotate(tree, answer.id, alice, 1),
        lambda: build.rewrite(tree, answer.id, "new", alice),
        lambda: build.ask_challenge(tree, answer.id, "why?", alice),
        lambda: build.regenerate_parent(tree, answer.id),
        lambda: build.delete_branch(tree, s2.id),
        lambda: build.prefer(tree, s2.id),
        lambda: build.show(tree, s2.id),
    ]
    for make in refused:
        with pytest.raises(DeletedNodeError, match="deleted branch"):
            make()
    apply(tree, outcome.inverse)
    assert not tree.node(answer.id).deleted and tree.shown_path()[-1].id == answer.id
    assert build.prefer(tree, s2.id) == BranchPreferred(s1.id, s2.id)


def test_teammates_events_about_deleted_steps_still_apply(sample, alice):
    """Merging: bob labelled and rewrote a step that alice has deleted since; his work stays."""
    tree = sample.tree
    s1, s2, answer = sample.steps()
    bob = Reviewer("bob", "expert")
    label = build.annotate(tree, answer.id, bob, -1, "wrong")
    rewrite = build.rewrite(tree, answer.id, "Answer: 50", bob)
    again = build.rewrite(tree, answer.id, "Answer: 50", alice)  # the same text, independently
    apply(tree, BranchDeleted(s2.id))
    for op in (label, rewrite, again, BranchPreferred(s1.id, s2.id), BranchDeleted(s2.id)):
        undo = apply(tree, op).inverse
        redo = apply(tree, undo).inverse
        apply(tree, redo)
    assert tree.current_annotations(answer.id)["bob"].label == -1
    assert [v.author for v in tree.node(answer.id).versions] == ["alice", "bob", "alice"]
    assert tree.node(answer.id).deleted and tree.preferred_child(s1.id) is None


def test_deleting_the_shown_branch_shows_another_and_drops_its_preference(sample, alice):
    tree = sample.tree
    s1, s2, _ = sample.steps()
    sample.generate(s1.id, "Step 2: alt")
    alt = tree.children(s1.id)[-1]
    apply(tree, BranchPreferred.of(tree, alt.id))
    outcome = apply(tree, BranchDeleted(alt.id))
    assert tree.shown_child(s1.id).id == s2.id and tree.preferred_child(s1.id) is None
    assert outcome.changes.selections == (s1.id,)
    apply(tree, outcome.inverse)
    assert tree.shown_child(s1.id).id == alt.id and tree.preferred_child(s1.id).id == alt.id


def test_undo_tolerates_a_branch_deleted_since(sample, alice):
    tree = sample.tree
    s1, s2, _ = sample.steps()
    added = sample.generate(s1.id, "Step 2: alt")
    apply(tree, BranchShown.of(tree, s2.id))
    apply(tree, BranchShown.of(tree, added.changes.nodes[0]))
    delete_original = apply(tree, BranchDeleted(s2.id))
    # Undoing the regeneration wants to show s2 again, which is deleted now.
    undo_regenerate = BranchDeleted(added.changes.nodes[0], show_instead=s2.id)
    apply(tree, undo_regenerate)
    assert tree.shown_child(s1.id) is None
    apply(tree, delete_original.inverse)
    assert tree.shown_child(s1.id).id == s2.id


def test_changes_name_what_the_store_must_write(sample, alice):
    tree = sample.tree
    s1 = sample.steps()[0]
    annotated = build.annotate(tree, s1.id, alice, 1)
    assert apply(tree, annotated).changes.annotations == (annotated.annotation.id,)
    assert apply(tree, SessionRenamed("new")).changes.session
    rewritten = apply(tree, build.rewrite(tree, s1.id, "better", alice))
    assert rewritten.changes.nodes == (s1.id,)
    first = sample.events[1]
    assert len(first.changes.nodes) == 3 and len(first.changes.chains) == 1


def test_steps_added_must_describe_a_linear_chain(sample, alice):
    tree = sample.tree
    raw = "Step 2: a\n\nStep 3: b"
    op = build.steps_added(tree, sample.steps()[0].id, raw, split(raw), alice, "cot", "1")
    broken = type(op)(op.chain, op.nodes[::-1])
    _refused(sample, broken, "other nodes")
    empty = type(op)(op.chain, ())
    _refused(sample, empty, "no steps")


def test_annotations_on_an_old_version_are_allowed(sample, alice):
    tree = sample.tree
    s1 = sample.steps()[0]
    original = tree.node(s1.id).original.id
    apply(tree, build.rewrite(tree, s1.id, "new text", alice))
    op = build.annotate(tree, s1.id, alice, -1, version_id=original)
    apply(tree, op)
    assert isinstance(op, Annotated) and tree.annotation(op.annotation.id).version_id == original
    with pytest.raises(BadInputError, match="no version"):
        apply(tree, build.annotate(tree, s1.id, alice, -1, version_id="nope"))


def test_describe_names_the_step(sample, alice):
    tree = sample.tree
    s1, s2, answer = sample.steps()
    assert build.rewrite(tree, s2.id, "x", alice).describe(tree) == "rewrite step 2"
    assert BranchDeleted(answer.id).describe(tree) == "delete answer 3"
    assert isinstance(sample.events[0].event.op, SessionStarted)
    assert isinstance(build.rewrite(tree, s2.id, "x", alice), StepRewritten)


def test_deleting_a_session_hides_it_and_restoring_shows_it(sample):
    tree = sample.tree
    _refused(sample, SessionRestored(), "not deleted")
    outcome = apply(tree, SessionDeleted())
    assert tree.session.deleted and outcome.inverse == SessionRestored() and outcome.changes.session
    assert tree.to_dict()["session"]["deleted"] is True
    _refused(sample, SessionDeleted(), "already deleted")
    assert apply(tree, SessionRestored()).inverse == SessionDeleted()
    assert not tree.session.deleted and "deleted" not in tree.to_dict()["session"]
