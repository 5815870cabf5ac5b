"""Make resources/screenshots/review.png: the real window mid-review (run under Xvfb).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.ui.make_screenshot

Uses the real default model: a question it tends to get wrong, a regeneration from step 2
(two branches), labels, a note, and a challenge with its reply; then shows the branch that
the arithmetic check flagged.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "A train travels 60 km in 1.5 hours. What is its average speed in km/h?"
OUT = Path(__file__).resolve().parents[2] / "resources" / "screenshots" / "review.png"


def wait(app, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    home = Path(tempfile.mkdtemp())
    os.environ["WORKSTATION_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from workstation import paths
    from workstation.engine.discovery import default_model
    from workstation.ui.main_window import MainWindow

    (paths.config_dir() / "settings.json").write_text(json.dumps({
        "sampling.max_tokens": 200, "model.n_threads": 1, "sampling.temperature": 0.6, "sampling.seed": 5,
    }))
    app = QApplication(sys.argv[:1])
    window = MainWindow(model=str(default_model().path), db=home / "shot.duckdb")
    window.resize(1400, 880)
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
    first = steps()
    select(first[min(1, len(first) - 1)].id)
    window.generation.regenerate(False)
    wait(app, lambda: window.generation.job is None)
    # Show the branch with a flag if one has it, else the first.
    tree = window.session.state.tree
    options = tree.alternatives(steps()[min(1, len(steps()) - 1)].id)
    flagged = next((o for o in options if any(n.current.flags for n in [o] + _below(tree, o.id))), options[0])
    window.backend.call(lambda r: r.show(flagged.id), refresh=window.session.current_session)
    wait(app, lambda: window.session.state.tree.shown_path()[len(window.session.state.tree.path_to(flagged.id)) - 1].id == flagged.id)
    select(flagged.id)
    labels = [1, -1, 0, -1]
    for node, label in zip(steps(), labels):
        select(node.id)
        if label == -1 and node.current.flags:
            window.parts.inspector.note.setPlainText("The division is wrong: 60 / 1.5 is 40.")
            window.parts.inspector.tags.setText("arithmetic error")
            window.parts.inspector.severity.setCurrentIndex(window.parts.inspector.severity.findData("major"))
        window.edits.label(label)
        wait(app, lambda: window.session.state.tree.current_annotations(node.id))
    select(steps()[0].id)
    window.generation.challenge(None)
    wait(app, lambda: window.generation.job is None)
    flagged_step = next((n for n in steps() if n.current.flags), steps()[min(1, len(steps()) - 1)])
    select(flagged_step.id)
    window.parts.sessions_dock.raise_()
    window.parts.messages.hide()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT))
    print(OUT)
    window.close()


def _below(tree, node_id: str) -> list:
    out = []
    node = tree.shown_child(node_id)
    while node is not None:
        out.append(node)
        node = tree.shown_child(node.id)
    return out


if __name__ == "__main__":
    main()
