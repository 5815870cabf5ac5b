"""Undo and redo: a QUndoStack per session over the review's own undo/redo.

A command is pushed once its operation has been committed (pushing runs `redo`, which the
first time does nothing). Undoing runs `Review.undo` on the worker as many times as the action
recorded undoable events (a challenge records two: the question and the answer).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand


class ReviewCommand(QUndoCommand):
    """One user action already committed by the review; undo/redo go through the worker."""

    def __init__(self, text: str, session_id: str, events: int, run: Callable[[str, str, int], None]) -> None:
        super().__init__(text)
        self.session_id = session_id
        self.events = events
        self._run = run
        self._done = True

    def redo(self) -> None:
        if self._done:
            self._done = False  # pushed after the fact: the review already did it
            return
        self._run("redo", self.session_id, self.events)

    def undo(self) -> None:
        self._run("undo", self.session_id, self.events)
