"""Hand-made bundles for bad-input tests: any members, correctly checksummed and signed."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from workstation.exchange.bundle import BUNDLE_FORMAT, EVENTS, GENERATIONS, MANIFEST, SCHEMA_VERSION, SIGNATURE
from workstation.exchange.keys import SigningKey


def forge(
    path: Path,
    key: SigningKey,
    events: bytes,
    generations: bytes = b"",
    *,
    manifest: dict[str, Any] | None = None,
    extra_members: dict[str, bytes] | None = None,
    sign: bool = True,
) -> Path:
    """A bundle whose manifest really describes `events` and `generations` and is signed by
    `key`, so that only what a test changes on purpose is wrong."""
    data = {
        "format": BUNDLE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "signer": {"reviewer_id": key.reviewer_id, "public_key": key.public.b64},
        "counts": {"events": events.count(b"\n")},
        "files": {
            EVENTS: {"sha256": hashlib.sha256(events).hexdigest(), "bytes": len(events)},
            GENERATIONS: {"sha256": hashlib.sha256(generations).hexdigest(), "bytes": len(generations)},
        },
    }
    data.update(manifest or {})
    manifest_bytes = json.dumps(data).encode()
    signature = {"algorithm": "ed25519", "public_key": key.public.b64,
                 "signature": base64.b64encode(key.sign(manifest_bytes)).decode()}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(EVENTS, events)
        zf.writestr(GENERATIONS, generations)
        if sign:
            zf.writestr(SIGNATURE, json.dumps(signature))
        for name, content in (extra_members or {}).items():
            zf.writestr(name, content)
    return path


def members(path: Path) -> dict[str, bytes]:
    """A bundle's members by name."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(path: Path, members_: dict[str, bytes]) -> Path:
    """Write members as they are (no new checksums, no new signature)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members_.items():
            zf.writestr(name, data)
    return path
