"""Importing review bundles: check, verify the signer, merge, one bundle all or nothing.

Merging replays a bundle's events that the target does not have yet onto copies of the
target's trees. Every reviewer's annotations are their own events with their own ids, so
they land side by side and nothing is overwritten; an event already present with the same
content is skipped, which makes importing the same bundle twice change nothing. If any event
does not fit (or one with a known id differs), the bundle is refused before anything is
written, and the target commits a bundle's events in one transaction.

A target is anything with the methods of `MergeTarget`: `StoreTarget` wraps a
`workstation.store.Store`; `MemoryTarget` keeps trees and events in memory. Event texts are
compared as the one canonical text of `core.codec`.

Plain annotations (most of a bundle) take a fast lane (`fast_lane`): checked against the
session's nodes without building the core's objects, and handed to the target as rows. A
session that gets any other new event in a bundle takes the full path for all of that
bundle's events, so its tree holds everything in order.

Deleting and restoring a session is local housekeeping: a bundle's `session_deleted` and
`session_restored` events are skipped (see the report's `skipped`), never applied.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workstation.core import ops
from workstation.core.codec import LINE_ID, event_text
from workstation.core.history import Applied, Event
from workstation.core.jsontypes import JSONData, JSONObject
from workstation.core.ops import Changes, SessionStarted
from workstation.core.tree import Tree
from workstation.errors import BadInputError, WorkstationError
from workstation.exchange import fast_lane
from workstation.exchange.bundle import (
    EVENTS,
    LOCAL_EVENT_TYPES,
    LOCAL_REASON,
    MAX_BUNDLE_BYTES,
    Bundle,
    check_duplicate,
    parse_event,
    read_bundle,
)
from workstation.exchange.errors import BundleError, UntrustedSignerError
from workstation.exchange.fast_lane import SessionView
from workstation.exchange.keys import PublicKey, TrustedKeys
from workstation.exchange.result import Skipped
from workstation.store import Store
from workstation.store.records import Generation
from workstation.store.writer import AnnotationRow

#: What a merge commits, in log order: events applied to trees, and annotations that the
#: fast lane checked (`fast_lane`), as rows.
Item = tuple[Tree, Applied] | AnnotationRow


class MergeTarget(Protocol):
    """Where imported events go."""

    def known_events(self, session_ids: Sequence[str]) -> Mapping[str, str]:
        """Event id -> canonical text of (at least) every event already held for these
        sessions; the merge only reads it."""

    def load_tree(self, session_id: str) -> Tree | None:
        """A fresh copy of the session's tree that the merge may change, or None."""

    def session_view(self, session_id: str) -> SessionView | None:
        """The session's nodes and annotation ids for the fast lane (None: no such session,
        or no fast lane for this target); read only."""

    def bulk(self) -> AbstractContextManager[None]:
        """A context around a whole import of many bundles (see StoreTarget.bulk)."""

    def discard(self, session_ids: Sequence[str]) -> None:
        """Forget what a refused merge changed in trees handed out by `load_tree`."""

    def commit(self, items: list[Item], generations: list[tuple[str, JSONObject]],
               texts: dict[str, str]) -> int:
        """Write the events (and generation records) all together, or nothing.

        `texts` maps the id of each applied event to its line in the bundle (its canonical
        text, usually); a row carries its own text.
        """


