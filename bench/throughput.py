"""Tokens/s of the engine's event stream against a bare llama-cpp-python `generate` loop.

Both sides use the same model file, prompt tokens, sampling parameters, seed and threads, and
stop at the same end-of-turn token, so they produce the same tokens. The decoding rate is
(tokens - 1) / (time of the last token - time of the first), which leaves prompt evaluation out.
The machine is shared, so the runs alternate A/B/A/B and the medians are compared.

Run: `python -m bench.throughput`
"""

from __future__ import annotations

import statistics
import time

import llama_cpp

from workstation.engine.discovery import default_model
from workstation.engine.events import FinishEvent, SamplingParams
from workstation.engine.llama_engine import LlamaEngine, LoadOptions

THREADS = 2
N_CTX = 2048
ROUNDS = 9
PARAMS = SamplingParams(temperature=0.8, top_p=0.95, top_k=40, repeat_penalty=1.1, max_tokens=64, seed=7)
MESSAGES = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]


def bare_rate(llm: llama_cpp.Llama, tokens: list[int]) -> tuple[float, int]:
    """A plain generate loop: sample, stop at end of turn or max_tokens, nothing else."""
    vocab = llm._model.vocab
    llm.set_seed(PARAMS.seed)
    count = 0
    first = last = 0.0
    for token in llm.generate(tokens, top_k=PARAMS.top_k, top_p=PARAMS.top_p, min_p=PARAMS.min_p,
                              temp=PARAMS.temperature, repeat_penalty=PARAMS.repeat_penalty):
        last = time.perf_counter()
        if count == 0:
            first = last
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        count += 1
        if count >= PARAMS.max_tokens:
            break
    return (count - 1) / (last - first), count


def engine_rate(engine: LlamaEngine, prompt) -> tuple[float, int]:
    """The engine's full event stream: logprobs, incremental text and the final event."""
    count = 0
    first = last = 0.0
    for event in engine.generate(prompt, PARAMS):
        if isinstance(event, FinishEvent):
            break
        last = time.perf_counter()
        if count == 0:
            first = last
        count += 1
    return (count - 1) / (last - first), count


def main() -> None:
    """Print the median rates and their ratio."""
    model = default_model()
    assert model is not None, "the default model is not installed"
    engine = LlamaEngine(LoadOptions(model.path, n_ctx=N_CTX, n_threads=THREADS))
    bare = llama_cpp.Llama(model_path=str(model.path), n_ctx=N_CTX, n_threads=THREADS,
                           n_threads_batch=THREADS, verbose=False)
    prompt = engine.build_prompt(MESSAGES)
    tokens = list(prompt.tokens)
    engine_rate(engine, prompt)  # warm both (page in the weights, evaluate the prompt once)
    bare_rate(bare, tokens)
    engine_rates, bare_rates, counts = [], [], set()
    for _ in range(ROUNDS):
        rate, n = engine_rate(engine, prompt)
        engine_rates.append(rate)
        counts.add(("engine", n))
        rate, n = bare_rate(bare, tokens)
        bare_rates.append(rate)
        counts.add(("bare", n))
    e, b = statistics.median(engine_rates), statistics.median(bare_rates)
    print(f"tokens per run: {sorted(counts)}")
    print(f"engine_tokens_per_s: {e:.1f} (median of {ROUNDS})")
    print(f"bare_generate_tokens_per_s: {b:.1f} (median of {ROUNDS})")
    print(f"throughput_ratio: {e / b:.3f} (target >= 0.97)")
    engine.close()
    bare.close()


if __name__ == "__main__":
    main()
