"""The event codec against the hand-written code it replaced, side by side in one run.

Encodes and decodes 100,000 `annotated` events with the code of an older revision (read with
`git show REV:path` and loaded beside the current package) and with the current code:
the text the store logs (`event_text`), the import's fast lane (`fast_lane.candidate`), a
bundle line's full parse (`bundle.parse_event`), and `Event.from_dict` / `to_dict` with the
canonical text. Prints the best CPU time of several alternating rounds, and new/old ratios.

Not run by `make bench` (its name starts with "_"): it needs the git history.
Run: `python -m bench._codec_compare [REV]` (REV: the revision before the codec, e5f5a43).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workstation.core import codec
from workstation.core.history import Event
from workstation.core.model import Annotation
from workstation.core.ops import Annotated
from workstation.exchange import bundle, fast_lane

N = 100_000
ROUNDS = 5
ROOT = Path(__file__).resolve().parent.parent


def _old(rev: str, path: str, name: str, **replace: Any) -> types.ModuleType:
    """A module's source at `rev`, loaded as module `name` (its imports are today's package)."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    module = types.ModuleType(name)
    module.__dict__["__name__"] = name
    sys.modules[name] = module
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    module.__dict__.update(replace)
    return module


def _events() -> list[Event]:
    rng = random.Random(7)
    def hexid(bits: int = 128) -> str:
        return f"{rng.getrandbits(bits):0{bits // 4}x}"

    sessions = [hexid(64) for _ in range(40)]
    out = []
    for i in range(N):
        sid = sessions[i % len(sessions)]
        reviewer = f"reviewer-{i % 20}"
        note = rng.choice(["", "", "", "12 * 4 is 48", "wrong sign in the second term"])
        tags = rng.choice([(), (), ("arithmetic error",), ("unclear", "incomplete")])
        label = rng.choice([-1, 0, 1, 1, 1, None]) if note or tags else rng.choice([-1, 0, 1])
        at = f"2026-11-27T12:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000+00:00"
        a = Annotation(hexid(), sid, hexid(64), hexid(64), reviewer,
                       "annotator", at, label, note, tags, rng.choice([None, None, None, "minor"]))
        out.append(Event(hexid(), sid, Annotated(a), reviewer, "annotator", at))
    return out


def _best(work: Callable[[], Any]) -> float:
    # CPU time, not wall time: the machine is shared, and this work is one thread's.
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else "e5f5a43"
    old_history = _old(rev, "workstation/core/history.py", "old_history")
    old_log = _old(rev, "workstation/store/event_log.py", "old_event_log")
    old_lane = _old(rev, "workstation/exchange/fast_lane.py", "old_fast_lane")
    old_bundle = _old(rev, "workstation/exchange/bundle.py", "old_bundle", Event=old_history.Event)
    events = _events()
    texts = [codec.event_text(e) for e in events]
    assert texts == [old_log.event_text(e) for e in events], "the old and new texts differ"
    assert [fast_lane.candidate(t) for t in texts[:2000]] == [old_lane.candidate(t) for t in texts[:2000]]
    dicts = [json.loads(t) for t in texts]
    old_events = [old_history.Event.from_dict(d) for d in dicts]
    where = Path("b.wsbundle")

    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("encode: event_text (what the store logs)",
         lambda: [old_log.event_text(e) for e in events], lambda: [codec.event_text(e) for e in events]),
        ("encode: canonical(event.to_dict())",
         lambda: [old_bundle.canonical(e.to_dict()) for e in old_events],
         lambda: [codec.canonical(e.to_dict()) for e in events]),
        ("decode: fast_lane.candidate (the import's fast lane)",
         lambda: [old_lane.candidate(t) for t in texts], lambda: [fast_lane.candidate(t) for t in texts]),
        ("decode: bundle.parse_event (a line's full parse)",
         lambda: [old_bundle.parse_event(where, 1, t) for t in texts],
         lambda: [bundle.parse_event(where, 1, t) for t in texts]),
        ("decode: Event.from_dict (generic)",
         lambda: [old_history.Event.from_dict(d) for d in dicts], lambda: [Event.from_dict(d) for d in dicts]),
    ]
    print(f"{N:,} annotated events; best CPU time of {ROUNDS} alternating rounds; old = {rev}", flush=True)
    for name, old, new in cases:
        old_s, new_s = float("inf"), float("inf")
        for _ in range(ROUNDS):
            old_s = min(old_s, _best(old))
            new_s = min(new_s, _best(new))
        print(f"{name}: old {old_s * 1000:.0f} ms, new {new_s * 1000:.0f} ms, new/old {new_s / old_s:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
