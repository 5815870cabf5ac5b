"""Branches as sequences of one context on the real default model: sharing, eviction, restore, limits."""

from __future__ import annotations

import ctypes
import threading

import llama_cpp
import numpy as np
import pytest

from workstation.engine.branches import check_batch, split_budget
from workstation.engine.events import FinishEvent, SamplingParams, TokenEvent
from workstation.engine.gguf_info import read_gguf_info
from workstation.engine.kv_layout import KVShape, branches_within, kv_shape
from workstation.engine.llama_engine import LlamaEngine, LoadOptions
from workstation.engine.protocol import Prompt
from workstation.engine.state_cache import common_prefix_length
from workstation.errors import BadInputError

pytestmark = pytest.mark.model

GREEDY = SamplingParams(temperature=0.0, max_tokens=12, seed=1)
QUESTION = [{"role": "user", "content": "A train travels 60 km in 1.5 hours, then 40 km in 0.5 hours. "
                                        "What is its average speed? Think step by step."}]
STEPS = ["Step 1: the total distance is 60 + 40 = 100 km.\n", "Step 2: the total time is 1.5 + 0.5 = 2 hours.\n",
         "Step 3: the average speed is 100 / 2 = 50 km/h.\n", "Step 4: so the answer is 50 km/h.\n"]


def finish_of(engine: LlamaEngine, prompt: Prompt, params: SamplingParams = GREEDY) -> FinishEvent:
    *tokens, finish = engine.generate(prompt, params)
    assert isinstance(finish, FinishEvent) and all(isinstance(t, TokenEvent) for t in tokens)
    return finish


def first_tokens(engine: LlamaEngine, prompt: Prompt, params: SamplingParams, n: int = 16) -> FinishEvent:
    """Generate with `params` (whose max_tokens sets how many cells are kept free) but stop after n tokens."""
    stop = threading.Event()
    for event in engine.generate(prompt, params, stop):
        if isinstance(event, TokenEvent) and event.token_id >= 0:
            n -= 1
            if n <= 0:
                stop.set()
        elif isinstance(event, FinishEvent):
            return event
    raise AssertionError("no FinishEvent")


def open_engine(path, **options) -> LlamaEngine:
    return LlamaEngine(LoadOptions(path, n_threads=2, **{"n_ctx": 1024, **options}))


def test_kv_layout_from_the_header(default_model_path) -> None:
    shape = kv_shape(read_gguf_info(default_model_path))
    assert shape == KVShape(30, 3, 64, 64)
    assert shape.bytes_per_token("f16") == 23_040
    assert shape.bytes_per_token("q8_0") == 12_240
    eight_b = KVShape(32, 8, 128, 128)
    assert eight_b.bytes_per_token() == 131_072  # the arithmetic: ~537 MB per 4,096 tokens
    assert branches_within(512 * 2**20, 200, eight_b.bytes_per_token()) == 20
    assert split_budget(0, 1024, 23_040) == (1024, 0)
    cells, host = split_budget(100 * 23_040, 1024, 23_040)
    assert cells == 1024 + 50 and host == 50 * 23_040


def test_too_large_or_out_of_range_requests_are_refused_in_python(engine: LlamaEngine) -> None:
    """llama.cpp aborts the process on these; they must never reach it."""
    with pytest.raises(ValueError, match="batch of 512"):
        check_batch(513, 512)
    with pytest.raises(ValueError):
        check_batch(0, 512)
    check_batch(512, 512)
    store = engine._branches
    assert store is not None
    memory = store.memory
    with pytest.raises(ValueError, match="sequence"):
        memory.copy(0, memory.n_seq_max)
    with pytest.raises(ValueError, match="sequence"):
        memory.remove(-1)
    with pytest.raises(ValueError, match="positions"):
        memory.copy(0, 1, 0, memory.n_cells + 1)
    with pytest.raises(ValueError, match="positions"):
        memory.remove(1, 5, 2)
    with pytest.raises(ValueError, match="buffer"):
        memory.load((ctypes.c_uint8 * 8)(), 9, 1)
    # The engine still works after the refusals.
    assert finish_of(engine, engine.build_prompt(QUESTION)).completion_tokens > 0


def test_bad_kv_cache_type_is_bad_input(default_model_path) -> None:
    with pytest.raises(BadInputError, match="kv_cache_type"):
        open_engine(default_model_path, kv_cache_type="q4")


def test_a_branch_costs_the_kv_of_its_own_tokens(default_model_path) -> None:
    with open_engine(default_model_path) as engine:
        ctx = engine._llm.ctx
        store = engine._branches
        assert store is not None
        full = engine.build_prompt(QUESTION, STEPS)
        first = finish_of(engine, full)
        assert first.prompt_tokens_evaluated == first.prompt_tokens
        held = [full.tokens + first.token_ids]
        for k in (3, 1, 2):
            before_cells = store.cells_used()
            before_state = llama_cpp.llama_state_get_size(ctx)
            prompt = engine.build_prompt(QUESTION, STEPS[:k] + [f"Step {k + 1}: let me check again.\n"])
            shared = max(common_prefix_length(np.asarray(h), np.asarray(prompt.tokens)) for h in held)
            finish = finish_of(engine, prompt)
            held.append(prompt.tokens + finish.token_ids)
            # Only what no branch held yet was evaluated.
            assert finish.prompt_tokens_evaluated == len(prompt.tokens) - shared
            # Its cells: the new prompt tokens and the generated ones (the last sampled token is
            # decoded only when the generation goes on, so one fewer when it stopped at a length).
            own = len(prompt.tokens) - shared + finish.completion_tokens
            assert store.cells_used() - before_cells in (own - 1, own)
            grown = llama_cpp.llama_state_get_size(ctx) - before_state
            ratio = grown / ((store.cells_used() - before_cells) * engine.kv_bytes_per_token)
            assert 1.0 <= ratio <= 1.01, ratio  # KV bytes plus a position and a sequence id per cell
        stats = engine.branch_stats()
        assert stats is not None and stats.live == 4 and stats.saved == 0 and stats.dropped == 0
        # Back to every branch in turn: each starts at once from its own cells.
        for k in (0, 3, 1, 2):
            steps = STEPS if k == 0 else STEPS[:k] + [f"Step {k + 1}: let me check again.\n"]
            assert finish_of(engine, engine.build_prompt(QUESTION, steps)).prompt_tokens_evaluated == 1


