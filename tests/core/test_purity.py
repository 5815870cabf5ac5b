"""workstation.core stays pure Python: no Qt, no DuckDB, no llama_cpp, small modules."""

import subprocess
import sys
from pathlib import Path

import workstation.core

CORE = Path(workstation.core.__file__).parent
FORBIDDEN = ("PySide6", "duckdb", "llama_cpp", "numpy")


def test_importing_the_core_loads_no_heavy_dependency():
    modules = sorted(".".join(p.relative_to(CORE).with_suffix("").parts) for p in CORE.rglob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import workstation.core.{m}\n" for m in modules)
        + f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        + "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_core_modules_stay_small_and_documented():
    for path in CORE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 650, f"{path.name} is getting large; split it"
        assert text.lstrip().startswith('"""'), f"{path.name} has no module docstring"
