"""Opening the database: creation, upgrades, and every file the store must refuse untouched."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from workstation import paths
from workstation.store import migrations
from workstation.store.connection import Database
from workstation.store.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    NewerSchemaError,
    ReadOnlyStoreError,
    StoreError,
)

from .helpers import fingerprint, spawn


def _make_db(path: Path) -> None:
    db = Database.open(path)
    with db.transaction() as con:
        con.execute(
            "INSERT INTO reviewers VALUES ('r1', 'Ada', 'expert', NULL, TIMESTAMP '2026-01-01')"
        )
    db.close()


def test_creates_default_database_with_current_schema() -> None:
    db = Database.open()
    assert db.path == paths.default_db()
    with db.read() as con:
        versions = [r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()]
    assert versions == list(range(1, migrations.CURRENT + 1))
    db.close()
    assert db.closed


def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    _make_db(path)
    db = Database.open(path)
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM schema_version").fetchone() == (migrations.CURRENT,)
        assert con.execute("SELECT name FROM reviewers").fetchall() == [("Ada",)]
    db.close()


def test_one_duckdb_thread_except_for_whole_table_work(tmp_path: Path) -> None:
    """Tiny statements run on the calling thread; `parallel()` lends every core to an export or
    a checkpoint and gives it back, even when the block fails."""
    db = Database.open(tmp_path / "t.duckdb")

    def threads() -> int:
        with db.read() as con:
            return int(con.execute("SELECT current_setting('threads')").fetchone()[0])

    assert threads() == 1
    with db.parallel():
        assert threads() == (os.cpu_count() or 1)
    assert threads() == 1
    with pytest.raises(RuntimeError), db.parallel():
        raise RuntimeError("an export failed")
    assert threads() == 1
    db.close()


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    _make_db(path)
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_version VALUES (?, TIMESTAMP '2030-01-01', '9.0')",
        [migrations.CURRENT + 1],
    )
    con.close()
    before = fingerprint(path)
    with pytest.raises(NewerSchemaError) as info:
        Database.open(path)
    assert str(path) in str(info.value) and "newer version" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(NewerSchemaError):
        Database.open(path, read_only=True)
    assert fingerprint(path) == before


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, world\n" * 100, os.urandom(10_000), b"\x00" * 8 + b"DUCK" + os.urandom(5000)],
    ids=["empty", "text", "random", "fake-header"],
)
def test_not_a_database_is_refused_byte_for_byte(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.duckdb"
    path.write_bytes(content)
    before = fingerprint(path)
    with pytest.raises(DatabaseCorruptError) as info:
        Database.open(path)
    assert str(path) in str(info.value) and "another database" in str(info.value)
    assert fingerprint(path) == before


def test_truncated_database_is_refused_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "cut.duckdb"
    _make_db(path)
    os.truncate(path, 5000)
    before = fingerprint(path)
    with pytest.raises(DatabaseCorruptError):
        Database.open(path)
    assert fingerprint(path) == before


def test_damaged_blocks_are_reported_and_left_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "damaged.duckdb"
    _make_db(path)
    data = bytearray(path.read_bytes())
    # Everything after the headers: the blocks holding the catalog and the tables.
    for i in range(3 * 4096, len(data), 7):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    before = fingerprint(path)
    with pytest.raises(StoreError) as info:
        db = Database.open(path)
        with db.read() as con:
            con.execute("SELECT * FROM reviewers").fetchall()
    assert str(path) in str(info.value)
    assert fingerprint(path) == before


def test_someone_elses_duckdb_file_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE sales (x INTEGER)")
    con.close()
    before = fingerprint(path)
    with pytest.raises(DatabaseCorruptError) as info:
        Database.open(path)
    assert "not a workstation database" in str(info.value)
    assert fingerprint(path) == before


def test_folder_at_the_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.duckdb").mkdir()
    with pytest.raises(DatabaseCorruptError, match="folder"):
        Database.open(tmp_path / "dir.duckdb")


def test_read_only_open_of_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Database.open(tmp_path / "missing.duckdb", read_only=True)
    assert not (tmp_path / "missing.duckdb").exists()


def test_read_only_refuses_changes(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    _make_db(path)
    db = Database.open(path, read_only=True)
    assert db.snapshot_dir is None
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
        with db.transaction():
            pass
    db.close()


_HOLDER = """
import sys
from workstation.store.connection import Database
db = Database.open(sys.argv[1])
with db.transaction() as con:
    con.execute("INSERT INTO reviewers VALUES ('r2', 'Bo', 'annotator', NULL, now()::TIMESTAMP)")
