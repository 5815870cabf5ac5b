"""Merging bundles: idempotent, every reviewer's labels side by side, trust, all or nothing,
into memory and into a real DuckDB store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exchange.factory import ADA, BO, Review
from tests.exchange.forge import forge
from workstation.core.history import Event
from workstation.exchange.bundle import canonical, write_bundle
from workstation.exchange.keys import KeyStore, SigningKey, TrustedKeys
from workstation.exchange.merge import MemoryTarget, StoreTarget, import_bundles
from workstation.store import Store


@pytest.fixture
def keys(keystore: KeyStore) -> dict[str, SigningKey]:
    return {name: keystore.create(name) for name in ("lead", "ada", "bo")}


def _team() -> tuple[Review, list[str], list[Event], list[Event]]:
    """A lead's session; ada and bo label the same steps differently, each on their own copy."""
    r = Review()
    nodes = r.generate(["Step 1: 12 * 4 = 48", "Step 2: 48 + 2 = 50", "Answer: 50"])
    base = list(r.events)
    ada = Review.__new__(Review)
    ada.history, ada.events = _copy(r), list(base)
    bo = Review.__new__(Review)
    bo.history, bo.events = _copy(r), list(base)
    for i, n in enumerate(nodes):
        ada.label(n, ADA, 1)
        bo.label(n, BO, -1 if i == 1 else 1, note="48 + 2 is 50, fine" if i == 0 else "")
    return r, nodes, ada.events, bo.events


def _copy(review: Review):
    from workstation.core.history import History

    return History.replay(review.events)


