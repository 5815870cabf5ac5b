"""Reviewers' Ed25519 signing keys and the public keys a user trusts.

The private key lives in the operating system's keyring through `keyring`. Where there is no
usable keyring (a bare Linux server: keyring falls back to its `fail` backend, or only to
backends it does not recommend, such as a plain-text file), `KeyStore` says so in
`storage_message` and keeps the key in a passphrase-protected PKCS#8 file (mode 0600) in the
data folder instead. Public keys travel as one line of text,
`workstation-ed25519 <base64 key> <reviewer id>`, and are named by a SHA-256 fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.core
import keyring.errors
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from workstation import paths
from workstation.core.model import now_iso
from workstation.exchange.errors import ExchangeError, SigningKeyError

#: The keyring service name under which private keys are kept.
SERVICE = "reasoning-workstation"
PUBLIC_KEY_PREFIX = "workstation-ed25519"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")


def fingerprint(raw_public: bytes) -> str:
    """The fingerprint of a raw public key: `SHA256:` and its digest in base64 (as ssh shows)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw_public).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class PublicKey:
    """A reviewer's public key: who claims it and the 32 raw key bytes."""

    reviewer_id: str
    raw: bytes

    @property
    def fingerprint(self) -> str:
        """The key's SHA-256 fingerprint (what teammates compare out of band)."""
        return fingerprint(self.raw)

    @property
    def b64(self) -> str:
        """The raw key in base64."""
        return base64.b64encode(self.raw).decode()

    def to_text(self) -> str:
        """The key as one line to hand to teammates."""
        return f"{PUBLIC_KEY_PREFIX} {self.b64} {self.reviewer_id}\n"

    @classmethod
    def from_text(cls, text: str, source: str = "public key") -> PublicKey:
        """Parse `to_text` output; ExchangeError naming `source` when it is not one."""
        parts = text.strip().split(" ", 2)
        if len(parts) != 3 or parts[0] != PUBLIC_KEY_PREFIX:
            raise ExchangeError(f"{source}: not a workstation public key (expected '{PUBLIC_KEY_PREFIX} KEY REVIEWER')")
        return cls(parts[2], decode_public(parts[1], source))

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether `signature` is this key's signature of `data`."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


