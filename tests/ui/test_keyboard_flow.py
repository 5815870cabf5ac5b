"""The keyboard flow on the real window, real database, offscreen (no model needed: the sample
sessions have steps): label keys with auto-advance, J/K, N/T/S/Esc, notes saved as typed,
U/F across sessions, chain outcomes, Del's confirmation, and the review's defects 1, 3, 6, 7,
8, 13 and 14 (issue 15)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from workstation.review import Review
from workstation.review_queue import chain_outcome, labelled_by
from workstation.ui.main_window import MainWindow
from workstation.ui.review_actions import SAVE_DELAY_MS
from workstation.ui.tree_model import NodeIdRole

pytestmark = [pytest.mark.qt]


def select_row(qtbot, window: MainWindow, row: int) -> str:
    index = window.parts.tree_model.index(row, 0)
    window.parts.tree_view.setCurrentIndex(index)
    window.parts.tree_view.setFocus()
    qtbot.waitUntil(lambda: window.session.current_node_id == index.data(NodeIdRole))
    return index.data(NodeIdRole)


def key(qtbot, window: MainWindow, k: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.parts.tree_view, k, modifier)


def mine(window: MainWindow, node_id: str):
    return window.session.state.tree.current_annotations(node_id).get(window.reviewer_id)


def test_label_keys_move_on_one_key_per_step(qtbot, open_window) -> None:
    window = open_window()
    first = select_row(qtbot, window, 1)
    path = [n.id for n in window.session.state.tree.shown_path()]
    assert path[1] == first
    assert len(path) == 4  # the question, two steps, the answer
    key(qtbot, window, Qt.Key.Key_3)
    key(qtbot, window, Qt.Key.Key_1)
    assert window.session.current_node_id == path[3]  # two keys, two steps on
    key(qtbot, window, Qt.Key.Key_2)  # the last row: labelled, the selection stays
    assert window.session.current_node_id == path[3]
    qtbot.waitUntil(lambda: all(mine(window, n) is not None for n in path[1:]), timeout=10_000)
    assert [mine(window, n).label for n in path[1:]] == [1, -1, 0]
    # J and K move like Down and Up; with auto-advance off a label keeps the selection.
    key(qtbot, window, Qt.Key.Key_K)
    assert window.session.current_node_id == path[2]
    key(qtbot, window, Qt.Key.Key_K)
    key(qtbot, window, Qt.Key.Key_J)
    assert window.session.current_node_id == path[2]
    window.values["review.auto_advance"] = False
    key(qtbot, window, Qt.Key.Key_3)
    assert window.session.current_node_id == path[2]


def test_a_typed_note_survives_selecting_another_step_and_undoes_as_one(qtbot, open_window) -> None:
    """Defect 1: a note typed and not saved was lost when another step was selected."""
    window = open_window()
    step = select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_N)
    assert window.parts.inspector.note.hasFocus()
    qtbot.keyClicks(window.parts.inspector.note, "divides the wrong way")
    select_row(qtbot, window, 2)  # at once, well inside the save delay
    qtbot.waitUntil(lambda: mine(window, step) is not None, timeout=10_000)
    assert mine(window, step).note == "divides the wrong way" and mine(window, step).label is None
    assert window.session.state.undo_text.startswith("annotate")
    window.parts.actions["undo"].trigger()
    qtbot.waitUntil(lambda: mine(window, step) is None, timeout=10_000)  # the burst was one step


def test_tags_severity_and_esc(qtbot, open_window) -> None:
    window = open_window()
    step = select_row(qtbot, window, 2)
    key(qtbot, window, Qt.Key.Key_T)
    inspector = window.parts.inspector
    assert inspector.tags.hasFocus()
    qtbot.keyClicks(inspector.tags, "zz units")
    qtbot.keyClick(inspector.tags, Qt.Key.Key_Escape)
    assert window.parts.tree_view.hasFocus()  # Esc returns to the chain, and saves
    qtbot.waitUntil(lambda: mine(window, step) is not None and mine(window, step).tags == ("zz units",),
                    timeout=10_000)
    key(qtbot, window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: mine(window, step).severity is not None, timeout=5 * SAVE_DELAY_MS + 10_000)
    assert mine(window, step).tags == ("zz units",)
    # Label + note + severity: 1 (label, moving on), K (back), N, typing, Esc, S = 5 keys here
    # because auto-advance moved on; with auto-advance off it is N, typing, Esc, S, 1: 4 keys.


def test_the_note_is_saved_when_the_window_closes(qtbot, open_window, db_path) -> None:
    window = open_window()
    step = select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_N)
    qtbot.keyClicks(window.parts.inspector.note, "check the units")
    window.close()
    with Review.open(db_path) as review:
        tree, _ = review.locate(step)
        assert tree.current_annotations(step)[review.reviewer.id].note == "check the units"


def test_u_and_f_go_to_the_next_unlabelled_and_flagged_step_across_sessions(qtbot, open_window) -> None:
    window = open_window()
    first_session = window.session.current_session
    path = [n.id for n in window.session.state.tree.shown_path()]
    select_row(qtbot, window, 1)
    for _ in path[1:]:  # label every step of the first session (auto-advance)
        key(qtbot, window, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: all(mine(window, n) is not None for n in path[1:]), timeout=10_000)
    select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: window.session.current_session != first_session, timeout=10_000)
    qtbot.waitUntil(lambda: window.session.state.session_id == window.session.current_session
                    and window.session.current_node_id is not None and window.session.current_node_id not in path
                    and window.session.current_node() is not None
                    and window.session.current_node().kind != "question", timeout=10_000)
    found = window.session.current_node()
    assert labelled_by(window.session.state.tree, found, window.reviewer_id) is None
    # F: a step with a warning flag.
    key(qtbot, window, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.session.current_node() is not None
                    and any(f.severity == "warning" for f in window.session.current_node().current.flags),
                    timeout=10_000)


def test_a_chain_outcome_by_key_is_shown_and_undone(qtbot, open_window, db_path) -> None:
    window = open_window()
    step = select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "found an error" in window.parts.outcome_status.text(), timeout=10_000)
    window.parts.actions["undo"].trigger()
    qtbot.waitUntil(lambda: "(none" in window.parts.outcome_status.text(), timeout=10_000)
    window.close()
    with Review.open(db_path) as review:
        assert chain_outcome(review, step)[1] is None


def _answer_next_box(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(50, answer)

    QTimer.singleShot(50, answer)


def test_del_asks_first_and_says_ctrl_z_undoes(qtbot, open_window) -> None:
    """Defect 8: Del deleted a whole branch with no confirmation."""
    window = open_window()
    step = select_row(qtbot, window, 2)
    seen: list[str] = []
    _answer_next_box(QMessageBox.StandardButton.Cancel, seen)
    key(qtbot, window, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: bool(seen))
    assert "Ctrl+Z" in seen[0]
    assert not window.session.state.tree.node(step).deleted
    _answer_next_box(QMessageBox.StandardButton.Yes, seen)
    window.parts.actions["delete_branch"].trigger()  # offscreen, the closed box leaves no active window
    qtbot.waitUntil(lambda: len(seen) == 2)
    qtbot.waitUntil(lambda: window.session.state.tree.node(step).deleted, timeout=10_000)
    qtbot.waitUntil(lambda: "Ctrl+Z" in window.parts.messages.label.text(), timeout=10_000)


def test_a_restart_restores_the_selected_step(qtbot, open_window) -> None:
    """Defect 14: a restart restored the session, not the step."""
    window = open_window()
    step = select_row(qtbot, window, 3)
    window.close()
    again = open_window()
    qtbot.waitUntil(lambda: again.session.current_node_id == step, timeout=10_000)


def test_a_search_hit_on_a_hidden_alternative_shows_its_branch(qtbot, open_window) -> None:
    """Defect 3: the hit's branch stayed hidden and the step unselected."""
    window = open_window()
    tree = window.session.state.tree
    shown = {n.id for n in tree.shown_path()}
    hidden = next(n for n in tree.nodes.values() if n.kind == "step" and n.id not in shown and not n.deleted)
    window.session.open_session(tree.session.id, hidden.id)
    qtbot.waitUntil(lambda: window.session.current_node_id == hidden.id, timeout=10_000)
    assert hidden.id in {n.id for n in window.session.state.tree.shown_path()}


