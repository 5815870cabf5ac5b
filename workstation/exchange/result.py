"""What an export or import did: rows written, items skipped and why, files written."""

from __future__ import annotations

import codecs
import glob
import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from workstation import __version__
from workstation.core.jsontypes import JSONData
from workstation.core.model import now_iso


@dataclass(frozen=True)
class Skipped:
    """One item left out of an export, and why (a phrase such as "no label")."""

    session_id: str
    item: str
    reason: str
    #: The chain the item belongs to ("" where none) and whether it was left out or cut short.
    chain: str = ""
    action: str = "dropped"

    def to_dict(self) -> dict[str, str]:
        """As JSON-able data."""
        return {"session_id": self.session_id, "item": self.item, "reason": self.reason,
                "chain": self.chain or self.session_id, "action": self.action}


@dataclass
class ExportResult:
    """What one export wrote: the format, the files, the row count and the skips."""

    format: str
    path: Path
    rows: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    manifest: Mapping[str, JSONData] = field(default_factory=dict)

    def skip(self, session_id: str, item: str, reason: str, *, chain: str = "", action: str = "dropped") -> None:
        """Note an item left out (or, with `action="cut"`, cut short)."""
        self.skipped.append(Skipped(session_id, item, reason, chain, action))

    def skip_reasons(self) -> dict[str, int]:
        """Reason -> how many items were skipped for it."""
        return dict(Counter(s.reason for s in self.skipped))

    def summary(self) -> str:
        """One line for the user: what was written where, and what was left out."""
        text = f"{self.format}: wrote {plural(self.rows, 'row')} to {self.path}"
        if self.skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.skip_reasons().items()))
            text += f"; skipped {len(self.skipped)} ({reasons})"
        return text

    def dropped(self) -> list[dict[str, str]]:
        """What `--dry-run --json` lists: each chain or item left out or cut, and why."""
        return [{"chain": s.chain or s.session_id, "item": s.item, "reason": s.reason, "action": s.action}
                for s in self.skipped]

    def to_dict(self) -> dict[str, JSONData]:
        """As JSON-able data (what `export --json` prints)."""
        return {
            "format": self.format,
            "path": str(self.path),
            "rows": self.rows,
            "files": [str(p) for p in self.files],
            "skipped": [s.to_dict() for s in self.skipped],
            "skip_reasons": self.skip_reasons(),
            "manifest": self.manifest,
        }


def plural(count: int, noun: str) -> str:
    """"1 row", "2 rows"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def manifest_path(out: Path) -> Path:
    """The manifest written beside an export: `data.jsonl` -> `data.jsonl.manifest.json`."""
    return out.with_name(out.name + ".manifest.json")


def write_manifest(result: ExportResult, **extra: JSONData) -> Path:
    """Write the export's manifest beside it (format, counts, skips, policy) and return its path."""
    result.manifest = {
        "format": result.format,
        "file": result.path.name,
        "rows": result.rows,
        "skipped": len(result.skipped),
        "skip_reasons": result.skip_reasons(),
        "created_at": now_iso(),
        "app_version": __version__,
        **extra,
    }
    path = manifest_path(result.path)
    try:
        _atomic_write_text(path, json.dumps(result.manifest, indent=2, ensure_ascii=False) + "\n")
    except OSError:
        # An export without its manifest (or beside an older one) is not a finished export:
        # take back what this export put under its final names.
        for written in (result.path, *result.files):
            if written.is_file():
                written.unlink()
        raise
    result.files.append(path)
    return path


def _replace_surrogates(error: UnicodeError) -> tuple[bytes, int]:
    # Bytes, not "\ufffd": CPython's UTF-8 encoder accepts only ASCII text from a handler.
    if isinstance(error, UnicodeEncodeError):
        return "\ufffd".encode() * (error.end - error.start), error.end
    raise error


#: UTF-8 cannot hold a lone surrogate (trees built in memory, not read from a store, may have
#: one): exports write U+FFFD in its place, the rule `workstation.core.text.clean` states.
SURROGATES_REPLACED = "workstation.surrogates-replaced"
codecs.register_error(SURROGATES_REPLACED, _replace_surrogates)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError): alive
        return True
    return True


class AtomicWriter:
    """A text file written under a temporary name and renamed into place when complete.

    A failed export never leaves a half-written file where a training job would read it. Text
    is UTF-8; a lone surrogate is written as U+FFFD.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.file: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale()
        self.file = open(self._tmp, "w", encoding="utf-8", errors=SURROGATES_REPLACED, newline="\n")  # closed in __exit__
        return self.file

    def _remove_stale(self) -> None:
        """Take away what an export of the same file left when its process was killed."""
        if os.name != "posix":  # os.kill(pid, 0) asks about a process only on POSIX
            return
        for stale in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            pid = stale.name[len(self.path.name) + 2 : -len(".tmp")]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                stale.unlink(missing_ok=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self.file is not None
        try:
            self.file.close()  # flushes: a full disk may fail here
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def _atomic_write_text(path: Path, text: str) -> None:
    with AtomicWriter(path) as f:
        f.write(text)


#: One encoder for every row: `json.dumps` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode_str = json.encoder.encode_basestring

#: Characters JSON leaves as they are but that Python's `str.splitlines` (and JavaScript before
#: ES2019) reads as line breaks: escaped, so that a row is one line for every reader.
_LINE_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _one_line(text: str) -> str:
    if "\u0085" in text or "\u2028" in text or "\u2029" in text:
        return text.translate(_LINE_BREAKS)
    return text


def dumps_line(row: Mapping[str, object]) -> str:
    """One JSON Lines row (UTF-8 as is, no spaces; Unicode line breaks escaped)."""
    return _one_line(_ENCODER.encode(row)) + "\n"


def json_str(text: str) -> str:
    """`text` as a JSON string literal, as `dumps_line` writes it (for rows built by hand)."""
    return _one_line(_encode_str(text))
