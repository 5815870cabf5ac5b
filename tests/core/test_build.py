"""Builders: ids, versions, checks and confidences filled in for the use cases."""

import json

import pytest

from workstation.core import build
from workstation.core.checks import StepConfidence, step_confidences
from workstation.core.history import Event, History
from workstation.core.model import Reviewer
from workstation.core.ops import BranchPreferred
from workstation.core.prompts import builtin_templates_dir, challenge_prompt, load_templates, regenerate_prompt
from workstation.core.splitter import SPLITTER_NAME, SPLITTER_VERSION, StreamSplitter, split
from workstation.errors import BadInputError


def test_start_session(alice):
    op = build.start_session("  What is 2+2?\nShow work.", "cot", "1", alice, at="2026-01-01T00:00:00+00:00")
    assert op.session.title == "What is 2+2?" and op.session.role == "annotator"
    assert op.question.text == "  What is 2+2?\nShow work."
    same = build.start_session("  What is 2+2?\nShow work.", "cot", "1", alice, at="2026-01-01T00:00:00+00:00")
    assert same == op  # ids come from content: the same input gives the same ids
    long = build.start_session("x" * 200, "cot", "1", alice)
    assert len(long.session.title) == 80
    assert build.start_session("q", "cot", "1", alice, title="Mine").session.title == "Mine"
    with pytest.raises(BadInputError, match="empty"):
        build.start_session(" \n", "cot", "1", alice)


def test_steps_added_records_splitter_template_checks_and_confidence(sample, alice):
    raw = "Step 1: 7 * 8 = 54\n\nAnswer: 54"
    steps = split(raw)
    conf = [StepConfidence(-2.0, 0.5, 7), None]
    op = build.steps_added(sample.tree, sample.tree.question_id, raw, steps, alice, "cot", "3",
                           model="m.gguf", finish_reason="stop", confidences=conf, show=False)
    chain = op.chain
    assert (chain.splitter_name, chain.splitter_version) == (SPLITTER_NAME, SPLITTER_VERSION)
    assert (chain.template_name, chain.template_version, chain.kind, chain.model) == ("cot", "3", "regenerate", "m.gguf")
    first, answer = op.nodes
    assert first.kind == "step" and answer.kind == "answer" and answer.position == 2
    assert [f.check for f in first.current.flags] == ["arithmetic", "low_confidence"]
    assert first.current.token_count == 7 and answer.current.mean_logprob is None
    assert first.current.raw == "Step 1: 7 * 8 = 54\n\n" and first.current.text == "Step 1: 7 * 8 = 54"
    shown_before = sample.tree.shown_path()
    sample.do(op)
    assert sample.tree.shown_path() == shown_before  # show=False: a second chain in the background
    with pytest.raises(ValueError):
        build.steps_added(sample.tree, sample.tree.question_id, raw + "x", steps, alice, "cot", "1")


def test_a_regenerated_step_repeating_an_earlier_one_is_flagged(sample, alice):
    s1 = sample.steps()[0]
    raw = "Step 1: 12 * 4 = 46\n\nMore."
    op = build.steps_added(sample.tree, s1.id, raw, split(raw), alice, "cot", "1")
    assert "repeats step 1" in op.nodes[0].current.flags[-1].message
    assert op.chain.kind == "regenerate" and op.nodes[0].position == 2


def test_regenerate_parent(sample, alice):
    s1, s2, answer = sample.steps()
    assert build.regenerate_parent(sample.tree, s1.id) == sample.tree.question_id
    asked = build.ask_challenge(sample.tree, s1.id, "why?", alice)
    sample.do(asked)
    with pytest.raises(BadInputError):
        build.regenerate_parent(sample.tree, asked.node.id)


def test_rewrite_annotate_challenge_validate_input(sample, alice):
    s1 = sample.steps()[0]
    with pytest.raises(BadInputError, match="empty"):
        build.rewrite(sample.tree, s1.id, "  ", alice)
    with pytest.raises(BadInputError, match="-1, 0 or 1"):
        build.annotate(sample.tree, s1.id, alice, 5)
    with pytest.raises(BadInputError, match="-1, 0 or 1"):
        build.annotate(sample.tree, s1.id, alice, True)
    with pytest.raises(BadInputError, match="question"):
        build.ask_challenge(sample.tree, s1.id, " ", alice)
    with pytest.raises(BadInputError, match="no step"):
        build.rewrite(sample.tree, "nope", "x", alice)
    op = build.annotate(sample.tree, s1.id, alice, 1, " ok ", ["unsafe", " unsafe", "", "irrelevant"], "minor")
    assert op.annotation.tags == ("unsafe", "irrelevant") and op.annotation.note == "ok"
    rewritten = build.rewrite(sample.tree, s1.id, "  12 * 4 = 46  ", alice)
    assert rewritten.version.text == "12 * 4 = 46" and rewritten.version.flags[0].check == "arithmetic"