def decode_public(b64: object, source: str = "public key") -> bytes:
    """32 raw key bytes from base64; ExchangeError naming `source` otherwise."""
    try:
        raw = base64.b64decode(b64, validate=True) if isinstance(b64, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ExchangeError(f"{source}: the public key is not 32 bytes of base64")
    return raw


@dataclass(frozen=True)
class SigningKey:
    """A reviewer's private key, loaded for signing."""

    reviewer_id: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        """The matching public key."""
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey(self.reviewer_id, raw)

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of `data` (64 bytes)."""
        return self.private.sign(data)


def keyring_usable(backend: keyring.backend.KeyringBackend, explicit: bool = False) -> bool:
    """Whether `backend` can keep a private key.

    The fail and null backends cannot. Of the default backend we also ask that keyring
    recommends it: a bare server may only have a plain-text file backend, and an unencrypted
    private key is worse than the passphrase-protected file. A backend the caller chose
    explicitly (tests, or a user's setting) is taken at its word.
    """
    if isinstance(backend, (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)):
        return False
    if explicit:
        return True
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        return any(keyring.core.recommended(b) for b in backend.backends)
    return keyring.core.recommended(backend)


class KeyStore:
    """Where a reviewer's private key is kept: the OS keyring, or a protected file.

    `backend` picks a keyring backend (default: keyring's own choice); `key_dir` the folder
    for key files (default: `keys/` in the data folder). `storage` is "keyring" or "file";
    `storage_message` explains the choice to the user.
    """

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None, key_dir: Path | None = None) -> None:
        self.backend = backend if backend is not None else keyring.get_keyring()
        self.key_dir = Path(key_dir) if key_dir is not None else paths.data_dir() / "keys"
        self.storage = "keyring" if keyring_usable(self.backend, explicit=backend is not None) else "file"

    @property
    def storage_message(self) -> str:
        """One sentence for the user on where their key is kept."""
        if self.storage == "keyring":
            return f"Your signing key is kept in the system keyring ({type(self.backend).__name__})."
        return (
            f"No system keyring is available here (keyring offers {type(self.backend).__name__}), so "
            f"your signing key is kept in a passphrase-protected file in {self.key_dir} "
            "(readable only by you); you will be asked for its passphrase when you sign a bundle."
        )

    def key_file(self, reviewer_id: str) -> Path:
        """The key file of a reviewer (used when there is no keyring)."""
        return self.key_dir / f"{_safe_name(reviewer_id)}.ed25519.pem"

    def has_key(self, reviewer_id: str) -> bool:
        """Whether a private key is stored for the reviewer."""
        if self.storage == "keyring":
            return self._keyring_get(reviewer_id) is not None
        return self.key_file(reviewer_id).is_file()

    def create(self, reviewer_id: str, passphrase: str | None = None, *, replace: bool = False) -> SigningKey:
        """Make and store a new key; refuses to replace an existing one unless `replace`."""
        if self.has_key(reviewer_id) and not replace:
            raise SigningKeyError(f"a signing key for '{reviewer_id}' already exists; it was kept")
        key = SigningKey(reviewer_id, Ed25519PrivateKey.generate())
        if self.storage == "keyring":
            raw = key.private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            try:
                self.backend.set_password(SERVICE, _username(reviewer_id), base64.b64encode(raw).decode())
            except keyring.errors.KeyringError as exc:
                raise SigningKeyError(f"the system keyring refused to store the key: {exc}") from exc
        else:
            self._write_file(key, _need_passphrase(passphrase, self.key_file(reviewer_id)))
        # The public half is kept in plain text beside, so exporting it needs no passphrase.
        pub = self.public_file(reviewer_id)
        pub.parent.mkdir(parents=True, exist_ok=True)
        pub.write_text(key.public.to_text(), encoding="utf-8")
        return key

    def public_file(self, reviewer_id: str) -> Path:
        """Where a reviewer's public key is kept, as one line of text."""
        return self.key_dir / f"{_safe_name(reviewer_id)}.ed25519.pub"

    def public_key(self, reviewer_id: str) -> PublicKey:
        """The reviewer's public key, to hand to teammates (no passphrase needed)."""
        path = self.public_file(reviewer_id)
        if not path.is_file():
            raise SigningKeyError(f"no public key for '{reviewer_id}' at {path}; create a signing key first")
        return PublicKey.from_text(path.read_text(encoding="utf-8"), str(path))

    def load(self, reviewer_id: str, passphrase: str | None = None) -> SigningKey:
        """The reviewer's stored key; SigningKeyError if missing or the passphrase is wrong."""
        if self.storage == "keyring":
            value = self._keyring_get(reviewer_id)
            if value is None:
                raise SigningKeyError(f"no signing key for '{reviewer_id}' in the system keyring; create one first")
            try:
                private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(value, validate=True))
            except ValueError as exc:
                raise SigningKeyError(f"the signing key of '{reviewer_id}' in the keyring is damaged") from exc
            return SigningKey(reviewer_id, private)
        path = self.key_file(reviewer_id)
        if not path.is_file():
            raise SigningKeyError(f"no signing key for '{reviewer_id}' at {path}; create one first")
        try:
            loaded = serialization.load_pem_private_key(
                path.read_bytes(), password=_need_passphrase(passphrase, path).encode()
            )
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{path}: wrong passphrase, or not a key file") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise SigningKeyError(f"{path}: not an Ed25519 key")
        return SigningKey(reviewer_id, loaded)

    def load_or_create(self, reviewer_id: str, passphrase: str | None = None) -> SigningKey:
        """The stored key, or a new one when there is none yet."""
        if self.has_key(reviewer_id):
            return self.load(reviewer_id, passphrase)
        return self.create(reviewer_id, passphrase)

    def _keyring_get(self, reviewer_id: str) -> str | None:
        try:
            return self.backend.get_password(SERVICE, _username(reviewer_id))
        except keyring.errors.KeyringError as exc:
            raise SigningKeyError(f"the system keyring could not be read: {exc}") from exc

    def _write_file(self, key: SigningKey, passphrase: str) -> None:
        path = self.key_file(key.reviewer_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        data = key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        # Created 0600 from the start: never readable by others, not even for a moment.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def _username(reviewer_id: str) -> str:
    return f"ed25519:{reviewer_id}"


def _safe_name(reviewer_id: str) -> str:
    # A reviewer id becomes a file name: anything that could leave the folder is hashed.
    if _SAFE_NAME.fullmatch(reviewer_id) and ".." not in reviewer_id:
        return reviewer_id
    return "id-" + hashlib.sha256(reviewer_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _need_passphrase(passphrase: str | None, path: Path) -> str:
    if not passphrase:
        raise SigningKeyError(
            f"no system keyring is available, so the signing key is kept in {path}, protected by a "
            "passphrase: give one"
        )
    return passphrase


class TrustedKeys:
    """The public keys this user trusts to sign bundles, kept in a JSON file.

    Default file: `trusted_keys.json` in the settings folder. A key is trusted for the
    reviewer id it was trusted under.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.config_dir() / "trusted_keys.json"

    def _read(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ExchangeError(f"{self.path}: the trusted keys file cannot be read ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
            raise ExchangeError(f"{self.path}: not a trusted keys file")
        keys: dict[str, dict[str, str]] = data["keys"]  # JSON, as the file was written
        return keys

    def _write(self, keys: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "keys": keys}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def trust(self, key: PublicKey) -> None:
        """Trust `key` for its reviewer id from now on."""
        keys = self._read()
        keys[key.fingerprint] = {"reviewer_id": key.reviewer_id, "public_key": key.b64, "added_at": now_iso()}
        self._write(keys)

    def revoke(self, fingerprint_: str) -> bool:
        """Stop trusting the key with this fingerprint; False if it was not trusted."""
        keys = self._read()
        if keys.pop(fingerprint_, None) is None:
            return False
        self._write(keys)
        return True

    def is_trusted(self, key: PublicKey) -> bool:
        """Whether `key` is trusted, for the reviewer id it claims."""
        entry = self._read().get(key.fingerprint)
        return entry is not None and entry.get("reviewer_id") == key.reviewer_id and entry.get("public_key") == key.b64

    def keys(self) -> list[PublicKey]:
        """Every trusted key."""
        return [PublicKey(e["reviewer_id"], decode_public(e["public_key"], str(self.path))) for e in self._read().values()]