def test_f1_lists_team_keys_and_no_undo_texts(qtbot, open_window) -> None:
    """Defect 6: F1 omitted the Team shortcuts and listed undo texts as actions."""
    from workstation.ui.team_menu import install_team_menu

    window = open_window()
    install_team_menu(window, window.backend, window.session.open_session)
    select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: window.session.state.can_undo, timeout=10_000)
    window.show_help()
    table = window.help_dialog.table
    texts = [table.item(r, 0).text() for r in range(table.rowCount())]
    tips = [table.item(r, 0).toolTip() for r in range(table.rowCount())]
    assert "Team view" in texts and any(t.startswith("Export") for t in texts), texts
    assert "Undo" in texts and not any("label step" in t for t in texts + tips), texts
    assert {"Next step", "Next unlabelled", "Write a note", "Solution correct"} <= set(texts)


def test_a_later_success_clears_a_stale_error(qtbot, open_window) -> None:
    """Defect 7: an error stayed in the message bar after what caused it was fixed."""
    window = open_window()
    window.show_error("the rewrite is empty; type the step's new text")
    select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: window.parts.messages.isHidden(), timeout=10_000)


def test_ask_shows_the_step_and_room_to_type(qtbot) -> None:
    """Defect 13: Ask was a one-line 200x94 box with no step context."""
    from workstation.ui.dialogs import AskDialog

    dialog = AskDialog(2, "Average speed is 60 / 1.5 = 6.0 km/h.")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.width() >= 520 and dialog.height() >= 340
    assert "60 / 1.5" in dialog.findChild(type(dialog.editor), "askStep").toPlainText()
    qtbot.keyClicks(dialog.editor, "Why divide?")
    qtbot.keyClick(dialog.editor, Qt.Key.Key_Return)
    qtbot.keyClicks(dialog.editor, "And the units?")
    assert dialog.question() == "Why divide?\nAnd the units?"  # room for more than one line


