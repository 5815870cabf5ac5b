"""Writing applied operations: the rows they changed, inside the caller's transaction (their
events go to the log through event_log.py).

Rows are written column-wise (`INSERT ... SELECT unnest(?)`, or NumPy columns for large
batches), so a chain of thousands of steps, or an imported bundle of thousands of events over
many sessions (`Batch`), costs a handful of statements, not one per row. The tree is the
truth: new objects are inserted, and the fields the core lets change are updated on rows
already there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import duckdb

from workstation.core.codec import canonical
from workstation.core.model import Annotation, Node
from workstation.core.ops import Changes
from workstation.core.tree import Tree
from workstation.store.bulk import ARRAY_ROWS, bulk, bulk_columns
from workstation.store.records import Generation

_Row = TypeVar("_Row", Node, Annotation)


class Counter:
    """Hands out `ord` values; the single writing process owns the file, so memory is enough."""

    def __init__(self, start: int) -> None:
        self.value = start

    def take(self, n: int) -> list[int]:
        """The next `n` values."""
        first = self.value + 1
        self.value += n
        return list(range(first, first + n))


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
    ("deleted", "BOOLEAN"),
)
_ANNOTATION_INSERT = (
    f"INSERT INTO annotations ({', '.join(n for n, _ in _ANNOTATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ANNOTATION_COLUMNS)})"
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


class AnnotationRow(NamedTuple):
    """An `annotated` event that its caller has already checked against the session (an
    importer's fast lane), as what the store writes for it: its log row and its annotation row.

    `text` must be the event's `event_text` byte for byte (the hash chain covers it); the
    annotation is new, not retracted, and belongs to the event's session.
    """

    event_id: str
    session_id: str
    at: str
    reviewer_id: str
    role: str
    text: str
    annotation_id: str
    node_id: str
    version_id: str
    annotation_reviewer_id: str
    annotation_role: str
    created_at: str
    label: int | None
    note: str
    tags: list[str]
    severity: str | None

    def annotation(self) -> Annotation:
        """The core's object for it (what `Annotated` puts in a tree)."""
        return Annotation(self.annotation_id, self.session_id, self.node_id, self.version_id,
                          self.annotation_reviewer_id, self.annotation_role, self.created_at, self.label,
                          self.note, tuple(self.tags), self.severity, False)


def write_annotation_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[AnnotationRow], counter: Counter) -> None:
    """Insert the annotations of `rows` in one statement, their `ord`s taken in order."""
    n = len(rows)
    if not n:
        return
    ords = counter.take(n)
    if n < ARRAY_ROWS:
        bulk(con, "annotations", _ANNOTATION_COLUMNS, [
            (r.annotation_id, r.session_id, o, r.node_id, r.version_id, r.annotation_reviewer_id,
             r.annotation_role, r.created_at, r.label, r.note, r.tags, r.severity, False)
            for r, o in zip(rows, ords, strict=True)
        ])  # fmt: skip
        return
    # Column by column (a transpose in C): rows are most of an import.
    (_event_id, session_id, _at, _reviewer_id, _role, _text, annotation_id, node_id, version_id,
     reviewer_id, role, created_at, label, note, tags, severity) = zip(*rows, strict=True)  # fmt: skip
    bulk_columns(con, "annotations", _ANNOTATION_COLUMNS, (
        annotation_id, session_id, ords, node_id, version_id, reviewer_id, role, created_at, label,
        note, tags, severity, (False,) * n,
    ), n)  # fmt: skip


