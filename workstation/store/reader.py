"""Reading sessions back: the exact tree from the tables, the session list, the event log."""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import fields
from operator import itemgetter
from typing import Any, TypeVar

import duckdb

from workstation.core.history import Event
from workstation.core.jsontypes import JSONObject
from workstation.core.model import Annotation, Chain, Flag, Node, Session, Version
from workstation.core.tree import Tree
from workstation.store.records import Generation, SessionSummary

_R = TypeVar("_R")


def session_exists(con: duckdb.DuckDBPyConnection, session_id: str) -> bool:
    """Whether the session is in the file."""
    return con.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is not None


#: A record's stored field values by name, as DuckDB gives them (of the fields' several types).
Values = dict[str, object]

#: Cache of makers by class. Any: each maker gives an instance of its own class key, which a
#: dict's type cannot say; `_maker` gives each back with its class's type.
_MAKERS: dict[type, Callable[[Values], Any]] = {}


def _maker(cls: type[_R]) -> Callable[[Values], _R]:
    """How to rebuild a core record from all its stored fields, without its checks again.

    This is what unpickling does (a new object, then its `__dict__`): the checks ran when the
    object was made and only objects that passed them were stored; skipping them is what makes
    a 5,000-step session open in well under 200 ms. A record with slots, or one whose fields
    the store does not all hold, takes the slow, checked way (its constructor, with defaults).
    """
    maker = _MAKERS.get(cls)
    if maker is None:
        if "__slots__" in vars(cls):
            maker = _checked(cls)
        else:
            new = object.__new__
            put = object.__setattr__

            def maker(values: Values) -> _R:
                obj = new(cls)
                put(obj, "__dict__", values)
                return obj

        _MAKERS[cls] = maker
    return maker


def _checked(cls: type[_R]) -> Callable[[Values], _R]:
    return lambda values: cls(**values)


def _makers_for(*pairs: tuple[type, tuple[str, ...]]) -> list[Callable[[Values], Any]]:
    """The makers for records restored with exactly these field names.

    Any: the makers give records of different classes, unpacked by the caller into one name each."""
    out: list[Callable[[Values], Any]] = []
    for cls, names in pairs:
        complete = {f.name for f in fields(cls)} == set(names)
        out.append(_maker(cls) if complete else _checked(cls))
    return out


_VERSION_NAMES = (
    "id", "node_id", "text", "raw", "origin", "author", "role", "created_at", "flags",
    "mean_logprob", "min_token_prob", "token_count",
)  # fmt: skip
_NODE_NAMES = (
    "id", "session_id", "kind", "parent_id", "chain_id", "position", "versions",
    "current_version_id", "deleted",
)  # fmt: skip
_FLAG_NAMES = ("check", "message", "start", "end", "severity")
_SESSION_FIELDS = (
    "id", "title", "question", "template_name", "template_version", "created_at", "reviewer_id",
    "role", "deleted",
)  # fmt: skip
_CHAIN_FIELDS = (
    "id", "session_id", "parent_id", "kind", "raw_text", "splitter_name", "splitter_version",
    "template_name", "template_version", "author", "role", "created_at", "node_ids", "critique",
    "model", "finish_reason",
)  # fmt: skip
_ANNOTATION_NAMES = (
    "id", "session_id", "node_id", "version_id", "reviewer_id", "role", "created_at", "label",
    "note", "tags", "severity", "retracted",
)  # fmt: skip
_first = itemgetter(0)