def test_flag_triage_queues_flags_across_sessions_and_confirms_one_with_a_key(qtbot, open_window) -> None:
    window = open_window()
    triage = window.triage
    triage.dock.show()
    triage.dock.raise_()
    qtbot.waitUntil(lambda: bool(triage.panel.items), timeout=10_000)
    items = list(triage.panel.items)
    assert all(i.check and i.message for i in items)
    arithmetic = next(i for i in items if i.check == "arithmetic")
    triage.panel.list.setCurrentRow(items.index(arithmetic))
    qtbot.waitUntil(lambda: window.session.current_node_id == arithmetic.node_id, timeout=10_000)
    window.parts.tree_view.setFocus()
    key(qtbot, window, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: mine(window, arithmetic.node_id) is not None, timeout=10_000)
    confirmed = mine(window, arithmetic.node_id)
    assert (confirmed.label, confirmed.tags, confirmed.note) == (-1, ("arithmetic",), arithmetic.message)
    qtbot.waitUntil(lambda: all(i.node_id != arithmetic.node_id for i in triage.panel.items), timeout=10_000)
    # The critique is in the note, where Regenerate with note (Shift+R) takes it from.
    qtbot.waitUntil(lambda: window.parts.inspector.note.toPlainText() == arithmetic.message, timeout=10_000)
    assert window.session.current_node_id == arithmetic.node_id  # the tree stays on the step judged