@dataclass
class Known:
    """Ids of one session's rows that are already in the file.

    Knowing them lets a change be a plain INSERT or UPDATE: DuckDB's upserts (ON CONFLICT)
    cost several times as much, and the annotation commit is the hot path.
    """

    session: bool = False
    nodes: set[str] = field(default_factory=set)
    versions: set[str] = field(default_factory=set)
    chains: set[str] = field(default_factory=set)
    annotations: set[str] = field(default_factory=set)

    @classmethod
    def of_tree(cls, tree: Tree) -> Known:
        """Everything in a tree that was loaded from (or fully written to) the file."""
        return cls(
            True,
            set(tree.nodes),
            {v.id for n in tree.nodes.values() for v in n.versions},
            set(tree.chains),
            set(tree.annotations),
        )

    @classmethod
    def query(cls, con: duckdb.DuckDBPyConnection, tree: Tree, changes: Changes) -> Known:
        """What of `changes` the file already holds (for a tree the store did not load)."""

        def present(table: str, ids: Sequence[str]) -> set[str]:
            if not ids:
                return set()
            rows = con.execute(
                f"SELECT id FROM {table} WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]
            ).fetchall()
            return {r[0] for r in rows}

        versions = [v.id for n in changes.nodes for v in tree.nodes[n].versions]
        return cls(
            bool(present("sessions", [tree.session.id])),
            present("nodes", changes.nodes),
            present("versions", versions),
            present("chains", changes.chains),
            present("annotations", changes.annotations),
        )

    @classmethod
    def query_many(
        cls, con: duckdb.DuckDBPyConnection, changed: Sequence[tuple[Tree, Changes]]
    ) -> tuple[set[str], Known]:
        """What of many trees' changes the file holds, one query per table: the ids of the
        stored sessions, and the stored rows of every other table (ids are unique across
        sessions, so one set per table serves every tree)."""

        def present(table: str, ids: list[str]) -> set[str]:
            if not ids:
                return set()
            rows = con.execute(
                f"SELECT id FROM {table} WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
            ).fetchall()
            return {r[0] for r in rows}

        sessions = present("sessions", list(dict.fromkeys(t.session.id for t, _ in changed)))
        return sessions, cls(
            False,
            present("nodes", [n for _, c in changed for n in c.nodes]),
            present("versions", [v.id for t, c in changed for n in c.nodes for v in t.nodes[n].versions]),
            present("chains", [i for _, c in changed for i in c.chains]),
            present("annotations", [i for _, c in changed for i in c.annotations]),
        )

    def update(self, other: Known) -> None:
        """Add what `other` knows (after the transaction that wrote it committed)."""
        self.session = self.session or other.session
        self.nodes |= other.nodes
        self.versions |= other.versions
        self.chains |= other.chains
        self.annotations |= other.annotations


def write_changes(
    con: duckdb.DuckDBPyConnection, tree: Tree, changes: Changes, counter: Counter, known: Known
) -> Known:
    """Write every row `changes` names, as it now is in `tree`; returns what it added.

    Only what the core lets change is updated on existing rows: a session's title and deleted
    mark, a node's
    current version and deleted mark, an annotation's retracted mark. Versions, flags and
    chains are immutable once written.
    """
    batch = Batch()
    added = batch.add(tree, changes, counter, known)
    batch.write(con)
    return added


