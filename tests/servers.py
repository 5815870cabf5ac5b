"""Real loopback servers for the inference-server tests.

- `LlamaServer`: llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`)
  on the default model, in a child process on a free loopback port.
- `BadServer`: a small http.server in a thread whose answers misbehave in one chosen way per
  URL: `http://127.0.0.1:PORT/MODE/v1`.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import httpx

MODEL_ALIAS = "smollm2"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def die_with_parent() -> None:
    """In the child: on Linux, be killed when the test process dies, even by SIGKILL (no orphan server)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LlamaServer:
    """llama-cpp-python's server on `model`, started on enter and killed on exit."""

    def __init__(self, model: Path, n_ctx: int = 2048) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", "2",
        ]
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: llama.cpp's load log fills a pipe's buffer and the server would block.
        self.log = tempfile.TemporaryFile()

    def __enter__(self) -> LlamaServer:
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=die_with_parent)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                error = self.log.read().decode(errors="replace")
                raise RuntimeError(f"llama_cpp.server exited: {error[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=1, trust_env=False).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError("llama_cpp.server did not start within 120 s")

    def kill(self) -> None:
        """End the server at once (SIGKILL): what a crashed server looks like to a client."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log.close()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.kill()


def chunk(content: str | None = None, finish: str | None = None, logprob: float | None = -0.5) -> bytes:
    """One chat.completion.chunk event, with a log-probability for its content when given."""
    delta = {"content": content} if content is not None else {}
    logprobs = None
    if content is not None and logprob is not None:
        logprobs = {"content": [{"token": content, "logprob": logprob, "top_logprobs": [
            {"token": content, "logprob": logprob}]}]}
    body = {"id": "x", "object": "chat.completion.chunk", "model": "m", "system_fingerprint": "fp_test",
            "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


#: Text that splits into two steps.
STEPS = ["Step 1: 12 * 4 = 48.", "\n\n", "Step 2: ", "so the answer ", "is 48."]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _BadHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _mode(self) -> str:
        return self.path.strip("/").split("/")[0]

    def _send(self, status: int, body: bytes, kind: str = "application/json", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        mode = self._mode()
        if mode == "auth" or (mode == "needkey" and self.headers.get("Authorization") != "Bearer k-1"):
            self._send(401, b'{"error": {"message": "invalid api key"}}')
        elif mode == "html":
            self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
        else:
            models = {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": mode}]}
            self._send(200, json.dumps(models).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.requests.append(json.loads(self.rfile.read(length) or b"{}"))
        mode = self._mode()
        if mode == "model404":
            self._send(404, b'{"error": {"message": "The model `m` does not exist."}}')
        elif mode == "busy":
            self._send(429, b'{"error": {"message": "rate limited"}}', headers={"Retry-After": "30"})
        elif mode == "fail":
            self._send(500, b"Internal Server Error", "text/plain")
        elif mode == "htmlchat":
            self._send(200, b"<html><body>Proxy login</body></html>", "text/html; charset=utf-8")
        elif mode == "hang":
            self.server.release.wait(30)
        else:
            try:
                self._stream(mode)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: what a stop does

    def _stream(self, mode: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        out = self.wfile
        out.write(chunk(None))
        if mode == "malformed":
            out.write(b"data: {not json\n\n")
            return
        plain = mode == "nologprobs"
        for piece in STEPS:
            out.write(b": ping\n\n")
            out.write(chunk(piece, logprob=None if plain else -0.25))
            out.flush()
        if mode == "truncated":
            out.flush()
            return  # closes cleanly: no finish_reason, no [DONE]
        if mode == "drop":
            out.flush()
            time.sleep(0.3)  # let the client read the text first: a reset discards unread data
            # An abortive close (RST): the client's next read fails, as when a server dies.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if mode == "slow":
            for _ in range(200):
                out.write(chunk(" more", logprob=-0.1))
                out.flush()
                time.sleep(0.05)
        out.write(chunk(None, finish="stop"))
        out.write(b'data: {"id": "x", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 5, '
                  b'"prompt_tokens_details": {"cached_tokens": 12}}}\n\n')
        out.write(b"data: [DONE]\n\n")
        out.flush()


class _BadHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, object]] = []
        self.release = threading.Event()


class BadServer:
    """A loopback server of our own; `url(mode)` is the API base for one kind of misbehaviour."""

    def __enter__(self) -> BadServer:
        self.httpd = _BadHTTPServer()
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def url(self, mode: str) -> str:
        """The API base URL for `mode` (ok, auth, html, model404, busy, fail, htmlchat, hang, malformed,
        nologprobs, truncated, drop, slow, or an `owned_by` value such as vllm or llamacpp)."""
        return f"http://127.0.0.1:{self.port}/{mode}/v1"

    @property
    def requests(self) -> list[dict[str, object]]:
        """The JSON bodies of the chat requests received, in order."""
        return self.httpd.requests

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
