"""Opening the database file safely, and running every change as one transaction.

`Database.open` never waits for a lock, never writes to a file it refuses, and upgrades an older
schema before anything else reads it. A read-only open of a file that another process holds (or
that needs upgrading) reads a private snapshot copy instead, because DuckDB lets one process write
a file or several read it, never both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from workstation import paths
from workstation.store import migrations
from workstation.store.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    NewerSchemaError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    StorePermissionError,
    StoreWriteError,
    translate,
)

# Bytes 8..12 of every DuckDB database file; checked before DuckDB sees a file, so that a file
# that is plainly not a database is refused without DuckDB ever opening it.
_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8

# Every table and index takes whole blocks, so with DuckDB's default 256 KiB blocks a review
# database of two sessions is 7 MB; with 64 KiB blocks it is 1.8 MB. Smaller blocks (16 KiB:
# 0.5 MB) double the size of a large database. Only new files take it.
#
# One DuckDB thread: most statements here are tiny (a label is two single-row INSERTs and a
# commit), and DuckDB hands each statement's work to its worker threads and waits for them;
# run on the calling thread instead, an annotation commit took 6.4-7.4 ms at the median
# instead of 8.4-9.1 ms (bench.store, alternate runs), and the window keeps a core for itself.
# Work that scans whole tables (exports, the checkpoint after an import) asks for every core
# with `Database.parallel()`.
_CONFIG: dict[str, str | bool | int | float | list[str]] = {"default_block_size": "65536", "threads": "1"}

# Files this process holds for writing: a second `Store` on the same file would share DuckDB's
# instance but not the store's in-memory state (event log head, known ids), so it is refused.
_OPEN_FOR_WRITING: set[Path] = set()


def _connect(target: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(target), read_only=read_only, config=_CONFIG)
    except duckdb.InvalidInputException as exc:
        if "default_block_size" not in str(exc):
            raise
        return duckdb.connect(str(target), read_only=read_only, config={"threads": "1"})  # no such option


class Database:
    """One open DuckDB file: a connection, its path, and how it was opened.

    Use `transaction()` for every change and `read()` for queries; both turn DuckDB's errors into
    `StoreError`s. A `Database` is used by one thread at a time (a lock enforces it).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        *,
        read_only: bool,
        snapshot_dir: Path | None = None,
    ) -> None:
        self._con: duckdb.DuckDBPyConnection | None = con
        self.path = path
        self.read_only = read_only
        #: Where the private copy lives when this is a snapshot of a file another process holds.
        self.snapshot_dir = snapshot_dir
        self._lock = threading.RLock()
        # Set when a failed write closed the connection: the next use opens the file again,
        # so that once the user has freed space (or fixed permissions) the same window goes on.
        self._failed = False

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str | None = None, *, read_only: bool = False) -> Database:
        """Open (or create) the database at `path` (default: `paths.default_db()`).

        Raises `DatabaseLockedError` when another process holds it and `read_only` is false,
        `DatabaseCorruptError` for a file that is not a workstation database, `NewerSchemaError`
        for a file from a newer version, `StorePermissionError` when the OS refuses access.
        """
        target = Path(path).expanduser() if path is not None else paths.default_db()
        target = target.absolute()
        exists = _check_file(target)
        if read_only and not exists:
            raise StoreError(f"{target} does not exist; open or create another database", target)
        if not exists:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _mapped(exc, target) from exc  # an OSError always translates
        if target in _OPEN_FOR_WRITING:
            if read_only:
                return cls._open_snapshot(target)
            raise DatabaseLockedError(target, os.getpid())
        if exists and not read_only and target.with_name(target.name + ".wal").exists():
            # Opening for writing replays the log into the file; a file from a newer version
            # must be refused before that, so look at its version read-only first.
            _refuse_newer(target)
        try:
            con = _connect(target, read_only)
        except duckdb.ConnectionException as exc:
            # This process already has the file open for writing under another configuration.
            if read_only and "different configuration" in str(exc):
                return cls._open_snapshot(target)
            raise _mapped(exc, target, writing=False) from exc
        except duckdb.Error as exc:
            mapped = _mapped(exc, target, writing=False)
            if read_only and isinstance(mapped, DatabaseLockedError):
                return cls._open_snapshot(target)
            raise mapped from exc
        if not read_only:
            _protect(target)  # before the schema or any review is written into a new file
        db = cls(con, target, read_only=read_only)
        try:
            found = db._schema_version()
            if found > migrations.CURRENT:
                raise NewerSchemaError(target, found, migrations.CURRENT)
            if found < migrations.CURRENT:
                if read_only:
                    # Upgrading means writing; a read-only open upgrades a private copy instead.
                    db.close()
                    return cls._open_snapshot(target)
                db._upgrade(found)
        except BaseException:
            db.close()
            raise
        if not read_only:
            _OPEN_FOR_WRITING.add(target)
        return db

    @classmethod
    def _open_snapshot(cls, target: Path) -> Database:
        """A read-only view of a private copy of `target` (and its write-ahead log)."""
        folder = Path(tempfile.mkdtemp(prefix="workstation-snapshot-"))
        copy = folder / target.name
        try:
            _copy_with_wal(target, copy)
            con = _connect(copy, False)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise _mapped(exc, target, writing=False) from exc
        except duckdb.Error as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise _mapped(exc, target, writing=False) from exc
        db = cls(con, target, read_only=True, snapshot_dir=folder)
        try:
            found = db._schema_version()
            if found > migrations.CURRENT:
                raise NewerSchemaError(target, found, migrations.CURRENT)
            if found < migrations.CURRENT:
                migrations.upgrade(con, found, backup=None)
        except duckdb.Error as exc:
            db.close()
            raise _mapped(exc, target, writing=False) from exc
        except BaseException:
            db.close()
            raise
        return db

    def _schema_version(self) -> int:
        """The schema version recorded in the file; 0 for an empty new database."""
        assert self._con is not None
        try:
            return migrations.recorded_version(self._con, self.path)
        except duckdb.Error as exc:
            raise _mapped(exc, self.path, writing=False) from exc

    def _upgrade(self, found: int) -> None:
        assert self._con is not None
        backup = None
        if found > 0:
            # Keep the file as it was before an upgrade, so a failed or unwanted upgrade is
            # recoverable; new databases (found == 0) have nothing to keep.
            backup = (self.path, self.path.with_name(f"{self.path.name}.v{found}.bak"))
        try:
            migrations.upgrade(self._con, found, backup=backup)
        except (duckdb.Error, OSError) as exc:
            mapped = translate(exc, self.path)
            if mapped is None:
                raise  # a failing migration step is a bug, not the environment's fault
            raise mapped from exc

    # -- using ---------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once `close()` ran (or a failed write closed the connection)."""
        return self._con is None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None and self._failed:
            self._reopen()
        if self._con is None:
            raise StoreClosedError(f"{self.path} is closed; open it again", self.path)
        return self._con

    def _reopen(self) -> None:
        """Open the file again after a failed write closed it (DuckDB replays its log).

        Raises the `StoreError` that says why when it still cannot be opened; the next use
        tries again.
        """
        if self.path in _OPEN_FOR_WRITING:
            raise DatabaseLockedError(self.path, os.getpid())
        try:
            con = _connect(self.path, False)
        except duckdb.Error as exc:
            raise _mapped(exc, self.path) from exc
        self._con, self._failed = con, False
        _OPEN_FOR_WRITING.add(self.path)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run the block as one transaction, committed (durably) before the block returns.

        On any error the transaction is rolled back. A failed write (disk full, permission
        denied) closes the connection, because DuckDB may have invalidated it.
        """
        if self.read_only:
            if self.snapshot_dir is not None:
                why = "a read-only snapshot (another window holds the file); close the other window"
            else:
                why = "open read-only; make the file and its folder writable (or close the other window)"
            raise ReadOnlyStoreError(
                f"{self.path} is {why} and open it again to make changes; this change was not saved",
                self.path,
            )
        with self._lock:
            con = self._connection()
            try:
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("COMMIT")
                _protect_wal(self.path)
            except BaseException as exc:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # a failed COMMIT has already ended the transaction
                mapped = translate(exc, self.path)
                if mapped is None:
                    raise
                if isinstance(mapped, StoreWriteError):
                    self.close()
                    self._failed = True
                raise mapped from exc

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for queries; DuckDB errors (a damaged block found late) become
        `StoreError`s."""
        with self._lock:
            con = self._connection()
            try:
                yield con
            except duckdb.Error as exc:
                mapped = translate(exc, self.path, writing=False)
                if mapped is None:
                    raise
                raise mapped from exc

    @contextmanager
    def parallel(self) -> Iterator[None]:
        """Let DuckDB use every core for the block (whole-table work: an export, a checkpoint
        of a large import); back to one thread afterwards. Switching costs about a millisecond."""
        cores = os.cpu_count() or 1
        with self.read() as con:
            con.execute(f"SET threads = {cores}")
        try:
            yield
        finally:
            try:
                with self.read() as con:
                    con.execute("SET threads = 1")
            except StoreError:
                pass  # a failed write closed the file: it opens again with one thread

    def close(self) -> None:
        """Close the connection (a no-op when already closed) and drop any snapshot copy."""
        with self._lock:
            con, self._con = self._con, None
            self._failed = False
            if not self.read_only:
                _OPEN_FOR_WRITING.discard(self.path)
            if con is not None:
                try:
                    con.close()
                except duckdb.Error:
                    pass  # closing after an invalidating error may fail; the file is still safe
            if self.snapshot_dir is not None:
                shutil.rmtree(self.snapshot_dir, ignore_errors=True)


