"""Make resources/screenshots/reading.png and tokens.png: the reading view and the token view
of the real window at 1280x800 (run under Xvfb).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m tests.ui.make_reading_screenshots

Uses the real default model: a generation, labels on the first steps, a challenge with its
reply; then the token view of a step with a token selected and its alternatives listed.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "A shop sells pens at 3 dollars each. How much do 7 pens cost?"
FOLDER = Path(__file__).resolve().parents[2] / "resources" / "screenshots"


def wait(app, condition, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.01)


def settle(app) -> None:
    for _ in range(25):
        app.processEvents()
        time.sleep(0.02)


def main() -> None:
    home = Path(tempfile.mkdtemp())
    os.environ["WORKSTATION_HOME"] = str(home)
    from PySide6.QtGui import QTextCursor
    from PySide6.QtWidgets import QApplication

    from workstation import paths
    from workstation.engine.discovery import default_model
    from workstation.ui.main_window import MainWindow

    (paths.config_dir() / "settings.json").write_text(json.dumps({
        "sampling.max_tokens": 200, "model.n_threads": 1, "sampling.temperature": 0.6, "sampling.seed": 5,
    }))
    app = QApplication(sys.argv[:1])
    window = MainWindow(model=str(default_model().path), db=home / "shot.duckdb")
    window.resize(1280, 800)
    window.show()
    wait(app, lambda: window.ready and window.session.state is not None and window.model.loaded is not None)

    def steps() -> list:
        return [n for n in window.session.state.tree.shown_path() if n.kind in ("step", "answer")]

    def select(node_id: str) -> None:
        window.session.select(node_id)
        wait(app, lambda: window.session.current_node_id == node_id)

    window.parts.question.setPlainText(QUESTION)
    window.generation.generate()
    wait(app, lambda: window.generation.job is None)
    for node, label in zip(steps(), [1, 1, -1], strict=False):
        select(node.id)
        window.edits.label(label)
        wait(app, lambda nid=node.id: window.session.state.tree.current_annotations(nid))
    select(steps()[0].id)
    window.generation.challenge(None)
    wait(app, lambda: window.generation.job is None)
    select(steps()[min(1, len(steps()) - 1)].id)
    window.parts.messages.hide()
    wait(app, lambda: not window.parts.reading.building())
    settle(app)
    FOLDER.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(FOLDER / "reading.png"))

    window.parts.actions["token_view"].trigger()
    view = window.parts.token_view
    wait(app, lambda: len(view.tokens) > 3)
    # The least likely token of the step: where a branch is most interesting.
    index = min(range(len(view.tokens)), key=lambda i: view.tokens[i].logprob)
    cursor = QTextCursor(view.text.document())
    cursor.setPosition(view.at_char(index) - view.at_char(0))
    view.text.setTextCursor(cursor)
    settle(app)
    window.grab().save(str(FOLDER / "tokens.png"))
    print(FOLDER / "reading.png", FOLDER / "tokens.png")
    window.close()


if __name__ == "__main__":
    main()
