"""Every table of a review database as Parquet files, written by DuckDB's own COPY.

`export_parquet_from_store(store, folder)` is the entry point: it uses the store's own
`export_tables`, keeping SQL in the store. `export_parquet(con, folder)` does the same from a
DuckDB connection, for a database file opened without a store. COPY TO never changes the
database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workstation.core.jsontypes import JSONData
from workstation.exchange.result import ExportResult, write_manifest

if TYPE_CHECKING:
    import duckdb

    from workstation.store import Store


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> ExportResult:
    """Write `<table>.parquet` into `out_dir` for every base table; rows = rows written.

    Views (challenges, replies) are derived from the tables and left out.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ExportResult("parquet", out_dir)
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    counts: dict[str, int] = {}
    for table in tables:
        target = out_dir / f"{table}.parquet"
        tmp = out_dir / f".{table}.parquet.tmp"
        # COPY takes no bound parameters for its target; both names are quoted instead.
        row = con.execute(f"SELECT count(*) FROM {_quote_ident(table)}").fetchone()
        counts[table] = int(row[0]) if row is not None else 0  # count(*) always gives a row
        if not counts[table]:
            target.unlink(missing_ok=True)  # an older export's file of a table now empty
            continue
        con.execute(f"COPY {_quote_ident(table)} TO {_quote_literal(str(tmp))} (FORMAT parquet)")
        tmp.replace(target)
        result.files.append(target)
    result.rows = sum(counts.values())
    result.path = out_dir / "tables.parquet"  # the manifest's name: tables.parquet.manifest.json
    write_manifest(result, **_tables_note(counts))
    result.path = out_dir
    return result


#: Why empty tables have no file: `datasets.load_dataset("parquet")` refuses a file with no rows.
EMPTY_TABLES_WHY = ("no file is written for an empty table: datasets.load_dataset('parquet') refuses one "
                    "(\"corresponds to no data\")")


def _tables_note(counts: dict[str, int]) -> dict[str, JSONData]:
    return {"tables": {t: n for t, n in counts.items() if n},
            "empty_tables": sorted(t for t, n in counts.items() if not n), "empty_tables_why": EMPTY_TABLES_WHY}


def export_parquet_from_store(store: Store, out_dir: Path) -> ExportResult:
    """Every table of a `workstation.store.Store` as Parquet, through the store's own
    `export_tables` (DuckDB COPY), with the same result and manifest as `export_parquet`."""
    out_dir = Path(out_dir)
    counts = dict(store.export_tables(out_dir))
    for table, rows in counts.items():
        if not rows:
            (out_dir / f"{table}.parquet").unlink(missing_ok=True)
    result = ExportResult("parquet", out_dir / "tables.parquet")
    result.files = [out_dir / f"{table}.parquet" for table, rows in counts.items() if rows]
    result.rows = sum(counts.values())
    write_manifest(result, **_tables_note(counts))
    result.path = out_dir
    return result