class MemoryTarget:
    """Trees and event logs held in memory (for tests, benchmarks and previews)."""

    def __init__(self) -> None:
        self.trees: dict[str, Tree] = {}
        self.events: dict[str, str] = {}  # event id -> canonical text, in commit order
        self.by_session: dict[str, list[str]] = {}
        self.generations: dict[str, JSONObject] = {}

    def known_events(self, session_ids: Sequence[str]) -> dict[str, str]:
        """Event id -> text for the given sessions."""
        return {i: self.events[i] for sid in session_ids for i in self.by_session.get(sid, ())}

    def load_tree(self, session_id: str) -> Tree | None:
        """A copy of the session's tree."""
        tree = self.trees.get(session_id)
        return Tree.from_dict(tree.to_dict()) if tree is not None else None

    def session_view(self, session_id: str) -> SessionView | None:
        """The held tree's nodes and annotations."""
        tree = self.trees.get(session_id)
        return SessionView.of_tree(tree) if tree is not None else None

    def bulk(self) -> AbstractContextManager[None]:
        """Nothing to set up around an import."""
        return nullcontext()

    def discard(self, session_ids: Sequence[str]) -> None:
        """Nothing to forget: `load_tree` hands out copies."""

    def commit(self, items: list[Item], generations: list[tuple[str, JSONObject]],
               texts: dict[str, str]) -> int:
        """Keep the changed trees and the new events."""
        for item in items:
            if type(item) is AnnotationRow:
                self.trees[item.session_id].annotations[item.annotation_id] = item.annotation()
                self.events[item.event_id] = item.text
                self.by_session.setdefault(item.session_id, []).append(item.event_id)
                continue
            tree, applied = item  # type: ignore[misc]
            self.trees[tree.session.id] = tree
            event = applied.event
            self.events[event.id] = event_text(event)
            self.by_session.setdefault(event.session_id, []).append(event.id)
        for _, g in generations:
            chain_id = g["chain_id"]
            assert isinstance(chain_id, str), chain_id  # bundle._generations checked it
            self.generations[chain_id] = g
        return len(items)


class StoreTarget:
    """A `workstation.store.Store` as a merge target: one `record_batch` (one transaction) per
    bundle.

    Trees and known event texts are loaded once per session and kept while this target lives
    (one import of many bundles), so twenty bundles about the same sessions do not reload
    them twenty times; annotations committed as rows join a kept tree when it is next handed
    out. Use a new target after the store was changed by other means.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._trees: dict[str, Tree | None] = {}
        self._loaded: set[str] = set()  # sessions whose events are in _texts
        self._texts: dict[str, str] = {}  # event id -> stored text, of the loaded sessions
        # Annotations committed as rows after their session's tree was kept, not yet in it.
        self._pending: dict[str, list[AnnotationRow]] = {}
        # The fast lane's views, kept up to date as rows are committed (None: no session).
        self._views: dict[str, SessionView | None] = {}

    def known_events(self, session_ids: Sequence[str]) -> Mapping[str, str]:
        """Event id -> text from the store's event log, for these sessions and any loaded
        before (one mapping, not copied: the merge only reads it)."""
        missing = [sid for sid in dict.fromkeys(session_ids) if sid not in self._loaded]
        if missing:
            # The stored text as it is: no parsing of every event.
            for event_id, (_sid, text) in self.store.event_texts(missing).items():
                self._texts[event_id] = text
            self._loaded.update(missing)
        return self._texts

    def bulk(self) -> AbstractContextManager[None]:
        """Around an import of many bundles: the store's `deferred_checkpoints`."""
        return self.store.deferred_checkpoints()

    def load_tree(self, session_id: str) -> Tree | None:
        """The stored tree (loaded once; `discard` drops a copy a refused bundle changed)."""
        if session_id not in self._trees:
            self._trees[session_id] = (
                self.store.load_session(session_id) if self.store.has_session(session_id) else None
            )
        tree = self._trees[session_id]
        for row in self._pending.pop(session_id, ()):  # what `Annotated` would have done, in order
            tree.annotations[row.annotation_id] = row.annotation()  # type: ignore[union-attr]
        self._views.pop(session_id, None)  # the merge may change the tree now
        return tree

    def session_view(self, session_id: str) -> SessionView | None:
        """The session's annotatable nodes and annotation ids, committed rows included."""
        if session_id not in self._views:
            if session_id in self._trees:
                tree = self._trees[session_id]
                if tree is None:
                    return None
                ids = set(tree.annotations)
                ids.update(row.annotation_id for row in self._pending.get(session_id, ()))
                self._views[session_id] = SessionView.of_tree(tree, ids)
            else:
                # Every session of the bundles read so far that has no view yet, in one go.
                wanted = [s for s in self._loaded | {session_id} if s not in self._views and s not in self._trees]
                found = self.store.annotation_index(wanted)
                for sid in wanted:
                    entry = found.get(sid)
                    self._views[sid] = SessionView.of_index(*entry) if entry is not None else None
        return self._views[session_id]

    def discard(self, session_ids: Sequence[str]) -> None:
        """Forget trees a refused bundle may have changed in memory; reload them next time."""
        for sid in session_ids:
            self._trees.pop(sid, None)
            self._pending.pop(sid, None)
            self._views.pop(sid, None)

    def commit(self, items: list[Item], generations: list[tuple[str, JSONObject]],
               texts: dict[str, str]) -> int:
        """Record the events (and generations) in the store."""
        records = [(sid, _generation(g)) for sid, g in generations]
        try:
            written = self.store.record_batch(items, records)
        except BaseException:
            self.discard(list({_session_of(item) for item in items}))
            raise
        kept, views, known = self._trees, self._views, self._texts  # once per row: looked up once here
        for item in items:
            if isinstance(item, AnnotationRow):
                sid = item.session_id
                if kept.get(sid) is not None:
                    self._pending.setdefault(sid, []).append(item)
                view = views.get(sid)
                if view is not None:
                    # This target's views hold sets (see session_view); the protocol only reads.
                    view.annotation_ids.add(item.annotation_id)  # type: ignore[attr-defined]
                known[item.event_id] = item.text
            else:
                tree, applied = item
                self._trees[tree.session.id] = tree
                self._views.pop(tree.session.id, None)
                self._texts[applied.event.id] = texts[applied.event.id]
        return written


