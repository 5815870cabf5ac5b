"""The whole review loop on the real window with the real default model and a real database:
generate and watch steps arrive, stop, label with keys, rewrite, regenerate from a step,
challenge, switch branches, undo, close, reopen and find everything restored."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workstation.ui.main_window import MainWindow
from workstation.ui.tree_model import COL_ALTERNATIVES, COL_LABEL, KindRole, NodeIdRole

pytestmark = [pytest.mark.qt, pytest.mark.model]


def rows(window: MainWindow) -> list[str]:
    model = window.parts.tree_model
    return [model.index(i, 0).data(KindRole) for i in range(model.rowCount())]


def select_row(qtbot, window: MainWindow, row: int) -> str:
    index = window.parts.tree_model.index(row, 0)
    window.parts.tree_view.setCurrentIndex(index)
    window.parts.tree_view.setFocus()
    qtbot.waitUntil(lambda: window.session.current_node_id == index.data(NodeIdRole))
    return index.data(NodeIdRole)


def wait_idle(qtbot, window: MainWindow, timeout: int = 90_000) -> None:
    qtbot.waitUntil(lambda: window.generation.job is None, timeout=timeout)


def test_generate_label_rewrite_regenerate_challenge_undo_reopen(qtbot, open_window, default_model_path) -> None:
    window = open_window(default_model_path, autoload=True, wait_model=True)
    # First start: the sample sessions are there before anything is typed.
    assert window.parts.sessions.list.topLevelItemCount() == 4
    assert len(rows(window)) > 2

    # Generate: the steps appear live (stream rows), then the committed steps replace them.
    window.parts.question.setPlainText("A shop sells pens at 3 dollars each. How much do 7 pens cost?")
    seen_streaming = []
    window.parts.tree_model.rowsInserted.connect(lambda *a: seen_streaming.append("stream" in rows(window)))
    window.parts.actions["generate"].trigger()
    assert window.parts.actions["stop"].isEnabled()
    wait_idle(qtbot, window)
    assert any(seen_streaming), "no step appeared while the model was writing"
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    session_id = window.session.current_session
    kinds = rows(window)
    assert kinds[0] == "question" and len(kinds) >= 2 and "stream" not in kinds
    assert "tokens/s" in window.parts.speed_status.text()

    # Stop: a regeneration stopped as soon as its first text arrives ends at once.
    first_step = select_row(qtbot, window, 1)
    window.parts.actions["regenerate"].trigger()
    qtbot.waitUntil(lambda: "stream" in rows(window), timeout=60_000)
    window.parts.actions["stop"].trigger()
    wait_idle(qtbot, window, timeout=5_000)
    assert "stream" not in rows(window)
    assert "Stopped" in window.parts.messages.label.text() or "no steps" in window.parts.messages.label.text()

    # Label with keys 1/2/3 while the tree has focus.
    step_id = select_row(qtbot, window, 1)
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: "right" in (window.parts.tree_model.index(1, COL_LABEL).data() or ""))
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: "wrong" in (window.parts.tree_model.index(1, COL_LABEL).data() or ""))

    # Rewrite in place: Ctrl+Enter in the editor commits a new version.
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_E)
    assert window.parts.inspector.editor.hasFocus() or window.parts.inspector.tabs.currentIndex() == 1
    window.parts.inspector.editor.setPlainText("Step 1: Each pen costs 3 dollars, so 7 pens cost 7 * 3 = 21 dollars.")
    qtbot.keyClick(window.parts.inspector.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.session.current_node() is not None and window.session.current_node().current.origin == "rewrite")
    assert "21 dollars" in window.parts.inspector.text.toPlainText()
    assert window.session.current_node().original.text != window.session.current_node().text

    # Regenerate from step 1: a second alternative appears and is shown.
    select_row(qtbot, window, 1)
    window.parts.actions["regenerate"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error" or "no steps" in window.parts.messages.label.text()
    tree = window.session.state.tree
    alternatives = tree.alternatives(tree.shown_path()[1].id)
    assert len(alternatives) >= 2
    assert "/" in (window.parts.tree_model.index(1, COL_ALTERNATIVES).data() or "")

    # Switch branches with the keyboard: ] shows another alternative, persisted.
    shown_before = window.session.state.tree.shown_path()[1].id
    select_row(qtbot, window, 1)
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: window.session.state.tree.shown_path()[1].id != shown_before)
    assert window.session.state.tree.shown_path()[1].id == first_step or first_step in [n.id for n in alternatives]
    assert window.session.state.tree.shown_path()[1].id in [n.id for n in alternatives]

    # Challenge: the reply streams in as a child of the step.
    select_row(qtbot, window, 1)
    challenged = window.session.current_node_id
    window.parts.actions["challenge"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    asked = window.session.state.tree.challenges(challenged)
    assert len(asked) == 1 and window.session.state.tree.replies(asked[0].id)
    step_index = window.parts.tree_model.index_of_node(challenged)
    assert window.parts.tree_model.rowCount(step_index) == 1

    # Undo and Redo follow the session's history (its text names the step): a label given now is
    # taken back, put back and taken back again, one trigger each.
    def labels(node_id: str) -> dict:
        return {r: a.label for r, a in window.session.state.tree.current_annotations(node_id).items()}

    undo, redo = window.parts.actions["undo"], window.parts.actions["redo"]
    node = select_row(qtbot, window, 1)
    before = labels(node)
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: 0 in labels(node).values() and undo.isEnabled() and "label" in undo.text())
    assert undo.text().startswith("&Undo label step ") and undo.text().endswith(" neutral") and not redo.isEnabled()
    undo.trigger()
    qtbot.waitUntil(lambda: labels(node) == before and redo.isEnabled())
    assert redo.text().startswith("&Redo label step ")
    redo.trigger()
    qtbot.waitUntil(lambda: 0 in labels(node).values() and undo.isEnabled())
    undo.trigger()
    qtbot.waitUntil(lambda: labels(node) == before and redo.isEnabled())
    assert window.parts.messages.level != "error", window.parts.messages.label.text()

    # Undo then takes the challenge back, question and answer, in one trigger: the history groups
    # them as one user action.
    shown_state = window.session.state
    qtbot.waitUntil(lambda: undo.isEnabled() and "challenge" in undo.text())
    undo.trigger()
    qtbot.waitUntil(lambda: window.session.state is not shown_state and "challenge" in redo.text())
    assert not window.session.state.tree.challenges(challenged)

    labelled = window.session.state.tree.current_annotations(step_id)
    shown = [n.id for n in window.session.state.tree.shown_path()]
    window.close()

    # Reopen: the same session, branch, label and rewrite are there.
    again = open_window(default_model_path)
    assert again.session.current_session == session_id
    qtbot.waitUntil(lambda: [n.id for n in again.session.state.tree.shown_path()] == shown)
    assert again.session.state.tree.current_annotations(step_id) == labelled
    assert list(labelled.values())[0].label == -1
    assert any(v.origin == "rewrite" for v in again.session.state.tree.node(step_id).versions)
    assert not again.session.state.tree.challenges(challenged)
    assert again.parts.tree_model.rowCount() == len(shown)


def test_labelling_stays_live_while_the_model_writes(qtbot, open_window, default_model_path) -> None:
    """Quick commands run between tokens on the worker: a label lands before the stream ends."""
    window = open_window(default_model_path, autoload=True, wait_model=True)
    window.values["sampling.max_tokens"] = 400  # long enough to label while it writes
    step = window.session.state.tree.shown_path()[1]
    last = window.session.state.tree.shown_path()[-1]
    select_row(qtbot, window, 2)
    window.parts.actions["regenerate"].trigger()
    qtbot.waitUntil(lambda: "stream" in rows(window), timeout=60_000)
    window.session.select(step.id)
    qtbot.waitUntil(lambda: window.session.current_node_id == step.id)
    window.parts.tree_view.setFocus()
    qtbot.keyClick(window.parts.tree_view, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: bool(window.session.state.tree.current_annotations(step.id)), timeout=10_000)
    assert window.generation.job is not None, "the label waited for the stream to end"
    assert "stream" in rows(window)  # the rows being written survive the new snapshot
    window.parts.actions["stop"].trigger()
    wait_idle(qtbot, window, timeout=10_000)
    assert last.id in window.session.state.tree.nodes


def test_a_state_still_on_its_way_is_not_taken_for_the_new_session(qtbot, open_window, default_model_path) -> None:
    """Found by the kill test (tests/reliability/test_kill.py): the window had opened a
    session, New session and Generate came before that session's state arrived, and the
    window took the old session for the new one (the generated steps were saved, not shown)."""
    window = open_window(default_model_path, autoload=True, wait_model=True)
    before = window.session.current_session
    assert before
    window.session.open_session(before)  # its state is on the way
    window.session.new_session()
    window.parts.question.setPlainText("What is 6 * 7?")
    window.generation.generate()
    qtbot.waitUntil(lambda: window.generation.job is None, timeout=90_000)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    assert window.session.current_session != before
    assert window.session.state is not None and window.session.state.tree.session.question == "What is 6 * 7?"
    assert any(n.kind != "question" for n in window.session.state.tree.nodes.values())


def test_a_session_left_without_steps_says_so_and_continues_from_the_question(
    qtbot, open_window, db_path, default_model_path
) -> None:
    """A generation killed before its first step leaves a session holding only its question;
    reopened, the window says how to go on, and Continue after on the question writes the steps."""
    from workstation.review import Review

    with Review.open(db_path) as review:
        session_id = review.start("A box holds 12 eggs. How many eggs are in 5 boxes?").session.id
    window = open_window(default_model_path, autoload=True, wait_model=True)
    assert window.session.current_session == session_id and rows(window) == ["question"]
    assert window.parts.messages.level == "info"
    assert "no steps yet" in window.parts.messages.label.text() and "Continue after" in window.parts.messages.label.text()
    select_row(qtbot, window, 0)
    assert window.parts.actions["continue_after"].isEnabled()
    window.parts.actions["continue_after"].trigger()
    wait_idle(qtbot, window)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    kinds = rows(window)
    assert kinds[0] == "question" and len(kinds) >= 2 and "stream" not in kinds
    assert window.session.current_session == session_id
