"""Search across sessions: by text in questions and steps, by label, tag, reviewer, model."""

from __future__ import annotations

import duckdb

from workstation.store.records import SearchHit

# Each reviewer's current annotation per node: their latest one that is not retracted, as
# `Tree.current_annotations` defines it. Labels and tags are searched among these only, so a
# label a reviewer changed their mind about no longer matches.
_CURRENT_ANNOTATIONS = """
    SELECT node_id, reviewer_id, label, tags FROM annotations WHERE NOT retracted
    QUALIFY row_number() OVER (PARTITION BY node_id, reviewer_id ORDER BY ord DESC) = 1
"""


def search(
    con: duckdb.DuckDBPyConnection,
    *,
    text: str | None = None,
    label: int | None = None,
    tag: str | None = None,
    reviewer: str | None = None,
    model: str | None = None,
    include_deleted: bool = False,
    limit: int = 200,
) -> list[SearchHit]:
    """Nodes matching every criterion given, newest session first, in tree order within one.

    `text` matches the current text of questions, steps, answers, challenges and replies
    (case-insensitive substring). `label`, `tag` and `reviewer` match a reviewer's current
    annotation (all given ones on the same annotation). `model` matches part of the model name
    or file name, or the whole SHA-256, of the generation that produced the node. Nodes of
    deleted branches and of deleted sessions are left out unless `include_deleted`.
    """
    where = [] if include_deleted else ["NOT n.deleted", "NOT coalesce(s.deleted, false)"]
    params: list[object] = []
    if text:
        where.append("contains(lower(v.text), lower(?))")
        params.append(text)
    if label is not None or tag or reviewer:
        conditions = ["a.node_id = n.id"]
        if label is not None:
            conditions.append("a.label = ?")
            params.append(label)
        if tag:
            conditions.append("list_contains(a.tags, ?)")
            params.append(tag)
        if reviewer:
            conditions.append("a.reviewer_id = ?")
            params.append(reviewer)
        where.append(f"EXISTS (SELECT 1 FROM current a WHERE {' AND '.join(conditions)})")
    if model:
        where.append(
            "EXISTS (SELECT 1 FROM chains c LEFT JOIN generations g ON g.chain_id = c.id "
            "WHERE c.id = n.chain_id AND (contains(lower(c.model), lower(?)) "
            "OR contains(lower(coalesce(g.model_file, '')), lower(?)) OR g.model_sha256 = ?))"
        )
        params.extend([model, model, model.lower()])
    sql = f"""
        WITH current AS ({_CURRENT_ANNOTATIONS})
        SELECT n.session_id, s.title, n.id, n.kind, n.position, v.text, n.deleted
        FROM nodes n
        JOIN versions v ON v.id = n.current_version_id
        JOIN sessions s ON s.id = n.session_id
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY s.ord DESC, n.ord
        LIMIT ?
    """
    params.append(limit)
    return [SearchHit(*row) for row in con.execute(sql, params).fetchall()]
