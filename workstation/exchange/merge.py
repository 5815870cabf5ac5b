"""Importing review bundles: check, verify the signer, merge, one bundle all or nothing.

Merging replays a bundle's events that the target does not have yet onto copies of the
target's trees. Every reviewer's annotations are their own events with their own ids, so
they land side by side and nothing is overwritten; an event already present with the same
content is skipped, which makes importing the same bundle twice change nothing. If any event
does not fit (or one with a known id differs), the bundle is refused before anything is
written, and the target commits a bundle's events in one transaction.

A target is anything with the three methods of `MergeTarget`: `StoreTarget` wraps a
`workstation.store.Store`; `MemoryTarget` keeps trees and events in memory.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workstation.core import ops
from workstation.core.history import Applied
from workstation.core.ops import Changes, SessionStarted
from workstation.core.tree import Tree
from workstation.errors import BadInputError, WorkstationError
from workstation.exchange.bundle import (
    EVENTS,
    MAX_BUNDLE_BYTES,
    Bundle,
    canonical,
    check_duplicate,
    parse_event,
    read_bundle,
)
from workstation.exchange.errors import BundleError, UntrustedSignerError
from workstation.exchange.keys import PublicKey, TrustedKeys


class MergeTarget(Protocol):
    """Where imported events go."""

    def known_events(self, session_ids: Sequence[str]) -> dict[str, str]:
        """Event id -> canonical text of every event already held for these sessions."""

    def load_tree(self, session_id: str) -> Tree | None:
        """A fresh copy of the session's tree that the merge may change, or None."""

    def discard(self, session_ids: Sequence[str]) -> None:
        """Forget what a refused merge changed in trees handed out by `load_tree`."""

    def commit(self, items: list[tuple[Tree, Applied]], generations: list[tuple[str, dict[str, Any]]],
               texts: dict[str, str]) -> int:
        """Write the applied events (and generation records) all together, or nothing.

        `texts` maps each event id to its line in the bundle (its canonical text, usually).
        """


class MemoryTarget:
    """Trees and event logs held in memory (for tests, benchmarks and previews)."""

    def __init__(self) -> None:
        self.trees: dict[str, Tree] = {}
        self.events: dict[str, str] = {}  # event id -> canonical text, in commit order
        self.by_session: dict[str, list[str]] = {}
        self.generations: dict[str, dict[str, Any]] = {}

    def known_events(self, session_ids: Sequence[str]) -> dict[str, str]:
        """Event id -> text for the given sessions."""
        return {i: self.events[i] for sid in session_ids for i in self.by_session.get(sid, ())}

    def load_tree(self, session_id: str) -> Tree | None:
        """A copy of the session's tree."""
        tree = self.trees.get(session_id)
        return Tree.from_dict(tree.to_dict()) if tree is not None else None

    def discard(self, session_ids: Sequence[str]) -> None:
        """Nothing to forget: `load_tree` hands out copies."""

    def commit(self, items: list[tuple[Tree, Applied]], generations: list[tuple[str, dict[str, Any]]],
               texts: dict[str, str]) -> int:
        """Keep the changed trees and the new events."""
        for tree, applied in items:
            self.trees[tree.session.id] = tree
            event = applied.event
            self.events[event.id] = canonical(event.to_dict())
            self.by_session.setdefault(event.session_id, []).append(event.id)
        for _, g in generations:
            self.generations[g["chain_id"]] = g
        return len(items)


