"""The model panel lists other applications' models with their source, the app's name for each
and the file in a tooltip, and says which folders the scan skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests import model_layouts
from workstation.engine import discovery
from workstation.ui.model_panel import source_label

pytestmark = pytest.mark.qt


@pytest.fixture
def layouts(isolated_home: Path, default_model_path: Path, tmp_path: Path):
    parts_dir = tmp_path / "split"
    parts_dir.mkdir()
    parts = model_layouts.split_gguf(default_model_path, parts_dir / "smol")
    built = model_layouts.build(isolated_home, default_model_path, parts, tmp_path)
    yield built
    assert built.unreadable is not None
    built.unreadable.chmod(0o700)


def _rows(window) -> dict[tuple[str, str], tuple[str, object]]:
    listed = window.parts.model_panel.list
    rows = {}
    for index in range(listed.topLevelItemCount()):
        item = listed.topLevelItem(index)
        rows[(item.text(1), item.text(0))] = (item.toolTip(0), item.data(0, Qt.ItemDataRole.UserRole))
    return rows


def test_the_window_lists_each_applications_models(qtbot, open_window, layouts: model_layouts.Layouts) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.parts.model_panel.list.count() > 5, timeout=30_000)
    rows = _rows(window)
    for (source, name), path in layouts.expected.items():
        tooltip, model = rows[(source_label(source), name)]
        assert isinstance(model, discovery.DiscoveredModel) and model.path == path
        assert str(path) in tooltip  # the file the name stands for
    assert ("Ollama", "smollm2:135m") in rows
    split_tip, _ = rows[("LM Studio", "bartowski/Smol-Split-GGUF")]
    assert all(str(part) in split_tip for part in layouts.split_parts)
    first = window.parts.model_panel.list.topLevelItem(0)
    assert first is not None and first.text(1) == "Installed package"  # the default model stays first


def test_selecting_a_model_shows_its_source_and_parts(qtbot, open_window, layouts: model_layouts.Layouts) -> None:
    window = open_window()
    panel = window.parts.model_panel
    qtbot.waitUntil(lambda: panel.list.count() > 5, timeout=30_000)
    for index in range(panel.list.topLevelItemCount()):
        item = panel.list.topLevelItem(index)
        if item is not None and item.text(0) == "bartowski/Smol-Split-GGUF":
            panel.list.setCurrentItem(item)
    assert "Source: LM Studio" in panel.details.text()
    assert "Parts: 3" in panel.details.text()


def test_skipped_folders_are_a_note_with_the_reasons(qtbot, open_window, isolated_home: Path) -> None:
    from workstation import settings

    missing = isolated_home / "not-there"
    settings.save(settings.load()[0] | {"model.folders": [str(missing)]})
    window = open_window()
    notes = window.parts.model_panel.notes
    qtbot.waitUntil(lambda: not notes.isHidden(), timeout=30_000)
    assert "skipped" in notes.text()
    assert str(missing) in notes.toolTip() and "not a folder" in notes.toolTip()


def test_the_settings_dialog_edits_the_folders_as_text(qtbot) -> None:
    import os

    from PySide6.QtWidgets import QLineEdit

    from workstation import settings
    from workstation.ui.dialogs import SettingsDialog

    values = settings.defaults() | {"model.folders": ("/models/a", "/models/b")}
    dialog = SettingsDialog(values)
    qtbot.addWidget(dialog)
    editor = dialog.editors["model.folders"]
    assert isinstance(editor, QLineEdit) and editor.text() == f"/models/a{os.pathsep}/models/b"
    editor.setText(f"/models/c{os.pathsep}")
    settings.save(dialog.values())
    assert settings.load()[0]["model.folders"] == ("/models/c",)
