"""What can go wrong with an inference server, each as one message naming the server and what to do.

Every class is a `WorkstationError`: the window and the command line show the message, never a
traceback. `classify_transport` and `classify_status` turn httpx's exceptions and HTTP answers
into these, so the engine has one place that words them.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import socket
import ssl
from typing import TYPE_CHECKING

from workstation.errors import WorkstationError

if TYPE_CHECKING:  # httpx is imported where a server is used, not by everything that names these errors
    import httpx


class ServerError(WorkstationError):
    """An inference server could not be used (the message names it and says what to do)."""


class ServerUnreachableError(ServerError):
    """Connection refused, a name that does not resolve, or a TLS failure."""


class ServerAuthError(ServerError):
    """The server refused the API key (401) or the key may not use this model (403)."""


class ServerModelNotFoundError(ServerError):
    """The server does not serve the model asked for (404, or not in its model list)."""


class ServerBusyError(ServerError):
    """429: the server asks us to wait; `retry_after_s` says how long when it said so."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServerFailedError(ServerError):
    """A 5xx answer, or any other status the engine cannot use."""


class ServerTimeoutError(ServerError):
    """The server did not answer (or stopped sending) within the timeout."""


class ServerProtocolError(ServerError):
    """The server answered with something other than an OpenAI-style stream (HTML, bad SSE)."""


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def classify_transport(exc: httpx.TransportError, server: str) -> ServerError:
    """The user's message for a failed connection, read or write."""
    import httpx

    causes = _chain(exc)
    text = " ".join(str(c) for c in causes)
    if isinstance(exc, httpx.TimeoutException):
        what = "connect to" if isinstance(exc, httpx.ConnectTimeout) else "get an answer from"
        return ServerTimeoutError(
            f"could not {what} the inference server {server} in time; check that it is running and not "
            "overloaded, or raise the server timeout"
        )
    if any(isinstance(c, ssl.SSLError) for c in causes) or "SSL" in text or "certificate" in text:
        return ServerUnreachableError(
            f"the TLS connection to {server} failed ({_short(text)}); check the URL (https vs http) and the "
            "server's certificate"
        )
    if any(isinstance(c, socket.gaierror) for c in causes) or any(
        marker in text for marker in ("Name or service not known", "nodename nor servname", "getaddrinfo",
                                      "No address associated", "Temporary failure in name resolution")
    ):
        return ServerUnreachableError(
            f"the inference server's host name in {server} could not be resolved; check the URL and your network"
        )
    if isinstance(exc, httpx.ConnectError):
        return ServerUnreachableError(
            f"could not connect to the inference server {server} ({_short(text)}); check that it is running "
            "and that the URL and port are right"
        )
    if isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError)):
        return ServerFailedError(
            f"the inference server {server} dropped the connection ({_short(text)}); check that it is still "
            "running, then try again"
        )
    return ServerFailedError(
        f"the connection to the inference server {server} failed ({_short(text)}); try again"
    )


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return max(0.0, (when - _dt.datetime.now(_dt.UTC)).total_seconds())


def classify_status(status: int, body: str, headers: httpx.Headers, server: str, model: str) -> ServerError:
    """The user's message for an HTTP answer other than 200."""
    detail = _detail(body, headers)
    if status in (401, 403):
        what = "refused the API key" if status == 401 else "does not allow this API key to use it"
        return ServerAuthError(
            f"the inference server {server} {what} ({status}{detail}); set the right key in Model > Use server… "
            "or in WORKSTATION_API_KEY"
        )
    if status == 404:
        return ServerModelNotFoundError(
            f"the inference server {server} answered 404 for model '{model}'{detail}; check the model name "
            "(`GET /v1/models` lists what it serves) and that the URL ends in /v1"
        )
    if status == 429:
        wait = retry_after(headers.get("retry-after"))
        when = f"try again in {wait:.0f} s" if wait is not None else "try again later"
        return ServerBusyError(f"the inference server {server} is busy (429{detail}); {when}", wait)
    if 500 <= status < 600:
        return ServerFailedError(
            f"the inference server {server} failed ({status}{detail}); try again, or ask whoever runs it"
        )
    if status == 400:
        return ServerFailedError(
            f"the inference server {server} rejected the request (400{detail}); the prompt may be too long "
            "for its context, or it does not take one of the sampling settings"
        )
    return ServerFailedError(f"the inference server {server} answered {status}{detail}; check the URL")


def _detail(body: str, headers: httpx.Headers) -> str:
    if "html" in headers.get("content-type", "").lower() or body.lstrip().lower().startswith(("<!doctype", "<html")):
        return ", an HTML page"
    text = " ".join(body.split())
    return f": {_short(text)}" if text else ""


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
