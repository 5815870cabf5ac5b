"""The `Engine` for any OpenAI-compatible `/v1/chat/completions` server, streamed over SSE with httpx.

The server renders the chat with its own template, so a `Prompt` here carries the checked chat
messages and the assistant text to continue, not tokens. Continuing an assistant message
(regenerate, continue, challenge from step k) depends on the server:

- "vllm": the prefix goes as a final assistant message with `continue_final_message: true,
  add_generation_prompt: false` (vLLM's documented way).
- "prefill": the prefix goes as a final assistant message that the server continues as it stands
  (llama-server's assistant prefill).
- "user-turn": for a server that always opens a new assistant turn after the messages (the
  OpenAI API, and llama-cpp-python's own server: tested, it closes a trailing assistant message
  and starts a new turn), the prefix goes as an assistant message followed by a user message
  asking for the steps that come next. The model then writes only the new steps, which is what
  the review layer expects; its wording may differ from a true continuation.
- "auto" picks from the server's model list: `owned_by` "vllm" gives "vllm", "llamacpp"
  (llama-server) gives "prefill", anything else the safe "user-turn".

Log-probabilities come from `logprobs: true, top_logprobs: N`; where a server sends none, a
token's logprob is None (confidence "not given by this server"), never zero. Stopping shuts the
connection's socket from a watcher thread, so a stop takes effect even while the server is still
reading the prompt. A stream that breaks after some text ends with finish reason "error" and the
text so far, so the review layer saves the steps as incomplete; one that breaks before any text
raises a `ServerError`.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from workstation.engine import sse
from workstation.engine.errors import ContextOverflowError, EmptyPromptError
from workstation.engine.events import GenerationEvent, SamplingParams
from workstation.engine.protocol import ChatMessage, Prompt
from workstation.engine.server_errors import (
    ServerError,
    ServerModelNotFoundError,
    ServerProtocolError,
    classify_status,
    classify_transport,
)
from workstation.engine.server_stream import StreamRun
from workstation.errors import BadInputError

Continuation = Literal["auto", "vllm", "prefill", "user-turn"]
CONTINUATIONS: tuple[Continuation, ...] = ("auto", "vllm", "prefill", "user-turn")
#: The user turn that asks a server which cannot continue a message for the next steps.
CONTINUE_REQUEST = (
    "Continue your reasoning exactly where it stops. Write only the steps that come next, "
    "in the same format; do not repeat any step above."
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
#: Plain-http warnings already given, so each shows once per run.
_warned: set[str] = set()


@dataclass(frozen=True)
class ServerOptions:
    """Where the server is and how to talk to it.

    `url` is the API base (`http://host:port/v1`; a bare `http://host:port` gets `/v1`); a user
    name and password in it are never sent or recorded as part of the URL (the password is used
    as the API key when none is given). `model` may be empty when the server serves one model.
    """

    url: str
    model: str = ""
    api_key: str | None = None
    timeout_s: float = 120.0
    connect_timeout_s: float = 10.0
    top_logprobs: int = 5
    continuation: Continuation = "auto"


@dataclass(frozen=True)
class ServerModel:
    """The served model as the `ModelInfo` protocol names it (no local file: size 0)."""

    path: Path
    model_id: str
    server: str
    owned_by: str = ""
    file_size: int = 0


def split_url(url: str) -> tuple[str, str | None]:
    """The API base URL without credentials (with /v1 added to a bare host), and any password in it."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(
            f"the server URL '{public_url(text)}' is not an http(s) URL; give one such as http://127.0.0.1:8080/v1"
        )
    try:
        port = parts.port
    except ValueError:
        raise BadInputError(f"the server URL '{public_url(text)}' has a bad port number") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port is not None else host
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, netloc, path, "", "")), parts.password or None


