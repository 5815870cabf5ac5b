"""Any sequence of operations, undos and redos: replay agrees (tree, undo units and their
descriptions), rollback takes back any one step, and undo walks all the way back."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workstation.core import build
from workstation.core.history import Event, History
from workstation.core.model import Reviewer
from workstation.core.ops import BranchDeleted, BranchPreferred, BranchShown, SessionRenamed, VersionSelected
from workstation.core.splitter import split
from workstation.errors import BadInputError

REVIEWERS = [Reviewer("alice"), Reviewer("bob", "expert"), Reviewer("eve", "ethics_reviewer")]
ACTIONS = ["generate", "annotate", "rewrite", "select", "prefer", "show", "delete", "challenge",
           "reply", "rename", "undo", "redo"]


def _visible(tree):
    return (
        tree.session.title,
        tuple((n.id, n.current_version_id) for n in tree.nodes.values() if not n.deleted),
        tuple(a.id for a in tree.annotations.values() if not a.retracted),
        tuple(n.id for n in tree.shown_path()),
        tuple(n.id for n in tree.preferred_path()),
    )


def _operation(tree, action, pick, text):
    live = [n for n in tree.nodes.values() if not n.deleted]
    steps = [n for n in live if n.kind in ("step", "answer")]
    if action == "generate":
        parents = [n for n in live if n.kind in ("question", "step")]
        parent = pick(parents)
        raw = f"Step 1: {text}\n\nStep 2: 2 + 2 = {len(text)}\n\nAnswer: {text}"
        return build.steps_added(tree, parent.id, raw, split(raw), REVIEWERS[0], "cot", "1")
    if action == "challenge" and steps:
        return build.ask_challenge(tree, pick(steps).id, "why " + text, REVIEWERS[0])
    if action == "reply":
        challenges = [n for n in live if n.kind == "challenge"]
        if challenges:
            return build.challenge_answered(tree, pick(challenges).id, "because " + text, REVIEWERS[0], "why", "1")
    if action == "rename":
        return SessionRenamed("title " + text)
    if not steps:
        return None
    node = pick(steps)
    if action == "annotate":
        return build.annotate(tree, node.id, pick(REVIEWERS), pick([-1, 0, 1]), text)
    if action == "rewrite":
        return build.rewrite(tree, node.id, "rewritten " + text, REVIEWERS[0])
    if action == "select":
        return VersionSelected(node.id, pick(list(node.versions)).id)
    if action == "prefer":
        return BranchPreferred.of(tree, node.id)
    if action == "show":
        return BranchShown.of(tree, node.id)
    if action == "delete":
        return BranchDeleted(pick([n for n in live if n.kind != "question"]).id)
    return None


def _step(history, data):
    """One random action: its events (none when refused or there is nothing to do)."""
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    who = data.draw(st.sampled_from(REVIEWERS), label="reviewer")
    try:
        if action == "undo" and history.can_undo:
            return [a.event for a in history.undo(who)]
        if action == "redo" and history.can_redo:
            return [a.event for a in history.redo(who)]
        if action not in ("undo", "redo"):
            op = _operation(
                history.tree, action, lambda xs: data.draw(st.sampled_from(xs)), data.draw(st.text("abc 12", max_size=6))
            )
            if op is not None:
                return [history.apply(op, who).event]
    except BadInputError:
        pass  # refused (say, a rewrite equal to the current text): nothing changed, no event
    return []


def _stacks(history):
    return history.undo_stack, history.redo_stack, history.undo_description, history.redo_description


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_sessions_replay_and_undo_cleanly(data):
    alice = REVIEWERS[0]
    history, first = History.start(build.start_session("Q?", "cot", "1", alice), alice)
    events = [first.event]
    start = _visible(history.tree)
    for _ in range(data.draw(st.integers(1, 25), label="length")):
        events += _step(history, data)
    replayed = History.replay(Event.from_dict(e) for e in json.loads(json.dumps([e.to_dict() for e in events])))
    assert replayed.tree == history.tree
    # The same units (a challenge's question and answer together), in the same order, same texts.
    assert _stacks(replayed) == _stacks(history)
    # Whatever the next step, when storing it fails rollback puts back what shows and both stacks.
    before = (_visible(history.tree), _stacks(history))
    if _step(history, data):
        history.rollback()
        assert (_visible(history.tree), _stacks(history)) == before
    for h in (history, replayed):
        while h.can_undo:
            h.undo(alice)
    # Navigation is not undone, so compare what navigation does not decide.
    assert _visible(history.tree)[:3] == start[:3]
    assert _visible(replayed.tree) == _visible(history.tree)
