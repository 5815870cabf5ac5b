"""Reading one streamed chat completion: OpenAI-style chunks to TokenEvents and a FinishEvent.

Pure parsing over the SSE payloads (no I/O), so `ServerEngine` keeps the connection and this
module the meaning of what came: text, log-probabilities and alternatives, the finish reason,
usage, and the provenance that goes into the generation's record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from workstation.engine.events import FinishEvent, FinishReason, TokenEvent
from workstation.engine.server_errors import ServerProtocolError


class StreamRun:
    """One streamed completion: the chunks read so far and what they said (`feed` each payload)."""

    def __init__(self, url: str, model_id: str) -> None:
        self.url, self.model_id = url, model_id
        self.texts: list[str] = []
        self.logprobs: list[float | None] = []
        self.reason: str | None = None
        self.ended = False
        self.error: str | None = None
        self.fingerprint: str | None = None
        self.reported_model: str | None = None
        self.usage: Mapping[str, Any] = {}
        self.first_at: float | None = None
        self.last_at = 0.0

    def feed(self, payload: str) -> list[TokenEvent]:
        """The tokens of one SSE payload (a chat.completion.chunk)."""
        chunk = _parse_chunk(payload, self.url)
        if "error" in chunk and not chunk.get("choices"):
            raise ServerProtocolError(f"the inference server {self.url} reported an error mid-stream: "
                                      f"{_error_text(chunk['error'])}")
        self.fingerprint = _text(chunk.get("system_fingerprint")) or self.fingerprint
        self.reported_model = _text(chunk.get("model")) or self.reported_model
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self.usage = usage
        events: list[TokenEvent] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, Mapping) else None
            events += _token_events(content if isinstance(content, str) else "", choice.get("logprobs"))
            self.reason = _text(choice.get("finish_reason")) or self.reason
        for event in events:
            self.texts.append(event.text)
            self.logprobs.append(event.logprob)
        return events

    def finish(self, stopped: bool, started: float, body: Mapping[str, Any]) -> FinishEvent:
        """The FinishEvent of this run, with its provenance."""
        reason: FinishReason
        if stopped:
            reason = "cancelled"
        elif self.error is not None:
            reason = "error"
        elif self.reason is not None or self.ended:
            reason = "length" if self.reason == "length" else "stop"
        else:
            reason = "error"
            self.error = (f"the inference server {self.url} ended the stream before it finished "
                          "(the text so far is kept, marked incomplete)")
        if not self.texts and reason == "error":
            raise ServerProtocolError(self.error or f"the inference server {self.url} sent no text")
        prompt_tokens = _int(self.usage.get("prompt_tokens"))
        details = self.usage.get("prompt_tokens_details")
        cached = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
        count = _int(self.usage.get("completion_tokens")) or len(self.texts)
        first, decoding = self.first_at, self.last_at - (self.first_at or 0.0)
        given = [lp for lp in self.logprobs if lp is not None]
        sampling = {k: body[k] for k in ("temperature", "top_p", "top_k", "min_p", "seed", "max_tokens",
                                         "repeat_penalty", "repetition_penalty", "top_logprobs",
                                         "continue_final_message", "cache_prompt") if k in body}
        return FinishEvent(
            finish_reason=reason,
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=max(0, prompt_tokens - cached),
            completion_tokens=count,
            time_to_first_token_s=(first - started) if first is not None else None,
            tokens_per_s=(len(self.texts) - 1) / decoding if len(self.texts) > 1 and decoding > 0 else 0.0,
            text="".join(self.texts),
            token_ids=(),
            logprobs=tuple(given) if len(given) == len(self.logprobs) else (),
            error=self.error,
            extra={
                "engine": "server",
                "server_url": self.url,
                "server_model": self.reported_model or self.model_id,
                "requested_model": self.model_id,
                "system_fingerprint": self.fingerprint,
                "server_request": sampling,
                "logprobs_given": bool(self.logprobs) and len(given) == len(self.logprobs),
            },
        )


def _token_events(content: str, logprobs: object) -> list[TokenEvent]:
    """One TokenEvent per log-probability entry (their texts add up to `content`), or one for the chunk."""
    entries = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not isinstance(entries, list) or not entries:
        return [TokenEvent(content, -1, None)] if content else []
    given = [e.get("token") if isinstance(e, Mapping) else None for e in entries]
    texts = [t for t in given if isinstance(t, str)]
    if len(texts) != len(entries) or "".join(texts) != content:
        # Byte-level token texts need not add up to the characters: the chunk's text goes on
        # its first token, so the step boundaries still line up.
        texts = [content] + [""] * (len(entries) - 1)
    events = []
    for text, entry in zip(texts, entries, strict=True):
        entry = entry if isinstance(entry, Mapping) else {}
        top = entry.get("top_logprobs")
        alternatives = tuple(
            (str(t.get("token", "")), value)
            for t in (top if isinstance(top, list) else ())
            if isinstance(t, Mapping) and (value := _logprob(t.get("logprob"))) is not None
        )
        events.append(TokenEvent(text, -1, _logprob(entry.get("logprob")), alternatives))
    return events


def _parse_chunk(payload: str, url: str) -> Mapping[str, Any]:
    try:
        chunk = json.loads(payload)
    except json.JSONDecodeError:
        raise ServerProtocolError(
            f"the inference server {url} sent a malformed event ({payload[:80]!r}); it may not be OpenAI-compatible"
        ) from None
    if not isinstance(chunk, Mapping):
        raise ServerProtocolError(f"the inference server {url} sent an event that is not a JSON object")
    return chunk


def _error_text(error: object) -> str:
    if isinstance(error, Mapping):
        return str(error.get("message") or error)
    return str(error)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _logprob(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(min(0.0, value))
    return None
