"""Streaming through an inference server: the workstation's ServerEngine against the raw `openai` client.

Both sides talk to the same llama-cpp-python server (`python -m llama_cpp.server`, default
model, loopback) with the same messages, sampling, seed and `logprobs/top_logprobs`, and the
rounds alternate (A/B/B/A...) so both see the same load on a shared machine. The rate counts
every streamed chunk after the first, so prompt evaluation is left out; the medians are compared.

Then regenerate from step k through the server: time to first token when the server's cache
still holds the chain (warm: right after the generation that wrote it) against the same request
after an unrelated prompt replaced it (cold). llama-cpp-python's server reuses the longest
cached prefix; llama-server does the same with `cache_prompt`, vLLM with prefix caching.

Run: `python -m bench.server`
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
import openai

from workstation.engine.discovery import default_model
from workstation.engine.events import FinishEvent, SamplingParams
from workstation.engine.server_engine import ServerEngine, ServerOptions

ROUNDS = 4
ALIAS = "smollm2"
PARAMS = SamplingParams(temperature=0.8, top_p=0.95, top_k=40, repeat_penalty=1.1, max_tokens=48, seed=7)
MESSAGES = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper and a storm."}]
LONG = " ".join(f"Fact {i}: the lighthouse at cape {i} was built in {1800 + i} of stone." for i in range(60))
QUESTION = [{"role": "user", "content": LONG + "\n\nWhich lighthouse is the oldest? Think step by step."}]
OTHER = [{"role": "user", "content": "Name three colours. " * 80}]


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):  # the server dies with the bench, however the bench ends
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """llama-cpp-python's server on the default model, on a free loopback port."""
    model = default_model()
    if model is None:
        sys.exit("the default model is not installed: run `make setup`")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model.path), "--model_alias", ALIAS,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/models", timeout=1, trust_env=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    sys.exit("llama_cpp.server did not start")


def engine_rate(engine: ServerEngine) -> tuple[float, int]:
    """Chunks/s after the first, through the workstation's engine."""
    times = []
    for event in engine.generate(engine.build_prompt(MESSAGES), PARAMS):
        if isinstance(event, FinishEvent):
            break
        times.append(time.perf_counter())
    return (len(times) - 1) / (times[-1] - times[0]), len(times)


def raw_rate(client: openai.OpenAI) -> tuple[float, int]:
    """Chunks/s after the first, through the raw openai client with the same request."""
    stream = client.chat.completions.create(
        model=ALIAS, messages=MESSAGES, stream=True, max_tokens=PARAMS.max_tokens,  # type: ignore[arg-type]
        temperature=PARAMS.temperature, top_p=PARAMS.top_p, seed=PARAMS.seed, logprobs=True, top_logprobs=5,
        extra_body={"top_k": PARAMS.top_k, "min_p": PARAMS.min_p, "repeat_penalty": PARAMS.repeat_penalty},
    )
    times = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            times.append(time.perf_counter())
    return (len(times) - 1) / (times[-1] - times[0]), len(times)


def ttft(engine: ServerEngine, messages: list[dict[str, str]], pieces: list[str]) -> tuple[float, str]:
    """Time to the first token of one generation (and its text)."""
    events = list(engine.generate(engine.build_prompt(messages, pieces), SamplingParams(max_tokens=48, temperature=0)))
    finish = events[-1]
    assert isinstance(finish, FinishEvent) and finish.time_to_first_token_s is not None
    return finish.time_to_first_token_s, finish.text


def main() -> None:
    process, url = start_server()
    try:
        engine = ServerEngine(ServerOptions(url, ALIAS, api_key=""))
        client = openai.OpenAI(base_url=url, api_key="none", http_client=httpx.Client(trust_env=False))
        engine_rate(engine)
        raw_rate(client)  # warm both paths once
        ours, theirs, counts = [], [], set()
        for round_ in range(ROUNDS):
            order = (engine_rate, raw_rate) if round_ % 2 == 0 else (raw_rate, engine_rate)
            for side in order:
                rate, count = side(engine) if side is engine_rate else side(client)  # type: ignore[operator]
                (ours if side is engine_rate else theirs).append(rate)
                counts.add(count)
        e, r = statistics.median(ours), statistics.median(theirs)
        print(f"chunks per run: {sorted(counts)}; load average {os.getloadavg()[0]:.1f}")
        print(f"server_engine_tokens_per_s: {e:.1f} (median of {ROUNDS})")
        print(f"openai_client_tokens_per_s: {r:.1f} (median of {ROUNDS})")
        print(f"server_throughput_ratio: {e / r:.3f} (target >= 0.97)")

        warm, cold = [], []
        for _ in range(3):
            _, chain = ttft(engine, QUESTION, [])
            step = chain.split("\n")[0] + "\n" if chain else "Step 1: "
            warm.append(ttft(engine, QUESTION, [step])[0])
            ttft(engine, OTHER, [])  # another prompt replaces the server's cached prefix
            cold.append(ttft(engine, QUESTION, [step])[0])
        w, c = statistics.median(warm), statistics.median(cold)
        print(f"server_regenerate_ttft_warm_s: {w:.3f} (median of 3)")
        print(f"server_regenerate_ttft_cold_s: {c:.3f} (median of 3)")
        print(f"server_regenerate_warm_speedup: {c / w:.1f}x (target > 1: the server reuses the prefix)")
        engine.close()
        client.close()
    finally:
        process.kill()
        process.wait()


if __name__ == "__main__":
    main()
