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


def test_no_code_in_the_store_updates_or_deletes_events() -> None:
    import re
    from pathlib import Path

    import workstation.store

    folder = Path(workstation.store.__file__).parent
    pattern = re.compile(r"(UPDATE\s+events\b|DELETE\s+FROM\s+events\b|DROP\s+TABLE\s+events\b)", re.I)
    offenders = [
        f"{path.name}: {match.group(0)}"
        for path in folder.glob("*.py")
        for match in pattern.finditer(path.read_text())
    ]
    assert not offenders, f"the event log is append-only: {offenders}"
