"""Errors of the exchange layer: each names the file (and the line) it is about."""

from __future__ import annotations

import errno
from pathlib import Path

from workstation.errors import BadInputError


class ExchangeError(BadInputError):
    """An export or import cannot go on; the message says what and what to do."""


class BundleError(ExchangeError):
    """A bundle was refused: nothing of it was imported.

    `path` is the bundle file, `member` the part of it and `line` the 1-based line where the
    problem is, when there is one; all three are in the message too.
    """

    def __init__(self, path: Path | str, message: str, *, member: str | None = None, line: int | None = None) -> None:
        self.path = Path(path)
        self.member = member
        self.line = line
        where = str(path)
        if member is not None:
            where += f" ({member}" + (f", line {line})" if line is not None else ")")
        elif line is not None:
            where += f" (line {line})"
        super().__init__(f"{where}: {message}; nothing was imported from it")


class UntrustedSignerError(BundleError):
    """The bundle is signed correctly by a key the user has not trusted yet.

    `fingerprint` and `public_key` let the caller show the key and offer to trust it.
    """

    def __init__(self, path: Path | str, reviewer_id: str, fingerprint: str, public_key: str) -> None:
        self.reviewer_id = reviewer_id
        self.fingerprint = fingerprint
        self.public_key = public_key
        super().__init__(
            path,
            f"signed by '{reviewer_id}' with key {fingerprint}, which is not in your trusted keys; "
            "check the fingerprint with the reviewer, trust the key, then import again",
        )


class SigningKeyError(ExchangeError):
    """A signing key is missing, unreadable, or its passphrase is wrong."""


class ExportWriteError(ExchangeError):
    """An export could not be written (disk full, permission denied); nothing of it was kept
    under its final name, and the database was not changed."""

    def __init__(self, out: Path | str, exc: OSError) -> None:
        self.path = Path(out)
        where = exc.filename if isinstance(exc.filename, str) else str(out)
        if Path(where).name.startswith(".") and where.endswith(".tmp"):
            where = str(out)  # the hidden name it was being written under tells the user nothing
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            why, action = "the disk is full", "free some space and export again"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            why, action = "permission denied", "export to another folder or check its permissions"
        else:
            why, action = exc.strerror or str(exc), "check the disk and export again"
        super().__init__(
            f"could not write the export {self.path}"
            + (f" ({where})" if where != str(self.path) else "")
            + f": {why}; nothing was written under that name and the database was not changed: {action}"
        )