def test_the_session_list_shows_labelled_over_total_steps_at_once(qtbot, open_window) -> None:
    """Defect 4: "Labels" counted annotation rows and stayed stale until a later refresh; a
    rewrite makes its step unlabelled again (defect 5: a label belongs to its version)."""
    window = open_window()
    sid = window.session.current_session
    panel = window.parts.sessions

    def cell() -> str:
        item = next(panel.list.topLevelItem(i) for i in range(panel.list.topLevelItemCount())
                    if panel.list.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole + 10) == sid)
        return item.text(1)

    total = cell().split("/")[1]
    assert cell() == f"0/{total}"
    step = select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_N)
    qtbot.keyClicks(window.parts.inspector.note, "a note is not a label")
    window.parts.tree_view.setFocus()
    select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: cell() == f"1/{total}", timeout=10_000)
    select_row(qtbot, window, 1)  # the label moved the selection on
    window.edits.rewrite("The train covers 60 km in 1.5 hours (90 minutes).")
    qtbot.waitUntil(lambda: cell() == f"0/{total}", timeout=10_000)
    assert labelled_by(window.session.state.tree, window.session.state.tree.node(step), window.reviewer_id) is None


def test_a_rewritten_step_does_not_show_the_old_versions_label(qtbot, open_window) -> None:
    """Defect 5: the tree and the inspector showed the old version's "wrong" after a rewrite."""
    from workstation.ui.tree_model import COL_LABEL

    window = open_window()
    step = select_row(qtbot, window, 1)
    window.values["review.auto_advance"] = False
    key(qtbot, window, Qt.Key.Key_1)
    index = window.parts.tree_model.index_of_node(step, COL_LABEL)
    qtbot.waitUntil(lambda: "wrong" in (window.parts.tree_model.index_of_node(step, COL_LABEL).data() or ""),
                    timeout=10_000)
    window.edits.rewrite("The train covers 60 km in 1.5 hours, that is 90 minutes.")
    qtbot.waitUntil(lambda: len(window.session.state.tree.node(step).versions) == 2, timeout=10_000)
    index = window.parts.tree_model.index_of_node(step, COL_LABEL)
    assert "wrong" not in (index.data() or "")
    assert "earlier version" in window.parts.inspector.my_label.text()


def test_settings_show_labels_and_the_template_picker_is_not_cut(qtbot, open_window) -> None:
    """Defect 11: settings showed raw keys ("n ctx cap"); the template picker read "chain-of-"."""
    from PySide6.QtWidgets import QFormLayout, QLabel

    from workstation.ui.dialogs import SettingsDialog

    window = open_window()
    dialog = SettingsDialog(window.values, window)
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "Largest context (tokens)" in texts and "Move on after a label" in texts
    assert not any(t in ("n ctx cap", "n gpu layers") for t in texts)
    assert dialog.findChildren(QFormLayout)
    picker = window.parts.template
    widest = max(picker.fontMetrics().horizontalAdvance(picker.itemText(i)) for i in range(picker.count()))
    assert picker.width() >= widest


def test_the_team_dock_leaves_the_tree_room_at_1000x700(qtbot, open_window) -> None:
    """Defect 12: the Team dock left the tree about 70 px at 1000x700."""
    from workstation.ui.team_menu import install_team_menu

    window = open_window()
    menu = install_team_menu(window, window.backend, window.session.open_session)
    window.resize(1000, 700)
    menu.dock.show()
    qtbot.waitUntil(lambda: menu.dock.isVisible())
    qtbot.wait(50)
    assert window.parts.tree_view.width() >= 250, (window.parts.tree_view.width(), menu.dock.width(),
        window.parts.sessions_dock.width(), window.parts.inspector.width(), window.parts.inspector.minimumSizeHint().width(),
        menu.dock.minimumSizeHint().width())
    window.resize(1280, 800)
    qtbot.wait(50)
    assert window.parts.tree_view.width() >= 400


