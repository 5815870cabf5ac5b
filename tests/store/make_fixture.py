"""Write the fixture database for the current schema version: `python tests/store/make_fixture.py`.

Run it once when a schema version is released (before its successor changes the schema) and
commit the file: tests/store/fixtures/v<N>.db with v<N>.json describing what it holds. The
migration tests upgrade a copy of every fixture to the current schema.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import factory as f  # noqa: E402
from workstation.core.ops import (  # noqa: E402
    BranchDeleted,
    BranchPreferred,
    SessionDeleted,
    SessionRenamed,
)
from workstation.store import Store, migrations  # noqa: E402

FIXTURES = Path(__file__).with_name("fixtures")


def fill(store: Store) -> None:
    """A small but complete review: every table gets rows."""
    sid = store.start_session(f.start("What is 12 * 4?"), f.ADA).event.session_id
    tree = store.history(sid).tree
    first = f.steps(tree, tree.question_id, ["12 * 4 = 46", "So it is 46", "Answer: 46"])
    store.apply(sid, first, f.ADA, generation=f.generation(first))
    s1, s2, _ = first.chain.node_ids
    store.apply(sid, f.annotate(tree, s1, f.ADA, -1, "wrong", ("arithmetic error",), "major"), f.ADA)
    store.apply(sid, f.annotate(tree, s1, f.BO, 0, "", ("unclear",)), f.BO)
    store.apply(sid, f.rewrite(tree, s1, "12 * 4 = 48"), f.ADA)
    ask = f.challenge(tree, s2, "Why 46?", f.BO)
    store.apply(sid, ask, f.BO)
    store.apply(sid, f.reply(tree, ask.node.id, "Because 12 * 4 = 46."), f.BO)
    again = f.steps(tree, s1, ["So it is 48", "Answer: 48"])
    store.apply(sid, again, f.ADA, generation=f.generation(again))
    store.apply(sid, BranchPreferred.of(tree, again.chain.node_ids[0]), f.ADA)
    store.apply(sid, BranchDeleted(s2), f.ADA)
    store.undo(sid, f.ADA)
    store.apply(sid, SessionRenamed("Multiplication"), f.ADA)
    other = store.start_session(f.start("Is the sky green?", f.BO), f.BO).event.session_id
    tree = store.history(other).tree
    op = f.steps(tree, tree.question_id, ["The sky is blue.", "Answer: no"], f.BO, model="gemma-3-270m")
    store.apply(other, op, f.BO)
    store.apply(other, f.annotate(tree, op.chain.node_ids[0], f.BO, 1, tags=("good insight",)), f.BO)
    store.add_reviewer(f.ADA, public_key="ed25519:fixture")
    if migrations.CURRENT >= 2:  # v2: a deleted session (hidden from list_sessions)
        gone = store.start_session(f.start("Is 7 prime?"), f.ADA).event.session_id
        tree = store.history(gone).tree
        store.apply(gone, f.steps(tree, tree.question_id, ["7 has no divisors but 1 and 7.", "Answer: yes"]), f.ADA)
        store.apply(gone, SessionDeleted(), f.ADA)


def describe(store: Store) -> dict[str, object]:
    """What a fixture holds, checked again after upgrading it."""
    sessions: dict[str, dict[str, object]] = {}
    for summary in store.list_sessions(include_deleted=True):
        tree = store.load_session(summary.id)
        sessions[summary.id] = {
            # Only deleted sessions (v2 on) have this key, so v1's facts still match.
            **({"session_deleted": True} if tree.session.deleted else {}),
            "title": summary.title,
            "nodes": len(tree.nodes),
            "deleted": sum(n.deleted for n in tree.nodes.values()),
            "versions": sum(len(n.versions) for n in tree.nodes.values()),
            "annotations": len(tree.annotations),
            "chains": len(tree.chains),
            "events": len(store.events(summary.id)),
        }
    return {"version": migrations.CURRENT, "events": store.verify_events(), "sessions": sessions}


def main() -> None:
    """Write fixtures/v<CURRENT>.db and .json (refusing to overwrite a released one)."""
    target = FIXTURES / f"v{migrations.CURRENT}.db"
    if target.exists():
        sys.exit(f"{target} exists: a released version's fixture is never rewritten")
    FIXTURES.mkdir(exist_ok=True)
    with Store.open(target) as store:
        fill(store)
        facts = describe(store)
    target.with_suffix(".json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