def load_tree(con: duckdb.DuckDBPyConnection, session_id: str) -> Tree | None:
    """The session's tree exactly as last committed, or None if there is no such session.

    Python's cyclic garbage collector is paused meanwhile: rebuilding a large session makes
    tens of thousands of small records, none in a cycle, and the collections that their
    allocation would trigger (scanning the whole heap) cost more than the rebuild itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_tree(con, session_id)
    finally:
        if enabled:
            gc.enable()


def _load_tree(con: duckdb.DuckDBPyConnection, session_id: str) -> Tree | None:
    """The session's tree exactly as last committed, or None if there is no such session.

    Rows come back unsorted and are ordered here: sorting a few thousand tuples in Python is
    cheaper than DuckDB's sort for such small results.
    """
    row = con.execute(
        "SELECT id, title, question, template_name, template_version, created_at, reviewer_id, "
        "role, coalesce(deleted, false), question_id FROM sessions WHERE id = ?",
        [session_id],
    ).fetchone()
    if row is None:
        return None
    make_session, make_flag, make_version, make_node, make_chain, make_annotation = _makers_for(
        (Session, _SESSION_FIELDS), (Flag, _FLAG_NAMES), (Version, _VERSION_NAMES),
        (Node, _NODE_NAMES), (Chain, _CHAIN_FIELDS), (Annotation, _ANNOTATION_NAMES),
    )  # fmt: skip
    session = make_session(dict(zip(_SESSION_FIELDS, row[:9], strict=True)))
    question_id = row[9]

    flags: dict[str, list[tuple[int, Flag]]] = defaultdict(list)
    for version_id, idx, check, message, start, end, severity in con.execute(
        "SELECT version_id, idx, check_name, message, span_start, span_end, severity FROM flags "
        "WHERE session_id = ?",
        [session_id],
    ).fetchall():
        flags[version_id].append(
            (idx, make_flag({"check": check, "message": message, "start": start, "end": end,
                             "severity": severity}))
        )  # fmt: skip

    versions: dict[str, list[tuple[int, Version]]] = defaultdict(list)
    for r in con.execute(
        "SELECT id, node_id, idx, text, raw, origin, author, role, created_at, mean_logprob, "
        "min_token_prob, token_count FROM versions WHERE session_id = ?",
        [session_id],
    ).fetchall():
        found = flags.get(r[0])
        versions[r[1]].append((r[2], make_version({
            "id": r[0], "node_id": r[1], "text": r[3], "raw": r[4], "origin": r[5],
            "author": r[6], "role": r[7], "created_at": r[8],
            "flags": tuple(f for _, f in sorted(found, key=_first)) if found else (),
            "mean_logprob": r[9], "min_token_prob": r[10], "token_count": r[11],
        })))  # fmt: skip

    node_rows = con.execute(
        "SELECT ord, id, kind, parent_id, chain_id, position, current_version_id, deleted "
        "FROM nodes WHERE session_id = ?",
        [session_id],
    ).fetchall()
    node_rows.sort(key=_first)
    nodes = []
    for r in node_rows:
        mine = versions[r[1]]
        if len(mine) == 1:
            kept: tuple[Version, ...] = (mine[0][1],)
        else:
            mine.sort(key=_first)
            kept = tuple(v for _, v in mine)
        nodes.append(make_node({
            "id": r[1], "session_id": session_id, "kind": r[2], "parent_id": r[3],
            "chain_id": r[4], "position": r[5], "versions": kept, "current_version_id": r[6],
            "deleted": r[7],
        }))  # fmt: skip
    by_id = {n.id: n for n in nodes}
    tree = Tree(session, by_id[question_id])
    for node in nodes:
        if node.id != question_id:
            # Creation order puts parents first, as the tree requires.
            tree._put_node(node)  # the private insert, as Tree.from_dict uses it

    chain_rows = con.execute(
        "SELECT ord, id, session_id, parent_id, kind, raw_text, splitter_name, splitter_version, "
        "template_name, template_version, author, role, created_at, node_ids, critique, model, "
        "finish_reason FROM chains WHERE session_id = ?",
        [session_id],
    ).fetchall()
    chain_rows.sort(key=_first)
    for r in chain_rows:
        values = dict(zip(_CHAIN_FIELDS, r[1:], strict=True))
        values["node_ids"] = tuple(values["node_ids"])
        tree.chains[r[1]] = make_chain(values)

    annotation_rows = con.execute(
        "SELECT ord, id, node_id, version_id, reviewer_id, role, created_at, label, note, tags, "
        "severity, retracted FROM annotations WHERE session_id = ?",
        [session_id],
    ).fetchall()
    annotation_rows.sort(key=_first)
    annotations = tree.annotations
    for r in annotation_rows:
        annotations[r[1]] = make_annotation({
            "id": r[1], "session_id": session_id, "node_id": r[2], "version_id": r[3],
            "reviewer_id": r[4], "role": r[5], "created_at": r[6], "label": r[7], "note": r[8],
            "tags": tuple(r[9]), "severity": r[10], "retracted": r[11],
        })  # fmt: skip

    for parent_id, choice, child_id in con.execute(
        "SELECT parent_id, choice, child_id FROM branch_choices WHERE session_id = ? "
        "ORDER BY parent_id",
        [session_id],
    ).fetchall():
        (tree.shown if choice == "shown" else tree.preferred)[parent_id] = child_id
    return tree


def list_sessions(
    con: duckdb.DuckDBPyConnection, *, include_deleted: bool = False
) -> list[SessionSummary]:
    """Every session not deleted (or every one), the most recently changed first."""
    rows = con.execute(
        f"""
        WITH last AS (SELECT session_id, max(created_at) AS at FROM events GROUP BY session_id),
        steps AS (
            SELECT session_id, count(*) AS n FROM nodes
            WHERE kind IN ('step', 'answer') AND NOT deleted GROUP BY session_id
        ),
        notes AS (
            SELECT session_id, count(*) AS n FROM annotations WHERE NOT retracted
            GROUP BY session_id
        ),
        latest AS (  -- each reviewer's latest annotation of each node
            SELECT node_id, version_id, label,
                   row_number() OVER (PARTITION BY node_id, reviewer_id ORDER BY ord DESC) AS k
            FROM annotations WHERE NOT retracted
        ),
        labelled AS (  -- live steps labelled on their current version (a label belongs to its version)
            SELECT n.session_id, count(DISTINCT n.id) AS n FROM nodes n
            JOIN latest a ON a.node_id = n.id AND a.k = 1 AND a.label IS NOT NULL
                          AND a.version_id = n.current_version_id
            WHERE n.kind IN ('step', 'answer') AND NOT n.deleted GROUP BY n.session_id
        ),
        models AS (
            SELECT session_id, list(model ORDER BY first) AS names FROM (
                SELECT session_id, model, min(ord) AS first FROM chains WHERE model <> ''
                GROUP BY session_id, model
            ) GROUP BY session_id
        )
        SELECT s.id, s.title, s.question, s.created_at, coalesce(last.at, s.created_at),
               s.reviewer_id, coalesce(steps.n, 0), coalesce(notes.n, 0),
               coalesce(models.names, []), coalesce(labelled.n, 0)
        FROM sessions s
        LEFT JOIN last ON last.session_id = s.id
        LEFT JOIN steps ON steps.session_id = s.id
        LEFT JOIN notes ON notes.session_id = s.id
        LEFT JOIN models ON models.session_id = s.id
        LEFT JOIN labelled ON labelled.session_id = s.id
        {"" if include_deleted else "WHERE NOT coalesce(s.deleted, false)"}
        ORDER BY 5 DESC, s.ord DESC
        """
    ).fetchall()
    return [SessionSummary(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(r[8]), r[9]) for r in rows]


def events(
    con: duckdb.DuckDBPyConnection,
    session_id: str | None = None,
    after_seq: int = 0,
    *,
    types: Sequence[str] | None = None,
) -> list[tuple[int, Event]]:
    """(seq, event) for the events of one session (or all), in the order they were written;
    only those of the operation `types` when given."""
    sql = "SELECT seq, data FROM events WHERE seq > ?"
    params: list[object] = [after_seq]
    if session_id is not None:
        sql += " AND session_id = ?"
        params.append(session_id)
    if types is not None:
        sql += " AND kind IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(types))
    sql += " ORDER BY seq"
    return [(seq, Event.from_dict(json.loads(data))) for seq, data in con.execute(sql, params).fetchall()]


def generation(con: duckdb.DuckDBPyConnection, chain_id: str) -> Generation | None:
    """The engine's record for a chain, if one was stored."""
    r = con.execute(
        "SELECT chain_id, model_file, model_size, model_sha256, sampling, prompt_tokens, "
        "prompt_tokens_evaluated, completion_tokens, time_to_first_token_s, tokens_per_s, "
        "finish_reason, step_confidence, extra FROM generations WHERE chain_id = ?",
        [chain_id],
    ).fetchone()
    if r is None:
        return None
    # Our own columns, written canonically by `write_generation`.
    sampling: JSONObject = json.loads(r[4])
    confidence: list[JSONObject | None] = json.loads(r[11]) if r[11] else []
    extra: JSONObject = json.loads(r[12]) if r[12] else {}
    return Generation(
        r[0], r[1], r[2], r[3], sampling, r[5], r[6], r[7], r[8], r[9], r[10], tuple(confidence), extra,
    )  # fmt: skip
