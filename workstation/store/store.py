"""The review database's public face: `Store`.

Every change is one transaction that writes the rows the operation changed and its event
together, committed before the method returns; there is no save step. Reads restore a
session exactly as it was committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb

from workstation.core.history import Applied, Event, History
from workstation.core.model import DEFAULT_TAGS, Reviewer, TagVocabulary, now_iso
from workstation.core.ops import Operation, SessionStarted
from workstation.core.tree import Tree
from workstation.errors import BadInputError
from workstation.store import batch, event_log, reader, writer
from workstation.store import tokens as step_tokens
from workstation.store.connection import Database
from workstation.store.errors import (
    DiskFullError,
    StoreError,
    StorePermissionError,
    UnknownIdError,
    translate,
)
from workstation.store.records import Generation, SearchHit, SessionSummary
from workstation.store.search import search as _search


class DuplicateEventError(StoreError, BadInputError):
    """An event id is already in the log with different content (a tampered or bad bundle)."""


class EventLogError(StoreError):
    """The event log's hash chain is broken: a row was edited or removed outside the store."""


class Store:
    """One open review database.

    Open with `Store.open(path)` (default: the user's database) and close it, or use it as a
    context manager. Writing: `start_session`, `apply`, `undo`, `redo` (or `record` for a
    caller that owns its `History`). Reading: `load_session`, `history`, `list_sessions`,
    `search`, `events`. Errors are `StoreError`s (see `workstation.store.errors`) and the
    core's `BadInputError`s for operations that do not fit the tree.

    One thread at a time; a GUI keeps it on its database worker thread.
    """

    #: How many sessions' live histories are kept in memory.
    CACHED_SESSIONS = 8

    def __init__(self, db: Database) -> None:
        self._db = db
        self._log = event_log.EventLog()
        self._histories: OrderedDict[str, History] = OrderedDict()
        # Per cached history: the ids of its rows already in the file.
        self._known: dict[str, writer.Known] = {}
        # Cached histories rebuilt from the event log (with their undo stacks).
        self._replayed: set[str] = set()
        try:
            with db.read() as con:
                self._counter = writer.Counter(_max_ord(con))
                self._reviewers = {
                    r[0] for r in con.execute("SELECT id FROM reviewers").fetchall()
                }
        except BaseException:
            db.close()  # a file found damaged here must not stay open (and locked)
            raise

    @classmethod
    def open(cls, path: Path | str | None = None, *, read_only: bool = False) -> Store:
        """Open or create the database (see `Database.open` for the errors it raises).

        `read_only=True` never writes; when another window holds the file it reads a
        snapshot taken now (`snapshot` is then true).
        """
        return cls(Database.open(path, read_only=read_only))

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    @property
    def read_only(self) -> bool:
        """Whether changes are refused."""
        return self._db.read_only

    @property
    def snapshot(self) -> bool:
        """Whether this reads a private copy because another process holds the file."""
        return self._db.snapshot_dir is not None

    def close(self) -> None:
        """Close the file; every change was already committed."""
        self._histories.clear()
        self._known.clear()
        self._replayed.clear()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def start_session(
        self, op: SessionStarted, reviewer: Reviewer, *, at: str | None = None
    ) -> Applied:
        """Create the session `op` describes; returns its first event."""
        if self.has_session(op.session.id):
            raise BadInputError(f"session {op.session.id} already exists in {self.path}")
        history, applied = History.start(op, reviewer, at)
        known = writer.Known()
        self._write(history.tree, (applied,), None, known)
        self._remember(history, known)
        return applied

    def apply(
        self,
        session_id: str,
        op: Operation,
        reviewer: Reviewer,
        *,
        at: str | None = None,
        generation: Generation | None = None,
    ) -> Applied:
        """Apply `op` to the session as `reviewer` and commit it with its event.

        `generation` is the engine's record for the chain a `StepsAdded` adds. Raises the
        core's `BadInputError` (nothing changed) when the operation does not fit, or a
        `StoreError` when writing fails (nothing of it was kept).
        """
        history = self.history(session_id)
        key = op.joins_unit()
        if key is not None and not history.has_unit(key) and session_id not in self._replayed:
            # The unit it joins (a challenge's question) was made before this history was loaded
            # from the tables: the event log has it, as a replay after a restart would.
            history = self.history(session_id, replay=True)
        applied = history.apply(op, reviewer, at)
        self._commit(history, (applied,), generation)
        return applied

    def undo(self, session_id: str, reviewer: Reviewer, *, at: str | None = None) -> tuple[Applied, ...]:
        """Reverse the session's latest undo unit (one user action); its new events, one per
        event reversed, are committed in one transaction and returned in log order."""
        history = self.history(session_id)
        if not history.can_undo and session_id not in self._replayed:
            # Opened from the tables (another process, or before a restart): the undo stack
            # lives in the event log.
            history = self.history(session_id, replay=True)
        applied = history.undo(reviewer, at)
        self._commit(history, applied, None)
        return applied

    def redo(self, session_id: str, reviewer: Reviewer, *, at: str | None = None) -> tuple[Applied, ...]:
        """Do again the unit the latest undo reversed, as new events in one transaction."""
        history = self.history(session_id)
        if not history.can_redo and session_id not in self._replayed:
            history = self.history(session_id, replay=True)
        applied = history.redo(reviewer, at)
        self._commit(history, applied, None)
        return applied

    def record(
        self, tree: Tree, applied: Applied, *, generation: Generation | None = None
    ) -> bool:
        """Commit an event already applied to `tree` (by a caller's own `History`).

        Returns False, writing nothing, when the very same event is already stored (importing
        a bundle twice); raises `DuplicateEventError` when its id is stored with other content.
        """
        cached = self._histories.get(tree.session.id)
        if cached is not None and cached.tree is tree:
            return self._write(tree, (applied,), generation, self._known[tree.session.id])
        # Someone else's tree changed this session: the cached one is stale now.
        self._forget(tree.session.id)
        return self._write(tree, (applied,), generation, None)

    def record_batch(
        self,
        items: Sequence[batch.Item],
        generations: Sequence[tuple[str, Generation]] = (),
    ) -> int:
        """Commit many events already applied to their trees in ONE transaction: all or none.

        For imports and bulk loads. `items` are, in log order, (tree, applied) pairs and
        `writer.AnnotationRow`s: `annotated` events an importer checked against the session
        itself, written without a tree (keep a session's rows and its trees in separate
        batches: the rows take their `ord`s after the trees' rows). `generations` are
        (session id, record) pairs. Events whose id is already stored with the same content
        are skipped (importing twice changes nothing); one stored with other content raises
        `DuplicateEventError` and nothing is written. Returns how many events were written.
        """
        items = list(items)
        texts = [
            item.text
            if isinstance(item, writer.AnnotationRow)
            else event_log.event_text(item[1].event)
            for item in items
        ]
        try:
            # Most batches are all new: write them, and let the file's unique ids catch the rest.
            return self._record_batch(items, texts, generations)
        except duckdb.ConstraintException as exc:
            fresh, fresh_texts = self._unstored(items, texts)
            if not fresh:
                return 0
            if len(fresh) == len(items):
                raise DuplicateEventError(
                    f"a row of these events is already in {self.path} under another event "
                    f"({str(exc).splitlines()[0]}); nothing was recorded",
                    self.path,
                ) from exc
        try:
            return self._record_batch(fresh, fresh_texts, generations)
        except duckdb.ConstraintException as exc:
            raise DuplicateEventError(
                f"a row of these events is already in {self.path} under another event "
                f"({str(exc).splitlines()[0]}); nothing was recorded",
                self.path,
            ) from exc

    def _unstored(self, items: list[batch.Item], texts: list[str]) -> tuple[list[batch.Item], list[str]]:
        """The items whose event is not stored yet; DuplicateEventError for one stored with
        other content."""
        event_ids = [batch.event_id(item) for item in items]
        with self._db.read() as con:
            stored = batch.stored_texts(con, event_ids)
        fresh: list[batch.Item] = []
        fresh_texts: list[str] = []
        for item, event_id, text in zip(items, event_ids, texts, strict=True):
            if event_id in stored:
                if stored[event_id] != text:
                    raise DuplicateEventError(
                        f"event {event_id} is already in {self.path} with other content; "
                        "nothing was recorded",
                        self.path,
                    )
                continue
            stored[event_id] = text
            fresh.append(item)
            fresh_texts.append(text)
        return fresh, fresh_texts

    def _record_batch(
        self, items: list[batch.Item], texts: list[str], generations: Sequence[tuple[str, Generation]]
    ) -> int:
        """`record_batch` of items none of which is stored (a ConstraintException otherwise)."""
        planned = batch.plan(items, texts, self._reviewers)
        for session_id in planned.sessions:
            self._forget(session_id)  # a cached tree lacks what the batch brings
        try:
            with self._db.transaction() as con:
                head = batch.write(con, planned, self._log, self._counter, generations)
        except BaseException:
            self._log.reset()
            raise
        self._log.advance(head)
        self._reviewers.update(planned.reviewers)
        return len(items)

    @contextmanager
    def deferred_checkpoints(self) -> Iterator[None]:
        """Many transactions in a row (an import of many bundles): DuckDB folds its
        write-ahead log into the file once, at the end, not every 16 MiB.

        Each checkpoint rewrites the tables' indexes whole, so checkpointing every few
        bundles cost more than all the bundles' own writes. Every transaction is still
        committed (durably, in the log) before `record_batch` returns; if the program stops
        before the end, DuckDB replays the log when the file is opened next.
        """
        if self.read_only:
            yield
            return
        with self._db.read() as con:
            old = str(con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0])
            con.execute("SET checkpoint_threshold = '1 TiB'")
        try:
            yield
        finally:
            try:
                with self._db.parallel(), self._db.read() as con:
                    con.execute(f"SET checkpoint_threshold = '{old}'")
                    # A checkpoint of seconds would draw DuckDB's progress bar on the terminal.
                    bar = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
                    con.execute("SET enable_progress_bar = false")
                    try:
                        con.execute("CHECKPOINT")
                    finally:
                        con.execute(f"SET enable_progress_bar = {'true' if bar else 'false'}")
            except StoreError:
                pass  # a failed write closed the file: its log is replayed when it is opened again

    def add_reviewer(self, reviewer: Reviewer, public_key: str | None = None) -> None:
        """Add a reviewer, or update their name, role and public key."""
        with self._db.transaction() as con:
            con.execute(
                "INSERT INTO reviewers VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "name = excluded.name, role = excluded.role, "
                "public_key = coalesce(excluded.public_key, reviewers.public_key)",
                [reviewer.id, reviewer.name or reviewer.id, reviewer.role, public_key, now_iso()],
            )
        self._reviewers.add(reviewer.id)

    def set_tags(self, vocabulary: TagVocabulary) -> None:
        """Replace the tag vocabulary offered when annotating."""
        with self._db.transaction() as con:
            con.execute("DELETE FROM tags")
            if vocabulary.tags:
                con.execute(
                    "INSERT INTO tags SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[])",
                    [list(vocabulary.tags), list(range(len(vocabulary.tags)))],
                )
            # An empty vocabulary is kept as one marker row, so it is not mistaken for "never
            # set" (which means the defaults).
            else:
                con.execute("INSERT INTO tags VALUES ('', -1)")

    def _commit(self, history: History, applied: Sequence[Applied], generation: Generation | None) -> None:
        session_id = history.tree.session.id
        try:
            self._write(history.tree, applied, generation, self._known[session_id])
        except BaseException:
            # The tree already holds the change the file refused. Rolling it back in memory
            # would leave added nodes behind (marked deleted); reloading is exact.
            self._forget(session_id)
            raise

    def _write(
        self,
        tree: Tree,
        applied: Sequence[Applied],
        generation: Generation | None,
        known: writer.Known | None,
    ) -> bool:
        """One transaction: the events (an undo unit may have several), the rows they changed
        as `tree` now holds them, the generation record.

        `known` is what of the session the file holds (None: ask the file)."""
        event = applied[0].event
        changes = applied[0].changes if len(applied) == 1 else writer.merge_changes([a.changes for a in applied])
        try:
            with self._db.transaction() as con:
                if event.reviewer_id not in self._reviewers:
                    con.execute(
                        "INSERT INTO reviewers VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING",
                        [event.reviewer_id, event.reviewer_id, event.role, event.at],
                    )
                # The events go first: a duplicate id fails before any other row is written.
                if len(applied) == 1:
                    head = self._log.append(con, event)
                else:
                    head = self._log.append_many(con, [a.event for a in applied])
                if known is None:
                    known = writer.Known.query(con, tree, changes)
                added = writer.write_changes(con, tree, changes, self._counter, known)
                if generation is not None:
                    writer.write_generation(con, event.session_id, generation)
        except duckdb.ConstraintException:
            self._log.reset()
            if len(applied) == 1 and self._same_event_stored(event):
                return False
            raise
        except BaseException:
            self._log.reset()
            raise
        self._log.advance(head)
        known.update(added)
        self._reviewers.add(event.reviewer_id)
        return True

    def _same_event_stored(self, event: Event) -> bool:
        with self._db.read() as con:
            row = con.execute("SELECT data FROM events WHERE id = ?", [event.id]).fetchone()
        if row is None:
            return False
        if row[0] != event_log.event_text(event):
            raise DuplicateEventError(
                f"event {event.id} is already in {self.path} with other content; the new one "
                "was not recorded",
                self.path,
            )
        return True

    def _remember(self, history: History, known: writer.Known) -> None:
        session_id = history.tree.session.id
        self._histories[session_id] = history
        self._known[session_id] = known
        self._histories.move_to_end(session_id)
        while len(self._histories) > self.CACHED_SESSIONS:
            oldest, _ = self._histories.popitem(last=False)
            del self._known[oldest]
            self._replayed.discard(oldest)

    def _forget(self, session_id: str) -> None:
        self._histories.pop(session_id, None)
        self._known.pop(session_id, None)
        self._replayed.discard(session_id)

    # -- reading -------------------------------------------------------------------------

    def has_session(self, session_id: str) -> bool:
        """Whether the session is in this database."""
        with self._db.read() as con:
            return reader.session_exists(con, session_id)

    def locate(self, node_id: str) -> tuple[str, str]:
        """The session holding a node, and the node's full id; a unique prefix is enough.

        Raises `UnknownIdError` when no node matches or a prefix matches several.
        """
        with self._db.read() as con:
            rows = con.execute(
                "SELECT session_id, id FROM nodes WHERE id = ? UNION ALL "
                "(SELECT session_id, id FROM nodes WHERE starts_with(id, ?) AND id <> ? LIMIT 2)",
                [node_id, node_id, node_id],
            ).fetchall()
        exact = [r for r in rows if r[1] == node_id]
        if exact:
            return exact[0][0], exact[0][1]
        if len(rows) == 1 and node_id:
            return rows[0][0], rows[0][1]
        if not rows or not node_id:
            raise UnknownIdError(f"no step with id '{node_id}' in {self.path}", self.path)
        raise UnknownIdError(
            f"'{node_id}' matches several steps in {self.path}; give more of the id", self.path
        )

    def load_session(self, session_id: str) -> Tree:
        """The session's tree exactly as last committed: nodes, versions, flags, chains,
        annotations, and which branch is shown and preferred. A fresh copy each call."""
        with self._db.read() as con:
            tree = reader.load_tree(con, session_id)
        if tree is None:
            raise UnknownIdError(f"no session with id '{session_id}' in {self.path}", self.path)
        return tree

    def history(self, session_id: str, *, replay: bool = False) -> History:
        """The session's live history: its tree and undo/redo stacks.

        This is the object `apply`, `undo` and `redo` change; read it, do not change it
        directly. After a failed write, ask for it again: the store reloads it.

        It is built from the tables, which is fast, and its undo stack starts empty when the
        session is opened. With `replay=True` it is rebuilt from the event log instead, which
        restores the undo and redo stacks as they were (slower: about a second per few
        thousand events).
        """
        history = self._histories.get(session_id)
        if history is None or (replay and session_id not in self._replayed):
            if replay:
                history = self._replay(session_id)
                self._replayed.add(session_id)
            else:
                history = History(self.load_session(session_id))
            self._remember(history, writer.Known.of_tree(history.tree))
        else:
            self._histories.move_to_end(session_id)
        return history

    def _replay(self, session_id: str) -> History:
        with self._db.read() as con:
            found = reader.events(con, session_id)
        if not found:
            raise UnknownIdError(f"no session with id '{session_id}' in {self.path}", self.path)
        return History.replay(event for _, event in found)

    def list_sessions(self, *, include_deleted: bool = False) -> list[SessionSummary]:
        """Every session, the most recently changed first; deleted sessions (`SessionDeleted`)
        only with `include_deleted`."""
        with self._db.read() as con:
            return reader.list_sessions(con, include_deleted=include_deleted)

    def search(
        self,
        text: str | None = None,
        *,
        label: int | None = None,
        tag: str | None = None,
        reviewer: str | None = None,
        model: str | None = None,
        include_deleted: bool = False,
        limit: int = 200,
    ) -> list[SearchHit]:
        """Nodes across all sessions matching every criterion given (see `search.search`)."""
        if label is not None and label not in (-1, 0, 1):
            raise BadInputError(f"a label must be -1, 0 or 1, not {label!r}")
        with self._db.read() as con:
            return _search(
                con, text=text, label=label, tag=tag, reviewer=reviewer, model=model,
                include_deleted=include_deleted, limit=limit,
            )  # fmt: skip

    def events(
        self, session_id: str | None = None, *, types: Sequence[str] | None = None
    ) -> list[Event]:
        """The audit trail of one session (or of the whole file), oldest first.

        `types` keeps only events of those operation types (`("adjudicated",)`), read
        without parsing the others."""
        with self._db.read() as con:
            return [event for _, event in reader.events(con, session_id, types=types)]

    def event_texts(self, session_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Event id -> (session id, the event's stored JSON text) for these sessions' events.

        The text is the one the hash chain covers, read as it is (no parsing): what an
        importer compares bundle lines with."""
        if not session_ids:
            return {}
        with self._db.read() as con:
            rows = con.execute(
                "SELECT id, session_id, data FROM events "
                "WHERE session_id IN (SELECT unnest(?::VARCHAR[]))",
                [list(session_ids)],
            ).fetchall()
        return {event_id: (session_id, text) for event_id, session_id, text in rows}

    def annotation_index(
        self, session_ids: Sequence[str]
    ) -> dict[str, tuple[dict[str, tuple[str, set[str]]], set[str]]]:
        """Per stored session of these: node id -> (kind, ids of its versions), and the ids of
        its annotations. What an importer checks new annotations against, without loading
        whole trees; sessions not stored are left out."""
        if not session_ids:
            return {}
        ids = list(dict.fromkeys(session_ids))
        with self._db.read() as con:
            found = {
                r[0]: ({}, set())
                for r in con.execute(
                    "SELECT id FROM sessions WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
                ).fetchall()
            }  # type: dict[str, tuple[dict[str, tuple[str, set[str]]], set[str]]]
            for sid, node_id, kind, version_id in con.execute(
                "SELECT n.session_id, n.id, n.kind, v.id FROM nodes n JOIN versions v "
                "ON v.node_id = n.id WHERE n.session_id IN (SELECT unnest(?::VARCHAR[]))",
                [ids],
            ).fetchall():
                nodes = found[sid][0]
                if node_id in nodes:
                    nodes[node_id][1].add(version_id)
                else:
                    nodes[node_id] = (kind, {version_id})
            for sid, annotation_id in con.execute(
                "SELECT session_id, id FROM annotations "
                "WHERE session_id IN (SELECT unnest(?::VARCHAR[]))",
                [ids],
            ).fetchall():
                found[sid][1].add(annotation_id)
        return found

    def verify_events(self) -> int:
        """Check the event log's hash chain; returns the number of events.

        Raises `EventLogError` naming the first row that was changed or removed.
        """
        prev = event_log.GENESIS
        count = 0
        with self._db.read() as con:
            for seq, text, stored_prev, digest in event_log.iter_rows(
                con, "SELECT seq, data, prev_hash, hash FROM events ORDER BY seq", []
            ):
                count += 1
                if seq != count or stored_prev != prev or event_log.chain_hash(prev, text) != digest:
                    raise EventLogError(
                        f"the event log of {self.path} was altered at event {seq}: it no longer "
                        "matches its hash chain; keep a copy of the file and report it",
                        self.path,
                    )
                prev = digest
        return count

    def reviewers(self) -> list[Reviewer]:
        """Every reviewer who acted in or was added to this database."""
        with self._db.read() as con:
            rows = con.execute("SELECT id, role, name FROM reviewers ORDER BY id").fetchall()
        return [Reviewer(*row) for row in rows]

    def public_key(self, reviewer_id: str) -> str | None:
        """The public key stored for a reviewer, if any."""
        with self._db.read() as con:
            row = con.execute(
                "SELECT public_key FROM reviewers WHERE id = ?", [reviewer_id]
            ).fetchone()
        return row[0] if row else None

    def tags(self) -> TagVocabulary:
        """The tag vocabulary (the defaults until someone changes it)."""
        with self._db.read() as con:
            rows = con.execute("SELECT tag FROM tags ORDER BY ord").fetchall()
        if not rows:
            return TagVocabulary(DEFAULT_TAGS)
        return TagVocabulary(tuple(r[0] for r in rows if r[0]))

    def export_tables(self, folder: Path) -> dict[str, int]:
        """Write every table as `<table>.parquet` in `folder` with DuckDB's own COPY.

        Works on an open (even read-only) store; returns the rows written per table.
        """
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"could not create {folder}: {exc.strerror}", self.path) from exc
        counts: dict[str, int] = {}
        # Each table goes to a hidden name first; only when all are written are they renamed,
        # so a full disk never leaves a partial export under the final names.
        written: list[tuple[Path, Path]] = []
        try:
            with self._db.parallel(), self._db.read() as con:
                tables = [
                    r[0]
                    for r in con.execute(
                        "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                        "current_database() AND schema_name = 'main' ORDER BY table_name"
                    ).fetchall()
                ]
                for table in tables:
                    target = folder / f"{table}.parquet"
                    tmp = folder / f".{table}.parquet.tmp"
                    written.append((tmp, target))
                    quoted = str(tmp).replace("'", "''")
                    try:
                        con.execute(f"COPY \"{table}\" TO '{quoted}' (FORMAT parquet)")
                    except duckdb.Error as exc:
                        raise _export_error(exc, target) from exc
                    row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                    counts[table] = int(row[0]) if row is not None else 0  # count(*) always has a row
            for tmp, target in written:
                tmp.replace(target)
        finally:
            for tmp, _ in written:
                tmp.unlink(missing_ok=True)
        return counts

    def generation(self, chain_id: str) -> Generation | None:
        """The engine's record of the generation that made a chain, if stored."""
        with self._db.read() as con:
            return reader.generation(con, chain_id)

    def save_tokens(self, session_id: str, held: Mapping[str, step_tokens.VersionTokens]) -> None:
        """Keep the generated tokens of model-written versions (version id -> tokens)."""
        if held:
            with self._db.transaction() as con:
                step_tokens.write(con, session_id, held)

    def tokens(self, version_ids: Iterable[str]) -> dict[str, step_tokens.VersionTokens]:
        """The stored tokens of those versions that have them (see store/tokens.py)."""
        with self._db.read() as con:
            return step_tokens.read(con, version_ids)


def _export_error(exc: duckdb.Error, target: Path) -> StoreError:
    """What to tell the user when COPY could not write `target` (the database is unchanged)."""
    mapped = translate(exc, target)
    if isinstance(mapped, DiskFullError):
        why, action = "the disk is full", "free some space and export again"
    elif isinstance(mapped, StorePermissionError):
        why, action = "permission denied", "export to another folder or check its permissions"
    else:
        why, action = str(exc).strip().splitlines()[0][:200], "check the disk and export again"
    return StoreError(
        f"could not write the export {target}: {why}; nothing was written under that name and "
        f"the database was not changed: {action}",
        target,
    )


def _max_ord(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "SELECT greatest((SELECT coalesce(max(ord), 0) FROM sessions), "
        "(SELECT coalesce(max(ord), 0) FROM nodes), (SELECT coalesce(max(ord), 0) FROM chains), "
        "(SELECT coalesce(max(ord), 0) FROM annotations))"
    ).fetchone()
    return int(row[0]) if row else 0

