"""Declared enablement: every action's state follows from one WindowState (workstation/ui/actions.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtWidgets import QWidget

from workstation.ui.actions import ACTIONS, WindowState, apply_state, create_actions

pytestmark = pytest.mark.qt

IDLE = WindowState(ready=True, model_loaded=True, session_open=True, session_shown=True)


def enabled(qtbot, state: WindowState) -> set[str]:
    owner = QWidget()
    qtbot.addWidget(owner)
    actions = create_actions(owner)
    apply_state(actions, state)
    return {name for name, action in actions.items() if action.isEnabled()}


def test_a_step_selected_with_the_model_idle(qtbot) -> None:
    on = enabled(qtbot, replace(IDLE, node_kind="step", alternatives=2))
    assert {"label_right", "regenerate", "challenge", "continue_after", "compare", "next_alternative",
            "generate", "delete_session", "load_model"} <= on
    assert "stop" not in on and "undo" not in on and "redo" not in on


def test_what_the_question_and_the_answer_allow(qtbot) -> None:
    question = enabled(qtbot, replace(IDLE, node_kind="question"))
    assert "continue_after" in question  # steps from the start
    assert not {"label_right", "regenerate", "delete_branch", "prefer"} & question
    answer = enabled(qtbot, replace(IDLE, node_kind="answer", alternatives=1))
    assert "continue_after" not in answer  # steps follow steps, not the answer
    assert {"label_wrong", "regenerate", "prefer"} <= answer
    assert not {"compare", "next_alternative"} & answer  # one alternative: nothing to switch to


def test_streaming_keeps_labels_and_stops_model_actions(qtbot) -> None:
    busy = replace(IDLE, node_kind="step", busy=True, can_undo=True, undo_text="annotate step 1")
    on = enabled(qtbot, busy)
    assert {"stop", "label_right", "save_annotation"} <= on
    assert not {"generate", "regenerate", "challenge", "load_model", "delete_session", "undo"} & on
    assert "stop" not in enabled(qtbot, replace(busy, stopping=True))


def test_undo_and_redo_name_the_history_entry(qtbot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    actions = create_actions(owner)
    apply_state(actions, replace(IDLE, can_undo=True, undo_text="rewrite step 2",
                                 can_redo=True, redo_text="annotate step 1"))
    assert actions["undo"].isEnabled() and actions["undo"].text() == "&Undo rewrite step 2"
    assert actions["redo"].isEnabled() and actions["redo"].text() == "&Redo annotate step 1"
    apply_state(actions, replace(IDLE, session_shown=False))
    assert not actions["undo"].isEnabled() and actions["undo"].text() == "&Undo"
    assert actions["undo"].shortcuts() and actions["redo"].shortcuts()


def test_before_the_database_is_open(qtbot) -> None:
    on = enabled(qtbot, WindowState())
    off = {spec.name for spec in ACTIONS} - on
    assert {"generate", "load_model", "rename_session", "undo"} <= off
    assert {"new_session", "help", "quit", "settings"} <= on
