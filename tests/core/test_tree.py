"""Tree queries: paths, alternatives, shown and preferred branches, reviewers' annotations."""

import json

import pytest

from workstation.core import build
from workstation.core.model import Reviewer, SchemaError
from workstation.core.ops import BranchPreferred, BranchShown
from workstation.core.tree import Tree, UnknownIdError


def test_first_chain_is_shown_below_the_question(sample):
    path = sample.tree.shown_path()
    assert [n.kind for n in path] == ["question", "step", "step", "answer"]
    assert [n.position for n in path] == [0, 1, 2, 3]
    assert path[1].text == "Step 1: 12 * 4 = 46"
    assert sample.tree.preferred_path() == path


def test_regenerating_adds_an_alternative_and_shows_it(sample):
    s1, s2, _ = sample.steps()
    sample.generate(s1.id, "Step 2: 48 + 2 = 50\n\nAnswer: 50")
    tree = sample.tree
    alternatives = tree.alternatives(s2.id)
    assert [a.id for a in alternatives][0] == s2.id and len(alternatives) == 2
    new = alternatives[1]
    assert new.position == 2 and new.parent_id == s1.id
    assert [n.text for n in tree.shown_path()][-1] == "Answer: 50"
    assert tree.steps_to(tree.shown_path()[-1].id)[0].id == s1.id


def test_preferred_path_follows_preference_then_shown(sample):
    s1, s2, _ = sample.steps()
    sample.generate(s1.id, "Step 2: 48 + 2 = 50\n\nAnswer: 50")
    sample.do(BranchPreferred.of(sample.tree, s2.id))
    tree = sample.tree
    assert tree.preferred_path()[2].id == s2.id
    assert tree.shown_path()[2].id != s2.id
    assert tree.preferred_child(s1.id).id == s2.id


def test_show_switches_between_alternatives(sample):
    s1, s2, _ = sample.steps()
    sample.generate(s1.id, "Step 2: other")
    sample.do(BranchShown.of(sample.tree, s2.id))
    assert sample.tree.shown_path()[2].id == s2.id


def test_lookups_raise_unknown_id(sample):
    tree = sample.tree
    with pytest.raises(UnknownIdError, match="nope"):
        tree.node("nope")
    with pytest.raises(UnknownIdError):
        tree.chain("nope")
    with pytest.raises(UnknownIdError):
        tree.annotation("nope")


def test_find_by_unique_prefix(sample):
    step = sample.steps()[0]
    assert sample.tree.find(step.id[:10]) == step
    with pytest.raises(UnknownIdError):
        sample.tree.find("")
    with pytest.raises(UnknownIdError):
        sample.tree.find("zzzz")


def test_current_annotations_keep_every_reviewer(sample, alice):
    step = sample.steps()[0]
    bob = Reviewer("bob", "expert")
    sample.do(build.annotate(sample.tree, step.id, alice, -1, "wrong product"))
    sample.history.apply(build.annotate(sample.tree, step.id, bob, 1, "fine by me"), bob)
    sample.do(build.annotate(sample.tree, step.id, alice, 0, "not sure now"))
    current = sample.tree.current_annotations(step.id)
    assert {r: a.label for r, a in current.items()} == {"alice": 0, "bob": 1}
    assert len(sample.tree.annotations_for(step.id)) == 3


def test_challenges_are_children_but_not_in_the_chain(sample, alice):
    step = sample.steps()[0]
    asked = build.ask_challenge(sample.tree, step.id, "Why 46?", alice)
    sample.do(asked)
    sample.do(build.challenge_answered(sample.tree, asked.node.id, "Because 12 * 4 = 48. I was wrong.", alice, "why", "1"))
    tree = sample.tree
    assert [c.id for c in tree.challenges(step.id)] == [asked.node.id]
    assert tree.replies(asked.node.id)[0].text.startswith("Because")
    assert all(n.kind in ("question", "step", "answer") for n in tree.shown_path())
    assert tree.shown_child(step.id).kind == "step"
    assert tree.alternatives(asked.node.id) == [tree.node(asked.node.id)]


def test_subtree_lists_parents_first(sample):
    s1 = sample.steps()[0]
    ids = [n.id for n in sample.tree.subtree(s1.id)]
    assert ids == [n.id for n in sample.steps()]


def test_tree_round_trips_through_json(sample, alice):
    s1, s2, _ = sample.steps()
    sample.do(build.annotate(sample.tree, s1.id, alice, -1, tags=["arithmetic error"]))
    sample.do(build.rewrite(sample.tree, s1.id, "Step 1: 12 * 4 = 48", alice))
    sample.generate(s1.id, "Step 2: 48 + 2 = 50")
    sample.do(BranchPreferred.of(sample.tree, s2.id))
    data = json.loads(json.dumps(sample.tree.to_dict()))
    again = Tree.from_dict(data)
    assert again == sample.tree
    assert again.shown_path() == sample.tree.shown_path()
    assert again.children(s1.id) == sample.tree.children(s1.id)


def test_tree_from_dict_checks_order_and_fields(sample):
    data = sample.tree.to_dict()
    with pytest.raises(SchemaError):
        Tree.from_dict({k: v for k, v in data.items() if k != "nodes"})
    data["nodes"] = [data["nodes"][0]] + data["nodes"][:0:-1]
    with pytest.raises(SchemaError, match="before its parent"):
        Tree.from_dict(data)
    with pytest.raises(SchemaError):
        Tree.from_dict([])


def test_annotation_lookups_follow_additions_made_directly(sample, alice):
    """A store's loader fills `tree.annotations` itself; lookups must still see everything."""
    s1, s2, _ = sample.steps()
    first = build.annotate(sample.tree, s1.id, alice, 1)
    sample.do(first)
    assert [a.id for a in sample.tree.annotations_for(s1.id)] == [first.annotation.id]
    second = build.annotate(sample.tree, s2.id, alice, -1).annotation
    sample.tree.annotations[second.id] = second
    assert sample.tree.annotations_for(s2.id) == [second]
    sample.history.undo(alice)
    assert sample.tree.annotations_for(s1.id) == []
    assert len(sample.tree.annotations_for(s1.id, include_retracted=True)) == 1
    sample.tree.annotations.clear()
    assert sample.tree.annotations_for(s2.id) == []
