"""Writing one applied operation: the rows it changed and its event, inside the caller's
transaction.

Rows are written column-wise (`INSERT ... SELECT unnest(?)`), so a chain of thousands of
steps costs a handful of statements, not one per step. Existing rows keep their `ord`
(creation order); everything else is overwritten from the tree, which is the truth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from workstation.core.history import Event
from workstation.core.model import Annotation, Chain, Node
from workstation.core.ops import Changes
from workstation.core.tree import Tree
from workstation.store.records import Generation

#: The hash before the first event of a file.
GENESIS = "0" * 64


class Counter:
    """Hands out `ord` values; the single writing process owns the file, so memory is enough."""

    def __init__(self, start: int) -> None:
        self.value = start

    def take(self, n: int) -> list[int]:
        """The next `n` values."""
        first = self.value + 1
        self.value += n
        return list(range(first, first + n))


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def _bulk(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    conflict: str,
) -> None:
    """Insert `rows` into `table` in one statement; `columns` are (name, SQL type)."""
    if not rows:
        return
    names = ", ".join(name for name, _ in columns)
    selects = ", ".join(f"unnest(?::{kind}[])" for _, kind in columns)
    con.execute(
        f"INSERT INTO {table} ({names}) SELECT {selects} {conflict}",
        _columns(rows, len(columns)),
    )


def _update_all_but(keys: Sequence[str], columns: Sequence[tuple[str, str]], keep: str) -> str:
    sets = ", ".join(
        f"{name} = excluded.{name}" for name, _ in columns if name not in keys and name != keep
    )
    return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"


_NODE_COLUMNS = (
    ("id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("ord", "BIGINT"),
    ("kind", "VARCHAR"),
    ("parent_id", "VARCHAR"),
    ("chain_id", "VARCHAR"),
    ("position", "INTEGER"),
    ("current_version_id", "VARCHAR"),
    ("deleted", "BOOLEAN"),
)
_VERSION_COLUMNS = (
    ("id", "VARCHAR"),
    ("node_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("idx", "INTEGER"),
    ("text", "VARCHAR"),
    ("raw", "VARCHAR"),
    ("origin", "VARCHAR"),
    ("author", "VARCHAR"),
    ("role", "VARCHAR"),
    ("created_at", "VARCHAR"),
    ("mean_logprob", "DOUBLE"),
    ("min_token_prob", "DOUBLE"),
    ("token_count", "INTEGER"),
)
_FLAG_COLUMNS = (
    ("version_id", "VARCHAR"),
    ("node_id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("idx", "INTEGER"),
    ("check_name", "VARCHAR"),
    ("message", "VARCHAR"),
    ("span_start", "INTEGER"),
    ("span_end", "INTEGER"),
    ("severity", "VARCHAR"),
)
_CHAIN_COLUMNS = (
    ("id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("ord", "BIGINT"),
    ("parent_id", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("raw_text", "VARCHAR"),
    ("splitter_name", "VARCHAR"),
    ("splitter_version", "VARCHAR"),
    ("template_name", "VARCHAR"),
    ("template_version", "VARCHAR"),
    ("author", "VARCHAR"),
    ("role", "VARCHAR"),
    ("created_at", "VARCHAR"),
    ("node_ids", "VARCHAR[]"),
    ("critique", "VARCHAR"),
    ("model", "VARCHAR"),
    ("finish_reason", "VARCHAR"),
)
_ANNOTATION_COLUMNS = (
    ("id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("ord", "BIGINT"),
    ("node_id", "VARCHAR"),
    ("version_id", "VARCHAR"),
    ("reviewer_id", "VARCHAR"),
    ("role", "VARCHAR"),
    ("created_at", "VARCHAR"),
    ("label", "TINYINT"),
    ("note", "VARCHAR"),
    ("tags", "VARCHAR[]"),
    ("severity", "VARCHAR"),
    ("retracted", "BOOLEAN"),
)
_SESSION_COLUMNS = (
    ("id", "VARCHAR"),
    ("ord", "BIGINT"),
    ("title", "VARCHAR"),
    ("question", "VARCHAR"),
    ("template_name", "VARCHAR"),
    ("template_version", "VARCHAR"),
    ("created_at", "VARCHAR"),
    ("reviewer_id", "VARCHAR"),
    ("role", "VARCHAR"),
    ("question_id", "VARCHAR"),
)
#: Table -> the columns the store writes, for the test that they cover the core's fields.
COLUMNS = {
    "nodes": _NODE_COLUMNS,
    "versions": _VERSION_COLUMNS,
    "flags": _FLAG_COLUMNS,
    "chains": _CHAIN_COLUMNS,
    "annotations": _ANNOTATION_COLUMNS,
    "sessions": _SESSION_COLUMNS,
}


def write_changes(
    con: duckdb.DuckDBPyConnection, tree: Tree, changes: Changes, counter: Counter
) -> None:
    """Write every row `changes` names, as it now is in `tree`."""
    session_id = tree.session.id
    if changes.session:
        s = tree.session
        row = (
            s.id, counter.take(1)[0], s.title, s.question, s.template_name, s.template_version,
            s.created_at, s.reviewer_id, s.role, tree.question_id,
        )  # fmt: skip
        _bulk(con, "sessions", _SESSION_COLUMNS, [row],
              _update_all_but(["id"], _SESSION_COLUMNS, "ord"))  # fmt: skip
    if changes.chains:
        _write_chains(con, [tree.chains[c] for c in changes.chains], counter)
    if changes.nodes:
        _write_nodes(con, session_id, [tree.nodes[n] for n in changes.nodes], counter)
    if changes.annotations:
        _write_annotations(con, [tree.annotations[a] for a in changes.annotations], counter)
    if changes.selections:
        parents = list(dict.fromkeys(changes.selections))
        con.execute(
            "DELETE FROM branch_choices WHERE session_id = ? AND parent_id IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [session_id, parents],
        )
        rows = [
            (session_id, parent, choice, chosen[parent])
            for parent in parents
            for choice, chosen in (("shown", tree.shown), ("preferred", tree.preferred))
            if parent in chosen
        ]
        _bulk(con, "branch_choices",
              (("session_id", "VARCHAR"), ("parent_id", "VARCHAR"), ("choice", "VARCHAR"),
               ("child_id", "VARCHAR")), rows, "")  # fmt: skip


def _write_chains(con: duckdb.DuckDBPyConnection, chains: list[Chain], counter: Counter) -> None:
    ords = counter.take(len(chains))
    rows = [
        (c.id, c.session_id, o, c.parent_id, c.kind, c.raw_text, c.splitter_name,
         c.splitter_version, c.template_name, c.template_version, c.author, c.role,
         c.created_at, list(c.node_ids), c.critique, c.model, c.finish_reason)
        for c, o in zip(chains, ords)
    ]  # fmt: skip
    _bulk(con, "chains", _CHAIN_COLUMNS, rows, _update_all_but(["id"], _CHAIN_COLUMNS, "ord"))


def _write_nodes(
    con: duckdb.DuckDBPyConnection, session_id: str, nodes: list[Node], counter: Counter
) -> None:
    ords = counter.take(len(nodes))
    rows = [
        (n.id, session_id, o, n.kind, n.parent_id, n.chain_id, n.position,
         n.current_version_id, n.deleted)
        for n, o in zip(nodes, ords)
    ]  # fmt: skip
    _bulk(con, "nodes", _NODE_COLUMNS, rows, _update_all_but(["id"], _NODE_COLUMNS, "ord"))
    versions = []
    flags = []
    for node in nodes:
        for idx, v in enumerate(node.versions):
            versions.append(
                (v.id, node.id, session_id, idx, v.text, v.raw, v.origin, v.author, v.role,
                 v.created_at, v.mean_logprob, v.min_token_prob, v.token_count)
            )  # fmt: skip
            for fdx, f in enumerate(v.flags):
                flags.append(
                    (v.id, node.id, session_id, fdx, f.check, f.message, f.start, f.end,
                     f.severity)
                )  # fmt: skip
    # Versions (and their flags) never change once made: existing ones are left alone.
    _bulk(con, "versions", _VERSION_COLUMNS, versions, "ON CONFLICT DO NOTHING")
    _bulk(con, "flags", _FLAG_COLUMNS, flags, "ON CONFLICT DO NOTHING")


def _write_annotations(
    con: duckdb.DuckDBPyConnection, annotations: list[Annotation], counter: Counter
) -> None:
    ords = counter.take(len(annotations))
    rows = [
        (a.id, a.session_id, o, a.node_id, a.version_id, a.reviewer_id, a.role, a.created_at,
         a.label, a.note, list(a.tags), a.severity, a.retracted)
        for a, o in zip(annotations, ords)
    ]  # fmt: skip
    if len(rows) == 1:
        # The hot path (one annotation): a plain VALUES insert is cheaper than unnest.
        names = ", ".join(name for name, _ in _ANNOTATION_COLUMNS)
        marks = ", ".join("?" for _ in _ANNOTATION_COLUMNS)
        conflict = _update_all_but(["id"], _ANNOTATION_COLUMNS, "ord")
        con.execute(f"INSERT INTO annotations ({names}) VALUES ({marks}) {conflict}", rows[0])
        return
    _bulk(con, "annotations", _ANNOTATION_COLUMNS, rows,
          _update_all_but(["id"], _ANNOTATION_COLUMNS, "ord"))  # fmt: skip


def write_generation(
    con: duckdb.DuckDBPyConnection, session_id: str, generation: Generation
) -> None:
    """Store the engine's record of a generation beside its chain."""
    s = generation.sampling
    con.execute(
        "INSERT OR REPLACE INTO generations VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            generation.chain_id, session_id, generation.model_file, generation.model_size,
            generation.model_sha256, s.get("temperature"), s.get("top_p"), s.get("top_k"),
            s.get("min_p"), s.get("repeat_penalty"), s.get("max_tokens"), s.get("seed"),
            _json(dict(s)), generation.prompt_tokens, generation.prompt_tokens_evaluated,
            generation.completion_tokens, generation.time_to_first_token_s,
            generation.tokens_per_s, generation.finish_reason,
            _json([dict(c) if c is not None else None for c in generation.step_confidence]),
            _json(dict(generation.extra)),
        ],
    )  # fmt: skip


