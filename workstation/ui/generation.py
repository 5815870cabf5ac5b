"""Streams: generate, regenerate, continue, challenge, and Stop.

Each starts one `GenerationJob` on the worker (`Backend.stream`) and connects to that job's own
signals: `started` names the session (a new one for Generate), `progress` carries what was
written so far (shown as stream rows in the tree), then `finished` or `failed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from workstation.ui.backend import Backend, GenerationJob, StreamProgress
from workstation.ui.host import Host
from workstation.ui.session_controller import SessionController
from workstation.ui.tree_model import StreamAnchor
from workstation.ui.window_layout import WindowParts

if TYPE_CHECKING:
    import threading

    from workstation.core.tree import Tree
    from workstation.engine.events import SamplingParams
    from workstation.review import Finished, Review, Streaming

    StreamRun = Callable[[Review, threading.Event], Iterator[Streaming | Finished]]


def sampling_from(values: dict[str, Any]) -> SamplingParams:
    """The review's sampling parameters from settings values (called on the worker)."""
    from workstation.review import sampling_from as build

    return build(values)


class GenerationController(QObject):
    """Starts and stops the model's streams; at most one runs at a time."""

    #: A stream's result was committed: session id, what was done.
    changed = Signal(str, str)
    #: A stream's steps were saved: session id, the new node ids in the order they were written.
    saved = Signal(str, object)
    #: A stream ended without saving steps (failed).
    dropped = Signal()

    def __init__(self, parts: WindowParts, backend: Backend, host: Host, session: SessionController,
                 context_size: Callable[[], int | None], window: QWidget) -> None:
        super().__init__(window)
        self.parts, self.backend, self.host, self.session, self.window = parts, backend, host, session, window
        self._context_size = context_size
        self.job: GenerationJob | None = None
        self._kind = ""
        self._origin: str | None = None
        self._new_session = False
        self._started = 0.0
        #: Where the stream rows go, once the state that shows their anchor has arrived.
        self._anchor_on_state: Callable[[Tree], StreamAnchor | None] | None = None
        self._anchor_ready = False
        session.tree_shown.connect(self._on_tree_shown)
        for shortcut in parts.question_shortcuts:
            shortcut.activated.connect(self.generate)

    @property
    def busy(self) -> bool:
        """Whether a stream is running."""
        return self.job is not None

    @property
    def stopping(self) -> bool:
        """Whether Stop was pressed for the running stream."""
        return self.job is not None and self.job.stopping

    # -- starting ---------------------------------------------------------------------------------

    def _start(self, kind: str, run: StreamRun, description: str, *, anchor: StreamAnchor | None = None,
               anchor_on_state: Callable[[Tree], StreamAnchor | None] | None = None,
               new_session: bool = False) -> None:
        self._kind = kind
        self._new_session = new_session
        #: The step the reviewer was on when the stream started: if they are still there (or it
        #: is no longer shown, as the step a regenerate replaces), the first new step is selected.
        self._origin = self.session.current_node_id
        self._started = time.monotonic()
        self.parts.messages.clear_stale()  # "Stopped…" and the like were about the last stream
        self.parts.speed_status.setText("writing…")
        if anchor is not None:
            self.parts.tree_model.begin_stream(anchor)
        self._anchor_on_state, self._anchor_ready = anchor_on_state, False
        if new_session:
            self.session.awaiting_new = True
        job = self.backend.stream(run, refresh=self.session.current_session, new_session=new_session,
                                  state_on_start=anchor_on_state is not None)
        job.started.connect(self._on_started)
        job.progress.connect(self._on_progress)
        job.finished.connect(lambda finished: self._on_finished(finished, description))
        job.failed.connect(self._on_failed)
        self.job = job
        self.host.update_actions()

    def generate(self) -> None:
        """Start a new session on the typed question and let the model reason."""
        if self.job is not None or not self.parts.actions["generate"].isEnabled():
            return
        question = self.parts.question.toPlainText()
        if not question.strip():
            self.host.show_error("the question is empty; type the question for the model to reason about")
            return
        template = self.parts.template.currentData()
        values = dict(self.host.values)
        self._start(
            "generate",
            lambda r, stop: r.generate(question, template, sampling_from(values), stop),
            "generate",
            anchor_on_state=lambda tree: StreamAnchor(tree.question_id),
            new_session=True,
        )
        self.parts.tree_view.setFocus()

    def regenerate(self, with_note: bool) -> None:
        """A new alternative for the selected step and what follows (optionally steered by the note)."""
        node = self.session.step()
        if node is None or node.parent_id is None or self.job is not None:
            return
        critique = None
        if with_note:
            critique = self.parts.inspector.note.toPlainText().strip()
            if not critique:
                self.host.show_error("type the critique in the note first, then regenerate with note")
                return
        values, nid = dict(self.host.values), node.id
        self._start(
            "chain",
            lambda r, stop: r.regenerate(nid, critique, sampling=sampling_from(values), stop=stop),
            f"regenerate from step {node.position}" + (" with critique" if critique else ""),
            anchor=StreamAnchor(node.parent_id),
        )

    def continue_after(self) -> None:
        """New steps after the selected one, as a new branch below it."""
        node = self.session.step()
        if node is None or self.job is not None:
            return
        values, nid = dict(self.host.values), node.id
        self._start(
            "chain",
            lambda r, stop: r.continue_after(nid, sampling=sampling_from(values), stop=stop),
            f"continue after step {node.position}",
            anchor=StreamAnchor(nid),
        )

    def branch_at(self, node_id: str, at_char: int, token: str) -> None:
        """A new alternative of a step: its text up to a token, `token` there, then the model."""
        tree = self.session.state.tree if self.session.state is not None else None
        node = tree.nodes.get(node_id) if tree is not None else None
        if node is None or node.parent_id is None or self.job is not None:
            return
        values = dict(self.host.values)
        self._start(
            "chain",
            lambda r, stop: r.branch_at(node_id, at_char, token, sampling=sampling_from(values), stop=stop),
            f"branch step {node.position} at a token",
            anchor=StreamAnchor(node.parent_id),
        )

    def challenge(self, question: str | None = None) -> None:
        """Ask the model why (or a typed question) about the selected step; the reply streams in."""
        node = self.session.step()
        if node is None or self.job is not None:
            return
        values, nid = dict(self.host.values), node.id

        def anchor(tree: Tree) -> StreamAnchor | None:
            asked = tree.challenges(nid)
            return StreamAnchor(asked[-1].id, below=True) if asked else None

        self._start(
            "challenge",
            lambda r, stop: r.challenge(nid, question, sampling=sampling_from(values), stop=stop),
            f"challenge step {node.position}",
            anchor_on_state=anchor,
        )

    def ask(self) -> None:
        """Type a question about the selected step, then challenge with it."""
        if self.session.step() is None:
            return
        from workstation.ui.dialogs import AskDialog

        node = self.session.step()
        if node is None:
            return
        dialog = AskDialog(node.position, node.text, self.window)
        if dialog.exec() and dialog.question().strip():
            self.challenge(dialog.question())

    def stop(self) -> None:
        """Stop the model: the engine ends within one token; what it wrote is kept."""
        if self.job is not None:
            self.job.stop()
            # The effect shows at once: no more text appears; the steps so far are being saved.
            self.parts.speed_status.setText("stopping… saving what was written")
            self.host.update_actions()

    # -- what the job reports ------------------------------------------------------------------------

    def _on_started(self, session_id: str) -> None:
        self.session.adopt(session_id)
        self._anchor_ready = True  # the state sent with the start shows the anchor
        if self._new_session:
            self.session.refresh_sessions()  # the new session is in the list while it is written

    def _on_tree_shown(self, tree: Tree) -> None:
        if self._anchor_on_state is None or not self._anchor_ready:
            return
        anchor = self._anchor_on_state(tree)
        self._anchor_on_state = None
        if anchor is not None:
            self.parts.tree_model.begin_stream(anchor)
            if anchor.below:
                self.parts.tree_view.expand(self.parts.tree_model.index_of_node(anchor.node_id))

    def _on_progress(self, progress: StreamProgress) -> None:
        if self.job is None or self.job.stopping:
            return
        item: Streaming = progress.item
        if self._kind == "challenge":
            texts = [item.raw.strip() or "…"]
        else:
            texts = [s.text for s in item.steps]
            if item.pending.strip():
                texts.append(item.pending.strip())
        self.parts.tree_model.update_stream(texts)
        elapsed = max(time.monotonic() - self._started, 1e-3)
        tokens = progress.tokens
        self.parts.speed_status.setText(f"writing… {tokens} tokens, {tokens / elapsed:.1f} tokens/s")
        n_ctx = self._context_size()
        if n_ctx:  # the prompt's share is known when the stream ends; until then, what is written
            self.parts.context_status.setText(f"Context: prompt + {tokens:,} written / {n_ctx:,}")

    def _end(self) -> None:
        self.job = None
        self._anchor_on_state = None
        self.session.awaiting_new = False
        self.parts.tree_model.end_stream()
        self.host.update_actions()

    def _on_finished(self, finished: Finished | None, description: str) -> None:
        self._end()
        if finished is None:
            return
        self.changed.emit(finished.session_id, description)
        self.saved.emit(finished.session_id, tuple(finished.node_ids))
        # The first new step is selected only when the reviewer is not on a step of their own
        # choosing: on nothing, on a row being written, or still on the step the stream started
        # from. A reviewer who moved on while the model wrote stays where they are.
        current = self.session.current_node()
        origin = self._origin
        # The step a regenerate started from is hidden now (its new alternative is shown), and the
        # tree fell back to the question: that is the stream's doing, not the reviewer's choice.
        lost = (origin is not None and current is not None and current.kind == "question" and current.id != origin
                and not self.parts.tree_model.index_of_node(origin).isValid())
        if finished.node_ids and (current is None or current.id == origin or lost):
            self.session.select(finished.node_ids[0])
        fin = finished.finish
        self.parts.speed_status.setText(f"{fin.tokens_per_s:.1f} tokens/s")
        n_ctx = self._context_size()
        if n_ctx:
            used = fin.prompt_tokens + fin.completion_tokens
            self.parts.context_status.setText(f"Context: {used:,} / {n_ctx:,}")
        if fin.finish_reason == "cancelled":
            self.host.show_info("Stopped: the steps written so far are saved.")
        elif fin.error:  # an inference server broke off: the steps so far are saved, incomplete
            self.host.show_error(fin.error)
        elif fin.extra.get("engine") == "server" and not fin.extra.get("logprobs_given"):
            # Blank confidence cells, never 0%: say why once the steps are in.
            self.host.show_info("Confidence: not given by this server (it sends no log-probabilities).")
        self.session.refresh_sessions()

    def _on_failed(self, message: str) -> None:
        self._end()
        self.dropped.emit()
        self.parts.speed_status.setText("")
        self.host.show_error(message)
        self.session.refresh_sessions()
