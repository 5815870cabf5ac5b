"""The review actions on the selected step (label, note, rewrite, branches) and Undo / Redo.

Each action is one use case run on the worker with `refresh` set, so the session's new state
(tree, `can_undo`, `undo_text`, ...) comes back with it. Undo and Redo belong to the history
(backend-owned, as in Anki): they run `Review.undo` / `redo` once, and their text and
enablement come from the state shown.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from workstation.ui.backend import Backend
from workstation.ui.host import Host
from workstation.ui.session_controller import SessionController
from workstation.ui.tree_model import LABEL_WORDS, one_line
from workstation.ui.window_layout import WindowParts

if TYPE_CHECKING:
    from workstation.review import Review
    from workstation.ui.compare import CompareDialog

_T = TypeVar("_T")

#: How long typing may pause before the note, tags and severity are saved (one annotation, one
#: undo step, per burst); selecting another step, another session or closing the window saves
#: at once. Typing without such a pause is saved at least every MAX_UNSAVED_S, so a crash or a
#: kill loses at most the last half second after a pause, and never more than 3 s of typing.
SAVE_DELAY_MS = 500
MAX_UNSAVED_S = 3.0

#: The outcome words shown above the tree, by CHAIN_OUTCOMES value.
OUTCOME_WORDS = {"solution": "solution correct", "found_error": "found an error", "give_up": "gave up",
                 "bad_problem": "bad problem"}


@dataclass(frozen=True)
class _Typed:
    """What the reviewer typed about one node, not saved yet."""

    session_id: str
    node_id: str
    position: int
    note: str
    tags: tuple[str, ...]
    severity: str | None


def _save_typed(review: Review, typed: _Typed) -> bool:
    """Save a note, tags and severity, keeping the reviewer's label as it is in the store now
    (a label still on its way from the GUI has been applied before this runs: one queue)."""
    from workstation.review_queue import labelled_by

    tree, full_id = review.locate(typed.node_id)
    node = tree.node(full_id)
    mine = tree.current_annotations(full_id).get(review.reviewer.id)
    if mine is not None and (mine.note, mine.tags, mine.severity) == (typed.note, typed.tags, typed.severity):
        return False  # nothing new (a burst that ended where it began)
    label = labelled_by(tree, node, review.reviewer.id)
    if label is None and not typed.note and not typed.tags and typed.severity is None:
        # An annotation needs some content: a note cleared on a step without a label is not
        # recorded (the earlier note stays in the record, shown again when the step is).
        return False
    review.annotate(full_id, label, typed.note, typed.tags, typed.severity)
    return True


class ReviewActions(QObject):
    """What the reviewer does to the selected step, and undoing it."""

    #: A change was committed: session id, what was done.
    changed = Signal(str, str)

    def __init__(self, parts: WindowParts, backend: Backend, host: Host, session: SessionController,
                 window: QWidget) -> None:
        super().__init__(window)
        self.parts, self.backend, self.host, self.session, self.window = parts, backend, host, session, window
        self.compare_dialog: CompareDialog | None = None
        parts.inspector.commit_rewrite.connect(self.rewrite)
        self._typed: _Typed | None = None
        self._burst_started = 0.0
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.flush_typed)
        parts.inspector.edited.connect(self._on_typed)
        parts.inspector.escaped.connect(self.back_to_chain)
        session.leaving.connect(lambda _node_id: self.flush_typed())
        #: Labels given to steps still being written: stream position -> label (see label()).
        self._stream_labels: dict[int, int] = {}
        #: The outcome shown and the chain it belongs to: moving within a chain asks nothing.
        self._outcome_of: tuple[str, str] | None = None
        self.changed.connect(self._forget_outcome)

    def _mutate(self, run: Callable[[Review], _T], description: str,
                after: Callable[[_T], None] | None = None) -> None:
        sid = self.session.current_session
        if sid is None:
            return

        def done(result: _T) -> None:
            self.changed.emit(sid, description)
            if after is not None:
                after(result)

        self.backend.call(run, done, refresh=sid)

    def label(self, value: int) -> None:
        """Label the selected step wrong (-1), neutral (0) or right (1), keeping the note, and
        move to the next step (the review.auto_advance setting)."""
        position = self.parts.tree_model.stream_position(self.parts.tree_view.currentIndex())
        if position is not None:
            # The step is still being written: its label is given the moment it is saved.
            self._stream_labels[position] = value
            self.host.show_info(f"the label {LABEL_WORDS[value]} is given when this step is saved")
            self._advance()
            return
        node = self.session.step()
        if node is None or node.kind == "question":
            return
        note, tags, severity = self.parts.inspector.annotation_values()
        if self._typed is not None and self._typed.node_id == node.id:
            self._typed = None  # the label carries what was typed
            self._save_timer.stop()
        nid = node.id
        self._mutate(lambda r: r.annotate(nid, value, note, tags, severity),
                     f"label step {node.position} {LABEL_WORDS[value].split()[1]}")
        self._advance()

    def _advance(self) -> None:
        if self.host.values.get("review.auto_advance", True):
            self.session.move(1)

    def label_streamed(self, session_id: str, node_ids: Sequence[str]) -> None:
        """A stream was saved as these nodes: give the labels pressed while they were written."""
        labels, self._stream_labels = self._stream_labels, {}
        chosen = [(node_ids[i], value) for i, value in sorted(labels.items()) if i < len(node_ids)]
        if not chosen or session_id != self.session.current_session:
            return

        def run(review: Review) -> None:
            for nid, value in chosen:
                review.annotate(nid, value)

        self._mutate(run, f"label {len(chosen)} written step{'s' if len(chosen) > 1 else ''}")

    def drop_stream_labels(self) -> None:
        """A stream failed: the labels pressed on its rows have no step to go to."""
        self._stream_labels = {}

    # -- notes, tags and severity: saved as they are typed ------------------------------------------

    def _on_typed(self) -> None:
        node, sid = self.parts.inspector.node, self.session.current_session
        if node is None or sid is None or node.kind == "question":
            return
        note, tags, severity = self.parts.inspector.annotation_values()
        now = time.monotonic()
        if self._typed is None or self._typed.node_id != node.id:
            self._burst_started = now
        self._typed = _Typed(sid, node.id, node.position, note, tags, severity)
        if now - self._burst_started >= MAX_UNSAVED_S:
            self.flush_typed()  # a long burst without a pause: save what is there so far
        else:
            self._save_timer.start()

    @property
    def unsaved(self) -> bool:
        """Whether typing is waiting to be saved."""
        return self._typed is not None

    def flush_typed(self) -> None:
        """Save what was typed now (selection moving, window closing, the pause after typing)."""
        typed, self._typed = self._typed, None
        self._save_timer.stop()
        if typed is None:
            return
        sid = typed.session_id

        def done(saved: object) -> None:
            if saved:
                self.changed.emit(sid, f"annotate step {typed.position}")

        self.backend.call(lambda r: _save_typed(r, typed), done, self.host.show_error, refresh=sid)

    def save_annotation(self) -> None:
        """Save the note, tags and severity now, keeping your current label."""
        self._on_typed()
        self.flush_typed()

    def focus_note(self) -> None:
        """Type a note on the selected step."""
        self.parts.inspector.note.setFocus()

    def focus_tags(self) -> None:
        """Type tags for the selected step."""
        self.parts.inspector.tags.setFocus()

    def cycle_severity(self) -> None:
        """The next severity for the selected step (saved like typing)."""
        self.parts.inspector.cycle_severity()

    def back_to_chain(self) -> None:
        """Esc from a review field: save it and return the keys to the tree."""
        self.flush_typed()
        self.parts.tree_view.setFocus()

    # -- the chain's outcome --------------------------------------------------------------------

    def set_outcome(self, outcome: str) -> None:
        """Set the selected chain's outcome (the same key again clears it); undoable."""
        from workstation.review_queue import toggle_outcome

        node = self.session.step()
        if node is None or node.chain_id is None:
            return
        nid = node.id
        self._mutate(lambda r: toggle_outcome(r, nid, outcome), f"outcome {OUTCOME_WORDS[outcome]}",
                     after=lambda _new: self.show_outcome())

    def show_outcome(self) -> None:
        """Show the selected chain's outcome in the status bar (a query on the worker)."""
        from workstation.review_queue import chain_outcome

        node = self.session.current_node()
        label = self.parts.outcome_status
        if node is None or node.chain_id is None:
            label.setText("")
            return
        if self._outcome_of is not None and self._outcome_of[0] == node.chain_id:
            label.setText(self._outcome_of[1])
            return
        nid = node.id

        def done(result: object) -> None:
            if isinstance(result, tuple) and self.session.current_node_id == nid:
                outcome = result[1]
                text = f"Outcome: {OUTCOME_WORDS.get(outcome, outcome) if outcome else '(none: Ctrl+1-4)'}"
                self._outcome_of = (result[0], text)
                label.setText(text)

        self.backend.call(lambda r: chain_outcome(r, nid), done, lambda _message: label.setText(""))

    def edit_step(self) -> None:
        """Open the rewrite editor on the selected step."""
        if self.session.step() is None:
            return
        self.parts.inspector.tabs.setCurrentIndex(1)
        self.parts.inspector.editor.setFocus()

    def commit_rewrite(self) -> None:
        """Save what the rewrite editor holds."""
        self.rewrite(self.parts.inspector.editor.toPlainText())

    def rewrite(self, text: str) -> None:
        """Save a rewrite of the selected step as a new version."""
        node = self.session.step()
        if node is None:
            return
        nid = node.id
        self._mutate(lambda r: r.rewrite(nid, text), f"rewrite step {node.position}",
                     after=lambda _: self.parts.inspector.tabs.setCurrentIndex(0))

    def ask_delete_branch(self) -> None:
        """Ask, naming the step and how many steps go with it, then delete the branch."""
        node = self.session.step()
        state = self.session.state
        if node is None or node.kind == "question" or state is None:
            return
        count = sum(1 for n in state.tree.subtree(node.id) if not n.deleted)
        answer = QMessageBox.question(
            self.window, "Delete branch",
            f"<p>Delete step {node.position} ('{html.escape(one_line(node.text, 60), quote=False)}') and the "
            f"{count - 1} step(s), challenges and replies below it?</p><p>Undo (Ctrl+Z) brings them back.</p>",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )  # fmt: skip
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_branch()

    def delete_branch(self) -> None:
        """Delete the branch starting at the selected step without asking (undoable)."""
        node = self.session.step()
        if node is None or node.kind == "question":
            return
        nid = node.id
        self.session.select_later(node.parent_id)
        self._mutate(lambda r: r.delete_branch(nid), f"delete branch at step {node.position}",
                     after=lambda _: self.host.show_info(
                         f"Deleted the branch at step {node.position}. Undo (Ctrl+Z) brings it back."))

    def prefer(self) -> None:
        """Mark the selected step's branch as preferred."""
        node = self.session.step()
        if node is None:
            return
        nid = node.id
        self._mutate(lambda r: r.prefer(nid), f"prefer branch at step {node.position}")

    def switch_alternative(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) alternative of the selected step."""
        node = self.session.step()
        state = self.session.state
        if node is None or state is None:
            return
        options = state.tree.alternatives(node.id)
        if len(options) < 2:
            return
        position = next(i for i, n in enumerate(options) if n.id == node.id)
        target = options[(position + delta) % len(options)].id
        self.session.select_later(target)
        self.backend.call(lambda r: r.show(target), refresh=self.session.current_session)

    def compare(self) -> None:
        """Compare the selected step's alternatives side by side."""
        node = self.session.step()
        state = self.session.state
        if node is None or state is None:
            return
        from workstation.ui.compare import CompareDialog

        self.compare_dialog = CompareDialog(state.tree, node.id, self.window)
        self.compare_dialog.show()

    def _forget_outcome(self, _session_id: str, description: str) -> None:
        if description.startswith(("undo", "redo")):
            self._outcome_of = None
            self.show_outcome()  # an undone outcome shows at once
        elif description.startswith("outcome"):
            self._outcome_of = None

    # -- undo and redo: the history's --------------------------------------------------------------

    def undo(self) -> None:
        """Undo the open session's last change (one user action), on the worker."""
        self._step_history("undo")

    def redo(self) -> None:
        """Redo what the last undo reversed."""
        self._step_history("redo")

    def _step_history(self, kind: str) -> None:
        state = self.session.state
        if state is None:
            return
        sid = state.session_id
        text = state.undo_text if kind == "undo" else state.redo_text

        def run(review: Review) -> object:
            return review.undo(sid) if kind == "undo" else review.redo(sid)

        def done(_result: object) -> None:
            self.changed.emit(sid, f"{kind} {text}".strip())
            # The list follows: an undone rename, deletion or label changes what it shows.
            self.session.refresh_sessions()

        self.backend.call(run, done, self.host.show_error, refresh=sid)
