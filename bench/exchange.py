"""Feedback exchange: exports of 100,000 labelled steps, importing 20 bundles of 5,000 events,
agreement statistics over 20 reviewers and 100,000 labels.

Data is made with the core's own classes (no model): sessions of 50 steps, each step labelled
by two reviewers, a rewrite every tenth step, and a preferred regenerated branch per session.
Timings are of the exchange code only; building the data is not timed.

Run: `python -m bench.exchange`
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workstation.core import ids
from workstation.core.history import Applied, Event
from workstation.core.model import Annotation, Chain, Node, Reviewer, Session, Version
from workstation.core.ops import Annotated, BranchPreferred, SessionStarted, StepRewritten, StepsAdded, apply
from workstation.core.tree import Tree
from workstation.exchange.agreement import compute_stats
from workstation.exchange.bundle import write_bundle
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.export import TREE_FORMATS, export
from workstation.exchange.keys import KeyStore, TrustedKeys
from workstation.exchange.merge import StoreTarget, import_bundles

STEPS_PER_SESSION = 50
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
LEAD = Reviewer("lead", "expert")
_counter = iter(range(10**9))


class _Timer:
    """Wall and CPU time of a block: on a shared machine the CPU time is the steadier figure."""

    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s"

    @property
    def cpu_text(self) -> str:
        """The CPU time, for the line's parentheses."""
        return f"cpu {self.cpu:.2f} s"


def _at() -> str:
    n = next(_counter)
    return f"2026-11-27T{n // 3_600_000_000 % 24:02d}:{n // 60_000_000 % 60:02d}:{n // 1_000_000 % 60:02d}.{n % 1_000_000:06d}+00:00"


class Builder:
    """One session built from core objects, recording its events."""

    def __init__(self, index: int) -> None:
        at = _at()
        question = f"Question {index}: what is {index} * 12 + 7? Explain each step."
        sid = ids.session_id(question, LEAD.id, at)
        qid = ids.question_node_id(sid)
        version = Version(ids.version_id(qid, "reviewer", LEAD.id, at, question), qid, question, question,
                          "reviewer", LEAD.id, LEAD.role, at)
        op = SessionStarted(Session(sid, question[:40], question, "cot", "1", at, LEAD.id, LEAD.role),
                            Node(qid, sid, "question", None, None, 0, (version,), version.id))
        self.tree = op.start()
        self.events = [Event(ids.event_id(), sid, op, LEAD.id, LEAD.role, at)]

    def do(self, op, reviewer: Reviewer) -> None:  # noqa: ANN001
        apply(self.tree, op)
        self.events.append(Event(ids.event_id(), self.tree.session.id, op, reviewer.id, reviewer.role, _at()))

    def chain(self, parent_id: str, texts: list[str]) -> list[str]:
        at = _at()
        tree = self.tree
        raw_text = "".join(t + "\n\n" for t in texts)
        parent = tree.nodes[parent_id]
        cid = ids.chain_id(tree.session.id, parent_id, raw_text, at)
        nodes = []
        previous = parent_id
        for i, text in enumerate(texts):
            position = parent.position + 1 + i
            nid = ids.node_id(cid, position, text + "\n\n")
            v = Version(ids.version_id(nid, "model", LEAD.id, at, text), nid, text, text + "\n\n", "model",
                        LEAD.id, LEAD.role, at)
            kind = "answer" if i == len(texts) - 1 else "step"
            nodes.append(Node(nid, tree.session.id, kind, previous, cid, position, (v,), v.id))
            previous = nid
        chain = Chain(cid, tree.session.id, parent_id, "generate" if parent.kind == "question" else "regenerate",
                      raw_text, "workstation-lines", "1", "cot", "1", LEAD.id, LEAD.role, at,
                      tuple(n.id for n in nodes), None, MODEL, "stop")
        self.do(StepsAdded(chain, tuple(nodes)), LEAD)
        return [n.id for n in nodes]

    def label(self, node_id: str, reviewer: Reviewer, label: int, tags: tuple[str, ...] = ()) -> None:
        node = self.tree.nodes[node_id]
        self.do(Annotated(Annotation(ids.event_id(), self.tree.session.id, node_id, node.current_version_id,
                                     reviewer.id, reviewer.role, _at(), label, "", tags)), reviewer)


def _texts(rng: random.Random, n: int, tag: str) -> list[str]:
    out = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        text = f"Step {i + 1}: {tag} we multiply {a} * {b} = {a * b} and carry on with the reasoning."
        if i % 17 == 5:
            text += f"\n\n```python\nprint({a} * {b})\n```"
        out.append(text)
    out[-1] = f"Answer: {rng.randint(1, 999)}"
    return out


