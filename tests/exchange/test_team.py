"""The team round trip of issue 7, as new users would do it, with real databases and keys.

The lead generates a session and sends it out; reviewers A and B (separate databases, separate
keys) import it, label the same chains differently and send bundles back; the lead imports
both, sees both labels, the disagreement queue and the agreement figures, adjudicates, and
exports `trl-stepwise` and `trl-preference` files that load with `datasets`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keyrings.alt.file import PlaintextKeyring

from tests.exchange.factory import ADA, BO, LEAD, MODEL
from workstation.core import build
from workstation.core.splitter import split
from workstation.exchange.agreement import adjudicate, compute_stats, disagreements
from workstation.exchange.bundle import bundle_from_store
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.export import export_from_store
from workstation.exchange.keys import KeyStore, PublicKey, TrustedKeys
from workstation.exchange.merge import StoreTarget, import_bundles
from workstation.exchange.parquet import export_parquet, export_parquet_from_store
from workstation.store import Generation, Store


class Person:
    """One team member: their own database, keyring, key and trusted keys."""

    def __init__(self, root: Path, name: str) -> None:
        backend = PlaintextKeyring()
        backend.file_path = str(root / name / "keyring.cfg")
        self.keys = KeyStore(backend, key_dir=root / name / "keys")
        self.key = self.keys.create(name)
        self.trusted = TrustedKeys(root / name / "trusted.json")
        self.store = Store.open(root / name / "review.duckdb")

    def trust(self, other: Person) -> None:
        # Public keys travel as one line of text (mail, chat), then are trusted.
        self.trusted.trust(PublicKey.from_text(other.key.public.to_text()))


def test_team_round_trip(tmp_path: Path) -> None:
    lead, a, b = Person(tmp_path, "lead"), Person(tmp_path, "ada"), Person(tmp_path, "bo")
    try:
        # The lead generates a session (the engine's output stands in as text here).
        start = build.start_session("A train goes 60 km in 40 minutes. Speed in km/h?", "cot", "1", LEAD)
        lead.store.start_session(start, LEAD)
        sid = start.session.id
        raw = "Step 1: 40 minutes is 2/3 of an hour.\n\nStep 2: 60 / (2/3) = 80\n\nAnswer: 90 km/h\n"
        tree = lead.store.load_session(sid)
        steps = build.steps_added(tree, tree.question_id, raw, split(raw), LEAD, "cot", "1", model=MODEL)
        lead.store.apply(sid, steps, LEAD, generation=Generation(steps.chain.id, MODEL, 98_000_000, "cd" * 32))
        nodes = [n.id for n in steps.nodes]
        out = bundle_from_store(lead.store, tmp_path / "lead.wsbundle", lead.key, signer_role="expert")
        assert out.rows == 2 and out.manifest["models"] == [{"model_file": MODEL, "sha256": "cd" * 32}]

        # Reviewers import the lead's bundle: refused until they trust the lead's key.
        first = import_bundles([tmp_path / "lead.wsbundle"], StoreTarget(a.store), a.trusted)
        assert not first.ok and "not in your trusted keys" in first.bundles[0].error
        for person in (a, b):
            person.trust(lead)
            assert import_bundles([tmp_path / "lead.wsbundle"], StoreTarget(person.store), person.trusted).ok
            assert person.store.generation(steps.chain.id).model_sha256 == "cd" * 32

        # They label the same steps differently.
        for person, reviewer, labels in ((a, ADA, (1, 1, -1)), (b, BO, (1, -1, -1))):
            for node_id, label in zip(nodes, labels):
                tree = person.store.load_session(sid)
                person.store.apply(sid, build.annotate(tree, node_id, reviewer, label, note=f"{reviewer.id} says {label}"),
                                   reviewer)
        tree = a.store.load_session(sid)
        a.store.apply(sid, build.rewrite(tree, nodes[2], "Answer: 80 km/h", ADA), ADA)
        bundle_from_store(a.store, tmp_path / "ada.wsbundle", a.key)
        bundle_from_store(b.store, tmp_path / "bo.wsbundle", b.key)

        # The lead imports both (after trusting their keys), twice: the second time changes nothing.
        lead.trust(a)
        lead.trust(b)
        paths = [tmp_path / "ada.wsbundle", tmp_path / "bo.wsbundle"]
        result = import_bundles(paths, StoreTarget(lead.store), lead.trusted)
        assert result.ok, result.summary()
        assert [r.new_events for r in result.bundles] == [4, 3]
        count = lead.store.verify_events()
        assert [r.status for r in import_bundles(paths, StoreTarget(lead.store), lead.trusted).bundles] == \
            ["unchanged", "unchanged"]
        assert lead.store.verify_events() == count

        # Both labels side by side; the disagreement queue; agreement figures.
        tree = lead.store.load_session(sid)
        assert {r: x.label for r, x in tree.current_annotations(nodes[1]).items()} == {"ada": 1, "bo": -1}
        reviews = ReviewSet.from_store(lead.store)
        queue = disagreements(reviews)
        assert [d.node_id for d in queue] == [nodes[1]]
        stats = compute_stats(reviews)
        assert set(stats["reviewers"]) == {"ada", "bo"}
        assert stats["agreement"]["cohen_kappa_pairs"][0]["units"] == 3
        assert stats["models"][MODEL] == {"labelled_steps": 1, "wrong": 0, "error_rate": 0.0}  # 2 ties, 3 rewritten
        json.dumps(stats)

        # The lead (an expert) adjudicates: an event with reviewer and reason.
        lead.store.apply(sid, adjudicate(tree, nodes[1], LEAD, 1, "60 / (2/3) is 90, but the step's method is right"),
                         LEAD)
        assert disagreements(ReviewSet.from_store(lead.store)) == []
        assert lead.store.events(sid)[-1].type == "adjudicated"

        # Exports load with datasets, with TRL's fields.
        stepwise = export_from_store(lead.store, "trl-stepwise", tmp_path / "prm.jsonl", neutral="false")
        preference = export_from_store(lead.store, "trl-preference", tmp_path / "dpo.jsonl", style="standard")
        assert stepwise.rows == 1 and preference.rows == 1
        datasets = pytest.importorskip("datasets")
        prm = datasets.load_dataset("json", data_files=str(tmp_path / "prm.jsonl"), split="train",
                                    cache_dir=str(tmp_path / "hf"))
        assert prm.column_names == ["prompt", "completions", "labels"]
        # Step 3 is ada's rewrite (counted right); bo's -1 was on the model's text.
        assert prm[0]["labels"] == [True, True, True]
        assert prm[0]["completions"][2] == "Answer: 80 km/h"
        dpo = datasets.load_dataset("json", data_files=str(tmp_path / "dpo.jsonl"), split="train",
                                    cache_dir=str(tmp_path / "hf"))
        assert dpo[0]["chosen"].strip() == "Answer: 80 km/h" and dpo[0]["rejected"].strip() == "Answer: 90 km/h"
    finally:
        for person in (lead, a, b):
            person.store.close()


def test_parquet_copies_every_table(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    with Store.open(tmp_path / "db.duckdb") as store:
        start = build.start_session("Q?", "cot", "1", LEAD)
        store.start_session(start, LEAD)
        import duckdb

        path = store.path
    con = duckdb.connect(str(path), read_only=True)
    try:
        result = export_parquet(con, tmp_path / "tables")
    finally:
        con.close()
    names = {p.name for p in result.files}
    assert {"sessions.parquet", "nodes.parquet", "events.parquet"} <= names
    # No annotations yet: an empty table gets no file (datasets refuses one) and is listed.
    assert "annotations.parquet" not in names and not (tmp_path / "tables" / "annotations.parquet").exists()
    assert pq.read_table(tmp_path / "tables" / "sessions.parquet").num_rows == 1
    manifest = json.loads((tmp_path / "tables" / "tables.parquet.manifest.json").read_text())
    assert manifest["tables"]["events"] == 1 and manifest["tables"]["sessions"] == 1
    assert "annotations" in manifest["empty_tables"]
    with Store.open(path) as store:
        via_store = export_parquet_from_store(store, tmp_path / "via-store")
    assert {p.name for p in via_store.files} >= {"sessions.parquet", "events.parquet"}
    assert via_store.manifest["tables"]["events"] == 1
    assert pq.read_table(tmp_path / "via-store" / "events.parquet").num_rows == 1
