"""A model file's SHA-256, computed once per file version and remembered.

Every generation records the model's hash (so feedback from several reviewers can be tied to
the exact weights); hashing a multi-gigabyte file takes seconds, so the result is kept in the
cache folder under the file's path, size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import BinaryIO

from workstation import paths


def _cache_file() -> Path:
    return paths.cache_dir() / "model-sha256.json"


def model_sha256(path: Path, handle: BinaryIO | None = None) -> str:
    """The file's SHA-256 in hex; reads the file only when it changed since last time.

    With `handle` (the file opened when the model was loaded) the hash is of that file, even
    when `path` has since been deleted or names another file.
    """
    stat = os.fstat(handle.fileno()) if handle is not None else path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    cache_file = _cache_file()
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    cached = cache.get(key)
    if isinstance(cached, str):
        return cached
    digest = hashlib.sha256()
    if handle is not None:
        offset = 0
        while block := os.pread(handle.fileno(), 4 * 1024 * 1024, offset):
            digest.update(block)
            offset += len(block)
    else:
        with path.open("rb") as opened:
            while block := opened.read(4 * 1024 * 1024):
                digest.update(block)
    hexdigest = cache[key] = digest.hexdigest()
    tmp = cache_file.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        pass  # a cache that cannot be written only costs the next start a re-hash
    return hexdigest
