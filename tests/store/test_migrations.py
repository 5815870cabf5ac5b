"""Upgrading files written by every earlier schema version (tests/store/fixtures/v<N>.db)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from workstation.core.history import History
from workstation.core.ops import SessionDeleted
from workstation.store import Store, migrations
from workstation.store.connection import Database

from . import factory as f
from .helpers import fingerprint

FIXTURES = Path(__file__).with_name("fixtures")
FIXTURE_FILES = sorted(FIXTURES.glob("v*.db"), key=lambda p: int(p.stem[1:]))

sys.path.insert(0, str(Path(__file__).parent))
from make_fixture import describe  # noqa: E402


def test_every_released_version_has_a_fixture() -> None:
    versions = {int(p.stem[1:]) for p in FIXTURE_FILES}
    assert set(range(1, migrations.CURRENT + 1)) <= versions, (
        "run tests/store/make_fixture.py for each released schema version"
    )
    assert max(versions) <= migrations.CURRENT


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_fixture_upgrades_to_current_schema(tmp_path: Path, fixture: Path) -> None:
    version = int(fixture.stem[1:])
    facts = json.loads(fixture.with_suffix(".json").read_text())
    path = tmp_path / "old.duckdb"
    shutil.copyfile(fixture, path)
    with Store.open(path) as store:
        assert describe(store)["sessions"] == facts["sessions"]
        for session_id in facts["sessions"]:
            replayed = History.replay(store.events(session_id)).tree
            assert store.load_session(session_id).to_dict() == replayed.to_dict()
        # And the upgraded file takes new work.
        session_id = next(iter(facts["sessions"]))
        tree = store.history(session_id).tree
        step = next(n.id for n in tree.nodes.values() if n.kind == "step" and not n.deleted)
        store.apply(session_id, f.annotate(tree, step, f.BO, 1), f.BO)
    con = duckdb.connect(str(path), read_only=True)
    versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
    con.close()
    assert versions == list(range(1, migrations.CURRENT + 1))
    backup = path.with_name(f"{path.name}.v{version}.bak")
    assert backup.exists() == (version < migrations.CURRENT)
    if backup.exists():
        assert fingerprint(backup)[0] == fingerprint(fixture)[0]


def _add_confidence_column(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE nodes ADD COLUMN reviewed BOOLEAN DEFAULT false")


def _broken_step(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE nodes ADD COLUMN half_done INTEGER")
    con.execute("SELECT * FROM no_such_table")


def _next_version(monkeypatch: pytest.MonkeyPatch, step: object) -> int:
    nxt = migrations.CURRENT + 1
    monkeypatch.setitem(migrations.MIGRATIONS, nxt, step)
    monkeypatch.setattr(migrations, "CURRENT", nxt)
    return nxt


def test_a_new_version_upgrades_the_newest_fixture_and_keeps_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = FIXTURE_FILES[-1]
    path = tmp_path / "up.duckdb"
    shutil.copyfile(newest, path)
    before = fingerprint(path)[0]
    nxt = _next_version(monkeypatch, _add_confidence_column)
    db = Database.open(path)
    with db.read() as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (nxt,)
        assert con.execute("SELECT count(*) FROM nodes WHERE NOT reviewed").fetchone()[0] > 0
    db.close()
    backup = path.with_name(f"{path.name}.v{nxt - 1}.bak")
    assert fingerprint(backup)[0] == before


def test_a_failing_upgrade_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fail.duckdb"
    shutil.copyfile(FIXTURE_FILES[-1], path)
    before = fingerprint(path)[0]
    _next_version(monkeypatch, _broken_step)
    with pytest.raises(duckdb.CatalogException):
        Database.open(path)  # a broken migration is a bug: it is not dressed up as the user's
    assert fingerprint(path)[0] == before
    monkeypatch.undo()
    with Store.open(path) as store:
        store.verify_events()


def test_a_v1_file_gets_the_deleted_mark_and_deletes_sessions(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    shutil.copyfile(FIXTURES / "v1.db", path)
    facts = json.loads((FIXTURES / "v1.json").read_text())
    with Store.open(path) as store:
        listed = [s.id for s in store.list_sessions()]
        assert set(listed) == set(facts["sessions"])
        assert not any(store.load_session(s).session.deleted for s in listed)
        store.apply(listed[0], SessionDeleted(), f.ADA)
    with Store.open(path) as store:
        assert [s.id for s in store.list_sessions()] == listed[1:]
        assert store.load_session(listed[0]).session.deleted
        assert store.verify_events() == facts["events"] + 1