def test_scripted_review_as_a_new_user_would(alice):
    """Generate, label two steps, rewrite one, regenerate with a critique, challenge another,
    then everything (versions, labels, flags, both branches) is in the JSON of the tree and of
    the events, and replaying the events gives the same tree."""
    templates = load_templates(builtin_templates_dir())
    cot, why = templates["chain-of-thought"], templates["why"]
    bob = Reviewer("bob", "expert")
    history, first = History.start(
        build.start_session("A train goes 60 km in 1.5 hours. What is its speed?", cot.name, cot.version, alice), alice
    )
    events = [first.event]
    tree = history.tree

    def do(op, who=alice):
        events.append(history.apply(op, who).event)

    raw = "Step 1: Speed is distance over time.\n\nStep 2: 60 / 1.5 = 6.0\n\nAnswer: 6.0 km/h"
    splitter = StreamSplitter()
    for i in range(0, len(raw), 5):
        splitter.feed(raw[i:i + 5])
    splitter.finish()
    tokens = [(raw[i:i + 3], -0.3) for i in range(0, len(raw), 3)]
    confidences = step_confidences(tokens, [s.end for s in splitter.steps])
    do(build.steps_added(tree, tree.question_id, raw, splitter.steps, alice, cot.name, cot.version,
                         confidences=confidences, model="SmolLM2-135M-Instruct.Q4_1.gguf"))
    s1, s2, answer = tree.shown_path()[1:]
    assert s2.current.flags[0].message == "60 / 1.5 is 40, not 6.0"
    do(build.annotate(tree, s1.id, alice, 1))
    do(build.annotate(tree, s2.id, alice, -1, "wrong division", ["arithmetic error"], "major"))
    do(build.annotate(tree, s2.id, bob, -1, "agree"), bob)
    do(build.rewrite(tree, s2.id, "Step 2: 60 / 1.5 = 40", alice))
    assert tree.node(s2.id).current.flags == ()
    prompt = regenerate_prompt(cot, tree, s2.id, critique="60 / 1.5 is 40, not 6.0")
    assert prompt.assistant_pieces == (s1.current.raw,)
    regenerated = "Step 2: 60 / 1.5 = 40\n\nAnswer: 40 km/h"
    do(build.steps_added(tree, build.regenerate_parent(tree, s2.id), regenerated, split(regenerated), alice,
                         cot.name, cot.version, critique="60 / 1.5 is 40, not 6.0"))
    new_s2 = tree.shown_path()[2]
    do(BranchPreferred.of(tree, new_s2.id))
    challenge = challenge_prompt(cot, why, tree, s1.id, "Why is speed distance over time?")
    assert challenge.messages[2]["content"] == "Step 1: Speed is distance over time."
    asked = build.ask_challenge(tree, s1.id, "Why is speed distance over time?", alice)
    do(asked)
    do(build.challenge_answered(tree, asked.node.id, "By definition, speed is distance per unit time.",
                                alice, why.name, why.version))

    shown = json.loads(json.dumps(tree.to_dict()))
    nodes = {n["id"]: n for n in shown["nodes"]}
    assert [v["origin"] for v in nodes[s2.id]["versions"]] == ["model", "rewrite"]
    assert {a["reviewer_id"] for a in shown["annotations"]} == {"alice", "bob"}
    assert nodes[s2.id]["versions"][0]["flags"][0]["check"] == "arithmetic"
    assert len([n for n in shown["nodes"] if n["parent_id"] == s1.id and n["kind"] == "step"]) == 2
    assert shown["preferred"] == {s1.id: new_s2.id}
    assert [n["kind"] for n in shown["nodes"]].count("reply") == 1
    assert [c["critique"] for c in shown["chains"]] == [None, "60 / 1.5 is 40, not 6.0", None]
    replayed = History.replay(Event.from_dict(e) for e in json.loads(json.dumps([e.to_dict() for e in events])))
    assert replayed.tree == tree


def test_regenerating_step_one_is_a_regeneration(sample, alice):
    raw = "Step 1: 12 * 4 = 48"
    op = build.steps_added(sample.tree, sample.tree.question_id, raw, split(raw), alice, "cot", "1")
    assert op.chain.kind == "regenerate" and op.describe(sample.tree) == "regenerate from step 1"


def test_critique_from_notes(sample, alice):
    s1 = sample.steps()[0]
    bob = Reviewer("bob", "expert")
    assert build.critique_from_notes(sample.tree, s1.id) is None
    sample.do(build.annotate(sample.tree, s1.id, alice, -1, "12 * 4 is 48"))
    sample.history.apply(build.annotate(sample.tree, s1.id, bob, -1, "check the product"), bob)
    sample.do(build.annotate(sample.tree, s1.id, alice, -1))
    assert build.critique_from_notes(sample.tree, s1.id) == "check the product"
    assert build.critique_from_notes(sample.tree, s1.id, "alice") == "12 * 4 is 48"


def test_confidences_shaped_like_the_engines_are_accepted(sample, alice):
    from types import SimpleNamespace

    raw = "Step 1: x"
    engine_like = SimpleNamespace(n_tokens=4, mean_logprob=-0.1, min_token_prob=0.5)
    op = build.steps_added(sample.tree, sample.tree.question_id, raw, split(raw), alice, "cot", "1",
                           confidences=[engine_like])
    version = op.nodes[0].current
    assert (version.token_count, version.mean_logprob, version.min_token_prob) == (4, -0.1, 0.5)
