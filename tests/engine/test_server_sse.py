"""The SSE reader and the chunk reader of the server engine, on any input."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from workstation.engine import sse
from workstation.engine.server_stream import StreamRun


def test_events_join_data_lines_and_skip_comments_and_other_fields() -> None:
    lines = [": ping", "event: message", "data: {\"a\":", "data: 1}", "", "id: 3", "data:[DONE]", ""]
    assert list(sse.events(lines)) == ['{"a":\n1}', "[DONE]"]


def test_an_event_still_open_at_the_end_is_given_to_the_caller() -> None:
    assert list(sse.events(["data: partial"])) == ["partial"]


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=30), min_size=1, max_size=8))
def test_any_payload_comes_back_as_sent(payloads: list[str]) -> None:
    lines = [line for payload in payloads for line in (f"data: {payload}", "")]
    assert list(sse.events(lines)) == payloads


@given(st.lists(st.text(max_size=8), min_size=1, max_size=6), st.booleans())
def test_chunk_texts_add_up_whatever_the_token_texts(pieces: list[str], byte_tokens: bool) -> None:
    run = StreamRun("http://127.0.0.1:1/v1", "m")
    for piece in pieces:
        entries = [{"token": "\u0120x" if byte_tokens else piece, "logprob": -0.5, "top_logprobs": []}]
        chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "logprobs": {"content": entries}}]}
        run.feed(json.dumps(chunk))
    assert "".join(run.texts) == "".join(pieces)
    assert all(lp is None or lp <= 0 for lp in run.logprobs)