def _refuse_newer(target: Path) -> None:
    """Raise NewerSchemaError if the file records a newer schema (reading it read-only)."""
    try:
        con = _connect(target, True)
    except duckdb.Error:
        return  # locked or damaged: the writable open says which, as it always does
    try:
        found = migrations.recorded_version(con, target)
    except (duckdb.Error, DatabaseCorruptError):
        return
    finally:
        con.close()
    if found > migrations.CURRENT:
        raise NewerSchemaError(target, found, migrations.CURRENT)


def _protect(target: Path) -> None:
    """Make the database file and its write-ahead log readable by the user only (0600).

    DuckDB creates both with the process's umask (often 0644: readable by every local user),
    and deletes the log at each checkpoint, so the log is protected again after every commit.
    """
    _chmod_private(target)
    _protect_wal(target)


def _protect_wal(target: Path) -> None:
    _chmod_private(target.with_name(target.name + ".wal"))


def _chmod_private(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass  # absent (no log yet), or a file system without Unix modes (FAT, some shares)


def _check_file(target: Path) -> bool:
    """Whether `target` exists; raise for a path that cannot be a database (read only)."""
    try:
        if not target.exists():
            return False
        if target.is_dir():
            raise DatabaseCorruptError(
                f"{target} is a folder, not a database file; open or create another database",
                target,
            )
        with target.open("rb") as handle:
            head = handle.read(_MAGIC_OFFSET + len(_MAGIC))
    except PermissionError as exc:
        raise StorePermissionError(
            f"could not open {target}: permission denied; check its permissions or open "
            "another database",
            target,
        ) from exc
    if head[_MAGIC_OFFSET:] != _MAGIC:
        what = "an empty file" if not head else "not a DuckDB database"
        raise DatabaseCorruptError(
            f"{target} is {what}; it was left as it was: open or create another database",
            target,
        )
    return True


def _copy_with_wal(source: Path, copy: Path) -> None:
    """Copy a database file and its write-ahead log, retrying if a checkpoint moved them."""
    wal = source.with_name(source.name + ".wal")
    for _ in range(5):
        before = _stamp(source)
        shutil.copyfile(source, copy)
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
        # A checkpoint in the other process rewrites the file and truncates the log; a copy
        # taken across one may mix both states, so take it again.
        if _stamp(source) == before:
            return
    raise StoreError(
        f"{source} is changing too fast to copy for reading; try again in a moment", source
    )


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _mapped(exc: BaseException, path: Path, *, writing: bool = True) -> StoreError:
    """`translate`, with a generic `StoreError` for anything it does not recognise."""
    mapped = translate(exc, path, writing=writing)
    if mapped is not None:
        return mapped
    return StoreError(f"could not open {path}: {exc}; open or create another database", path)
