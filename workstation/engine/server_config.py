"""Inference server configuration: the options a user may override, and where the API key is kept.

The key is never in the settings file or a URL: `WORKSTATION_API_KEY` (for scripts) wins, then
the system keyring's entry for the server's URL (service "reasoning-workstation", user
"server-api-key <url>"). Where no usable keyring exists, a key typed in the window is kept for
this run only, and `store_api_key` says so.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypedDict

from workstation.engine.server_errors import ServerError

if TYPE_CHECKING:
    import keyring.backend

    from workstation.engine.server_engine import Continuation

#: The environment variable scripts put the API key in.
API_KEY_VARIABLE = "WORKSTATION_API_KEY"
_session_keys: dict[str, str] = {}


class ServerOverrides(TypedDict, total=False):
    """ServerOptions fields given by name, as `Review.use_server(**options)` takes them."""

    timeout_s: float
    connect_timeout_s: float
    top_logprobs: int
    continuation: Continuation


def _entry(url: str) -> str:
    from workstation.engine.server_engine import split_url

    return f"server-api-key {split_url(url)[0]}"


def _backend(backend: keyring.backend.KeyringBackend | None) -> keyring.backend.KeyringBackend | None:
    """The keyring to use, or None where there is no usable one."""
    import keyring

    from workstation.exchange.keys import keyring_usable

    chosen = backend if backend is not None else keyring.get_keyring()
    return chosen if keyring_usable(chosen, explicit=backend is not None) else None


def api_key_for(url: str, backend: keyring.backend.KeyringBackend | None = None) -> str | None:
    """The API key for `url`: WORKSTATION_API_KEY, else the keyring's, else one typed this run, else None."""
    import keyring.errors

    from workstation.exchange.keys import SERVICE

    if os.environ.get(API_KEY_VARIABLE):
        return os.environ[API_KEY_VARIABLE]
    entry = _entry(url)
    chosen = _backend(backend)
    if chosen is not None:
        try:
            found = chosen.get_password(SERVICE, entry)
        except keyring.errors.KeyringError as exc:
            raise ServerError(f"the system keyring could not be read for {entry}: {exc}") from None
        if found:
            return found
    return _session_keys.get(entry)


def store_api_key(url: str, key: str | None, backend: keyring.backend.KeyringBackend | None = None) -> str:
    """Keep (or with an empty key, forget) the API key for `url`; returns where it is kept, for the user."""
    import keyring.errors

    from workstation.exchange.keys import SERVICE

    entry = _entry(url)
    chosen = _backend(backend)
    _session_keys.pop(entry, None)
    if chosen is None:
        if key:
            _session_keys[entry] = key
            return "No system keyring is available, so the API key is kept only until the workstation closes."
        return "The API key is forgotten."
    try:
        if key:
            chosen.set_password(SERVICE, entry, key)
            return "The API key is kept in the system keyring."
        try:
            chosen.delete_password(SERVICE, entry)
        except keyring.errors.PasswordDeleteError:
            pass
        return "The API key is forgotten."
    except keyring.errors.KeyringError as exc:
        raise ServerError(f"the system keyring could not store the API key: {exc}") from None
