"""Start the Qt application and the main window."""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path

from workstation import paths
from workstation.errors import WorkstationError

# Shared libraries Qt's X11 plugin needs that minimal Linux installs lack, and their Debian packages.
_XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}


def check_display() -> None:
    """Refuse with a clear message where Qt would abort: no display, or X11 libraries missing.

    Qt ends the process (qFatal) when no platform plugin loads, so this is checked first.
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and platform != "xcb":
        return
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return
    if not os.environ.get("DISPLAY"):
        raise WorkstationError(
            "no display found: run the workstation on a desktop, or use the command line "
            "(`workstation --help`); for a virtual screen use xvfb-run"
        )
    if not sys.platform.startswith("linux"):
        return
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY)
    except OSError as exc:
        # The loader names only the first missing library; the others usually go with it.
        match = re.search(r"(lib[\w.+-]+\.so[.\d]*): cannot open shared object", str(exc))
        missing = match.group(1) if match else str(exc)
        packages = " ".join(_XCB_PACKAGES.values())
        raise WorkstationError(
            f"the window needs system libraries that are missing ({missing}); "
            f"on Debian or Ubuntu install them with: sudo apt-get install {packages}"
        ) from None


def run_gui(model: str | None = None, db: Path | None = None) -> int:
    """Open the workstation window and run the event loop until it closes."""
    check_display()
    from PySide6.QtWidgets import QApplication

    from workstation import diagnostics
    from workstation.ui.main_window import MainWindow

    diagnostics.install_crash_handlers()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Reasoning Workstation")
    app.setOrganizationName("reasoning-workstation")
    # No style sheet and no fixed palette: the window follows the system's light or dark scheme.
    window = MainWindow(model=model, db=db or paths.default_db())
    window.show()
    from workstation.ui.team_menu import install_team_menu

    install_team_menu(window, window.backend, window.session.open_session)  # Export, Import, Team view, Keys
    # However the loop ends (window closed, session logout), the worker closes the database.
    app.aboutToQuit.connect(window.backend.shut_down)
    return app.exec()