def _json(value: Any) -> str:
    # Sorted keys and no spaces: the same event always has the same text, hence the same hash.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_text(event: Event) -> str:
    """The event as the JSON text stored (and hashed) in the log."""
    return _json(event.to_dict())


def chain_hash(prev_hash: str, text: str) -> str:
    """The hash of an event row: its text chained to the row before it."""
    return hashlib.sha256((prev_hash + text).encode("utf-8", "surrogatepass")).hexdigest()


class EventLog:
    """Appends events with their sequence number and hash chain.

    The head (last seq and hash) is cached; `reset()` drops it after a failed transaction so
    that the next append reads it from the file again.
    """

    def __init__(self) -> None:
        self._head: tuple[int, str] | None = None

    def reset(self) -> None:
        """Forget the cached head (after a rollback)."""
        self._head = None

    def _current(self, con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
        if self._head is None:
            row = con.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            self._head = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        return self._head

    def append(self, con: duckdb.DuckDBPyConnection, event: Event) -> tuple[int, str]:
        """Insert the event row; returns the new head, to `advance` to after the commit."""
        seq, prev = self._current(con)
        text = event_text(event)
        digest = chain_hash(prev, text)
        con.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq + 1, event.id, event.session_id, event.at, event.reviewer_id, event.role,
             event.type, text, prev, digest],
        )  # fmt: skip
        return seq + 1, digest

    def advance(self, head: tuple[int, str]) -> None:
        """Record the head after a committed append."""
        self._head = head


def iter_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> Iterator[tuple]:
    """Rows of a query, fetched in batches (the event log can be long)."""
    cursor = con.execute(sql, params)
    while batch := cursor.fetchmany(2048):
        yield from batch
