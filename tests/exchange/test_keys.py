"""Signing keys in a real keyring backend, the protected-file fallback, public keys, trust."""

from __future__ import annotations

import stat
from pathlib import Path

import keyring.backends.fail
import pytest

from workstation.exchange.errors import ExchangeError, SigningKeyError
from workstation.exchange.keys import KeyStore, PublicKey, TrustedKeys


def test_key_is_kept_in_the_keyring_and_signs(keystore: KeyStore, keyring_backend) -> None:
    assert keystore.storage == "keyring"
    assert "system keyring" in keystore.storage_message
    key = keystore.create("ada")
    assert keystore.has_key("ada")
    assert keyring_backend.get_password("reasoning-workstation", "ed25519:ada")
    again = keystore.load("ada")
    assert again.public == key.public
    signature = again.sign(b"data")
    assert key.public.verify(signature, b"data")
    assert not key.public.verify(signature, b"other data")
    with pytest.raises(SigningKeyError, match="already exists"):
        keystore.create("ada")
    assert keystore.load_or_create("bo").reviewer_id == "bo"


def test_missing_key_is_a_clear_error(keystore: KeyStore) -> None:
    with pytest.raises(SigningKeyError, match="no signing key for 'nobody'"):
        keystore.load("nobody")


def test_without_a_keyring_a_passphrase_protected_file_is_used(tmp_path: Path) -> None:
    store = KeyStore(keyring.backends.fail.Keyring(), key_dir=tmp_path / "keys")
    assert store.storage == "file"
    assert "No system keyring is available" in store.storage_message
    assert "passphrase" in store.storage_message
    with pytest.raises(SigningKeyError, match="give one"):
        store.create("ada")
    key = store.create("ada", passphrase="correct horse")
    path = store.key_file("ada")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert store.load("ada", "correct horse").public == key.public
    assert store.public_key("ada") == key.public  # exporting the public key needs no passphrase
    with pytest.raises(SigningKeyError, match="wrong passphrase"):
        store.load("ada", "wrong")


def test_reviewer_ids_never_escape_the_key_folder(tmp_path: Path) -> None:
    store = KeyStore(keyring.backends.fail.Keyring(), key_dir=tmp_path / "keys")
    path = store.key_file("../../etc/passwd")
    assert path.parent == tmp_path / "keys"
    store.create("../../x", passphrase="p")
    assert not (tmp_path / "x.ed25519.pem").exists()


def test_default_backend_is_used_only_when_keyring_recommends_it(tmp_path: Path, monkeypatch) -> None:
    # keyring.get_keyring() on a bare server with keyrings.alt installed is a plain-text file:
    # not recommended, so the key goes to the protected file.
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setattr("keyring.get_keyring", lambda: PlaintextKeyring())
    assert KeyStore(key_dir=tmp_path).storage == "file"


def test_public_key_text_round_trip_and_trust(keystore: KeyStore, trusted: TrustedKeys) -> None:
    key = keystore.create("ada").public
    assert keystore.public_key("ada") == key
    text = key.to_text()
    assert text.startswith("workstation-ed25519 ") and text.endswith(" ada\n")
    parsed = PublicKey.from_text(text)
    assert parsed == key
    assert parsed.fingerprint.startswith("SHA256:")
    assert not trusted.is_trusted(key)
    trusted.trust(key)
    assert trusted.is_trusted(key)
    assert trusted.keys() == [key]
    # The same key claimed by someone else is not trusted for them.
    assert not trusted.is_trusted(PublicKey("mallory", key.raw))
    assert trusted.revoke(key.fingerprint)
    assert not trusted.is_trusted(key)
    with pytest.raises(ExchangeError, match="not a workstation public key"):
        PublicKey.from_text("ssh-ed25519 AAAA ada")
    with pytest.raises(ExchangeError, match="32 bytes"):
        PublicKey.from_text("workstation-ed25519 AAAA ada")