class StoreTarget:
    """A `workstation.store.Store` as a merge target.

    Uses the store's `record_batch` (one transaction per bundle) when it has one; otherwise
    falls back to `record` per event, which is only all-or-nothing up to I/O errors.

    Trees and known event ids are loaded once per session and kept while this target lives
    (one import of many bundles), so twenty bundles about the same sessions do not reload
    them twenty times. Use a new target after the store was changed by other means.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._trees: dict[str, Tree | None] = {}
        self._known: dict[str, dict[str, str]] = {}

    def known_events(self, session_ids: Sequence[str]) -> dict[str, str]:
        """Event id -> canonical text from the store's event log."""
        missing = [sid for sid in dict.fromkeys(session_ids) if sid not in self._known]
        if missing:
            texts = getattr(self.store, "event_texts", None)
            if texts is not None:
                # The stored text as it is: no parsing of every event (asked of the store).
                found = texts(missing)
                for sid in missing:
                    self._known[sid] = {}
                for event_id, (sid, text) in found.items():
                    self._known.setdefault(sid, {})[event_id] = text
            else:
                for sid in missing:
                    events = self.store.events(sid) if self.store.has_session(sid) else []
                    self._known[sid] = {e.id: canonical(e.to_dict()) for e in events}
        out: dict[str, str] = {}
        for sid in session_ids:
            out.update(self._known[sid])
        return out

    def load_tree(self, session_id: str) -> Tree | None:
        """The stored tree (loaded once; `discard` drops a copy a refused bundle changed)."""
        if session_id not in self._trees:
            self._trees[session_id] = (
                self.store.load_session(session_id) if self.store.has_session(session_id) else None
            )
        return self._trees[session_id]

    def discard(self, session_ids: Sequence[str]) -> None:
        """Forget trees a refused bundle may have changed in memory; reload them next time."""
        for sid in session_ids:
            self._trees.pop(sid, None)

    def commit(self, items: list[tuple[Tree, Applied]], generations: list[tuple[str, dict[str, Any]]],
               texts: dict[str, str]) -> int:
        """Record the events (and generations) in the store."""
        from workstation.store.records import Generation

        records = [(sid, _generation(Generation, g)) for sid, g in generations]
        batch = getattr(self.store, "record_batch", None)
        try:
            if batch is not None:
                written = int(batch(items, records))
            else:
                written = 0
                by_chain = {g.chain_id: g for _, g in records}
                for tree, applied in items:
                    chain = getattr(applied.event.op, "chain", None)
                    generation = by_chain.get(chain.id) if chain is not None else None
                    written += bool(self.store.record(tree, applied, generation=generation))
        except BaseException:
            self.discard([tree.session.id for tree, _ in items])
            raise
        for tree, applied in items:
            self._trees[tree.session.id] = tree
            self._known.setdefault(tree.session.id, {})[applied.event.id] = texts[applied.event.id]
        return written


def _generation(cls: Any, data: dict[str, Any]) -> Any:
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    kwargs["step_confidence"] = tuple(kwargs.get("step_confidence") or ())
    return cls(**kwargs)