print("ready", flush=True)
sys.stdin.readline()
db.close()
"""


def test_file_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    _make_db(path)
    holder = spawn(_HOLDER, str(path))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError) as info:
            Database.open(path)
        assert time.monotonic() - started < 5, "a locked file must be reported, not waited on"
        message = str(info.value)
        assert str(path) in message and "another workstation window" in message
        assert "read-only" in message and info.value.pid == holder.pid
        # The offered way out: a read-only snapshot that sees what the other window committed.
        db = Database.open(path, read_only=True)
        assert db.read_only and db.snapshot_dir is not None
        with db.read() as con:
            names = sorted(r[0] for r in con.execute("SELECT name FROM reviewers").fetchall())
        assert names == ["Ada", "Bo"]
        with pytest.raises(ReadOnlyStoreError):
            with db.transaction():
                pass
        snapshot = db.snapshot_dir
        db.close()
        assert not snapshot.exists()
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    db = Database.open(path)  # free again once the other window closed it
    db.close()


def test_older_schema_read_only_opens_an_upgraded_snapshot(tmp_path: Path) -> None:
    # A file written by the version before this one (its released fixture).
    path = tmp_path / "old.duckdb"
    fixtures = Path(__file__).with_name("fixtures")
    shutil.copyfile(fixtures / f"v{migrations.CURRENT - 1}.db", path)
    before = fingerprint(path)
    db = Database.open(path, read_only=True)
    assert db.snapshot_dir is not None
    with db.read() as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (migrations.CURRENT,)
    db.close()
    assert fingerprint(path) == before


def test_a_forgotten_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _make_db(path)
    # With every version row gone, a file with tables is "not ours", and must be refused.
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM schema_version")
    con.close()
    before = fingerprint(path)
    with pytest.raises(DatabaseCorruptError):
        Database.open(path, read_only=True)
    assert fingerprint(path) == before


def test_copying_the_database_with_its_log(tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    _make_db(path)
    shutil.copy(path, tmp_path / "again.duckdb")
    db = Database.open(tmp_path / "again.duckdb")
    db.close()


def test_second_writer_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.duckdb"
    first = Database.open(path)
    try:
        with pytest.raises(DatabaseLockedError, match="already open in this workstation window"):
            Database.open(path)
        reader = Database.open(path, read_only=True)  # a snapshot, as for another process
        assert reader.snapshot_dir is not None
        reader.close()
    finally:
        first.close()
    Database.open(path).close()


def test_new_files_use_small_blocks(tmp_path: Path) -> None:
    path = tmp_path / "small.duckdb"
    _make_db(path)
    assert path.stat().st_size < 1_000_000


def test_newer_schema_with_a_pending_log_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newlog.duckdb"
    _make_db(path)
    writer = spawn(
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute('CHECKPOINT')\n"
        "con.execute(\"INSERT INTO schema_version VALUES (99, TIMESTAMP '2030-01-01', '9')\")\n"
        "os._exit(0)  # a crash: the change stays in the write-ahead log\n",
        str(path),
    )
    writer.communicate(timeout=30)
    wal = path.with_name(path.name + ".wal")
    assert wal.exists()
    before, log_before = fingerprint(path), wal.read_bytes()
    with pytest.raises(NewerSchemaError):
        Database.open(path)
    assert fingerprint(path) == before and wal.read_bytes() == log_before


def test_file_from_a_newer_duckdb_is_named_as_such(tmp_path: Path) -> None:
    from workstation.store.errors import NewerFormatError, translate

    exc = duckdb.IOException(
        "IO Error: Trying to read a database file with version number 99, but we can only "
        "read version 65"
    )
    mapped = translate(exc, tmp_path / "x.duckdb")
    assert isinstance(mapped, NewerFormatError) and "newer version of DuckDB" in str(mapped)
