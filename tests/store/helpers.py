"""Helpers shared by the store tests: child processes, file fingerprints."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def fingerprint(path: Path) -> tuple[str, list[str]]:
    """The SHA-256 of a file and the names beside it (to see that nothing was written)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest, sorted(p.name for p in path.parent.iterdir())


def child_env() -> dict[str, str]:
    """The environment for a child Python process that imports the workstation package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def spawn(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    """Start `python -c code args...` with pipes, text mode, the repository importable."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **kwargs,  # type: ignore[arg-type]
    )
