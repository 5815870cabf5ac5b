"""Deleting a session is local: exports and bundles of "all sessions" leave deleted sessions
out, bundles never carry a deletion, and importing skips one an older bundle carries."""

from __future__ import annotations

from pathlib import Path

from tests.exchange.factory import ADA, LEAD, Review
from tests.exchange.forge import forge
from workstation.core import build
from workstation.core.ops import SessionDeleted, SessionRestored
from workstation.exchange.bundle import LOCAL_REASON, bundle_from_store, canonical, read_bundle, write_bundle
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.keys import KeyStore, TrustedKeys
from workstation.exchange.merge import StoreTarget, import_bundles
from workstation.store import Store


def test_all_sessions_skip_deleted_ones(tmp_path: Path, keystore: KeyStore) -> None:
    key = keystore.create("lead")
    with Store.open(tmp_path / "review.duckdb") as store:
        ids = []
        for question in ("Is 7 prime?", "What is 12 * 4?"):
            start = build.start_session(question, "cot", "1", LEAD)
            store.start_session(start, LEAD)
            ids.append(start.session.id)
        kept, gone = ids
        store.apply(gone, SessionDeleted(), LEAD)
        assert [t.session.id for t in ReviewSet.from_store(store).trees] == [kept]
        out = bundle_from_store(store, tmp_path / "all.wsbundle", key)
        assert out.rows == 1  # the kept session's one event
        # Named explicitly, a deleted session still exports, without its deletion.
        named = bundle_from_store(store, tmp_path / "gone.wsbundle", key, session_ids=[gone])
        assert named.rows == 1
        deletion = store.events(gone)[-1]
        assert [(s.session_id, s.item, s.reason) for s in named.skipped] == [(gone, deletion.id, LOCAL_REASON)]
        assert all('"session_deleted"' not in line for line in read_bundle(tmp_path / "gone.wsbundle").lines)


def test_importing_skips_a_bundles_session_deletion(tmp_path: Path, keystore: KeyStore,
                                                    trusted: TrustedKeys) -> None:
    """An older bundle carries a reviewer's deletion (and restoration, and deletion again):
    the importing database keeps the session, the labels around them are imported."""
    key, lead_key = keystore.create("ada"), keystore.create("lead")
    trusted.trust(key.public)
    trusted.trust(lead_key.public)
    r = Review()
    (s1, *_rest) = r.generate(["Step 1: 12 * 4 = 48", "Answer: 50"])
    shared = list(r.events)
    r.label(s1, ADA, 1)
    r.do(SessionDeleted(), ADA)
    r.do(SessionRestored(), ADA)
    r.label(s1, ADA, -1, note="on second thoughts")
    r.do(SessionDeleted(), ADA)
    local = [e for e in r.events if e.type in ("session_deleted", "session_restored")]
    assert len(local) == 3
    data = "".join(canonical(e.to_dict()) + "\n" for e in r.events).encode()
    path = forge(tmp_path / "ada.wsbundle", key, data, manifest={"sessions": [r.tree.session.id]})
    with Store.open(tmp_path / "lead.duckdb") as store:
        write_bundle(tmp_path / "lead.wsbundle", [e.to_dict() for e in shared], lead_key)
        assert import_bundles([tmp_path / "lead.wsbundle"], StoreTarget(store), trusted).ok  # the lead's own
        result = import_bundles([path], StoreTarget(store), trusted)
        assert result.ok, result.summary()
        (report,) = result.bundles
        assert report.new_events == 2
        assert [(s.item, s.reason) for s in result.skipped] == [(e.id, LOCAL_REASON) for e in local]
        assert "left out 3 events (session deletion is local to each database)" in result.summary()
        assert result.to_dict()["skipped"][0]["reason"] == LOCAL_REASON
        assert [s.id for s in store.list_sessions()] == [r.tree.session.id]  # still there
        assert not store.load_session(r.tree.session.id).session.deleted
        assert {e.type for e in store.events()} == {"session_started", "steps_added", "annotated"}
        assert store.verify_events() == len(shared) + 2
        again = import_bundles([path], StoreTarget(store), trusted)
        assert again.bundles[0].status == "unchanged" and len(again.skipped) == 3