def test_evicted_branches_come_back_from_host_memory_without_a_prefill(default_model_path) -> None:
    per_token = 23_040
    # A long reserve for the answer makes every generation need more free cells than are left.
    long_reserve = SamplingParams(temperature=0.0, max_tokens=300)
    # Room for the prompt's context plus ~60 cells; host memory for ~60 tokens more.
    with open_engine(default_model_path, n_ctx=512, cache_budget_bytes=120 * per_token) as engine:
        store = engine._branches
        assert store is not None and store.n_cells == 512 + 60
        prompts = [engine.build_prompt(QUESTION, STEPS[:2] + [f"Step 3: option {i} is that {i} + {i} = {2 * i}.\n"])
                   for i in range(8)]
        firsts = [first_tokens(engine, p, long_reserve) for p in prompts]
        stats = engine.branch_stats()
        assert stats is not None and stats.evicted_to_host > 0 and stats.cells_used <= store.n_cells
        assert stats.saved_bytes <= stats.host_budget_bytes
        # The most recently saved branch comes back: only the last token is decoded again.
        saved = list(store.saved.values())
        assert saved
        back = next(i for i, p in enumerate(prompts) if any(
            np.array_equal(s.tokens[: len(p.tokens)], np.asarray(p.tokens)) for s in saved[-1:]))
        restores = stats.restores
        again = first_tokens(engine, prompts[back], long_reserve)
        assert again.prompt_tokens_evaluated == 1
        assert engine.branch_stats().restores == restores + 1  # type: ignore[union-attr]
        # What it continues with agrees with the first time (numeric noise aside: compare the
        # first token's log-probability).
        assert again.token_ids[0] == firsts[back].token_ids[0]
        assert abs(again.logprobs[0] - firsts[back].logprobs[0]) < 0.2


def test_without_a_budget_evicted_branches_are_dropped_and_evaluated_again(default_model_path) -> None:
    with open_engine(default_model_path, n_ctx=512, cache_budget_bytes=0) as engine:
        a = engine.build_prompt(QUESTION, STEPS[:3])
        b = engine.build_prompt([{"role": "user", "content": "Name three prime numbers. " * 75}])
        first_tokens(engine, a, SamplingParams(temperature=0.0, max_tokens=100))
        # b fills the cells: a's own cells cannot come back and there is no host budget.
        shared = common_prefix_length(np.asarray(a.tokens), np.asarray(b.tokens))  # the system turn
        assert engine.prefill(b) == len(b.tokens) - shared
        stats = engine.branch_stats()
        assert stats is not None and stats.dropped >= 1 and stats.saved == 0
        again = finish_of(engine, a)
        assert again.prompt_tokens_evaluated > 1
        engine.reset()
        assert finish_of(engine, a).token_ids == again.token_ids


def test_a_prompt_whose_earlier_tokens_changed_is_evaluated_from_the_change(default_model_path) -> None:
    """A chat template that renders an earlier turn differently (a date, dropped reasoning) gives
    other tokens early on: reuse stops there, never restoring state for text that is not there."""
    with open_engine(default_model_path) as engine:
        original = engine.build_prompt(QUESTION, STEPS)
        finish_of(engine, original)
        tokens = list(original.tokens)
        at = 12  # inside the system turn, long before the steps
        tokens[at] = engine.tokenize(" Today")[0]
        rerendered = Prompt(tuple(tokens), original.boundaries, original.text)
        warm = finish_of(engine, rerendered)
        assert warm.prompt_tokens_evaluated == len(tokens) - at
        engine.reset()
        cold = finish_of(engine, rerendered)
        assert warm.token_ids == cold.token_ids and np.allclose(warm.logprobs, cold.logprobs, atol=1e-4)


def test_q8_0_cache_halves_the_memory_and_keeps_the_figures_close(default_model_path) -> None:
    with open_engine(default_model_path) as f16, open_engine(default_model_path, kv_cache_type="q8_0") as q8:
        assert q8.kv_bytes_per_token * 1.8 < f16.kv_bytes_per_token
        prompt = f16.build_prompt(QUESTION, STEPS[:2])
        a, b = finish_of(f16, prompt), finish_of(q8, prompt)
        assert b.completion_tokens > 0 and all(lp <= 0 for lp in b.logprobs)
        same = [i for i, (x, y) in enumerate(zip(a.token_ids, b.token_ids, strict=False)) if x == y]
        assert same and same[0] == 0
        assert abs(a.logprobs[0] - b.logprobs[0]) < 0.5


def test_snapshot_scheme_still_serves_older_branches(default_model_path) -> None:
    with open_engine(default_model_path, shared_prefix=False) as engine:
        assert engine.branch_stats() is None
        a = engine.build_prompt(QUESTION, STEPS[:3])
        finish_of(engine, a)
        finish_of(engine, engine.build_prompt(QUESTION, STEPS[:1] + ["Step 2: no.\n"]))
        assert finish_of(engine, engine.build_prompt(QUESTION, STEPS[:2])).prompt_tokens_evaluated == 1
        assert engine.cache_stats().hits >= 1
