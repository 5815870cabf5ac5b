"""Child process: load every model file named in a list through the engine's load path.

Usage: python -m tests.reliability.hostile_load_child LIST_FILE

Prints one JSON line before each attempt ({"trying": path}) and one after it ({"path", "outcome",
"error", "message"}), flushed, so that a parent that sees this process die from a signal knows
which file killed it.
"""

from __future__ import annotations

import json
import sys


def main(list_file: str) -> int:
    from workstation.engine.llama_engine import LlamaEngine, LoadOptions

    paths = [line for line in open(list_file, encoding="utf-8").read().splitlines() if line]
    for path in paths:
        print(json.dumps({"trying": path}), flush=True)
        try:
            engine = LlamaEngine(LoadOptions(path, n_ctx=64, n_threads=1))
        except Exception as exc:  # every outcome is reported; the parent judges it
            row = {"path": path, "outcome": "refused", "error": type(exc).__name__, "message": str(exc)}
        else:
            engine.close()
            row = {"path": path, "outcome": "loaded", "error": "", "message": ""}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
