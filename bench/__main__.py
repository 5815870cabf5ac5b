"""Run every benchmark module under bench/ in turn, each in its own process."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    folder = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))
    selected = sys.argv[1:] or names
    status = 0
    for name in selected:
        print(f"# bench.{name}", flush=True)
        status |= subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=folder.parent)
    return status


if __name__ == "__main__":
    sys.exit(main())
