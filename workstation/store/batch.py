"""Writing a batch of events that a caller applied to its own trees (an import), in one
transaction: the event rows first (an id already stored fails there, before anything else),
then the rows the trees' changes name, then annotation rows that need no tree.

`Store.record_batch` is the public face; this is its writing, kept apart from the store's
bookkeeping (caches, the log's head, retrying without events already stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import duckdb

from workstation.core.history import Applied
from workstation.core.ops import Changes
from workstation.core.tree import Tree
from workstation.store import writer
from workstation.store.event_log import EventLog
from workstation.store.records import Generation

#: One event of a batch: applied to a tree, or an annotation an importer checked (a row).
Item = tuple[Tree, Applied] | writer.AnnotationRow


def event_id(item: Item) -> str:
    """The id of an item's event."""
    if isinstance(item, writer.AnnotationRow):
        return item.event_id
    return item[1].event.id


def stored_texts(con: duckdb.DuckDBPyConnection, event_ids: list[str]) -> dict[str, str]:
    """Event id -> stored text, for those of `event_ids` in the log."""
    return dict(
        con.execute(
            "SELECT id, data FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [event_ids]
        ).fetchall()
    )


#: The event log's columns of a batch: ids, session ids, times, reviewer ids, roles, types, texts.
LogColumns = tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str], Sequence[str], Sequence[str], Sequence[str]]


@dataclass
class Plan:
    """A batch sorted out: its log rows in order (as columns), annotation rows, changed
    trees, new reviewers."""

    log: LogColumns = ((), (), (), (), (), (), ())
    rows: list[writer.AnnotationRow] = field(default_factory=list)
    changed: list[tuple[Tree, Changes]] = field(default_factory=list)
    #: reviewer id -> (role, time of their first event here)
    reviewers: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def sessions(self) -> set[str]:
        """The sessions the batch changes."""
        return {t.session.id for t, _ in self.changed} | {r.session_id for r in self.rows}


def plan(items: Sequence[Item], texts: Sequence[str], known_reviewers: set[str]) -> Plan:
    """Sort `items` (with their event texts) out for `write`."""
    out = Plan()
    out.rows = [item for item in items if isinstance(item, writer.AnnotationRow)]
    if len(out.rows) == len(items):
        # Rows only (most of an import): the log's columns are the rows' first five fields,
        # transposed in C.
        n = len(items)
        if n:
            columns: list[tuple[str, ...]] = list(zip(*out.rows, strict=True))[:5]
            out.log = (columns[0], columns[1], columns[2], columns[3], columns[4], ("annotated",) * n, texts)
    else:
        trees: dict[int, tuple[Tree, list[Changes]]] = {}
        log: list[tuple[str, str, str, str, str, str, str]] = []
        for item, text in zip(items, texts, strict=True):
            if isinstance(item, writer.AnnotationRow):
                log.append((item.event_id, item.session_id, item.at, item.reviewer_id, item.role, "annotated", text))
                continue
            tree, applied = item
            event = applied.event
            trees.setdefault(id(tree), (tree, []))[1].append(applied.changes)
            log.append((event.id, event.session_id, event.at, event.reviewer_id, event.role, event.type, text))
        # Seven-field rows transpose to seven columns (the items are not all rows, so some).
        out.log = cast(LogColumns, tuple(zip(*log, strict=True)))
        out.changed = [(tree, writer.merge_changes(changes)) for tree, changes in trees.values()]
    _, _, ats, reviewer_ids, roles, _, _ = out.log
    # Each reviewer's first event: the first index of each id, found in C (the later ones are
    # overwritten walking backwards).
    first = dict(zip(reversed(reviewer_ids), range(len(reviewer_ids) - 1, -1, -1), strict=True))
    for reviewer_id, i in sorted(first.items(), key=lambda pair: pair[1]):
        if reviewer_id not in known_reviewers:
            out.reviewers[reviewer_id] = (roles[i], ats[i])
    return out


def write(
    con: duckdb.DuckDBPyConnection,
    batch: Plan,
    log: EventLog,
    counter: writer.Counter,
    generations: Sequence[tuple[str, Generation]],
) -> tuple[int, str]:
    """Write the planned batch inside the caller's transaction; returns the log's new head."""
    if batch.reviewers:
        con.execute(
            "INSERT INTO reviewers SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), NULL, unnest(?::VARCHAR[]) ON CONFLICT DO NOTHING",
            [list(batch.reviewers), list(batch.reviewers),
             [r for r, _ in batch.reviewers.values()],
             [at for _, at in batch.reviewers.values()]],
        )  # fmt: skip
    # The events go first: an id already stored fails before any other row is written.
    head = log.append_columns(con, *batch.log)
    if batch.changed:
        # What the file already holds, asked once for the whole batch.
        sessions, known = writer.Known.query_many(con, batch.changed)
        rows = writer.Batch()
        for tree, merged in batch.changed:
            view = writer.Known(
                tree.session.id in sessions,
                known.nodes, known.versions, known.chains, known.annotations,
            )
            added = rows.add(tree, merged, counter, view)
            # The same session twice (two tree objects): the second updates the rows.
            known.update(added)
            if added.session:
                sessions.add(tree.session.id)
        rows.write(con)
    if batch.rows:
        writer.write_annotation_rows(con, batch.rows, counter)
    _write_generations(con, generations)
    return head


def _write_generations(con: duckdb.DuckDBPyConnection, generations: Sequence[tuple[str, Generation]]) -> None:
    if not generations:
        return
    stored = {
        r[0]
        for r in con.execute(
            "SELECT chain_id FROM generations WHERE chain_id IN (SELECT unnest(?::VARCHAR[]))",
            [[g.chain_id for _, g in generations]],
        ).fetchall()
    }
    for session_id, generation in generations:
        if generation.chain_id not in stored:
            writer.write_generation(con, session_id, generation)
            stored.add(generation.chain_id)
