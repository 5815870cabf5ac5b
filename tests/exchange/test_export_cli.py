"""Parquet tables that `datasets` loads, and the CLI's --dry-run, --force and `outcome`, on a
real database built from a reviewed session (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exchange.factory import rich_review
from workstation.cli import main
from workstation.core.model import Reviewer
from workstation.store import Store

datasets = pytest.importorskip("datasets")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database holding the rich review session, event by event."""
    r, _ = rich_review()
    path = tmp_path / "review.duckdb"
    with Store.open(path) as store:
        first, *rest = r.events
        store.start_session(first.op, Reviewer(first.reviewer_id, first.role), at=first.at)  # type: ignore[arg-type]
        for e in rest:
            store.apply(first.session_id, e.op, Reviewer(e.reviewer_id, e.role), at=e.at)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_every_parquet_table_written_loads_with_datasets(db: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "tables"
    status, _, err = _run(capsys, "export", "--db", str(db), "--format", "parquet", "--out", str(folder))
    assert status == 0, err
    manifest = json.loads((folder / "tables.parquet.manifest.json").read_text())
    assert manifest["empty_tables"]  # e.g. no generation records in this database
    for table in manifest["empty_tables"]:
        assert not (folder / f"{table}.parquet").exists()
    for table, rows in manifest["tables"].items():
        ds = datasets.load_dataset("parquet", data_files=str(folder / f"{table}.parquet"), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
        assert ds.num_rows == rows


def test_dry_run_json_writes_nothing_and_force_guards_a_file(db: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prm.jsonl"
    status, printed, err = _run(capsys, "export", "--db", str(db), "--format", "trl-stepwise", "--out", str(out),
                                "--dry-run", "--json")
    assert status == 0, err
    preview = json.loads(printed)
    assert preview["rows"] == 1 and preview["written"] is False
    assert preview["dropped"][0]["reason"] == "reviewers disagree (tie)" and preview["dropped"][0]["chain"]
    assert list(tmp_path.glob("prm.jsonl*")) == []
    status, printed, _ = _run(capsys, "export", "--db", str(db), "--format", "trl-stepwise", "--out", str(out))
    assert status == 0 and "wrote 1 row to" in printed
    status, _, err = _run(capsys, "export", "--db", str(db), "--format", "trl-stepwise", "--out", str(out))
    assert status != 0 and "--force" in err
    status, _, err = _run(capsys, "export", "--db", str(db), "--format", "trl-stepwise", "--out", str(out), "--force")
    assert status == 0, err


def test_outcome_command_reaches_prm800k(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(db) as store:
        tree = store.load_session(store.list_sessions()[0].id)
    last = tree.preferred_path()[-1]
    status, printed, err = _run(capsys, "outcome", last.id[:10], "--set", "give_up", "--db", str(db), "--json")
    assert status == 0, err
    assert json.loads(printed)["chain_id"] == last.chain_id
    with pytest.raises(SystemExit):  # argparse refuses an outcome PRM800K does not have
        main(["outcome", last.id, "--set", "maybe", "--db", str(db)])
    capsys.readouterr()
    out = tmp_path / "prm800k.jsonl"
    assert _run(capsys, "export", "--db", str(db), "--format", "prm800k", "--out", str(out))[0] == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["label"]["finish_reason"] for row in rows} == {"give_up"}
