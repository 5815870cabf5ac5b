"""The export dialog (issue 14): formats in words, the extension follows the format, an
existing file is replaced only when the user says so, and a live preview from the export's dry
run. Real parts: the window fixture of test_team (a real database on the real worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow, QMessageBox

from tests.ui.test_team import gui_thread_uses, menu_of, run, seed, test_keyring, window  # noqa: F401
from workstation.review_exchange import FORMAT_NAMES
from workstation.ui.export_dialog import ExportDialog

pytestmark = pytest.mark.qt


def _dialog(qtbot, win: QMainWindow) -> ExportDialog:  # noqa: ANN001
    run(qtbot, win, seed)
    dialog = menu_of(win).open_export()
    assert isinstance(dialog, ExportDialog)
    qtbot.waitUntil(lambda: dialog.loaded, timeout=30_000)
    return dialog


def test_formats_in_words_and_the_extension_follows_the_format(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    dialog = _dialog(qtbot, window)
    names = [dialog.format.itemText(i) for i in range(dialog.format.count())]
    assert names == [FORMAT_NAMES[dialog.format.itemData(i)] for i in range(dialog.format.count())]
    assert "trl-preference" not in names
    dialog.set_format("trl-preference")
    dialog.path.setText(str(tmp_path / "mine.jsonl"))
    dialog.set_format("report")
    assert dialog.path.text() == str(tmp_path / "mine.html")
    dialog.set_format("report-md")
    assert dialog.path.text() == str(tmp_path / "mine.md")
    dialog.set_format("parquet")
    assert dialog.path.text() == str(tmp_path / "mine")


def test_live_preview_and_asking_before_replacing(qtbot, window: QMainWindow, tmp_path: Path) -> None:
    dialog = _dialog(qtbot, window)
    out = tmp_path / "stepwise.jsonl"
    dialog.path.setText(str(out))
    with qtbot.waitSignal(dialog.previewed, timeout=30_000) as signal:
        dialog.set_format("trl-stepwise")
    assert signal.args[0].startswith("trl-stepwise: would write 1 row to")
    assert not out.exists()  # the preview writes nothing
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.export()
    first = out.read_text(encoding="utf-8")
    out.write_text("the user's own file\n", encoding="utf-8")
    dialog.export()  # the Export button over an existing file: asks
    qtbot.waitUntil(lambda: dialog.confirm is not None, timeout=5_000)
    assert dialog.confirm is not None
    dialog.confirm.done(QMessageBox.StandardButton.No)
    assert out.read_text(encoding="utf-8") == "the user's own file\n" and "kept" in dialog.result.text()
    dialog.export()
    qtbot.waitUntil(lambda: dialog.confirm is not None, timeout=5_000)
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        dialog.confirm.done(QMessageBox.StandardButton.Yes)
    assert out.read_text(encoding="utf-8") == first
