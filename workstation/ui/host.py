"""What the window's controllers need from the window: one small, explicit interface.

The main window implements it; a controller takes a `Host` and the parts it works on, never the
window itself, so each controller can be read (and tested) on its own.
"""

from __future__ import annotations

from typing import Any, Protocol


class Host(Protocol):
    """The one message path, the settings values and the state of the window's actions."""

    values: dict[str, Any]

    def show_error(self, message: str) -> None:
        """Tell the user about a failure (one line, never a traceback)."""

    def show_info(self, message: str) -> None:
        """A notice."""

    def update_actions(self) -> None:
        """Something an action's enablement depends on changed: apply the window state again."""
