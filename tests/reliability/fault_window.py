"""Opening the real window offscreen on a given database, and reading what it told the user."""

from __future__ import annotations

import json
from pathlib import Path

from workstation import paths
from workstation.ui.main_window import MainWindow
from workstation.ui.tree_model import NodeIdRole

#: As tests/ui/conftest.py: short generations on one thread (a 2-core machine, shared).
FAST_SETTINGS = {
    "sampling.max_tokens": 48,
    "sampling.temperature": 0.7,
    "sampling.seed": 7,
    "model.n_threads": 1,
    "model.n_ctx_cap": 2048,
    "model.cache_mb": 64,
}


def write_fast_settings() -> None:
    """Write the fast settings where the window reads them (the home is the test's own)."""
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps(FAST_SETTINGS), encoding="utf-8")


def open_window(qtbot, db: Path, model: Path | None = None, *, wait_state: bool = True) -> MainWindow:
    """A shown window on `db` (and `model`, loaded before this returns when given)."""
    window = MainWindow(model=str(model) if model else None, db=db, autoload=model is not None)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.ready or window.parts.messages.level == "error", timeout=30_000)
    if wait_state and window.ready:
        qtbot.waitUntil(lambda: window.session.state is not None, timeout=30_000)
    if model is not None and window.ready:
        qtbot.waitUntil(lambda: window.model.loaded is not None, timeout=120_000)
    return window


def message(window: MainWindow) -> str:
    """The message bar's text."""
    return window.parts.messages.label.text()


def wait_error(qtbot, window: MainWindow, timeout: int = 30_000) -> str:
    """Wait for an error in the message bar; return it (after checking it is one clean line)."""
    qtbot.waitUntil(lambda: window.parts.messages.level == "error" and window.parts.messages.isVisible(), timeout=timeout)
    text = message(window)
    assert "Traceback" not in text and "\n" not in text, text
    return text


def clear_message(window: MainWindow) -> None:
    """Dismiss the message bar, so that the next message is seen as new."""
    window.parts.messages.hide()
    window.parts.messages.level = ""


def select_row(qtbot, window: MainWindow, row: int) -> str:
    """Select a row of the tree; returns its node id."""
    index = window.parts.tree_model.index(row, 0)
    window.parts.tree_view.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.session.current_node_id == index.data(NodeIdRole))
    return index.data(NodeIdRole)


def wait_idle(qtbot, window: MainWindow, timeout: int = 120_000) -> None:
    """Wait until no generation runs and the worker has nothing pending."""
    qtbot.waitUntil(lambda: window.generation.job is None and window.backend.pending == 0, timeout=timeout)


#: A window in a child process, driven by commands on stdin, one JSON line out per command:
#: `open`, `label VALUE` (row 1 of the shown session: -1, 0 or 1), `close`, `quit`.
CHILD_WINDOW = r"""
import json, sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
from workstation.store import Store
from workstation.ui.main_window import MainWindow
from workstation.ui.tree_model import COL_LABEL, NodeIdRole

app = QApplication([])
db = Path(sys.argv[1])
window = None

def wait(condition, limit=60.0):
    end = time.monotonic() + limit
    while not condition():
        app.processEvents()
        time.sleep(0.005)
        if time.monotonic() > end:
            raise SystemExit("the child window timed out")

def shown():
    return {"ready": window.ready, "level": window.parts.messages.level if window.parts.messages.isVisible() else "",
            "text": window.parts.messages.label.text() if window.parts.messages.isVisible() else ""}

for line in sys.stdin:
    command = line.split()
    if command[0] == "open":
        window = MainWindow(model=None, db=db, autoload=False)
        window.show()
        wait(lambda: window.ready or window.parts.messages.level == "error")
        if window.ready:
            wait(lambda: window.session.state is not None and window.backend.pending == 0)
        print(json.dumps(shown()), flush=True)
    elif command[0] == "label":
        index = window.parts.tree_model.index(1, 0)
        window.parts.tree_view.setCurrentIndex(index)
        wait(lambda: window.session.current_node_id == index.data(NodeIdRole))
        window.parts.messages.hide()
        window.parts.messages.level = ""
        window.parts.inspector.note.setPlainText("")
        window.edits.label(int(command[1]))
        wait(lambda: window.backend.pending == 0)
        for _ in range(20):
            app.processEvents()
        print(json.dumps({**shown(), "label": window.parts.tree_model.index(1, COL_LABEL).data() or "",
                          "node": index.data(NodeIdRole), "session": window.session.current_session}), flush=True)
    elif command[0] == "close":
        window.close()
        wait(lambda: window.backend.pending == 0)
        for _ in range(20):
            app.processEvents()
        window = None
        print(json.dumps({"closed": True}), flush=True)
    elif command[0] == "quit":
        break
"""