def _session_of(item: Item) -> str:
    if isinstance(item, AnnotationRow):
        return item.session_id
    return item[0].session.id


def _generation(data: JSONObject) -> Generation:
    import dataclasses

    names = {f.name for f in dataclasses.fields(Generation)}
    # Any: the record's fields go to the constructor by name. `bundle._generations` checked those
    # a file could misuse (chain id, model file, hash); the rest are stored as the engine gave them.
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in names}
    kwargs["step_confidence"] = tuple(kwargs.get("step_confidence") or ())
    return Generation(**kwargs)


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
    #: Events read and left out on purpose (a session's deletion: local to each database).
    skipped: list[Skipped] = field(default_factory=list)

    def to_dict(self) -> dict[str, JSONData]:
        """As JSON-able data."""
        return {
            "path": str(self.path), "status": self.status, "new_events": self.new_events,
            "known_events": self.known_events, "sessions": self.sessions, "signer": self.signer,
            "fingerprint": self.fingerprint, "error": self.error,
            "skipped": [s.to_dict() for s in self.skipped],
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

    @property
    def skipped(self) -> list[Skipped]:
        """Events of imported bundles left out on purpose, and why."""
        return [s for b in self.bundles if b.status != "refused" for s in b.skipped]

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
            if b.status != "refused" and b.skipped:
                reasons = sorted({s.reason for s in b.skipped})
                lines.append(f"{b.path}: left out {len(b.skipped)} events ({'; '.join(reasons)})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, JSONData]:
        """As JSON-able data (what `import --json` prints)."""
        return {"ok": self.ok, "new_events": self.new_events, "bundles": [b.to_dict() for b in self.bundles],
                "skipped": [s.to_dict() for s in self.skipped]}


def import_bundles(
    paths: Iterable[Path | str],
    target: MergeTarget,
    trusted: TrustedKeys | None = None,
    *,
    trust_new_signers: bool = False,
    max_bytes: int = MAX_BUNDLE_BYTES,
    progress: Callable[[int, int, Path], None] | None = None,
) -> ImportResult:
    """Check, verify and merge each bundle into `target`; each imports wholly or not at all.

    A bundle signed by a key not in `trusted` is refused (its report carries the key, to show
    and offer to trust) unless `trust_new_signers`, which trusts the key and goes on. A bad
    signature is always refused. One refused bundle does not stop the others. `progress(i, n,
    path)` is called as bundle i (from 0) of n starts.
    """
    trusted = trusted if trusted is not None else TrustedKeys()
    result = ImportResult()
    files = [Path(p) for p in paths]
    with (
        _collector_paused(),
        target.bulk(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="bundle-reader") as reader,
    ):
        # The next bundle is read (unzipped, checksummed, its signature checked, its lines
        # matched for the fast lane) while this one merges: zlib, hashlib and DuckDB let go of
        # the GIL, so the two overlap. Reading depends on nothing a merge changes; its errors
        # are raised where they were.
        def read(path: Path) -> Future[tuple[Bundle, list[AnnotationRow | None]]]:
            return reader.submit(_read, path, max_bytes)

        ahead = read(files[0]) if files else None
        for i, path in enumerate(files):
            current, ahead = ahead, (read(files[i + 1]) if i + 1 < len(files) else None)
            if progress is not None:
                progress(i, len(files), path)
            _import_one(path, current, target, trusted, result, trust_new_signers)  # type: ignore[arg-type]
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


def _read(path: Path, max_bytes: int) -> tuple[Bundle, list[AnnotationRow | None]]:
    bundle = read_bundle(path, max_bytes=max_bytes, parse=False)  # lines are checked as merged
    return bundle, fast_lane.candidates(bundle.lines)


def _import_one(
    path: Path,
    reading: Future[tuple[Bundle, list[AnnotationRow | None]]],
    target: MergeTarget,
    trusted: TrustedKeys,
    result: ImportResult,
    trust_new_signers: bool,
) -> None:
    """`import_bundles` for one bundle (being read by `reading`): its report goes into `result`."""
    report = BundleReport(path, "refused")
    result.bundles.append(report)
    try:
        bundle, candidates = reading.result()
        report.signer, report.fingerprint = bundle.signer.reviewer_id, bundle.signer.fingerprint
        if not trusted.is_trusted(bundle.signer):
            if not trust_new_signers:
                report.untrusted_key = bundle.signer
                raise UntrustedSignerError(path, bundle.signer.reviewer_id, bundle.signer.fingerprint,
                                           bundle.signer.to_text().strip())
            trusted.trust(bundle.signer)
        merge_bundle(bundle, target, report, candidates=candidates)
    except BundleError as exc:
        report.status, report.error = "refused", str(exc)
    except WorkstationError as exc:
        # The database's fault (locked, disk full): the store rolled the bundle back.
        report.status, report.error = "refused", f"{path}: {exc}; nothing was imported from it"


def merge_bundle(bundle: Bundle, target: MergeTarget, report: BundleReport | None = None, *,
                 candidates: Sequence[AnnotationRow | None] | None = None) -> BundleReport:
    """Merge one checked bundle into `target`, or raise BundleError having written nothing.

    `candidates` are `fast_lane.candidates(bundle.lines)` when the caller made them already.
    """
    report = report if report is not None else BundleReport(bundle.path, "refused")
    report.sessions = bundle.session_ids
    touched = set(report.sessions)
    try:
        return _merge(bundle, target, report, touched, candidates)
    except BaseException:
        target.discard(sorted(touched))
        raise


def _merge(bundle: Bundle, target: MergeTarget, report: BundleReport, sessions: set[str],
           candidates: Sequence[AnnotationRow | None] | None) -> BundleReport:
    """`merge_bundle`; `sessions` (the manifest's) gets every session the bundle touches."""
    path = bundle.path
    known = target.known_events(list(sessions))
    seen: dict[str, tuple[int, str]] = {}
    trees: dict[str, Tree | None] = {}
    items: list[Item] = []
    texts: dict[str, str] = {}
    view_of = target.session_view
    views: dict[str, SessionView | None] = {}
    fast: dict[str, list[int]] = {}  # session -> where its fast-lane rows are in `items`
    fresh: set[str] = set()  # annotation ids the fast lane took from this bundle
    full: set[str] = set()  # sessions that take the full path for all of this bundle
    if candidates is None:
        candidates = fast_lane.candidates(bundle.lines)
    for number, text in enumerate(bundle.lines, start=1):
        row = candidates[number - 1] if candidates is not None else None
        if row is not None:
            event_id: str | None = row.event_id  # the lane's pattern starts as LINE_ID does
        else:
            m = LINE_ID.match(text)
            event_id = m.group(1) if m is not None else None
        if event_id is not None:
            stored = known.get(event_id)
            # A line byte for byte the same as a stored event is that event, valid and present:
            # skip it without parsing (a re-import, or the chains everyone already has).
            if stored == text:
                first = seen.setdefault(event_id, (number, text))
                if first[1] != text:
                    raise BundleError(path, f"event id {event_id} appears again with other content (first on "
                                      f"line {first[0]})", member=EVENTS, line=number)
                report.known_events += 1
                continue
            if row is not None and stored is None and event_id not in seen:
                lane_sid = row.session_id
                lane = True
                if lane_sid not in sessions:
                    known = _learn(target, lane_sid, sessions, known)
                    lane = event_id not in known  # else the full path says whether it is the same event
                if lane and lane_sid not in full:
                    if lane_sid in views:
                        view = views[lane_sid]
                    else:
                        view = views[lane_sid] = view_of(lane_sid)
                    if view is not None and fast_lane.fits(row, view, fresh):
                        seen[event_id] = (number, text)
                        fresh.add(row.annotation_id)
                        fast.setdefault(lane_sid, []).append(len(items))
                        items.append(row)
                        continue
        _value, event = parse_event(path, number, text)
        if check_duplicate(path, seen, event, number, text):
            continue
        sid = event.session_id
        if sid not in sessions:
            known = _learn(target, sid, sessions, known)
        stored = known.get(event.id)
        if stored is not None:
            if stored != text and stored != event_text(event):
                raise BundleError(path, f"event {event.id} is already in the database with other content "
                                  "(a duplicate id)", member=EVENTS, line=number)
            report.known_events += 1
            continue
        if event.type in LOCAL_EVENT_TYPES:
            report.skipped.append(Skipped(sid, event.id, LOCAL_REASON))
            continue
        if sid not in full:
            full.add(sid)
            trees[sid] = target.load_tree(sid)
            # What the fast lane took of this session goes the full way too, where it was in
            # the log: the tree must hold it for what follows.
            for index in fast.pop(sid, ()):
                taken = items[index]
                assert isinstance(taken, AnnotationRow)
                line = seen[taken.event_id][0]
                _value, earlier = parse_event(path, line, taken.text)
                items[index] = _apply(path, line, earlier, trees)
                texts[earlier.id] = taken.text
        items.append(_apply(path, number, event, trees))
        texts[event.id] = text
    chains: dict[str, str] = {}  # chain id -> session, of the chains the bundle adds
    for item in items:
        if not isinstance(item, AnnotationRow):
            chain = getattr(item[1].event.op, "chain", None)  # steps_added, challenge_answered
            if chain is not None:
                chains[chain.id] = item[1].event.session_id
    generations = [(chains[g["chain_id"]], g) for g in bundle.generations if g["chain_id"] in chains]
    if items:
        try:
            target.commit(items, generations, texts)
        except BadInputError as exc:  # e.g. the store's DuplicateEventError
            raise BundleError(path, str(exc)) from exc
    report.new_events = len(items)
    report.status = "imported" if items else "unchanged"
    return report


def _learn(target: MergeTarget, sid: str, sessions: set[str], known: Mapping[str, str]) -> Mapping[str, str]:
    """A session the manifest did not list: what the target holds of it joins `known`."""
    sessions.add(sid)
    more = target.known_events([sid])
    return known if more is known else {**known, **more}


def _apply(path: Path, number: int, event: Event, trees: dict[str, Tree | None]) -> tuple[Tree, Applied]:
    """Apply an event to its session's tree in `trees` (started here for `session_started`)."""
    sid = event.session_id
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
    return tree, Applied(event, changes)


def events_of(target: MemoryTarget) -> list[JSONObject]:
    """A memory target's events as dicts, in commit order."""
    return [json.loads(text) for text in target.events.values()]
