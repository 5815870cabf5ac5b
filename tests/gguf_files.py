"""Build small GGUF files with ggml's own writer, and damaged variants of them, for tests."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from gguf import GGUFWriter


def write_tiny_gguf(path: Path, *, architecture: str = "llama", tokens: int = 100) -> Path:
    """A small but structurally valid GGUF file: metadata, a vocabulary and two tensors."""
    writer = GGUFWriter(str(path), architecture)
    writer.add_name("Tiny Test Model")
    writer.add_context_length(256)
    writer.add_block_count(1)
    writer.add_file_type(0)  # all F32
    writer.add_token_list([f"tok{i}" for i in range(tokens)])
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.ones((tokens, 8), dtype=np.float32))
    writer.add_tensor("output_norm.weight", np.ones((8,), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def header_with(tensor_count: int, kv_count: int, version: int = 3) -> bytes:
    """The first 24 bytes of a GGUF file declaring the given counts, followed by nothing."""
    return b"GGUF" + struct.pack("<IQQ", version, tensor_count, kv_count)