def export_corpus(steps: int) -> ReviewSet:
    """Sessions holding `steps` labelled steps (two reviewers each), rewrites and branches.

    The two reviewers agree: where they tie, a stepwise chain ends at that step, and an export
    of "100,000 labelled steps" would write only the steps before the first tie."""
    rng = random.Random(7)
    reviewers = [Reviewer("ada", "annotator"), Reviewer("bo", "annotator")]
    trees = []
    for s in range(steps // STEPS_PER_SESSION):
        b = Builder(s)
        main = b.chain(b.tree.question_id, _texts(rng, STEPS_PER_SESSION - 5, "first"))
        alt = b.chain(main[-6], _texts(rng, 5, "again"))
        b.do(BranchPreferred(main[-6], alt[0]), LEAD)
        for k, nid in enumerate(main[:-5] + alt):
            if k % 10 == 3:
                at = _at()
                text = f"Step {k + 1}: corrected by a reviewer"
                b.do(StepRewritten(nid, Version(ids.version_id(nid, "rewrite", "ada", at, text), nid, text, text,
                                                "rewrite", "ada", "annotator", at)), reviewers[0])
            value = rng.choice((1, 1, 1, 0, -1))
            for r in reviewers:
                b.label(nid, r, value, ("arithmetic error",) if k % 7 == 0 else ())
        trees.append(b.tree)
    return ReviewSet.from_trees(trees)


def bench_exports(folder: Path) -> None:
    reviews = export_corpus(100_000)
    labelled = sum(1 for t in reviews.trees for n in t.nodes.values() if n.kind in ("step", "answer"))
    print(f"# export corpus: {len(reviews.trees)} sessions, {labelled} labelled steps", flush=True)
    for fmt in TREE_FORMATS:
        with _Timer() as t:
            result = export(reviews, fmt, folder / f"out.{fmt}")
        size = (folder / f"out.{fmt}").stat().st_size / 2**20
        print(f"export {fmt} of {labelled} labelled steps: {t} (target < 3 s; {t.cpu_text}; {result.rows} rows, "
              f"{size:.0f} MiB)", flush=True)


def prepare_import(folder: Path, bundles: int = 20, per_bundle: int = 5_000) -> tuple[list[Path], TrustedKeys, Path]:
    """Write `bundles` signed bundles of `per_bundle` events each, and the lead's database
    already holding their sessions; returns the bundle paths, the trusted keys and the
    database path. Not timed."""
    from workstation.store import Store

    sessions = 40
    rng = random.Random(11)
    builders = []
    for s in range(sessions):
        b = Builder(10_000 + s)
        b.chain(b.tree.question_id, _texts(rng, 60, "shared"))
        builders.append(b)
    base_events = [e for b in builders for e in b.events]
    keystore = KeyStore(_MemoryKeyring(), key_dir=folder / "keys")
    trusted = TrustedKeys(folder / "trusted.json")
    paths = []
    for r in range(bundles):
        reviewer = Reviewer(f"reviewer{r:02d}", "annotator")
        key = keystore.create(reviewer.id)
        trusted.trust(key.public)
        events = [e.to_dict() for e in base_events]
        steps = [(b, nid) for b in builders for nid in b.tree.chains[next(iter(b.tree.chains))].node_ids]
        while len(events) < per_bundle:
            b, nid = steps[len(events) % len(steps)]
            node = b.tree.nodes[nid]
            a = Annotation(ids.event_id(), b.tree.session.id, nid, node.current_version_id, reviewer.id,
                           reviewer.role, _at(), rng.choice((1, 0, -1)))
            events.append(Event(ids.event_id(), b.tree.session.id, Annotated(a), reviewer.id, reviewer.role,
                                a.created_at).to_dict())
        path = folder / f"{reviewer.id}.wsbundle"
        write_bundle(path, events, key)
        paths.append(path)
    db = folder / "lead.duckdb"
    with Store.open(db) as store:
        # The lead already holds the sessions (as after sending them out).
        items = []
        for b in builders:
            history_tree = Tree.from_dict(b.tree.to_dict())
            for e in b.events:
                items.append((history_tree, Applied(e, _changes(history_tree, e))))
        store.record_batch(items)
    return paths, trusted, db


def bench_import(folder: Path) -> None:
    from workstation.store import Store

    bundles, per_bundle = 20, 5_000
    paths, trusted, db = prepare_import(folder, bundles, per_bundle)
    before = folder / "lead-before-import.duckdb"
    shutil.copyfile(db, before)  # closed and checkpointed: the file is the whole database
    with Store.open(db) as store:
        target = _TimedStoreTarget(store)
        with _Timer() as t:
            result = import_bundles(paths, target, trusted)
        assert result.ok, result.summary()
        rest = t.wall - target.commit_s - target.checkpoint_s
        print(f"import and merge of {bundles} bundles x {per_bundle} events into a DuckDB store: {t} "
              f"(target < 3 s in all; {t.cpu_text}; {result.new_events} new events; of the wall time the store's "
              f"record_batch took {target.commit_s:.2f} s, its checkpoint at the end {target.checkpoint_s:.2f} s, "
              f"reading, checks and merge {rest:.2f} s)", flush=True)
        with _Timer() as t:
            again = import_bundles(paths, StoreTarget(store), trusted)
        assert all(b.status == "unchanged" for b in again.bundles)
        print(f"import of the same {bundles} bundles again, changing nothing: {t} (no target; {t.cpu_text})",
              flush=True)
    bench_store_floor(db, before, result.new_events)


def bench_store_floor(imported: Path, before: Path, new_events: int) -> None:
    """What DuckDB alone takes on this machine to write the rows the import wrote.

    The rows the import added are read back from `imported` into Python lists, then written
    into copies of the database as it was before the import, with the store's own bulk writer
    (`bulk.bulk_columns`, NumPy columns: the fastest way found from Python objects), in ONE
    transaction (cheaper than one per bundle), then checkpointed: no reading of bundles, no
    checks, no merge, no hash chain. Once for the event rows and annotation rows, once for the
    event rows alone (what an import would write if annotation rows were derived from the log).
    What the import does beyond this floor is the room left for making it faster here.
    """
    import duckdb

    from workstation.store import writer
    from workstation.store.bulk import bulk_columns
    from workstation.store.event_log import EVENT_COLUMNS

    with duckdb.connect(str(imported), read_only=True) as con:
        first_seq = con.execute("SELECT max(seq) FROM events").fetchall()[0][0] - new_events + 1
        log = con.execute("SELECT * FROM events WHERE seq >= ? ORDER BY seq", [first_seq]).fetchall()
        con.execute(f"ATTACH '{before}' AS before (READ_ONLY)")
        notes = con.execute("SELECT * FROM annotations WHERE id NOT IN (SELECT id FROM before.annotations) "
                            "ORDER BY ord").fetchall()
        con.execute("DETACH before")
    tables = (("events", EVENT_COLUMNS, log), ("annotations", writer._ANNOTATION_COLUMNS, notes))
    for name, written in (("event rows and annotation rows", tables), ("event rows alone", tables[:1])):
        copy = before.with_name(f"floor-{len(written)}.duckdb")
        shutil.copyfile(before, copy)
        with duckdb.connect(str(copy)) as con:
            con.execute("SET checkpoint_threshold = '1 TiB'")
            con.execute("SET enable_progress_bar = false")
            columns = [(table, spec, list(zip(*rows)), len(rows)) for table, spec, rows in written]
            with _Timer() as t:
                con.execute("BEGIN TRANSACTION")
                for table, spec, values, n in columns:
                    bulk_columns(con, table, spec, values, n)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
        rows = " + ".join(f"{n} {table}" for table, _, _, n in columns)
        print(f"DuckDB alone writing the import's {name} ({rows}) in one transaction, then a checkpoint: {t} "
              f"(no target: the floor under the import on this machine; {t.cpu_text})", flush=True)


class _TimedStoreTarget(StoreTarget):
    """A StoreTarget that adds up the time spent in the store's own commit, and times the
    checkpoint that ends the import."""

    commit_s = 0.0
    checkpoint_s = 0.0

    @contextmanager
    def bulk(self) -> Iterator[None]:
        with super().bulk():
            yield
            start = time.perf_counter()
        self.checkpoint_s = time.perf_counter() - start

    def commit(self, items, generations, texts):  # noqa: ANN001, ANN201
        start = time.perf_counter()
        try:
            return super().commit(items, generations, texts)
        finally:
            self.commit_s += time.perf_counter() - start


def _changes(tree: Tree, event: Event):  # noqa: ANN202
    from workstation.core.ops import Changes

    if isinstance(event.op, SessionStarted):
        return Changes(nodes=(tree.question_id,), session=True)
    if isinstance(event.op, StepsAdded):
        return Changes(nodes=tuple(n.id for n in event.op.nodes), chains=(event.op.chain.id,),
                       selections=(event.op.chain.parent_id,))
    raise AssertionError(event.type)


class _MemoryKeyring:
    """A keyring backend kept in memory, so the benchmark never touches a real keyring."""

    priority = 1

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._values[(service, username)] = password


def bench_stats() -> None:
    rng = random.Random(5)
    reviewers = [Reviewer(f"r{i:02d}", "annotator") for i in range(20)]
    trees = []
    labels = 0
    sessions = 100
    per_session_steps = 250  # 25,000 steps; 4 reviewers each = 100,000 labels
    for s in range(sessions):
        b = Builder(20_000 + s)
        nodes = b.chain(b.tree.question_id, _texts(rng, per_session_steps, "stats"))
        for nid in nodes:
            truth = rng.choice((1, 1, 0, -1))
            for r in rng.sample(reviewers, 4):
                b.label(nid, r, truth if rng.random() < 0.8 else rng.choice((1, 0, -1)),
                        ("logic error",) if rng.random() < 0.1 else ())
                labels += 1
        trees.append(b.tree)
    reviews = ReviewSet.from_trees(trees)
    with _Timer() as t:
        stats = compute_stats(reviews)
    print(f"agreement statistics over {len(reviewers)} reviewers and {labels} labels: {t} "
          f"(target < 1 s; {t.cpu_text}; alpha {stats['agreement']['krippendorff_alpha_ordinal']:.3f}, "
          f"{len(stats['agreement']['cohen_kappa_pairs'])} kappa pairs)", flush=True)


def main() -> None:
    print(f"# load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_stats()
        bench_import(folder)
        bench_exports(folder)


if __name__ == "__main__":
    main()
