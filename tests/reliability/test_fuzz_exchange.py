"""Whole bundles, made from a real database and then damaged, imported through the real
`Exchange` and the real command line into a database that already holds a review.

`tests/exchange/test_bundle.py` fuzzes the reader on small hand-made bundles (bytes, flips,
garbage lines, mutated fields). Here the bundles come from a real store, and the damage is of two
kinds: tampering (the signature no longer fits: members renamed, added, doubled, dropped, bytes
changed, signature swapped, archive cut short) and changes signed again by the trusted
teammate's own key, which pass the signature and reach the event checks (fields dropped or
retyped, ids duplicated, lines cut, garbage, unknown sessions, lone surrogates, reordering).

Every import either refuses the bundle with a message naming its file, the database's event log
unchanged and intact (its hash chain verified), or imports it wholly into a database that then
loads every session. Tampered bundles and the changes known to be invalid must be refused.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
from pathlib import Path

import keyring.backends.fail
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import hostile_bundles as hb
from tests.reliability.conftest import FULL  # hypothesis sizes are fixed when a test is defined
from workstation.cli import main as cli_main
from workstation.core.model import Reviewer
from workstation.exchange.bundle import EVENTS, GENERATIONS, MANIFEST, SIGNATURE
from workstation.exchange.keys import KeyStore, TrustedKeys
from workstation.review import Review
from workstation.review_exchange import Exchange

ANA, BO = Reviewer("ana", "annotator"), Reviewer("bo", "expert")
PASS = "fuzz pass phrase"


def _session(review: Review, question: str, steps: str) -> None:
    sid = review.start(question).session.id
    review.add_steps(sid, steps)
    nodes = [n for n in review.tree(sid).shown_path() if n.kind != "question"]
    review.annotate(nodes[0].id, 1, note="checked", tags=("arith",))
    review.annotate(nodes[-1].id, -1, note="wrong")
    review.rewrite(nodes[-1].id, "So the answer is 48.")
    review.rename(sid, f"renamed {question}")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A teammate's database and signed bundle, and the target database that already holds a
    review of its own (pristine copy kept). Built once, under its own home folder."""
    folder = tmp_path_factory.mktemp("fuzz-exchange")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKSTATION_HOME", str(folder / "home"))
        keys = KeyStore(keyring.backends.fail.Keyring(), key_dir=folder / "keys")
        with Review.open(folder / "ana.duckdb", reviewer=ANA) as review:
            _session(review, "What is 12 * 4?", "Step 1: 12 * 4 = 48.\n\nStep 2: The answer is 46.")
            _session(review, "What is 7 + 5?", "1. 7 + 5 = 12.\n2. Check: 12 - 5 = 7.\n3. The answer is 12.")
            exchange = Exchange(review, keystore=keys, trusted=TrustedKeys(folder / "ana-trusted.json"))
            exchange.export("bundle", folder / "good.wsbundle", passphrase=PASS)
            key = exchange.signing_key(PASS)
        with Review.open(folder / "target.duckdb", reviewer=BO) as review:
            _session(review, "What is 9 * 9?", "Step 1: 9 * 9 = 81.\n\nStep 2: The answer is 81.")
    other = KeyStore(keyring.backends.fail.Keyring(), key_dir=folder / "other-keys").create("mallory", PASS)
    return {"folder": folder, "key": key, "other": other, "good": folder / "good.wsbundle",
            "pristine": folder / "target.duckdb"}


