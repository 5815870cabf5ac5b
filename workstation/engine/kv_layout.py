"""What one token of context costs in a model's KV cache, from its GGUF header, per cache type.

Every evaluated token stores, in each layer, one key and one value vector per KV head. So a token
costs n_layer x n_head_kv x (key_length + value_length) elements, at 2 bytes each in f16 and
34 bytes per block of 32 in q8_0 (32 int8 values and one f16 scale). SmolLM2-135M (30 layers,
3 KV heads of 64) holds 23,040 bytes per token in f16; an 8B model with 32 layers and 8 KV heads
of 128 holds 131,072. The numbers are what llama.cpp allocates: its per-sequence state is these
bytes plus a few bytes of position and sequence ids per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from workstation.engine.gguf_info import GGUFInfo
from workstation.errors import BadInputError

#: The KV cache types the engine offers, as llama.cpp's ggml type numbers (GGML_TYPE_F16,
#: GGML_TYPE_Q8_0) and bytes per element.
KV_CACHE_TYPES: dict[str, int] = {"f16": 1, "q8_0": 8}
KV_BYTES_PER_ELEMENT: dict[str, float] = {"f16": 2.0, "q8_0": 34 / 32}


def check_kv_cache_type(kind: str) -> str:
    """`kind` if it is a KV cache type the engine offers, else BadInputError naming the choices."""
    if kind not in KV_CACHE_TYPES:
        raise BadInputError(f"kv_cache_type must be one of {', '.join(KV_CACHE_TYPES)}, not {kind!r}")
    return kind


@dataclass(frozen=True)
class KVShape:
    """A model's KV cache geometry: layers, KV heads and each head's key and value width."""

    n_layer: int
    n_head_kv: int
    key_length: int
    value_length: int

    def bytes_per_token(self, kind: str = "f16") -> int:
        """Bytes of KV cache one token of context holds with cache type `kind`."""
        elements = self.n_layer * self.n_head_kv * (self.key_length + self.value_length)
        return int(round(elements * KV_BYTES_PER_ELEMENT[check_kv_cache_type(kind)]))


def _int(info: GGUFInfo, key: str) -> int | None:
    value = info.metadata.get(f"{info.architecture}.{key}")
    if isinstance(value, bool) or not isinstance(value, int):
        # Some models give a per-layer array (varying KV heads); the engine then measures instead.
        return None
    return value


def kv_shape(info: GGUFInfo) -> KVShape | None:
    """The KV geometry named in a GGUF header, or None when the header does not say it plainly."""
    n_layer = info.block_count
    n_head = _int(info, "attention.head_count")
    n_head_kv = _int(info, "attention.head_count_kv") or n_head
    embedding = _int(info, "embedding_length")
    key_length = _int(info, "attention.key_length")
    if key_length is None and embedding and n_head:
        key_length = embedding // n_head
    value_length = _int(info, "attention.value_length") or key_length
    if not (n_layer and n_head_kv and key_length and value_length):
        return None
    return KVShape(n_layer, n_head_kv, key_length, value_length)


def branches_within(budget_bytes: int, new_tokens_per_branch: float, bytes_per_token: int,
                    overhead: float = 1.0) -> int:
    """How many branches of `new_tokens_per_branch` own tokens fit in `budget_bytes`."""
    per_branch = new_tokens_per_branch * bytes_per_token * overhead
    return int(budget_bytes // per_branch) if per_branch > 0 else 0
