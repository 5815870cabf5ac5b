"""Time to first token when regenerating from random steps of random branches, against a cold start.

A chain of at least 1,500 tokens (a long question plus the model's step-by-step answer) grows 20
branches, each from a random step of a random earlier branch. Then every branch, in random order,
is regenerated from a random step of its own, each time measured against the same prompt on a
cold engine. Branches share their prefix's KV cells (see workstation/engine/branches.py): the
bench prints what one more branch costs against the KV of its own new tokens, how many branches
the default budget keeps instant for this model and, from GGUF header arithmetic, for other
models, the same regenerates through whole-state snapshots side by side, the q8_0 KV cache's
memory and log-probability change, and the process's peak memory.

Run: `python -m bench.regenerate`
"""

from __future__ import annotations

import os
import random
import re
import resource
import time
from collections.abc import Sequence

import llama_cpp
import numpy as np

from workstation.engine.discovery import default_model, discover
from workstation.engine.events import FinishEvent, SamplingParams
from workstation.engine.gguf_info import read_gguf_info
from workstation.engine.kv_layout import KVShape, branches_within, kv_shape
from workstation.engine.llama_engine import DEFAULT_CACHE_BUDGET, LlamaEngine, LoadOptions
from workstation.engine.protocol import ChatMessage

THREADS = 2
N_CTX = 4096
N_BRANCHES = 20
SEED = 2026
#: What the issue's arithmetic takes as a model users bring: 32 layers, 8 KV heads of 128.
EIGHT_B = KVShape(n_layer=32, n_head_kv=8, key_length=128, value_length=128)


def long_question() -> str:
    """About 1,450 tokens of facts to reason over, then a question."""
    towns = [f"Town {i}" for i in range(41)]
    facts = [
        f"Fact {i + 1}: the road from {towns[i]} to {towns[i + 1]} is {12 + (i * 7) % 41} km long "
        f"and a bus covers it in {20 + (i * 11) % 37} minutes."
        for i in range(len(towns) - 1)
    ]
    return (
        "Read these facts carefully.\n" + "\n".join(facts) + "\n\nQuestion: what is the average "
        "speed of the bus from Town 3 to Town 6, in km per hour? Think step by step, one step "
        "per line."
    )


def split_steps(text: str) -> list[str]:
    """Split an answer into steps after each newline or sentence end.

    A newline stays with the step it ends, and the space between two sentences goes with the
    next one, as the model's tokens do (" The" is one token): so re-tokenising the steps gives
    back the tokens the model generated and the engine's held state matches them.
    """
    return [p for p in re.split(r"(?<=\n)|(?<=[.!?])(?= )", text) if p]


def generate(engine: LlamaEngine, messages: Sequence[ChatMessage], steps: list[str],
             params: SamplingParams) -> FinishEvent:
    """Continue after `steps` and return the FinishEvent."""
    *_, finish = engine.generate(engine.build_prompt(messages, steps), params)
    assert isinstance(finish, FinishEvent)
    return finish


def grow(engine: LlamaEngine, messages: Sequence[ChatMessage], base: list[str], seed: int,
         max_tokens: int) -> tuple[list[str], FinishEvent]:
    """A branch: the steps of `base` followed by a fresh continuation split into steps."""
    for attempt in range(5):
        params = SamplingParams(temperature=0.8, max_tokens=max_tokens, seed=seed + 100 * attempt)
        finish = generate(engine, messages, base, params)
        new = split_steps(finish.text)
        if len(new) >= 2:
            return base + new, finish
    raise SystemExit("the model gave too short an answer five times; try other seeds")


