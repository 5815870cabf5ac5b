"""A process that reviews without end, for the crash test to kill (run as a zygote).

The zygote imports everything once, then for each `go SEED` line on stdin forks a worker,
reports `pid N`, waits for the worker to die and reports `reaped N`. A worker opens the
database and applies random operations, writing `ACK <event id>` after each commit returns.
Everything the workers write goes to the same stdout pipe, before the zygote's `reaped` line.
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import factory as f  # noqa: E402
from workstation.core.ops import BranchDeleted, BranchPreferred, BranchShown  # noqa: E402
from workstation.store import Store  # noqa: E402

REVIEWERS = (f.ADA, f.BO)


def _say(line: str) -> None:
    # os.write: no Python buffer that a SIGKILL could lose after the line was "written".
    os.write(1, (line + "\n").encode())


def _one_operation(store: Store, rng: random.Random, sessions: list[str]) -> str:
    reviewer = rng.choice(REVIEWERS)
    if not sessions or rng.random() < 0.05:
        applied = store.start_session(f.start(f"Question {rng.randrange(10**6)}?"), reviewer)
        sessions.append(applied.event.session_id)
        return applied.event.id
    sid = rng.choice(sessions)
    history = store.history(sid)
    tree = history.tree
    live = [n for n in tree.nodes.values() if not n.deleted and n.kind in ("step", "answer")]
    roll = rng.random()
    if not live or roll < 0.15:
        parent = rng.choice([tree.question] + [n for n in live if n.kind == "step"])
        texts = [f"step {i}: {rng.randrange(100)} * 4 = 46" for i in range(rng.randrange(2, 6))]
        op = f.steps(tree, parent.id, texts + ["Answer: 46"], reviewer)
        return store.apply(sid, op, reviewer, generation=f.generation(op)).event.id
    node = rng.choice(live)
    if roll < 0.55:
        op = f.annotate(tree, node.id, reviewer, rng.choice((-1, 0, 1)), "note", ("unclear",))
    elif roll < 0.65:
        op = f.rewrite(tree, node.id, f"rewritten {rng.randrange(10**9)}", reviewer)
    elif roll < 0.72:
        op = f.challenge(tree, node.id, "Why?", reviewer)
    elif roll < 0.77 and (asks := [n for n in tree.nodes.values() if n.kind == "challenge" and not n.deleted]):
        op = f.reply(tree, rng.choice(asks).id, "Because.", reviewer)
    elif roll < 0.84:
        op = BranchShown.of(tree, node.id)
    elif roll < 0.88:
        op = BranchPreferred.of(tree, node.id)
    elif roll < 0.91 and node.position > 1:
        op = BranchDeleted(node.id)
    elif roll < 0.96 and history.can_undo:
        return store.undo(sid, reviewer)[-1].event.id  # a unit's events commit together
    elif history.can_redo:
        return store.redo(sid, reviewer)[-1].event.id
    else:
        op = f.annotate(tree, node.id, reviewer, 1)
    return store.apply(sid, op, reviewer).event.id


def work(path: str, seed: int) -> None:
    """Open the database and review until killed."""
    rng = random.Random(seed)
    # Every worker is forked from the same zygote: give each its own stretch of clock, so
    # content-derived ids made from times never repeat across workers.
    f._clock = itertools.count(seed * 10**9)  # noqa: SLF001
    store = Store.open(path)
    # Checkpoint often, so that kills also land while the log is folded into the file.
    store._db._connection().execute("SET checkpoint_threshold = '48KB'")  # noqa: SLF001
    sessions = [s.id for s in store.list_sessions()]
    while True:
        _say(f"ACK {_one_operation(store, rng, sessions)}")


def zygote(path: str) -> None:
    """Fork one worker per `go SEED` line; report its pid and its end."""
    for line in sys.stdin:
        seed = int(line.split()[1])
        pid = os.fork()
        if pid == 0:
            try:
                work(path, seed)
            except BaseException:
                _say("ERR " + traceback.format_exc().replace("\n", " | "))
            os._exit(1)
        _say(f"pid {pid}")
        os.waitpid(pid, 0)
        _say(f"reaped {pid}")


if __name__ == "__main__":
    zygote(sys.argv[1])
