"""The Team menu: Export…, Import bundles…, the Team view (a dock) and Keys….

`install_team_menu(window, backend, open_step)` adds it to a window; the dialogs are made on
first use. `open_step(session_id, node_id)`, where given, shows a queued step in the window's
tree. An adjudication needs nothing from the window: it runs with its session's state refresh,
and that state's history (`can_undo`, `undo_text`) is what the window's Undo offers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from workstation.ui.team import TeamDock

if TYPE_CHECKING:
    from workstation.ui.backend import Backend
    from workstation.ui.export_dialog import ExportDialog
    from workstation.ui.keys_dialog import KeysDialog

#: Shows a step in the window's reasoning tree: session id, node id.
OpenStep = Callable[[str, str], None]


#: name, text, shortcut, tooltip of the Team menu's actions.
TEAM_ACTIONS = (
    ("export", "&Export…", "Ctrl+E", "Write training data, a report or a signed bundle"),
    ("import", "&Import bundles…", "Ctrl+I", "Verify and merge review bundles from teammates"),
    ("team_view", "&Team view", "Ctrl+Shift+T", "Reviewer statistics, agreement and the disagreement queue"),
    ("keys", "&Keys…", "Ctrl+Shift+K", "Your public key and the keys you trust"),
)


class TeamMenu(QObject):
    """The Team menu's actions and what they open; a child of the window."""

    def __init__(self, window: QMainWindow, backend: Backend, open_step: OpenStep | None = None) -> None:
        super().__init__(window)
        self.setObjectName("teamMenu")
        from workstation.ui.exchange_dialogs import ImportFlow

        self.window, self.backend = window, backend
        self.dock = TeamDock(backend, window)
        # Tabbed with the workstation's left docks (Sessions, Model, Flag triage), not beside the
        # tree: on the right it left the tree about 70 px at 1000x700.
        beside = window.findChild(QDockWidget, "sessionsDock")
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        if isinstance(beside, QDockWidget):
            window.tabifyDockWidget(beside, self.dock)
        self.dock.hide()
        if open_step is not None:  # the workstation window: a queued step opens in its tree
            self.dock.view.open_requested.connect(open_step)
        self.import_flow = ImportFlow(backend, window)
        self.import_flow.finished.connect(lambda _outcomes: self.dock.view.schedule_refresh())
        self.export_dialog: ExportDialog | None = None
        self.keys_dialog: KeysDialog | None = None
        self.actions: dict[str, QAction] = {}
        menu = QMenu("&Team", window)
        menu.setObjectName("teamMenuBar")
        bar = window.menuBar()
        help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_menu is not None:  # Help stays last, where people look for it
            bar.insertMenu(help_menu, menu)
        else:
            bar.addMenu(menu)
        handlers: dict[str, Callable[[], object]] = {
            "export": self.open_export, "import": lambda: self.import_flow.start(), "keys": self.open_keys,
        }
        for name, text, keys, tip in TEAM_ACTIONS:
            if name == "team_view":
                action = self.dock.toggleViewAction()
                action.setText(text)
                # Tabbed, a dock shown behind another tab stays unseen: bring it to the front.
                action.triggered.connect(lambda checked: self.dock.raise_() if checked else None)
            else:
                action = QAction(text, window)
                action.triggered.connect(handlers[name])
            action.setObjectName(f"team_{name}")
            action.setShortcut(QKeySequence(keys))
            action.setToolTip(tip)
            action.setStatusTip(tip)
            menu.addAction(action)
            self.actions[name] = action

    def open_export(self) -> ExportDialog:
        """Show the Export dialog (one at a time)."""
        from workstation.ui.export_dialog import ExportDialog

        if self.export_dialog is None:
            self.export_dialog = ExportDialog(self.backend, self.window)
        else:
            self.export_dialog.reload()  # sessions may have come and gone
        self.export_dialog.show()
        self.export_dialog.activateWindow()
        return self.export_dialog

    def open_keys(self) -> KeysDialog:
        """Show the Keys dialog, read afresh."""
        from workstation.ui.keys_dialog import KeysDialog

        if self.keys_dialog is None:
            self.keys_dialog = KeysDialog(self.backend, self.window)
        else:
            self.keys_dialog.reload()
        self.keys_dialog.show()
        self.keys_dialog.activateWindow()
        return self.keys_dialog


def install_team_menu(window: QMainWindow, backend: Backend, open_step: OpenStep | None = None) -> TeamMenu:
    """Add the Team menu (Export…, Import bundles…, Team view, Keys…) and the Team dock to a window.

    Reach them afterwards with `window.findChild(TeamMenu)` (or keep what this returns).
    """
    return TeamMenu(window, backend, open_step)