class Batch:
    """The rows of many trees' changes, gathered to be written with one statement per table.

    `add` decides (from `known`) what is a new row and what an update, and hands out `ord`
    values in the order rows are added, so one tree's changes give the same rows as
    `write_changes` would; `write` inserts every table's new rows, then applies the updates
    (so a later tree in the batch can update a row an earlier one inserted).
    """

    def __init__(self) -> None:
        self.sessions: list[tuple[object, ...]] = []
        self.session_updates: list[list[object]] = []
        self.chains: list[tuple[object, ...]] = []
        self.nodes: list[tuple[object, ...]] = []
        self.node_updates: list[Node] = []
        self.versions: list[tuple[object, ...]] = []
        self.flags: list[tuple[object, ...]] = []
        self.annotations: list[tuple[object, ...]] = []
        self.retracted: list[Annotation] = []
        # (session id, parent) -> the branch choice rows that replace the parent's
        self.choices: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}

    def add(self, tree: Tree, changes: Changes, counter: Counter, known: Known) -> Known:
        """Gather the rows `changes` names, as they now are in `tree`; returns what it adds."""
        session_id = tree.session.id
        added = Known()
        if changes.session:
            s = tree.session
            if known.session:
                self.session_updates.append(
                    [s.title, s.question, s.template_name, s.template_version, s.created_at,
                     s.reviewer_id, s.role, s.deleted, s.id]
                )  # fmt: skip
            else:
                self.sessions.append(
                    (s.id, counter.take(1)[0], s.title, s.question, s.template_name,
                     s.template_version, s.created_at, s.reviewer_id, s.role, tree.question_id,
                     s.deleted)
                )  # fmt: skip
                added.session = True
        new_chains = [tree.chains[c] for c in changes.chains if c not in known.chains]
        if new_chains:
            ords = counter.take(len(new_chains))
            self.chains.extend(
                (c.id, c.session_id, o, c.parent_id, c.kind, c.raw_text, c.splitter_name,
                 c.splitter_version, c.template_name, c.template_version, c.author, c.role,
                 c.created_at, list(c.node_ids), c.critique, c.model, c.finish_reason)
                for c, o in zip(new_chains, ords, strict=True)
            )  # fmt: skip
            added.chains.update(c.id for c in new_chains)
        if changes.nodes:
            self._add_nodes(session_id, [tree.nodes[n] for n in changes.nodes], counter, known, added)
        if changes.annotations:
            annotations = [tree.annotations[a] for a in changes.annotations]
            new = [a for a in annotations if a.id not in known.annotations]
            self.retracted.extend(a for a in annotations if a.id in known.annotations)
            if new:
                ords = counter.take(len(new))
                self.annotations.extend(
                    (a.id, a.session_id, o, a.node_id, a.version_id, a.reviewer_id, a.role,
                     a.created_at, a.label, a.note, list(a.tags), a.severity, a.retracted)
                    for a, o in zip(new, ords, strict=True)
                )  # fmt: skip
            added.annotations.update(changes.annotations)
        if changes.selections:
            for parent in dict.fromkeys(changes.selections):
                # A parent chosen again later in the batch: the later rows are the ones that hold.
                self.choices[(session_id, parent)] = [
                    (session_id, parent, choice, chosen[parent])
                    for choice, chosen in (("shown", tree.shown), ("preferred", tree.preferred))
                    if parent in chosen
                ]
        return added

    def _add_nodes(
        self, session_id: str, nodes: list[Node], counter: Counter, known: Known, added: Known
    ) -> None:
        new = [n for n in nodes if n.id not in known.nodes]
        self.node_updates.extend(n for n in nodes if n.id in known.nodes)
        if new:
            ords = counter.take(len(new))
            self.nodes.extend(
                (n.id, session_id, o, n.kind, n.parent_id, n.chain_id, n.position,
                 n.current_version_id, n.deleted)
                for n, o in zip(new, ords, strict=True)
            )  # fmt: skip
            added.nodes.update(n.id for n in new)
        for node in nodes:
            for idx, v in enumerate(node.versions):
                if v.id in known.versions or v.id in added.versions:
                    continue
                self.versions.append(
                    (v.id, node.id, session_id, idx, v.text, v.raw, v.origin, v.author, v.role,
                     v.created_at, v.mean_logprob, v.min_token_prob, v.token_count)
                )  # fmt: skip
                added.versions.add(v.id)
                for fdx, f in enumerate(v.flags):
                    self.flags.append(
                        (v.id, node.id, session_id, fdx, f.check, f.message, f.start, f.end,
                         f.severity)
                    )  # fmt: skip

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        """Insert the new rows (one statement per table), then apply the updates."""
        bulk(con, "sessions", _SESSION_COLUMNS, self.sessions)
        bulk(con, "chains", _CHAIN_COLUMNS, self.chains)
        bulk(con, "nodes", _NODE_COLUMNS, self.nodes)
        bulk(con, "versions", _VERSION_COLUMNS, self.versions)
        bulk(con, "flags", _FLAG_COLUMNS, self.flags)
        if len(self.annotations) == 1:
            # The hot path (one annotation): a VALUES insert is cheaper than unnest.
            con.execute(_ANNOTATION_INSERT, self.annotations[0])
        else:
            bulk(con, "annotations", _ANNOTATION_COLUMNS, self.annotations)
        for params in self.session_updates:
            con.execute(
                "UPDATE sessions SET title = ?, question = ?, template_name = ?, "
                "template_version = ?, created_at = ?, reviewer_id = ?, role = ?, deleted = ? "
                "WHERE id = ?",
                params,
            )
        _update_nodes(con, _last_per_id(self.node_updates))
        retracted = _last_per_id(self.retracted)
        if len(retracted) == 1:
            con.execute(
                "UPDATE annotations SET retracted = ? WHERE id = ?",
                [retracted[0].retracted, retracted[0].id],
            )
        elif retracted:
            con.execute(
                "UPDATE annotations SET retracted = u.retracted FROM ("
                "SELECT unnest(?::VARCHAR[]) AS id, unnest(?::BOOLEAN[]) AS retracted) AS u "
                "WHERE annotations.id = u.id",
                [[a.id for a in retracted], [a.retracted for a in retracted]],
            )
        parents: dict[str, list[str]] = {}
        for session_id, parent in self.choices:
            parents.setdefault(session_id, []).append(parent)
        for session_id, ids in parents.items():
            con.execute(
                "DELETE FROM branch_choices WHERE session_id = ? AND parent_id IN "
                "(SELECT unnest(?::VARCHAR[]))",
                [session_id, ids],
            )
        choices = [row for rows in self.choices.values() for row in rows]
        bulk(con, "branch_choices",
              (("session_id", "VARCHAR"), ("parent_id", "VARCHAR"), ("choice", "VARCHAR"),
               ("child_id", "VARCHAR")), choices)  # fmt: skip


