"""What test_kill.py checks after each SIGKILL, and the teammate bundles the app imports.

`missing(store, acks, bundle_events)` names every acknowledged operation the database lacks;
`partial_imports(store, bundle_events)` names bundles imported in part; `broken_exports(folder)`
names every file under an export's final name that is not complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from workstation import settings
from workstation.core.model import Reviewer
from workstation.exchange.bundle import read_bundle
from workstation.exchange.keys import KeyStore, TrustedKeys
from workstation.review import Review
from workstation.review_exchange import Exchange
from workstation.store import Store

TEAMMATE = Reviewer("bo-teammate", "annotator")
TEAMMATE_PASSPHRASE = "teammate passphrase"


def teammate_bundles(folder: Path, count: int, seed: int) -> dict[str, set[str]]:
    """`count` bundles signed by a teammate, one session each; bundle path -> its event ids."""
    import keyring.backends.fail

    folder.mkdir(parents=True, exist_ok=True)
    keystore = KeyStore(keyring.backends.fail.Keyring(), key_dir=folder / "teammate-keys")
    trusted = TrustedKeys(folder / "teammate-trusted.json")
    out: dict[str, set[str]] = {}
    with Review(Store.open(folder / "teammate.duckdb"), TEAMMATE, values=settings.defaults()) as review:
        exchange = Exchange(review, keystore=keystore, trusted=trusted)
        for i in range(count):
            a, b = 3 + (seed + i) % 17, 4 + (seed * 7 + i) % 13
            tree = review.start(f"Teammate question {i}: what is {a} * {b}?")
            raw = "\n".join(f"Step {k}: {a} * {k} = {a * k}." for k in range(1, 7)) + f"\nAnswer: {a * b}"
            review.add_steps(tree.session.id, raw)
            steps = [n for n in review.tree(tree.session.id).shown_path() if n.kind != "question"]
            for k, node in enumerate(steps):
                review.annotate(node.id, (-1, 0, 1)[k % 3], f"teammate note {i}.{k}")
            review.rewrite(steps[1].id, f"{a} * 2 = {2 * a} (teammate's rewrite {i})")
            path = folder / f"teammate-{i:03d}.wsbundle"
            exchange.export("bundle", path, sessions=[tree.session.id], passphrase=TEAMMATE_PASSPHRASE)
            out[str(path)] = {event.id for _, event, _ in read_bundle(path).events()}
    return out


def _annotated(tree: Any, ack: dict[str, Any]) -> bool:
    return any(
        a.note == ack["note"] and a.label == ack["label"] and a.reviewer_id == ack["reviewer"]
        for a in tree.annotations_for(ack["node"], include_retracted=True)
    )


def missing(store: Store, acks: Iterable[dict[str, Any]], bundle_events: dict[str, set[str]]) -> list[str]:
    """Every acknowledged operation that the database does not hold, described."""
    trees: dict[str, Any] = {}
    event_ids: set[str] | None = None
    lost: list[str] = []

    def tree(session_id: str) -> Any:
        if session_id not in trees:
            trees[session_id] = store.history(session_id).tree
        return trees[session_id]

    for ack in acks:
        kind = ack["kind"]
        try:
            if kind == "import":
                if event_ids is None:
                    event_ids = {event.id for event in store.events()}
                absent = bundle_events[ack["bundle"]] - event_ids
                ok = not absent
            elif kind == "export":
                ok = Path(ack["path"]).exists()
            else:
                t = tree(ack["session"])
                if kind == "generate":
                    ok = t.session.question == ack["question"] and all(n in t.nodes for n in ack["nodes"])
                elif kind == "regenerate":
                    ok = all(n in t.nodes for n in ack["nodes"])
                elif kind in ("label", "annotate"):
                    ok = _annotated(t, ack)
                elif kind == "rewrite":
                    ok = any(v.text == ack["text"] for v in t.nodes[ack["node"]].versions)
                else:
                    ok = False
        except Exception as exc:  # noqa: BLE001 - an unknown session or node is a lost operation too
            ok = False
            ack = {**ack, "error": repr(exc)}
        if not ok:
            lost.append(json.dumps(ack, sort_keys=True))
    return lost


def partial_imports(store: Store, bundle_events: dict[str, set[str]]) -> list[str]:
    """Bundles of which some events are in the database but not all (a bundle imports wholly
    or not at all; the teammate's bundles share no event)."""
    held = {event.id for event in store.events()}
    return [
        f"{Path(path).name}: {len(events & held)} of {len(events)} events"
        for path, events in sorted(bundle_events.items())
        if events & held and not events <= held
    ]


def _complete_jsonl(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        return "does not end with a newline"
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            json.loads(line)
        except ValueError:
            return f"line {number} is not JSON"
    return None


def _complete(path: Path) -> str | None:
    """Why the file is not a complete export (None when it is)."""
    name = path.name
    try:
        if name.endswith(".manifest.json"):
            json.loads(path.read_text(encoding="utf-8"))
        elif name.endswith(".jsonl"):
            return _complete_jsonl(path)
        elif name.endswith(".html"):
            if not path.read_text(encoding="utf-8").endswith("</html>\n"):
                return "the report ends early"
        elif name.endswith(".parquet"):
            duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
        elif name.endswith(".wsbundle"):
            read_bundle(path).events()  # checksums and signature
    except Exception as exc:  # noqa: BLE001 - whatever the reader says is the reason
        return f"{type(exc).__name__}: {exc}"
    return None


def broken_exports(folder: Path) -> list[str]:
    """Every file under a final export name (not a hidden temporary) that is not complete."""
    broken = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            why = _complete(path)
            if why is not None:
                broken.append(f"{path.relative_to(folder)}: {why}")
    return broken


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files that killed exports left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.is_file())
