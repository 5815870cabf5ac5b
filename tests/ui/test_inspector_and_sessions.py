"""The step inspector (highlighted code, rewrite diff, versions), branch comparison, and the
sessions browser (search, new, rename, delete) on the real window and database, without the model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workstation.ui.compare import CompareDialog, diff_ops
from workstation.ui.main_window import MainWindow
from workstation.ui.sessions_panel import NodeRole, SessionRole

pytestmark = pytest.mark.qt


def open_sample(qtbot, window: MainWindow, family: str) -> None:
    items = [window.parts.sessions.list.topLevelItem(i) for i in range(window.parts.sessions.list.topLevelItemCount())]
    target = next(i for i in items if family in i.text(0)).data(0, SessionRole)
    window.session.open_session(target)
    qtbot.waitUntil(lambda: window.session.state is not None and window.session.state.session_id == target)


def highlighted(view) -> str:
    """The text of a plain-text view that carries a background colour (a marked difference)."""
    out = []
    block = view.document().firstBlock()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().background().style() != Qt.BrushStyle.NoBrush:
                out.append(fragment.text())
            it += 1
        block = block.next()
    return "".join(out)


def select(qtbot, window: MainWindow, node_id: str) -> None:
    window.session.select(node_id)
    qtbot.waitUntil(lambda: window.session.current_node_id == node_id)


def test_code_blocks_are_highlighted_and_stay_text(qtbot, open_window) -> None:
    window = open_window()
    open_sample(qtbot, window, "code debugging")
    fix = next(n for n in window.session.state.tree.shown_path() if n.kind == "step" and "```python" in n.text)
    select(qtbot, window, fix.id)
    document = window.parts.inspector.text.document()
    assert window.parts.inspector.text.toPlainText() == fix.text
    code_line = next(document.findBlockByNumber(i) for i in range(document.blockCount())
                     if "if not values" in document.findBlockByNumber(i).text())
    formats = code_line.layout().formats()
    assert formats, "the code line has no highlighting"
    prose = document.firstBlock()
    assert not prose.layout().formats()


def test_rewrite_shows_a_diff_and_keeps_versions(qtbot, open_window) -> None:
    window = open_window()
    open_sample(qtbot, window, "math")
    step = window.session.state.tree.shown_path()[2]
    select(qtbot, window, step.id)
    window.parts.actions["edit"].trigger()
    fixed = step.text.replace("6.0 km/h", "40 km/h")
    window.parts.inspector.editor.setPlainText(fixed)
    qtbot.waitUntil(lambda: "40" in window.parts.inspector.diff.toPlainText())
    diff_text = window.parts.inspector.diff.toPlainText()
    assert "6.0" in diff_text and "40" in diff_text  # removed and added words both shown
    window.edits.rewrite(fixed)
    qtbot.waitUntil(lambda: window.session.current_node().current.origin == "rewrite")
    assert window.parts.inspector.versions.count() == 2
    assert "(current)" in window.parts.inspector.versions.item(1).text()
    assert not window.session.current_node().current.flags  # the arithmetic is right now
    # Undo restores the model's version (the undo entry comes with the job's result).
    qtbot.waitUntil(lambda: window.parts.actions["undo"].isEnabled())
    assert "rewrite" in window.parts.actions["undo"].text()
    window.parts.actions["undo"].trigger()
    qtbot.waitUntil(lambda: window.session.current_node().current.origin == "model")


def test_compare_highlights_the_differences(qtbot, open_window) -> None:
    window = open_window()
    open_sample(qtbot, window, "math")
    step = window.session.state.tree.shown_path()[2]
    select(qtbot, window, step.id)
    assert window.parts.actions["compare"].isEnabled()
    window.parts.actions["compare"].trigger()
    dialog: CompareDialog = window.edits.compare_dialog
    assert "differences" in dialog.summary.text()
    left, right = dialog.left.toPlainText(), dialog.right.toPlainText()
    assert "6.0" in left and "40 km/h" in right
    assert highlighted(dialog.right) and "40" in highlighted(dialog.right)
    assert "6.0" in highlighted(dialog.left)
    dialog.close()
    assert [tag for tag, *_ in diff_ops("a b c", "a x c")] == ["equal", "replace", "equal"]


def test_prefer_and_switch_alternatives_with_buttons(qtbot, open_window) -> None:
    window = open_window()
    open_sample(qtbot, window, "math")
    step = window.session.state.tree.shown_path()[2]
    select(qtbot, window, step.id)
    window.parts.actions["next_alternative"].trigger()
    qtbot.waitUntil(lambda: window.session.state.tree.shown_path()[2].id != step.id)
    other = window.session.state.tree.shown_path()[2].id
    assert window.session.current_node_id == other
    window.parts.actions["prefer"].trigger()
    qtbot.waitUntil(lambda: window.session.state.tree.preferred.get(step.parent_id) == other)
    assert "★" in window.parts.tree_model.data(window.parts.tree_model.index_of_node(other, 4))
    window.parts.actions["previous_alternative"].trigger()
    qtbot.waitUntil(lambda: window.session.state.tree.shown_path()[2].id == step.id)


def test_search_new_and_rename(qtbot, open_window) -> None:
    window = open_window()
    open_sample(qtbot, window, "math")
    step = window.session.state.tree.shown_path()[1]
    select(qtbot, window, step.id)
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: bool(window.session.state.tree.current_annotations(step.id)))
    # Search by text: hits listed under their session; picking one opens it at the step.
    window.parts.sessions.text.setText("wallet")
    qtbot.waitUntil(lambda: window.parts.sessions.list.topLevelItemCount() == 1
                    and "wallet" in window.parts.sessions.list.topLevelItem(0).text(0), timeout=5_000)
    hit = window.parts.sessions.list.topLevelItem(0).child(0)
    # Read now: the list follows every change (the label above), so the item may be rebuilt.
    hit_session, hit_node = hit.data(0, SessionRole), hit.data(0, NodeRole)
    window.parts.sessions.open_requested.emit(hit_session, hit_node)
    qtbot.waitUntil(lambda: window.session.current_node_id == hit_node)
    # Search by label.
    window.parts.sessions.text.clear()
    window.parts.sessions.label.setCurrentIndex(window.parts.sessions.label.findData(-1))
    qtbot.waitUntil(lambda: window.parts.sessions.list.topLevelItemCount() == 1
                    and window.parts.sessions.list.topLevelItem(0).child(0) is not None
                    and window.parts.sessions.list.topLevelItem(0).child(0).data(0, NodeRole) == step.id, timeout=5_000)
    window.parts.sessions.label.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.parts.sessions.list.topLevelItemCount() == 4, timeout=5_000)
    # Rename the open session; the list and the title follow.
    window.session.rename_session("Renamed sample")
    qtbot.waitUntil(lambda: window.session.state.tree.session.title == "Renamed sample")
    qtbot.waitUntil(lambda: any(window.parts.sessions.list.topLevelItem(i).text(0) == "Renamed sample"
                                for i in range(window.parts.sessions.list.topLevelItemCount())))
    # New session: an empty tree and the question editor ready.
    window.parts.actions["new_session"].trigger()
    assert window.parts.tree_model.rowCount() == 0 and window.session.current_session is None
    assert window.parts.question.toPlainText() == ""


def test_follows_a_dark_palette(qtbot, open_window) -> None:
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from workstation.ui.highlight import dark_palette

    window = open_window()
    open_sample(qtbot, window, "code debugging")
    fix = next(n for n in window.session.state.tree.shown_path() if n.kind == "step" and "```python" in n.text)
    select(qtbot, window, fix.id)
    app = QApplication.instance()
    light = app.palette()
    dark = QPalette(light)
    for role, color in ((QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.Base, "#181818"),
                        (QPalette.ColorRole.Text, "#e8e8e8"), (QPalette.ColorRole.WindowText, "#e8e8e8")):
        dark.setColor(role, QColor(color))
    try:
        app.setPalette(dark)
        qtbot.waitUntil(dark_palette)
        document = window.parts.inspector.text.document()
        block = next(document.findBlockByNumber(i) for i in range(document.blockCount())
                     if "def average" in document.findBlockByNumber(i).text())

        def colors() -> set[str]:
            return {f.format.foreground().color().name() for f in block.layout().formats()}

        # Highlighted again with a dark style (monokai): no dark text on the dark base.
        qtbot.waitUntil(lambda: bool(colors()) and all(QColor(c).lightness() > 90 for c in colors()))
    finally:
        app.setPalette(light)


def _listed(window: MainWindow) -> set[str]:
    return {window.parts.sessions.list.topLevelItem(i).data(0, SessionRole)
            for i in range(window.parts.sessions.list.topLevelItemCount())}


def test_delete_session_after_confirmation_and_undo_restores_it(qtbot, open_window, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = open_window()
    open_sample(qtbot, window, "math")
    sid = window.session.current_session
    title = window.session.state.tree.session.title
    qtbot.waitUntil(lambda: sid in _listed(window) and window.parts.actions["delete_session"].isEnabled())
    asked: list[str] = []

    def answer(button):
        def question(parent, caption, text, *args):
            asked.append(text)
            return button
        return question

    # Cancelled: nothing happens.
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    window.parts.actions["delete_session"].trigger()
    assert len(asked) == 1 and title[:40] in asked[0]
    assert not window.session.state.tree.session.deleted
    # Confirmed: the session is hidden from the list, but stays open for Undo.
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    window.parts.actions["delete_session"].trigger()
    qtbot.waitUntil(lambda: window.session.state.tree.session.deleted and sid not in _listed(window), timeout=5_000)
    assert not window.parts.actions["delete_session"].isEnabled()
    # Undo (Ctrl+Z) names what it undoes, from the history, and restores it; the list shows it again.
    qtbot.waitUntil(lambda: window.parts.actions["undo"].isEnabled())
    assert window.parts.actions["undo"].text() == f"&Undo delete session '{title[:40]}'"
    window.parts.actions["undo"].trigger()
    qtbot.waitUntil(lambda: not window.session.state.tree.session.deleted and sid in _listed(window), timeout=5_000)
    assert window.parts.actions["delete_session"].isEnabled()
    # With no session open there is nothing to delete.
    window.parts.actions["new_session"].trigger()
    assert not window.parts.actions["delete_session"].isEnabled()
