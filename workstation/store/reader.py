"""Reading sessions back: the exact tree from the tables, the session list, the event log."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import duckdb

from workstation.core.history import Event
from workstation.core.model import Annotation, Chain, Flag, Node, Session, Version
from workstation.core.tree import Tree
from workstation.store.records import Generation, SessionSummary


def session_exists(con: duckdb.DuckDBPyConnection, session_id: str) -> bool:
    """Whether the session is in the file."""
    return con.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone() is not None


def load_tree(con: duckdb.DuckDBPyConnection, session_id: str) -> Tree | None:
    """The session's tree exactly as last committed, or None if there is no such session.

    Objects are built directly (not through `from_dict`): they were validated when they were
    made, and a 5,000-step session must open in well under 200 ms.
    """
    row = con.execute(
        "SELECT id, title, question, template_name, template_version, created_at, reviewer_id, "
        "role, question_id FROM sessions WHERE id = ?",
        [session_id],
    ).fetchone()
    if row is None:
        return None
    session = Session(*row[:8])
    question_id = row[8]

    flags: dict[str, list[Flag]] = defaultdict(list)
    for version_id, check, message, start, end, severity in con.execute(
        "SELECT version_id, check_name, message, span_start, span_end, severity FROM flags "
        "WHERE session_id = ? ORDER BY version_id, idx",
        [session_id],
    ).fetchall():
        flags[version_id].append(Flag(check, message, start, end, severity))

    versions: dict[str, list[Version]] = defaultdict(list)
    for r in con.execute(
        "SELECT id, node_id, text, raw, origin, author, role, created_at, mean_logprob, "
        "min_token_prob, token_count FROM versions WHERE session_id = ? ORDER BY node_id, idx",
        [session_id],
    ).fetchall():
        versions[r[1]].append(
            Version(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(flags.get(r[0], ())),
                    r[8], r[9], r[10])
        )  # fmt: skip

    nodes = [
        Node(r[0], session_id, r[1], r[2], r[3], r[4], tuple(versions[r[0]]), r[5], r[6])
        for r in con.execute(
            "SELECT id, kind, parent_id, chain_id, position, current_version_id, deleted "
            "FROM nodes WHERE session_id = ? ORDER BY ord",
            [session_id],
        ).fetchall()
    ]
    by_id = {n.id: n for n in nodes}
    tree = Tree(session, by_id[question_id])
    for node in nodes:
        if node.id != question_id:
            # Creation order puts parents first, as the tree requires.
            tree._put_node(node)  # noqa: SLF001 - the tree's own loader uses it too

    for r in con.execute(
        "SELECT id, session_id, parent_id, kind, raw_text, splitter_name, splitter_version, "
        "template_name, template_version, author, role, created_at, node_ids, critique, model, "
        "finish_reason FROM chains WHERE session_id = ? ORDER BY ord",
        [session_id],
    ).fetchall():
        tree.chains[r[0]] = Chain(*r[:12], tuple(r[12]), *r[13:])

    for r in con.execute(
        "SELECT id, session_id, node_id, version_id, reviewer_id, role, created_at, label, note, "
        "tags, severity, retracted FROM annotations WHERE session_id = ? ORDER BY ord",
        [session_id],
    ).fetchall():
        tree.annotations[r[0]] = Annotation(*r[:9], tuple(r[9]), r[10], r[11])

    for parent_id, choice, child_id in con.execute(
        "SELECT parent_id, choice, child_id FROM branch_choices WHERE session_id = ? "
        "ORDER BY parent_id",
        [session_id],
    ).fetchall():
        (tree.shown if choice == "shown" else tree.preferred)[parent_id] = child_id
    return tree


def list_sessions(con: duckdb.DuckDBPyConnection) -> list[SessionSummary]:
    """Every session, the most recently changed first."""
    rows = con.execute(
        """
        WITH last AS (SELECT session_id, max(created_at) AS at FROM events GROUP BY session_id),
        steps AS (
            SELECT session_id, count(*) AS n FROM nodes
            WHERE kind IN ('step', 'answer') AND NOT deleted GROUP BY session_id
        ),
        notes AS (
            SELECT session_id, count(*) AS n FROM annotations WHERE NOT retracted
            GROUP BY session_id
        ),
        models AS (
            SELECT session_id, list(model ORDER BY first) AS names FROM (
                SELECT session_id, model, min(ord) AS first FROM chains WHERE model <> ''
                GROUP BY session_id, model
            ) GROUP BY session_id
        )
        SELECT s.id, s.title, s.question, s.created_at, coalesce(last.at, s.created_at),
               s.reviewer_id, coalesce(steps.n, 0), coalesce(notes.n, 0),
               coalesce(models.names, [])
        FROM sessions s
        LEFT JOIN last ON last.session_id = s.id
        LEFT JOIN steps ON steps.session_id = s.id
        LEFT JOIN notes ON notes.session_id = s.id
        LEFT JOIN models ON models.session_id = s.id
        ORDER BY 5 DESC, s.ord DESC
        """
    ).fetchall()
    return [SessionSummary(*r[:8], tuple(r[8])) for r in rows]


def events(
    con: duckdb.DuckDBPyConnection, session_id: str | None = None, after_seq: int = 0
) -> list[tuple[int, Event]]:
    """(seq, event) for the events of one session (or all), in the order they were written."""
    if session_id is None:
        sql, params = "SELECT seq, data FROM events WHERE seq > ? ORDER BY seq", [after_seq]
    else:
        sql = "SELECT seq, data FROM events WHERE session_id = ? AND seq > ? ORDER BY seq"
        params = [session_id, after_seq]
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
    confidence: list[Any] = json.loads(r[11]) if r[11] else []
    return Generation(
        r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8], r[9], r[10],
        tuple(confidence), json.loads(r[12]) if r[12] else {},
    )  # fmt: skip
