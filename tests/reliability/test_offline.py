"""Offline by construction: a whole review opens no network socket.

A child process installs an audit hook that refuses every socket before anything else is
imported, then runs a full session through the real command line and the real window
(offscreen): model discovery and loading, generation, labels, a rewrite, a challenge, exports,
a signed bundle and its import into a second database.
"""

from __future__ import annotations

import json
import os
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


def test_a_full_session_opens_no_socket(tmp_path: Path, figures) -> None:
    env = {
        **os.environ,
        "WORKSTATION_HOME": str(tmp_path / "home"),
        "WORKSTATION_KEY_PASSPHRASE": "offline test passphrase",
        "QT_QPA_PLATFORM": "offscreen",
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures_seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures_seen == {"sockets_opened": 0}
    figures.add("sockets opened", figures_seen["sockets_opened"])
    figures.add("full sessions run offline", 1)
    for name in ("s.jsonl", "r.html", "a.wsbundle"):
        assert (tmp_path / name).stat().st_size > 0