def test_sample_titles_differ_where_a_narrow_list_cuts_them(qtbot, open_window) -> None:
    """Defect 11: two samples both read "Sample: avera..." in the session list."""
    window = open_window()
    panel = window.parts.sessions.list
    titles = [panel.topLevelItem(i).text(0) for i in range(panel.topLevelItemCount())]
    assert len(titles) == 4 and len({t[:12] for t in titles}) == 4, titles
    assert all(titles[i] in panel.topLevelItem(i).toolTip(0) for i in range(4))  # the whole title


def test_a_why_challenge_row_does_not_say_why_twice(qtbot, tmp_path) -> None:
    """Defect 13: the tree showed "Why?  Why? Explain..." for a Why? challenge."""
    from workstation.core.build import ask_challenge
    from workstation.review import DEFAULT_CHALLENGE
    from workstation.ui.backend import snapshot_tree
    from workstation.ui.tree_model import ReasoningTreeModel

    with Review.open(tmp_path / "why.duckdb") as review:
        sid = review.start("What is 2 + 2?").session.id
        review.add_steps(sid, "2 + 2 = 4.\nAnswer: 4")
        step = review.tree(sid).shown_path()[1].id
        review.store.apply(sid, ask_challenge(review.tree(sid), step, DEFAULT_CHALLENGE, review.reviewer),
                           review.reviewer)
        model = ReasoningTreeModel()
        model.set_tree(snapshot_tree(review.tree(sid)))
    text = model.index(0, 0, model.index(1, 0)).data()
    assert text.count("Why?") == 1, text


def test_label_note_and_severity_take_four_keys_plus_the_typing(qtbot, open_window) -> None:
    """The issue's measure: N, the note, Esc, S, 1 - and the selection is on the next step."""
    window = open_window()
    path = [n.id for n in window.session.state.tree.shown_path()]
    select_row(qtbot, window, 1)
    keys = 0
    key(qtbot, window, Qt.Key.Key_N)
    keys += 1
    qtbot.keyClicks(window.parts.inspector.note, "the distance is right")
    qtbot.keyClick(window.parts.inspector.note, Qt.Key.Key_Escape)
    keys += 1
    for k in (Qt.Key.Key_S, Qt.Key.Key_3):
        key(qtbot, window, k)
        keys += 1
    assert keys <= 4 and window.session.current_node_id == path[2]
    qtbot.waitUntil(lambda: mine(window, path[1]) is not None and mine(window, path[1]).label == 1, timeout=10_000)
    done = mine(window, path[1])
    assert (done.note, done.severity is not None) == ("the distance is right", True)


def test_flag_words_fit_the_flags_column(qtbot, open_window) -> None:
    """Defect 11: the flags column read "low_confi..." at the default size."""
    from workstation.ui.tree_model import COL_FLAGS, FLAG_WORDS

    window = open_window()
    view = window.parts.tree_view
    room = view.header().sectionSize(COL_FLAGS) - 24  # the icon and the margins
    assert all(view.fontMetrics().horizontalAdvance(word) <= room for word in FLAG_WORDS.values())


def test_typing_without_a_pause_is_saved_every_few_seconds(qtbot, open_window, monkeypatch) -> None:
    """The bound on what a kill can lose: a burst that never pauses is saved as it goes."""
    import workstation.ui.review_actions as review_actions

    monkeypatch.setattr(review_actions, "MAX_UNSAVED_S", 0.3)
    window = open_window()
    step = select_row(qtbot, window, 1)
    key(qtbot, window, Qt.Key.Key_N)
    note = window.parts.inspector.note
    seen_while_typing = False
    for word in "the units are wrong here because the speed is a distance over a time".split():
        qtbot.keyClicks(note, word + " ")
        qtbot.wait(150)  # never the 500 ms pause that ends a burst
        seen_while_typing = seen_while_typing or mine(window, step) is not None
    assert seen_while_typing, "nothing was saved while the typing went on"
    qtbot.waitUntil(lambda: mine(window, step) is not None and mine(window, step).note.endswith("a time"),
                    timeout=10_000)
