"""Bundles: what they hold, and every kind of bad input refused with a clear message, nothing
imported. The importer is fuzzed with hypothesis."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exchange.factory import ADA, rich_review
from tests.exchange.forge import forge, members, rezip
from workstation.exchange.bundle import (
    EVENTS,
    GENERATIONS,
    MANIFEST,
    SIGNATURE,
    canonical,
    read_bundle,
    select_events,
    write_bundle,
)
from workstation.exchange.errors import BundleError
from workstation.exchange.keys import KeyStore, SigningKey, TrustedKeys
from workstation.exchange.merge import MemoryTarget, import_bundles


@pytest.fixture
def key(keystore: KeyStore) -> SigningKey:
    return keystore.create("ada")


@pytest.fixture
def events() -> list[dict]:
    r, _ = rich_review()
    return r.event_dicts()


@pytest.fixture
def good(tmp_path: Path, key: SigningKey, events: list[dict]) -> Path:
    path = tmp_path / "ada.wsbundle"
    write_bundle(path, events, key, generations=[{"chain_id": events[1]["payload"]["chain"]["id"],
                                                  "model_file": "m.gguf", "model_sha256": "ab" * 32}])
    return path


def test_bundle_holds_events_manifest_and_signature(good: Path, key: SigningKey, events: list[dict]) -> None:
    assert set(members(good)) == {MANIFEST, EVENTS, GENERATIONS, SIGNATURE}
    bundle = read_bundle(good)
    assert bundle.signer == key.public
    assert bundle.lines == [canonical(e) for e in events]
    assert [e.to_dict() for _, e, _ in bundle.events()] == events
    m = bundle.manifest
    assert m["schema_version"] == 1 and m["counts"]["events"] == len(events)
    assert m["counts"]["annotations"] == sum(e["type"] == "annotated" for e in events)
    assert {r["id"] for r in m["reviewers"]} == {"lead", "ada", "bo"}
    assert m["models"] == [{"model_file": "m.gguf", "sha256": "ab" * 32}]
    assert len(bundle.generations) == 1


def test_selecting_chains_keeps_what_they_need(events: list[dict]) -> None:
    regenerated = [e for e in events if e["type"] == "steps_added"][1]["payload"]["chain"]["id"]
    picked = select_events(events, [regenerated])
    types = [e["type"] for e in picked]
    # The regenerated chain hangs from step 1 of the first chain, so that chain comes too.
    assert types.count("steps_added") == 2 and types[0] == "session_started"
    first_chain_only = select_events(events, [events[1]["payload"]["chain"]["id"]])
    assert sum(e["type"] == "steps_added" for e in first_chain_only) == 1
    assert "branch_preferred" not in [e["type"] for e in first_chain_only]
    assert any(e["type"] == "challenge_answered" for e in first_chain_only)


def _refused(path: Path, trusted: TrustedKeys, *, max_bytes: int | None = None) -> str:
    """Import `path` into an empty target; assert it was refused and nothing imported."""
    target = MemoryTarget()
    kwargs = {"max_bytes": max_bytes} if max_bytes else {}
    result = import_bundles([path], target, trusted, trust_new_signers=True, **kwargs)
    (report,) = result.bundles
    assert report.status == "refused", report
    assert target.events == {} and target.trees == {}
    assert str(path) in report.error and "nothing was imported" in report.error
    return report.error


def _lines(events: list[dict]) -> bytes:
    return "".join(canonical(e) + "\n" for e in events).encode()


def test_malformed_line(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys) -> None:
    data = _lines(events[:3]) + b"{not json\n" + _lines(events[3:])
    error = _refused(forge(tmp_path / "b.wsbundle", key, data), trusted)
    assert "events.jsonl, line 4" in error and "not valid JSON" in error


def test_wrong_schema_version(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys) -> None:
    error = _refused(forge(tmp_path / "b.wsbundle", key, _lines(events), manifest={"schema_version": 99}), trusted)
    assert "schema version 99" in error and "newer version" in error


def test_truncated_file(good: Path, trusted: TrustedKeys) -> None:
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    assert "truncated" in _refused(good, trusted)


def test_truncated_last_line(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys) -> None:
    error = _refused(forge(tmp_path / "b.wsbundle", key, _lines(events)[:-20]), trusted)
    assert "cut off" in error


def test_oversized_file_states_the_limit(good: Path, trusted: TrustedKeys) -> None:
    error = _refused(good, trusted, max_bytes=1024)
    assert "over the limit of 1 KiB for a bundle" in error
    from workstation.exchange.bundle import MAX_BUNDLE_BYTES, _human

    assert _human(MAX_BUNDLE_BYTES) == "256 MiB"


def test_bad_checksum(good: Path, events: list[dict], trusted: TrustedKeys) -> None:
    m = members(good)
    m[EVENTS] = m[EVENTS].replace(b'"label":-1', b'"label":1', 1)
    error = _refused(rezip(good, m), trusted)
    assert "events.jsonl" in error and "checksum mismatch" in error


def test_tampered_manifest_breaks_the_signature(good: Path, trusted: TrustedKeys) -> None:
    m = members(good)
    manifest = json.loads(m[MANIFEST])
    manifest["signer"]["reviewer_id"] = "lead"
    m[MANIFEST] = json.dumps(manifest).encode()
    error = _refused(rezip(good, m), trusted)
    assert "bad signature" in error


def test_signature_by_another_key(good: Path, keystore: KeyStore, trusted: TrustedKeys) -> None:
    m = members(good)
    other = keystore.create("mallory")
    sig = json.loads(m[SIGNATURE])
    sig["public_key"] = other.public.b64
    m[SIGNATURE] = json.dumps(sig).encode()
    assert "not the signer's key" in _refused(rezip(good, m), trusted)


def test_missing_signature(good: Path, trusted: TrustedKeys) -> None:
    m = members(good)
    del m[SIGNATURE]
    assert "is not signed" in _refused(rezip(good, m), trusted)


def test_duplicate_event_ids_with_different_content(tmp_path: Path, key: SigningKey, events: list[dict],
                                                    trusted: TrustedKeys) -> None:
    changed = json.loads(json.dumps(events[2]))
    changed["payload"]["annotation"]["note"] = "something else"
    error = _refused(forge(tmp_path / "b.wsbundle", key, _lines(events) + _lines([changed])), trusted)
    assert f"line {len(events) + 1}" in error and "appears again with other content (first on line 3)" in error


def test_same_event_twice_in_a_bundle_is_harmless(tmp_path: Path, key: SigningKey, events: list[dict],
                                                  trusted: TrustedKeys) -> None:
    path = forge(tmp_path / "b.wsbundle", key, _lines(events) + _lines([events[2]]))
    target = MemoryTarget()
    assert import_bundles([path], target, trusted, trust_new_signers=True).ok
    assert len(target.events) == len(events)


def test_unknown_roles(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys) -> None:
    bad = json.loads(json.dumps(events))
    bad[2]["role"] = "admin"
    error = _refused(forge(tmp_path / "b.wsbundle", key, _lines(bad)), trusted)
    assert "line 3" in error and "unknown reviewer role 'admin'" in error
    bad = json.loads(json.dumps(events))
    bad[2]["payload"]["annotation"]["role"] = "overlord"
    error = _refused(forge(tmp_path / "c.wsbundle", key, _lines(bad)), trusted)
    assert "line 3" in error and "overlord" in error


def test_names_escaping_the_folder(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys) -> None:
    path = forge(tmp_path / "b.wsbundle", key, _lines(events), extra_members={"../../x": b"boo"})
    assert "member name '../../x' escapes the bundle's folder" in _refused(path, trusted)
    path = forge(tmp_path / "c.wsbundle", key, _lines(events), extra_members={"/etc/passwd": b"boo"})
    assert "escapes" in _refused(path, trusted)
    gen = canonical({"chain_id": "c", "model_file": "../../x"}).encode() + b"\n"
    path = forge(tmp_path / "d.wsbundle", key, _lines(events), gen)
    assert "generations.jsonl, line 1" in (error := _refused(path, trusted)) and "escape" in error
    bad = json.loads(json.dumps(events))
    bad[1]["payload"]["chain"]["model"] = "../../models/x.gguf"
    assert "line 2" in (error := _refused(forge(tmp_path / "e.wsbundle", key, _lines(bad)), trusted))
    assert "escape" in error


def test_not_a_bundle(tmp_path: Path, trusted: TrustedKeys) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert "not a review bundle" in _refused(path, trusted)
    empty = tmp_path / "empty.wsbundle"
    empty.write_bytes(b"")
    assert "is empty" in _refused(empty, trusted)
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    assert "unexpected member" in _refused(tmp_path / "z.zip", trusted)


def test_damaged_zip_directory(good: Path, tmp_path: Path, trusted: TrustedKeys) -> None:
    """A flipped "version needed to extract" byte made zipfile raise NotImplementedError,
    which escaped the importer (found by the fuzz test below)."""
    data = bytearray(good.read_bytes())
    data[data.index(b"PK\x01\x02") + 6] = 0xFF  # the first central directory entry's field
    path = tmp_path / "damaged.wsbundle"
    path.write_bytes(bytes(data))
    assert "is not a review bundle, or is damaged" in _refused(path, trusted)


def test_event_that_does_not_fit_refuses_the_whole_bundle(tmp_path: Path, key: SigningKey, events: list[dict],
                                                          trusted: TrustedKeys) -> None:
    bad = json.loads(json.dumps(events))
    bad[-1]["payload"]["annotation"]["node_id"] = "0" * 16  # an annotation of a step nobody has
    error = _refused(forge(tmp_path / "b.wsbundle", key, _lines(bad)), trusted)
    assert f"line {len(events)}" in error and "does not fit" in error


# -- fuzzing -------------------------------------------------------------------------

_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(data=st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes_are_refused_cleanly(tmp_path: Path, trusted: TrustedKeys, data: bytes) -> None:
    path = tmp_path / "fuzz.wsbundle"
    path.write_bytes(data)
    with pytest.raises(BundleError):
        read_bundle(path)


@_FUZZ
@given(position=st.integers(min_value=0), value=st.integers(min_value=1, max_value=255))
def test_fuzz_flipped_bytes(good: Path, trusted: TrustedKeys, tmp_path: Path, position: int, value: int) -> None:
    data = bytearray(good.read_bytes())
    data[position % len(data)] ^= value
    path = tmp_path / "flipped.wsbundle"
    path.write_bytes(bytes(data))
    target = MemoryTarget()
    result = import_bundles([path], target, trusted, trust_new_signers=True)
    # Either the flip hit bytes nothing reads (zip padding, timestamps) and all is imported,
    # or the bundle is refused and nothing is.
    if result.ok:
        assert len(target.events) == read_bundle(good).manifest["counts"]["events"]
    else:
        assert target.events == {} and "nothing was imported" in result.bundles[0].error


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@_FUZZ
@given(lines=st.lists(st.one_of(_json_values.map(lambda v: json.dumps(v).encode()),
                                st.binary(max_size=40).filter(lambda b: b"\n" not in b)), min_size=1, max_size=5),
       keep=st.integers(min_value=0, max_value=25))
def test_fuzz_signed_garbage_lines(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys,
                                   lines: list[bytes], keep: int) -> None:
    data = _lines(events[:keep]) + b"".join(line + b"\n" for line in lines)
    path = forge(tmp_path / "garbage.wsbundle", key, data)
    target = MemoryTarget()
    result = import_bundles([path], target, trusted, trust_new_signers=True)
    assert not result.ok
    assert target.events == {}
    assert "events.jsonl, line" in result.bundles[0].error


def test_fuzz_mutated_event_fields(tmp_path: Path, key: SigningKey, events: list[dict], trusted: TrustedKeys) -> None:
    """Every field of some events (the first, a chain, an annotation, the last) replaced by a
    value of the wrong type: refused cleanly."""
    import itertools

    count = 0
    picked = (0, 1, 2, len(events) - 1)
    for i, field in itertools.product(picked, ("id", "session_id", "type", "payload", "reviewer_id",
                                                            "role", "at")):
        for wrong in (None, 7, [], {"x": 1}):
            bad = json.loads(json.dumps(events))
            bad[i][field] = wrong
            path = forge(tmp_path / f"m{count}.wsbundle", key, _lines(bad))
            count += 1
            target = MemoryTarget()
            result = import_bundles([path], target, trusted, trust_new_signers=True)
            assert not result.ok, (i, field, wrong)
            assert target.events == {}
    assert count == len(picked) * 7 * 4


def test_ada_key_fixture_is_ada(key: SigningKey) -> None:
    assert key.reviewer_id == ADA.id


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=30), _json_values.map(json.dumps)))
def test_fast_json_line_reader_agrees_with_json_loads(text: str) -> None:
    from workstation.exchange.bundle import _loads

    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            _loads(text)
    else:
        assert json.dumps(_loads(text)) == json.dumps(expected)
