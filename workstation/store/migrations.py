"""Forward migrations: each schema version is reached from the one before by one function.

`schema_version` holds one row per version applied. Opening a file runs every missing step in
one transaction, so a file is either fully upgraded or left as it was. A released version's
step is never edited: change the schema by adding a new step (and a fixture file for the
version it replaces, under tests/store/fixtures/).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from workstation import __version__
from workstation.store import schema
from workstation.store.errors import DatabaseCorruptError


def _to_v1(con: duckdb.DuckDBPyConnection) -> None:
    for statement in schema.V1:
        con.execute(statement)


def _to_v2(con: duckdb.DuckDBPyConnection) -> None:
    for statement in schema.V2:
        con.execute(statement)


def _to_v3(con: duckdb.DuckDBPyConnection) -> None:
    for statement in schema.V3:
        con.execute(statement)


#: version -> the step that creates it from the version before.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    1: _to_v1,
    2: _to_v2,
    3: _to_v3,
}

#: The schema version this code reads and writes.
CURRENT = max(MIGRATIONS)


def recorded_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The version recorded in the open file: 0 for an empty database.

    Raises `DatabaseCorruptError` for a DuckDB database that is not a workstation database,
    so that someone else's file is never written to.
    """
    tables = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    }
    if "schema_version" in tables:
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
        if row and row[0] is not None:
            return int(row[0])
        # Upgrades are atomic, so an empty version table is no state this code leaves.
        raise DatabaseCorruptError(
            f"{path} has lost its schema version record; it was left as it was: open or "
            "create another database",
            path,
        )
    if tables:
        raise DatabaseCorruptError(
            f"{path} is a DuckDB database but not a workstation database; it was left as it "
            "was: open or create another database",
            path,
        )
    return 0


def upgrade(
    con: duckdb.DuckDBPyConnection,
    found: int,
    *,
    backup: tuple[Path, Path] | None = None,
    target: int | None = None,
) -> None:
    """Run the steps from version `found` to `target` in one transaction.

    `backup` is (database file, copy): the file is checkpointed and copied first, so the user
    keeps the database as the older version wrote it. `target` defaults to `CURRENT`.
    """
    target = CURRENT if target is None else target
    if backup is not None:
        source, copy = backup
        con.execute("CHECKPOINT")
        shutil.copyfile(source, copy)
    con.execute("BEGIN TRANSACTION")
    try:
        for version in range(found + 1, target + 1):
            MIGRATIONS[version](con)
            con.execute(
                "INSERT INTO schema_version (version, applied_at, app_version) VALUES (?, ?, ?)",
                [version, datetime.now(UTC).replace(tzinfo=None), __version__],
            )
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the failed statement may already have ended the transaction
        raise
