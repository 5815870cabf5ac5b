"""What the store tells the user when the database file cannot be used as asked.

Every message is one line that names the file and says what to do. `translate` turns a DuckDB
exception into one of these; anything it does not recognise is re-raised as a bug.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import duckdb

from workstation.errors import BadInputError, WorkstationError


class StoreError(WorkstationError):
    """The database file cannot be used as asked; `path` names it."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class DatabaseLockedError(StoreError):
    """Another process (another workstation window) holds the file for writing.

    `Store.open(path, read_only=True)` still works: it opens a private snapshot of the file.
    """

    def __init__(self, path: Path, pid: int | None = None) -> None:
        if pid is not None and pid == os.getpid():
            message = (
                f"{path} is already open in this workstation window; use the open database, "
                "or open it read-only"
            )
        else:
            holder = f" (process {pid})" if pid else ""
            message = (
                f"{path} is open in another workstation window{holder}; close it there, "
                "or open this database read-only"
            )
        super().__init__(message, path)
        self.pid = pid


class DatabaseCorruptError(StoreError):
    """The file is not a DuckDB database, not a workstation database, or is damaged.

    The file is left byte-for-byte as it was; the user may open or create another database.
    """


class NewerSchemaError(StoreError):
    """The file was written by a newer version of the workstation; it is left untouched."""

    def __init__(self, path: Path, found: int, supported: int) -> None:
        super().__init__(
            f"{path} was written by a newer version of the workstation (schema v{found}, this "
            f"version reads up to v{supported}); it was left untouched: update the workstation "
            "or open another database",
            path,
        )
        self.found = found
        self.supported = supported


class NewerFormatError(StoreError):
    """The file was written by a newer DuckDB than this workstation's; it is left untouched."""


class StoreWriteError(StoreError):
    """A write failed (disk full, permission denied, I/O error); nothing of it was kept.

    After one of these the connection is closed; the store's next use opens the file again.
    """


class DiskFullError(StoreWriteError):
    """The disk (or the file size limit) is full; the change was not saved."""


class StorePermissionError(StoreWriteError):
    """The operating system refused to read or write the file or its folder."""


class ReadOnlyStoreError(StoreError):
    """A change was asked of a database opened read-only."""


class StoreClosedError(StoreError):
    """The store was closed (or closed itself after a failed write)."""


class UnknownIdError(StoreError, BadInputError):
    """No session, node or reviewer with that id exists in this database."""


_LOCK_PID = re.compile(r"\(PID (\d+)\)")

_CORRUPT_MARKERS = (
    "not a valid duckdb database file",
    "corrupt database file",
    "does not match stored checksum",
    "could not read enough bytes",
    "database file is too small",
    "invalid block",
    "serialization error",
    "failed to deserialize",
)
_NEWER_FORMAT_MARKERS = (
    "trying to read a database file with version number",
    "created with a newer version",
    "newer version of duckdb",
)
_DISK_FULL_MARKERS = ("no space left on device", "file too large", "disk quota exceeded")
_PERMISSION_MARKERS = ("permission denied", "read-only file system", "operation not permitted")


def translate(exc: BaseException, path: Path, *, writing: bool = True) -> StoreError | None:
    """The `StoreError` for a DuckDB or OS exception on `path`, or None when it is a bug."""
    if isinstance(exc, OSError):
        return _translate_os(exc, path)
    if not isinstance(exc, duckdb.Error):
        return None
    text = str(exc)
    low = text.lower()
    if "could not set lock on file" in low:
        match = _LOCK_PID.search(text)
        return DatabaseLockedError(path, int(match.group(1)) if match else None)
    if any(marker in low for marker in _NEWER_FORMAT_MARKERS):
        return NewerFormatError(
            f"{path} was written by a newer version of DuckDB than this workstation uses; it "
            "was left untouched: update the workstation or open another database",
            path,
        )
    if any(marker in low for marker in _DISK_FULL_MARKERS):
        return DiskFullError(
            f"could not write to {path}: the disk is full; the last change was not saved: "
            "free some space and try again",
            path,
        )
    if any(marker in low for marker in _PERMISSION_MARKERS):
        what = "write to" if writing else "open"
        return StorePermissionError(
            f"could not {what} {path}: permission denied; the last change was not saved: "
            "check the file's permissions or open another database",
            path,
        )
    if any(marker in low for marker in _CORRUPT_MARKERS):
        return DatabaseCorruptError(
            f"{path} is not a workstation database or is damaged ({_first_line(text)}); it was "
            "left as it was: open or create another database",
            path,
        )
    if "cannot encode str as utf-8" in low:
        # A lone surrogate reached the store (the review use cases replace them; a caller that
        # skips them, or a damaged bundle, does not): the transaction is refused, nothing saved.
        return StoreError(
            f"could not save to {path}: the text holds a lone surrogate, which is not valid "
            "Unicode; nothing was saved",
            path,
        )
    if "database has been invalidated" in low:
        return StoreWriteError(
            f"{path}: an earlier write failed, so this connection was closed; try again "
            "(the file is opened again)",
            path,
        )
    if isinstance(exc, duckdb.IOException):
        return StoreWriteError(
            f"could not use {path}: {_first_line(text)}; check the disk, then open the database "
            "again",
            path,
        )
    return None


def _translate_os(exc: OSError, path: Path) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return DiskFullError(f"could not write to {path}: the disk is full; free some space", path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorePermissionError(
            f"could not use {path}: permission denied; check its permissions or open another "
            "database",
            path,
        )
    return StoreWriteError(f"could not use {path}: {exc.strerror or exc}", path)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    # DuckDB prefixes messages with the error class ("IO Error: ..."); the user needs the rest.
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line)
    return line[:200]
