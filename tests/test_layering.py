"""The architecture's one rule that a tool can check: no Qt outside workstation/ui/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import workstation

PACKAGE = Path(workstation.__file__).parent


def _qt_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in {"PySide6", "shiboken6"}]
    return found


def test_no_module_outside_ui_imports_pyside6() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "ui" not in path.relative_to(PACKAGE).parts[:1]:
            offenders += _qt_imports(path)
    assert offenders == []


def test_ui_does_import_pyside6() -> None:
    # Guards the check above against silently scanning nothing.
    assert any(_qt_imports(path) for path in (PACKAGE / "ui").rglob("*.py"))


def test_importing_every_non_ui_module_loads_no_qt() -> None:
    modules = sorted(
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
        if "ui" not in path.relative_to(PACKAGE).parts[:1] and path.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
