"""Start the Qt application and the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from workstation import paths


def run_gui(model: str | None = None, db: Path | None = None) -> int:
    """Open the workstation window and run the event loop until it closes."""
    from PySide6.QtWidgets import QApplication

    from workstation.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Reasoning Workstation")
    app.setOrganizationName("reasoning-workstation")
    window = MainWindow(model=model, db=db or paths.default_db())
    window.show()
    return app.exec()
