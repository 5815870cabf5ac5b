"""The reading pane: the reading view and the token view, kept in step with the tree.

The tree's current index is the one selection: moving it (a click, J/K, a label key that
advances) highlights that step in the reading view, and a click in the reading view sets it.
The token view (View > Token view) shows the current step's stored tokens, read on the
worker, and starts "Branch here with this token" streams through the generation controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QObject
from PySide6.QtWidgets import QWidget

from workstation.ui.backend import Backend
from workstation.ui.generation import GenerationController
from workstation.ui.host import Host
from workstation.ui.session_controller import SessionController
from workstation.ui.window_layout import WindowParts

if TYPE_CHECKING:
    from workstation.core.model import Version
    from workstation.core.tree import Tree
    from workstation.store.tokens import VersionTokens

NO_TOKENS = ("No tokens are stored for this step: it was written by a reviewer, or by the model before "
             "tokens were kept. Regenerate it to see the tokens of the new version.")


class ReadingController(QObject):
    """Keeps the reading view and the token view on the tree's current step."""

    def __init__(self, parts: WindowParts, backend: Backend, host: Host, session: SessionController,
                 generation: GenerationController, window: QWidget) -> None:
        super().__init__(window)
        self.parts, self.backend, self.host, self.session, self.generation = parts, backend, host, session, generation
        self._loaded_for: str | None = None
        parts.reading.step_clicked.connect(session.select)
        session.tree_shown.connect(self._on_tree)
        parts.tree_model.modelReset.connect(self._on_reset)
        parts.tree_view.selectionModel().currentChanged.connect(self._on_current)
        toggle = parts.actions["token_view"]
        toggle.setCheckable(True)
        toggle.toggled.connect(self.show_token_view)
        parts.actions["branch_token"].triggered.connect(self.branch_here)
        parts.token_view.branch_requested.connect(self.branch)

    def _on_tree(self, tree: Tree) -> None:
        self.parts.reading.show_tree(tree, self.parts.inspector.reviewer_id)
        self._loaded_for = None  # a regenerated step may have tokens now
        self._sync()

    def _on_reset(self) -> None:
        if self.parts.tree_model.tree is None:  # New session: nothing to read yet
            self.parts.reading.show_tree(None, "")

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._sync()

    def _sync(self) -> None:
        node = self.session.current_node()
        self.parts.reading.set_current(node.id if node is not None else None)
        if self.parts.actions["token_view"].isChecked():
            self._load_tokens()

    def show_token_view(self, shown: bool) -> None:
        """Show the token view (True) or the reading view in the reading pane."""
        self.parts.reading_stack.setCurrentWidget(self.parts.token_view if shown else self.parts.reading)
        if shown:
            self._load_tokens()

    def _load_tokens(self) -> None:
        node = self.session.current_node()
        if node is None or node.kind not in ("step", "answer", "reply"):
            self._loaded_for = None
            self.parts.token_view.show_tokens(None, "Select a step written by the model to see its tokens.", None)
            return
        if node.id == self._loaded_for:
            return
        self._loaded_for = nid = node.id
        number = "Answer" if node.kind == "answer" else ("Reply" if node.kind == "reply" else f"Step {node.position}")

        def done(found: tuple[Version, VersionTokens] | None) -> None:
            if self._loaded_for != nid:
                return  # the selection moved on while the worker read
            if found is None:
                self.parts.token_view.show_tokens(None, f"{number}: {NO_TOKENS}", None)
                return
            version, held = found
            which = "the model's original version" if version.id != node.current_version_id else "the model's version"
            self.parts.token_view.show_tokens(nid, f"{number}: {len(held.tokens)} tokens of {which}", held)

        self.backend.call(lambda r: r.step_tokens(nid), done, self.host.show_error)

    def branch_here(self) -> None:
        """B: branch at the token selected in the token view with the alternative listed."""
        if not self.parts.actions["token_view"].isChecked():
            self.host.show_error("open the token view (View > Token view) and select a token first")
        elif not self.parts.token_view.branch_here():
            self.host.show_error("select a token of a model-written step in the token view first")

    def branch(self, node_id: str, at_char: int, token: str) -> None:
        """Start the token branch (a new alternative of the step) if the model is free."""
        if not self.parts.actions["branch_token"].isEnabled():
            self.host.show_error("the model is not loaded or is still writing; branch when it is free")
            return
        self.generation.branch_at(node_id, at_char, token)
