"""The command line, run as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gguf_files import write_tiny_gguf
from workstation import __version__


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKSTATION_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "workstation", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_version(isolated_home: Path) -> None:
    result = run_cli("--version", home=isolated_home)
    assert result.returncode == 0
    assert result.stdout.strip() == f"workstation {__version__}"


def test_models_json_lists_the_default_model(isolated_home: Path, default_model_path: Path) -> None:
    result = run_cli("models", "--json", home=isolated_home)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    smol = next(row for row in rows if row["catalog_id"] == "smollm2-135m-instruct")
    assert smol["path"] == str(default_model_path)
    assert smol["architecture"] == "llama"
    assert smol["size_label"] == "135M"
    assert smol["quantization"] == "Q4_1"
    assert smol["context_length"] == 8192
    assert smol["file_size"] == default_model_path.stat().st_size
    assert smol["has_chat_template"] is True


def test_models_human_readable(isolated_home: Path) -> None:
    result = run_cli("models", home=isolated_home)
    assert result.returncode == 0
    assert "SmolLM2 135M Instruct" in result.stdout
    assert "Q4_1" in result.stdout and "context 8,192" in result.stdout


def _bad_models(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    noise = tmp_path / "noise.gguf"
    noise.write_bytes(os.urandom(2048))
    whole = write_tiny_gguf(tmp_path / "whole.gguf").read_bytes()
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(whole[: len(whole) // 2])
    return {
        "missing": (tmp_path / "missing.gguf", "no such model file"),
        "directory": (tmp_path, "is a folder"),
        "random bytes": (noise, "not the GGUF magic"),
        "truncated": (truncated, "truncated"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "random bytes", "truncated"])
@pytest.mark.parametrize("command", [[], ["models"]])
def test_bad_model_gets_one_line_and_status_2(isolated_home: Path, tmp_path: Path, case: str, command: list[str]) -> None:
    path, expected = _bad_models(tmp_path)[case]
    result = run_cli(*command, "--model", str(path), home=isolated_home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_a_bug_is_logged_not_shown(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workstation import diagnostics
    from workstation.cli import main
    from workstation.engine import discovery

    def broken_scan(explicit: object = None, folders: object = None) -> list[object]:
        raise RuntimeError("an unexpected fault")

    monkeypatch.setattr(discovery, "scan", broken_scan)
    assert main(["models"]) == 70
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a bug" in err[0] and str(diagnostics.crash_log()) in err[0]
    assert "RuntimeError: an unexpected fault" in diagnostics.crash_log().read_text()
    assert diagnostics.unseen_crash() == diagnostics.crash_log()


def test_no_display_gets_one_line_not_a_qt_abort(isolated_home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["WORKSTATION_HOME"] = str(isolated_home)
    result = subprocess.run(
        [sys.executable, "-m", "workstation"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "workstation: error: no display found: run the workstation on a desktop, or use the "
        "command line (`workstation --help`); for a virtual screen use xvfb-run"
    ]
