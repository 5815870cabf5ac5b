"""Branches of the open session as sequences of one llama.cpp context, sharing their prefix's KV cells.

llama.cpp's unified KV cache (`kv_unified=True`, `n_seq_max` > 1) lets one cell belong to several
sequences: `llama_memory_seq_cp` adds a sequence id to the cells of another sequence without
copying a byte. The engine decodes on sequence 0 only (llama-cpp-python's `Llama.eval` and
`generate` do, and keep their sampling as it is); every other sequence is a parked branch:

- Before sequence 0 is cut back for a prompt that leaves its path, it is parked: copied, as
  metadata, to a free sequence id. Its cells stay where they are, shared with whatever else
  holds the same prefix, so a branch costs only the cells of its own tokens.
- A prompt starts from the live sequence (active or parked) sharing the longest token prefix with
  it: sequence 0 is cleared and given that sequence's cells up to the shared length (metadata
  again), so only what is new is evaluated.
- When the cells run short, the least recently used parked branch is evicted: the cells it shares
  with a live sequence are left alone and only the rest (its own tokens) is saved to host memory
  with the per-sequence state API; beyond the host budget it is dropped. A saved branch comes
  back by loading those cells into a free sequence and copying the prefix from a live sequence
  that still has it (or from another saved branch brought back first), without a prefill.

Everything is matched by tokens, never by message text: a chat template that renders earlier turns
differently gives other tokens, so the shared prefix simply ends there and the rest is evaluated.
Cells are tracked in Python (each live sequence's cell ids), which tells how many are free before
any decode, so llama.cpp never runs out of cells in the middle of a generation.

llama.cpp aborts the process on some bad arguments (a sequence id past n_seq_max, a batch larger
than n_batch): `SequenceMemory` checks every argument before it calls the library.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections import OrderedDict
from dataclasses import dataclass, field

import llama_cpp
import numpy as np

from workstation.engine.state_cache import common_prefix_length

#: The sequence llama-cpp-python's Llama decodes on.
ACTIVE = 0


def check_batch(n_tokens: int, n_batch: int) -> None:
    """Refuse (ValueError) a decode of more tokens than the context's n_batch: llama.cpp would abort."""
    if not 0 < n_tokens <= n_batch:
        raise ValueError(f"a decode of {n_tokens} tokens does not fit the context's batch of {n_batch}")


class SequenceMemory:
    """The KV cache's per-sequence operations, each argument checked before llama.cpp sees it."""

    def __init__(self, ctx: object, n_seq_max: int, n_cells: int) -> None:
        self.ctx = ctx
        self.memory = llama_cpp.llama_get_memory(ctx)
        self.n_seq_max = n_seq_max
        self.n_cells = n_cells

    def _check(self, seq: int, p0: int, p1: int) -> None:
        if not 0 <= seq < self.n_seq_max:
            raise ValueError(f"sequence {seq} is outside the context's {self.n_seq_max} sequences")
        if p0 < 0 or (p1 != -1 and not p0 <= p1 <= self.n_cells):
            raise ValueError(f"positions [{p0}, {p1}) are outside the context's {self.n_cells} cells")

    def copy(self, src: int, dst: int, p0: int = 0, p1: int = -1) -> None:
        """Let `dst` share `src`'s cells at positions [p0, p1) (p1 = -1: to the end); no data moves."""
        self._check(src, p0, p1)
        self._check(dst, p0, p1)
        if src != dst and p1 != p0:
            llama_cpp.llama_memory_seq_cp(self.memory, src, dst, p0, p1)

    def remove(self, seq: int, p0: int = 0, p1: int = -1) -> bool:
        """Take `seq` off its cells at positions [p0, p1); False if the memory cannot cut there."""
        self._check(seq, p0, p1)
        return bool(llama_cpp.llama_memory_seq_rm(self.memory, seq, p0, p1))

    def clear(self) -> None:
        """Empty every cell of every sequence."""
        llama_cpp.llama_memory_clear(self.memory, True)

    def save(self, seq: int) -> tuple[ctypes.Array[ctypes.c_uint8], int]:
        """The cells of `seq` (their positions, keys and values) as a host buffer and its size."""
        self._check(seq, 0, -1)
        size = int(llama_cpp.llama_state_seq_get_size(self.ctx, seq))
        buffer = (ctypes.c_uint8 * max(1, size))()
        written = int(llama_cpp.llama_state_seq_get_data(self.ctx, buffer, size, seq))
        return buffer, written

    def load(self, buffer: ctypes.Array[ctypes.c_uint8], nbytes: int, seq: int) -> bool:
        """Put saved cells back as sequence `seq` (which is emptied first); False if they did not fit."""
        self._check(seq, 0, -1)
        if not 0 < nbytes <= ctypes.sizeof(buffer):
            raise ValueError(f"a saved sequence of {nbytes} bytes does not fit its {ctypes.sizeof(buffer)}-byte buffer")
        return int(llama_cpp.llama_state_seq_set_data(self.ctx, buffer, nbytes, seq)) == nbytes


