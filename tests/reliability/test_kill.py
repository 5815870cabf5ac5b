"""SIGKILL the real workstation (the window offscreen, the real model) while it works; nothing
the app acknowledged is lost, the database opens and the session reopens.

Each round starts `tests/reliability/gui_driver.py`, which runs the application the way the
`workstation` command does and works through the window as a user would (generate, label,
note, rewrite, regenerate, import a teammate's signed bundle, export). After the window
acknowledges an operation the driver appends it to an acknowledgment file (fsync'd). The test
aims each kill at one kind of operation: it waits until the driver says that operation starts
and kills it a random time later (up to a little more than such an operation takes), or kills
it while it starts up. After each kill: the database opens, every operation acknowledged in any
round so far is in it, every file under an export's final name is complete, and the next round
first reopens the session last worked on and must show the rows the database holds for it.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from workstation.core.history import History
from workstation.store import Store

from .gui_driver import read_acks
from .kill_checks import broken_exports, leftovers, missing, partial_imports, teammate_bundles


REPO = Path(__file__).resolve().parents[2]
#: The fast settings of the window tests (tests/ui/conftest.py), with shorter generations.
SETTINGS = {
    "sampling.max_tokens": 40,
    "sampling.temperature": 0.7,
    "sampling.seed": 7,
    "model.n_threads": 1,
    "model.n_ctx_cap": 2048,
    "model.cache_mb": 64,
}
#: Where kills are aimed, in turn: the operation they wait for ("start": the app starting up).
TARGETS = ("generate", "rewrite", "import", "export", "regenerate", "start", "label")
#: How long each kind of operation takes before any was measured (seconds); measured ones replace it.
EXPECTED_S = {"generate": 2.0, "regenerate": 1.5, "rewrite": 0.05, "label": 0.05, "annotate": 0.05,
              "import": 0.3, "export": 0.4, "start": 3.0}
#: Driver errors that are the model's, not the app's: a generation may end without a step.
MODEL_ERRORS = ("the model wrote no steps",)
LINE_TIMEOUT_S = 180.0


class Zygote:
    """The driver's zygote (`gui_driver.py --zygote`): it forks one app per `launch`; its stdout
    (every app's lines between `pid N` and `reaped N STATUS`) is read on a thread."""

    def __init__(self, env: dict[str, str], err: Path, why: str) -> None:
        self.why = why  # the seed, for every failure message
        self._err = err.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.reliability.gui_driver", "--zygote"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, cwd=REPO, env=env,
        )
        self.lines: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.current: App | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
        self.proc.stdout.close()
        self.lines.put(None)

    def launch(self, args: list[str], err: Path) -> App:
        """Start one app with these driver arguments, its stderr going to `err`."""
        assert self.proc.stdin is not None
        started = time.monotonic()
        self.proc.stdin.write((json.dumps({"args": args, "stderr": str(err)}) + "\n").encode())
        self.proc.stdin.flush()
        app = self.current = App(self, err, started)
        _, line = app.wait_for("pid ")
        app.pid = int(line.split()[1])
        return app

    def close(self) -> None:
        """End the zygote (and an app a failed test left running)."""
        assert self.proc.stdin is not None
        if self.current is not None and self.current.status is None and self.current.pid:
            try:
                os.kill(self.current.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


class App:
    """One run of the workstation under the driver."""

    def __init__(self, zygote: Zygote, err: Path, started: float) -> None:
        self.zygote, self.err, self.started = zygote, err, started
        self.pid = 0
        self.status: int | None = None
        self.seen: list[str] = []

    def wait_for(self, prefix: str, timeout: float = LINE_TIMEOUT_S) -> tuple[float, str]:
        """The app's next line that starts with `prefix` (every line read is kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.zygote.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no '{prefix}' line in {timeout:.0f} s; {self.tail()}") from None
            if item is None:
                raise AssertionError(f"the zygote ended before '{prefix}'; {self.tail()}")
            line = item[1]
            if line.startswith("reaped "):
                self.status = int(line.split()[2])
                if prefix == "reaped ":
                    return item
                raise AssertionError(f"the app ended (status {self.status}) before '{prefix}'; {self.tail()}")
            self.seen.append(line)
            if line.startswith(prefix):
                return item

    def kill(self) -> None:
        """SIGKILL, then read what it said until the zygote has reaped it."""
        os.kill(self.pid, signal.SIGKILL)
        self.wait_for("reaped ", timeout=60)

    def wait_exit(self) -> int:
        """The exit status once it ends by itself."""
        self.wait_for("reaped ")
        assert self.status is not None
        return self.status

    def tail(self) -> str:
        err = self.err.read_text(errors="replace")[-3000:] if self.err.exists() else ""
        return f"{self.zygote.why}; stdout: {self.seen[-8:]}; stderr: {err}"


def _phase_at_kill(seen: list[str]) -> str:
    """The operation under way when the kill came: the last one started and not acknowledged."""
    for line in reversed(seen):
        word = line.split(" ", 1)[0]
        if word == "phase":
            return line.split()[1]
        if word in ("done", "error", "reopened"):
            return "between operations"
        if word == "ready":
            return "start"
    return "start"


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the driver's zygote forks and reads /proc")
def test_sigkill_at_random_moments_loses_nothing_acknowledged(
    tmp_path: Path, isolated_home: Path, default_model_path: Path, size, figures, request: pytest.FixtureRequest
) -> None:
    kills = size.pick(30, 100)
    seed = int(os.environ.get("WORKSTATION_KILL_SEED", "20261128"))
    rng = random.Random(seed)
    why = f"(seed {seed}; rerun with WORKSTATION_KILL_SEED={seed})"

    from workstation import paths

    (paths.config_dir() / "settings.json").write_text(json.dumps(SETTINGS), encoding="utf-8")
    bundle_events = teammate_bundles(tmp_path / "bundles", kills // 2 + 4, seed)
    db, acks_file, exports = tmp_path / "review.duckdb", tmp_path / "acks.jsonl", tmp_path / "exports"
    exports.mkdir()
    logs = tmp_path / "driver-logs"
    logs.mkdir()
    env = {
        **os.environ,
        "WORKSTATION_HOME": str(isolated_home),
        "QT_QPA_PLATFORM": "offscreen",
        # No system keyring: the signing key is a passphrase-protected file, the passphrase here.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "WORKSTATION_KEY_PASSPHRASE": "kill test passphrase",
        # The zygote forks: no thread may run before (OpenBLAS starts one on numpy's import).
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    base = ["--db", str(db), "--acks", str(acks_file), "--bundles", str(tmp_path / "bundles"),
            "--exports", str(exports), "--model", str(default_model_path)]

    durations: dict[str, list[float]] = {}
    landed: Counter[str] = Counter()
    reopened = 0
    remembered = 0  # kills after which ui.ini named the session the window showed
    model_errors: list[str] = []
    reopen: tuple[str, list[str]] | None = None  # the session to reopen and the rows it must show
    # The session the window opens by itself: the one it showed last, as written to ui.ini
    # (at once when shown, not only on a normal close), else the session changed last.
    latest: str | None = None

    def expected(kind: str) -> float:
        seen = durations.get(kind)
        return statistics.median(seen) if seen else EXPECTED_S[kind]

    zygote = Zygote(env, logs / "zygote.err", why)
    request.addfinalizer(zygote.close)
    for round_ in range(kills + 1):
        last = round_ == kills
        target = TARGETS[round_ % len(TARGETS)]
        args = [*base, "--seed", str(rng.randrange(2**31))]
        if target != "start":
            args += ["--focus", target]
        if reopen is not None:
            args += ["--reopen", reopen[0]]
        if last:
            args += ["--ops", "2"]  # the last run ends normally, closing the window
        driver = zygote.launch(args, logs / f"round-{round_:03d}.err")
        if target == "start" and not last:
            time.sleep(rng.uniform(0.0, expected("start") * 1.2))
        else:
            at, line = driver.wait_for("ready")
            durations.setdefault("start", []).append(at - driver.started)
            if latest is not None:
                # By itself the window shows where the user was.
                assert json.loads(line.split(" ", 1)[1])["session"] == latest, (
                    f"round {round_}: the window opened another session than the one it showed last {why}"
                )
            if reopen is not None:
                _, line = driver.wait_for("reopened")
                shown = json.loads(line.split(" ", 1)[1])
                assert shown == {"session": reopen[0], "rows": reopen[1]}, (
                    f"round {round_}: the reopened session shows other rows than the database holds {why}"
                )
                reopened += 1
            if last:
                assert driver.wait_exit() == 0, driver.tail()
            else:
                # Sometimes at its first operation, sometimes after a few were acknowledged.
                after = rng.randrange(1, 4)
                while int(driver.wait_for(f"phase {target} ")[1].split()[2]) < after:
                    pass
                time.sleep(rng.uniform(0.0, expected(target) * 1.3))
        if not last:
            driver.kill()
        for line in driver.seen:
            parts = line.split(" ", 3)
            if parts[0] == "done":
                durations.setdefault(parts[1], []).append(float(parts[3]))
            elif parts[0] == "error":
                message = parts[3] if len(parts) > 3 else line
                assert any(m in message for m in MODEL_ERRORS), f"round {round_}: {line}; {driver.tail()}"
                model_errors.append(message)
        if not last:
            landed[_phase_at_kill(driver.seen)] += 1

        # The database opens; everything acknowledged so far is there; exports are whole.
        acks = read_acks(acks_file)
        with Store.open(db, read_only=True) as store:
            lost = missing(store, acks, bundle_events)
            assert not lost, f"after kill {round_ + 1}, {len(lost)} acknowledged operations are lost {why}: {lost[:5]}"
            partial = partial_imports(store, bundle_events)
            assert not partial, f"after kill {round_ + 1}, bundles were imported in part {why}: {partial}"
            listed = [summary.id for summary in store.list_sessions()]
            shown = _remembered_session(isolated_home)
            latest = shown if shown in listed else listed[0]
            remembered += shown in listed
            sessions = [a["session"] for a in acks if "session" in a]
            if sessions:
                reopen = (sessions[-1], [n.id for n in store.history(sessions[-1]).tree.shown_path()])
        broken = broken_exports(exports)
        assert not broken, f"after kill {round_ + 1}, exports under their final names are incomplete {why}: {broken}"

    acks = read_acks(acks_file)
    kinds = Counter(a["kind"] for a in acks)
    print(f"{kills} kills {why}; landed during: {dict(landed)}; acknowledged: {dict(kinds)}; "
          f"reopened {reopened}; model errors {len(model_errors)}; temporary files left: {len(leftovers(exports))}")
    # The kills were spread over the operations they were aimed at.
    for kind in ("generate", "rewrite", "import", "export"):
        assert kinds[kind] > 0, f"no {kind} was acknowledged {why}: {dict(kinds)}"
    assert landed["generate"] + landed["regenerate"] > 0, f"no kill during a generation {why}: {dict(landed)}"
    assert reopened >= kills // 2, why
    # Killed windows never close: what they showed was written as they showed it.
    assert remembered >= kills // 2, f"ui.ini named the shown session after only {remembered} kills {why}"

    # Finally, the command line opens the database, and the event log and the tables agree.
    listed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "workstation", "sessions", "--db", str(db), "--json"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert listed.returncode == 0, f"{why}: {listed.stderr}"
    listed_ids = {row["id"] for row in json.loads(listed.stdout)}
    assert {a["session"] for a in acks if "session" in a} <= listed_ids, why
    with Store.open(db) as store:
        assert not missing(store, acks, bundle_events), why
        stored = list(store.events())
        assert store.verify_events() == len(stored), why
        for summary in store.list_sessions():
            replayed = History.replay(store.events(summary.id)).tree
            assert store.load_session(summary.id).to_dict() == replayed.to_dict(), why
    crash_log = isolated_home / "logs" / "crash.log"
    assert not crash_log.exists(), f"{why}: {crash_log.read_text()}"

    figures.add("kills survived", kills)
    figures.add("acknowledged operations checked after kills", len(acks))
    for kind in ("generate", "regenerate", "rewrite", "import", "export", "start"):
        figures.add(f"kills landed during {kind}", landed[kind])


def _remembered_session(home: Path) -> str:
    """The session ui.ini says the window showed last ("" when it names none)."""
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(home / "config" / "ui.ini", encoding="utf-8")
    return ini.get("session", "last", fallback="")
