"""ServerEngine against llama-cpp-python's own OpenAI-compatible server on the default model.

One server for the module (it loads the model once); the review round trip runs through the real
command line: generate, challenge, regenerate with a critique, continue. A second server is
killed mid-stream to show that the steps written so far are saved, marked incomplete.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from tests.servers import MODEL_ALIAS, LlamaServer
from workstation.cli import main
from workstation.engine.events import FinishEvent, SamplingParams, TokenEvent
from workstation.engine.protocol import Engine
from workstation.engine.server_engine import ServerEngine, ServerOptions
from workstation.review import Review, Streaming

pytestmark = pytest.mark.model

QUESTION = "What is 12 * 4? Think step by step."


@pytest.fixture(scope="module")
def llama_server(default_model_path: Path) -> Iterator[LlamaServer]:
    with LlamaServer(default_model_path) as server:
        yield server


@pytest.fixture
def server_engine(llama_server: LlamaServer) -> Iterator[ServerEngine]:
    with ServerEngine(ServerOptions(llama_server.url, MODEL_ALIAS, api_key="")) as engine:
        yield engine


def test_it_is_an_engine_and_streams_logprobs(server_engine: ServerEngine) -> None:
    assert isinstance(server_engine, Engine)
    assert server_engine.info.model_id == MODEL_ALIAS and server_engine.continuation == "user-turn"
    prompt = server_engine.build_prompt([{"role": "user", "content": QUESTION}])
    events = list(server_engine.generate(prompt, SamplingParams(max_tokens=16, temperature=0)))
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    finish = events[-1]
    assert isinstance(finish, FinishEvent) and finish.finish_reason in ("stop", "length")
    assert tokens and all(t.logprob is not None and t.logprob <= 0 for t in tokens)
    assert all(len(t.alternatives) == 5 for t in tokens)
    assert "".join(t.text for t in tokens) == finish.text
    assert finish.extra["server_url"] == server_engine.url and finish.extra["logprobs_given"] is True


def test_greedy_is_repeatable_through_the_server(server_engine: ServerEngine) -> None:
    prompt = server_engine.build_prompt([{"role": "user", "content": QUESTION}])
    params = SamplingParams(max_tokens=12, temperature=0)
    first, second = (list(server_engine.generate(prompt, params))[-1] for _ in range(2))
    assert isinstance(first, FinishEvent) and isinstance(second, FinishEvent)
    assert first.text == second.text and first.text


def test_stop_mid_stream_is_cancelled_with_the_text_so_far(server_engine: ServerEngine) -> None:
    stop = threading.Event()
    prompt = server_engine.build_prompt([{"role": "user", "content": QUESTION}])
    events = []
    for event in server_engine.generate(prompt, SamplingParams(max_tokens=200, temperature=0.7), stop):
        events.append(event)
        if len(events) == 3:
            stop.set()
    finish = events[-1]
    assert isinstance(finish, FinishEvent) and finish.finish_reason == "cancelled"
    assert len(events) <= 5 and finish.text


def run_cli(*args: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(list(args))
    return status, json.loads(out.getvalue()) if out.getvalue().strip() else {}


def test_review_round_trip_from_the_command_line(llama_server: LlamaServer, tmp_path: Path) -> None:
    db = str(tmp_path / "r.duckdb")
    server = ["--server", llama_server.url, "--server-model", MODEL_ALIAS, "--db", db, "--json", "--seed", "3"]
    status, made = run_cli("generate", *server, "--prompt", QUESTION, "--max-tokens", "60")
    assert status == 0 and made["confidence"] == "from the server's log-probabilities"
    nodes = made["nodes"]
    assert isinstance(nodes, list) and nodes
    assert all(isinstance(n["mean_logprob"], float) and n["mean_logprob"] <= 0 for n in nodes)
    first = nodes[0]["id"]
    provenance = made["server"]
    assert isinstance(provenance, dict) and provenance["server_url"] == llama_server.url
    assert provenance["server_request"]["seed"] == 3

    status, why = run_cli("challenge", first, *server, "--max-tokens", "24")
    assert status == 0 and why["nodes"]
    status, again = run_cli("regenerate", first, *server, "--critique", "Multiply directly.", "--max-tokens", "40")
    assert status == 0 and again["nodes"]
    status, more = run_cli("continue", first, *server, "--max-tokens", "40")
    assert status == 0 and more["nodes"]

    with Review.open(db) as review:
        tree = review.tree(str(made["session_id"]))
        assert tree.node(str(more["nodes"][0]["id"])).parent_id == first  # type: ignore[index]
        generation = review.store.generation(str(tree.node(first).chain_id))
        assert generation is not None
        assert generation.extra["server_url"] == llama_server.url
        assert generation.extra["server_model"] == MODEL_ALIAS
        assert "system_fingerprint" in generation.extra and generation.model_sha256 is None


def test_a_server_killed_mid_stream_loses_no_steps(default_model_path: Path, tmp_path: Path) -> None:
    with LlamaServer(default_model_path) as server, Review.open(tmp_path / "r.duckdb") as review:
        review.use_server(server.url, MODEL_ALIAS, api_key="")
        stream = review.generate(QUESTION, sampling=SamplingParams(max_tokens=400, temperature=0.8, seed=5))
        seen = 0
        finished = None
        for item in stream:
            if isinstance(item, Streaming):
                seen += 1
                if seen == 12:
                    server.kill()
            else:
                finished = item
        assert finished is not None and finished.finish.finish_reason == "error"
        assert finished.finish.error is not None and server.url in finished.finish.error
        tree = review.tree(finished.session_id)
        assert finished.node_ids and tree.node(finished.node_ids[0]).text
