"""Fixtures for exchange tests: a real file keyring backend inside tmp_path, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyrings.alt.file import PlaintextKeyring

from workstation.exchange.keys import KeyStore, TrustedKeys


@pytest.fixture
def keyring_backend(tmp_path: Path) -> PlaintextKeyring:
    """keyrings.alt's file backend, its file in tmp_path (a real keyring.backend.KeyringBackend)."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    return backend


@pytest.fixture
def keystore(keyring_backend: PlaintextKeyring, tmp_path: Path) -> KeyStore:
    """A KeyStore on the test keyring."""
    return KeyStore(keyring_backend, key_dir=tmp_path / "keys")


@pytest.fixture
def trusted(tmp_path: Path) -> TrustedKeys:
    """An empty trusted-keys list in tmp_path."""
    return TrustedKeys(tmp_path / "trusted_keys.json")
