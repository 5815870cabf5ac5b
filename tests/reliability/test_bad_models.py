"""Hostile model files: every damaged GGUF file is refused in Python, naming the file, and no
file of the corpus crashes the process that loads it.

The corpus: hand-made headers that lie (huge tensor, metadata, string and array counts, unknown
types, tensors outside the file, bad alignment), wrong magics and versions, random bytes, a small
valid file and the real default model cut short at many offsets, a pipe and a device. Loading
runs in child processes, many files per child, through the engine's load path and through the
real command line: a segmentation fault or abort inside llama.cpp shows as a negative exit status.
Files with random bytes changed may stay structurally valid; those reach llama.cpp, which may load
or refuse them, but must not crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.reliability import hostile_gguf
from workstation.engine.gguf_info import read_gguf_info
from workstation.errors import ModelFileError

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]
#: What the Python header check says (never llama.cpp, whose refusals say "cannot load").
PYTHON_REFUSALS = ("not a GGUF model file", "not a usable GGUF model file", "not a regular file")


def load_in_child(paths: list[Path], tmp_path: Path) -> dict[str, dict]:
    """Load every path in one child process; returns path -> outcome row. Fails on a crash."""
    listing = tmp_path / f"load-list-{len(list(tmp_path.glob('load-list-*')))}.txt"
    listing.write_text("\n".join(str(p) for p in paths), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.hostile_load_child", str(listing)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONFAULTHANDLER": "1", "WORKSTATION_HOME": str(tmp_path / "child-home")},
    )
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    last = next((r["trying"] for r in reversed(rows) if "trying" in r), None)
    assert result.returncode == 0, (
        f"the loading child died with status {result.returncode} (a negative status is a signal) "
        f"while loading {last}: {result.stderr[-3000:]}"
    )
    outcomes = {r["path"]: r for r in rows if "outcome" in r}
    assert set(outcomes) == {str(p) for p in paths}
    return outcomes


def assert_refused_in_python(path: Path, row: dict) -> None:
    assert row["outcome"] == "refused", f"{path.name} was loaded"
    assert row["error"] == "ModelFileError", f"{path.name}: {row['error']}: {row['message']}"
    assert row["message"].startswith(f"{path}: "), row["message"]  # names the file first
    assert any(words in row["message"] for words in PYTHON_REFUSALS), row["message"]
    assert "\n" not in row["message"] and "Traceback" not in row["message"]


@pytest.fixture(scope="module")
def model_bytes(default_model_path: Path) -> bytes:
    return default_model_path.read_bytes()


def test_a_corpus_of_bad_model_files_is_refused_in_python(
    tmp_path: Path, size, figures, model_bytes: bytes
) -> None:
    tiny = hostile_gguf.tiny_model_bytes(tmp_path)
    rng = np.random.default_rng(7)
    tiny_cuts = sorted(set(rng.integers(0, len(tiny), size.pick(40, len(tiny))).tolist()) | {0, 8, 23, 24})
    # The real model cut in its header and vocabulary (a few MB) and deep in its tensor data.
    model_cuts = sorted(
        set(rng.integers(24, 3_000_000, size.pick(12, 150)).tolist())
        | {4, 16, 24, 100, len(model_bytes) // 2, len(model_bytes) - 1}
    )
    files = {
        **hostile_gguf.crafted(),
        **hostile_gguf.wrong_magic(tiny),
        **hostile_gguf.wrong_version(tiny),
        **hostile_gguf.random_files(size.pick(24, 400)),
        **hostile_gguf.truncations(tiny, tiny_cuts, "tiny"),
    }
    paths = hostile_gguf.write_all(tmp_path / "bad", files)
    model_paths = hostile_gguf.write_all(tmp_path / "cut", hostile_gguf.truncations(model_bytes, model_cuts, "model"))
    special = [tmp_path / "folder.gguf", tmp_path / "pipe.gguf", Path("/dev/zero"), tmp_path / "absent.gguf"]
    special[0].mkdir()
    os.mkfifo(special[1])  # opening a pipe for reading would wait for a writer forever

    # In this process: the header check itself refuses each one with a one-line message.
    for path in [*paths, *model_paths, *special]:
        with pytest.raises(ModelFileError) as caught:
            read_gguf_info(path)
        assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)

    # In a child, through the engine's load path: the same refusal, and no crash.
    outcomes = load_in_child([*paths, *model_paths, *special], tmp_path)
    for path in [*paths, *model_paths, special[1], special[2]]:
        assert_refused_in_python(path, outcomes[str(path)])
    for path in (special[0], special[3]):
        assert outcomes[str(path)]["error"] == "ModelFileError" and str(path) in outcomes[str(path)]["message"]
    figures.add("bad model files rejected", len(outcomes))


def test_files_with_changed_bytes_never_crash_the_loader(tmp_path: Path, size, figures, model_bytes: bytes) -> None:
    """Random byte changes in a small file and in the real model's metadata: whatever the header
    check lets through reaches llama.cpp, which loads or refuses it, and never crashes."""
    tiny = hostile_gguf.tiny_model_bytes(tmp_path)
    files = hostile_gguf.flipped(tiny, size.pick(120, 3000))
    rng = np.random.default_rng(11)
    for i in range(size.pick(3, 24)):
        data = bytearray(model_bytes)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(24, 1_500_000))] = int(rng.integers(0, 256))  # header and vocabulary
        files[f"model-flip-{i}"] = bytes(data)
    paths = hostile_gguf.write_all(tmp_path / "flipped", files)
    accepted: list[Path] = []
    for path in paths:
        try:
            read_gguf_info(path)
        except ModelFileError as exc:
            assert str(exc).startswith(f"{path}: ")
            path.unlink()  # refused in Python: the corpus test covers these
        else:
            accepted.append(path)
    outcomes = load_in_child(accepted, tmp_path)
    for path in accepted:
        row = outcomes[str(path)]
        if row["outcome"] == "refused":
            # llama.cpp refused it: a typed error naming the file, not a low-level exception.
            assert row["error"] in ("UnsupportedModelError", "ModelFileError"), row
            assert row["message"].startswith(f"{path}: "), row
    figures.add("bad model files rejected", len(paths) - len(accepted))
    figures.add("changed model files loaded without a crash", len(accepted))


def test_the_command_line_refuses_bad_models_in_one_line(tmp_path: Path, figures) -> None:
    """`workstation generate --model BAD` for a sample of the corpus: exit status 2, one line on
    stderr naming the file, no traceback, no crash log, no database created."""
    tiny = hostile_gguf.tiny_model_bytes(tmp_path)
    crafted = hostile_gguf.crafted()
    sample = {
        "huge-tensor-count": crafted["huge-tensor-count"],
        "huge-array-length": crafted["huge-array-length"],
        "offset-beyond-file": crafted["offset-beyond-file"],
        **dict(list(hostile_gguf.wrong_magic(tiny).items())[:1]),
        **dict(list(hostile_gguf.wrong_version(tiny).items())[:1]),
        **hostile_gguf.truncations(tiny, [len(tiny) // 2], "tiny"),
        **hostile_gguf.random_files(1, seed=3),
    }
    paths = hostile_gguf.write_all(tmp_path / "cli", sample)
    pipe = tmp_path / "pipe.gguf"
    os.mkfifo(pipe)
    paths.append(pipe)
    home = tmp_path / "home"
    # One child runs the real CLI's main() once per file (a fresh interpreter each would take
    # seconds apiece); stderr of each run is captured separately.
    child = (
        "import contextlib, io, json, sys\n"
        "from workstation.cli import main\n"
        "for path in sys.argv[2:]:\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        status = main(['generate', '--model', path, '--db', sys.argv[1], '--prompt', 'Why?',\n"
        "                       '--max-tokens', '1', '--threads', '1'])\n"
        "    print(json.dumps({'path': path, 'status': status, 'stderr': err.getvalue()}), flush=True)\n"
    )
    db = tmp_path / "cli.duckdb"
    result = subprocess.run(
        [sys.executable, "-c", child, str(db), *map(str, paths)], capture_output=True, text=True, timeout=300,
        cwd=ROOT, env={**os.environ, "WORKSTATION_HOME": str(home)},
    )
    assert result.returncode == 0, f"status {result.returncode}: {result.stderr[-3000:]}"
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    for row in rows:
        assert row["status"] == 2, row
        lines = row["stderr"].splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"workstation: error: {row['path']}: "), row
        assert "Traceback" not in row["stderr"]
    assert not (home / "logs" / "crash.log").exists()
    assert not db.exists()  # a refused model leaves no database behind
    # And a real terminal run of one of them, as a user would type it.
    real = subprocess.run(
        [sys.executable, "-m", "workstation", "generate", "--model", str(paths[0]), "--db", str(db),
         "--prompt", "Why?"], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "WORKSTATION_HOME": str(home)},
    )
    assert real.returncode == 2 and real.stderr.startswith(f"workstation: error: {paths[0]}: "), real.stderr
    figures.add("bad model files rejected", len(rows) + 1)
