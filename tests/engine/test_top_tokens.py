"""The top alternatives each TokenEvent carries: the likeliest tokens at that place, likeliest
first, with the same log-probabilities a logits_all=True reference computes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workstation.engine.events import SamplingParams, TokenEvent
from workstation.engine.llama_engine import TOP_TOKENS, LlamaEngine

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "A train travels 60 km in 1.5 hours. What is its speed?"}]


def test_alternatives_are_the_top_tokens_of_a_logits_all_reference(engine: LlamaEngine, default_model_path) -> None:
    import llama_cpp

    prompt = engine.build_prompt(QUESTION)
    events = list(engine.generate(prompt, SamplingParams(temperature=0.9, max_tokens=10, seed=4)))
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    ids = [e.token_id for e in tokens]
    reference = llama_cpp.Llama(model_path=str(default_model_path), n_ctx=256, n_threads=2,
                                logits_all=True, verbose=False)
    try:
        reference.eval(list(prompt.tokens))
        for token in ids[:-1]:
            reference.eval([token])
        rows = llama_cpp.Llama.logits_to_logprobs(reference.scores[len(prompt.tokens) - 1 : reference.n_tokens])
    finally:
        reference.close()
    for event, row in zip(tokens, rows, strict=True):
        assert len(event.alternatives) == TOP_TOKENS
        values = [lp for _, lp in event.alternatives]
        assert values == sorted(values, reverse=True)
        expected = np.sort(row)[::-1][:TOP_TOKENS]
        assert np.allclose(values, expected, atol=1e-3), (values, expected)
        # The sampled token is among them when it is that likely, with its own log-probability.
        if event.logprob >= values[-1] + 1e-3 and event.text:
            assert any(text == event.text and math.isclose(lp, event.logprob, abs_tol=1e-6)
                       for text, lp in event.alternatives)


def test_greedy_writes_the_first_alternative(engine: LlamaEngine) -> None:
    # No repeat penalty: greedy decoding then takes the raw distribution's likeliest token.
    prompt = engine.build_prompt(QUESTION)
    greedy = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=12, seed=1)
    events = [e for e in engine.generate(prompt, greedy)
              if isinstance(e, TokenEvent)]
    assert events
    for event in events:
        text, logprob = event.alternatives[0]
        assert math.isclose(logprob, event.logprob, abs_tol=1e-6)
        if event.text:  # a whole character: the first alternative's text is the token's
            assert text == event.text
