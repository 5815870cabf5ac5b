"""History: events for every change, undo and redo as new events, replay, rollback."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workstation.core import build
from workstation.core.history import Event, History, NothingToUndoError
from workstation.core.model import Reviewer, SchemaError
from workstation.core.ops import AnnotationRetracted, BranchShown, SessionDeleted, SessionRenamed
from workstation.core.splitter import split
from workstation.core.tree import Tree


def _events(sample):
    return [a.event for a in sample.events]


def test_every_event_has_its_own_id_reviewer_role_and_time(sample, alice):
    sample.do(build.annotate(sample.tree, sample.steps()[0].id, alice, 1))
    events = _events(sample)
    assert len({e.id for e in events}) == len(events)
    assert all(e.reviewer_id == "alice" and e.role == "annotator" and e.at for e in events)
    assert [e.type for e in events] == ["session_started", "steps_added", "annotated"]
    assert all(e.session_id == sample.tree.session.id for e in events)


def test_undo_and_redo_are_new_events_that_name_what_they_reverse(sample, alice):
    step = sample.steps()[0]
    history = sample.history
    rewrite = sample.do(build.rewrite(sample.tree, step.id, "Step 1: 12 * 4 = 48", alice))
    assert history.can_undo and history.undo_description == "rewrite step 1" and not history.can_redo
    (undo,) = history.undo(alice)
    assert undo.event.reverts == rewrite.event.id and undo.event.type == "version_selected"
    assert sample.tree.node(step.id).text == "Step 1: 12 * 4 = 46"
    assert history.redo_description == "rewrite step 1"
    (redo,) = history.redo(alice)
    assert redo.event.reverts == undo.event.id
    assert sample.tree.node(step.id).text == "Step 1: 12 * 4 = 48"
    assert len(sample.tree.node(step.id).versions) == 2  # redo reselects, never duplicates


def test_undo_everything_back_to_the_start(sample, alice):
    s1 = sample.steps()[0]
    sample.do(build.annotate(sample.tree, s1.id, alice, -1))
    sample.do(build.rewrite(sample.tree, s1.id, "fixed", alice))
    sample.generate(s1.id, "Step 2: 48 + 2 = 50")
    history = sample.history
    while history.can_undo:
        history.undo(alice)
    assert [n.kind for n in sample.tree.shown_path()] == ["question"]
    assert all(a.retracted for a in sample.tree.annotations.values())
    while history.can_redo:
        history.redo(alice)
    assert sample.tree.shown_path()[-1].text == "Step 2: 48 + 2 = 50"
    assert sample.tree.node(s1.id).text == "fixed"


def test_a_new_operation_clears_redo(sample, alice):
    s1 = sample.steps()[0]
    sample.do(build.annotate(sample.tree, s1.id, alice, -1))
    sample.history.undo(alice)
    assert sample.history.can_redo
    sample.do(build.annotate(sample.tree, s1.id, alice, 1))
    assert not sample.history.can_redo


def test_navigation_is_recorded_but_not_undone(sample, alice):
    s1, s2, _ = sample.steps()
    sample.generate(s1.id, "Step 2: alt")
    applied = sample.do(BranchShown.of(sample.tree, s2.id))
    assert applied.event.type == "branch_shown"
    assert sample.history.undo_description == "regenerate from step 2"


def test_nothing_to_undo_or_redo(alice):
    history, _ = History.start(build.start_session("Q", "cot", "1", alice), alice)
    with pytest.raises(NothingToUndoError):
        history.undo(alice)
    with pytest.raises(NothingToUndoError):
        history.redo(alice)
    with pytest.raises(NothingToUndoError):
        history.rollback()
    assert history.undo_description == "" and history.redo_description == ""


def test_rollback_forgets_an_event_that_could_not_be_stored(sample, alice):
    s1 = sample.steps()[0]
    before = sample.tree.to_dict()
    history = sample.history
    history.apply(build.rewrite(sample.tree, s1.id, "fixed", alice), alice)
    history.rollback()
    assert sample.tree.node(s1.id).text == before["nodes"][1]["versions"][0]["text"]
    assert history.undo_description == "generate"
    history.undo(alice)
    history.rollback()
    assert history.undo_description == "generate" and not history.can_redo
    assert sample.tree.shown_path()[-1].kind == "answer"


def test_events_round_trip_and_replay_rebuilds_tree_and_stacks(sample, alice):
    s1, s2, _ = sample.steps()
    bob = Reviewer("bob", "ethics_reviewer")
    history = sample.history
    sample.do(build.annotate(sample.tree, s1.id, alice, -1, "wrong", ["arithmetic error"]))
    sample.events.append(history.apply(build.annotate(sample.tree, s1.id, bob, 0), bob))
    sample.do(build.rewrite(sample.tree, s1.id, "Step 1: 12 * 4 = 48", alice))
    sample.generate(s1.id, "Step 2: 48 + 2 = 50\n\nAnswer: 50", critique="12 * 4 is 48")
    sample.do(BranchShown.of(sample.tree, s2.id))
    sample.do(SessionRenamed("Twelve fours"))
    sample.events.extend(history.undo(alice))
    sample.events.extend(history.undo(alice))
    sample.events.extend(history.redo(alice))
    data = json.loads(json.dumps([e.to_dict() for e in _events(sample)]))
    events = [Event.from_dict(d) for d in data]
    assert events == _events(sample)
    again = History.replay(events)
    assert again.tree == sample.tree
    assert (again.undo_description, again.redo_description) == (history.undo_description, history.redo_description)
    again.undo(alice)
    history.undo(alice)
    assert again.tree.to_dict()["nodes"] == sample.tree.to_dict()["nodes"]


def test_event_from_dict_checks_fields(sample):
    data = sample.events[1].event.to_dict()
    with pytest.raises(SchemaError, match="payload"):
        Event.from_dict({k: v for k, v in data.items() if k != "payload"})
    with pytest.raises(SchemaError):
        Event.from_dict("x")
    with pytest.raises(Exception, match="role"):
        Event.from_dict({**data, "role": "boss"})


def test_replay_needs_the_session_start_first(sample):
    events = _events(sample)
    with pytest.raises(SchemaError):
        History.replay(events[1:])
    with pytest.raises(SchemaError):
        History.replay([])
    other = build.start_session("Other", "cot", "1", Reviewer("x"))
    stranger = Event("e", "another-session", other, "x", "annotator", "t")
    with pytest.raises(SchemaError, match="another session"):
        History.replay([events[0], stranger])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


# The sample is only read, never changed, so sharing it between examples is safe.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_malformed_events_are_schema_errors(sample, data):
    """Whatever a damaged file holds, decoding it fails with SchemaError and nothing else."""
    good = [a.event.to_dict() for a in sample.events]
    event = dict(data.draw(st.sampled_from(good)))
    mutation = data.draw(st.sampled_from(["drop", "replace", "payload"]))
    if mutation == "drop":
        event.pop(data.draw(st.sampled_from(sorted(event))))
    elif mutation == "replace":
        event[data.draw(st.sampled_from(sorted(event)))] = data.draw(_json)
    else:
        payload = dict(event["payload"])
        if payload:
            payload[data.draw(st.sampled_from(sorted(payload)))] = data.draw(_json)
        event["payload"] = payload
    try:
        Event.from_dict(event)
    except SchemaError:
        pass


@settings(max_examples=100, deadline=None)
@given(_json)
def test_arbitrary_json_is_never_a_tree_or_event(value):
    for decode in (Event.from_dict, Tree.from_dict):
        try:
            decode(value)
        except SchemaError:
            pass


def test_deleting_a_session_is_an_event_and_undo_restores_it(sample, alice):
    history = sample.history
    start_text = json.dumps(sample.events[0].event.to_dict(), sort_keys=True)
    deleted = sample.do(SessionDeleted())
    assert deleted.event.type == "session_deleted" and deleted.event.reviewer_id == "alice"
    assert deleted.event.at and deleted.changes.session
    assert sample.tree.session.deleted and history.undo_description == "delete session 'What is 12 * 4 + 2?'"
    (undo,) = history.undo(alice)
    assert undo.event.type == "session_restored" and undo.event.reverts == deleted.event.id
    assert not sample.tree.session.deleted
    history.redo(alice)
    assert sample.tree.session.deleted
    assert History.replay(_events(sample)).tree.session.deleted
    assert not History.replay([*_events(sample), undo.event]).tree.session.deleted
    # A session that was never deleted serializes as it did before the field existed.
    assert "deleted" not in sample.events[0].event.to_dict()["payload"]["session"]
    assert json.dumps(sample.events[0].event.to_dict(), sort_keys=True) == start_text


# -- undo units: one user action, one or more events ----------------------------------------


def _challenge_with_a_label_between(sample, alice):
    """A challenge of step 2 whose answer is committed after a label on step 1 (as when the
    reviewer labels while the answer streams); returns (question, label, answer) Applied."""
    s1, s2, _ = sample.steps()
    ask = build.ask_challenge(sample.tree, s2.id, "Why add 2?", alice)
    asked = sample.do(ask)
    label = sample.do(build.annotate(sample.tree, s1.id, alice, -1))
    answered = sample.do(build.challenge_answered(sample.tree, ask.node.id, "Because.", alice, "why", "1"))
    return asked, label, answered


def _stacks(history):
    return history.undo_stack, history.redo_stack, history.undo_description, history.redo_description


def _replayed(sample):
    return History.replay(Event.from_dict(e) for e in json.loads(json.dumps([a.event.to_dict() for a in sample.events])))


def test_a_challenge_is_one_undo_unit_even_with_a_label_committed_between(sample, alice):
    asked, label, answered = _challenge_with_a_label_between(sample, alice)
    history = sample.history
    challenge_id = asked.event.op.node.id
    reply_id = answered.event.op.nodes[0].id
    assert history.undo_description == "challenge step 2"
    assert [u.description for u in history.undo_stack] == ["generate", "label step 1 wrong", "challenge step 2"]
    assert history.undo_stack[-1].event_ids == (asked.event.id, answered.event.id)
    assert _stacks(_replayed(sample)) == _stacks(history)

    undone = history.undo(alice)
    sample.events.extend(undone)
    # The answer first, then the question; each new event names the one it reverses.
    assert [a.event.reverts for a in undone] == [answered.event.id, asked.event.id]
    assert [a.event.type for a in undone] == ["branch_deleted", "branch_deleted"]
    assert sample.tree.node(challenge_id).deleted and sample.tree.node(reply_id).deleted
    label_id = label.event.op.annotation.id
    assert not sample.tree.annotations[label_id].retracted  # the label committed between stays
    assert (history.undo_description, history.redo_description) == ("label step 1 wrong", "challenge step 2")
    assert _stacks(_replayed(sample)) == _stacks(history)

    redone = history.redo(alice)
    sample.events.extend(redone)
    assert [a.event.reverts for a in redone] == [undone[1].event.id, undone[0].event.id]  # question first
    assert not sample.tree.node(challenge_id).deleted and not sample.tree.node(reply_id).deleted
    assert history.undo_description == "challenge step 2" and not history.can_redo
    replayed = _replayed(sample)
    assert _stacks(replayed) == _stacks(history) and replayed.tree == sample.tree
    # The replayed history undoes the same unit the live one does.
    assert [a.event.reverts for a in replayed.undo(alice)] == [a.event.id for a in reversed(redone)]


def test_an_answer_joins_its_question_after_undo_and_redo(sample, alice):
    s2 = sample.steps()[1]
    ask = build.ask_challenge(sample.tree, s2.id, "Why?", alice)
    sample.do(ask)
    sample.events.extend(sample.history.undo(alice))
    sample.events.extend(sample.history.redo(alice))  # back on the undo stack: the answer joins it
    sample.do(build.challenge_answered(sample.tree, ask.node.id, "Because.", alice, "why", "1"))
    assert [u.description for u in sample.history.undo_stack] == ["generate", "challenge step 2"]
    assert len(sample.history.undo_stack[-1].event_ids) == 2
    assert _stacks(_replayed(sample)) == _stacks(sample.history)


def test_an_answer_to_a_question_already_undone_is_an_action_of_its_own(sample, alice):
    s2 = sample.steps()[1]
    ask = build.ask_challenge(sample.tree, s2.id, "Why?", alice)
    sample.do(ask)
    answer = build.challenge_answered(sample.tree, ask.node.id, "Because.", alice, "why", "1")
    sample.events.extend(sample.history.undo(alice))  # while the answer was still being written
    sample.do(answer)
    history = sample.history
    assert [u.description for u in history.undo_stack] == ["generate", "answer to the challenge of step 2"]
    assert not history.can_redo
    assert _stacks(_replayed(sample)) == _stacks(history)


def test_rollback_takes_back_an_answer_that_could_not_be_stored(sample, alice):
    s1, s2, _ = sample.steps()
    history = sample.history
    ask = build.ask_challenge(sample.tree, s2.id, "Why?", alice)
    sample.do(ask)
    sample.do(build.annotate(sample.tree, s1.id, alice, 1))
    before = _stacks(history)
    answer = build.challenge_answered(sample.tree, ask.node.id, "Because.", alice, "why", "1")
    history.apply(answer, alice)  # storing it fails: the unit is left half written
    changes = history.rollback()
    assert changes.nodes == (answer.nodes[0].id,)
    assert sample.tree.node(answer.nodes[0].id).deleted and not sample.tree.node(ask.node.id).deleted
    assert _stacks(history) == before  # the unit holds the question alone, under the label again
    history.undo(alice)
    assert [a.event.reverts for a in history.undo(alice)] == [sample.events[-2].event.id]


def test_rollback_takes_back_a_whole_undo_of_a_unit(sample, alice):
    asked, _, answered = _challenge_with_a_label_between(sample, alice)
    history = sample.history
    before = _stacks(history)
    history.undo(alice)  # two events; storing them fails
    history.rollback()
    assert _stacks(history) == before
    assert not sample.tree.node(asked.event.op.node.id).deleted
    assert not sample.tree.node(answered.event.op.nodes[0].id).deleted


def test_a_unit_that_no_longer_fits_is_not_redone_by_half(sample, alice):
    from workstation.core.ops import BranchRestored, OperationError, apply

    asked, _, answered = _challenge_with_a_label_between(sample, alice)
    history = sample.history
    history.undo(alice)
    reply_id = answered.event.op.nodes[0].id
    apply(sample.tree, BranchRestored(reply_id, (reply_id,)))  # the tree changed behind the history's back
    before = _stacks(history)
    with pytest.raises(OperationError, match="not deleted"):
        history.redo(alice)  # the question is restored first, then the reply does not fit
    assert sample.tree.node(asked.event.op.node.id).deleted  # the question's restore was taken back
    assert _stacks(history) == before
    with pytest.raises(NothingToUndoError):
        history.rollback()  # nothing was done, so nothing to roll back


def test_replay_drops_what_a_teammate_undid_below_the_top(sample, alice):
    """A merged undo of a label that is not on top of the stacks: the label leaves the stack,
    so undo never retracts it a second time (which would fail)."""
    s1, s2, _ = sample.steps()
    history = sample.history
    first = sample.do(build.annotate(sample.tree, s1.id, alice, -1))
    sample.do(build.annotate(sample.tree, s2.id, alice, 1))
    bob = Reviewer("bob")
    teammate = Event("merged-undo", sample.tree.session.id, AnnotationRetracted(first.event.op.annotation.id),
                     "bob", "annotator", "2026-11-28T10:00:00+00:00", reverts=first.event.id)
    replayed = History.replay([*_events(sample), teammate])
    assert [u.description for u in replayed.undo_stack] == ["generate", "label step 2 right"]
    while replayed.can_undo:
        replayed.undo(bob)
    assert all(a.retracted for a in replayed.tree.annotations.values())
    assert history.can_undo  # the live history is untouched


def test_descriptions_name_what_the_user_did(sample, alice):
    from workstation.core.ops import BranchDeleted, BranchPreferred

    s1, s2, answer = sample.steps()
    tree = sample.tree
    expert = Reviewer("eve", "expert")
    assert sample.history.undo_description == "generate"
    assert build.annotate(tree, s1.id, alice, 0).describe(tree) == "label step 1 neutral"
    assert build.annotate(tree, s1.id, alice, None, "unclear").describe(tree) == "annotate step 1"
    assert build.adjudicate(tree, s1.id, expert, 1, "checked").describe(tree) == "settle step 1 as right"
    assert build.rewrite(tree, answer.id, "Answer: 50", alice).describe(tree) == "rewrite answer 3"
    assert BranchDeleted(s2.id).describe(tree) == "delete branch at step 2"
    raw = "Step 2: 48 + 2 = 50"
    again = build.steps_added(tree, s1.id, raw, split(raw), alice, "cot", "1", critique="12 * 4 is 48")
    assert again.describe(tree) == "regenerate from step 2 with critique"
    sample.do(again)
    new_s2 = again.nodes[0]
    more = "Step 3: so 50"
    assert build.steps_added(tree, new_s2.id, more, split(more), alice, "cot", "1").describe(tree) == (
        "continue after step 2"
    )
    assert BranchPreferred.of(tree, new_s2.id).describe(tree) == "prefer branch at step 2"
    ask = build.ask_challenge(tree, s2.id, "Why?", alice)
    sample.do(ask)
    assert BranchDeleted(ask.node.id).describe(tree) == "delete challenge on step 2"
    assert SessionRenamed("Twelve fours, and then two more of them").describe(tree) == (
        "rename session to 'Twelve fours, and then two more of them'"
    )
    assert SessionRenamed("x" * 60).describe(tree) == f"rename session to '{'x' * 39}…'"
    assert SessionDeleted().describe(tree) == "delete session 'What is 12 * 4 + 2?'"
