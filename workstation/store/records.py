"""Plain records the store takes in or hands out beside the core's own objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from workstation.core.jsontypes import JSONData


@dataclass(frozen=True)
class Generation:
    """The engine's record of the generation that produced a chain, stored under its id.

    `sampling` holds every sampling parameter as given (temperature, top_p, top_k, min_p,
    repeat_penalty, max_tokens, seed, ...); the usual ones also get their own columns.
    `step_confidence` has one entry per step of the chain (a dict such as
    `{"n_tokens": 12, "mean_logprob": -0.4, "min_token_prob": 0.02}`, or None).
    """

    chain_id: str
    model_file: str
    model_size: int | None = None
    model_sha256: str | None = None
    sampling: Mapping[str, JSONData] = field(default_factory=dict)
    prompt_tokens: int | None = None
    prompt_tokens_evaluated: int | None = None
    completion_tokens: int | None = None
    time_to_first_token_s: float | None = None
    tokens_per_s: float | None = None
    finish_reason: str | None = None
    step_confidence: tuple[Mapping[str, JSONData] | None, ...] = ()
    #: Anything else the engine reports, kept as JSON.
    extra: Mapping[str, JSONData] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionSummary:
    """One line of the session list."""

    id: str
    title: str
    question: str
    created_at: str
    #: Time of the session's latest event (ISO string, as the events carry it).
    updated_at: str
    reviewer_id: str
    #: Live (not deleted) step and answer nodes.
    steps: int
    #: Annotations not retracted.
    annotations: int
    #: Model names of the session's chains, in order of first use.
    models: tuple[str, ...]
    #: Live steps with a label on their current version (by any reviewer).
    labelled: int = 0


@dataclass(frozen=True)
class SearchHit:
    """A node that matched a search, with enough context to list it and open it."""

    session_id: str
    session_title: str
    node_id: str
    kind: str
    position: int
    #: The node's current text.
    text: str
    deleted: bool
