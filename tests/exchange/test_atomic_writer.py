"""Exports are written under a temporary name and renamed when complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workstation.exchange.result import AtomicWriter


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    with pytest.raises(RuntimeError), AtomicWriter(out) as f:
        f.write("half a row")
        raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked on POSIX only")
def test_what_a_killed_export_left_is_taken_away_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(gone.stdout)  # that process has exited
    stale = tmp_path / f".steps.jsonl.{dead_pid}.tmp"
    stale.write_text("half a row", encoding="utf-8")
    living = tmp_path / f".steps.jsonl.{os.getppid()}.tmp"  # a process still running: its export may be going on
    living.write_text("in progress", encoding="utf-8")
    other = tmp_path / f".other.jsonl.{dead_pid}.tmp"  # another export's: not ours to remove
    other.write_text("x", encoding="utf-8")
    with AtomicWriter(out) as f:
        f.write("{}\n")
    assert out.read_text(encoding="utf-8") == "{}\n"
    assert not stale.exists()
    assert living.exists() and other.exists()
