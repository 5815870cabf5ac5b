"""What a token branch starts with: a step's kept tokens and the token forced in their place.

Pure arithmetic over the stored tokens (store/tokens.py), used by `Review.branch_at`.
"""

from __future__ import annotations

import math

from workstation.errors import BadInputError
from workstation.store.tokens import StepToken, VersionTokens


def branch_head(raw: str, held: VersionTokens, at_char: int, token_text: str, step_id: str) -> list[StepToken]:
    """The tokens a branch at `at_char` of a step (its raw text `raw`) begins with: the step's
    tokens before that place, then `token_text` with the model's log-probability for it there
    (from the alternatives kept; -inf when it was not one of them).

    Raises BadInputError when `at_char` is not where one of the step's tokens starts."""
    starts = held.starts()
    if at_char not in starts:
        near = sorted(sorted(starts, key=lambda s: abs(s - at_char))[:3])
        raise BadInputError(
            f"--at-char {at_char} is not where a token of step {step_id[:12]} starts; tokens start "
            f"at {', '.join(map(str, near))} near it (`workstation show --tokens` lists them)"
        )
    index = starts.index(at_char)
    place = held.tokens[index]
    logprob = place.logprob if token_text == place.text else dict(place.top).get(token_text, -math.inf)
    # A token straddling the step boundary was counted with the step before; its piece here is
    # kept as text with a neutral log-probability.
    piece = [StepToken(raw[: held.offset], 0.0)] if held.offset else []
    return [*piece, *held.tokens[:index], StepToken(token_text, logprob, place.top)]
