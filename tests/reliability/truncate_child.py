"""Child process: generate with the engine from a copy of the model, and truncate or overwrite
that copy in place after the third token, while the generation still reads its weights.

Usage: python -m tests.reliability.truncate_child MODEL_COPY truncate|overwrite

Prints JSON lines, flushed: {"tokens": n, "finish": reason} when the generation ends, then
{"next": "refused"|"generated", "error": ..., "message": ...} for a second generation. A parent
that sees this process die from a signal (SIGBUS, as a mapped file cut short gives) knows it
never got that far.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(model: str, how: str) -> int:
    from workstation.engine.events import FinishEvent, SamplingParams
    from workstation.engine.llama_engine import LlamaEngine, LoadOptions

    path = Path(model)
    engine = LlamaEngine(LoadOptions(path, n_ctx=1024, n_threads=1))
    prompt = engine.build_prompt([{"role": "user", "content": "Count from one to thirty in words, one per line."}])
    params = SamplingParams(max_tokens=48, seed=3, temperature=0.0)
    tokens = 0
    finish = ""
    for event in engine.generate(prompt, params):
        if isinstance(event, FinishEvent):
            finish = event.finish_reason
            break
        tokens += 1
        if tokens == 3:
            size = path.stat().st_size
            with path.open("r+b") as handle:
                if how == "truncate":
                    handle.truncate(size // 3)
                else:  # what `cp other.gguf this.gguf` does: the same file, other bytes
                    handle.seek(size // 2)
                    handle.write(b"\0" * (size // 4))
                handle.flush()
                os.fsync(handle.fileno())
    print(json.dumps({"tokens": tokens, "finish": finish}), flush=True)
    try:
        for _ in engine.generate(prompt, params):
            pass
    except Exception as exc:  # the parent judges the outcome
        print(json.dumps({"next": "refused", "error": type(exc).__name__, "message": str(exc)}), flush=True)
    else:
        print(json.dumps({"next": "generated", "error": "", "message": ""}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
