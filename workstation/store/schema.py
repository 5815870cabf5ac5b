"""The tables, as each released schema version created them.

A released version's statements are frozen: `migrations.py` replays them to create a new
database and to upgrade old ones, and tests/store/fixtures/ keeps a file written by each.
"""

from __future__ import annotations

V1: tuple[str, ...] = (
    """
    CREATE TABLE schema_version (
        version     INTEGER PRIMARY KEY,
        applied_at  TIMESTAMP NOT NULL,
        app_version VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE reviewers (
        id          VARCHAR PRIMARY KEY,
        name        VARCHAR NOT NULL,
        role        VARCHAR NOT NULL,
        public_key  VARCHAR,
        created_at  TIMESTAMP NOT NULL
    )
    """,
    # The audit trail: one row per operation, appended and never updated or deleted. `seq` is
    # this file's order; `id` is the event's own unique id, kept across bundles; `hash` chains
    # each row to the one before, so an edited or removed row is detectable.
    """
    CREATE TABLE events (
        seq         BIGINT PRIMARY KEY,
        id          VARCHAR NOT NULL UNIQUE,
        session_id  VARCHAR,
        created_at  VARCHAR NOT NULL,
        reviewer_id VARCHAR,
        role        VARCHAR,
        kind        VARCHAR NOT NULL,
        data        JSON NOT NULL,
        prev_hash   VARCHAR NOT NULL,
        hash        VARCHAR NOT NULL
    )
    """,
)
