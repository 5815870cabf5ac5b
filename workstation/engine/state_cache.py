"""A memory-bounded LRU cache of llama.cpp context snapshots, looked up by longest token prefix.

A snapshot is the context's whole state (KV cache and last logits) after evaluating some token
sequence. It can serve any prompt that shares a prefix with that sequence: restore it, drop the
KV cells past the shared prefix, and evaluate only the rest. So the lookup is "which snapshot
shares the longest prefix with this prompt", as in llama-cpp-python's LlamaRAMCache, but the
snapshot holds only llama.cpp's state bytes: `Llama.save_state()` also copies up to n_batch x
vocabulary floats of scores (about 100 MB for SmolLM2) that sampling no longer uses.

This module knows nothing about llama.cpp: a snapshot's payload is an opaque buffer with a size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def common_prefix_length(a: np.ndarray, b: np.ndarray) -> int:
    """The number of leading tokens two int arrays share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if diff.size else n


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The context's state after evaluating exactly `tokens`; `payload` holds `nbytes` bytes."""

    tokens: np.ndarray
    payload: object
    nbytes: int


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What the snapshot cache holds, for the UI, logs and benchmarks."""

    entries: int
    bytes: int
    budget_bytes: int
    hits: int
    misses: int


class SnapshotCache:
    """Snapshots keyed by their token sequence, evicted least-recently-used beyond a byte budget."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = int(budget_bytes)
        self._entries: OrderedDict[bytes, Snapshot] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(tokens: np.ndarray) -> bytes:
        return np.ascontiguousarray(tokens, dtype=np.int32).tobytes()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes held by all snapshots' payloads."""
        return self._bytes

    def stats(self) -> CacheStats:
        """Entries, bytes, budget and the hit/miss counts of `best()`."""
        return CacheStats(len(self._entries), self._bytes, self.budget_bytes, self.hits, self.misses)

    def __contains__(self, tokens: Sequence[int] | np.ndarray) -> bool:
        return self._key(np.asarray(tokens)) in self._entries

    def put(self, snapshot: Snapshot) -> bool:
        """Add (or refresh) a snapshot; evict the least recently used ones to fit the budget.

        Returns False, keeping nothing, for a snapshot larger than the whole budget.
        """
        if snapshot.nbytes > self.budget_bytes:
            return False
        key = self._key(snapshot.tokens)
        # A snapshot whose tokens are a prefix of the new one's serves nothing the new one
        # cannot (a snapshot serves every prefix of its sequence), so it goes.
        n = len(snapshot.tokens)
        for old_key, old in list(self._entries.items()):
            if len(old.tokens) <= n and common_prefix_length(old.tokens, snapshot.tokens) == len(old.tokens):
                del self._entries[old_key]
                self._bytes -= old.nbytes
        self._entries[key] = snapshot
        self._bytes += snapshot.nbytes
        while self._bytes > self.budget_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.nbytes
        return True

    def longest_shared(self, tokens: np.ndarray) -> int:
        """The longest prefix of `tokens` that some snapshot holds (no LRU or count change)."""
        return max((common_prefix_length(s.tokens, tokens) for s in self._entries.values()), default=0)

    def best(self, tokens: np.ndarray, *, at_least: int = 0) -> tuple[Snapshot, int] | None:
        """The snapshot sharing the longest prefix with `tokens`, if longer than `at_least`.

        Returns the snapshot and the shared length, and marks it most recently used. Counts a
        hit when it finds one, else a miss (the caller passes the live KV cache's shared length
        as `at_least`, so a miss means no snapshot beat the live cache).
        """
        found: tuple[bytes, Snapshot, int] | None = None
        for key, snapshot in self._entries.items():
            shared = common_prefix_length(snapshot.tokens, tokens)
            if shared > at_least and (found is None or shared > found[2]):
                found = (key, snapshot, shared)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(found[0])
        return found[1], found[2]

    def clear(self) -> None:
        """Drop every snapshot."""
        self._entries.clear()
        self._bytes = 0
