"""Exports and bundles of "all sessions" leave deleted sessions out."""

from __future__ import annotations

from pathlib import Path

from tests.exchange.factory import LEAD
from workstation.core import build
from workstation.core.ops import SessionDeleted
from workstation.exchange.bundle import bundle_from_store
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.keys import KeyStore
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
        # Named explicitly, a deleted session still exports (with its deletion).
        assert bundle_from_store(store, tmp_path / "gone.wsbundle", key, session_ids=[gone]).rows == 2