class Target:
    """The target database open for review, restored to its pristine copy after any import."""

    def __init__(self, world: dict, folder: Path) -> None:
        self.world = world
        self.db = folder / "target.duckdb"
        self.trusted = TrustedKeys(folder / "trusted.json")
        self.trusted.trust(world["key"].public)
        self.review: Review | None = None
        self.reset()

    def reset(self) -> None:
        if self.review is not None:
            self.review.close()
        shutil.copyfile(self.world["pristine"], self.db)
        self.review = Review.open(self.db, reviewer=BO)
        self.exchange = Exchange(self.review, trusted=self.trusted)
        self.events = self.review.store.verify_events()
        self.sessions = {s.id for s in self.review.sessions(include_deleted=True)}

    def check_import(self, bundle: Path, must_refuse: bool, what: str) -> str:
        """Import `bundle`; check the outcome and the database; returns "refused" or "imported"."""
        assert self.review is not None
        report = self.exchange.import_bundles([bundle]).bundles[0]
        store = self.review.store
        if report.status == "refused":
            assert report.error and str(bundle) in report.error, (what, report.error)
            assert "Traceback" not in report.error
            assert store.verify_events() == self.events, what  # nothing of it kept; the chain intact
            assert {s.id for s in self.review.sessions(include_deleted=True)} == self.sessions, what
            return "refused"
        assert not must_refuse, f"{what}: imported ({report.status}, {report.new_events} events)"
        assert store.verify_events() == self.events + report.new_events, what
        for summary in self.review.sessions(include_deleted=True):
            self.review.tree(summary.id)  # every session still loads
        self.reset()
        return "imported"

    def close(self) -> None:
        if self.review is not None:
            self.review.close()


@pytest.fixture
def target(world: dict, tmp_path: Path):
    t = Target(world, tmp_path)
    yield t
    t.close()


def test_the_untouched_bundle_imports(target: Target, tmp_path: Path) -> None:
    """The control: the bundle every case below starts from imports wholly."""
    assert target.check_import(target.world["good"], False, "untouched") == "imported"


# -- tampering: the signature no longer fits ------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _tamper(data: st.DataObject, members: list[tuple[str, bytes]], world: dict, raw: bytes) -> tuple[str, object]:
    kind = data.draw(st.sampled_from([
        "flip-byte", "manifest-field", "rename-escape", "extra-member", "duplicate-member", "drop-member",
        "signature-other-key", "signature-garbage", "truncate-archive", "random-bytes", "swap-members",
    ]))
    names = [n for n, _ in members]
    if kind == "flip-byte":
        name = data.draw(st.sampled_from([EVENTS, MANIFEST, GENERATIONS]))
        blob = bytearray(dict(members)[name] or b"\n")
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = (blob[i] + data.draw(st.integers(1, 255))) % 256
        return kind, [(n, bytes(blob) if n == name else b) for n, b in members]
    if kind == "manifest-field":
        manifest = json.loads(dict(members)[MANIFEST])
        field = data.draw(st.sampled_from(sorted(manifest)))
        manifest[field] = data.draw(_JSON.filter(lambda v: v != manifest[field]))
        blob = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        return kind, [(n, blob if n == MANIFEST else b) for n, b in members]
    if kind == "rename-escape":
        bad = data.draw(st.sampled_from(["../../x", "../events.jsonl", "/etc/passwd", "C:evil", "a\\b", "./../y",
                                         "sub/../../z", ""]))
        victim = data.draw(st.sampled_from(names))
        return f"{kind} {bad!r}", [(bad if n == victim else n, b) for n, b in members]
    if kind == "extra-member":
        extra = data.draw(st.sampled_from(["evil.sh", "events.jsonl.bak", "manifest.json/", "x/../manifest.txt"]))
        return kind, [*members, (extra, b"#!/bin/sh\nrm -rf ~\n")]
    if kind == "duplicate-member":
        name = data.draw(st.sampled_from(names))
        return kind, [*members, (name, dict(members)[name])]
    if kind == "drop-member":
        name = data.draw(st.sampled_from(names))
        return kind, [(n, b) for n, b in members if n != name]
    if kind == "signature-other-key":
        return kind, hb.resign(members, world["other"])  # a valid signature by a key nobody trusts
    if kind == "signature-garbage":
        blob = data.draw(st.sampled_from([b"", b"{}", b"[]", b"not json", b'{"algorithm":"ed25519"}',
                                          b'{"algorithm":"rsa","signature":"AAAA","public_key":"AAAA"}']))
        return kind, [(n, blob if n == SIGNATURE else b) for n, b in members]
    if kind == "swap-members":
        a, b = data.draw(st.permutations(names))[:2]
        content = dict(members)
        return kind, [(n, content[b] if n == a else content[a] if n == b else content[n]) for n in names]
    if kind == "truncate-archive":
        return kind, raw[: data.draw(st.integers(0, len(raw) - 1))]
    return kind, data.draw(st.binary(min_size=0, max_size=3000))


