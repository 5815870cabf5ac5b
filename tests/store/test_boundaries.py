"""The store never pulls in Qt (it runs headless, under the CLI and in tests)."""

from __future__ import annotations

import subprocess
import sys

from .helpers import child_env


def test_importing_the_store_imports_no_qt() -> None:
    code = (
        "import sys, workstation.store, workstation.store.store\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), check=False
    )
    assert done.returncode == 0, done.stderr
