"""The model file deleted, replaced or truncated while the window has it loaded.

What is honest, and what these tests hold the app to:

- Deleted, or replaced under its name by another file (a valid GGUF, garbage): the loaded
  model is the file that was loaded (llama.cpp maps it, and the engine holds it open), so
  generating and regenerating go on from it, and each generation records the SHA-256 of that
  loaded file, never of whatever the path holds now. Loading again reads the path: a missing
  or garbage file is refused with a message naming it, and the loaded model stays; a valid
  replacement loads, and later generations record its hash.
- Changed in place (truncated, or overwritten as `cp` over it does): the weights were read
  into memory at load, so a generation running meanwhile goes on to its end (a mapped file
  cut short under a running generation killed the process with SIGBUS); the file's hash no
  longer describes the loaded weights, so the next generation is refused with a message naming
  the file and saying to load it again, before any token; nothing is lost and the window goes
  on; loading a good file again brings generation back.

The command line loads the model per command: a missing, garbage or truncated file ends the
command with status 2 and one line naming it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from workstation.cli import main
from workstation.store import Store

from .fault_window import clear_message, message, open_window, select_row, wait_error, wait_idle, write_fast_settings

pytestmark = pytest.mark.model


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _put(path: Path, data_from: Path | bytes, extra: bytes = b"") -> str:
    """Replace `path` by rename (as a download or `mv` does); returns the new file's SHA-256."""
    tmp = path.with_name(path.name + ".incoming")
    if isinstance(data_from, Path):
        shutil.copyfile(data_from, tmp)
    else:
        tmp.write_bytes(data_from)
    if extra:
        with tmp.open("ab") as handle:
            handle.write(extra)
    digest = _sha(tmp)
    tmp.replace(path)
    return digest


def _recorded_sha(db: Path, chain_id: str) -> str | None:
    with Store.open(db, read_only=True) as store:  # a snapshot: the window holds the file
        generation = store.generation(chain_id)
        return generation.model_sha256 if generation else None


def _regenerate(qtbot, window) -> str:
    """Regenerate from step 1; returns the new chain's id (after checking no error came)."""
    clear_message(window)
    select_row(qtbot, window, 1)
    before = window.session.current_node_id
    window.parts.actions["regenerate"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error", message(window)
    node = window.session.current_node()
    assert node is not None and node.id != before and node.chain_id
    return node.chain_id


def _generate(qtbot, window) -> str:
    """Generate on a new question; returns the new chain's id (after checking no error came)."""
    clear_message(window)
    window.parts.question.setPlainText("What is 9 - 4?")
    window.parts.actions["generate"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error", message(window)
    node = window.session.current_node()
    assert node is not None and node.chain_id
    return node.chain_id


def _load(qtbot, window) -> None:
    clear_message(window)
    window.model.load_model()
    wait_idle(qtbot, window)  # the load is a job on the worker


@pytest.mark.qt
def test_model_file_deleted_replaced_and_truncated_while_loaded(qtbot, tmp_path: Path, default_model_path: Path,
                                                                figures) -> None:
    write_fast_settings()
    model = tmp_path / "models" / "model.gguf"
    model.parent.mkdir()
    original = _put(model, default_model_path)
    db = tmp_path / "review.duckdb"
    window = open_window(qtbot, db, model)
    faults = 0

    # Deleted: the loaded model goes on, and says which file it is.
    model.unlink()
    assert _recorded_sha(db, _regenerate(qtbot, window)) == original
    assert _recorded_sha(db, _generate(qtbot, window)) == original
    _load(qtbot, window)
    text = wait_error(qtbot, window)
    assert str(model) in text, text
    assert _recorded_sha(db, _regenerate(qtbot, window)) == original  # the loaded model stayed
    faults += 1

    # Replaced by another valid GGUF: the loaded one goes on until the new one is loaded.
    other = _put(model, default_model_path, extra=b"\0" * 4096)
    assert other != original
    assert _recorded_sha(db, _regenerate(qtbot, window)) == original
    _load(qtbot, window)
    assert window.parts.messages.level != "error", message(window)
    assert _recorded_sha(db, _regenerate(qtbot, window)) == other
    faults += 1

    # Replaced by garbage: the loaded model goes on; loading the garbage is refused.
    _put(model, os.urandom(4096))
    assert _recorded_sha(db, _regenerate(qtbot, window)) == other
    _load(qtbot, window)
    text = wait_error(qtbot, window)
    assert str(model) in text, text
    assert _recorded_sha(db, _regenerate(qtbot, window)) == other
    faults += 1

    # Truncated in place: generating is refused (the mapped weights are gone), nothing lost.
    _put(model, default_model_path)
    _load(qtbot, window)
    assert window.parts.messages.level != "error", message(window)
    with Store.open(db, read_only=True) as store:
        events = store.verify_events()
    with model.open("r+b") as handle:
        handle.truncate(model.stat().st_size // 3)
    clear_message(window)
    select_row(qtbot, window, 1)
    window.parts.actions["regenerate"].trigger()
    text = wait_error(qtbot, window)
    wait_idle(qtbot, window)
    assert str(model) in text and "load the model again" in text, text
    with Store.open(db, read_only=True) as store:
        assert store.verify_events() == events
    _load(qtbot, window)  # the truncated file itself is refused, by name
    text = wait_error(qtbot, window)
    assert str(model) in text, text
    _put(model, default_model_path)
    _load(qtbot, window)
    assert window.parts.messages.level != "error", message(window)
    assert _recorded_sha(db, _regenerate(qtbot, window)) == original
    faults += 1
    window.close()
    figures.add("file faults survived", faults)


def test_cli_refuses_a_missing_garbage_or_truncated_model(tmp_path: Path, default_model_path: Path, capsys,
                                                          figures) -> None:
    db = tmp_path / "review.duckdb"
    model = tmp_path / "model.gguf"
    faults = 0
    for damage in ("missing", "garbage", "truncated"):
        model.unlink(missing_ok=True)
        if damage == "garbage":
            model.write_bytes(os.urandom(4096))
        elif damage == "truncated":
            with default_model_path.open("rb") as source:
                model.write_bytes(source.read(default_model_path.stat().st_size // 3))
        capsys.readouterr()
        status = main(["generate", "--db", str(db), "--model", str(model), "--prompt", "What is 2 + 2?",
                       "--max-tokens", "8", "--threads", "1"])
        err = capsys.readouterr().err
        assert status == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(model) in lines[0] and "Traceback" not in err, err
        faults += 1
    figures.add("file faults survived", faults)


@pytest.mark.parametrize("how", ["truncate", "overwrite"])
def test_model_file_changed_in_place_during_a_generation(
    tmp_path: Path, default_model_path: Path, how: str, figures
) -> None:
    """The file cut short or overwritten while a generation reads the model: the generation
    ends normally (no SIGBUS) and the next one is refused, naming the file."""
    import json
    import subprocess
    import sys

    copy = tmp_path / "model.gguf"
    shutil.copyfile(default_model_path, copy)
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.reliability.truncate_child", str(copy), how],
        capture_output=True, text=True, cwd=repo, timeout=300,
    )
    assert done.returncode == 0, f"the process ended with status {done.returncode}: {done.stderr[-2000:]}"
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert rows[0]["tokens"] > 3 and rows[0]["finish"] in ("stop", "length")
    assert rows[1]["next"] == "refused" and rows[1]["error"] == "ModelFileError"
    assert str(copy) in rows[1]["message"] and "load the model again" in rows[1]["message"]
    figures.add("file faults survived", 1)
