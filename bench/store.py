"""Store benchmarks: commit latency of an annotation on a 100,000-step database, opening a
5,000-step session, and database size per 1,000 steps.

    .venv/bin/python -m bench.store [--sessions 20] [--steps 5000] [--commits 300]

The database is built in bulk, not one operation at a time: one session of real operations
from `workstation.core.build` (chains split by the splitter with checks run, regenerations,
rewrites, an annotation per step, a generation record per chain) goes in through
`Store.record_batch` in one transaction; then `INSERT ... SELECT` over `range()` copies its rows
under new ids until the file holds the requested number of steps. Copies' event rows reuse the
original payloads (their hash chain is not recomputed): this file is for timing, not auditing.
Measurements are taken on the original session.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from workstation.core import build, splitter
from workstation.core.history import Applied, History
from workstation.core.model import Reviewer
from workstation.core.tree import Tree
from workstation.store import Generation, Store

REVIEWERS = [
    Reviewer("ada", "expert", "Ada"),
    Reviewer("bo", "annotator", "Bo"),
    Reviewer("cy", "annotator", "Cy"),
    Reviewer("di", "ethics_reviewer", "Di"),
    Reviewer("ed", "annotator", "Ed"),
]
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TAGS = ("arithmetic error", "unsupported claim", "unclear", "good insight")


def _chain_text(rng: random.Random, n: int) -> str:
    lines = []
    for i in range(1, n):
        a, b = rng.randrange(2, 99), rng.randrange(2, 99)
        result = a * b if rng.random() < 0.8 else a * b + 2
        lines.append(f"Step {i}: multiply {a} by {b} to get the subtotal, {a} * {b} = {result}.")
    lines.append(f"Answer: {rng.randrange(1000)}")
    return "\n\n".join(lines)


def _generation(chain_id: str, steps: int, rng: random.Random) -> Generation:
    return Generation(
        chain_id, MODEL, 98_000_000, "5" * 64,
        {"temperature": 0.7, "top_p": 0.95, "top_k": 40, "min_p": 0.05,
         "repeat_penalty": 1.1, "max_tokens": 512, "seed": rng.randrange(2**31)},
        180, 40, steps * 25, 0.28, 61.0, "stop",
        tuple({"n_tokens": 25, "mean_logprob": -0.3, "min_token_prob": 0.05} for _ in range(steps)),
    )  # fmt: skip


def build_session(
    rng: random.Random, index: int, steps: int
) -> tuple[Tree, list[tuple[Tree, Applied]], list[tuple[str, Generation]]]:
    """One session of about `steps` steps: a chain, regenerations, rewrites, annotations."""
    owner = REVIEWERS[index % len(REVIEWERS)]
    history, started = History.start(
        build.start_session(f"Question {index}: what is 37 * 41?", "cot", "1", owner), owner
    )
    tree = history.tree
    items: list[tuple[Tree, Applied]] = [(tree, started)]
    generations: list[tuple[str, Generation]] = []
    made = 0
    parents = [tree.question_id]
    while made < steps:
        n = min(20, steps - made)
        raw = _chain_text(rng, n)
        parent_id = rng.choice(parents)
        op = build.steps_added(
            tree, parent_id, raw, splitter.split(raw), owner, "cot", "1", model=MODEL,
            confidences=[build.StepConfidence(-0.3, 0.05, 25)] * n,
        )  # fmt: skip
        items.append((tree, history.apply(op, owner)))
        generations.append((tree.session.id, _generation(op.chain.id, len(op.nodes), rng)))
        parents.extend(n.id for n in op.nodes if n.kind == "step")
        made += len(op.nodes)
    for node in list(tree.nodes.values()):
        if node.kind not in ("step", "answer"):
            continue
        if rng.random() < 0.05:
            op = build.rewrite(tree, node.id, f"{node.text} (checked)", owner)
            items.append((tree, history.apply(op, owner)))
        reviewer = rng.choice(REVIEWERS)
        note = "the product is off by two" if rng.random() < 0.2 else ""
        tags = (rng.choice(TAGS),) if rng.random() < 0.3 else ()
        op = build.annotate(tree, node.id, reviewer, rng.choice((-1, 0, 1)), note, tags)
        items.append((tree, history.apply(op, reviewer)))
    return tree, items, generations


# Every table with a session's rows, and how a copy's ids are made unique (suffix `~k`).
_COPIES = {
    "sessions": "id || sfx AS id, ord + ord_step * k AS ord, question_id || sfx AS question_id",
    "nodes": "id || sfx AS id, session_id || sfx AS session_id, ord + ord_step * k AS ord, "
    "parent_id || sfx AS parent_id, chain_id || sfx AS chain_id, "
    "current_version_id || sfx AS current_version_id",
    "versions": "id || sfx AS id, node_id || sfx AS node_id, session_id || sfx AS session_id",
    "flags": "version_id || sfx AS version_id, node_id || sfx AS node_id, "
    "session_id || sfx AS session_id",
    "chains": "id || sfx AS id, session_id || sfx AS session_id, ord + ord_step * k AS ord, "
    "parent_id || sfx AS parent_id, list_transform(node_ids, lambda x: x || sfx) AS node_ids",
    "generations": "chain_id || sfx AS chain_id, session_id || sfx AS session_id",
    "annotations": "id || sfx AS id, session_id || sfx AS session_id, ord + ord_step * k AS ord, "
    "node_id || sfx AS node_id, version_id || sfx AS version_id",
    "branch_choices": "session_id || sfx AS session_id, parent_id || sfx AS parent_id, "
    "child_id || sfx AS child_id",
    "events": "seq + seq_step * k AS seq, id || sfx AS id, session_id || sfx AS session_id",
}


def copy_session(path: Path, session_id: str, copies: int) -> None:
    """Add `copies` copies of a session's rows under new ids, with INSERT ... SELECT."""
    con = duckdb.connect(str(path))
    try:
        ord_step = con.execute(
            "SELECT greatest((SELECT max(ord) FROM nodes), (SELECT max(ord) FROM annotations), "
            "(SELECT max(ord) FROM chains), (SELECT max(ord) FROM sessions)) + 1"
        ).fetchone()[0]  # type: ignore[index]
        seq_step = con.execute("SELECT max(seq) + 1 FROM events").fetchone()[0]  # type: ignore[index]
        con.execute("BEGIN")
        for table, replace in _COPIES.items():
            key = "id" if table == "sessions" else "session_id"
            con.execute(
                f"INSERT INTO {table} SELECT t.* REPLACE ({replace}) FROM {table} t, "
                f"(SELECT range AS k, '~' || range AS sfx, {ord_step} AS ord_step, "
                f"{seq_step} AS seq_step FROM range(1, ?)) WHERE t.{key} = ?",
                [copies + 1, session_id],
            )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _fsync_latency(folder: Path, n: int = 200) -> float:
    """p95 of append + fdatasync on this disk: the floor under any durable commit."""
    path = folder / "fsync.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            os.write(fd, b"x" * 512)
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return _percentile(times, 0.95)


