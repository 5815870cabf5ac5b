"""Ids: content-derived ones are stable and distinct, event ids are unique."""

from workstation.core import ids


def test_content_ids_are_stable_and_short():
    a = ids.node_id("chain", 1, "Step 1: x")
    assert a == ids.node_id("chain", 1, "Step 1: x")
    assert len(a) == ids.ID_LENGTH and int(a, 16) >= 0


def test_content_ids_differ_by_every_part():
    base = ids.node_id("chain", 1, "text")
    assert base != ids.node_id("chain", 2, "text")
    assert base != ids.node_id("chain2", 1, "text")
    assert base != ids.node_id("chain", 1, "text ")


def test_parts_are_joined_unambiguously():
    assert ids.content_id("k", "ab", "c") != ids.content_id("k", "a", "bc")


def test_kinds_separate_equal_parts():
    assert ids.content_id("node", "x") != ids.content_id("chain", "x")


def test_event_ids_are_unique():
    assert len({ids.event_id() for _ in range(1000)}) == 1000


def test_lone_surrogates_do_not_crash():
    assert len(ids.content_id("k", "\ud800")) == ids.ID_LENGTH
