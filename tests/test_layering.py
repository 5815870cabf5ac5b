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


# -- the direction of flow, and no import cycle -------------------------------------------------

#: What each layer may import at module level (besides itself and the package's small shared
#: modules): ui -> review use cases -> core / engine / store / exchange, and core below them all.
_SHARED = {"errors", "paths", "settings", "diagnostics", "__init__"}
_MAY_IMPORT = {
    "core": {"core"},
    "engine": {"core", "engine"},
    "store": {"core", "engine", "store"},
    "exchange": {"core", "engine", "store", "exchange"},
    "training": {"core", "engine", "store", "exchange", "training"},
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports when it is imported (not under TYPE_CHECKING,
    not inside functions: those are lazy by design and cannot form an import-time cycle)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = _module_name(path).split(".")
                    if path.name != "__init__.py":
                        package = package[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, base] if base else package)
                submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
                found.update(submodules)
                if len(submodules) < len(node.names):
                    found.add(base)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for block in (getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                    visit(block)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found & modules


def _import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    names = set(paths)
    return {name: _imports(path, names) for name, path in paths.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_layers_import_only_downwards() -> None:
    offenders = []
    for module, imported in _import_graph().items():
        allowed = _MAY_IMPORT.get(_layer(module))
        if allowed is None:
            continue  # review, cli and ui sit on top and may use the layers below
        offenders += [f"{module} imports {dep}" for dep in imported if _layer(dep) not in allowed | _SHARED]
    assert offenders == []


def test_no_import_cycle() -> None:
    graph = _import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        path.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                walk(dep)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    assert cycles == []


def test_the_cycle_check_sees_imports() -> None:
    # Guards the two checks above against scanning nothing: the window imports its layout.
    graph = _import_graph()
    assert "workstation.ui.window_layout" in graph["workstation.ui.main_window"]
    assert "workstation.core.model" in graph["workstation.core.tree"]
