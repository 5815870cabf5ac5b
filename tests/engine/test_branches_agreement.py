"""A regenerate from a shared prefix agrees with a cold generation of the same text (real model).

Branches are grown from random steps of random branches, then visited again in random order, on
an engine whose branches share cells (with a budget small enough that some go to host memory and
some are dropped) and, side by side, on one using whole-state snapshots. Every greedy generation
is compared with a cold one (a fresh context, the prompt evaluated from scratch): the logits of
the tokens both chose differ only by numeric noise (other batch shapes and cell layouts sum in
another order), and the tokens may part only where the cold run's top two candidates are within
twice that noise of each other (each of the two logits may move by the noise).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import llama_cpp
import numpy as np
import pytest

from workstation.engine.events import FinishEvent, SamplingParams, TokenEvent
from workstation.engine.llama_engine import LlamaEngine, LoadOptions
from workstation.engine.protocol import Prompt

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "A shop sells pens at 3 dollars and notebooks at 5 dollars. Ann buys "
                                        "4 pens and 2 notebooks, Ben buys 1 pen and 6 notebooks. Who pays more, "
                                        "and by how much? Think step by step."}]
STEPS = ["Step 1: Ann's pens cost 4 * 3 = 12 dollars.\n", "Step 2: Ann's notebooks cost 2 * 5 = 10 dollars.\n",
         "Step 3: Ann pays 12 + 10 = 22 dollars.\n", "Step 4: Ben's pen costs 1 * 3 = 3 dollars.\n",
         "Step 5: Ben's notebooks cost 6 * 5 = 30 dollars.\n", "Step 6: Ben pays 3 + 30 = 33 dollars.\n",
         "Step 7: 33 - 22 = 11.\n", "Step 8: Ben pays 11 dollars more.\n"]
GREEDY = SamplingParams(temperature=0.0, max_tokens=8, seed=0)
N_BRANCHES = 10


@dataclass
class Trace:
    """A greedy generation's tokens and, for each, the logits it was chosen from."""

    tokens: list[int]
    logits: np.ndarray
    evaluated: int


def traced(engine: LlamaEngine, prompt: Prompt) -> Trace:
    tokens: list[int] = []
    rows: list[np.ndarray] = []
    evaluated = -1
    for event in engine.generate(prompt, GREEDY):
        if isinstance(event, TokenEvent):
            # The logits row the token was sampled from is still in place while its event is handled.
            row = llama_cpp.llama_get_logits_ith(engine._llm.ctx, -1)
            rows.append(np.ctypeslib.as_array(row, shape=(engine.n_vocab,)).copy())
            tokens.append(event.token_id)
        elif isinstance(event, FinishEvent):
            evaluated = event.prompt_tokens_evaluated
    return Trace(tokens, np.array(rows), evaluated)


def branch_plan(seed: int) -> tuple[list[list[str]], list[int]]:
    """Branches grown from random steps of random earlier branches, and a random order to revisit them."""
    rng = random.Random(seed)
    branches = [list(STEPS)]
    for i in range(1, N_BRANCHES):
        parent = rng.choice(branches)
        at = rng.randrange(1, len(parent))
        branches.append(parent[:at] + [f"Step {at + 1}: let me redo this, take {i}.\n"] + STEPS[at + 1:][: rng.randrange(3)])
    order = list(range(N_BRANCHES))
    rng.shuffle(order)
    return branches, order


def compare(warm: list[Trace], cold: list[Trace]) -> dict[str, float]:
    """Noise (largest logit difference where both chose the same tokens) and where and why they parted."""
    noise = 0.0
    partings: list[float] = []  # the cold run's top-two margin where the tokens part
    agree = 0
    for w, c in zip(warm, cold, strict=True):
        n = min(len(w.tokens), len(c.tokens))
        same = next((i for i in range(n) if w.tokens[i] != c.tokens[i]), n)
        if same:
            noise = max(noise, float(np.abs(w.logits[:same] - c.logits[:same]).max()))
        if same < n:
            top = np.sort(c.logits[same])[-2:]
            partings.append(float(top[1] - top[0]))
        else:
            agree += 1
    return {"agreement": agree / len(warm), "noise": noise, "worst_parting_margin": max(partings, default=0.0),
            "partings": len(partings)}


@pytest.fixture(scope="module")
def plan_and_cold(default_model_path) -> tuple[list[list[str]], list[int], list[Trace]]:
    branches, order = branch_plan(seed=7)
    with LlamaEngine(LoadOptions(default_model_path, n_ctx=1024, n_threads=2, shared_prefix=False)) as cold:
        traces = []
        for steps in branches:
            cold.reset()
            traces.append(traced(cold, cold.build_prompt(QUESTION, steps)))
    return branches, order, traces


@pytest.mark.parametrize("shared_prefix", [True, False], ids=["branches", "snapshots"])
def test_regenerating_from_shared_prefixes_agrees_with_cold(default_model_path, plan_and_cold, shared_prefix) -> None:
    branches, order, cold = plan_and_cold
    # A budget for ~70 extra cells and ~70 tokens in host memory: some branches stay live, some
    # are saved to host memory and some are dropped, so every way back is exercised.
    options = LoadOptions(default_model_path, n_ctx=1024, n_threads=2, shared_prefix=shared_prefix,
                          cache_budget_bytes=140 * 23_040 if shared_prefix else 8 * 2**20)
    with LlamaEngine(options) as engine:
        grown = [traced(engine, engine.build_prompt(QUESTION, steps)) for steps in branches]
        revisited = {i: traced(engine, engine.build_prompt(QUESTION, branches[i])) for i in order}
        stats = engine.branch_stats()
    warm = grown + [revisited[i] for i in range(N_BRANCHES)]
    result = compare(warm, cold + cold)
    print(f"\n{'branches' if shared_prefix else 'snapshots'}: {result}, {stats}")
    # Most came from held state: nothing like a cold prefill per branch.
    assert sum(t.evaluated for t in warm) < 0.5 * sum(t.evaluated for t in cold + cold)
    assert result["worst_parting_margin"] <= 2 * result["noise"] + 1e-3, result
    assert result["agreement"] >= 0.8, result
    if shared_prefix:
        assert stats is not None and stats.restores + stats.hits > 0
