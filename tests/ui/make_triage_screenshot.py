"""Make resources/screenshots/triage.png: flag triage on the sample sessions (run under Xvfb).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.ui.make_triage_screenshot [WxH] [OUT]

No model needed: the sample sessions carry the automated flags. The Flag triage dock lists them,
the arithmetic flag of the math sample is selected and confirmed with C (wrong, tagged, the
check's message as the critique), and the window is grabbed. A size and a path other than the
README's picture help to look at the window at 1000x700 or 1280x800.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "resources" / "screenshots" / "triage.png"


def wait(app, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    size = sys.argv[1] if len(sys.argv) > 1 else "1280x800"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else OUT
    width, height = (int(v) for v in size.split("x"))
    home = Path(tempfile.mkdtemp())
    os.environ["WORKSTATION_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from workstation.review import Review
    from workstation.ui.main_window import MainWindow
    from workstation.ui.samples import SAMPLE_MODEL, seed_samples

    with Review.open(home / "shot.duckdb") as review:  # the samples and one more flagged chain
        seed_samples(review)
        sid = review.start("A box holds 12 eggs. How many eggs are in 5 boxes, and in 7 boxes?",
                           title="Eggs in boxes (math)").session.id
        review.add_steps(sid, "5 boxes hold 5 * 12 = 50 eggs.\n7 boxes hold 7 * 12 = 84 eggs.\n"
                         "Answer: 50 and 84 eggs.", model=SAMPLE_MODEL)

    app = QApplication(sys.argv[:1])
    window = MainWindow(db=home / "shot.duckdb", autoload=False)
    window.resize(width, height)
    window.show()
    wait(app, lambda: window.ready and window.session.state is not None)
    triage = window.triage
    triage.dock.show()
    triage.dock.raise_()
    wait(app, lambda: bool(triage.panel.items))
    items = triage.panel.items
    chosen = next(i for i, item in enumerate(items) if item.check == "arithmetic")
    triage.panel.list.setCurrentRow(chosen)
    node = items[chosen].node_id
    wait(app, lambda: window.session.current_node_id == node)
    window.parts.tree_view.setFocus()
    window.parts.actions["confirm_flag"].trigger()
    wait(app, lambda: bool(window.session.state.tree.current_annotations(node)))
    wait(app, lambda: window.parts.inspector.note.toPlainText() != "")
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # the queue's refresh and a repaint
        app.processEvents()
        time.sleep(0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(out)
    window.close()


if __name__ == "__main__":
    main()
