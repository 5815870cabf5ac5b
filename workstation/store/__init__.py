"""The offline store: one DuckDB file per user holding sessions, trees, generations, feedback
and the append-only event log. The only package that speaks SQL; it never imports Qt.

    with Store.open() as store:            # the user's database (paths.default_db())
        applied = store.start_session(op, reviewer)
        store.apply(session_id, annotated_op, reviewer)   # committed when it returns
        tree = store.load_session(session_id)
"""

from workstation.store.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DiskFullError,
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
