"""Crash safety: SIGKILL a reviewing process at random moments; nothing acknowledged is lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workstation.core.history import History
from workstation.store import Store

from .helpers import child_env

KILLS = 52


@pytest.mark.slow
def test_every_acknowledged_operation_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.duckdb"
    worker = Path(__file__).with_name("crash_worker.py")
    zygote = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(worker), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    rng = random.Random(20261127)
    acknowledged: list[str] = []
    killed_mid_run = 0
    try:
        for round_ in range(KILLS):
            zygote.stdin.write(f"go {round_ + 1}\n")
            zygote.stdin.flush()
            line = zygote.stdout.readline()
            assert line.startswith("pid "), line
            pid = int(line.split()[1])
            acks = 0
            if rng.random() < 0.2:
                # While it opens the file (replaying the log of the worker killed before).
                time.sleep(rng.uniform(0.0, 0.1))
            else:
                # Somewhere in a run of operations: commits, checkpoints, reads.
                line = zygote.stdout.readline()
                assert line.startswith("ACK "), line
                acknowledged.append(line.split()[1])
                acks += 1
                time.sleep(rng.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            for line in zygote.stdout:
                if line.startswith("reaped "):
                    break
                assert not line.startswith("ERR"), line
                assert line.startswith("ACK "), line
                acknowledged.append(line.split()[1])
                acks += 1
            killed_mid_run += acks > 0
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
        zygote.stdout.close()

    print(f"{KILLS} kills, {killed_mid_run} during a run, {len(acknowledged)} acknowledged")
    assert killed_mid_run >= KILLS // 2, "most kills should land while operations run"
    assert len(acknowledged) >= KILLS
    with Store.open(path) as store:
        stored = {event.id for event in store.events()}
        lost = [event_id for event_id in acknowledged if event_id not in stored]
        assert not lost, f"{len(lost)} acknowledged operations were lost"
        assert store.verify_events() == len(stored)
        # The tables and the event log tell the same story for every session.
        for summary in store.list_sessions():
            replayed = History.replay(store.events(summary.id)).tree
            assert store.load_session(summary.id).to_dict() == replayed.to_dict()
