"""Private keys and passphrases never reach the database, exports, logs or crash reports, and the
files that hold private things are readable by the user only.

A child process runs a signed session twice: once with the key in a real keyring backend
(keyrings.alt's file backend) and once on a "bare server" without a keyring, where the key is a
passphrase-protected file and the passphrase comes from WORKSTATION_KEY_PASSPHRASE. It exports
every format and a signed bundle, logs a crash, and dies of a native fault (faulthandler's log).
Then every file it left is searched for the private key (raw bytes, hex, base64, PEM/DER) and the
passphrase: as stored bytes, and as content once unpacked (bundle members, Parquet and DuckDB
values, which are compressed on disk).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple 42"


def needles(secret: bytes, name: str) -> dict[str, bytes]:
    """The forms a secret may take in a file: raw, hex, base64 (standard and URL-safe)."""
    forms = {f"{name} raw": secret, f"{name} hex": secret.hex().encode(), f"{name} HEX": secret.hex().upper().encode()}
    for label, encoded in (("base64", base64.b64encode(secret)), ("base64url", base64.urlsafe_b64encode(secret))):
        # Unpadded too, and a prefix long enough to be unmistakable (a line-wrapped PEM body).
        forms[f"{name} {label}"] = encoded.rstrip(b"=")[:40]
    return forms


def secrets(found: dict) -> dict[str, bytes]:
    raw, der = base64.b64decode(found["raw"]), base64.b64decode(found["der"])
    pem_body = base64.b64encode(der)  # the body of the unencrypted PKCS#8 PEM
    out = {**needles(raw, "private key"), **needles(der, "PKCS#8 DER"), "PEM body": pem_body[:64].rstrip(b"=")}
    out.update(needles(PASSPHRASE.encode(), "passphrase"))
    out["PEM header"] = b"BEGIN PRIVATE KEY"
    return out


def contents(path: Path) -> list[tuple[str, bytes]]:
    """The file's bytes, plus what it holds once unpacked: zip members, Parquet and DuckDB values."""
    data = path.read_bytes()
    parts = [(str(path), data)]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            parts += [(f"{path}!{name}", archive.read(name)) for name in archive.namelist()]
    if path.suffix == ".parquet":
        parts.append((f"{path} (values)", json.dumps(pq.read_table(path).to_pylist(), default=str).encode()))
    if data[8:12] == b"DUCK":
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
            for table in tables:
                rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
                parts.append((f"{path}:{table}", json.dumps(rows, default=str).encode()))
        finally:
            con.close()
    return parts


def run_child(work: Path, storage: str) -> tuple[dict, subprocess.CompletedProcess]:
    # No PYTHONFAULTHANDLER: the fault goes to the workstation's own faults.log, as for a user.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    env.update(
        WORKSTATION_HOME=str(work / "home"),
        WORKSTATION_KEY_PASSPHRASE=PASSPHRASE,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.hostile_privacy_child", str(work), storage],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"status {result.returncode}: {result.stderr[-3000:]}"
    return json.loads(lines[-1]), result


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("storage", ["keyring", "file"])
def test_keys_and_passphrases_stay_out_of_every_file(tmp_path: Path, storage: str, figures) -> None:
    work = tmp_path / "work"
    work.mkdir()
    found, result = run_child(work, storage)
    # It died of the forced native fault, and said so in faults.log (not on the terminal).
    assert result.returncode < 0, (result.returncode, result.stderr[-2000:])
    logs = work / "home" / "logs"
    assert "Fatal Python error" in (logs / "faults.log").read_text(encoding="utf-8")
    assert "forced crash while the signing key is loaded" in (logs / "crash.log").read_text(encoding="utf-8")

    look_for = secrets(found)
    key_file = Path(found["key_file"])
    # The keyring backend's own file holds the key by design (it is the keyring); nothing else may.
    keyring_file = work / "keyring" / "keyring_pass.cfg"
    files = [p for p in work.rglob("*") if p.is_file() and p != keyring_file]
    assert any(p.suffix == ".wsbundle" or "bundle" in p.name for p in files)
    scanned = 0
    public_seen = False
    for path in files:
        for where, data in contents(path):
            scanned += 1
            for name, needle in look_for.items():
                if path == key_file and name == "PEM header":
                    continue  # "BEGIN ENCRYPTED PRIVATE KEY" contains the words
                assert needle not in data, f"{name} found in {where}"
            public_seen = public_seen or found["public"].encode() in data
    assert public_seen  # the search does find key material where it is meant to be (public keys)
    if storage == "file":
        assert key_file.is_file() and b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    else:
        assert not key_file.exists()  # in the keyring, never in a file of ours
        assert base64.b64decode(found["raw"]) not in keyring_file.read_bytes()  # base64 there, as keyring keeps it
    figures.add("files scanned for keys", scanned)


def test_private_files_are_readable_by_the_user_only(tmp_path: Path, figures) -> None:
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    work = tmp_path / "work"
    work.mkdir()
    found, result = run_child(work, "file")
    assert result.returncode < 0
    modes = found["modes"]
    # The database and its write-ahead log, while the session was open and after it closed.
    assert modes["db_while_open"] == "0o600"
    assert modes["wal_while_open"] in ("0o600", None)
    assert modes["db_closed"] == "0o600" and modes["wal_closed"] in ("0o600", None)
    db = work / "review.duckdb"
    assert file_mode(db) == 0o600
    key_file = Path(found["key_file"])
    assert file_mode(key_file) == 0o600 and file_mode(key_file.parent) == 0o700
    logs = work / "home" / "logs"
    checked = [db, key_file]
    for name in ("crash.log", "faults.log", "unseen-crash"):
        assert file_mode(logs / name) == 0o600, name
        checked.append(logs / name)
    figures.add("private files checked for mode 0600", len(checked))


def test_an_existing_wider_database_and_log_are_narrowed(tmp_path: Path) -> None:
    """Files made by an older version (with the umask) are made private when next used."""
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    from workstation import diagnostics, paths
    from workstation.store.store import Store

    db = tmp_path / "old.duckdb"
    Store.open(db).close()
    os.chmod(db, 0o644)
    log = paths.log_dir() / "crash.log"
    log.write_text("--- an old crash\n", encoding="utf-8")
    os.chmod(log, 0o644)
    store = Store.open(db)
    try:
        assert file_mode(db) == 0o600
    finally:
        store.close()
    try:
        raise ValueError("a bug")
    except ValueError as exc:
        diagnostics.record_crash(type(exc), exc, exc.__traceback__)
    assert file_mode(log) == 0o600
    assert log.read_text(encoding="utf-8").startswith("--- an old crash\n")  # appended, not replaced
