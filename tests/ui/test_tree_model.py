"""The reasoning tree model: qtmodeltester over real trees, live stream rows, and text that is
never markup."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from workstation.review import Review
from workstation.ui.backend import snapshot_tree
from workstation.ui.tree_model import (
    COL_CONFIDENCE,
    COL_FLAGS,
    COL_LABEL,
    COL_STEP,
    ConfidenceRole,
    KindRole,
    ReasoningTreeModel,
    StreamAnchor,
)

pytestmark = pytest.mark.qt

HOSTILE = (
    'Step 1: <img src=x onerror=alert(1)> and <b>bold</b> and <a href="http://evil.test">link</a>.\n\n'
    "Step 2: 2 + 2 = 5\n\n"
    "Answer: <script>alert(2)</script>\n"
)


@pytest.fixture
def review(tmp_path):
    with Review.open(tmp_path / "t.duckdb") as opened:
        yield opened


def hostile_tree(review: Review):
    tree = review.start("What does <i>this</i> do?", "chain-of-thought")
    sid = tree.session.id
    review.add_steps(sid, HOSTILE)
    steps = review.tree(sid).shown_path()
    review.add_steps(sid, "Step 2: 2 + 2 = 4\n\nAnswer: fine\n", parent_id=steps[1].id)
    review.annotate(steps[1].id, -1, "bad tags", ("unsafe",), "major")
    return sid


def test_model_passes_qtmodeltester(qtmodeltester, review) -> None:
    sid = hostile_tree(review)
    model = ReasoningTreeModel()
    model.set_tree(snapshot_tree(review.tree(sid)))
    qtmodeltester.check(model, force_py=True)
    # The tester keeps watching every change after the check: a challenge below a step, a
    # stream of rows, the stream's end, a reset.
    step = review.tree(sid).shown_path()[1].id
    review.store.apply(sid, __import__("workstation.core.build", fromlist=["x"]).ask_challenge(
        review.tree(sid), step, "why?", review.reviewer), review.reviewer)
    model.set_tree(snapshot_tree(review.tree(sid)))
    model.begin_stream(StreamAnchor(step))
    model.update_stream(["Step 2: partial", "Step 3: more"])
    model.update_stream(["Step 2: partial", "Step 3: more text", "Answer"])
    model.end_stream()
    assert model.rowCount() == 4
    model.set_tree(None)
    assert model.rowCount() == 0
    model.set_tree(snapshot_tree(review.tree(sid)))
    assert model.rowCount(model.index(1, 0)) == 1  # the challenge below step 1


def test_rows_show_labels_flags_confidence_and_alternatives(review) -> None:
    sid = hostile_tree(review)
    model = ReasoningTreeModel()
    model.set_tree(snapshot_tree(review.tree(sid)))
    assert model.rowCount() == 4  # question, step 1, step 2 (the newer alternative), answer
    assert model.index(1, COL_LABEL).data() == "✗ wrong"
    assert "major" in model.index(1, COL_LABEL).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(2, COL_FLAGS).data() in (None, "")  # 2 + 2 = 4 is right
    assert model.index(1, COL_CONFIDENCE).data(ConfidenceRole) is None  # no model tokens
    assert model.index(2, 4).data() == "2/2"


def test_stream_rows_come_and_go(review) -> None:
    sid = hostile_tree(review)
    model = ReasoningTreeModel()
    tree = snapshot_tree(review.tree(sid))
    model.set_tree(tree)
    model.begin_stream(StreamAnchor(tree.question_id))
    assert model.rowCount() == 1
    model.update_stream(["Step 1: hello"])
    assert model.rowCount() == 2 and model.index(1, 0).data(KindRole) == "stream"
    assert model.index(1, 0).data() == "Step 1: hello"
    model.update_stream(["Step 1: hello", "Step 2: wor"])
    assert model.rowCount() == 3
    model.end_stream()
    assert model.rowCount() == 4 and model.index(1, 0).data(KindRole) == "step"


def test_markup_in_model_output_shows_literally(qtbot, open_window) -> None:
    window = open_window()
    done = []
    window.backend.call(lambda r: hostile_tree(r), done.append)
    qtbot.waitUntil(lambda: bool(done))
    window.session.open_session(done[0])
    qtbot.waitUntil(lambda: window.session.state is not None and window.session.state.session_id == done[0])
    model = window.parts.tree_model
    step1 = model.index(1, COL_STEP).data()
    assert '<img src=x onerror=alert(1)>' in step1 and "<b>bold</b>" in step1 and '<a href="http://evil.test">' in step1
    window.parts.tree_view.setCurrentIndex(model.index(1, 0))
    qtbot.waitUntil(lambda: window.session.current_node_id is not None)
    assert window.parts.inspector.text.toPlainText().startswith("Step 1: <img src=x onerror=alert(1)> and <b>bold</b>")
    assert "<i>this</i>" in window.parts.question.toPlainText()
    assert "<i>this</i>" in window.windowTitle()
    # Every label that shows data (named ones) or quotes markup is plain text.
    shown = [label for label in window.findChildren(QLabel) if "<" in label.text() or label.objectName()]
    assert len(shown) >= 8
    for label in shown:
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    # What the view paints is the text itself: no rich-text document is involved anywhere.
    window.parts.tree_view.resizeColumnToContents(COL_STEP)
    rendered = window.parts.tree_view.grab()
    assert not rendered.isNull()