def _last_per_id(objects: list[_Row]) -> list[_Row]:
    # An UPDATE ... FROM with one id twice is ambiguous; the latest state is the one to keep.
    return list({o.id: o for o in objects}.values())


def _update_nodes(con: duckdb.DuckDBPyConnection, old: list[Node]) -> None:
    if len(old) == 1:
        con.execute(
            "UPDATE nodes SET current_version_id = ?, deleted = ? WHERE id = ?",
            [old[0].current_version_id, old[0].deleted, old[0].id],
        )
    elif old:
        con.execute(
            "UPDATE nodes SET current_version_id = u.current, deleted = u.deleted FROM ("
            "SELECT unnest(?::VARCHAR[]) AS id, unnest(?::VARCHAR[]) AS current, "
            "unnest(?::BOOLEAN[]) AS deleted) AS u WHERE nodes.id = u.id",
            [[n.id for n in old], [n.current_version_id for n in old], [n.deleted for n in old]],
        )


def merge_changes(changes: Sequence[Changes]) -> Changes:
    """One `Changes` naming everything any of `changes` names (each id once, in order)."""

    def union(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for c in changes for i in getattr(c, name)))

    return Changes(
        nodes=union("nodes"),
        chains=union("chains"),
        annotations=union("annotations"),
        selections=union("selections"),
        session=any(c.session for c in changes),
    )


def write_generation(
    con: duckdb.DuckDBPyConnection, session_id: str, generation: Generation
) -> None:
    """Store the engine's record of a generation beside its chain."""
    s = generation.sampling
    con.execute(
        "INSERT INTO generations VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            generation.chain_id, session_id, generation.model_file, generation.model_size,
            generation.model_sha256, s.get("temperature"), s.get("top_p"), s.get("top_k"),
            s.get("min_p"), s.get("repeat_penalty"), s.get("max_tokens"), s.get("seed"),
            canonical(dict(s)), generation.prompt_tokens, generation.prompt_tokens_evaluated,
            generation.completion_tokens, generation.time_to_first_token_s,
            generation.tokens_per_s, generation.finish_reason,
            canonical([dict(c) if c is not None else None for c in generation.step_confidence]),
            canonical(dict(generation.extra)),
        ],
    )  # fmt: skip
