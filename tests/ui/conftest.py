"""Fixtures for the window tests: small, fast generations on the real default model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workstation import paths
from workstation.ui.main_window import MainWindow

#: Short generations on 2 threads keep the whole UI suite to a few minutes on 2 cores.
FAST_SETTINGS = {
    "sampling.max_tokens": 64,
    "sampling.temperature": 0.7,
    "sampling.seed": 7,
    # One thread: on a shared, loaded 2-core machine a second ggml thread spins and halves the speed.
    "model.n_threads": 1,
    "model.n_ctx_cap": 2048,
    "model.cache_mb": 64,
}


@pytest.fixture
def fast_settings(isolated_home: Path) -> dict:
    """Write the fast settings where the window reads them."""
    (paths.config_dir() / "settings.json").write_text(json.dumps(FAST_SETTINGS), encoding="utf-8")
    return FAST_SETTINGS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A real DuckDB file in tmp_path."""
    return tmp_path / "review.duckdb"


@pytest.fixture
def open_window(qtbot, fast_settings, db_path: Path) -> Iterator[Callable[..., MainWindow]]:
    """Open a real window on the test database; waits until the database is open."""
    windows: list[MainWindow] = []

    def opener(model: Path | None = None, autoload: bool = False, wait_model: bool = False) -> MainWindow:
        window = MainWindow(model=str(model) if model else None, db=db_path, autoload=autoload)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        qtbot.waitUntil(lambda: window.ready, timeout=20_000)
        qtbot.waitUntil(lambda: window.session.state is not None, timeout=20_000)
        if wait_model:
            qtbot.waitUntil(lambda: window.model.loaded is not None, timeout=60_000)
        return window

    yield opener
    for window in windows:
        window.close()
