"""Bad model files get typed errors, and none of them crashes the process.

Each load runs in a child process: a segmentation fault inside llama.cpp would kill the test
runner itself, so the child's exit status is what proves there was none.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.model

CHILD = textwrap.dedent(
    """
    import sys
    from workstation.engine.llama_engine import LlamaEngine, LoadOptions
    try:
        LlamaEngine(LoadOptions(sys.argv[1], n_ctx=128, n_threads=1))
    except Exception as exc:
        print(type(exc).__name__ + ": " + str(exc))
    else:
        print("loaded")
    """
)


def load_in_child(path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    assert result.returncode == 0, f"child died with {result.returncode}: {result.stderr[-2000:]}"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return lines[0]


def write_unknown_architecture(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch="notanarch")
    writer.add_name("not a real model")
    writer.add_context_length(128)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_missing_file(tmp_path: Path) -> None:
    line = load_in_child(tmp_path / "absent.gguf")
    assert line.startswith("ModelFileError:") and "absent.gguf" in line and "no such" in line


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    assert load_in_child(folder).startswith("ModelFileError:")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.gguf"
    path.write_bytes(np.random.default_rng(0).bytes(100_000))
    line = load_in_child(path)
    assert line.startswith("ModelFileError:") and "random.gguf" in line


def test_truncated_model(tmp_path: Path, default_model_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    with default_model_path.open("rb") as source:
        path.write_bytes(source.read(5_000_000))
    line = load_in_child(path)
    assert line.startswith("ModelFileError:") and "truncated" in line


def test_unsupported_architecture(tmp_path: Path) -> None:
    path = tmp_path / "unknown-arch.gguf"
    write_unknown_architecture(path)
    line = load_in_child(path)
    assert line.startswith("UnsupportedModelError:") and "notanarch" in line


def test_real_model_loads_in_child(default_model_path: Path) -> None:
    assert load_in_child(default_model_path) == "loaded"