@dataclass(eq=False)
class Live:
    """A sequence in the context: its tokens and, per position, the id of the cell that holds it."""

    seq: int
    tokens: np.ndarray
    cells: np.ndarray
    used: int = 0


@dataclass(eq=False)
class Saved:
    """A branch evicted to host memory: its tokens from `base` on, whose cells are in `payload`."""

    tokens: np.ndarray
    base: int
    payload: ctypes.Array[ctypes.c_uint8] = field(repr=False)
    nbytes: int


@dataclass(frozen=True, slots=True)
class BranchStats:
    """What the branch store holds, for the UI, logs and benchmarks."""

    live: int
    cells_used: int
    cells: int
    active_cells: int
    saved: int
    saved_bytes: int
    host_budget_bytes: int
    hits: int
    misses: int
    restores: int
    evicted_to_host: int
    dropped: int


class BranchStore:
    """The live-sequence table of one context: parking, longest-prefix lookup, LRU eviction, restore.

    `llm` is the llama_cpp.Llama whose context was made with `n_seq_max` sequences over `n_cells`
    unified cells; `bytes_per_token` is one cell's KV size, `host_budget_bytes` what saved
    branches may hold.
    """

    def __init__(self, llm: llama_cpp.Llama, n_seq_max: int, n_cells: int, bytes_per_token: int,
                 host_budget_bytes: int) -> None:
        self.llm = llm
        self.memory = SequenceMemory(llm.ctx, n_seq_max, n_cells)
        self.n_cells = n_cells
        self.bytes_per_token = bytes_per_token
        self.host_budget_bytes = host_budget_bytes
        self.active = Live(ACTIVE, np.empty(0, np.intc), np.empty(0, np.int64))
        self.parked: dict[int, Live] = {}
        self.saved: OrderedDict[bytes, Saved] = OrderedDict()
        #: Tails of sequence 0 set aside by `prepare`, put back as parked branches by `sync`.
        self._pending: list[Saved] = []
        self._saved_bytes = 0
        self._next_cell = 0
        self._tick = 0
        self.hits = self.misses = self.restores = self.evicted_to_host = self.dropped = 0

    # -- bookkeeping -------------------------------------------------------------------------

    def _fresh(self, n: int) -> np.ndarray:
        start = self._next_cell
        self._next_cell += n
        return np.arange(start, start + n, dtype=np.int64)

    def _lives(self) -> list[Live]:
        return [self.active, *self.parked.values()]

    def cells_used(self) -> int:
        """Distinct cells held by all live sequences (shared prefix cells count once)."""
        arrays = [live.cells for live in self._lives() if len(live.cells)]
        return int(np.unique(np.concatenate(arrays)).size) if arrays else 0

    def stats(self) -> BranchStats:
        """Counts and sizes of live and saved branches."""
        return BranchStats(
            live=len(self.parked) + (1 if len(self.active.tokens) else 0), cells_used=self.cells_used(),
            cells=self.n_cells, active_cells=len(self.active.cells), saved=len(self.saved),
            saved_bytes=self._saved_bytes, host_budget_bytes=self.host_budget_bytes, hits=self.hits,
            misses=self.misses, restores=self.restores, evicted_to_host=self.evicted_to_host, dropped=self.dropped,
        )

    def sync(self) -> None:
        """Record what Llama evaluated on sequence 0 since `prepare` (new tokens, new cells)."""
        n = int(self.llm.n_tokens)
        have = len(self.active.cells)
        cells = self.active.cells[:n] if n <= have else np.concatenate([self.active.cells, self._fresh(n - have)])
        self.active = Live(ACTIVE, self.llm.input_ids[:n].astype(np.intc), cells, self._tick)
        pending, self._pending = self._pending, []
        for stashed in pending:
            if any(common_prefix_length(live.tokens, stashed.tokens) == len(stashed.tokens) for live in self._lives()):
                continue  # the new branch went the same way: nothing of the old one is lost
            if self._restore(stashed) is None:
                self._put_saved(stashed)

    def clear(self) -> None:
        """Forget every branch, live and saved, and empty the cells."""
        self.memory.clear()
        self.active = Live(ACTIVE, np.empty(0, np.intc), np.empty(0, np.int64))
        self.parked.clear()
        self.saved.clear()
        self._pending.clear()
        self._saved_bytes = 0
        self.llm.reset()

    # -- the prompt's starting point ---------------------------------------------------------

    def prepare(self, tokens: np.ndarray, reserve: int) -> int:
        """Give sequence 0 the longest prefix of `tokens` held anywhere; return its length.

        At most len(tokens) - 1 tokens are kept, so that the last is decoded and sampling sees
        fresh logits. Afterwards at least the rest of `tokens` plus `reserve` cells are free.
        """
        self._tick += 1
        n = len(tokens)
        live = common_prefix_length(self.active.tokens, tokens)
        saved = max(self.saved.values(), key=lambda s: common_prefix_length(s.tokens, tokens), default=None)
        if saved is not None and common_prefix_length(saved.tokens, tokens) > max(
            [live, *(common_prefix_length(p.tokens, tokens) for p in self.parked.values())]
        ):
            self._restore(saved)
        # Looked up after restoring, which may have evicted other parked branches.
        best = max(self.parked.values(), key=lambda p: common_prefix_length(p.tokens, tokens), default=None)
        parked = common_prefix_length(best.tokens, tokens) if best is not None else 0
        if best is not None and parked > live:
            keep = min(parked, n - 1)
            self.hits += 1
            best.used = self._tick
            self._park_active(pinned=(best.seq,))
            if not self.memory.remove(ACTIVE):
                return self._start_over(n + reserve)
            self.memory.copy(best.seq, ACTIVE, 0, keep)
            cells = best.cells[:keep].copy()
        else:
            keep = min(live, n - 1)
            self.misses += 1
            if keep < len(self.active.tokens):
                self._stash(keep)
            if not self.memory.remove(ACTIVE, keep):
                return self._start_over(n + reserve)
            cells = self.active.cells[:keep]
        self.active = Live(ACTIVE, np.asarray(tokens[:keep], dtype=np.intc), cells, self._tick)
        self.llm.input_ids[:keep] = tokens[:keep]
        self.llm.n_tokens = keep
        self._make_room(n - keep + reserve)
        return keep

    def _start_over(self, need: int) -> int:
        """A memory that cannot be cut where asked: clear it all and evaluate from the start."""
        self.clear()
        self._make_room(need)
        return 0

    def _drop_covered(self, tokens: np.ndarray) -> None:
        """Drop parked and saved branches that are prefixes of `tokens` (which sequence 0 holds)."""
        n = len(tokens)
        for seq, other in list(self.parked.items()):
            if len(other.tokens) <= n and common_prefix_length(other.tokens, tokens) == len(other.tokens):
                self.memory.remove(seq)
                del self.parked[seq]
        for key, saved in list(self.saved.items()):
            if len(saved.tokens) <= n and common_prefix_length(saved.tokens, tokens) == len(saved.tokens):
                self._drop_saved(key)

    def _park_active(self, pinned: tuple[int, ...]) -> None:
        """Keep sequence 0's tokens as a parked branch before it is replaced (no data copied)."""
        current = self.active
        n = len(current.tokens)
        if n == 0:
            return
        self._drop_covered(current.tokens)
        if any(common_prefix_length(p.tokens, current.tokens) == n for p in self.parked.values()):
            return
        seq = self._free_sequence(pinned)
        if seq is None:
            return
        self.memory.copy(ACTIVE, seq)
        self.parked[seq] = Live(seq, current.tokens.copy(), current.cells.copy(), self._tick)

    def _stash(self, keep: int) -> None:
        """Set aside sequence 0's own cells past `keep` until the generation is over (see `sync`).

        Freed now, those cells take the new tokens, so a branch continued from the active one
        lies in the same cells as a cold evaluation would put it and computes the same numbers
        (cells of other branches in between change the order of the sums); the old tail moves
        to other cells afterwards.
        """
        current = self.active
        self._drop_covered(current.tokens)
        seq = self._free_sequence(pinned=())  # first: it may evict a branch that shares cells
        base = max([keep, *(common_prefix_length(p.tokens, current.tokens) for p in self.parked.values())])
        if seq is None or base >= len(current.tokens):
            return
        self.memory.copy(ACTIVE, seq, base, -1)
        payload, nbytes = self.memory.save(seq)
        self.memory.remove(seq)
        if nbytes > 0:
            self._pending.append(Saved(current.tokens.copy(), base, payload, nbytes))

    def _free_sequence(self, pinned: tuple[int, ...]) -> int | None:
        free = [s for s in range(1, self.memory.n_seq_max) if s not in self.parked]
        if free:
            return free[0]
        victim = self._least_recent(pinned)
        if victim is None:
            return None
        self._evict(victim)
        return victim.seq

    def _least_recent(self, pinned: tuple[int, ...]) -> Live | None:
        candidates = [p for p in self.parked.values() if p.seq not in pinned]
        return min(candidates, key=lambda p: p.used, default=None)

    def _make_room(self, need: int, pinned: tuple[int, ...] = ()) -> bool:
        """Evict least recently used parked branches until `need` cells are free."""
        while self.n_cells - self.cells_used() < need:
            victim = self._least_recent(pinned)
            if victim is None:
                return False
            self._evict(victim)
        return True

    # -- eviction to host memory and back ----------------------------------------------------

    def _evict(self, victim: Live) -> None:
        """Take a parked branch out of the context, saving the cells no other live sequence has."""
        del self.parked[victim.seq]
        n = len(victim.tokens)
        base = max((common_prefix_length(live.tokens, victim.tokens) for live in self._lives()), default=0)
        own = n - base
        if own <= 0 or any(common_prefix_length(s.tokens, victim.tokens) == n for s in self.saved.values()):
            self.memory.remove(victim.seq)
            return
        if own * self.bytes_per_token > self.host_budget_bytes or not self.memory.remove(victim.seq, 0, base):
            self.memory.remove(victim.seq)
            self.dropped += 1
            return
        payload, nbytes = self.memory.save(victim.seq)
        self.memory.remove(victim.seq)
        if nbytes <= 0:
            self.dropped += 1
            return
        self._put_saved(Saved(victim.tokens, base, payload, nbytes))
        self.evicted_to_host += 1

    def _put_saved(self, saved: Saved) -> None:
        key = np.ascontiguousarray(saved.tokens, dtype=np.int32).tobytes()
        if key in self.saved:
            self._drop_saved(key)
        self.saved[key] = saved
        self._saved_bytes += saved.nbytes
        while self._saved_bytes > self.host_budget_bytes and self.saved:
            self._drop_saved(next(iter(self.saved)))
            self.dropped += 1

    def _drop_saved(self, key: bytes) -> None:
        self._saved_bytes -= self.saved.pop(key).nbytes

    def _restore(self, saved: Saved, depth: int = 0) -> Live | None:
        """Bring a saved branch back as a parked sequence; None if its prefix is nowhere to be had."""
        ancestor = max(self._lives(), key=lambda live: common_prefix_length(live.tokens, saved.tokens))
        if common_prefix_length(ancestor.tokens, saved.tokens) < saved.base:
            # Its prefix was saved too: bring that back first (a chain of saved forks).
            donors = [s for s in self.saved.values() if s is not saved and s.base < saved.base
                      and common_prefix_length(s.tokens, saved.tokens) >= saved.base]
            restored = self._restore(donors[0], depth + 1) if donors and depth < 8 else None
            if restored is None:
                return None
            ancestor = restored
        pinned = (ancestor.seq,)
        seq = self._free_sequence(pinned)
        own = len(saved.tokens) - saved.base
        if seq is None or not self._make_room(own, pinned + (seq,)):
            return None
        if not self.memory.load(saved.payload, saved.nbytes, seq):
            # No run of `own` free cells in a row (llama.cpp needs one): evaluate instead.
            self.memory.remove(seq)
            return None
        self.memory.copy(ancestor.seq, seq, 0, saved.base)
        key = np.ascontiguousarray(saved.tokens, dtype=np.int32).tobytes()
        if key in self.saved:
            self._drop_saved(key)
        cells = np.concatenate([ancestor.cells[: saved.base], self._fresh(own)])
        live = Live(seq, saved.tokens, cells, self._tick)
        self.parked[seq] = live
        self.restores += 1
        return live


