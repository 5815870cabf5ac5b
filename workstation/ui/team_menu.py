"""The Team menu: Export…, Import bundles…, the Team view (a dock) and Keys….

`install_team_menu(window, backend)` adds it to a window; the dialogs are made on first use.
An adjudication settled in the Team view goes on the window's undo stack for its session,
where the window keeps one (`remember_undo`), so Ctrl+Z reverses it like any other edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from workstation.ui.team import TeamDock

if TYPE_CHECKING:
    from workstation.ui.backend import Backend


#: name, text, shortcut, tooltip of the Team menu's actions.
TEAM_ACTIONS = (
    ("export", "&Export…", "Ctrl+E", "Write training data, a report or a signed bundle"),
    ("import", "&Import bundles…", "Ctrl+I", "Verify and merge review bundles from teammates"),
    ("team_view", "&Team view", "Ctrl+Shift+T", "Reviewer statistics, agreement and the disagreement queue"),
    ("keys", "&Keys…", "Ctrl+Shift+K", "Your public key and the keys you trust"),
)


class TeamMenu(QObject):
    """The Team menu's actions and what they open; a child of the window."""

    def __init__(self, window: QMainWindow, backend: Backend) -> None:
        super().__init__(window)
        self.setObjectName("teamMenu")
        from workstation.ui.exchange_dialogs import ImportFlow

        self.window, self.backend = window, backend
        self.dock = TeamDock(backend, window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        open_session = getattr(window, "open_session", None)
        if callable(open_session):  # the workstation window: a queued step opens in its tree
            self.dock.view.open_requested.connect(open_session)
        remember_undo = getattr(window, "remember_undo", None)
        if callable(remember_undo):  # and an adjudication is undone with Ctrl+Z like any edit
            self.dock.view.adjudicated.connect(lambda session_id, _node_id, text: remember_undo(session_id, text))
        self.import_flow = ImportFlow(backend, window)
        self.import_flow.finished.connect(lambda _outcomes: self.dock.view.schedule_refresh())
        self.export_dialog: Any = None
        self.keys_dialog: Any = None
        self.actions: dict[str, QAction] = {}
        menu = QMenu("&Team", window)
        menu.setObjectName("teamMenuBar")
        bar = window.menuBar()
        help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        if help_menu is not None:  # Help stays last, where people look for it
            bar.insertMenu(help_menu, menu)
        else:
            bar.addMenu(menu)
        handlers = {"export": self.open_export, "import": lambda: self.import_flow.start(),
                    "team_view": None, "keys": self.open_keys}
        for name, text, keys, tip in TEAM_ACTIONS:
            if name == "team_view":
                action = self.dock.toggleViewAction()
                action.setText(text)
            else:
                action = QAction(text, window)
                action.triggered.connect(handlers[name])
            action.setObjectName(f"team_{name}")
            action.setShortcut(QKeySequence(keys))
            action.setToolTip(tip)
            action.setStatusTip(tip)
            menu.addAction(action)
            self.actions[name] = action

    def open_export(self) -> Any:
        """Show the Export dialog (one at a time)."""
        from workstation.ui.exchange_dialogs import ExportDialog

        if self.export_dialog is None:
            self.export_dialog = ExportDialog(self.backend, self.window)
        else:
            self.export_dialog.reload()  # sessions may have come and gone
        self.export_dialog.show()
        self.export_dialog.activateWindow()
        return self.export_dialog

    def open_keys(self) -> Any:
        """Show the Keys dialog, read afresh."""
        from workstation.ui.keys_dialog import KeysDialog

        if self.keys_dialog is None:
            self.keys_dialog = KeysDialog(self.backend, self.window)
        else:
            self.keys_dialog.reload()
        self.keys_dialog.show()
        self.keys_dialog.activateWindow()
        return self.keys_dialog


def install_team_menu(window: QMainWindow, backend: Backend) -> None:
    """Add the Team menu (Export…, Import bundles…, Team view, Keys…) and the Team dock to a window.

    Reach them afterwards with `window.findChild(TeamMenu)`.
    """
    TeamMenu(window, backend)
