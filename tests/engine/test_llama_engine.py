"""The llama-cpp-python engine on the real default model: streaming, stop, seeds, reuse, limits."""

from __future__ import annotations

import math
import threading

import pytest

from workstation.engine.errors import ContextOverflowError, EmptyPromptError
from workstation.engine.events import FinishEvent, SamplingParams, TokenEvent
from workstation.engine.llama_engine import LlamaEngine, LoadOptions, gpu_offload_supported
from workstation.engine.protocol import Engine
from workstation.errors import BadInputError

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "A train travels 60 km in 1.5 hours. What is its speed?"}]
GREEDY = SamplingParams(temperature=0.0, max_tokens=24, seed=1)


def run(engine: LlamaEngine, prompt, params: SamplingParams = GREEDY, stop=None):
    events = list(engine.generate(prompt, params, stop))
    tokens = [e for e in events[:-1] if isinstance(e, TokenEvent)]
    finish = events[-1]
    assert isinstance(finish, FinishEvent) and len(tokens) == len(events) - 1
    return tokens, finish


def test_engine_satisfies_protocol_and_reports_its_model(engine: LlamaEngine) -> None:
    assert isinstance(engine, Engine)
    assert engine.info.architecture == "llama"
    assert engine.info.has_chat_template
    assert engine.n_ctx == 1024
    assert isinstance(engine.gpu_offload_supported, bool)


def test_default_context_is_the_smaller_of_trained_and_cap(default_model_path) -> None:
    with LlamaEngine(LoadOptions(default_model_path, n_threads=2, n_ctx_cap=512)) as small:
        assert small.n_ctx == 512


@pytest.mark.skipif(gpu_offload_supported(), reason="this build can offload to a GPU")
def test_gpu_layers_on_cpu_build_run_on_cpu_with_one_notice(default_model_path) -> None:
    with LlamaEngine(LoadOptions(default_model_path, n_gpu_layers=-1, n_ctx=256, n_threads=2)) as cpu:
        assert cpu.n_gpu_layers == 0
        assert len(cpu.notices) == 1 and "CPU-only" in cpu.notices[0]
        _, finish = run(cpu, cpu.build_prompt(QUESTION), SamplingParams(temperature=0, max_tokens=2))
        assert finish.completion_tokens >= 1
        assert len(cpu.notices) == 1


def test_prompt_uses_chat_template_and_prefixes_are_stable(engine: LlamaEngine) -> None:
    head = engine.build_prompt(QUESTION)
    assert head.text.startswith("<|im_start|>") and head.text.endswith("<|im_start|>assistant\n")
    assert head.boundaries == (len(head.tokens),)
    steps = ["Step 1: speed is distance over time.\n", "Step 2: 60 / 1.5 = 40.\n", "So 40 km/h."]
    prompts = [engine.build_prompt(QUESTION, steps[:k]) for k in range(len(steps) + 1)]
    for shorter, longer in zip(prompts, prompts[1:]):
        assert longer.tokens[: len(shorter.tokens)] == shorter.tokens
        assert longer.boundaries[:-1] == shorter.boundaries
    assert prompts[-1].text == head.text + "".join(steps)
    assert engine.extend_prompt(prompts[1], steps[1:]).tokens == prompts[-1].tokens
    # Text that merely spells a control marker stays text inside a step.
    im_start = head.tokens[0]
    marked = engine.build_prompt(QUESTION, ["<|im_start|>"])
    assert im_start not in marked.tokens[len(head.tokens):]


