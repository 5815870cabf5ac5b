"""The window's actions: one table row each (name, text, keys, tooltip, when it is enabled).

Enablement is declared beside each action as a predicate over one immutable `WindowState`
(napari's app-model `enablement=` in spirit): `apply_state` evaluates every row against the
state the window is in now, so no code switches actions on and off one by one. Menus, buttons
and the Help dialog share these actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class WindowState:
    """Everything an action's enablement depends on, at one moment."""

    ready: bool = False  # the database is open
    model_loaded: bool = False
    busy: bool = False  # a generation is streaming
    stopping: bool = False  # Stop was pressed; the stream is saving what it wrote
    session_open: bool = False  # a session is chosen (its state may still be on its way)
    session_shown: bool = False  # its state has arrived
    session_deleted: bool = False
    node_kind: str | None = None  # the selected row's kind; None for no row or a row being written
    alternatives: int = 0  # how many alternatives the selected step has (itself included)
    can_undo: bool = False
    undo_text: str = ""
    can_redo: bool = False
    redo_text: str = ""
    in_chain: bool = False  # the selected row belongs to a chain (it has an outcome to set)
    stream_row: bool = False  # the selected row is a step the model is still writing
    flagged: bool = False  # the selected step's current version has a warning flag

    @property
    def is_step(self) -> bool:
        """A step or the answer is selected."""
        return self.node_kind in ("step", "answer")

    @property
    def annotatable(self) -> bool:
        """A row that takes labels, notes and rewrites is selected (anything but the question)."""
        return self.node_kind is not None and self.node_kind != "question"

    @property
    def model_free(self) -> bool:
        """The model is loaded and not writing: a model-driven action can start."""
        return self.ready and self.model_loaded and not self.busy


Predicate = Callable[[WindowState], bool]


