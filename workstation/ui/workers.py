"""Run slow work (disk, model) off the GUI thread and hand results back on it.

A `Task` is a QRunnable whose signals are delivered to the GUI thread by queued connections,
in the spirit of superqt's thread_worker: `finished(result)` on success, `failed(message)` for an
expected error, and for a bug the crash is logged and `failed` carries the short apology.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, SignalInstance

from workstation.errors import WorkstationError


class TaskSignals(QObject):
    """The signals of a Task (QRunnable itself cannot carry signals)."""

    finished = Signal(object)
    failed = Signal(str)


# Running tasks are kept alive here: the caller may drop its reference (a window closing) while
# the pool thread is still working, and the signals object must outlive the work.
_running: set[Task] = set()


class Task(QRunnable):
    """Call a function in the thread pool; report its result or error by signal."""

    def __init__(self, function: Callable[[], object]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the object (see _running)
        self.function = function
        self.signals = TaskSignals()

    def run(self) -> None:
        """Runs in a pool thread; never lets an exception escape into Qt."""
        try:
            result = self.function()
        except WorkstationError as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception as exc:  # a bug: logged with its traceback, the user gets one line
            from workstation import diagnostics

            log = diagnostics.record_crash(type(exc), exc, exc.__traceback__)
            self._emit(self.signals.failed, diagnostics.apology(log))
        else:
            self._emit(self.signals.finished, result)
        finally:
            _running.discard(self)

    @staticmethod
    def _emit(signal: SignalInstance, value: object) -> None:
        try:
            signal.emit(value)
        except RuntimeError:
            pass  # the Qt side is already gone (application shutting down): nobody to tell


_T = TypeVar("_T")


def run_task(
    function: Callable[[], _T],
    on_done: Callable[[_T], None],
    on_error: Callable[[str], None],
    pool: QThreadPool | None = None,
) -> Task:
    """Start `function` in the pool; `on_done`/`on_error` run on the GUI thread."""
    task = Task(function)
    _running.add(task)
    # Queued explicitly: the signals object lives in the GUI thread, so the callbacks run there
    # even when they are plain functions rather than slots of a QObject.
    task.signals.finished.connect(on_done, Qt.ConnectionType.QueuedConnection)
    task.signals.failed.connect(on_error, Qt.ConnectionType.QueuedConnection)
    (pool or QThreadPool.globalInstance()).start(task)
    return task
