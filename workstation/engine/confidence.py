"""Per-step confidence from token log-probabilities (pure arithmetic, no model needed).

The engine reports each sampled token's log-probability under the model's raw distribution
(see `TokenEvent.logprob`); a step's confidence summarises the tokens that make it up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StepConfidence:
    """How sure the model was of one step's tokens.

    `mean_logprob` is the average natural-log probability (0 = certain); `min_token_prob`
    is the probability of the least likely token, which flags one wild guess inside an otherwise
    fluent step; `perplexity` is exp(-mean_logprob).
    """

    n_tokens: int
    mean_logprob: float
    min_token_prob: float

    @property
    def perplexity(self) -> float:
        """exp(-mean_logprob): 1.0 for a certain step, larger for a less certain one."""
        return math.exp(-self.mean_logprob)


def step_confidence(logprobs: Sequence[float]) -> StepConfidence | None:
    """Summarise one step's token log-probabilities; None for a step with no tokens."""
    if not logprobs:
        return None
    return StepConfidence(
        n_tokens=len(logprobs),
        mean_logprob=math.fsum(logprobs) / len(logprobs),
        min_token_prob=math.exp(min(logprobs)),
    )


def split_by_text(
    texts: Sequence[str], logprobs: Sequence[float], step_ends: Sequence[int]
) -> list[StepConfidence | None]:
    """Confidence for each step of a generated text, given where each step ends in it.

    `texts` and `logprobs` are the generation's per-token texts and log-probabilities (from its
    TokenEvents); `step_ends` are character offsets into the concatenated text, ascending, the
    last one normally its length. A token belongs to the step in which its text ends; tokens
    with empty text (half a character) belong to the step of the character they complete.
    """
    results: list[StepConfidence | None] = []
    offset = 0
    token = 0
    for end in step_ends:
        bucket: list[float] = []
        while token < len(texts) and (offset + len(texts[token]) <= end or not texts[token]):
            offset += len(texts[token])
            bucket.append(logprobs[token])
            token += 1
            if offset >= end and texts[token - 1]:
                break
        results.append(step_confidence(bucket))
    return results