def main() -> None:
    """Build the database, measure, print `name: value (target ...)` lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5000, help="steps per session")
    parser.add_argument("--commits", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(5)

    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        path = folder / "bench.duckdb"
        started = time.perf_counter()
        tree, items, generations = build_session(rng, 0, args.steps)
        with Store.open(path) as store:
            store.record_batch(items, generations)
        target = tree.session.id
        copy_session(path, target, args.sessions - 1)
        with Store.open(path) as store:
            total_steps = sum(s.steps for s in store.list_sessions())
        build_s = time.perf_counter() - started
        print(f"build_db: {total_steps} steps in {args.sessions} sessions, {build_s:.1f} s (info)")

        size = path.stat().st_size
        wal = path.with_name(path.name + ".wal")
        size += wal.stat().st_size if wal.exists() else 0
        per_1000 = size / (total_steps / 1000) / 2**20
        print(f"db_size_per_1000_steps: {per_1000:.2f} MiB (info; {size / 2**20:.0f} MiB in all, "
              "with generations, one annotation per step, 5% rewrites, the event log)")  # fmt: skip

        start = time.perf_counter()
        store = Store.open(path)
        print(f"open_db: {(time.perf_counter() - start) * 1000:.0f} ms (info)")
        times = []
        cpu = []
        tree = None
        for _ in range(9):
            # The previous copy is freed before the clock starts (about 20 ms for 5,000 steps):
            # opening a session frees no other (the window's worker keeps what it opened).
            tree = None
            start, start_cpu = time.perf_counter(), time.thread_time()
            tree = store.load_session(target)
            times.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
        steps = sum(n.kind in ("step", "answer") for n in tree.nodes.values())
        print(f"open_session_{steps}_steps: median {statistics.median(times) * 1000:.0f} ms "
              f"(target < 200 ms; best {min(times) * 1000:.0f} ms; CPU median "
              f"{statistics.median(cpu) * 1000:.0f} ms)")  # fmt: skip

        start = time.perf_counter()
        replayed = store.history(target, replay=True)
        print(f"replay_history_{len(store.events(target))}_events: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms (info; only to restore undo "
              "stacks after reopening)")  # fmt: skip
        history = replayed
        live = [n.id for n in history.tree.nodes.values() if n.kind == "step" and not n.deleted]
        latencies = []
        cpu = []
        for i in range(args.commits + 5):
            reviewer = REVIEWERS[i % len(REVIEWERS)]
            op = build.annotate(history.tree, rng.choice(live), reviewer, rng.choice((-1, 0, 1)),
                                "checked", ("unclear",))  # fmt: skip
            start, start_cpu = time.perf_counter(), time.thread_time()
            store.apply(target, op, reviewer)
            if i >= 5:  # the first few warm caches up
                latencies.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
        p50 = _percentile(latencies, 0.5) * 1000
        p95 = _percentile(latencies, 0.95) * 1000
        print(f"annotation_commit_p50: {p50:.1f} ms (info; {args.commits} commits on "
              f"{total_steps} steps)")
        print(f"annotation_commit_p95: {p95:.1f} ms (target < 10 ms; CPU p50 "
              f"{_percentile(cpu, 0.5) * 1000:.1f} ms, the rest waits on the disk)")  # fmt: skip
        print(f"load_average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (info; timings "
              "on a shared machine)")
        print(f"disk_fdatasync_p95: {_fsync_latency(folder) * 1000:.1f} ms (info; floor under "
              "every durable commit on this disk)")
        store.close()
        tokens_kib = token_bytes_per_1000_steps(folder / "tokens.duckdb", rng)
        print(f"step_tokens_per_1000_steps: {tokens_kib:.0f} KiB (info; {TOKENS_PER_STEP} tokens per step, "
              "each with its log-probability and the top 5 alternatives; 0 for steps not written by the model)")


#: Tokens of a typical SmolLM2 step (the benches' steps are about 100 characters).
TOKENS_PER_STEP = 25


def token_bytes_per_1000_steps(path: Path, rng: random.Random, steps: int = 5000) -> float:
    """KiB the step_tokens table adds per 1,000 model-written steps (file size with and without it).

    Token texts come from a vocabulary of word pieces and log-probabilities are random floats,
    the incompressible part, so this is an upper bound for real, more repetitive steps."""
    from workstation.store.tokens import StepToken, VersionTokens

    pieces = [f" {w}" for w in ("the", "of", "to", "get", "multiply", "by", "subtotal", "Step", "=", "Answer")]
    pieces += [str(i) for i in range(100)] + [".", ",", ":", "\n\n", " *"]
    pieces += [f" w{i}" for i in range(1500)]

    def token() -> StepToken:
        top = sorted(((rng.choice(pieces), -rng.expovariate(1.0)) for _ in range(5)), key=lambda t: -t[1])
        return StepToken(top[0][0], top[0][1], tuple(top))

    Store.open(path).close()  # the schema only
    with duckdb.connect(str(path)) as con:
        con.execute("CHECKPOINT")
    empty = path.stat().st_size
    with Store.open(path) as store:
        for first in range(0, steps, 500):
            held = {f"v{i}": VersionTokens(0, tuple(token() for _ in range(TOKENS_PER_STEP)))
                    for i in range(first, first + 500)}
            store.save_tokens("session", held)
    with duckdb.connect(str(path)) as con:
        con.execute("CHECKPOINT")
    return (path.stat().st_size - empty) / (steps / 1000) / 1024


if __name__ == "__main__":
    main()
