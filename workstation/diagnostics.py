"""Crash logs: a crash leaves a report in the log folder that the next start can offer to show.

Unexpected exceptions are bugs: they are written with their traceback to `crash.log`, and the
user is told where it is. `faulthandler` writes native crashes (a fault inside a C library) to
`faults.log`, so even a segfault leaves a trace.
"""

from __future__ import annotations

import datetime as _dt
import faulthandler
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import IO

from workstation import paths

_fault_file: IO[str] | None = None


def crash_log() -> Path:
    """The file that unexpected exceptions are appended to."""
    return paths.log_dir() / "crash.log"


def record_crash(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> Path:
    """Append an exception with its traceback to the crash log and return the log's path."""
    log = crash_log()
    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {stamp}\n")
        handle.write("".join(traceback.format_exception(exc_type, exc, tb)))
    (paths.log_dir() / "unseen-crash").write_text(stamp, encoding="utf-8")
    return log


def apology(log: Path) -> str:
    """The short message a user sees for a bug, instead of a traceback."""
    return f"something went wrong inside the workstation (a bug); details are in {log}"


def install_crash_handlers() -> None:
    """Log unexpected exceptions and native faults instead of showing a traceback."""
    global _fault_file
    if _fault_file is None:
        _fault_file = (paths.log_dir() / "faults.log").open("a", encoding="utf-8")
        faulthandler.enable(_fault_file)

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
