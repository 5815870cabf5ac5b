"""The tokens of each model-written step version: text, log-probability and the top alternatives.

One row per version, the tokens as parallel lists, so a step's tokens are read with one lookup
and DuckDB compresses each list column on its own. Log-probabilities are kept as FLOAT
(float32): the token view shows them to three digits, and half the bytes of a DOUBLE matter at
about 40 tokens x 6 values per step.

Tokens are the engine's by-product, not part of the audited tree: they are written after the
operation that added the steps (an interrupted write loses the token view of those steps,
never a step or a label) and are keyed by version id, which undo and redo keep.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True, slots=True)
class StepToken:
    """One generated token of a step: its text, its log-probability (-inf when the model
    gave it less than any alternative kept, for a token forced by a reviewer) and the model's
    likeliest tokens at that position as (text, logprob), likeliest first."""

    text: str
    logprob: float | None  # None: the engine gave none (an inference server without log-probabilities)
    top: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: non-finite log-probabilities become null (JSON has no -inf)."""
        return {
            "text": self.text,
            "logprob": _finite(self.logprob),
            "top": [{"text": text, "logprob": _finite(lp)} for text, lp in self.top],
        }


@dataclass(frozen=True, slots=True)
class VersionTokens:
    """A version's tokens and where the first one starts in the version's raw text (a token
    that straddles two steps belongs to the step where it starts, so a step's own tokens may
    begin a few characters into its raw span)."""

    offset: int
    tokens: tuple[StepToken, ...]

    def starts(self) -> list[int]:
        """Each token's start offset in the version's raw text."""
        out = []
        at = self.offset
        for token in self.tokens:
            out.append(at)
            at += len(token.text)
        return out


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def split_tokens(
    tokens: Sequence[StepToken], spans: Sequence[tuple[int, int]]
) -> list[VersionTokens]:
    """Each step's tokens, given the steps' (start, end) spans in the generated text.

    The rule of `core.checks.step_confidences`: a token belongs to the step in which it starts
    (tokens before the first step belong to it, tokens after the last to the last).
    """
    buckets: list[list[StepToken]] = [[] for _ in spans]
    offsets = [0 for _ in spans]
    at = 0
    index = 0
    for token in tokens:
        while index < len(spans) - 1 and at >= spans[index][1]:
            index += 1
        if buckets:
            if not buckets[index]:
                offsets[index] = max(0, at - spans[index][0])
            buckets[index].append(token)
        at += len(token.text)
    return [VersionTokens(o, tuple(b)) for o, b in zip(offsets, buckets, strict=True)]


def write(con: duckdb.DuckDBPyConnection, session_id: str, tokens: Mapping[str, VersionTokens]) -> None:
    """Store (or replace) the tokens of the given versions."""
    rows = []
    for version_id, held in tokens.items():
        toks = held.tokens
        rows.append([
            version_id, session_id, held.offset,
            [t.text for t in toks], [t.logprob for t in toks],
            [[text for text, _ in t.top] for t in toks], [[lp for _, lp in t.top] for t in toks],
        ])
    if rows:
        con.executemany(
            "INSERT OR REPLACE INTO step_tokens VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )


def read(con: duckdb.DuckDBPyConnection, version_ids: Iterable[str]) -> dict[str, VersionTokens]:
    """The stored tokens of those versions that have them."""
    wanted = list(dict.fromkeys(version_ids))
    if not wanted:
        return {}
    found: dict[str, VersionTokens] = {}
    for version_id, offset, texts, logprobs, top_texts, top_logprobs in con.execute(
        "SELECT version_id, start_offset, texts, logprobs, top_texts, top_logprobs FROM step_tokens "
        "WHERE list_contains(?, version_id)",
        [wanted],
    ).fetchall():
        found[version_id] = VersionTokens(
            int(offset),
            tuple(
                StepToken(text, float(lp), tuple(zip(tt, (float(v) for v in tl), strict=True)))
                for text, lp, tt, tl in zip(texts, logprobs, top_texts, top_logprobs, strict=True)
            ),
        )
    return found