@dataclass
class BundleReport:
    """What happened to one bundle: imported, already there, or refused (and why)."""

    path: Path
    status: str  # "imported" | "unchanged" | "refused"
    new_events: int = 0
    known_events: int = 0
    sessions: list[str] = field(default_factory=list)
    signer: str = ""
    fingerprint: str = ""
    error: str = ""
    #: Set when refused only because the signer's key is not trusted: the key to offer.
    untrusted_key: PublicKey | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data."""
        return {
            "path": str(self.path), "status": self.status, "new_events": self.new_events,
            "known_events": self.known_events, "sessions": self.sessions, "signer": self.signer,
            "fingerprint": self.fingerprint, "error": self.error,
        }  # fmt: skip


@dataclass
class ImportResult:
    """What `import_bundles` did, bundle by bundle."""

    bundles: list[BundleReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no bundle was refused."""
        return all(b.status != "refused" for b in self.bundles)

    @property
    def new_events(self) -> int:
        """Events added in all."""
        return sum(b.new_events for b in self.bundles)

    def summary(self) -> str:
        """One line per bundle for the user."""
        lines = []
        for b in self.bundles:
            if b.status == "refused":
                lines.append(f"refused: {b.error}")
            elif b.status == "unchanged":
                lines.append(f"{b.path}: already imported ({b.known_events} events), nothing changed")
            else:
                lines.append(f"{b.path}: imported {b.new_events} new events from {b.signer} "
                             f"({b.known_events} already present)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data (what `import --json` prints)."""
        return {"ok": self.ok, "new_events": self.new_events, "bundles": [b.to_dict() for b in self.bundles]}


def import_bundles(
    paths: Iterable[Path | str],
    target: MergeTarget,
    trusted: TrustedKeys | None = None,
    *,
    trust_new_signers: bool = False,
    max_bytes: int = MAX_BUNDLE_BYTES,
) -> ImportResult:
    """Check, verify and merge each bundle into `target`; each imports wholly or not at all.

    A bundle signed by a key not in `trusted` is refused (its report carries the key, to show
    and offer to trust) unless `trust_new_signers`, which trusts the key and goes on. A bad
    signature is always refused. One refused bundle does not stop the others.
    """
    trusted = trusted if trusted is not None else TrustedKeys()
    result = ImportResult()
    with _collector_paused():
        for path in paths:
            _import_one(Path(path), target, trusted, result, trust_new_signers, max_bytes)
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while bundles merge.

    A merge makes hundreds of thousands of small objects that all stay alive (events, their
    annotations, the trees holding them); the collector walked them, and everything else
    alive, again and again to free nothing: a sixth of an import's CPU time. Reference
    counting still frees the rest, and the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import_one(
    path: Path,
    target: MergeTarget,
    trusted: TrustedKeys,
    result: ImportResult,
    trust_new_signers: bool,
    max_bytes: int,
) -> None:
    """`import_bundles` for one bundle: its report goes into `result`."""
    report = BundleReport(path, "refused")
    result.bundles.append(report)
    try:
        bundle = read_bundle(path, max_bytes=max_bytes, parse=False)  # lines are checked as merged
        report.signer, report.fingerprint = bundle.signer.reviewer_id, bundle.signer.fingerprint
        if not trusted.is_trusted(bundle.signer):
            if not trust_new_signers:
                report.untrusted_key = bundle.signer
                raise UntrustedSignerError(path, bundle.signer.reviewer_id, bundle.signer.fingerprint,
                                           bundle.signer.to_text().strip())
            trusted.trust(bundle.signer)
        merge_bundle(bundle, target, report)
    except BundleError as exc:
        report.status, report.error = "refused", str(exc)
    except WorkstationError as exc:
        # The database's fault (locked, disk full): the store rolled the bundle back.
        report.status, report.error = "refused", f"{path}: {exc}; nothing was imported from it"


def merge_bundle(bundle: Bundle, target: MergeTarget, report: BundleReport | None = None) -> BundleReport:
    """Merge one checked bundle into `target`, or raise BundleError having written nothing."""
    report = report if report is not None else BundleReport(bundle.path, "refused")
    report.sessions = bundle.session_ids
    try:
        return _merge(bundle, target, report)
    except BaseException:
        target.discard(report.sessions)
        raise


#: The id at the start of a canonical event line (keys sorted: "at" comes first, then "id").
_LINE_ID = re.compile(r'\{"at":"[^"\\]*","id":"([^"\\]+)"')


def _merge(bundle: Bundle, target: MergeTarget, report: BundleReport) -> BundleReport:
    path = bundle.path
    sessions = set(bundle.session_ids)
    known = dict(target.known_events(list(sessions)))
    seen: dict[str, tuple[int, str]] = {}
    trees: dict[str, Tree | None] = {}
    items: list[tuple[Tree, Applied]] = []
    texts: dict[str, str] = {}
    for number, text in enumerate(bundle.lines, start=1):
        # A line byte for byte the same as a stored event is that event, valid and present:
        # skip it without parsing (a re-import, or the chains everyone already has).
        m = _LINE_ID.match(text)
        if m is not None and known.get(m.group(1)) == text:
            first = seen.setdefault(m.group(1), (number, text))
            if first[1] != text:
                raise BundleError(path, f"event id {m.group(1)} appears again with other content (first on line "
                                  f"{first[0]})", member=EVENTS, line=number)
            report.known_events += 1
            continue
        _value, event = parse_event(path, number, text)
        if check_duplicate(path, seen, event, number, text):
            continue
        sid = event.session_id
        if sid not in sessions:  # the manifest did not list it: learn what the target holds
            sessions.add(sid)
            known.update(target.known_events([sid]))
        stored = known.get(event.id)
        if stored is not None:
            if stored != text and stored != canonical(event.to_dict()):
                raise BundleError(path, f"event {event.id} is already in the database with other content "
                                  "(a duplicate id)", member=EVENTS, line=number)
            report.known_events += 1
            continue
        if sid not in trees:
            trees[sid] = target.load_tree(sid)
        tree = trees[sid]
        try:
            if isinstance(event.op, SessionStarted):
                if tree is not None:
                    raise BadInputError(f"session {sid} already exists with another first event")
                tree = trees[sid] = event.op.start()
                changes = Changes(nodes=(tree.question_id,), session=True)
            else:
                if tree is None:
                    raise BadInputError(f"session {sid} is neither in the database nor started in the bundle")
                changes = ops.apply(tree, event.op).changes
        except BadInputError as exc:
            raise BundleError(path, f"event {event.id} ({event.type} by {event.reviewer_id}) does not fit the "
                              f"review it merges into: {exc}", member=EVENTS, line=number) from exc
        items.append((tree, Applied(event, changes)))
        texts[event.id] = text
    new_chains = {getattr(a.event.op, "chain").id: a.event.session_id for _, a in items
                  if hasattr(a.event.op, "chain")}
    generations = [(new_chains[g["chain_id"]], g) for g in bundle.generations if g["chain_id"] in new_chains]
    if items:
        try:
            target.commit(items, generations, texts)
        except BadInputError as exc:  # e.g. the store's DuplicateEventError
            raise BundleError(path, str(exc)) from exc
    report.new_events = len(items)
    report.status = "imported" if items else "unchanged"
    return report


def events_of(target: MemoryTarget) -> list[dict[str, Any]]:
    """A memory target's events as dicts, in commit order."""
    return [json.loads(text) for text in target.events.values()]
