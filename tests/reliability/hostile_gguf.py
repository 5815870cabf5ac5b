"""A corpus of damaged and hostile GGUF files, built byte by byte.

Every file here must be refused by the Python header check (`workstation.engine.gguf_info`)
before llama.cpp opens it; `flipped` files may also be structurally valid, and then llama.cpp
may load or refuse them, but never crash.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from tests.gguf_files import header_with, write_tiny_gguf

# GGUF value types (gguf.GGUFValueType) used below.
U32, STRING, ARRAY = 4, 8, 9


def _str(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _kv_str(key: str, value: str) -> bytes:
    return _str(key) + struct.pack("<I", STRING) + _str(value)


def _kv_u32(key: str, value: int) -> bytes:
    return _str(key) + struct.pack("<I", U32) + struct.pack("<I", value)


def _tensor(name: str, dims: list[int], ggml_type: int = 0, offset: int = 0) -> bytes:
    shape = b"".join(struct.pack("<Q", d) for d in dims)
    return _str(name) + struct.pack("<I", len(dims)) + shape + struct.pack("<IQ", ggml_type, offset)


def _file(kvs: list[bytes], tensors: list[bytes], *, n_kv: int | None = None, n_tensors: int | None = None,
          tail: bytes = b"\0" * 4096) -> bytes:
    head = header_with(len(tensors) if n_tensors is None else n_tensors, len(kvs) if n_kv is None else n_kv)
    return head + b"".join(kvs) + b"".join(tensors) + tail


ARCH = _kv_str("general.architecture", "llama")


def crafted() -> dict[str, bytes]:
    """Hand-made hostile headers: each one lies about a count, a length, a type or a place."""
    big = 2**63
    return {
        "empty": b"",
        "one-byte": b"G",
        "magic-only": b"GGUF",
        "header-short-23": header_with(0, 0)[:23],
        "header-only": header_with(0, 0),
        "huge-tensor-count": header_with(2**64 - 1, 0) + b"\0" * 4096,
        "huge-tensor-count-2": header_with(10**12, 1) + ARCH + b"\0" * 4096,
        "huge-kv-count": header_with(0, 2**62) + b"\0" * 4096,
        "both-counts-huge": header_with(big, big) + b"\0" * 4096,
        "huge-key-length": header_with(0, 1) + struct.pack("<Q", big) + b"\0" * 4096,
        "huge-string-value": header_with(0, 1) + _str("general.architecture") + struct.pack("<IQ", STRING, big)
        + b"\0" * 4096,
        "huge-array-length": _file([ARCH, _str("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARRAY, STRING, 2**60)],
                                   []),
        "huge-u32-array": _file([ARCH, _str("x.arr") + struct.pack("<IIQ", ARRAY, U32, 2**61)], []),
        "array-of-arrays": _file([ARCH, _str("x.nested") + struct.pack("<IIQ", ARRAY, ARRAY, 1)], []),
        "unknown-value-type": _file([ARCH, _str("x.what") + struct.pack("<I", 99) + b"\0" * 8], []),
        "negative-value-type": _file([ARCH, _str("x.what") + struct.pack("<I", 2**32 - 1)], []),
        "kv-count-too-high": _file([ARCH], [], n_kv=50, tail=b""),
        "tensor-count-too-high": _file([ARCH], [_tensor("a", [32])], n_tensors=40, tail=b""),
        "no-architecture": _file([_kv_str("general.name", "x")], []),
        "architecture-not-string": _file([_kv_u32("general.architecture", 7)], []),
        "alignment-zero": _file([ARCH, _kv_u32("general.alignment", 0)], []),
        "alignment-three": _file([ARCH, _kv_u32("general.alignment", 3)], []),
        "zero-dims": _file([ARCH], [_tensor("t", [])]),
        "five-dims": _file([ARCH], [_tensor("t", [1, 1, 1, 1, 32])]),
        "huge-dims": _file([ARCH], [_tensor("t", [2**62, 2**62])]),
        "dims-overflow-int64": _file([ARCH], [_tensor("t", [2**33, 2**33, 2**33])]),
        "unknown-ggml-type": _file([ARCH], [_tensor("t", [32], ggml_type=999)]),
        "offset-beyond-file": _file([ARCH], [_tensor("t", [32], offset=2**40)]),
        "offset-misaligned": _file([ARCH], [_tensor("t", [32], offset=3)]),
        "offset-wraps-around": _file([ARCH], [_tensor("t", [32], offset=2**64 - 32)]),
        "elements-not-whole-blocks": _file([ARCH], [_tensor("t", [33], ggml_type=2)]),  # Q4_0: blocks of 32
        "tensor-name-huge": header_with(1, 1) + ARCH + struct.pack("<Q", big) + b"\0" * 4096,
        "tensor-table-cut": (header_with(1, 1) + ARCH + _tensor("t", [32]))[:-5],
    }


def wrong_magic(tiny: bytes) -> dict[str, bytes]:
    """A valid file with its first four bytes replaced."""
    return {f"magic-{m.hex()}": m + tiny[4:] for m in (b"GGUG", b"FUGG", b"gguf", b"GGML", b"\0\0\0\0", b"\xff" * 4)}


def wrong_version(tiny: bytes) -> dict[str, bytes]:
    """A valid file declaring a version this reader does not support."""
    return {f"version-{v}": tiny[:4] + struct.pack("<I", v) + tiny[8:] for v in (0, 1, 4, 255, 2**31, 2**32 - 1)}


def random_files(count: int, seed: int = 0) -> dict[str, bytes]:
    """Random bytes of many sizes; half of them start with a real GGUF magic and version."""
    rng = np.random.default_rng(seed)
    files = {}
    for i in range(count):
        size = int(rng.choice([0, 3, 23, 24, 25, 64, 1000, 4096, 65_536, 300_000]))
        data = rng.bytes(size)
        if i % 2:
            data = (b"GGUF" + struct.pack("<I", int(rng.choice([2, 3]))) + data)[: max(size, 8)]
        files[f"random-{i}-{size}"] = data
    return files


def truncations(data: bytes, cuts: list[int], prefix: str) -> dict[str, bytes]:
    """`data` cut short at each offset."""
    return {f"{prefix}-cut-{cut}": data[:cut] for cut in cuts if 0 <= cut < len(data)}


def tiny_model_bytes(folder: Path) -> bytes:
    """The bytes of a small, structurally valid GGUF file (ggml's own writer)."""
    return write_tiny_gguf(folder / "tiny-source.gguf").read_bytes()


def flipped(tiny: bytes, count: int, seed: int = 1) -> dict[str, bytes]:
    """The valid file with one to four random bytes changed (in the header, mostly)."""
    rng = np.random.default_rng(seed)
    files = {}
    for i in range(count):
        data = bytearray(tiny)
        for _ in range(int(rng.integers(1, 5))):
            # Most flips land in the header and metadata, where a parser can be fooled.
            limit = len(data) if rng.random() < 0.2 else min(len(data), 600)
            data[int(rng.integers(0, limit))] = int(rng.integers(0, 256))
        files[f"flip-{i}"] = bytes(data)
    return files


def write_all(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write each file as `<name>.gguf` in `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        path = folder / f"{name}.gguf"
        path.write_bytes(data)
        paths.append(path)
    return paths