def public_url(url: str) -> str:
    """`url` with any user name and password removed (what may be shown and recorded)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (localhost or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_warning(url: str) -> str | None:
    """The warning for plain http to another machine, or None (https, or this machine)."""
    if urlsplit(url).scheme != "http" or is_loopback(url):
        return None
    return (f"{public_url(url)} is plain http to another machine: the prompts, the steps and the API key "
            "cross the network unencrypted; use https unless the network is trusted.")


class ServerEngine:
    """The `Engine` (see protocol) for one model on an OpenAI-compatible server (module docstring)."""

    n_gpu_layers = 0  # whatever the server runs on, nothing is offloaded here

    def __init__(self, options: ServerOptions, *, transport: httpx.BaseTransport | None = None) -> None:
        self.url, password = split_url(options.url)
        self.options = options
        api_key = options.api_key or password
        self.notices: list[str] = []
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(options.timeout_s, connect=options.connect_timeout_s),
            transport=transport,
            trust_env=False,  # connect to that host only, never through a proxy from the environment
            # One connection, so the socket a stop must shut is always the one last connected.
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            event_hooks={"request": [self._traced]},
        )
        self._socket: socket.socket | None = None
        try:
            self.info = self._find_model(options.model)
        except BaseException:
            self._client.close()
            raise
        self.continuation: Continuation = (
            options.continuation if options.continuation != "auto" else _auto_continuation(self.info.owned_by)
        )
        self.n_ctx = self._context
        warning = plain_http_warning(self.url)
        if warning and warning not in _warned:
            _warned.add(warning)
            self.notices.append(warning)

    # -- connecting ---------------------------------------------------------------------------

    def _find_model(self, wanted: str) -> ServerModel:
        """The model from the server's list (checks the URL, key and name before any generation)."""
        self._context = 0
        try:
            response = self._client.get("models")
        except httpx.TransportError as exc:
            raise classify_transport(exc, self.url) from None
        if response.status_code == 404 and wanted:
            # Some servers have no model list; the name is then checked by the first generation.
            return ServerModel(Path(wanted), wanted, self.url)
        if response.status_code != 200:
            raise classify_status(response.status_code, response.text[:2000], response.headers, self.url, wanted)
        entries = _model_entries(response, self.url)
        ids = [str(e.get("id")) for e in entries]
        if not wanted and len(entries) == 1:
            wanted = ids[0]
        if wanted not in ids:
            served = ", ".join(ids[:20]) or "no models"
            ask = "give its name" if not wanted else f"it does not serve '{wanted}'"
            raise ServerModelNotFoundError(
                f"the inference server {self.url} serves {served}; {ask} (--server-model, or the model field)"
            )
        entry = entries[ids.index(wanted)]
        context = entry.get("max_model_len")
        self._context = context if isinstance(context, int) and context > 0 else 0
        return ServerModel(Path(wanted), wanted, self.url, str(entry.get("owned_by") or ""))

    # -- prompts -------------------------------------------------------------------------------

    def build_prompt(self, messages: Sequence[ChatMessage], continuation: Sequence[str] = ()) -> Prompt:
        """Checked messages (the server renders them) and the assistant text to continue."""
        from workstation.engine.prompt import check_messages

        checked = tuple(check_messages(messages))
        text = "".join(f"{m['role']}: {m['content']}\n\n" for m in checked) + "assistant: "
        return self.extend_prompt(Prompt((), (0,), text, (), checked), continuation)

    def extend_prompt(self, prompt: Prompt, pieces: Sequence[str]) -> Prompt:
        """`prompt` followed by more assistant text."""
        if isinstance(pieces, str) or not all(isinstance(p, str) for p in pieces):
            raise BadInputError("continuation must be a list of text pieces, not one string")
        kept = tuple(p for p in pieces if p)
        return Prompt((), (0,), prompt.text + "".join(kept), prompt.pieces + kept, prompt.messages)

    def check_fits(self, prompt: Prompt, max_tokens: int) -> None:
        """Refuse an empty prompt, and one that surely overflows a context the server reported.

        With no tokenizer here the prompt's size is a lower bound (a token is rarely over six
        characters); the server itself refuses the rest, and that answer becomes a clear error.
        """
        if not prompt.messages:
            raise EmptyPromptError("the prompt is empty: give a question or a message with some text")
        at_least = len(prompt.text) // 6
        if self.n_ctx and at_least + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has at least {at_least:,} tokens and up to {max_tokens:,} more were requested, but "
                f"the server's context holds {self.n_ctx:,}; shorten the prompt or lower max tokens",
                prompt_tokens=at_least, max_tokens=max_tokens, n_ctx=self.n_ctx,
            )

    # -- generation ------------------------------------------------------------------------------

    def request_body(self, prompt: Prompt, params: SamplingParams) -> dict[str, Any]:
        """The JSON body of the chat completion request for `prompt` (public for tests and the bench)."""
        messages: list[dict[str, object]] = [dict(m) for m in prompt.messages]
        body: dict[str, Any] = {"model": self.info.model_id}
        prefix = "".join(prompt.pieces)
        if prefix:
            messages.append({"role": "assistant", "content": prefix})
            if self.continuation == "vllm":
                body.update(continue_final_message=True, add_generation_prompt=False)
            elif self.continuation == "user-turn":
                messages.append({"role": "user", "content": CONTINUE_REQUEST})
        body.update(
            messages=messages, stream=True, stream_options={"include_usage": True},
            max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k, min_p=params.min_p, seed=params.seed,
        )
        if self.continuation == "vllm":
            body["repetition_penalty"] = params.repeat_penalty
        else:
            body["repeat_penalty"] = params.repeat_penalty
        if self.info.owned_by == "llamacpp":
            body["cache_prompt"] = True  # llama-server reuses the KV cache of a shared prefix
        if self.options.top_logprobs > 0:
            body.update(logprobs=True, top_logprobs=self.options.top_logprobs)
        return body

    def generate(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), stop: threading.Event | None = None
    ) -> Iterator[GenerationEvent]:
        """Stream TokenEvents, then exactly one FinishEvent; `stop` closes the connection at once."""
        if not isinstance(prompt, Prompt):
            raise BadInputError("generate() takes a Prompt from build_prompt()")
        self.check_fits(prompt, params.max_tokens)
        return self._stream(prompt, params, stop or threading.Event())

    def _stream(self, prompt: Prompt, params: SamplingParams, stop: threading.Event) -> Iterator[GenerationEvent]:
        body = self.request_body(prompt, params)
        run = StreamRun(self.url, self.info.model_id)
        started = time.perf_counter()
        done = threading.Event()
        if stop.is_set():  # stopped before it started: send nothing
            yield run.finish(True, started, body)
            return
        try:
            self._watch(stop, done)
            with self._client.stream("POST", "chat/completions", json=body) as response:
                _check_answer(response, self.url, self.info.model_id)
                for payload in sse.events(response.iter_lines()):
                    if stop.is_set() or payload == sse.DONE:
                        run.ended = True
                        break
                    for event in run.feed(payload):
                        if run.first_at is None:
                            run.first_at = time.perf_counter()
                        run.last_at = time.perf_counter()
                        yield event
        except (httpx.HTTPError, ServerError) as exc:
            if not stop.is_set():
                error = classify_transport(exc, self.url) if isinstance(exc, httpx.TransportError) else exc
                if not isinstance(error, ServerError):
                    error = ServerProtocolError(f"the inference server {self.url} failed: {exc}")
                if not run.texts:
                    raise error from None
                run.error = f"{error} (the text so far is kept, marked incomplete)"
        finally:
            done.set()
        yield run.finish(stop.is_set(), started, body)

    def _traced(self, request: httpx.Request) -> None:
        request.extensions["trace"] = self._trace

    def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace hook: remember the socket of each new connection (plain or TLS)."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            raw = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(raw, socket.socket):
                self._socket = raw

    def _watch(self, stop: threading.Event, done: threading.Event) -> None:
        """Shut the connection's socket as soon as `stop` is set, even while connecting or waiting
        for the server's first byte: the blocked read returns at once and the request ends."""

        def watch() -> None:
            shut: socket.socket | None = None
            while not done.is_set():
                # set() wakes the wait at once; the timeout only bounds how long the thread outlives
                # its request, and keeps its wake-ups off the streaming thread's back.
                if not stop.wait(0.25) or done.is_set():
                    continue
                current = self._socket
                if current is not None and current is not shut:
                    # Every socket the request gets, also one httpx opens after a first was shut.
                    try:
                        current.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    shut = current
                done.wait(0.02)

        threading.Thread(target=watch, name="server-stop-watch", daemon=True).start()

    # -- the rest of the protocol --------------------------------------------------------------------

    def check_file(self) -> None:
        """Nothing to check: the weights are on the server."""

    def file_sha256(self) -> str:
        """'': the weights are not on this machine (the record holds the server's model id)."""
        return ""

    def close(self) -> None:
        """Close the connection pool; the engine cannot be used afterwards."""
        self._client.close()

    def __enter__(self) -> ServerEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_answer(response: httpx.Response, url: str, model: str) -> None:
    """Raise the right ServerError unless `response` is a 200 event stream."""
    if response.status_code != 200:
        body = response.read()[:4000].decode("utf-8", errors="replace")
        raise classify_status(response.status_code, body, response.headers, url, model)
    kind = response.headers.get("content-type", "").lower()
    if "html" in kind:
        raise ServerProtocolError(
            f"{url} answered with an HTML page, not an event stream: it is probably a web page or a proxy's "
            "login page, not an OpenAI-compatible API; check the URL (it usually ends in /v1)"
        )


def _auto_continuation(owned_by: str) -> Continuation:
    return {"vllm": "vllm", "llamacpp": "prefill"}.get(owned_by, "user-turn")  # type: ignore[return-value]


def _model_entries(response: httpx.Response, url: str) -> list[Mapping[str, Any]]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _not_api(response, url) from None
    entries = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise _not_api(response, url)
    return [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str)]


def _not_api(response: httpx.Response, url: str) -> ServerProtocolError:
    what = "an HTML page" if "html" in response.headers.get("content-type", "").lower() else "something else"
    return ServerProtocolError(
        f"{url}/models answered with {what}, not an OpenAI-style model list; check the URL (it usually ends in /v1)"
    )
