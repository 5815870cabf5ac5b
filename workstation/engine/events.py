"""What a generation yields: one TokenEvent per sampled token, then one FinishEvent.

Plain frozen dataclasses so that the review layer, a Qt worker or a test can consume them
without knowing anything about llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Why a generation ended: the model emitted an end-of-turn token ('stop'), it reached
#: max_tokens ('length'), or the caller set the stop event ('cancelled').
FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One sampled token.

    `text` is the new text this token completes; it is "" while a multi-byte UTF-8 character is
    still incomplete, so concatenating every event's text never splits a character.
    `logprob` is the natural log of the token's probability under the model's raw distribution
    (before temperature, top-k and top-p reshape it), which is what confidence is measured on.
    """

    text: str
    token_id: int
    logprob: float
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class FinishEvent:
    """The last event of every generation, whatever ended it.

    `prompt_tokens_evaluated` counts the prompt tokens actually decoded for this generation:
    the rest were reused from the live KV cache or a restored snapshot. At least one token is
    always decoded, because sampling needs fresh logits.
    `tokens_per_s` is the decoding rate between the first and the last token (0.0 when fewer
    than two tokens were generated); `time_to_first_token_s` is None when no token came.
    """

    finish_reason: FinishReason
    prompt_tokens: int
    prompt_tokens_evaluated: int
    completion_tokens: int
    time_to_first_token_s: float | None
    tokens_per_s: float
    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]


GenerationEvent = TokenEvent | FinishEvent


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling settings for one generation; the same values and seed give the same text.

    temperature 0 means greedy decoding. `min_p` is llama.cpp's min-p filter (0 turns it off).
    """

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    max_tokens: int = 512
    seed: int = 0
    min_p: float = 0.05

    def __post_init__(self) -> None:
        from workstation.errors import BadInputError

        checks = [
            (self.temperature >= 0, f"temperature must be 0 or more, not {self.temperature}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], not {self.top_p}"),
            (self.top_k >= 0, f"top_k must be 0 (off) or more, not {self.top_k}"),
            (self.repeat_penalty > 0, f"repeat_penalty must be above 0, not {self.repeat_penalty}"),
            (self.max_tokens >= 1, f"max_tokens must be at least 1, not {self.max_tokens}"),
            (0 <= self.seed < 2**32 - 1, f"seed must be in [0, 2**32 - 1), not {self.seed}"),
            (0 <= self.min_p <= 1, f"min_p must be in [0, 1], not {self.min_p}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(f"sampling: {message}")
