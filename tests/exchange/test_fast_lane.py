"""The import's annotation fast lane accepts only what the full path accepts, with the same
result; and bundles mixing it with the full path merge exactly as the full path alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exchange.factory import ADA, BO, Review, rich_review
from workstation.core import ops
from workstation.core.history import History
from workstation.core.ops import AnnotationRetracted, Annotated
from workstation.core.tree import Tree
from workstation.errors import BadInputError
from workstation.exchange import fast_lane
from workstation.exchange.bundle import canonical, parse_event, write_bundle
from workstation.exchange.errors import BundleError
from workstation.exchange.fast_lane import SessionView
from workstation.exchange.keys import KeyStore, TrustedKeys
from workstation.exchange.merge import MemoryTarget, StoreTarget, events_of, import_bundles
from workstation.store import Store
from workstation.store.event_log import event_text

_REVIEW, _NODES = rich_review()
_TREE = _REVIEW.tree
_SID = _TREE.session.id
_BASE = next(e for e in reversed(_REVIEW.events) if e.type == "annotated").to_dict()
_CHALLENGE = next(n for n in _TREE.nodes.values() if n.kind == "challenge")
_REPLY = next(n for n in _TREE.nodes.values() if n.kind == "reply")
_REWRITTEN = _TREE.nodes[_NODES["s1"]]  # two versions
_TEXTS = ["", " ", "x", "fine", 'a "quote"', "back\\slash", "line\nbreak", "tab\t", "é ü 中", "\u2028", "\x7f"]

_EVENT_VALUES: dict[str, list[Any]] = {
    "id": ["", "f" * 32, _BASE["id"], 5, None],
    "session_id": [_SID, "0" * 16, "", 3],
    "reviewer_id": ["ada", "", "x y", 1, None],
    "role": ["annotator", "expert", "ethics_reviewer", "boss", "", None],
    "at": [_BASE["at"], "", "later", 7],
    "reverts": [None, "abc", "", 1],
    "type": ["annotated", "adjudicated", "annotation_retracted", "nonsense"],
}
_ANNOTATION_VALUES: dict[str, list[Any]] = {
    "id": ["e" * 32, "", next(iter(_TREE.annotations)), 4, None],
    "session_id": [_SID, "0" * 16, ""],
    "node_id": [_NODES["s2"], _NODES["t4"], _REWRITTEN.id, _TREE.question_id, _CHALLENGE.id, _REPLY.id, "0" * 16,
                "", 9],
    "version_id": [_REWRITTEN.versions[0].id, _REWRITTEN.versions[1].id, _TREE.nodes[_NODES["s2"]].versions[0].id,
                   _REPLY.versions[0].id, "v", ""],
    "reviewer_id": ["bo", "", 2],
    "role": ["annotator", "expert", "ethics_reviewer", "chief", "", None],
    "created_at": [_BASE["at"], "", 0],
    "label": [-1, 0, 1, None, 2, -2, True, False, "1", 1.0],
    "note": _TEXTS + [None, 3],
    "tags": [[], ["arithmetic error"], ["a", "b"], [""], [" "], ["a", ""], ["x\ny"], [1], "tag", None],
    "severity": [None, "minor", "major", "critical", "huge", "", 1],
    "retracted": [False, True, 0, None],
}


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """An annotated event line with some fields changed, added or removed, and perhaps
    written other than canonically."""
    event = json.loads(json.dumps(_BASE))
    annotation = event["payload"]["annotation"]
    annotation["id"] = "e" * 32  # a new annotation by default
    event["id"] = "f" * 32
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.sampled_from(["event", "annotation", "drop", "extra"]))
        if where == "event":
            name = draw(st.sampled_from(sorted(_EVENT_VALUES)))
            event[name] = draw(st.sampled_from(_EVENT_VALUES[name]))
        elif where == "annotation":
            name = draw(st.sampled_from(sorted(_ANNOTATION_VALUES)))
            annotation[name] = draw(st.sampled_from(_ANNOTATION_VALUES[name]))
        elif where == "drop":
            target = draw(st.sampled_from([event, annotation]))
            target.pop(draw(st.sampled_from(sorted(target))), None)
        else:
            target = draw(st.sampled_from([event, annotation] + ([event["payload"]] if "payload" in event else [])))
            target[draw(st.sampled_from(["zzz", "aaa", "settles"]))] = draw(st.sampled_from([None, 1, "x", []]))
    style = draw(st.sampled_from(["canonical", "canonical", "canonical", "spaced", "ascii", "unsorted"]))
    if style == "canonical":
        return canonical(event)
    if style == "spaced":
        return json.dumps(event, sort_keys=True, ensure_ascii=False)
    if style == "ascii":
        return json.dumps(event, sort_keys=True, separators=(",", ":"))
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _full_path(text: str, tree: Tree) -> Any:
    """What the merge's full path makes of the line against `tree`: the applied event, or the
    error that refuses it."""
    try:
        _value, event = parse_event(Path("b.wsbundle"), 1, text)
    except BundleError as exc:
        return exc
    if event.session_id != tree.session.id:
        return BadInputError("another session")
    try:
        ops.apply(tree, event.op)
    except BadInputError as exc:
        return exc
    return event


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_the_fast_lane_accepts_only_what_the_full_path_accepts_alike(text: str) -> None:
    tree = Tree.from_dict(_TREE.to_dict())
    row = fast_lane.candidate(text)
    if row is not None and not fast_lane.fits(row, SessionView.of_tree(tree), set()):
        row = None
    full = _full_path(text, tree)
    if row is None:
        return  # the full path decides alone, as before
    assert not isinstance(full, Exception), f"the fast lane took a line the full path refuses: {full}"
    assert type(full.op) is Annotated
    # The same annotation, and the line is the very text the store's writer makes of it.
    assert row.annotation() == full.op.annotation
    assert (row.event_id, row.session_id, row.at, row.reviewer_id, row.role) == (
        full.id, full.session_id, full.at, full.reviewer_id, full.role)
    assert full.reverts is None
    assert row.text == text == event_text(full)


def test_the_fast_lane_takes_plain_annotations() -> None:
    """Guards the comparison above against a lane that never takes anything."""
    for e in _REVIEW.events:
        if e.type != "annotated":
            continue
        text = canonical(e.to_dict())
        before = Tree.from_dict(History.replay(_REVIEW.events[: _REVIEW.events.index(e)]).tree.to_dict())
        row = fast_lane.candidate(text)
        assert row is not None and row.annotation() == e.op.annotation
        assert fast_lane.fits(row, SessionView.of_tree(before), set())
        # Already in the session (or taken earlier in the bundle): the full path decides.
        assert not fast_lane.fits(row, SessionView.of_tree(before), {row.annotation_id})
        assert not fast_lane.fits(row, SessionView.of_tree(_TREE), set())


def _mixed_bundles() -> tuple[list[Any], list[list[dict[str, Any]]]]:
    """The lead's two sessions, and two of ada's bundles about them: plain labels (the fast
    lane), labels retracted in the same and in the next bundle, a rewrite then labels of the
    new version, and a label with an escape in its note (the full path)."""
    one, two = Review("What is 12 * 4?"), Review("What is 7 + 5?")
    a = one.generate(["Step 1: 12 * 4 = 48", "Step 2: so 48", "Answer: 48"])
    b = two.generate(["Step 1: 7 + 5 = 12", "Answer: 12"])
    lead = one.events + two.events
    first_start = len(one.events), len(two.events)
    x1 = one.label(a[0], ADA, 1)
    one.label(a[1], ADA, 0, tags=("unclear",))
    one.do(AnnotationRetracted(x1), ADA)
    one.label(a[0], ADA, -1, note='"48" is wrong')
    y1 = two.label(b[0], ADA, 1)
    two.label(b[1], ADA, 1, severity="minor")
    first = one.events[first_start[0]:] + two.events[first_start[1]:]
    second_start = len(one.events), len(two.events)
    two.do(AnnotationRetracted(y1), ADA)  # retracts a label the fast lane took in the first bundle
    two.label(b[0], ADA, -1)
    one.rewrite(a[2], "Answer: forty-eight", ADA)
    one.label(a[2], ADA, 1)
    one.label(a[1], BO, 1)
    second = one.events[second_start[0]:] + two.events[second_start[1]:]
    trees = [one.tree, two.tree]
    return trees, [[e.to_dict() for e in lead], [e.to_dict() for e in first], [e.to_dict() for e in second]]


@pytest.mark.parametrize("store", [True, False], ids=["store", "memory"])
def test_bundles_mixing_both_paths_merge_as_the_reviews_were_made(tmp_path: Path, keystore: KeyStore,
                                                                  trusted: TrustedKeys, store: bool) -> None:
    trees, (lead, first, second) = _mixed_bundles()
    paths = []
    for name, events in (("lead", lead), ("first", first), ("second", second)):
        key = keystore.create(name)
        trusted.trust(key.public)
        write_bundle(tmp_path / f"{name}.wsbundle", events, key)
        paths.append(tmp_path / f"{name}.wsbundle")
    if store:
        with Store.open(tmp_path / "lead.duckdb") as db:
            result = import_bundles(paths, StoreTarget(db), trusted)
            assert result.ok, result.summary()
            assert db.verify_events() == len(lead) + len(first) + len(second)
            loaded = [db.load_session(t.session.id) for t in trees]
            logged = [canonical(e.to_dict()) for e in db.events()]
            assert [b.status for b in import_bundles(paths, StoreTarget(db), trusted).bundles] == ["unchanged"] * 3
    else:
        target = MemoryTarget()
        result = import_bundles(paths, target, trusted)
        assert result.ok, result.summary()
        loaded = [target.trees[t.session.id] for t in trees]
        logged = [canonical(e) for e in events_of(target)]
    assert [b.new_events for b in result.bundles] == [len(lead), len(first), len(second)]
    for tree, made in zip(loaded, trees):
        assert tree.to_dict() == made.to_dict()
        assert list(tree.annotations) == list(made.annotations)  # in the order they were made
    assert sorted(logged) == sorted(canonical(e) for e in lead + first + second)


def test_a_refused_bundle_leaves_the_fast_lanes_view_as_it_was(tmp_path: Path, keystore: KeyStore,
                                                               trusted: TrustedKeys) -> None:
    """A bundle whose last line does not fit is refused whole, after the fast lane took its
    first lines; importing the fixed bundle afterwards takes them all."""
    trees, (lead, first, _second) = _mixed_bundles()
    key = keystore.create("ada")
    trusted.trust(key.public)
    write_bundle(tmp_path / "lead.wsbundle", lead, key)
    bad = json.loads(json.dumps(first))
    bad.append(json.loads(json.dumps(bad[1])) | {"id": "f" * 32})
    bad[-1]["payload"]["annotation"]["node_id"] = "0" * 16
    write_bundle(tmp_path / "bad.wsbundle", bad, key)
    write_bundle(tmp_path / "good.wsbundle", first, key)
    with Store.open(tmp_path / "lead.duckdb") as db:
        target = StoreTarget(db)
        result = import_bundles([tmp_path / "lead.wsbundle", tmp_path / "bad.wsbundle", tmp_path / "good.wsbundle"],
                                target, trusted)
        assert [b.status for b in result.bundles] == ["imported", "refused", "imported"]
        assert f"line {len(bad)}" in result.bundles[1].error
        assert result.bundles[2].new_events == len(first)
        assert db.verify_events() == len(lead) + len(first)


def test_a_reopened_store_takes_a_large_batch(tmp_path: Path, keystore: KeyStore, trusted: TrustedKeys) -> None:
    """Regression: the first write after opening read the log's head with fetchone(), and
    DuckDB 2 then refused the NumPy columns of a batch of 64 rows or more."""
    r = Review()
    steps = r.generate([f"Step {i}: {i} + 1 = {i + 1}" for i in range(1, 40)])
    lead = [e.to_dict() for e in r.events]
    for s in steps:
        r.label(s, ADA, 1)
        r.label(s, BO, 0)
    key = keystore.create("ada")
    trusted.trust(key.public)
    write_bundle(tmp_path / "lead.wsbundle", lead, key)
    write_bundle(tmp_path / "labels.wsbundle", [e.to_dict() for e in r.events], key)
    with Store.open(tmp_path / "lead.duckdb") as db:
        assert import_bundles([tmp_path / "lead.wsbundle"], StoreTarget(db), trusted).ok
    with Store.open(tmp_path / "lead.duckdb") as db:
        result = import_bundles([tmp_path / "labels.wsbundle"], StoreTarget(db), trusted)
        assert result.ok, result.summary()
        assert result.new_events == 2 * len(steps) and db.verify_events() == len(r.events)
        assert db.load_session(r.tree.session.id).to_dict() == r.tree.to_dict()
        # The import ends with a checkpoint: its write-ahead log is folded into the file.
        wal = tmp_path / "lead.duckdb.wal"
        assert not wal.exists() or wal.stat().st_size == 0
