"""The event log: the hash-chained append of event rows (one, many, or many given column by
column), each row holding its event's canonical JSON text (`core.codec.event_text`).

Every row's `hash` is the SHA-256 of the previous row's hash and its own text, from `GENESIS`,
so an edited, removed or reordered row is found by `Store.verify_events`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from workstation.core.codec import event_text as event_text  # the text stored and hashed
from workstation.core.history import Event
from workstation.store.bulk import ARRAY_ROWS, bulk, bulk_columns

#: The hash before the first event of a file.
GENESIS = "0" * 64

#: The event log's columns, as `bulk` takes them.
EVENT_COLUMNS = (
    ("seq", "BIGINT"),
    ("id", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("created_at", "VARCHAR"),
    ("reviewer_id", "VARCHAR"),
    ("role", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("data", "VARCHAR"),
    ("prev_hash", "VARCHAR"),
    ("hash", "VARCHAR"),
)


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
            # fetchall, not fetchone: DuckDB 2 counts a result not read to its end as unfinished
            # and then refuses to `register` the NumPy columns of a large insert.
            rows = con.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchall()
            self._head = (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)
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

    def append_many(
        self,
        con: duckdb.DuckDBPyConnection,
        events: Sequence[Event],
        texts: Sequence[str] | None = None,
    ) -> tuple[int, str]:
        """Insert many event rows in one statement; returns the new head, as `append`.

        `texts` are the events' `event_text`s when the caller already made them."""
        seq, prev = self._current(con)
        rows = []
        if texts is None:
            texts = [event_text(event) for event in events]
        for event, text in zip(events, texts, strict=True):
            digest = chain_hash(prev, text)
            seq += 1
            rows.append((seq, event.id, event.session_id, event.at, event.reviewer_id,
                         event.role, event.type, text, prev, digest))  # fmt: skip
            prev = digest
        bulk(con, "events", EVENT_COLUMNS, rows)
        return seq, prev

    def append_columns(
        self,
        con: duckdb.DuckDBPyConnection,
        ids: Sequence[str],
        session_ids: Sequence[str],
        ats: Sequence[str],
        reviewer_ids: Sequence[str],
        roles: Sequence[str],
        kinds: Sequence[str],
        texts: Sequence[str],
    ) -> tuple[int, str]:
        """`append_many` for events given column by column (`texts` being each event's
        `event_text`); returns the new head."""
        seq, head = self._current(con)
        n = len(ids)
        if not n:
            return seq, head
        prev = head
        hashes = []
        sha256 = hashlib.sha256
        for text in texts:
            prev = sha256((prev + text).encode("utf-8", "surrogatepass")).hexdigest()
            hashes.append(prev)
        prevs = [head, *hashes[:-1]]
        seqs = range(seq + 1, seq + n + 1)
        columns = (seqs, ids, session_ids, ats, reviewer_ids, roles, kinds, texts, prevs, hashes)
        if n < ARRAY_ROWS:
            bulk(con, "events", EVENT_COLUMNS, list(zip(*columns, strict=True)))
        else:
            bulk_columns(con, "events", EVENT_COLUMNS, columns, n)
        return seq + n, prev

    def advance(self, head: tuple[int, str]) -> None:
        """Record the head after a committed append."""
        self._head = head


def iter_rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]) -> Iterator[tuple[Any, ...]]:
    """Rows of a query, fetched in batches (the event log can be long)."""
    # Any: DuckDB's stubs type a row as tuple[Any, ...]; the caller unpacks the columns it selected.
    cursor = con.execute(sql, params)
    while batch := cursor.fetchmany(2048):
        yield from batch
