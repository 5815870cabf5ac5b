"""Every way an inference server can fail gets a clear ServerError, and a broken stream loses nothing.

The servers are real loopback servers of the test's own (tests/servers.py) that misbehave in
one way each; the engine and the review layer are the real ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import STEPS, BadServer, free_port
from workstation.engine.events import FinishEvent, SamplingParams, TokenEvent
from workstation.engine.server_engine import ServerEngine, ServerOptions, plain_http_warning, public_url, split_url
from workstation.engine.server_errors import (
    ServerAuthError,
    ServerBusyError,
    ServerError,
    ServerFailedError,
    ServerModelNotFoundError,
    ServerProtocolError,
    ServerTimeoutError,
    ServerUnreachableError,
    retry_after,
)
from workstation.errors import BadInputError, WorkstationError
from workstation.review import Review, drain

MESSAGES = [{"role": "user", "content": "What is 12 * 4?"}]


@pytest.fixture(scope="module")
def bad() -> Iterator[BadServer]:
    with BadServer() as server:
        yield server


_open: list[ServerEngine] = []


@pytest.fixture(autouse=True)
def close_engines() -> Iterator[None]:
    """Every engine a test made is closed after it (no socket is left open)."""
    yield
    while _open:
        _open.pop().close()


def engine(url: str, timeout_s: float = 5.0) -> ServerEngine:
    made = ServerEngine(ServerOptions(url, "m", timeout_s=timeout_s))
    _open.append(made)
    return made


def run(engine: ServerEngine, stop: threading.Event | None = None) -> list[TokenEvent | FinishEvent]:
    return list(engine.generate(engine.build_prompt(MESSAGES), SamplingParams(max_tokens=64), stop))


def test_a_whole_stream_gives_tokens_logprobs_and_provenance(bad: BadServer) -> None:
    events = run(engine(bad.url("ok")))
    finish = events[-1]
    assert isinstance(finish, FinishEvent)
    assert finish.finish_reason == "stop" and finish.text == "".join(STEPS)
    assert finish.logprobs == (-0.25,) * len(STEPS)
    assert finish.prompt_tokens == 20 and finish.prompt_tokens_evaluated == 8  # 12 came from its cache
    assert finish.extra["system_fingerprint"] == "fp_test" and finish.extra["server_model"] == "m"
    token = events[0]
    assert isinstance(token, TokenEvent) and token.alternatives == ((STEPS[0], -0.25),)


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("auth", ServerAuthError, "API key"),
        ("html", ServerProtocolError, "HTML page"),
    ],
)
def test_faults_found_when_connecting(bad: BadServer, mode: str, error: type[ServerError], words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        engine(bad.url(mode))
    assert bad.url(mode) in str(caught.value)


def test_connection_refused_names_the_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ServerUnreachableError, match="could not connect") as caught:
        engine(url)
    assert url in str(caught.value) and isinstance(caught.value, WorkstationError)


def test_a_name_that_does_not_resolve() -> None:
    with pytest.raises(ServerUnreachableError, match="could not be resolved"):
        engine("http://no-such-host.invalid/v1")


def test_tls_to_a_plain_http_server(bad: BadServer) -> None:
    with pytest.raises(ServerUnreachableError, match="TLS"):
        engine(f"https://127.0.0.1:{bad.port}/ok/v1")


def test_a_model_the_server_does_not_list(bad: BadServer) -> None:
    with pytest.raises(ServerModelNotFoundError, match="serves m; it does not serve 'other'"):
        _open.append(ServerEngine(ServerOptions(bad.url("ok"), "other")))


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("model404", ServerModelNotFoundError, "404 for model 'm'"),
        ("busy", ServerBusyError, "try again in 30 s"),
        ("fail", ServerFailedError, "failed \\(500"),
        ("htmlchat", ServerProtocolError, "HTML page"),
        ("malformed", ServerProtocolError, "malformed event"),
    ],
)
def test_faults_found_when_generating(bad: BadServer, mode: str, error: type[ServerError], words: str) -> None:
    with pytest.raises(error, match=words):
        run(engine(bad.url(mode)))


def test_busy_says_when_to_retry(bad: BadServer) -> None:
    with pytest.raises(ServerBusyError) as caught:
        run(engine(bad.url("busy")))
    assert caught.value.retry_after_s == 30
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and retry_after("soon") is None


def test_a_hanging_server_times_out(bad: BadServer) -> None:
    started = time.monotonic()
    with pytest.raises(ServerTimeoutError, match="in time"):
        run(engine(bad.url("hang"), timeout_s=1.0))
    assert time.monotonic() - started < 10


def test_stop_closes_a_waiting_request_at_once(bad: BadServer) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    events = run(engine(bad.url("hang"), timeout_s=30.0), stop)
    elapsed = time.monotonic() - started
    assert isinstance(events[-1], FinishEvent) and events[-1].finish_reason == "cancelled"
    assert elapsed < 10, elapsed  # not the 30 s timeout (a loaded machine may be slow to switch)


def test_stop_mid_stream_keeps_what_came(bad: BadServer) -> None:
    stop = threading.Event()
    events: list[TokenEvent | FinishEvent] = []
    slow = engine(bad.url("slow"))
    for event in slow.generate(slow.build_prompt(MESSAGES), stop=stop):
        events.append(event)
        if len(events) == 8:
            stop.set()
    finish = events[-1]
    assert isinstance(finish, FinishEvent) and finish.finish_reason == "cancelled"
    assert len(events) <= 10 and finish.text.startswith("".join(STEPS))


@pytest.mark.parametrize("mode", ["truncated", "drop"])
def test_a_broken_stream_keeps_the_text_as_incomplete(bad: BadServer, mode: str) -> None:
    finish = run(engine(bad.url(mode)))[-1]
    assert isinstance(finish, FinishEvent)
    assert finish.finish_reason == "error" and finish.text == "".join(STEPS)
    assert finish.error is not None and "kept, marked incomplete" in finish.error


@pytest.mark.parametrize("mode", ["truncated", "drop"])
def test_review_saves_the_steps_of_a_broken_stream(bad: BadServer, tmp_path: Path, mode: str) -> None:
    with Review.open(tmp_path / "r.duckdb") as review:
        review.use_server(bad.url(mode), "m", api_key="")
        finished = drain(review.generate("What is 12 * 4?"))
        tree = review.tree(finished.session_id)
        assert finished.finish.finish_reason == "error" and finished.generation is not None
        assert [tree.node(n).text for n in finished.node_ids][0].startswith("Step 1: 12 * 4 = 48.")
        assert finished.generation.finish_reason == "error"
        assert "marked incomplete" in str(finished.generation.extra["error"])


def test_no_logprobs_means_no_confidence_never_zero(bad: BadServer, tmp_path: Path) -> None:
    with Review.open(tmp_path / "r.duckdb") as review:
        review.use_server(bad.url("nologprobs"), "m", api_key="")
        finished = drain(review.generate("What is 12 * 4?"))
        tree = review.tree(finished.session_id)
        versions = [tree.node(n).current for n in finished.node_ids]
        assert versions and all(v.mean_logprob is None and v.min_token_prob is None for v in versions)
        assert finished.finish.extra["logprobs_given"] is False


def test_continuation_follows_the_server_kind(bad: BadServer) -> None:
    pieces = ["Step 1: 12 * 4 = 48.\n\n"]
    for mode, expected in (("vllm", "vllm"), ("llamacpp", "prefill"), ("ok", "user-turn")):
        server = engine(bad.url(mode))
        body = server.request_body(server.build_prompt(MESSAGES, pieces), SamplingParams())
        assert server.continuation == expected
        roles = [m["role"] for m in body["messages"]]
        assert roles == (["user", "assistant", "user"] if expected == "user-turn" else ["user", "assistant"])
        assert body["messages"][1]["content"] == pieces[0]
        assert body.get("continue_final_message") is (True if expected == "vllm" else None)
        assert body.get("add_generation_prompt") is (False if expected == "vllm" else None)
        assert body.get("cache_prompt") is (True if mode == "llamacpp" else None)
        assert ("repetition_penalty" in body) == (mode == "vllm")


def test_credentials_never_leave_in_the_url(bad: BadServer) -> None:
    url = f"http://user:s3cret@127.0.0.1:{bad.port}/ok/v1"
    assert split_url(url) == (bad.url("ok"), "s3cret") and "s3cret" not in public_url(url)
    finish = run(engine(url))[-1]
    assert isinstance(finish, FinishEvent) and "s3cret" not in str(finish.extra)


def test_bad_urls_are_refused_clearly() -> None:
    for url in ("ftp://host/v1", "127.0.0.1:8080", "http://host:99999/v1"):
        with pytest.raises(BadInputError, match="URL"):
            split_url(url)
    assert split_url("http://127.0.0.1:8080")[0] == "http://127.0.0.1:8080/v1"


def test_plain_http_to_another_host_is_warned_about(bad: BadServer) -> None:
    assert engine(bad.url("ok")).notices == []  # loopback: no warning
    assert plain_http_warning("https://gpu.example.org/v1") is None
    assert plain_http_warning("http://127.0.0.2:8000/v1") is None
    warning = plain_http_warning("http://gpu.example.org:8000/v1")
    assert warning is not None and "unencrypted" in warning


def test_the_key_comes_from_workstation_api_key(bad: BadServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Review.open(tmp_path / "r.duckdb") as review:
        monkeypatch.setenv("WORKSTATION_API_KEY", "wrong")
        with pytest.raises(ServerAuthError, match="WORKSTATION_API_KEY"):
            review.use_server(bad.url("needkey"), "m")
        monkeypatch.setenv("WORKSTATION_API_KEY", "k-1")
        assert review.use_server(bad.url("needkey"), "m").info.path.name == "m"
