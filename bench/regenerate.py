"""Time to first token when regenerating from a step of an older branch, against a cold start.

A chain of at least 1,500 tokens (a long question plus the model's step-by-step answer) gets
three branches: A (the first answer), B (regenerated from a step of A) and C (regenerated from
a step of B). Then, for each branch in turn, the user goes back and regenerates from its
second-to-last step while the live KV cache holds another branch, so the engine must restore a
snapshot. The same prompts are then timed on a second engine reset to a cold start.

Run: `python -m bench.regenerate`
"""

from __future__ import annotations

import re

from workstation.engine.discovery import default_model
from workstation.engine.events import FinishEvent, SamplingParams
from workstation.engine.llama_engine import LlamaEngine, LoadOptions

THREADS = 2
N_CTX = 4096
WARM_ROUNDS = 3


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
    back the tokens the model generated and the engine's snapshots match them.
    """
    return [p for p in re.split(r"(?<=\n)|(?<=[.!?])(?= )", text) if p]


def generate(engine: LlamaEngine, messages, steps: list[str], seed: int, max_tokens: int) -> FinishEvent:
    """Continue after `steps` and return the FinishEvent."""
    prompt = engine.build_prompt(messages, steps)
    params = SamplingParams(temperature=0.8, max_tokens=max_tokens, seed=seed)
    *_, finish = engine.generate(prompt, params)
    assert isinstance(finish, FinishEvent)
    return finish


def grow(engine: LlamaEngine, messages, base: list[str], seed: int) -> list[str]:
    """A branch: the steps of `base` followed by a fresh continuation split into steps."""
    for attempt in range(5):
        finish = generate(engine, messages, base, seed + 100 * attempt, 220)
        new = split_steps(finish.text)
        if len(new) >= 3:
            return base + new
    raise SystemExit("the model gave too short an answer five times; try other seeds")


def main() -> None:
    """Build the branches, time warm and cold regeneration, print ratios and cache bytes."""
    model = default_model()
    assert model is not None, "the default model is not installed"
    options = LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS)
    engine = LlamaEngine(options)
    messages = [{"role": "user", "content": long_question()}]

    branch_a = grow(engine, messages, [], seed=1)
    branch_b = grow(engine, messages, branch_a[: len(branch_a) // 2], seed=2)
    fork_c = len(branch_a) // 2 + 1
    branch_c = grow(engine, messages, branch_b[:fork_c], seed=3)
    branches = {"A": branch_a, "B": branch_b, "C": branch_c}
    for name, steps in branches.items():
        chain = len(engine.build_prompt(messages, steps).tokens)
        print(f"chain_tokens_branch_{name}: {chain} ({len(steps)} steps; target >= 1500)")

    # Regenerate from each branch's second-to-last step in the order A, B, C, A, B, C, ...: each
    # time the live KV cache holds another branch, so the engine must restore a snapshot.
    # Three rounds and the median, as the machine is shared and a single time can be a spike.
    warm: dict[str, list[FinishEvent]] = {name: [] for name in branches}
    for _ in range(WARM_ROUNDS):
        for name, steps in branches.items():
            warm[name].append(generate(engine, messages, steps[:-2], seed=9, max_tokens=4))

    cold_engine = LlamaEngine(options)
    cold: dict[str, FinishEvent] = {}
    for name, steps in branches.items():
        cold_engine.reset()
        cold[name] = generate(cold_engine, messages, steps[:-2], seed=9, max_tokens=4)

    for name in branches:
        runs, c = warm[name], cold[name]
        w = sorted(runs, key=lambda f: f.time_to_first_token_s)[len(runs) // 2]
        evaluated = sorted({f.prompt_tokens_evaluated for f in runs})
        print(
            f"regenerate_branch_{name}: warm ttft {w.time_to_first_token_s:.3f} s (median of "
            f"{len(runs)}; {'/'.join(map(str, evaluated))} of {w.prompt_tokens} prompt tokens "
            f"evaluated), cold ttft {c.time_to_first_token_s:.3f} s ({c.prompt_tokens_evaluated} evaluated)"
        )
        ratio = w.time_to_first_token_s / c.time_to_first_token_s
        print(f"regenerate_ttft_ratio_branch_{name}: {ratio:.3f} (target <= 0.05)")
    stats = engine.cache_stats()
    print(
        f"snapshot_cache_bytes: {stats.bytes} (target <= budget {stats.budget_bytes}; "
        f"{stats.entries} snapshots, {stats.hits} restores)"
    )
    engine.close()
    cold_engine.close()


if __name__ == "__main__":
    main()
