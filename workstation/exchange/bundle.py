"""Review bundles: one signed file carrying chains and the event history of their feedback.

A bundle is a zip archive (deflated; one file to mail or copy) with exactly these members:

- `manifest.json`: format name, schema version, signer (reviewer id, public key,
  fingerprint), sessions and chains, counts, and the SHA-256 and size of every data member;
- `events.jsonl`: one event per line, as the event log stores it (unique id, session, type,
  payload, reviewer id and role, time) - the append-only history, oldest first;
- `generations.jsonl`: the engine's record of each chain (model file name and SHA-256, ...);
- `signature.json`: the signer's Ed25519 signature of the manifest's exact bytes. The
  manifest holds the members' checksums, so the signature covers everything.

`read_bundle` checks all of this and refuses a bundle with a `BundleError` naming the file,
member and line. Limits: the file at most `MAX_BUNDLE_BYTES`, each member unpacked at most
`MAX_MEMBER_BYTES`. Merging a checked bundle into a database is `workstation.exchange.merge`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from workstation import __version__
from workstation.core.codec import EVENT_FIELDS, EventData, event_text, record_fields
from workstation.core.codec import canonical as canonical  # the one text of an event or record
from workstation.core.history import Event, History
from workstation.core.jsontypes import JSONData, JSONObject, JSONValue
from workstation.core.model import ROLES, Annotation, now_iso
from workstation.core.ops import Annotated
from workstation.errors import BadInputError
from workstation.exchange.errors import BundleError, ExchangeError
from workstation.exchange.keys import PublicKey, SigningKey, decode_public
from workstation.exchange.result import ExportResult

if TYPE_CHECKING:
    from workstation.store import Store
    from workstation.store.records import Generation

BUNDLE_FORMAT = "reasoning-workstation-bundle"
#: The bundle schema this version writes and reads.
SCHEMA_VERSION = 1
#: Largest bundle file accepted (256 MiB); a larger one is refused before it is opened.
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
#: Largest unpacked member (1 GiB), against archives that unpack to far more than they weigh.
MAX_MEMBER_BYTES = 1024 * 1024 * 1024
MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
GENERATIONS = "generations.jsonl"
SIGNATURE = "signature.json"
MEMBERS = (MANIFEST, EVENTS, GENERATIONS, SIGNATURE)
_DATA_MEMBERS = (EVENTS, GENERATIONS)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Zip entries get a fixed time: the same content makes the same bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
#: Events that change only the database they happen in: deleting a session (and restoring
#: it) is each reviewer's own housekeeping. Bundles leave them out; importing skips them.
LOCAL_EVENT_TYPES = frozenset(("session_deleted", "session_restored"))
#: Why they are left out, as export and import results say it.
LOCAL_REASON = "session deletion is local to each database"


@dataclass
class Bundle:
    """A bundle whose file, signature and checksums passed: its manifest and raw event lines.

    Event lines are parsed and checked one by one with `parse_event` (the merge parses only
    the lines it does not already hold byte for byte; `read_bundle(parse=True)` parses all).
    """

    path: Path
    manifest: JSONObject
    signer: PublicKey
    #: The lines of events.jsonl, without their newlines, in order (line n is lines[n - 1]).
    lines: list[str]
    #: Generation records as dicts (fields of `workstation.store.Generation`).
    generations: list[JSONObject] = field(default_factory=list)

    @property
    def session_ids(self) -> list[str]:
        """The sessions the manifest says the events belong to."""
        sessions = self.manifest.get("sessions")
        if not isinstance(sessions, list):
            return []
        return [s for s in sessions if isinstance(s, str)]

    def events(self) -> list[tuple[int, Event, str]]:
        """Every event, parsed and checked: (line number, event, line text), duplicates of an
        earlier line dropped. Raises BundleError naming the line."""
        out = []
        seen: dict[str, tuple[int, str]] = {}
        for number, text in enumerate(self.lines, start=1):
            _value, event = parse_event(self.path, number, text)
            if check_duplicate(self.path, seen, event, number, text):
                continue
            out.append((number, event, text))
        return out


# -- choosing what goes in -------------------------------------------------------------


def select_events(events: Sequence[EventData], chain_ids: Iterable[str] | None = None) -> list[EventData]:
    """The events a bundle of `chain_ids` needs (all of them when None), in log order.

    A chain needs the events that built it and everything above it (session start, the
    chains its branch hangs from), and the feedback on its nodes: annotations and their
    undo, adjudications, rewrites, challenges and replies, branch choices and deletions. When
    that selection would not replay on its own (a deletion spanning unselected branches), the
    session's whole history goes in instead: a bundle must always import.
    """
    copies: list[EventData] = [dict(e) for e in events]
    if chain_ids is None:
        return copies
    wanted = set(chain_ids)
    by_session: dict[str, list[EventData]] = {}
    for e in copies:
        by_session.setdefault(e["session_id"], []).append(e)
    chosen: set[str] = set()
    for session_events in by_session.values():
        picked = _select_session(session_events, wanted)
        if not picked:
            continue
        try:
            History.replay(Event.from_dict(e) for e in session_events if e["id"] in picked)
        except BadInputError:
            picked = {e["id"] for e in session_events}
        chosen |= picked
    return [e for e in copies if e["id"] in chosen]


def _select_session(events: list[EventData], wanted: set[str]) -> set[str]:
    chains: dict[str, EventData] = {}  # chain id -> chain payload
    node_chain: dict[str, str] = {}
    for e in events:
        if e["type"] in ("steps_added", "challenge_answered"):
            chain = e["payload"]["chain"]
            chains[chain["id"]] = chain
            for node in e["payload"]["nodes"]:
                node_chain[node["id"]] = chain["id"]
    keep_chains = {c for c in wanted if c in chains}
    if not keep_chains:
        return set()
    # Close upwards: a chain needs the chain its parent node belongs to.
    todo = list(keep_chains)
    while todo:
        parent_chain = node_chain.get(chains[todo.pop()]["parent_id"])
        if parent_chain is not None and parent_chain not in keep_chains:
            keep_chains.add(parent_chain)
            todo.append(parent_chain)
    nodes = {n for n, c in node_chain.items() if c in keep_chains}
    annotations: set[str] = set()
    picked: set[str] = set()
    for e in events:
        t, p = e["type"], e["payload"]
        keep = False
        if t in ("session_started", "session_renamed"):
            keep = True
        elif t == "steps_added":
            keep = p["chain"]["id"] in keep_chains
        elif t == "challenge_asked":
            keep = p["node"]["parent_id"] in nodes
            if keep:
                nodes.add(p["node"]["id"])
        elif t == "challenge_answered":
            keep = p["chain"]["parent_id"] in nodes
            if keep:
                nodes.update(n["id"] for n in p["nodes"])
        elif t in ("annotated", "adjudicated"):
            keep = p["annotation"]["node_id"] in nodes
            if keep:
                annotations.add(p["annotation"]["id"])
        elif t in ("annotation_retracted", "annotation_restored"):
            keep = p["annotation_id"] in annotations
        elif t in ("step_rewritten", "version_selected", "branch_deleted", "branch_restored"):
            keep = p["node_id"] in nodes
        elif t in ("branch_preferred", "branch_shown"):
            keep = p["parent_id"] in nodes and (p["node_id"] is None or p["node_id"] in nodes)
        if keep:
            picked.add(e["id"])
    return picked


# -- writing ---------------------------------------------------------------------------


def write_bundle(
    out: Path,
    events: Sequence[EventData],
    key: SigningKey,
    *,
    generations: Sequence[Mapping[str, JSONData]] = (),
    chain_ids: Iterable[str] | None = None,
    signer_role: str = "annotator",
) -> ExportResult:
    """Write a signed bundle of `events` (event dicts, log order) and generation records.

    `chain_ids` narrows the events to those chains (see `select_events`); generation records
    of chains left out are dropped. Session deletions and restorations are left out (local to
    each database; listed in the result's skips). Returns what was written; rows = events.
    """
    out = Path(out)
    result = ExportResult("bundle", out)
    selected = []
    for e in select_events(events, chain_ids):
        if e["type"] in LOCAL_EVENT_TYPES:
            result.skip(e["session_id"], e["id"], LOCAL_REASON)
        else:
            selected.append(e)
    chains_in = {
        e["payload"]["chain"]["id"] for e in selected if e["type"] in ("steps_added", "challenge_answered")
    }
    gens = [dict(g) for g in generations if g.get("chain_id") in chains_in]
    if chain_ids is not None:
        missing = set(chain_ids) - chains_in
        for chain_id in sorted(missing):
            result.skip("", chain_id, "no such chain in the selected sessions")
    event_bytes = "".join(canonical(e) + "\n" for e in selected).encode("utf-8")
    gen_bytes = "".join(canonical(g) + "\n" for g in gens).encode("utf-8")
    reviewers = sorted({(e["reviewer_id"], e["role"]) for e in selected})
    models = sorted({(_text(g.get("model_file")), _text(g.get("model_sha256"))) for g in gens})
    manifest: JSONObject = {
        "format": BUNDLE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "created_at": now_iso(),
        "app_version": __version__,
        "signer": {"reviewer_id": key.reviewer_id, "role": signer_role, "public_key": key.public.b64,
                   "fingerprint": key.public.fingerprint},
        "sessions": list(dict.fromkeys(e["session_id"] for e in selected)),
        "chains": sorted(chains_in),
        "reviewers": [{"id": r, "role": role} for r, role in reviewers],
        "models": [{"model_file": n, "sha256": s or None} for n, s in models],
        "counts": {
            "events": len(selected),
            "sessions": len({e["session_id"] for e in selected}),
            "chains": len(chains_in),
            "annotations": sum(e["type"] in ("annotated", "adjudicated") for e in selected),
            "reviewers": len({r for r, _ in reviewers}),
            "generations": len(gens),
        },
        "files": {
            EVENTS: {"sha256": hashlib.sha256(event_bytes).hexdigest(), "bytes": len(event_bytes)},
            GENERATIONS: {"sha256": hashlib.sha256(gen_bytes).hexdigest(), "bytes": len(gen_bytes)},
        },
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    signature = {
        "algorithm": "ed25519",
        "signed_member": MANIFEST,
        "public_key": key.public.b64,
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for name, data in ((MANIFEST, manifest_bytes), (EVENTS, event_bytes), (GENERATIONS, gen_bytes),
                               (SIGNATURE, (json.dumps(signature, indent=2) + "\n").encode())):
                info = zipfile.ZipInfo(name, _ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    result.rows = len(selected)
    result.files.append(out)
    result.manifest = manifest
    return result


def _text(value: JSONData) -> str:
    """A generation record's name or hash, "" when it has none."""
    return value if isinstance(value, str) else ""


def bundle_from_store(
    store: Store,
    out: Path,
    key: SigningKey,
    *,
    session_ids: Sequence[str] | None = None,
    chain_ids: Iterable[str] | None = None,
    signer_role: str = "annotator",
) -> ExportResult:
    """Write a bundle of sessions (default: all not deleted) or chains from a `workstation.store.Store`."""
    if session_ids is None:
        session_ids = [s.id for s in store.list_sessions()]
    events: list[EventData] = [e.to_dict() for sid in session_ids for e in store.events(sid)]
    generations = []
    for e in events:
        if e["type"] in ("steps_added", "challenge_answered"):
            generation = store.generation(e["payload"]["chain"]["id"])
            if generation is not None:
                generations.append(generation_to_dict(generation))
    return write_bundle(out, events, key, generations=generations, chain_ids=chain_ids, signer_role=signer_role)


def generation_to_dict(generation: Generation) -> JSONObject:
    """A `workstation.store.Generation` as plain data."""
    data = asdict(generation)
    data["sampling"] = dict(data["sampling"])
    data["extra"] = dict(data["extra"])
    data["step_confidence"] = [dict(c) if c is not None else None for c in data["step_confidence"]]
    return data


# -- reading ---------------------------------------------------------------------------


def read_bundle(path: Path | str, *, max_bytes: int = MAX_BUNDLE_BYTES, parse: bool = True) -> Bundle:
    """Open and check a bundle: size, members, schema, signature, checksums, and (with
    `parse`) every event line.

    Trust is not decided here (see `merge.import_bundles`): the signature is checked against
    the key the bundle names. Raises `BundleError` naming the file, member and line.
    """
    path = Path(path)
    members = _read_members(path, max_bytes)
    manifest = _manifest(path, members[MANIFEST])
    signer = _verify_signature(path, manifest, members[MANIFEST], members.get(SIGNATURE))
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(path, "the manifest has no 'files' checksums", member=MANIFEST)
    for name in _DATA_MEMBERS:
        expected = files.get(name)
        data = members[name]
        if not isinstance(expected, dict) or not isinstance(expected.get("sha256"), str):
            raise BundleError(path, f"the manifest has no checksum for {name}", member=MANIFEST)
        if expected.get("bytes") != len(data) or hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise BundleError(path, "checksum mismatch: the member is not what was signed", member=name)
    lines = _lines(path, members[EVENTS], EVENTS)
    counts = manifest.get("counts")
    if not isinstance(counts, dict):
        counts = {}
    if counts.get("events") != len(lines):
        raise BundleError(path, f"the manifest counts {counts.get('events')} events, the file has {len(lines)}",
                          member=EVENTS)
    bundle = Bundle(path, manifest, signer, lines, _generations(path, members[GENERATIONS]))
    if parse:
        bundle.events()
    return bundle


def _lines(path: Path, data: bytes, member: str) -> list[str]:
    """A JSON Lines member as text lines; BundleError for bad UTF-8 or a cut-off last line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(path, "not UTF-8 text", member=member, line=data[: exc.start].count(b"\n") + 1) from exc
    if not text:
        return []
    if not text.endswith("\n"):
        raise BundleError(path, "the last line is cut off (truncated)", member=member, line=text.count("\n") + 1)
    return text[:-1].split("\n")


def _read_members(path: Path, max_bytes: int) -> dict[str, bytes]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BundleError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not path.is_file():
        raise BundleError(path, "is not a file")
    if size == 0:
        raise BundleError(path, "is empty")
    if size > max_bytes:
        raise BundleError(path, f"is {_human(size)}, over the limit of {_human(max_bytes)} for a bundle")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise BundleError(path, "is not a review bundle, or is truncated (no complete zip archive)") from exc
    except OSError as exc:
        raise BundleError(path, f"cannot be read ({exc})") from exc
    except (NotImplementedError, ValueError, EOFError) as exc:  # e.g. a damaged "version needed" field
        raise BundleError(path, f"is not a review bundle, or is damaged ({exc})") from exc
    members: dict[str, bytes] = {}
    with zf:
        for info in zf.infolist():
            name = info.filename
            if not _inside(name):
                raise BundleError(path, f"member name '{name}' escapes the bundle's folder")
            if name not in MEMBERS:
                raise BundleError(path, f"unexpected member '{name}' (a bundle holds {', '.join(MEMBERS)})")
            if name in members:
                raise BundleError(path, f"member '{name}' appears twice")
            if info.file_size > MAX_MEMBER_BYTES:
                raise BundleError(path, f"unpacks to {_human(info.file_size)}, over the limit of "
                                  f"{_human(MAX_MEMBER_BYTES)}", member=name)
            try:
                with zf.open(info) as f:
                    data = f.read(MAX_MEMBER_BYTES + 1)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
                raise BundleError(path, f"is damaged or truncated ({exc})", member=name) from exc
            except Exception as exc:  # zlib.error and friends from a mangled stream
                raise BundleError(path, f"is damaged ({type(exc).__name__}: {exc})", member=name) from exc
            if len(data) > MAX_MEMBER_BYTES:
                raise BundleError(path, f"unpacks to more than {_human(MAX_MEMBER_BYTES)}", member=name)
            members[name] = data
    if MANIFEST not in members:
        raise BundleError(path, "has no manifest.json: not a review bundle")
    if SIGNATURE not in members:
        raise BundleError(path, "is not signed (no signature.json); ask its author to export it again")
    for name in _DATA_MEMBERS:
        if name not in members:
            raise BundleError(path, f"has no {name}")
    return members


def _human(n: int) -> str:
    """A size as people read it: 812 bytes, 3.2 KiB, 256 MiB."""
    if n < 1024:
        return f"{n} bytes"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    raise AssertionError  # pragma: no cover


def _inside(name: str) -> bool:
    """Whether a member name stays inside the folder it would be unpacked to."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return False
    return ".." not in PurePosixPath(name).parts


def _json_object(path: Path, data: bytes, member: str) -> JSONObject:
    try:
        value: JSONValue = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(path, f"is not valid JSON ({exc})", member=member) from exc
    if not isinstance(value, dict):
        raise BundleError(path, "must be a JSON object", member=member)
    return value


def _manifest(path: Path, data: bytes) -> JSONObject:
    manifest = _json_object(path, data, MANIFEST)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(path, f"is not a review bundle (format {manifest.get('format')!r})", member=MANIFEST)
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(path, "has no schema version", member=MANIFEST)
    if version > SCHEMA_VERSION:
        raise BundleError(path, f"has schema version {version}, written by a newer version of the workstation "
                          f"(this one reads version {SCHEMA_VERSION}); update to import it", member=MANIFEST)
    if version != SCHEMA_VERSION:
        raise BundleError(path, f"has schema version {version}, which this version does not read "
                          f"(it reads version {SCHEMA_VERSION})", member=MANIFEST)
    return manifest


def _verify_signature(path: Path, manifest: JSONObject, manifest_bytes: bytes, data: bytes | None) -> PublicKey:
    assert data is not None
    signature = _json_object(path, data, SIGNATURE)
    signer = manifest.get("signer")
    reviewer_id = signer.get("reviewer_id") if isinstance(signer, dict) else None
    if not isinstance(signer, dict) or not isinstance(reviewer_id, str) or not reviewer_id:
        raise BundleError(path, "the manifest does not name its signer", member=MANIFEST)
    if signature.get("algorithm") != "ed25519":
        raise BundleError(path, f"unknown signature algorithm {signature.get('algorithm')!r}", member=SIGNATURE)
    try:
        raw = decode_public(signature.get("public_key"), "signature.json")
        sig_text = signature.get("signature") or ""
        if not isinstance(sig_text, str):
            raise TypeError(f"the signature is {type(sig_text).__name__}, not text")
        sig = base64.b64decode(sig_text, validate=True)
    except (ExchangeError, ValueError, TypeError) as exc:
        raise BundleError(path, "the signature is malformed", member=SIGNATURE) from exc
    if signer.get("public_key") != signature.get("public_key"):
        raise BundleError(path, "the signature's key is not the signer's key in the manifest", member=SIGNATURE)
    key = PublicKey(reviewer_id, raw)
    if not key.verify(sig, manifest_bytes):
        raise BundleError(path, "bad signature: the bundle was changed after it was signed, or is damaged",
                          member=SIGNATURE)
    return key


# A C function the json module sets on every decoder instance but its stubs do not declare.
_SCAN: Callable[[str, int], tuple[JSONValue, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: str) -> JSONValue:
    """`json.loads` for one line, without its per-call set-up when the line is plain JSON
    with no surrounding blanks (as bundles write it); anything else takes `json.loads`,
    which also gives the exact error."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        value = json.loads(text)
    else:
        if end != len(text):
            value = json.loads(text)
    return value


def parse_event(path: Path, number: int, text: str) -> tuple[JSONObject, Event]:
    """One line of events.jsonl, fully checked: JSON, fields, role, operation, names."""
    try:
        value = _loads(text)
    except ValueError as exc:
        raise BundleError(path, f"not valid JSON ({exc})", member=EVENTS, line=number) from exc
    if not isinstance(value, dict):
        raise BundleError(path, "an event must be a JSON object", member=EVENTS, line=number)
    event_id = value.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise BundleError(path, "the event has no id", member=EVENTS, line=number)
    if value.get("role") not in ROLES:
        raise BundleError(path, f"unknown reviewer role {value.get('role')!r} (known: {', '.join(ROLES)})",
                          member=EVENTS, line=number)
    sid, rid, at = value.get("session_id"), value.get("reviewer_id"), value.get("at")
    if not (sid and rid and at and type(sid) is str and type(rid) is str and type(at) is str):
        raise BundleError(path, "an event's session, reviewer and time must be non-empty text", member=EVENTS,
                          line=number)
    try:
        event = _fast_event(value) or Event.from_dict(value)
    except (BadInputError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BundleError(path, f"not a valid event: {exc}", member=EVENTS, line=number) from exc
    _check_names(path, event, number)
    return value, event


_ANNOTATION_KEYS = frozenset(f.name for f in record_fields(Annotation))
_ANNOTATION_TEXT = tuple(f.name for f in record_fields(Annotation) if f.declared == "str")
_EVENT_KEYS = frozenset(f.name for f in EVENT_FIELDS)


def _fast_event(event: JSONObject) -> Event | None:
    """The common `annotated` event built directly (the generic `from_dict` costs several
    times more); None for anything not exactly of that shape, which takes the generic path.
    The objects' own checks (label, role, severity, tags) run either way."""
    # Any: the event's text fields were checked by `parse_event`, and the annotation's below,
    # each by one type test; the constructors then take them by name.
    value: dict[str, Any] = event
    payload = value.get("payload")
    if value.get("type") != "annotated" or value.keys() != _EVENT_KEYS or not isinstance(payload, dict):
        return None
    a = payload.get("annotation")
    if payload.keys() != {"annotation"} or not isinstance(a, dict) or a.keys() != _ANNOTATION_KEYS:
        return None
    if not isinstance(a["tags"], list) or (value["reverts"] is not None and not isinstance(value["reverts"], str)):
        return None
    if any(type(a[k]) is not str for k in _ANNOTATION_TEXT) or type(a["retracted"]) is not bool:
        return None  # the generic path says which field is wrong
    # By name: the keys are exactly the declared fields (checked above), whatever fields come later.
    annotation = Annotation(**{**a, "tags": tuple(a["tags"])})
    return Event(value["id"], value["session_id"], Annotated(annotation), value["reviewer_id"], value["role"],
                 value["at"], value["reverts"])


def check_duplicate(path: Path, seen: dict[str, tuple[int, str]], event: Event, number: int, text: str) -> bool:
    """Whether this event's id came earlier in the bundle (True: skip it); BundleError when it
    came with other content. Records it in `seen` otherwise."""
    first = seen.get(event.id)
    if first is None:
        seen[event.id] = (number, text)
        return False
    if first[1] != text and same_event_text(first[1]) != event_text(event):
        raise BundleError(path, f"event id {event.id} appears again with other content (first on line {first[0]})",
                          member=EVENTS, line=number)
    return True


def same_event_text(text: str) -> str | None:
    """The canonical text of an event line (None if it is not a valid event)."""
    try:
        return event_text(Event.from_dict(json.loads(text)))
    except (BadInputError, TypeError, ValueError, KeyError, AttributeError):
        return None


def _check_names(path: Path, event: Event, line: int) -> None:
    # Model names may later be looked up as files in the models folder: none may climb out of it.
    chain = getattr(event.op, "chain", None)
    if chain is not None and chain.model and not _inside(chain.model):
        raise BundleError(path, f"model name '{chain.model}' would escape its folder",
                          member=EVENTS, line=line)


def _generations(path: Path, data: bytes) -> list[JSONObject]:
    out = []
    for number, text in enumerate(_lines(path, data, GENERATIONS), start=1):
        try:
            value: JSONValue = json.loads(text)
        except ValueError as exc:
            raise BundleError(path, f"not valid JSON ({exc})", member=GENERATIONS, line=number) from exc
        if not isinstance(value, dict) or not isinstance(value.get("chain_id"), str):
            raise BundleError(path, "a generation record must be an object with a chain_id", member=GENERATIONS,
                              line=number)
        model_file = value.get("model_file")
        if not isinstance(model_file, str) or (model_file and not _inside(model_file)):
            raise BundleError(path, f"model file name {model_file!r} would escape its folder", member=GENERATIONS,
                              line=number)
        sha = value.get("model_sha256")
        if sha is not None and (not isinstance(sha, str) or not _SHA256.fullmatch(sha)):
            raise BundleError(path, "model_sha256 is not a SHA-256 in hex", member=GENERATIONS, line=number)
        out.append(value)
    return out
