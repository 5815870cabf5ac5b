"""Tokens/s of the engine's event stream against a bare llama-cpp-python `generate` loop.

Both sides use the same model file, prompt tokens, sampling parameters, seed and threads, and
stop at the same end-of-turn token, so they produce the same tokens. The decoding rate counts
every token after the first, so prompt evaluation is left out.
The machine is shared, so the two sides run side by side in one process, each with its own
context, and alternate token by token (A/B/B/A...); each round gives a rate per side and the
medians over the rounds are compared.

Run: `python -m bench.throughput`
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import llama_cpp

from workstation.engine.discovery import default_model
from workstation.engine.events import FinishEvent, SamplingParams
from workstation.engine.llama_engine import LlamaEngine, LoadOptions
from workstation.engine.prompt import Prompt

THREADS = 2
N_CTX = 2048
ROUNDS = 9
PARAMS = SamplingParams(temperature=0.8, top_p=0.95, top_k=40, repeat_penalty=1.1, max_tokens=64, seed=7)
MESSAGES = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]


def bare_tokens(llm: llama_cpp.Llama, tokens: list[int]) -> Iterator[int]:
    """A plain generate loop: sample, stop at end of turn or max_tokens, nothing else."""
    vocab = llm._model.vocab
    llm.set_seed(PARAMS.seed)
    count = 0
    for token in llm.generate(tokens, top_k=PARAMS.top_k, top_p=PARAMS.top_p, min_p=PARAMS.min_p,
                              temp=PARAMS.temperature, repeat_penalty=PARAMS.repeat_penalty):
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            return
        yield token
        count += 1
        if count >= PARAMS.max_tokens:
            return


def engine_tokens(engine: LlamaEngine, prompt: Prompt) -> Iterator[int]:
    """The engine's full event stream: logprobs, incremental text and the final event."""
    for event in engine.generate(prompt, PARAMS):
        if isinstance(event, FinishEvent):
            return
        yield event.token_id


def interleaved_round(engine: LlamaEngine, prompt: Prompt, bare: llama_cpp.Llama) -> tuple[float, float, int]:
    """One generation on each side, advanced one token at a time in alternation.

    The first token (prompt evaluation) is left out; each later token's wall time is added to
    its side. Alternating token by token means both sides see the same load from other
    processes on a shared machine, which run-level alternation cannot guarantee.
    """
    streams = {"engine": engine_tokens(engine, prompt), "bare": bare_tokens(bare, list(prompt.tokens))}
    spent = {"engine": 0.0, "bare": 0.0}
    counts = {"engine": 0, "bare": 0}
    order = ["engine", "bare"]
    live = set(order)
    while live:
        for side in order:
            if side not in live:
                continue
            started = time.perf_counter()
            token = next(streams[side], None)
            elapsed = time.perf_counter() - started
            if token is None:
                live.discard(side)
                continue
            counts[side] += 1
            if counts[side] > 1:
                spent[side] += elapsed
        order.reverse()  # neither side always goes first
    assert counts["engine"] == counts["bare"], counts
    n = counts["engine"] - 1
    return n / spent["engine"], n / spent["bare"], counts["engine"]


def main() -> None:
    """Print the median rates and their ratio."""
    model = default_model()
    assert model is not None, "the default model is not installed"
    engine = LlamaEngine(LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS))
    bare = llama_cpp.Llama(model_path=str(model.path), n_ctx=N_CTX, n_threads=THREADS,
                           n_threads_batch=THREADS, verbose=False)
    prompt = engine.build_prompt(MESSAGES)
    interleaved_round(engine, prompt, bare)  # warm up: page in the weights, evaluate the prompt
    engine_rates, bare_rates, counts = [], [], set()
    for _ in range(ROUNDS):
        e, b, n = interleaved_round(engine, prompt, bare)
        engine_rates.append(e)
        bare_rates.append(b)
        counts.add(n)
    e, b = statistics.median(engine_rates), statistics.median(bare_rates)
    print(f"tokens per run: {sorted(counts)} (same on both sides)")
    print(f"engine_tokens_per_s: {e:.1f} (median of {ROUNDS})")
    print(f"bare_generate_tokens_per_s: {b:.1f} (median of {ROUNDS})")
    print(f"throughput_ratio: {e / b:.3f} (target >= 0.97)")
    engine.close()
    bare.close()


if __name__ == "__main__":
    main()