def test_streaming_events_and_counts(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt(QUESTION)
    tokens, finish = run(engine, prompt, SamplingParams(temperature=0.7, max_tokens=12, seed=3))
    assert finish.finish_reason in ("stop", "length")
    assert finish.completion_tokens == len(tokens) == len(finish.token_ids)
    assert finish.text == "".join(t.text for t in tokens)
    assert finish.prompt_tokens == len(prompt.tokens)
    assert all(t.logprob <= 0 and math.isfinite(t.logprob) for t in tokens)
    assert finish.logprobs == tuple(t.logprob for t in tokens)
    assert finish.time_to_first_token_s is not None and finish.time_to_first_token_s > 0
    assert finish.tokens_per_s > 0


def test_logprobs_match_a_logits_all_reference(engine: LlamaEngine, default_model_path) -> None:
    """The engine reads only the last position's logits; a logits_all=True model must agree."""
    import llama_cpp
    import numpy as np

    prompt = engine.build_prompt(QUESTION)
    tokens, finish = run(engine, prompt, SamplingParams(temperature=0.8, max_tokens=8, seed=11))
    reference = llama_cpp.Llama(model_path=str(default_model_path), n_ctx=256, n_threads=2,
                                logits_all=True, verbose=False)
    try:
        # Token by token, as generation decodes: a single batch takes other kernels whose
        # rounding moves some log-probabilities by up to ~0.1.
        reference.eval(list(prompt.tokens))
        for token in finish.token_ids[:-1]:
            reference.eval([token])
        rows = reference.scores[len(prompt.tokens) - 1 : reference.n_tokens]
        expected = llama_cpp.Llama.logits_to_logprobs(rows)[np.arange(len(tokens)), finish.token_ids]
    finally:
        reference.close()
    assert np.allclose(finish.logprobs, expected, atol=1e-3), (finish.logprobs, expected)


def test_max_tokens_ends_with_length(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt([{"role": "user", "content": "Count from 1 to 100, one per line."}])
    tokens, finish = run(engine, prompt, SamplingParams(temperature=0.0, max_tokens=5))
    assert (finish.finish_reason, len(tokens)) == ("length", 5)


def test_end_of_turn_ends_with_stop(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt([{"role": "user", "content": "Say only the word yes."}])
    _, finish = run(engine, prompt, SamplingParams(temperature=0.0, max_tokens=40))
    assert finish.finish_reason == "stop"
    assert "<|im_end|>" not in finish.text


def test_same_seed_same_text_with_and_without_reuse(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt(QUESTION)
    params = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, repeat_penalty=1.1, max_tokens=20, seed=42)
    engine.reset()
    _, cold = run(engine, prompt, params)
    _, warm = run(engine, prompt, params)  # the prompt is now in the KV cache
    assert warm.prompt_tokens_evaluated == 1
    assert cold.text == warm.text and cold.token_ids == warm.token_ids
    different = [run(engine, prompt, SamplingParams(temperature=0.9, max_tokens=20, seed=s))[1].text
                 for s in (1, 2, 3)]
    assert len({cold.text, *different}) > 1


def test_stop_event_ends_within_one_token_and_engine_stays_usable(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt([{"role": "user", "content": "Write a long poem about the sea."}])
    stop = threading.Event()
    seen: list[TokenEvent] = []
    finish = None
    for event in engine.generate(prompt, SamplingParams(temperature=0.7, max_tokens=200, seed=5), stop):
        if isinstance(event, TokenEvent):
            seen.append(event)
            if len(seen) == 3:
                stop.set()
        else:
            finish = event
    assert finish is not None and finish.finish_reason == "cancelled"
    assert len(seen) == 3 == finish.completion_tokens
    # The engine's bookkeeping survived: continuing the same prompt reuses all of it.
    _, after = run(engine, prompt, SamplingParams(temperature=0.0, max_tokens=3))
    assert after.prompt_tokens_evaluated == 1
    # A stop requested before starting yields no token.
    stop_early = threading.Event()
    stop_early.set()
    tokens, early = run(engine, prompt, GREEDY, stop_early)
    assert tokens == [] and early.finish_reason == "cancelled" and early.time_to_first_token_s is None


def test_abandoned_iterator_leaves_engine_consistent(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt(QUESTION)
    stream = engine.generate(prompt, SamplingParams(temperature=0.7, max_tokens=50, seed=8))
    next(stream)
    stream.close()
    _, finish = run(engine, prompt, GREEDY)
    assert finish.prompt_tokens_evaluated == 1


def test_regenerate_from_a_step_of_an_older_branch_restores_a_snapshot(engine: LlamaEngine) -> None:
    engine.reset()
    params = SamplingParams(temperature=0.0, max_tokens=12, seed=1)
    head = engine.build_prompt(QUESTION)
    _, first = run(engine, head, params)
    assert first.prompt_tokens_evaluated == len(head.tokens)

    # Branch A: the user's steps continue the answer.
    steps_a = ["Step 1: speed is distance divided by time.\n", "Step 2: 60 km / 1.5 h.\n",
               "Step 3: that is 40 km/h.\n"]
    prompt_a = engine.build_prompt(QUESTION, steps_a)
    _, a = run(engine, prompt_a, params)
    # Only the steps were new: the head was still in the live KV cache.
    assert a.prompt_tokens_evaluated == len(prompt_a.tokens) - len(head.tokens)

    # Branch B forks at step 2 of A and becomes the most recent; the live cache forgets A's tail.
    prompt_b = engine.build_prompt(QUESTION, steps_a[:1] + ["Step 2: 1.5 hours is 90 minutes.\n"])
    _, b = run(engine, prompt_b, params)
    assert b.prompt_tokens_evaluated < len(prompt_b.tokens) - len(head.tokens)

    # Back to A, regenerating from its step 3: A's snapshot serves the whole prefix.
    hits_before = engine.cache_stats().hits
    regen_a = engine.build_prompt(QUESTION, steps_a[:2])
    _, again = run(engine, regen_a, params)
    assert again.prompt_tokens_evaluated == 1
    assert engine.cache_stats().hits == hits_before + 1
    stats = engine.cache_stats()
    assert 0 < stats.bytes <= stats.budget_bytes and stats.entries >= 2


def test_prefill_makes_the_next_generation_start_at_once(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt([{"role": "user", "content": "Name three prime numbers."}])
    engine.reset()
    assert engine.prefill(prompt) == len(prompt.tokens)
    assert engine.cache_stats().entries == 1
    _, finish = run(engine, prompt, SamplingParams(temperature=0.0, max_tokens=2))
    assert finish.prompt_tokens_evaluated == 1


def test_context_overflow_fails_before_generating_with_both_numbers(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt(QUESTION)
    with pytest.raises(ContextOverflowError) as caught:
        engine.generate(prompt, SamplingParams(max_tokens=1024))
    message = str(caught.value)
    assert f"{len(prompt.tokens):,}" in message and "1,024" in message
    assert caught.value.prompt_tokens == len(prompt.tokens) and caught.value.n_ctx == 1024
    long = engine.build_prompt([{"role": "user", "content": "word " * 2000}])
    with pytest.raises(ContextOverflowError):
        engine.generate(long, SamplingParams(max_tokens=1))


@pytest.mark.parametrize("messages", [[], [{"role": "user", "content": "   \n"}]])
def test_empty_prompt_is_a_typed_error(engine: LlamaEngine, messages) -> None:
    with pytest.raises(EmptyPromptError):
        engine.build_prompt(messages)


@pytest.mark.parametrize(
    "messages",
    ["hello", [{"role": "robot", "content": "hi"}], [{"role": "user", "content": 3}], ["hi"]],
)
def test_malformed_messages_are_bad_input(engine: LlamaEngine, messages) -> None:
    with pytest.raises(BadInputError):
        engine.build_prompt(messages)


def test_bad_sampling_values_are_bad_input() -> None:
    with pytest.raises(BadInputError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(BadInputError, match="max_tokens"):
        SamplingParams(max_tokens=0)


def test_text_decoder_never_splits_a_character(engine: LlamaEngine) -> None:
    text = "日本語 😀 café 🎉🎉 ok"
    tokens = engine.tokenize(text)
    decoder = engine.text_decoder()
    pieces = [decoder.push(t) for t in tokens]
    assert "".join(pieces) + decoder.flush() == text
    assert "" in pieces  # some token carried only part of a character
    assert all("\ufffd" not in p for p in pieces)


def test_generated_multibyte_text_is_whole_characters(engine: LlamaEngine) -> None:
    prompt = engine.build_prompt([{"role": "user", "content": "Répète: 日本語 😀 café 🎉🎉"}],
                                 ["Bien sûr: 日本語 😀"])
    tokens, finish = run(engine, prompt, SamplingParams(temperature=0.0, max_tokens=30))
    raw = b"".join(engine.token_bytes(t.token_id) for t in tokens)
    assert finish.text == raw.decode("utf-8", errors="replace")
    assert all("\ufffd" not in t.text for t in tokens[:-1])
