"""The main window opens offscreen, finds the default model without blocking, keeps its layout
and settings, offers a crash log once, and lists every shortcut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from workstation import diagnostics, paths
from workstation.ui.main_window import MainWindow

pytestmark = pytest.mark.qt


def test_window_lists_the_default_model(qtbot, open_window, db_path: Path) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.parts.model_panel.list.count() > 0, timeout=10_000)
    first = window.parts.model_panel.list.topLevelItem(0)
    assert first is not None and "SmolLM2" in first.text(0)
    assert "Quantisation: Q4_1" in window.parts.model_panel.details.text()
    assert "SmolLM2" in window.parts.model_status.text()
    assert window.parts.device_status.text()  # CPU or GPU, said either way
    assert db_path.name in window.parts.db_status.text()


def test_model_text_is_plain_text(qtbot, open_window) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.parts.model_panel.list.count() > 0, timeout=10_000)
    assert window.parts.model_panel.details.textFormat() == Qt.TextFormat.PlainText


def test_gpu_layers_explained_when_the_build_cannot_offload(qtbot, open_window) -> None:
    from workstation.engine.llama_engine import gpu_offload_supported

    window = open_window()
    editor = window.parts.model_panel.editors["model.n_gpu_layers"]
    if gpu_offload_supported():
        assert editor.isEnabled()
    else:
        assert not editor.isEnabled()
        assert "CPU only" in editor.toolTip() and "CPU only" in window.parts.model_panel.gpu_note.text()


def test_loading_shows_progress_and_never_blocks(qtbot, open_window, default_model_path) -> None:
    window = open_window(default_model_path)
    window.model.load_model()
    assert window.parts.model_panel.progress.maximum() == 0  # busy indicator while the worker loads
    qtbot.waitUntil(lambda: window.model.loaded is not None, timeout=60_000)
    assert window.parts.model_panel.progress.maximum() == 1
    # One display name (discovery's), the file's name in the tooltip.
    assert "smollm2" in window.parts.model_status.text().lower()
    assert "SmolLM2" in window.parts.model_status.toolTip()
    assert window.parts.actions["generate"].isEnabled()


def test_first_start_opens_the_sample_sessions(qtbot, open_window) -> None:
    window = open_window()
    titles = [window.parts.sessions.list.topLevelItem(i).text(0) for i in range(window.parts.sessions.list.topLevelItemCount())]
    assert len(titles) == 4
    for family in ("math", "ethical dilemma", "code debugging", "content moderation"):
        assert any(family in t for t in titles)
    tree = window.session.state.tree
    assert "km/h" in tree.session.question
    assert window.parts.tree_model.rowCount() >= 3
    # The math sample opens on the flawed branch: flagged, with a second alternative.
    flagged = [n for n in tree.shown_path() if n.current.flags]
    assert flagged and flagged[0].current.flags[0].check == "arithmetic"
    assert len(tree.alternatives(flagged[0].id)) == 2


def test_geometry_layout_and_last_session_are_restored(qtbot, open_window) -> None:
    window = open_window()
    window.resize(760, 740)  # above the minimum size, within the offscreen screen's width (800)
    window.session.open_session(window.parts.sessions.list.topLevelItem(2).data(0, Qt.ItemDataRole.UserRole + 10))
    target = window.parts.sessions.list.topLevelItem(2).data(0, Qt.ItemDataRole.UserRole + 10)
    qtbot.waitUntil(lambda: window.session.state.session_id == target)
    window.close()
    again = open_window()
    assert (again.width(), again.height()) == (760, 740)
    assert again.session.current_session == target


def test_the_shown_session_is_remembered_before_the_window_closes(qtbot, open_window) -> None:
    """A window killed or crashed never runs its close: the session it showed last is written
    as soon as it is shown, so the next start opens it (not the first in the list)."""
    from PySide6.QtCore import QSettings

    window = open_window()
    target = window.parts.sessions.list.topLevelItem(2).data(0, Qt.ItemDataRole.UserRole + 10)
    assert window.session.current_session != target
    window.session.open_session(target)
    qtbot.waitUntil(lambda: window.session.state.session_id == target)

    def stored() -> str:
        return str(QSettings(str(paths.config_dir() / "ui.ini"), QSettings.Format.IniFormat).value("session/last", ""))

    qtbot.waitUntil(lambda: stored() == target, timeout=5_000)
    assert window.isVisible()  # not closed: nothing of closeEvent has run


def test_settings_are_remembered(qtbot, open_window) -> None:
    window = open_window()
    window.parts.model_panel.editors["sampling.temperature"].setValue(0.3)
    window.close()
    saved = json.loads((paths.config_dir() / "settings.json").read_text())
    assert saved["sampling.temperature"] == pytest.approx(0.3)
    again = open_window()
    assert again.parts.model_panel.editors["sampling.temperature"].value() == pytest.approx(0.3)


def test_an_unseen_crash_is_offered_once(qtbot, open_window) -> None:
    log = diagnostics.record_crash(RuntimeError, RuntimeError("earlier"), None)
    window = open_window()
    assert str(log) in window.parts.messages.label.text()
    assert window.parts.messages.action_button.text() == "Show log"
    assert diagnostics.unseen_crash() is None


def test_errors_reach_the_message_bar_not_a_traceback(qtbot, open_window) -> None:
    window = open_window()
    window.session.open_session("no-such-session")
    window.session.rename_session("x")  # the session is unknown: the store says so
    qtbot.waitUntil(lambda: window.parts.messages.level == "error", timeout=10_000)
    assert "Traceback" not in window.parts.messages.label.text()
    assert "\n" not in window.parts.messages.label.text()


def test_help_lists_every_shortcut(qtbot, open_window) -> None:
    window = open_window()
    window.parts.actions["help"].trigger()
    table = window.help_dialog.table
    listed = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}
    for name in ("Wrong", "Neutral", "Right", "Generate", "Stop", "Undo", "Redo", "Regenerate from here", "Why?"):
        assert name in listed and listed[name]
    assert listed["Right"] == "3"
    window.help_dialog.close()


def test_bugs_in_jobs_become_an_apology(qtbot, open_window) -> None:
    window = open_window()

    def broken(review):
        raise ZeroDivisionError("internal detail 1234")

    window.backend.call(broken)
    qtbot.waitUntil(lambda: window.parts.messages.level == "error", timeout=10_000)
    assert "internal detail 1234" not in window.parts.messages.label.text()
    assert str(diagnostics.crash_log()) in window.parts.messages.label.text()


def test_window_opens_without_a_model(qtbot, isolated_home: Path) -> None:
    window = MainWindow(model=None, db=isolated_home / "w.duckdb", autoload=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    assert not window.parts.actions["generate"].isEnabled()
    window.close()
