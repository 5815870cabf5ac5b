"""Crash logs: a crash leaves a report in the log folder that the next start can offer to show.

Unexpected exceptions are bugs: they are written with their traceback to `crash.log`, and the
user is told where it is. `faulthandler` writes native crashes (a fault inside a C library) to
`faults.log`, so even a segfault leaves a trace. Logs are created readable by the user only
(0600): a traceback may quote the text under review.
"""

from __future__ import annotations

import datetime as _dt
import faulthandler
import os
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import IO

from workstation import paths

#: The descriptor of faults.log, kept open for faulthandler for the life of the process (a bare
#: descriptor: a file object would be collected, and warned about, at exit).
_fault_fd: int | None = None


def crash_log() -> Path:
    """The file that unexpected exceptions are appended to."""
    return paths.log_dir() / "crash.log"


def record_crash(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> Path:
    """Append an exception with its traceback to the crash log and return the log's path."""
    log = crash_log()
    stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    with _private_append(log) as handle:
        handle.write(f"--- {stamp}\n")
        handle.write("".join(traceback.format_exception(exc_type, exc, tb)))
    with _private_append(paths.log_dir() / "unseen-crash", truncate=True) as handle:
        handle.write(stamp)
    return log


def _narrow(path: Path) -> None:
    """Make a log the user's only (a file made by an older version had the umask's mode)."""
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass  # a file system without Unix modes


def _private_append(path: Path, *, truncate: bool = False) -> IO[str]:
    """`path` opened for appending (or rewriting), created 0600; an older, wider file is narrowed."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    fd = os.open(path, flags, 0o600)
    _narrow(path)
    # backslashreplace: a lone surrogate in an exception message must not fail the crash log.
    return os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace")


def apology(log: Path) -> str:
    """The short message a user sees for a bug, instead of a traceback."""
    return f"something went wrong inside the workstation (a bug); details are in {log}"


def install_crash_handlers() -> None:
    """Log unexpected exceptions and native faults instead of showing a traceback."""
    global _fault_fd
    if _fault_fd is None:
        path = paths.log_dir() / "faults.log"
        _fault_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _narrow(path)
        faulthandler.enable(_fault_fd)

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        print(f"workstation: {apology(record_crash(exc_type, exc, tb))}", file=sys.stderr)

    sys.excepthook = hook


def unseen_crash() -> Path | None:
    """The crash log, if a crash happened since the user last looked at it."""
    marker = paths.log_dir() / "unseen-crash"
    return crash_log() if marker.exists() and crash_log().exists() else None


def mark_crash_seen() -> None:
    """Forget the unseen-crash marker once the user has been offered the log."""
    (paths.log_dir() / "unseen-crash").unlink(missing_ok=True)
