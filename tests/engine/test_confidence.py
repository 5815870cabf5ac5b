"""Per-step confidence arithmetic."""

from __future__ import annotations

import math

import pytest

from workstation.engine.confidence import split_by_text, step_confidence


def test_step_confidence() -> None:
    result = step_confidence([math.log(0.5), math.log(0.25), 0.0])
    assert result is not None
    assert result.n_tokens == 3
    assert result.mean_logprob == pytest.approx((math.log(0.5) + math.log(0.25)) / 3)
    assert result.min_token_prob == pytest.approx(0.25)
    assert result.perplexity == pytest.approx(math.exp(-result.mean_logprob))
    assert step_confidence([]) is None


def test_split_by_text_assigns_tokens_to_steps() -> None:
    texts = ["Step", " one", ".\n", "", "é", " two", "."]
    logprobs = [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7]
    # "Step one.\n" is 10 characters; "é two." follows (6 characters).
    steps = split_by_text(texts, logprobs, [10, 16])
    assert [s.n_tokens for s in steps if s] == [3, 4]
    assert steps[1] is not None and steps[1].min_token_prob == pytest.approx(math.exp(-0.7))