#: Live sequences in one context: the active one and up to 63 parked branches.
N_SEQ_MAX = 64
#: The context holds at most this many times n_ctx cells, however large the budget: its cells
#: are allocated (and cleared) when the model loads, while host copies take memory only when used.
MAX_CELLS_PER_CTX = 2


def split_budget(budget_bytes: int, n_ctx: int, bytes_per_token: int) -> tuple[int, int]:
    """Cells for the context (n_ctx for the prompt + half the budget's worth) and the host budget.

    Up to half the budget (and at most n_ctx more cells) buys room in the context, where parked
    branches are instant to continue; the rest holds evicted branches' own cells in host memory.
    """
    extra = min((budget_bytes // 2) // max(1, bytes_per_token), (MAX_CELLS_PER_CTX - 1) * n_ctx)
    return n_ctx + extra, max(0, budget_bytes - extra * bytes_per_token)


def open_shared_context(llm: llama_cpp.Llama, n_cells: int, n_seq_max: int = N_SEQ_MAX) -> None:
    """Replace `llm`'s context by one of `n_cells` unified cells for `n_seq_max` sequences.

    llama-cpp-python's Llama takes neither setting, so its context is remade from the same
    parameters; Llama's own buffers (tokens, batch) keep the size of the original n_ctx.
    """
    import logging

    from llama_cpp import _internals

    params = llm.context_params
    params.n_seq_max = n_seq_max
    params.kv_unified = True
    params.n_ctx = n_cells
    old = llm._ctx
    old.close()  # freed first: the two KV caches need not be in memory at once
    # llama.cpp warns when the cells outnumber the trained context; positions never do (the
    # prompt and its answer fit n_ctx), so the warning says nothing true here.
    log = logging.getLogger("llama-cpp-python")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        context = _internals.LlamaContext(model=llm._model, params=params, verbose=llm.verbose)
    finally:
        log.setLevel(level)
    llm._ctx = llm._stack.enter_context(contextlib.closing(context))
