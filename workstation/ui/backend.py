"""The one worker thread that owns the `Review` (engine + store), and its GUI-side proxy.

`Review` is not thread-safe, so every use case runs on one `QThread`, in the `ReviewWorker`
that lives there. The GUI posts jobs (plain callables taking the Review) to a queue and gets
results back by queued signals. While a model-driven job streams, the worker drains the queue
between tokens and runs the *quick* jobs it finds (label, note, rewrite, queries): they run on
the same thread as the stream, so nothing needs a lock, and labelling stays responsive while the
model writes. A second model-driven job waits until the current one ends. A model-driven job
is one `GenerationJob` on the GUI side, with its own signals (started, progress, finished,
failed), as napari's workers are.

What crosses to the GUI is immutable or private: results of use cases (frozen records) and
`SessionState`, whose tree is a copy made on the worker that nothing ever changes.
"""

from __future__ import annotations

import collections
import itertools
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QThread, Signal, Slot

from workstation.errors import WorkstationError

if TYPE_CHECKING:  # the review layer (DuckDB, the engine) is imported on the worker, not at start-up
    from workstation.core.model import Reviewer
    from workstation.core.tree import Tree
    from workstation.review import Finished, Review, Streaming
    from workstation.settings import Values
    from workstation.store.records import SessionSummary

#: Streaming progress reaches the GUI at most this often (the items carry the whole text so far,
#: so skipping some loses nothing) unless a step was completed.
STREAM_INTERVAL_S = 0.03


def snapshot_tree(tree: Tree) -> Tree:
    """A private copy of a tree for the GUI thread.

    Nodes, chains and annotations are frozen records, so they are shared; the dicts that a
    later operation would change are copied. Linear and cheap even for thousands of steps.
    """
    from workstation.core.tree import Tree

    return Tree.load(
        tree.session,
        tree.question_id,
        list(tree.nodes.values()),
        list(tree.chains.values()),
        list(tree.annotations.values()),
        dict(tree.shown),
        dict(tree.preferred),
    )


@dataclass(frozen=True)
class SessionState:
    """What the GUI shows of one session: a tree copy and what undo/redo would do."""

    tree: Tree
    can_undo: bool = False
    undo_text: str = ""
    can_redo: bool = False
    redo_text: str = ""
    #: The job that sent it (a generation's new session is named by its job's `started`).
    job_id: int = 0
    #: Its place among the states the worker sent (0: unnumbered); see `Backend.superseded`.
    seq: int = 0

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.tree.session.id


@dataclass(frozen=True)
class Ready:
    """What the window needs once the database is open."""

    reviewer: Reviewer
    values: Values
    problems: tuple[str, ...]
    templates: tuple[tuple[str, str], ...]
    tags: tuple[str, ...]
    sessions: tuple[SessionSummary, ...]
    gpu_supported: bool


@dataclass
class Job:
    """One piece of work for the worker.

    `run(review)` returns a result, or an iterator of `Streaming` items ending with `Finished`
    when `stream` is set. `refresh` names the session whose state the GUI gets afterwards
    (for a new session, the worker finds it when the stream starts).
    """

    id: int
    #: Any: a quick job gives a result of its own type (its poster's `on_done` takes it), a
    #: streaming one an iterator of `Streaming` items ending with `Finished`.
    run: Callable[[Review], Any]
    quick: bool = True
    stream: bool = False
    refresh: str | None = None
    new_session: bool = False
    stop: threading.Event | None = None
    state_on_start: bool = False


