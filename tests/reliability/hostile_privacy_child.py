"""Child process for the privacy test: a signed review session, then a crash, then a native fault.

Usage: python -m tests.reliability.hostile_privacy_child WORK keyring|file

WORKSTATION_HOME must point into WORK. `keyring`: the key lives in keyrings.alt's file backend
(a real keyring backend, its file in WORK/keyring); `file`: there is no keyring (keyring's fail
backend, by PYTHON_KEYRING_BACKEND), so the key is a passphrase-protected file and the passphrase
comes from WORKSTATION_KEY_PASSPHRASE, as on a bare server. Everything after the session goes
through the real command line. Prints one JSON line (the secrets to look for, file modes seen
while the database was open), then ends in a segmentation fault for faulthandler to log.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import stat
import sys
from pathlib import Path


def mode(path: Path) -> str | None:
    return oct(stat.S_IMODE(path.stat().st_mode)) if path.exists() else None


def main(work: Path, storage: str) -> None:
    os.umask(0o022)  # the usual umask: files readable by everyone unless the program says otherwise
    from cryptography.hazmat.primitives import serialization
    from keyrings.alt.file import PlaintextKeyring

    from workstation import diagnostics, paths, settings
    from workstation.cli import main as cli
    from workstation.core.model import Reviewer
    from workstation.exchange.keys import KeyStore
    from workstation.review import Review
    from workstation.review_exchange import EXPORT_FORMATS, Exchange

    settings.save({**settings.load()[0], "review.reviewer": "ana"})
    db = work / "review.duckdb"
    wal = db.with_name(db.name + ".wal")
    seen: dict[str, str | None] = {}
    exports = work / "exports"
    with Review.open(db, reviewer=Reviewer("ana", "annotator")) as review:
        tree = review.start("What is 12 * 4?")
        review.add_steps(tree.session.id, "Step 1: 12 * 4 = 48.\n\nStep 2: So the answer is 48.")
        steps = [n for n in review.tree(tree.session.id).shown_path() if n.kind != "question"]
        review.annotate(steps[0].id, 1, note="right")
        review.rewrite(steps[1].id, "The answer is 48.")
        seen["db_while_open"], seen["wal_while_open"] = mode(db), mode(wal)
        if storage == "keyring":
            backend = PlaintextKeyring()
            backend.file_path = str(work / "keyring" / "keyring_pass.cfg")
            keystore = KeyStore(backend, key_dir=paths.data_dir() / "keys")
            exchange = Exchange(review, keystore=keystore)
            for fmt in EXPORT_FORMATS:
                exchange.export(fmt, exports / f"export-{fmt}")
            key = keystore.load("ana")
    if storage == "file":
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            for fmt in EXPORT_FORMATS:
                status = cli(["export", "--db", str(db), "--format", fmt, "--out", str(exports / f"export-{fmt}")])
                assert status == 0, (fmt, quiet.getvalue())
            assert cli(["keys", "show", "--db", str(db)]) == 0, quiet.getvalue()
            assert cli(["show", "--db", str(db), tree.session.id, "--json"]) == 0, quiet.getvalue()
        keystore = KeyStore()
        assert keystore.storage == "file", keystore.storage_message
        key = keystore.load("ana", os.environ["WORKSTATION_KEY_PASSPHRASE"])
        (work / "cli-output.txt").write_text(quiet.getvalue(), encoding="utf-8")
    raw = key.private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    der = key.private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # A bug while the key is loaded: the crash handler logs it (as `workstation` installs it).
    diagnostics.install_crash_handlers()
    try:
        raise RuntimeError("forced crash while the signing key is loaded")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    seen["db_closed"], seen["wal_closed"] = mode(db), mode(wal)
    print(json.dumps({
        "raw": base64.b64encode(raw).decode(), "der": base64.b64encode(der).decode(),
        "public": key.public.b64, "key_file": str(keystore.key_file("ana")), "modes": seen,
    }), flush=True)
    import ctypes

    ctypes.string_at(0)  # a native fault: faulthandler writes faults.log, the process dies


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
