"""The review actions on the selected step (label, note, rewrite, branches) and Undo / Redo.

Each action is one use case run on the worker with `refresh` set, so the session's new state
(tree, `can_undo`, `undo_text`, ...) comes back with it. Undo and Redo belong to the history
(backend-owned, as in Anki): they run `Review.undo` / `redo` once, and their text and
enablement come from the state shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from workstation.ui.backend import Backend
from workstation.ui.host import Host
from workstation.ui.session_controller import SessionController
from workstation.ui.tree_model import LABEL_WORDS
from workstation.ui.window_layout import WindowParts

if TYPE_CHECKING:
    from workstation.review import Review
    from workstation.ui.compare import CompareDialog

_T = TypeVar("_T")


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
        """Label the selected step wrong (-1), neutral (0) or right (1), keeping the note."""
        node = self.session.step()
        if node is None or node.kind == "question":
            return
        note, tags, severity = self.parts.inspector.annotation_values()
        nid = node.id
        self._mutate(lambda r: r.annotate(nid, value, note, tags, severity),
                     f"label step {node.position} {LABEL_WORDS[value].split()[1]}")

    def save_annotation(self) -> None:
        """Save the note, tags and severity, keeping your current label."""
        node = self.session.step()
        state = self.session.state
        if node is None or state is None:
            return
        mine = state.tree.current_annotations(node.id).get(self.parts.inspector.reviewer_id)
        note, tags, severity = self.parts.inspector.annotation_values()
        nid, label = node.id, (mine.label if mine else None)
        self._mutate(lambda r: r.annotate(nid, label, note, tags, severity), f"annotate step {node.position}")

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

    def delete_branch(self) -> None:
        """Delete the branch starting at the selected step (undoable)."""
        node = self.session.step()
        if node is None or node.kind == "question":
            return
        nid = node.id
        self.session.select_later(node.parent_id)
        self._mutate(lambda r: r.delete_branch(nid), f"delete branch at step {node.position}")

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
