"""Take a real review bundle apart, change it, and put it back together (signed again or not).

A bundle signed again by a trusted teammate's key passes the signature and checksum checks, so
what it carries reaches the deeper checks: event lines, fields, ids, whether events fit the
review they merge into.
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
import zipfile
from pathlib import Path

from workstation.exchange.bundle import EVENTS, GENERATIONS, MANIFEST, SIGNATURE
from workstation.exchange.keys import SigningKey


def unpack(path: Path) -> list[tuple[str, bytes]]:
    """The members of a bundle, in archive order."""
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def pack(out: Path, members: list[tuple[str, bytes]]) -> Path:
    """A zip archive of exactly these members (names as given, duplicates allowed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": wanted here
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return out


def resign(members: list[tuple[str, bytes]], key: SigningKey, manifest_change=None) -> list[tuple[str, bytes]]:
    """The members with the manifest's checksums and event count made to match, then signed.

    `manifest_change(manifest)` may alter the manifest (after the checksums are set).
    """
    data = dict(members)
    manifest = json.loads(data[MANIFEST])
    files = manifest.setdefault("files", {}) if isinstance(manifest, dict) else {}
    for name in (EVENTS, GENERATIONS):
        if name in data and isinstance(files, dict):
            files[name] = {"sha256": hashlib.sha256(data[name]).hexdigest(), "bytes": len(data[name])}
    if EVENTS in data and isinstance(manifest.get("counts"), dict):
        text = data[EVENTS]
        manifest["counts"]["events"] = text.count(b"\n") + (0 if text.endswith(b"\n") or not text else 1)
    if manifest_change is not None:
        manifest_change(manifest)
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    signature = {
        "algorithm": "ed25519",
        "signed_member": MANIFEST,
        "public_key": key.public.b64,
        "signature": base64.b64encode(key.sign(manifest_bytes)).decode(),
    }
    out = []
    for name, blob in members:
        if name == MANIFEST:
            blob = manifest_bytes
        elif name == SIGNATURE:
            blob = (json.dumps(signature, indent=2) + "\n").encode()
        out.append((name, blob))
    return out


def event_lines(members: list[tuple[str, bytes]]) -> list[str]:
    """The event lines of a bundle."""
    return dict(members)[EVENTS].decode("utf-8").splitlines()


def with_events(members: list[tuple[str, bytes]], lines: list[str], *, raw: bytes | None = None) -> list[tuple[str, bytes]]:
    """The members with events.jsonl replaced (by `lines`, or by `raw` bytes as they are)."""
    blob = raw if raw is not None else "".join(line + "\n" for line in lines).encode("utf-8")
    return [(name, blob if name == EVENTS else data) for name, data in members]
