"""A small disk that can be filled and freed, and a review database with something in it.

The disk is a real tmpfs (mounting needs root; tests skip cleanly where it is not allowed),
so a full disk is the operating system's own ENOSPC, seen by DuckDB, by Python and by Qt alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.store import Store

from ..store import factory as f


class TinyDisk:
    """A mounted tmpfs: `fill()` leaves (about) `leave` bytes free, `free()` gives space back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / ".filler"

    def available(self) -> int:
        """Bytes free for an ordinary write."""
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Take all but `leave` bytes (rounded to pages by tmpfs) with a filler file."""
        self.free()
        room = max(0, self.available() - leave)
        with self._filler.open("wb") as handle:
            block = b"\0" * 65536
            while room > 0:
                try:
                    handle.write(block[: min(room, len(block))])
                    handle.flush()
                except OSError:
                    break
                room -= min(room, len(block))

    def free(self) -> None:
        """Give the filler's space back, as a user deleting something would."""
        self._filler.unlink(missing_ok=True)

    def names(self, folder: Path | None = None) -> list[str]:
        """The files in `folder` (default: the disk's root), the filler left out."""
        where = folder or self.root
        return sorted(p.name for p in where.iterdir() if p != self._filler) if where.exists() else []


def mount_tiny_disk(where: Path, size: str = "4m") -> Iterator[TinyDisk]:
    """Mount a tmpfs of `size` at `where` (skips the test where that is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(  # noqa: S603
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield TinyDisk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)  # noqa: S603, S607


def populate(path: Path, sessions: int = 6) -> dict[str, int]:
    """A review database with labelled, rewritten and challenged chains; returns its counts."""
    with Store.open(path) as store:
        for s in range(sessions):
            sid = store.start_session(f.start(f"What is {s} * 4? " + "Explain. " * 20), f.ADA).event.session_id
            tree = store.history(sid).tree
            op = f.steps(tree, tree.question_id, [f"Step {i}: " + "four times more " * 12 for i in range(4)] + ["Answer: 4"])
            store.apply(sid, op, f.ADA, generation=f.generation(op))
            tree = store.history(sid).tree
            for node in op.nodes:
                store.apply(sid, f.annotate(tree, node.id, f.ADA, 1 if s % 2 else -1, note="checked"), f.ADA)
                store.apply(sid, f.annotate(tree, node.id, f.BO, 1), f.BO)
            store.apply(sid, f.rewrite(tree, op.nodes[0].id, "Step 0, said better."), f.ADA)
        return counts(store)


def counts(store: Store) -> dict[str, int]:
    """What a database holds, to compare before and after a fault."""
    return {"events": store.verify_events(), "sessions": len(store.list_sessions())}