@settings(max_examples=600 if FULL else 40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_tampered_bundles_are_refused(target: Target, tmp_path: Path, figures, data: st.DataObject) -> None:
    world = target.world
    raw = world["good"].read_bytes()
    kind, changed = _tamper(data, hb.unpack(world["good"]), world, raw)
    path = tmp_path / "tampered.wsbundle"
    if isinstance(changed, bytes):
        path.write_bytes(changed)
    else:
        hb.pack(path, changed)
    assert target.check_import(path, True, kind) == "refused"
    figures.add("fuzzed bundles refused", 1)



# -- changes signed again by the trusted key ---------------------------------------------------


def _key_paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from _key_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*prefix, i)
            yield from _key_paths(v, (*prefix, i))


def _get(value, path):
    for step in path:
        value = value[step]
    return value


def _set(value, path, new):
    _get(value, path[:-1])[path[-1]] = new


def _strings(value):
    return [p for p in _key_paths(value) if isinstance(_get(value, p), str)]


def _resigned(data: st.DataObject, members: list[tuple[str, bytes]], key) -> tuple[str, bool, list]:
    lines = hb.event_lines(members)
    events = [json.loads(line) for line in lines]
    kind = data.draw(st.sampled_from([
        "drop-field", "retype-field", "duplicate-id", "garbage-line", "cut-line", "unknown-session",
        "lone-surrogate", "nul-in-text", "not-utf8", "crlf", "shuffle", "drop-line", "manifest-format",
        "manifest-schema", "manifest-signer", "manifest-types",
    ]))
    i = data.draw(st.integers(0, len(events) - 1))
    dump = lambda e: json.dumps(e, sort_keys=True, separators=(",", ":"))  # noqa: E731
    if kind in ("drop-field", "retype-field"):
        path = data.draw(st.sampled_from(list(_key_paths(events[i]))))
        if kind == "drop-field":
            del _get(events[i], path[:-1])[path[-1]]
        else:
            old = _get(events[i], path)
            _set(events[i], path, data.draw(_JSON.filter(lambda v: type(v) is not type(old))))
        # An event's id, type, session and payload are what it is: without them it cannot fit.
        must = path[0] in ("id", "type", "session_id", "payload") and len(path) == 1
        return f"{kind} {path}", must, hb.resign(hb.with_events(members, [dump(e) for e in events]), key)
    if kind == "duplicate-id":
        j = data.draw(st.integers(0, len(events) - 1).filter(lambda j: j != i))
        events[i]["id"] = events[j]["id"]
        return kind, True, hb.resign(hb.with_events(members, [dump(e) for e in events]), key)
    if kind == "garbage-line":
        lines[i] = data.draw(st.sampled_from(["", "null", "[]", "42", '"text"', "{", "{}", '{"id": 1}', "\x00"]))
        return kind, True, hb.resign(hb.with_events(members, lines), key)
    if kind == "cut-line":
        lines[i] = lines[i][: data.draw(st.integers(1, len(lines[i]) - 1))]
        return kind, True, hb.resign(hb.with_events(members, lines), key)
    if kind == "unknown-session":
        i = data.draw(st.integers(1, len(events) - 1).filter(lambda k: events[k]["type"] != "session_started"))
        events[i]["session_id"] = "f" * 16
        return kind, True, hb.resign(hb.with_events(members, [dump(e) for e in events]), key)
    if kind in ("lone-surrogate", "nul-in-text"):
        paths = [p for p in _strings(events[i]) if p[0] == "payload"]
        if not paths:
            return "no-op", False, hb.resign(members, key)
        path = data.draw(st.sampled_from(paths))
        _set(events[i], path, _get(events[i], path) + ("\ud800" if kind == "lone-surrogate" else "\x00"))
        text = json.dumps(events[i], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        lines[i] = text
        return f"{kind} {path}", False, hb.resign(hb.with_events(members, lines), key)
    if kind == "not-utf8":
        blob = "".join(line + "\n" for line in lines).encode()
        at = data.draw(st.integers(0, len(blob) - 1))
        return kind, True, hb.resign(hb.with_events(members, [], raw=blob[:at] + b"\xff\xfe" + blob[at:]), key)
    if kind == "crlf":
        return kind, False, hb.resign(hb.with_events(members, [], raw="".join(x + "\r\n" for x in lines).encode()), key)
    if kind == "shuffle":
        order = data.draw(st.permutations(list(range(len(lines)))))
        return kind, False, hb.resign(hb.with_events(members, [lines[k] for k in order]), key)
    if kind == "drop-line":
        return kind, False, hb.resign(hb.with_events(members, lines[:i] + lines[i + 1:]), key)
    if kind == "manifest-format":
        return kind, True, hb.resign(members, key, lambda m: m.__setitem__("format", "something-else"))
    if kind == "manifest-schema":
        value = data.draw(st.sampled_from([0, 2, 99, "1", None, 1.0, True]))
        return f"{kind} {value!r}", value != 1.0, hb.resign(members, key, lambda m: m.__setitem__("schema_version", value))
    if kind == "manifest-signer":
        value = data.draw(st.sampled_from(["", None, 7, "mallory"]))
        return f"{kind} {value!r}", True, hb.resign(members, key, lambda m: m["signer"].__setitem__("reviewer_id", value))
    field = data.draw(st.sampled_from(["sessions", "chains", "counts", "reviewers", "models"]))
    value = data.draw(_JSON)
    return f"{kind} {field}={value!r}", False, hb.resign(members, key, lambda m: m.__setitem__(field, value))


@settings(max_examples=1500 if FULL else 60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_signed_changes_are_refused_whole_or_imported_whole(
    target: Target, tmp_path: Path, figures, data: st.DataObject
) -> None:
    world = target.world
    kind, must, members = _resigned(data, hb.unpack(world["good"]), world["key"])
    path = tmp_path / "changed.wsbundle"
    hb.pack(path, members)
    outcome = target.check_import(path, must, kind)
    figures.add("fuzzed bundles refused" if outcome == "refused" else "fuzzed bundles imported whole", 1)



# -- through the command line ---------------------------------------------------------------


def test_the_command_line_refuses_damaged_bundles_in_one_line(world: dict, tmp_path: Path, figures) -> None:
    """`workstation import` for one damaged bundle of each kind: exit status 2, the file named,
    no traceback or crash log, and the database's events unchanged."""
    db = tmp_path / "target.duckdb"
    shutil.copyfile(world["pristine"], db)
    TrustedKeys().trust(world["key"].public)  # the default trust file, in the test's home
    members = hb.unpack(world["good"])
    lines = hb.event_lines(members)
    rng = random.Random(5)
    cases = {
        "escaping-name": hb.pack(tmp_path / "escape.wsbundle", [("../../x" if n == EVENTS else n, b) for n, b in members]),
        "tampered": hb.pack(tmp_path / "tampered.wsbundle", hb.with_events(members, lines[:-1])),
        "untrusted": hb.pack(tmp_path / "untrusted.wsbundle", hb.resign(members, world["other"])),
        "garbage-line": hb.pack(tmp_path / "garbage.wsbundle", hb.resign(hb.with_events(
            members, [*lines[:2], "{not json", *lines[2:]]), world["key"])),
        "duplicate-id": hb.pack(tmp_path / "dup.wsbundle", hb.resign(hb.with_events(members, [
            *lines, json.dumps({**json.loads(lines[rng.randrange(1, len(lines))]), "at": "2000-01-01T00:00:00Z"},
                               sort_keys=True, separators=(",", ":"))]), world["key"])),
        "not-a-zip": tmp_path / "text.wsbundle",
    }
    cases["not-a-zip"].write_text("hello", encoding="utf-8")
    with Review.open(db) as review:
        before = review.store.verify_events()
    for what, path in cases.items():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli_main(["import", "--db", str(db), str(path)])
        said = out.getvalue() + err.getvalue()
        assert status == 2, (what, said)
        assert str(path) in said and "Traceback" not in said, (what, said)
        with Review.open(db) as review:
            assert review.store.verify_events() == before, what
    from workstation import diagnostics

    assert not diagnostics.crash_log().exists()
    figures.add("fuzzed bundles refused", len(cases))
