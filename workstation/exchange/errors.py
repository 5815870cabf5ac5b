"""Errors of the exchange layer: each names the file (and the line) it is about."""

from __future__ import annotations

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