def peak_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Grow the branches, regenerate from random steps warm and cold, print ratios and memory."""
    model = default_model()
    assert model is not None, "the default model is not installed"
    print(f"load_average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start")
    rng = random.Random(SEED)
    messages = [{"role": "user", "content": long_question()}]
    options = LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS)
    engine = LlamaEngine(options)
    ctx = engine._llm.ctx
    print(f"kv_bytes_per_token: {engine.kv_bytes_per_token} (f16); context cells "
          f"{engine.branch_stats().cells} for n_ctx {N_CTX}; peak {peak_mb():.0f} MiB after load")  # type: ignore[union-attr]

    # -- grow 20 branches from random steps of random branches --------------------------------
    trunk, _ = grow(engine, messages, [], seed=1, max_tokens=220)
    branches = [trunk]
    ratios: list[float] = []
    own_tokens: list[int] = []
    while len(branches) < N_BRANCHES:
        parent = rng.choice(branches)
        at = rng.randrange(1, len(parent))
        before = llama_cpp.llama_state_get_size(ctx)
        steps, finish = grow(engine, messages, parent[:at], seed=len(branches) + 1, max_tokens=120)
        grown = llama_cpp.llama_state_get_size(ctx) - before
        # Its own tokens: the prompt tokens no branch held yet, and what was generated.
        own = finish.prompt_tokens_evaluated + finish.completion_tokens
        ratios.append(grown / (own * engine.kv_bytes_per_token))
        own_tokens.append(own)
        branches.append(steps)
    chains = [len(engine.build_prompt(messages, b).tokens) for b in branches]
    print(f"chain_tokens: {min(chains)}-{max(chains)} over {len(branches)} branches (target >= 1500)")
    print(f"bytes_per_extra_branch_over_own_kv: mean {np.mean(ratios):.3f}, max {max(ratios):.3f} "
          f"(target <= 1.5; own tokens per branch: mean {np.mean(own_tokens):.0f})")
    stats = engine.branch_stats()
    print(f"branch_store: {stats}")

    # -- regenerate every branch from a random step of its own, in random order -----------------
    order = list(range(N_BRANCHES))
    rng.shuffle(order)
    plan = [(i, rng.randrange(1, len(branches[i]))) for i in order]
    greedy = SamplingParams(temperature=0.0, max_tokens=4, seed=9)
    warm = [generate(engine, messages, branches[i][:k], greedy) for i, k in plan]
    print(f"peak_memory_mib: {peak_mb():.0f} (one engine holding {N_BRANCHES} branches)")

    snap_engine = LlamaEngine(LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS, shared_prefix=False))
    for steps in branches:
        snap_engine.prefill(snap_engine.build_prompt(messages, steps))
    snapshot = [generate(snap_engine, messages, branches[i][:k], greedy) for i, k in plan]
    snap_stats = snap_engine.cache_stats()
    snap_engine.close()

    q8 = LlamaEngine(LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS, kv_cache_type="q8_0"))
    for steps in branches:
        q8.prefill(q8.build_prompt(messages, steps))
    q8_state, f16_state = llama_cpp.llama_state_get_size(q8._llm.ctx), llama_cpp.llama_state_get_size(ctx)
    quantised = [generate(q8, messages, branches[i][:k], greedy) for i, k in plan]
    q8_bytes = q8.kv_bytes_per_token
    q8.close()
    engine.close()

    cold_engine = LlamaEngine(LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS, shared_prefix=False))
    cold: list[FinishEvent] = []
    for i, k in plan:
        cold_engine.reset()
        cold.append(generate(cold_engine, messages, branches[i][:k], greedy))
    cold_engine.close()

    def ttft(f: FinishEvent) -> float:
        return f.time_to_first_token_s or float("nan")

    within = 0
    for n, ((i, k), w, s, c) in enumerate(zip(plan, warm, snapshot, cold, strict=True)):
        ratio = ttft(w) / ttft(c)
        within += ratio <= 0.05
        print(f"regenerate_{n:02d}: branch {i:2d} step {k:2d}: {w.prompt_tokens} prompt tokens, "
              f"{w.prompt_tokens_evaluated} evaluated; ttft {ttft(w):.3f} s vs cold {ttft(c):.3f} s, "
              f"ratio {ratio:.3f} (snapshots: {ttft(s) / ttft(c):.3f})")
    worst = max(ttft(w) / ttft(c) for w, c in zip(warm, cold, strict=True))
    worst_snap = max(ttft(s) / ttft(c) for s, c in zip(snapshot, cold, strict=True))
    print(f"regenerate_ttft_ratio: worst {worst:.3f}, {within}/{N_BRANCHES} <= 0.05 (target: every one); "
          f"snapshots side by side: worst {worst_snap:.3f}, {snap_stats.bytes / 2**20:.0f} MiB in "
          f"{snap_stats.entries} snapshots")

    # -- numbers: agreement with cold, q8_0 against f16 ------------------------------------------
    def logprob_change(a: list[FinishEvent], b: list[FinishEvent]) -> tuple[float, float, float]:
        diffs, same = [], 0
        for x, y in zip(a, b, strict=True):
            n = next((j for j, (s, t) in enumerate(zip(x.token_ids, y.token_ids, strict=False)) if s != t),
                     min(len(x.token_ids), len(y.token_ids)))
            diffs += [abs(p - q) for p, q in zip(x.logprobs[:n], y.logprobs[:n], strict=True)]
            same += x.token_ids == y.token_ids
        return same / len(a), float(np.mean(diffs)) if diffs else 0.0, max(diffs, default=0.0)

    for name, runs in (("branches_vs_cold", warm), ("snapshots_vs_cold", snapshot), ("q8_0_vs_f16_cold", quantised)):
        agree, mean, top = logprob_change(runs, cold)
        print(f"logprobs_{name}: same greedy tokens {agree:.0%}, |dlogprob| mean {mean:.4f} max {top:.4f}")
    print(f"kv_cache_q8_0: {q8_bytes} bytes per token vs {engine.kv_bytes_per_token} f16 "
          f"({1 - q8_bytes / engine.kv_bytes_per_token:.0%} saved); the same {N_BRANCHES} branches' state "
          f"{q8_state / 2**20:.1f} MiB vs {f16_state / 2**20:.1f} MiB")

    # -- how many branches the default budget keeps instant, per model --------------------------
    per_branch = float(np.mean(own_tokens))
    overhead = float(np.mean(ratios))
    print(f"instant_branches_within_default_budget ({DEFAULT_CACHE_BUDGET // 2**20} MiB, "
          f"{per_branch:.0f} own tokens per branch, f16):")
    models: list[tuple[str, KVShape | None]] = [(m.path.name, kv_shape(read_gguf_info(m.path))) for m in discover()]
    models.append(("an 8B model (32 layers, 8 KV heads of 128; header arithmetic)", EIGHT_B))
    for name, shape in models:
        if shape is None:
            print(f"  {name}: the header does not give plain KV head counts")
            continue
        per_token = shape.bytes_per_token("f16")
        n = branches_within(DEFAULT_CACHE_BUDGET, per_branch, per_token, overhead)
        whole = DEFAULT_CACHE_BUDGET // (per_token * max(chains))
        print(f"  {name}: {per_token:,} bytes per token, {per_branch * per_token * overhead / 2**20:.1f} MiB "
              f"per branch: {n} branches (whole-chain snapshots of {max(chains)} tokens: {whole})")
    print(f"peak_memory_mib: {peak_mb():.0f} (end of run, {time.process_time():.0f} s CPU)")
    print(f"load_average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (info; timings are wall clock)")


if __name__ == "__main__":
    main()
