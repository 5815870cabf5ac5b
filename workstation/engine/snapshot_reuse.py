"""The whole-state snapshot scheme: the fallback to shared-prefix branches, and their comparison.

Every generation ends by snapshotting the context's whole state into a memory-bounded LRU cache
(see state_cache); a later prompt restores the snapshot sharing the longest prefix with it and
evaluates only the remainder. A snapshot serves every prefix of its sequence, so one snapshot per
generation covers regenerating from any step of that branch. It costs the KV of the whole chain,
not of the branch's own tokens, so few branches of a large model fit in the budget: models whose
memory can share cells use branches (see branches) instead.
"""

from __future__ import annotations

import ctypes

import llama_cpp
import numpy as np

from workstation.engine.state_cache import CacheStats, Snapshot, SnapshotCache, common_prefix_length

#: A generation is snapshotted only if it adds at least this many tokens to what the cache holds.
MIN_NEW_TOKENS = 16


class SnapshotReuse:
    """Prompt reuse from the live KV cache (sequence 0) or whole-state snapshots of `llm`."""

    def __init__(self, llm: llama_cpp.Llama, budget_bytes: int) -> None:
        self.llm = llm
        self.cache = SnapshotCache(budget_bytes)

    def prepare(self, tokens: np.ndarray, reserve: int = 0) -> int:
        """Bring the context to the longest held prefix of `tokens` (at most all but the last)."""
        llm = self.llm
        live = common_prefix_length(llm.input_ids[: llm.n_tokens], tokens)
        keep = live
        found = self.cache.best(tokens, at_least=live)
        if found is not None:
            snapshot, shared = found
            self._restore(snapshot)
            keep = shared
        keep = min(keep, len(tokens) - 1)
        if keep < llm.n_tokens:
            if not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
                llm.reset()  # a model whose memory cannot be truncated starts over
                keep = 0
            llm.n_tokens = keep
        return keep

    def _snapshot(self) -> Snapshot:
        ctx = self.llm.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(ctx, buffer, size)
        tokens = self.llm.input_ids[: self.llm.n_tokens].copy()
        return Snapshot(tokens=tokens, payload=buffer, nbytes=int(written))

    def _restore(self, snapshot: Snapshot) -> None:
        llm = self.llm
        if llama_cpp.llama_state_set_data(llm.ctx, snapshot.payload, snapshot.nbytes) != snapshot.nbytes:
            # A failed restore leaves the KV cache undefined: start from scratch.
            llm.reset()
            return
        n = len(snapshot.tokens)
        llm.input_ids[:n] = snapshot.tokens
        llm.n_tokens = n
        llm._requires_eval = True

    def sync(self) -> None:
        """Snapshot the evaluated sequence unless cached snapshots already hold nearly all of it.

        A snapshot costs about 23 KB per token for SmolLM2 (a whole 1,600-token chain is ~37 MB),
        so one that would add fewer than MIN_NEW_TOKENS tokens beyond what another snapshot
        already holds is skipped: evaluating those few again later is cheaper than the memory.
        """
        current = self.llm.input_ids[: self.llm.n_tokens]
        if len(current) - self.cache.longest_shared(current) >= MIN_NEW_TOKENS:
            self.cache.put(self._snapshot())

    def stats(self) -> CacheStats:
        """The snapshot cache's entries, bytes, budget and lookups that found a snapshot."""
        return self.cache.stats()

    def clear(self) -> None:
        """Drop every snapshot and empty the KV cache."""
        self.cache.clear()
        self.llm.reset()
        self.llm._ctx.kv_cache_clear()