def test_two_reviewers_merge_side_by_side_and_twice_changes_nothing(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    _, nodes, ada_events, bo_events = _team()
    a = tmp_path / "ada.wsbundle"
    b = tmp_path / "bo.wsbundle"
    write_bundle(a, [e.to_dict() for e in ada_events], keys["ada"])
    write_bundle(b, [e.to_dict() for e in bo_events], keys["bo"])
    trusted.trust(keys["ada"].public)
    trusted.trust(keys["bo"].public)
    target = MemoryTarget()
    result = import_bundles([a, b], target, trusted)
    assert result.ok, result.summary()
    assert [x.status for x in result.bundles] == ["imported", "imported"]
    assert result.bundles[1].known_events == 2  # session start and steps came with ada's bundle
    (tree,) = target.trees.values()
    labels = {r: a.label for r, a in tree.current_annotations(nodes[1]).items()}
    assert labels == {"ada": 1, "bo": -1}
    before = dict(target.events)
    again = import_bundles([a, b, a], target, trusted)
    assert [x.status for x in again.bundles] == ["unchanged"] * 3
    assert target.events == before
    assert "already imported" in again.summary()


def test_progress_names_each_bundle_as_it_starts(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    _, _, ada_events, bo_events = _team()
    a, b, bad = tmp_path / "ada.wsbundle", tmp_path / "bo.wsbundle", tmp_path / "bad.wsbundle"
    write_bundle(a, [e.to_dict() for e in ada_events], keys["ada"])
    write_bundle(b, [e.to_dict() for e in bo_events], keys["bo"])
    bad.write_bytes(b"not a bundle")
    trusted.trust(keys["ada"].public)
    trusted.trust(keys["bo"].public)
    seen: list[tuple[int, int, Path]] = []
    result = import_bundles([a, bad, b], MemoryTarget(), trusted, progress=lambda i, n, p: seen.append((i, n, p)))
    assert seen == [(0, 3, a), (1, 3, bad), (2, 3, b)]  # a refused bundle is named too
    assert [x.status for x in result.bundles] == ["imported", "refused", "imported"]


def test_unknown_signer_is_refused_until_trusted(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    _, _, ada_events, _ = _team()
    path = tmp_path / "ada.wsbundle"
    write_bundle(path, [e.to_dict() for e in ada_events], keys["ada"])
    target = MemoryTarget()
    result = import_bundles([path], target, trusted)
    (report,) = result.bundles
    assert report.status == "refused" and target.events == {}
    assert "not in your trusted keys" in report.error and keys["ada"].public.fingerprint in report.error
    assert report.untrusted_key == keys["ada"].public
    result = import_bundles([path], target, trusted, trust_new_signers=True)
    assert result.ok and trusted.is_trusted(keys["ada"].public)


def test_a_known_event_id_with_other_content_refuses_the_bundle(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    _, _, ada_events, _ = _team()
    events = [e.to_dict() for e in ada_events]
    target = MemoryTarget()
    write_bundle(tmp_path / "a.wsbundle", events, keys["ada"])
    assert import_bundles([tmp_path / "a.wsbundle"], target, trusted, trust_new_signers=True).ok
    changed = json.loads(json.dumps(events))
    changed[-1]["payload"]["annotation"]["note"] = "rewritten history"
    changed.append(json.loads(json.dumps(events[-1])) | {"id": "f" * 32})
    changed[-1]["payload"]["annotation"]["id"] = "e" * 32
    data = "".join(canonical(e) + "\n" for e in changed).encode()
    before = dict(target.events)
    result = import_bundles([forge(tmp_path / "b.wsbundle", keys["ada"], data)], target, trusted)
    assert not result.ok and "already in the database with other content" in result.bundles[0].error
    assert target.events == before


def _store_events(store: Store) -> list[str]:
    return [e.id for e in store.events()]


def test_merge_into_a_store_is_all_or_nothing_and_idempotent(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    _, nodes, ada_events, bo_events = _team()
    trusted.trust(keys["ada"].public)
    trusted.trust(keys["bo"].public)
    good = tmp_path / "ada.wsbundle"
    write_bundle(good, [e.to_dict() for e in ada_events], keys["ada"])
    # bo's bundle ends with an annotation of a step that does not exist: it must not half-import.
    bad = [e.to_dict() for e in bo_events]
    bad[-1]["payload"]["annotation"]["node_id"] = "0" * 16
    bad_path = forge(tmp_path / "bo.wsbundle", keys["bo"], "".join(canonical(e) + "\n" for e in bad).encode())
    with Store.open(tmp_path / "lead.duckdb") as store:
        result = import_bundles([good, bad_path], StoreTarget(store), trusted)
        assert [b.status for b in result.bundles] == ["imported", "refused"]
        assert "line 5" in result.bundles[1].error  # its last line; lines 3-4 were fine and are not kept either
        stored = _store_events(store)
        assert stored == [e.id for e in ada_events]  # nothing of bo's
        assert store.verify_events() == len(ada_events)
        again = import_bundles([good], StoreTarget(store), trusted)
        assert again.bundles[0].status == "unchanged"
        assert _store_events(store) == stored
        tree = store.load_session(ada_events[0].session_id)
        assert {r: a.label for r, a in tree.current_annotations(nodes[0]).items()} == {"ada": 1}


def test_merge_two_teammates_into_a_store_side_by_side(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    _, nodes, ada_events, bo_events = _team()
    paths = []
    for name, events in (("ada", ada_events), ("bo", bo_events)):
        write_bundle(tmp_path / f"{name}.wsbundle", [e.to_dict() for e in events], keys[name])
        trusted.trust(keys[name].public)
        paths.append(tmp_path / f"{name}.wsbundle")
    with Store.open(tmp_path / "lead.duckdb") as store:
        result = import_bundles(paths, StoreTarget(store), trusted)
        assert result.ok, result.summary()
        assert len(_store_events(store)) == len(ada_events) + 3
        tree = store.load_session(ada_events[0].session_id)
        assert {r: a.label for r, a in tree.current_annotations(nodes[1]).items()} == {"ada": 1, "bo": -1}
        assert import_bundles(paths, StoreTarget(store), trusted).bundles[0].status == "unchanged"


def test_the_garbage_collector_is_paused_only_while_merging(tmp_path: Path, keys, trusted: TrustedKeys) -> None:
    import gc

    _, _, ada_events, _ = _team()
    a = tmp_path / "ada.wsbundle"
    write_bundle(a, [e.to_dict() for e in ada_events], keys["ada"])
    trusted.trust(keys["ada"].public)
    seen = []

    class Watching(MemoryTarget):
        def commit(self, items, generations, texts):  # noqa: ANN001, ANN201
            seen.append(gc.isenabled())
            return super().commit(items, generations, texts)

    assert gc.isenabled()
    assert import_bundles([a, tmp_path / "missing.wsbundle"], Watching(), trusted).bundles[0].status == "imported"
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a caller that paused it keeps it paused
    try:
        import_bundles([a], Watching(), trusted)
        assert not gc.isenabled()
    finally:
        gc.enable()
