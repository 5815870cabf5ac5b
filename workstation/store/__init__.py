"""The offline store: one DuckDB file per user holding sessions, trees, generations, feedback
and the append-only event log. The only package that speaks SQL; it never imports Qt.

    with Store.open() as store:                 # paths.default_db(), or a path
        sid = store.start_session(op, reviewer).event.session_id
        store.apply(sid, op, reviewer, generation=record)   # committed when it returns
        tree = store.load_session(sid)          # exactly as committed

Writing (each call is one transaction with its event): `start_session`, `apply`, `undo`,
`redo`; `record` / `record_batch` for events a caller applied to its own tree (imports);
`add_reviewer`, `set_tags`. Reading: `load_session`, `history`, `list_sessions`, `search`,
`events`, `verify_events`, `reviewers`, `public_key`, `tags`, `generation`, `export_tables`.

Opening refuses, with the file left as it was: a file another process holds
(`DatabaseLockedError`; `Store.open(path, read_only=True)` then reads a snapshot), a file that
is not a workstation database or is damaged (`DatabaseCorruptError`), one from a newer schema
(`NewerSchemaError`) or a newer DuckDB (`NewerFormatError`). A failed write (`DiskFullError`,
`StorePermissionError`, both `StoreWriteError`) keeps nothing of the change and closes the
store; open the file again to go on.
"""

from workstation.store.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DiskFullError,
    NewerFormatError,
    NewerSchemaError,
    ReadOnlyStoreError,
    StoreClosedError,
    StoreError,
    StorePermissionError,
    StoreWriteError,
    UnknownIdError,
)
from workstation.store.records import Generation, SearchHit, SessionSummary
from workstation.store.store import DuplicateEventError, EventLogError, Store

__all__ = [
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DiskFullError",
    "DuplicateEventError",
    "EventLogError",
    "Generation",
    "NewerFormatError",
    "NewerSchemaError",
    "ReadOnlyStoreError",
    "SearchHit",
    "SessionSummary",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StorePermissionError",
    "StoreWriteError",
    "UnknownIdError",
]
