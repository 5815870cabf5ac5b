"""Offline by construction: a whole review opens no network socket.

A child process installs an audit hook that refuses every socket before anything else is
imported, then runs a full session through the real command line and the real window
(offscreen): model discovery and loading, generation, labels, a rewrite, a challenge, exports,
a signed bundle and its import into a second database.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

CHILD = r"""
import sys

opened = []

def refuse_sockets(event, args):
    if event in ("socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo"):
        opened.append(event)
        raise OSError(f"network use refused in the offline test: {event}")

sys.addaudithook(refuse_sockets)

import json
import os
from pathlib import Path

from workstation.cli import main

work = Path(sys.argv[1])
db, other = str(work / "a.duckdb"), str(work / "b.duckdb")
steps = []

def run(*args):
    status = main(list(args))
    assert status == 0, (args, status)

import io, contextlib
out = io.StringIO()
with contextlib.redirect_stdout(out):
    run("generate", "--db", db, "--json", "--prompt", "What is 12 * 4?", "--max-tokens", "48",
        "--seed", "1", "--threads", "2", "--reviewer", "ana")
made = json.loads(out.getvalue())
first = made["nodes"][0]["id"]
run("annotate", first, "--db", db, "--label", "-1", "--note", "check it", "--reviewer", "ana")
run("rewrite", first, "--db", db, "--text", "12 * 4 = 48.", "--reviewer", "ana")
run("challenge", first, "--db", db, "--max-tokens", "16", "--threads", "2", "--reviewer", "ana")
for fmt, name in (("trl-stepwise", "s.jsonl"), ("trl-preference", "p.jsonl"), ("kto", "k.jsonl"),
                  ("prm800k", "prm.jsonl"), ("report", "r.html"), ("parquet", "pq")):
    run("export", "--db", db, "--format", fmt, "--out", str(work / name))
run("export", "--db", db, "--format", "bundle", "--out", str(work / "a.wsbundle"), "--signer", "ana")
run("import", "--db", other, str(work / "a.wsbundle"), "--trust")

from PySide6.QtWidgets import QApplication
from workstation.ui.main_window import MainWindow
app = QApplication([])
window = MainWindow(model=None, db=Path(other))
window.show()
for _ in range(50):
    app.processEvents()
window.close()
app.processEvents()

print(json.dumps({"sockets_opened": len(opened)}))
"""


def run_session(tmp_path: Path, prefix: list[str] = []) -> int:  # noqa: B006 - never changed
    """Run the whole session in a child; returns the sockets its audit hook refused."""
    env = {
        **os.environ,
        "WORKSTATION_HOME": str(tmp_path / "home"),
        "WORKSTATION_KEY_PASSPHRASE": "offline test passphrase",
        "QT_QPA_PLATFORM": "offscreen",
    }
    result = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("s.jsonl", "r.html", "a.wsbundle"):
        assert (tmp_path / name).stat().st_size > 0
    return json.loads(result.stdout.strip().splitlines()[-1])["sockets_opened"]


def test_a_full_session_opens_no_socket(tmp_path: Path, figures) -> None:
    opened = run_session(tmp_path)
    assert opened == 0
    figures.add("sockets opened", opened)
    figures.add("full sessions run offline", 1)


#: A socket of a network family, or a connection to a network address, as strace writes it.
NETWORK_CALL = re.compile(r"\b(socket|connect|sendto|sendmsg)\((AF_INET6?|AF_PACKET|\d+, \{sa_family=AF_INET6?)")


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_no_native_code_opens_a_network_socket_either(tmp_path: Path, figures) -> None:
    """The audit hook sees Python's sockets only; strace sees every process's system calls,
    DuckDB's, llama.cpp's and Qt's included (local AF_UNIX sockets are not network)."""
    trace = tmp_path / "network.trace"
    probe = subprocess.run(["strace", "-f", "-o", str(tmp_path / "probe.trace"), "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode(errors='replace').strip()[:200]}")
    opened = run_session(tmp_path, ["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg",
                                    "-e", "signal=none", "-o", str(trace)])
    calls = trace.read_text(encoding="utf-8", errors="replace").splitlines()
    network = [line for line in calls if NETWORK_CALL.search(line)]
    assert opened == 0
    assert network == [], network[:20]
    figures.add("network system calls seen by strace", len(network))