class ReviewWorker(QObject):
    """Lives on the worker thread; owns the Review and runs every job posted to it."""

    finished = Signal(int, object)
    failed = Signal(int, str)
    streamed = Signal(int, object)
    #: A stream's first item: job id, the session it writes to (new for a generation).
    stream_started = Signal(int, str)
    state = Signal(object)
    busy = Signal(bool)
    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.review: Review | None = None
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._deferred: collections.deque[Job] = collections.deque()
        self._streaming = False
        #: Session id -> the seq of the newest state sent for it (read by the GUI thread).
        self.latest_state: dict[str, int] = {}
        self._state_seq = 0
        self._wake.connect(self._run_pending)  # auto: queued, since the worker has moved thread

    def post(self, job: Job) -> None:
        """Queue a job (any thread)."""
        self._queue.put(job)
        self._wake.emit()

    @Slot()
    def _run_pending(self) -> None:
        if self._streaming:
            return  # the stream's own drain picks the job up
        while True:
            if self._deferred:
                job = self._deferred.popleft()
            else:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    return
            self._run(job)

    def _drain_quick(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.quick:
                self._run(job)
            else:
                self._deferred.append(job)

    def _run(self, job: Job) -> None:
        try:
            result = job.run(self.review)  # type: ignore[arg-type]
            if job.stream:
                result = self._consume(job, result)
        except WorkstationError as exc:
            self._send_state(job)
            self.failed.emit(job.id, str(exc))
        except Exception as exc:  # a bug: logged with its traceback; the user gets one line
            from workstation import diagnostics

            log = diagnostics.record_crash(type(exc), exc, exc.__traceback__)
            self._send_state(job)
            self.failed.emit(job.id, diagnostics.apology(log))
        else:
            self._send_state(job)
            # Boxed: PySide6 mishandles the reference count of a bare None sent through an
            # `object` signal across threads (Python 3.11 aborts with none_dealloc at exit).
            self.finished.emit(job.id, (result,))

    def _consume(self, job: Job, items: Iterator[Streaming | Finished]) -> Finished | None:
        from workstation.review import Finished

        self._streaming = True
        self.busy.emit(True)
        finished: Finished | None = None
        tokens = 0
        last_emit = 0.0
        steps_sent = -1
        first = True
        try:
            for item in items:
                if isinstance(item, Finished):
                    finished = item
                    job.refresh = item.session_id
                    continue
                if first:
                    first = False
                    if job.new_session:
                        # generate() has just committed the new session; its stream names it
                        # (not "the latest session": imported events carry teammates' clocks).
                        job.refresh = item.session_id
                    # Before the state it may send: the GUI knows the session when that arrives.
                    self.stream_started.emit(job.id, item.session_id)
                    if job.state_on_start:
                        self._send_state(job)
                tokens += 1  # the review yields one item per token that carries text
                now = time.monotonic()
                if now - last_emit >= STREAM_INTERVAL_S or len(item.steps) != steps_sent:
                    self.streamed.emit(job.id, (item, tokens))
                    last_emit, steps_sent = now, len(item.steps)
                self._drain_quick()
        finally:
            self._streaming = False
            self.busy.emit(False)
        return finished

    def _send_state(self, job: Job) -> None:
        if job.refresh is None or self.review is None:
            return
        try:
            history = self.review.store.history(job.refresh)
        except WorkstationError:
            return  # the session is gone or the store closed; the job's own error says why
        self._state_seq += 1
        # Noted before the emit: a state the GUI finds superseded has a newer one already queued.
        self.latest_state[job.refresh] = self._state_seq
        self.state.emit(
            SessionState(
                snapshot_tree(history.tree),
                history.can_undo,
                history.undo_description,
                history.can_redo,
                history.redo_description,
                job.id,
                self._state_seq,
            )
        )

    def attach(self, db: Path) -> Ready:
        """Open the database and the settings (on the worker thread); keep the Review."""
        from workstation import settings
        from workstation.engine.llama_engine import gpu_offload_supported
        from workstation.review import Review
        from workstation.store.errors import DatabaseLockedError, StorePermissionError

        values, problems = settings.load()
        try:
            self.review = review = Review.open(db, values=values)
        except (DatabaseLockedError, StorePermissionError) as exc:
            # Held by another window, or not writable: still show it, read-only (a snapshot
            # taken now where another process holds it); changes are refused with a message.
            self.review = review = Review.open(db, read_only=True, values=values)
            problems.insert(0, f"{exc} (opened read-only: you can read and export, changes are not saved)")
        problems += [str(e) for e in review.template_errors]
        return Ready(
            reviewer=review.reviewer,
            values=dict(values),
            problems=tuple(problems),
            templates=tuple((n, t.description) for n, t in sorted(review.templates.items()) if t.kind == "task"),
            tags=tuple(review.store.tags().tags),
            sessions=tuple(review.sessions()),
            gpu_supported=gpu_offload_supported(),
        )

    def shut_down(self) -> None:
        """Close the Review (model and database) on its own thread, then end the thread."""
        try:
            if self.review is not None:
                self.review.close()
        finally:
            self.review = None
            thread = QThread.currentThread()
            if thread is not None:
                thread.quit()


@dataclass(frozen=True)
class StreamProgress:
    """What a generation has written so far: the review's item and the tokens counted."""

    item: Streaming
    tokens: int


class GenerationJob(QObject):
    """One model-driven job, as the GUI sees it: connect to its signals (napari's workers).

    `started(session_id)` comes with the first item (before the state it sends, if any);
    `progress(StreamProgress)` as text arrives; then `finished(Finished | None)` or
    `failed(message)`, once. `stop()` ends it within one token; what was written is kept.
    """

    started = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, job_id: int, stop: threading.Event, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.id = job_id
        self.session_id: str | None = None
        self.tokens = 0
        self._stop = stop

    def stop(self) -> None:
        """Ask the engine to stop (any thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether stop was asked for."""
        return self._stop.is_set()


_T = TypeVar("_T")


class Backend(QObject):
    """The GUI thread's handle on the worker: post jobs, get callbacks on the GUI thread.

    Every failure without its own handler goes to `error`, the window's one message path.
    """

    state_changed = Signal(object)
    error = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        # Job id -> (on_done, on_error). Any: each job's result has its own type, which `call`
        # matches to its on_done; results come back through one `object` signal.
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None, Callable[[str], None] | None]] = {}
        self._jobs: dict[int, GenerationJob] = {}
        self._thread = QThread()
        self._thread.setObjectName("review-worker")
        self.worker = ReviewWorker()
        self.worker.moveToThread(self._thread)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.streamed.connect(self._on_streamed)
        self.worker.stream_started.connect(self._on_stream_started)
        self.worker.state.connect(self.state_changed)
        self.worker.busy.connect(self.busy_changed)
        # The worker runs Python between tokens (splitting, checks, commits) while holding the
        # GIL; with the default 5 ms switch interval the GUI thread waited up to 60 ms for it
        # (bench/ui.py). 1 ms hands the interpreter back to the GUI sooner.
        sys.setswitchinterval(0.001)
        self._thread.start()
        self._closed = False

    # -- posting -----------------------------------------------------------------------

    def call(
        self,
        run: Callable[[Review], _T],
        on_done: Callable[[_T], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        *,
        refresh: str | None = None,
        quick: bool = True,
    ) -> int:
        """Run `run(review)` on the worker; `on_done(result)` / `on_error(message)` on the GUI."""
        job = Job(next(self._ids), run, quick=quick, refresh=refresh)
        if not self._closed:
            self._callbacks[job.id] = (on_done, on_error)
            self.worker.post(job)
        return job.id

    def stream(
        self,
        run: Callable[[Review, threading.Event], Iterator[Streaming | Finished]],
        *,
        refresh: str | None = None,
        new_session: bool = False,
        state_on_start: bool = False,
    ) -> GenerationJob:
        """Start a model-driven use case; connect to the returned job's signals for what follows.

        What the job reports arrives by queued signals on the GUI thread, so a caller that connects
        before returning to the event loop misses nothing.
        """
        stop = threading.Event()
        job = Job(
            next(self._ids), lambda review: run(review, stop), quick=False, stream=True,
            refresh=refresh, new_session=new_session, stop=stop, state_on_start=state_on_start,
        )
        handle = GenerationJob(job.id, stop, self)
        if not self._closed:
            self._jobs[job.id] = handle
            self.worker.post(job)
        return handle

    def stop(self) -> None:
        """Ask every model-driven job to stop; the engine ends within a token."""
        for handle in list(self._jobs.values()):
            handle.stop()

    @property
    def pending(self) -> int:
        """How many jobs have not reported yet."""
        return len(self._callbacks) + len(self._jobs)

    # -- results, on the GUI thread ------------------------------------------------------

    @Slot(int, object)
    def _on_finished(self, job_id: int, boxed: tuple[object]) -> None:
        handle = self._jobs.pop(job_id, None)
        if handle is not None:
            handle.finished.emit(boxed[0])
            handle.deleteLater()
            return
        on_done, _ = self._callbacks.pop(job_id, (None, None))
        if on_done is not None:
            on_done(boxed[0])

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        handle = self._jobs.pop(job_id, None)
        if handle is not None:
            handle.failed.emit(message)
            handle.deleteLater()
            return
        _, on_error = self._callbacks.pop(job_id, (None, None))
        if on_error is not None:
            on_error(message)
        else:
            self.error.emit(message)

    @Slot(int, str)
    def _on_stream_started(self, job_id: int, session_id: str) -> None:
        handle = self._jobs.get(job_id)
        if handle is not None:
            handle.session_id = session_id
            handle.started.emit(session_id)

    @Slot(int, object)
    def _on_streamed(self, job_id: int, update: tuple[Streaming, int]) -> None:
        handle = self._jobs.get(job_id)
        if handle is not None:
            handle.tokens = update[1]
            handle.progress.emit(StreamProgress(update[0], update[1]))

    # -- closing -------------------------------------------------------------------------

    def superseded(self, state: SessionState) -> bool:
        """Whether a newer state of the same session is already on its way (a burst of label
        keys sends one state each: showing only the newest keeps the GUI thread free)."""
        return 0 < state.seq < self.worker.latest_state.get(state.session_id, 0)

    def shut_down(self, timeout_ms: int = 30_000) -> None:
        """Stop generation, close the Review on its thread and end the thread.

        The one place the GUI waits for the worker: when the window closes, so that the database
        is closed (and reopenable) before the application goes on.
        """
        if self._closed:
            return
        self._closed = True
        self.stop()
        # Not quick: it waits for a running stream to end (stopped just now) before closing.
        self.worker.post(Job(0, lambda review: self.worker.shut_down(), quick=False))
        if not self._thread.wait(timeout_ms):
            self._thread.quit()
            self._thread.wait(timeout_ms)
        self._callbacks.clear()
        self._jobs.clear()

    def open(
        self,
        db: Path,
        on_done: Callable[[Ready], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Open the database and settings on the worker; `on_done` gets a `Ready`."""
        return self.call(lambda _: self.worker.attach(db), on_done, on_error)
