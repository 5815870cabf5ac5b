"""The main window opens offscreen, finds the default model without blocking, and keeps its layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from workstation import diagnostics
from workstation.ui.main_window import MainWindow

pytestmark = pytest.mark.qt


def test_window_lists_the_default_model(qtbot, isolated_home: Path) -> None:
    window = MainWindow(model=None, db=isolated_home / "w.duckdb")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_panel.list.count() > 0, timeout=10_000)
    first = window.model_panel.list.item(0)
    assert "SmolLM2" in first.text()
    assert "Quantisation: Q4_1" in window.model_panel.details.text()
    assert "SmolLM2" in window.model_status.text()
    assert window.device_status.text()  # CPU or GPU, said either way
    assert "w.duckdb" in window.db_status.text()


def test_model_text_is_plain_text(qtbot, isolated_home: Path) -> None:
    window = MainWindow(model=None, db=isolated_home / "w.duckdb")
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.model_panel.list.count() > 0, timeout=10_000)
    assert window.model_panel.details.textFormat() == Qt.TextFormat.PlainText


def test_geometry_is_restored(qtbot, isolated_home: Path) -> None:
    window = MainWindow(model=None, db=isolated_home / "w.duckdb")
    qtbot.addWidget(window)
    window.show()
    window.resize(700, 500)  # inside the offscreen screen (800x600)
    window.close()
    again = MainWindow(model=None, db=isolated_home / "w.duckdb")
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (700, 500)


def test_an_unseen_crash_is_offered_once(qtbot, isolated_home: Path) -> None:
    log = diagnostics.record_crash(RuntimeError, RuntimeError("earlier"), None)
    window = MainWindow(model=None, db=isolated_home / "w.duckdb")
    qtbot.addWidget(window)
    assert str(log) in window.statusBar().currentMessage()
    assert diagnostics.unseen_crash() is None
