"""Disk full and permission denied: a clear error, and a database that stays consistent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.core.history import History
from workstation.store import Store

from . import factory as f
from .helpers import child_env

_REVIEW_UNTIL_FAILURE = """
import os, resource, signal, sys
sys.path.insert(0, sys.argv[2])
import factory as f
from workstation.store import Store, StoreError
limit = int(sys.argv[3])
if limit:
    # Past the limit a write fails with EFBIG ("File too large") instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
store = Store.open(sys.argv[1])
sid = store.list_sessions()[0].id
tree = store.history(sid).tree
try:
    for i in range(100_000):
        op = f.steps(tree, tree.question_id, [f"step {i} " + "x" * 2000, "Answer: 1"])
        print("ACK", store.apply(sid, op, f.ADA).event.id, flush=True)
except StoreError as exc:
    print("ERR", type(exc).__name__, exc, flush=True)
"""


def _prepare(path: Path) -> str:
    with Store.open(path) as store:
        return store.start_session(f.start(), f.ADA).event.session_id


def _check_consistent(path: Path, acknowledged: list[str]) -> None:
    with Store.open(path) as store:
        stored = {e.id for e in store.events()}
        assert set(acknowledged) <= stored
        assert store.verify_events() == len(stored)
        for summary in store.list_sessions():
            replayed = History.replay(store.events(summary.id)).tree
            assert store.load_session(summary.id).to_dict() == replayed.to_dict()
        # And it takes new work again.
        sid = store.list_sessions()[0].id
        tree = store.history(sid).tree
        store.apply(sid, f.steps(tree, tree.question_id, ["again", "Answer: 2"]), f.ADA)


def _run_child(path: Path, limit: int) -> tuple[list[str], str]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _REVIEW_UNTIL_FAILURE, str(path), str(Path(__file__).parent), str(limit)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    lines = result.stdout.splitlines()
    acks = [line.split()[1] for line in lines if line.startswith("ACK ")]
    errors = [line for line in lines if line.startswith("ERR ")]
    assert len(errors) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    return acks, errors[0]


def test_file_size_limit_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "limited.duckdb"
    _prepare(path)
    size = path.stat().st_size
    acks, error = _run_child(path, size + 300_000)
    assert error.startswith("ERR DiskFullError") and str(path) in error and "disk is full" in error
    assert acks, "some operations should fit before the limit"
    _check_consistent(path, acks)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root; skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)  # noqa: S607


def test_disk_full_fails_cleanly_and_recovers(tiny_disk: Path) -> None:
    path = tiny_disk / "full.duckdb"
    _prepare(path)
    # Room to free once the disk is full, as a user would by deleting something.
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * 400_000)
    acks, error = _run_child(path, 0)
    assert error.startswith("ERR DiskFullError") and str(path) in error
    assert acks
    filler.unlink()
    _check_consistent(path, acks)


_AS_NOBODY = """
import os, sys
sys.path.insert(0, sys.argv[2])
import factory as f
from workstation.core.ops import SessionRenamed
from workstation.store import Store, StoreError
os.setgid(65534)
os.setuid(65534)
try:
    Store.open(sys.argv[3])
except StoreError as exc:
    print("OPEN", type(exc).__name__, exc, flush=True)
store = Store.open(sys.argv[1])
sid = store.list_sessions()[0].id
try:
    store.apply(sid, SessionRenamed("renamed"), f.ADA)
    print("WROTE", flush=True)
except StoreError as exc:
    print("WRITE", type(exc).__name__, exc, flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "setuid") or os.geteuid() != 0, reason="needs root to drop to nobody")
def test_permission_denied_fails_cleanly() -> None:
    # Outside tmp_path: pytest's folders are private to root, and the child runs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="store-perm-"))
    try:
        folder.chmod(0o755)  # nobody may read here but not create files (such as the log)
        path = folder / "theirs.duckdb"
        _prepare(path)
        os.chown(path, 65534, 65534)  # the file is nobody's, the folder is not
        private = folder / "private.duckdb"
        _prepare(private)
        private.chmod(0o600)
        before = (path.read_bytes(), private.read_bytes())
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", _AS_NOBODY, str(path), str(Path(__file__).parent), str(private)],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=60,
            check=False,
        )
        lines = result.stdout.splitlines()
        assert any(
            line.startswith("OPEN StorePermissionError") and str(private) in line for line in lines
        ), result.stdout + result.stderr
        assert any(
            line.startswith("WRITE StorePermissionError") and str(path) in line and "permission denied" in line
            for line in lines
        ), result.stdout + result.stderr
        assert (path.read_bytes(), private.read_bytes()) == before
        with Store.open(path) as store:
            assert store.verify_events() == 1
            assert store.list_sessions()[0].title != "renamed"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