def _always(_state: WindowState) -> bool:
    return True


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, text, shortcuts, tooltip and when it is enabled."""

    name: str
    text: str
    keys: tuple[str | QKeySequence.StandardKey, ...]
    tip: str
    enabled: Predicate = _always
    #: The text shown now, where it follows the state (Undo and Redo name what they would do).
    text_from: Callable[[WindowState], str] | None = None


def _undo_text(state: WindowState) -> str:
    return f"&Undo {state.undo_text}" if state.can_undo and state.undo_text else "&Undo"


def _redo_text(state: WindowState) -> str:
    return f"&Redo {state.redo_text}" if state.can_redo and state.redo_text else "&Redo"


_STEP: Predicate = lambda s: s.is_step  # noqa: E731 - a table of one-line predicates reads best
_ANNOTATABLE: Predicate = lambda s: s.annotatable  # noqa: E731
_MODEL_STEP: Predicate = lambda s: s.is_step and s.model_free  # noqa: E731
_ALTERNATIVES: Predicate = lambda s: s.is_step and s.alternatives > 1  # noqa: E731
_SHOWN: Predicate = lambda s: s.session_shown  # noqa: E731
_LABELLABLE: Predicate = lambda s: s.annotatable or s.stream_row  # noqa: E731
_CHAIN: Predicate = lambda s: s.in_chain  # noqa: E731

#: The chain outcomes (PRM800K's finish reasons) with their keys, in CHAIN_OUTCOMES' order.
OUTCOME_KEYS = (
    ("solution", "Solution correct", "Ctrl+1"),
    ("found_error", "Found an error", "Ctrl+2"),
    ("give_up", "Gave up", "Ctrl+3"),
    ("bad_problem", "Bad problem", "Ctrl+4"),
)

#: Plain keys (1, 2, 3, J, K, N, ...) act when the tree has focus; text fields keep them for typing (Qt
#: lets a focused editor override single-key shortcuts). Undo and Redo wait while the model
#: writes: the history they step through is still growing then.
ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("generate", "&Generate", ("Ctrl+G",), "Let the model reason about the question",
               lambda s: s.model_free),
    ActionSpec("stop", "&Stop", ("Esc",), "Stop the model now", lambda s: s.busy and not s.stopping),
    # A label key moves on to the next step (the review.auto_advance setting), so labelling a
    # chain is one key per step; on a step still being written it lands when the step is saved.
    ActionSpec("label_wrong", "Wrong", ("1",), "Label the step wrong (and move to the next)", _LABELLABLE),
    ActionSpec("label_neutral", "Neutral", ("2",), "Label the step neutral (and move to the next)", _LABELLABLE),
    ActionSpec("label_right", "Right", ("3",), "Label the step right (and move to the next)", _LABELLABLE),
    ActionSpec("save_annotation", "Save note", ("Ctrl+S",),
               "Save the note, tags and severity now (they are also saved as you type)", _ANNOTATABLE),
    ActionSpec("next_step", "Next step", ("J",), "Select the next step (as Down does)", _SHOWN),
    ActionSpec("previous_step", "Previous step", ("K",), "Select the previous step (as Up does)", _SHOWN),
    ActionSpec("next_unlabelled", "Next unlabelled", ("U",),
               "Select the next step you have not labelled, in this session or the next one", _SHOWN),
    ActionSpec("next_flagged", "Next flagged", ("F",),
               "Select the next step with a warning flag, in this session or the next one", _SHOWN),
    ActionSpec("focus_note", "Write a note", ("N",), "Type a note on the step (Esc returns to the tree)",
               _ANNOTATABLE),
    ActionSpec("focus_tags", "Edit tags", ("T",), "Type tags for the step (Esc returns to the tree)", _ANNOTATABLE),
    ActionSpec("cycle_severity", "Next severity", ("S",), "Cycle the step's severity (saved at once)",
               _ANNOTATABLE),
    ActionSpec("confirm_flag", "Confirm flag", ("C",),
               "Label the step wrong with its flag's check as the tag and its message as the critique",
               lambda s: s.flagged and s.annotatable),
    *(ActionSpec(f"outcome_{name}", text, (key,), f"Set this chain's outcome: {text.lower()} (again: clear it)",
                 _CHAIN) for name, text, key in OUTCOME_KEYS),
    ActionSpec("edit", "&Rewrite step", ("E",), "Rewrite the step in place", _ANNOTATABLE),
    # Ctrl+Enter belongs to the editor that has focus (question: generate; rewrite: save).
    ActionSpec("commit_rewrite", "Save rewrite", (), "Save the rewrite as a new version (Ctrl+Enter)", _ANNOTATABLE),
    ActionSpec("regenerate", "Regenerate from here", ("R",), "A new alternative for this step and what follows",
               _MODEL_STEP),
    ActionSpec("regenerate_with_note", "Regenerate with note", ("Shift+R",),
               "Regenerate, with your note as the critique", _MODEL_STEP),
    # Steps follow steps (or the question: steps from the start), not the answer.
    ActionSpec("continue_after", "Continue after", ("Shift+C",),
               "New steps after this one (say, after a rewrite); after the question, steps from the start",
               lambda s: s.node_kind in ("step", "question") and s.model_free),
    ActionSpec("challenge", "Why?", ("W",), "Ask the model why this step holds; the answer streams in below it",
               _MODEL_STEP),
    ActionSpec("ask", "Ask…", ("Shift+W",), "Ask the model your own question about this step", _MODEL_STEP),
    ActionSpec("delete_branch", "Delete branch…", ("Del",),
               "Delete the branch starting at this step, after asking (Ctrl+Z undoes it)", _ANNOTATABLE),
    ActionSpec("previous_alternative", "◀ Previous", ("[", "Alt+Left"), "Show the previous alternative of this step",
               _ALTERNATIVES),
    ActionSpec("next_alternative", "Next ▶", ("]", "Alt+Right"), "Show the next alternative of this step",
               _ALTERNATIVES),
    ActionSpec("prefer", "★ Prefer", ("P",), "Mark this branch as the preferred one", _STEP),
    ActionSpec("compare", "Compare…", ("Ctrl+D",), "Compare two alternatives side by side", _ALTERNATIVES),
    ActionSpec("token_view", "Token view", ("Ctrl+Shift+P",),
               "Show the step's tokens shaded by probability, with the model's alternatives"),
    ActionSpec("branch_token", "Branch here with this token", ("B",),
               "In the token view: a new alternative that keeps the text up to the selected token and "
               "continues with the chosen one", _MODEL_STEP),
    ActionSpec("new_session", "&New session", ("Ctrl+N",), "Start a new question"),
    ActionSpec("rename_session", "Re&name session", ("F2",), "Rename the open session", lambda s: s.session_open),
    ActionSpec("delete_session", "Delete session", (),
               "Hide the open session from the list (undoable; the audit log keeps it)",
               lambda s: s.session_open and s.session_shown and not s.session_deleted and not s.busy),
    ActionSpec("undo", "&Undo", (QKeySequence.StandardKey.Undo,), "Undo the last change to this session",
               lambda s: s.session_shown and s.can_undo and not s.busy, _undo_text),
    ActionSpec("redo", "&Redo", (QKeySequence.StandardKey.Redo, "Ctrl+Y"), "Redo what was undone",
               lambda s: s.session_shown and s.can_redo and not s.busy, _redo_text),
    ActionSpec("search", "&Find", ("Ctrl+F",), "Search sessions and steps"),
    ActionSpec("focus_tree", "Go to tree", ("Ctrl+T",), "Move the keyboard focus to the reasoning tree"),
    ActionSpec("focus_question", "Go to question", ("Ctrl+K",), "Move the keyboard focus to the question"),
    ActionSpec("load_model", "&Load model", ("Ctrl+L",), "Load the model selected in the model panel",
               lambda s: s.ready and not s.busy),
    ActionSpec("use_server", "Use &server…", (), "Generate with an OpenAI-compatible inference server",
               lambda s: s.ready and not s.busy),
    ActionSpec("settings", "Se&ttings…", ("Ctrl+,",), "Every setting, with its description"),
    ActionSpec("help", "&Keyboard shortcuts", ("F1",), "This list"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "Close the window"),
)
SPECS = {spec.name: spec for spec in ACTIONS}


def _sequences(keys: tuple[str | QKeySequence.StandardKey, ...]) -> list[QKeySequence]:
    sequences: list[QKeySequence] = []
    for key in keys:
        if isinstance(key, QKeySequence.StandardKey):
            sequences += [k for k in QKeySequence.keyBindings(key) if k not in sequences]
        elif (sequence := QKeySequence(key)) not in sequences:
            sequences.append(sequence)
    return sequences


def create_actions(window: QWidget) -> dict[str, QAction]:
    """One QAction per row of ACTIONS on `window` (connected by whoever handles them), all
    disabled until the first state is applied."""
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        action.setObjectName(spec.name)
        action.setShortcuts(_sequences(spec.keys))
        shown = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        action.setToolTip(spec.tip + (f" ({shown})" if shown else ""))
        action.setStatusTip(spec.tip)
        window.addAction(action)
        actions[spec.name] = action
    apply_state(actions, WindowState())
    return actions


def apply_state(actions: dict[str, QAction], state: WindowState) -> None:
    """Enable (and name, where a row's text follows the state) every action for `state`."""
    for spec in ACTIONS:
        action = actions[spec.name]
        action.setEnabled(spec.enabled(state))
        if spec.text_from is not None:
            action.setText(spec.text_from(state))
