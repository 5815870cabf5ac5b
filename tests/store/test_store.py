"""The store end to end on real files: every operation, exact restore, search, the audit log."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from workstation.core.history import History
from workstation.core.model import Annotation, Chain, Flag, Node, Session, TagVocabulary, Version
from workstation.core.ops import (
    BranchDeleted,
    BranchPreferred,
    BranchShown,
    SessionDeleted,
    SessionRenamed,
    SessionRestored,
)
from workstation.errors import BadInputError
from workstation.store import (
    DuplicateEventError,
    EventLogError,
    ReadOnlyStoreError,
    Store,
    UnknownIdError,
)
from workstation.store import event_log, migrations, writer

from . import factory as f
from .factory import ADA, BO


def _review(store: Store) -> str:
    """A session with every kind of operation; returns its id."""
    session_id = store.start_session(f.start(), ADA).event.session_id
    tree = store.history(session_id).tree
    first = f.steps(tree, tree.question_id, ["12 * 4 = 46", "So the answer is 46", "Answer: 46"])
    store.apply(session_id, first, ADA, generation=f.generation(first))
    s1, s2, _ = first.chain.node_ids
    store.apply(session_id, f.annotate(tree, s1, ADA, -1, "wrong product", ("arithmetic error",), "major"), ADA)
    store.apply(session_id, f.annotate(tree, s1, BO, 0, "", ("unclear",)), BO)
    store.apply(session_id, f.rewrite(tree, s1, "12 * 4 = 48"), ADA)
    ask = f.challenge(tree, s2, "Why 46?", BO)
    store.apply(session_id, ask, BO)
    store.apply(session_id, f.reply(tree, ask.node.id, "Because 12 * 4 = 46."), BO)
    again = f.steps(tree, s1, ["So the answer is 48", "Answer: 48"])
    store.apply(session_id, again, ADA, generation=f.generation(again))
    store.apply(session_id, BranchPreferred.of(tree, again.chain.node_ids[0]), ADA)
    store.apply(session_id, BranchShown.of(tree, s2), ADA)
    store.apply(session_id, f.annotate(tree, again.chain.node_ids[1], BO, 1, tags=("good insight",)), BO)
    third = f.steps(tree, s1, ["Let me guess", "Answer: 50"])
    store.apply(session_id, third, ADA)
    store.apply(session_id, BranchDeleted(third.chain.node_ids[0]), ADA)
    store.undo(session_id, ADA)  # brings the deleted branch back
    store.redo(session_id, ADA)  # and deletes it again
    store.apply(session_id, SessionRenamed("Multiplication"), ADA)
    return session_id


def test_every_operation_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "review.duckdb"
    with Store.open(path) as store:
        session_id = _review(store)
        live = store.history(session_id).tree.to_dict()
        events = store.events(session_id)
        assert store.load_session(session_id).to_dict() == live
    with Store.open(path) as store:
        restored = store.load_session(session_id)
        assert restored.to_dict() == live
        assert restored.session.title == "Multiplication"
        assert restored.shown and len(restored.preferred) == 1
        assert [n.id for n in restored.preferred_path()] != [n.id for n in restored.shown_path()]
        # Opened from the tables, undo starts afresh; replaying the log restores the stacks.
        assert not store.history(session_id).can_undo
        history = store.history(session_id, replay=True)
        assert history.tree.to_dict() == live
        assert history.can_undo and history.undo_description == "rename session to 'Multiplication'"
        assert [e.to_dict() for e in store.events(session_id)] == [e.to_dict() for e in events]
        assert store.verify_events() == len(events) == 16
        store.undo(session_id, ADA)
        assert store.load_session(session_id).session.title != "Multiplication"


def test_generations_are_stored_with_every_parameter(tmp_path: Path) -> None:
    with Store.open(tmp_path / "g.duckdb") as store:
        session_id = store.start_session(f.start(), ADA).event.session_id
        tree = store.history(session_id).tree
        op = f.steps(tree, tree.question_id, ["a", "b"])
        record = f.generation(op)
        store.apply(session_id, op, ADA, generation=record)
        assert store.generation(op.chain.id) == record
        assert store.generation("nope") is None


def test_bad_operation_changes_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "bad.duckdb") as store:
        session_id = store.start_session(f.start(), ADA).event.session_id
        tree = store.history(session_id).tree
        before = len(store.events())
        with pytest.raises(BadInputError):
            store.apply(session_id, f.rewrite(tree, tree.question_id, "x"), ADA)
        with pytest.raises(UnknownIdError):
            store.apply("no-such-session", SessionRenamed("x"), ADA)
        with pytest.raises(UnknownIdError):
            store.load_session("no-such-session")
        assert len(store.events()) == before


def test_event_log_keeps_deleted_branches_and_detects_tampering(tmp_path: Path) -> None:
    path = tmp_path / "audit.duckdb"
    with Store.open(path) as store:
        session_id = _review(store)
        kinds = [e.type for e in store.events(session_id)]
        assert kinds.count("branch_deleted") == 2 and "branch_restored" in kinds
        # Deleted nodes stay in the tables too, marked deleted.
        tree = store.load_session(session_id)
        assert any(n.deleted for n in tree.nodes.values())
    con = duckdb.connect(str(path))
    con.execute("UPDATE events SET data = replace(data, 'Why 46?', 'Why 48?') WHERE kind = 'challenge_asked'")
    con.close()
    with Store.open(path) as store, pytest.raises(EventLogError, match="altered at event"):
        store.verify_events()


def test_record_is_idempotent_and_refuses_conflicting_duplicates(tmp_path: Path) -> None:
    with Store.open(tmp_path / "dup.duckdb") as store:
        session_id = store.start_session(f.start(), ADA).event.session_id
        history = History.replay(store.events(session_id))
        tree = history.tree
        op = f.steps(tree, tree.question_id, ["a", "Answer: b"])
        applied = history.apply(op, ADA)
        assert store.record(tree, applied) is True
        assert store.record(tree, applied) is False
        changed = dataclasses.replace(applied.event, at="2030-01-01T00:00:00.000000+00:00")
        with pytest.raises(DuplicateEventError, match=applied.event.id):
            store.record(tree, dataclasses.replace(applied, event=changed))
        assert len(store.events(session_id)) == 2
        assert store.load_session(session_id).to_dict() == tree.to_dict()
        store.verify_events()


def test_sessions_list_and_search(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        first = _review(store)
        other = store.start_session(f.start("Is the sky green?", BO), BO).event.session_id
        tree = store.history(other).tree
        op = f.steps(tree, tree.question_id, ["The sky is blue", "Answer: no"], BO, model="gemma-3-270m")
        store.apply(other, op, BO)
        store.apply(other, f.annotate(tree, op.chain.node_ids[0], BO, 1, tags=("good insight",)), BO)

        sessions = store.list_sessions()
        assert [s.id for s in sessions] == [other, first]
        assert sessions[0].steps == 2 and sessions[0].annotations == 1
        assert sessions[0].models == ("gemma-3-270m",)
        assert sessions[1].title == "Multiplication" and sessions[1].steps == 5

        assert {h.session_id for h in store.search("SKY")} == {other}
        assert [h.kind for h in store.search("sky", model="gemma")] == ["step"]
        assert store.search("sky", model="smollm") == []
        by_hash = store.search(model="ab" * 32)  # the generation records' SHA-256
        assert by_hash and {h.session_id for h in by_hash} == {first}
        wrong = store.search(label=-1)
        assert [h.text for h in wrong] == ["12 * 4 = 48"]  # the current (rewritten) text
        assert {h.session_id for h in store.search(tag="good insight")} == {first, other}
        assert {h.session_id for h in store.search(tag="good insight", reviewer="bo", text="48")} == {first}
        assert store.search(reviewer="nobody") == []
        # A deleted branch is found only when asked for.
        assert store.search("guess") == []
        assert [h.deleted for h in store.search("guess", include_deleted=True)] == [True]
        with pytest.raises(BadInputError):
            store.search(label=2)


def test_latest_annotation_per_reviewer_is_what_search_sees(tmp_path: Path) -> None:
    with Store.open(tmp_path / "l.duckdb") as store:
        sid = store.start_session(f.start(), ADA).event.session_id
        tree = store.history(sid).tree
        op = f.steps(tree, tree.question_id, ["12 * 4 = 46", "Answer: 46"])
        store.apply(sid, op, ADA)
        step = op.chain.node_ids[0]
        store.apply(sid, f.annotate(tree, step, ADA, 1), ADA)
        store.apply(sid, f.annotate(tree, step, ADA, -1), ADA)  # Ada changed her mind
        store.apply(sid, f.annotate(tree, step, BO, 1), BO)  # Bo's label stands beside hers
        assert [h.node_id for h in store.search(label=-1, reviewer="ada")] == [step]
        assert store.search(label=1, reviewer="ada") == []
        assert [h.node_id for h in store.search(label=1)] == [step]
        store.undo(sid, BO)  # retracts Bo's label
        assert store.search(label=1) == []
        assert len(store.load_session(sid).annotations) == 3


def test_reviewers_and_tags(tmp_path: Path) -> None:
    with Store.open(tmp_path / "r.duckdb") as store:
        assert store.tags().tags[0] == "arithmetic error"
        store.add_reviewer(ADA, public_key="ed25519:abc")
        store.start_session(f.start(), BO)
        assert {r.id for r in store.reviewers()} == {"ada", "bo"}
        assert store.public_key("ada") == "ed25519:abc" and store.public_key("bo") is None
        store.set_tags(TagVocabulary(("a", "b")))
        assert store.tags().tags == ("a", "b")
        store.set_tags(TagVocabulary(()))
        assert store.tags().tags == ()


def test_read_only_store_refuses_changes(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    with Store.open(path) as store:
        session_id = store.start_session(f.start(), ADA).event.session_id
    with Store.open(path, read_only=True) as store:
        assert store.read_only and not store.snapshot
        assert store.load_session(session_id).session.id == session_id
        with pytest.raises(ReadOnlyStoreError):
            store.apply(session_id, SessionRenamed("x"), ADA)


# The core's records and the columns the store writes; a field added to the core without a
# column (and a migration) would be silently lost on restore, so this test names it.
_RENAMED = {"check": "check_name", "start": "span_start", "end": "span_end"}
_NOT_COLUMNS = {"versions", "flags", "current"}


@pytest.mark.parametrize(
    ("record", "table"),
    [(Session, "sessions"), (Node, "nodes"), (Version, "versions"), (Flag, "flags"),
     (Chain, "chains"), (Annotation, "annotations")],
)  # fmt: skip
def test_every_core_field_has_a_column(record: type, table: str) -> None:
    columns = {name for name, _ in writer.COLUMNS[table]}
    missing = [
        field.name
        for field in dataclasses.fields(record)
        if field.name not in _NOT_COLUMNS and _RENAMED.get(field.name, field.name) not in columns
    ]
    assert not missing, f"{record.__name__} fields with no column in {table}: {missing}"


def test_record_batch_is_one_transaction_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "batch.duckdb"
    with Store.open(path) as store:
        history, first = History.start(f.start(), ADA)
        tree = history.tree
        items = [(tree, first)]
        op = f.steps(tree, tree.question_id, ["a", "b", "Answer: c"])
        items.append((tree, history.apply(op, ADA)))
        for node_id in op.chain.node_ids:
            items.append((tree, history.apply(f.annotate(tree, node_id, BO, 1), BO)))
        assert store.record_batch(items, [(tree.session.id, f.generation(op))]) == 5
        assert store.record_batch(items) == 0  # the same bundle again changes nothing
        assert store.load_session(tree.session.id).to_dict() == tree.to_dict()
        assert store.generation(op.chain.id) == f.generation(op)
        # One bad event refuses the whole batch.
        more = history.apply(SessionRenamed("new"), ADA)
        bad = dataclasses.replace(items[1][1], event=dataclasses.replace(items[1][1].event, role="annotator"))
        with pytest.raises(DuplicateEventError):
            store.record_batch([(tree, more), (tree, bad)])
        assert len(store.events()) == 5
        assert store.verify_events() == 5
        assert store.record_batch([(tree, more)]) == 1
        assert store.load_session(tree.session.id).session.title == "new"


def test_export_tables_writes_parquet_while_open(tmp_path: Path) -> None:
    with Store.open(tmp_path / "p.duckdb") as store:
        _review(store)
        counts = store.export_tables(tmp_path / "tables")
        assert counts["events"] == 16 and counts["schema_version"] == migrations.CURRENT
        assert {p.stem for p in (tmp_path / "tables").iterdir()} == set(counts)
        con = duckdb.connect()
        try:
            rows = con.execute(
                "SELECT count(*) FROM read_parquet(?)", [str(tmp_path / "tables" / "nodes.parquet")]
            ).fetchone()
        finally:
            con.close()
        assert rows == (counts["nodes"],)


def test_undo_and_redo_work_in_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "undo.duckdb"
    with Store.open(path) as store:
        sid = store.start_session(f.start(), ADA).event.session_id
        tree = store.history(sid).tree
        op = f.steps(tree, tree.question_id, ["a", "Answer: b"])
        store.apply(sid, op, ADA)
        store.apply(sid, f.annotate(tree, op.chain.node_ids[0], ADA, -1), ADA)
    with Store.open(path) as store:  # as a second CLI command would
        (undone,) = store.undo(sid, ADA)
        assert undone.event.type == "annotation_retracted"
        assert undone.event.reverts is not None
    with Store.open(path) as store:
        assert [a.event.type for a in store.redo(sid, ADA)] == ["annotation_restored"]
        assert [a.retracted for a in store.load_session(sid).annotations.values()] == [False]


def test_locate_finds_a_node_by_a_unique_prefix(tmp_path: Path) -> None:
    with Store.open(tmp_path / "loc.duckdb") as store:
        sid = store.start_session(f.start(), ADA).event.session_id
        tree = store.history(sid).tree
        op = f.steps(tree, tree.question_id, ["a", "b", "c", "d", "Answer: e"])
        store.apply(sid, op, ADA)
        step = op.chain.node_ids[2]
        assert store.locate(step) == (sid, step)
        others = [n for n in tree.nodes if n != step]
        prefix = next(step[:k] for k in range(1, 17) if not any(o.startswith(step[:k]) for o in others))
        assert store.locate(prefix) == (sid, step)
        with pytest.raises(UnknownIdError, match="no step"):
            store.locate("zzzz")
        with pytest.raises(UnknownIdError):
            store.locate("")


def test_event_texts_and_events_by_type(tmp_path: Path) -> None:
    """`event_texts` gives the stored (hashed) text unparsed; `events(types=...)` filters."""
    with Store.open(tmp_path / "t.duckdb") as store:
        session_id = _review(store)
        events = store.events(session_id)
        texts = store.event_texts([session_id, "no such session"])
        assert texts == {e.id: (session_id, event_log.event_text(e)) for e in events}
        assert store.event_texts([]) == {}
        kinds = {e.type for e in events}
        for kind in kinds:
            assert store.events(session_id, types=(kind,)) == [e for e in events if e.type == kind]
        assert store.events(types=("adjudicated",)) == []


def test_record_batch_of_a_whole_review_restores_it(tmp_path: Path) -> None:
    """Every kind of change in one batch (rewrites, branch choices, undo's retraction, one
    session in two tree objects) is written as the trees hold it."""
    from workstation.core import ops
    from workstation.core.history import Applied
    from workstation.core.ops import Changes, SessionStarted

    with Store.open(tmp_path / "a.duckdb") as source:
        session_id = _review(source)
        live = source.history(session_id).tree.to_dict()
        events = source.events(session_id)
    items = []
    tree = None
    for event in events:
        if isinstance(event.op, SessionStarted):
            tree = event.op.start()
            changes = Changes(nodes=(tree.question_id,), session=True)
        else:
            changes = ops.apply(tree, event.op).changes
        items.append((tree, Applied(event, changes)))
    half = len(items) // 2
    with Store.open(tmp_path / "b.duckdb") as store:
        # The first half through a copy of the tree as it was then: two tree objects.
        copy = History.replay(events[:half]).tree
        batch = [(copy, applied) for _, applied in items[:half]] + items[half:]
        assert store.record_batch(batch) == len(events)
        assert store.load_session(session_id).to_dict() == live
        assert store.verify_events() == len(events)
        assert store.record_batch(batch) == 0


def test_a_large_batch_keeps_every_value(tmp_path: Path) -> None:
    """Batches of many rows reach DuckDB as NumPy columns: NULLs, lists, flags and numbers
    come back exactly as the tree holds them, the same as through small statements."""
    with Store.open(tmp_path / "large.duckdb") as store:
        history, first = History.start(f.start(), ADA)
        tree = history.tree
        items = [(tree, first)]
        texts = [f"12 * 4 = 46, step {i}" if i % 3 == 0 else f"step {i}" for i in range(150)]
        op = f.steps(tree, tree.question_id, texts)
        items.append((tree, history.apply(op, ADA)))
        for i, node_id in enumerate(op.chain.node_ids):
            annotation = f.annotate(
                tree, node_id, BO, (None, -1, 0, 1)[i % 4], note="" if i % 4 else "why?",
                tags=("logic error", "unclear")[: i % 3], severity=(None, "minor")[i % 2],
            )  # fmt: skip
            items.append((tree, history.apply(annotation, BO)))
        assert store.record_batch(items) == len(items)
        assert store.load_session(tree.session.id).to_dict() == tree.to_dict()
        # Undo in a second batch: stored annotations retracted, many rows updated at once.
        undone = [(tree, applied) for _ in range(70) for applied in history.undo(BO)]
        assert store.record_batch(undone) == 70
        restored = store.load_session(tree.session.id)
        assert restored.to_dict() == tree.to_dict()
        assert sum(a.retracted for a in restored.annotations.values()) == 70
        assert store.verify_events() == len(items) + 70


def test_a_deleted_session_is_hidden_kept_and_restored_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "gone.duckdb"
    with Store.open(path) as store:
        session_id = _review(store)
        other = store.start_session(f.start("Is 7 prime?"), ADA).event.session_id
        assert store.search("12 * 4")
        deleted = store.apply(session_id, SessionDeleted(), ADA)
        assert [s.id for s in store.list_sessions()] == [other]
        assert {s.id for s in store.list_sessions(include_deleted=True)} == {session_id, other}
        assert store.search("12 * 4") == []
        assert {h.session_id for h in store.search("12 * 4", include_deleted=True)} == {session_id}
        assert store.load_session(session_id).session.deleted
        count = len(store.events())
    with Store.open(path) as store:
        # Persisted, and the audit trail keeps every event with who deleted it and when.
        tree = store.load_session(session_id)
        assert tree.session.deleted and len(tree.nodes) > 1
        assert [s.id for s in store.list_sessions()] == [other]
        event = store.events(session_id)[-1]
        assert (event.type, event.reviewer_id, event.at) == ("session_deleted", ADA.id, deleted.event.at)
        assert store.verify_events() == count
        # Undo after reopening (replayed from the event log) restores it.
        (undo,) = store.undo(session_id, BO)
        assert undo.event.type == "session_restored" and undo.event.reverts == deleted.event.id
        assert {s.id for s in store.list_sessions()} == {session_id, other}
        assert store.search("12 * 4")
    with Store.open(path) as store:
        assert not store.load_session(session_id).session.deleted
        replayed = History.replay(store.events(session_id)).tree
        assert store.load_session(session_id).to_dict() == replayed.to_dict()
        with pytest.raises(BadInputError, match="not deleted"):
            store.apply(session_id, SessionRestored(), ADA)
