"""The reading view and the token view in the real window: the shown branch as a document
(full text in order, hostile text literal, challenges inline), the selection shared with the
tree both ways, tokens shaded with their alternatives, and "Branch here with this token"."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from workstation.core import build
from workstation.core.checks import StepConfidence
from workstation.core.model import Reviewer
from workstation.review import Review
from workstation.ui.main_window import MainWindow

pytestmark = [pytest.mark.qt]

HOSTILE = "Step 1: The tag <b>x</b> & <img src=y> stay as typed.\n\n"
RAW = (
    HOSTILE
    + "Step 2: A long second step, " + "with many words that wrap across the reading pane, " * 6 + "ends here.\n\n"
    + "Step 3: Some code:\n```python\nprint(6 * 7)\n```\n\n"
    + "Answer: 42"
)


def make_session(db: Path) -> tuple[str, list[str]]:
    """A session with hostile text, a code block and a challenge with a reply, written without a model."""
    reviewer = Reviewer("ana", "annotator")
    with Review.open(db, reviewer=reviewer) as review:
        tree = review.start("What is 6 * 7? <i>really</i>")
        session_id = tree.session.id
        review.add_steps(session_id, RAW, model="test")
        tree = review.tree(session_id)
        steps = [n.id for n in tree.shown_path()[1:]]
        asked = build.ask_challenge(tree, steps[0], "Why <b>this</b>?", reviewer)
        review.store.apply(session_id, asked, reviewer)
        answered = build.challenge_answered(
            review.tree(session_id), asked.node.id, "Because <i>tags</i> are text.", reviewer, "why", "1",
            model="test", finish_reason="stop", confidence=StepConfidence(),
        )
        review.store.apply(session_id, answered, reviewer)
    return session_id, steps


def open_session(qtbot, window: MainWindow, session_id: str) -> None:
    window.session.open_session(session_id)
    qtbot.waitUntil(lambda: window.session.state is not None and window.session.state.session_id == session_id,
                    timeout=20_000)
    qtbot.waitUntil(lambda: not window.parts.reading.building() and bool(window.parts.reading.node_ids()), timeout=20_000)


def test_reading_view_shows_the_branch_and_follows_the_tree(qtbot, open_window, db_path: Path) -> None:
    session_id, steps = make_session(db_path)
    window = open_window()
    open_session(qtbot, window, session_id)
    reading = window.parts.reading
    tree = window.session.state.tree
    assert reading.node_ids() == [n.id for n in tree.shown_path()]

    # Every step's full text, in order, as plain characters.
    document = reading.toPlainText()
    at = [document.index(tree.node(s).text) for s in steps]
    assert at == sorted(at)
    assert "The tag <b>x</b> & <img src=y> stay as typed." in document
    assert "What is 6 * 7? <i>really</i>" in document
    assert "ends here." in document and "print(6 * 7)" in document
    # The challenge and the reply sit under their step, before the next step.
    assert at[0] < document.index("? Why <b>this</b>?") < document.index("↳ Because <i>tags</i> are text.") < at[1]
    assert "unlabelled" in reading.step_text(steps[1])

    # The tree's selection moves the highlighted step...
    window.session.select(steps[2])
    qtbot.waitUntil(lambda: reading.current() == steps[2])
    marked = [s.cursor.selectedText() for s in reading.extraSelections()]
    assert marked[0].startswith("Step 3") and "print(6 * 7)" in marked[-1]
    assert not any("Step 2" in m for m in marked)

    # ...and a click on a step in the reading view selects it in the tree.
    cursor = QTextCursor(reading.document())
    cursor.setPosition(reading.toPlainText().index("A long second step"))
    point = reading.cursorRect(cursor).center()
    qtbot.mouseClick(reading.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.waitUntil(lambda: window.session.current_node_id == steps[1])
    assert reading.current() == steps[1]

    # A label key pressed while reading (the focus in the reading view) labels the step, and
    # redraws its chip in place; the rest of the document stays.
    before = reading.step_text(steps[0])
    reading.setFocus()
    qtbot.keyClick(reading, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: "✓ right" in reading.step_text(steps[1]), timeout=10_000)
    assert reading.step_text(steps[0]) == before
    qtbot.waitUntil(lambda: reading.current() == steps[2])  # the label key moves on (review.auto_advance)


def test_token_texts_show_their_blank_space() -> None:
    from workstation.ui.token_view import visible

    assert visible(" cents") == "␣cents" and visible("\n\n") == "\\n\\n" and visible("") == "(empty)"
    assert visible("<b>x</b> ") == "<b>x</b>␣"


def test_long_branch_builds_in_chunks(qtbot, open_window, db_path: Path) -> None:
    reviewer = Reviewer("ana", "annotator")
    with Review.open(db_path, reviewer=reviewer) as review:
        session_id = review.start("Count to 600.").session.id
        review.add_steps(session_id, "".join(f"Step {i}: {i} comes after {i - 1}.\n\n" for i in range(1, 601)))
    window = open_window()
    window.session.open_session(session_id)
    qtbot.waitUntil(lambda: window.session.state is not None and window.session.state.session_id == session_id,
                    timeout=20_000)
    reading = window.parts.reading
    # The first chunk is in before the rest: the window was never blocked for the whole branch.
    assert reading.building()
    qtbot.waitUntil(lambda: not reading.building(), timeout=30_000)
    assert len(reading.node_ids()) == 601
    assert "Step 600: 600 comes after 599." in reading.toPlainText()


@pytest.mark.model
def test_token_view_and_branch_here(qtbot, open_window, default_model_path) -> None:
    window = open_window(default_model_path, autoload=True, wait_model=True)
    window.parts.question.setPlainText("What is 12 + 30?")
    window.parts.actions["generate"].trigger()
    qtbot.waitUntil(lambda: window.generation.job is None, timeout=120_000)
    tree = window.session.state.tree
    first = tree.shown_path()[1]
    window.session.select(first.id)
    qtbot.waitUntil(lambda: window.session.current_node_id == first.id)

    action = window.parts.actions["token_view"]
    assert action.shortcut().toString() and action.isCheckable()
    # F1 lists the token view and the branch key.
    window.show_help()
    table = window.help_dialog.table
    listed = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}
    assert listed["Token view"] == action.shortcut().toString()
    assert listed["Branch here with this token"] == "B"
    window.help_dialog.close()
    action.trigger()
    view = window.parts.token_view
    assert window.parts.reading_stack.currentWidget() is view
    qtbot.waitUntil(lambda: view.node_id == first.id and len(view.tokens) > 2, timeout=20_000)
    assert view.text.toPlainText() == "".join(t.text for t in view.tokens)
    # Each token is shaded: its background comes from its probability.
    cursor = QTextCursor(view.text.document())
    cursor.setPosition(1)
    assert cursor.charFormat().background().color().alpha() > 0
    assert "alternatives:" in view.tooltip_for(0)

    # Selecting a token lists its alternatives, the likeliest first.
    index = min(2, len(view.tokens) - 1)
    cursor = QTextCursor(view.text.document())
    cursor.setPosition(view.at_char(index) - view._offset)
    view.text.setTextCursor(cursor)
    assert view.selected == index
    assert view.alternatives.count() == len(view.tokens[index].top) == 5
    chosen = view.chosen_text()
    assert chosen is not None and chosen != view.tokens[index].text
    kept = first.current.raw[: view.at_char(index)]

    # B branches: a new alternative of the step, starting with the kept text and the forced token.
    window.parts.reading_stack.setFocus()
    window.parts.actions["branch_token"].trigger()
    qtbot.waitUntil(lambda: window.generation.job is None, timeout=120_000)
    assert window.parts.messages.level != "error", window.parts.messages.label.text()
    tree = window.session.state.tree
    alternatives = tree.alternatives(first.id)
    assert len(alternatives) == 2
    new = next(n for n in alternatives if n.id != first.id)
    assert new.current.raw.startswith(kept + chosen)
    assert window.session.current_node_id == new.id
