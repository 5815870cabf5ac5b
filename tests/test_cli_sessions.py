"""`workstation delete-session` / `restore-session`, without a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workstation.cli import main
from workstation.review import Review


def test_delete_session_hides_it_and_restore_or_undo_brings_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cli.duckdb")
    with Review.open(db) as review:
        kept = review.start("Is 7 prime?").session.id
        gone = review.start("What is 12 * 4?").session.id

    def listed() -> set[str]:
        assert main(["sessions", "--db", db, "--json"]) == 0
        return {row["id"] for row in json.loads(capsys.readouterr().out)}

    assert main(["delete-session", gone[:8], "--db", db, "--reviewer", "ana"]) == 0
    out = capsys.readouterr().out
    assert f"deleted session {gone}" in out and "What is 12 * 4?" in out
    assert listed() == {kept}
    assert main(["undo", gone, "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "session_restored"
    assert listed() == {kept, gone}

    assert main(["delete-session", gone, "--db", db, "--json", "--reviewer", "ana"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert (event["type"], event["reviewer_id"], event["session_id"]) == ("session_deleted", "ana", gone)
    assert main(["restore-session", gone, "--db", db]) == 0
    assert f"restored session {gone}" in capsys.readouterr().out
    assert listed() == {kept, gone}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["delete-session", "nosuchsession"], "no session with id 'nosuchsession'"),
        (["restore-session", "nosuchsession"], "no session with id 'nosuchsession'"),
    ],
)
def test_unknown_session_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*args, "--db", str(tmp_path / "bad.duckdb")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


def test_deleting_twice_is_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "twice.duckdb")
    with Review.open(db) as review:
        session_id = review.start("Q?").session.id
    assert main(["delete-session", session_id, "--db", db]) == 0
    assert main(["delete-session", session_id, "--db", db]) == 2
    assert "already deleted" in capsys.readouterr().err


def test_show_says_how_a_session_without_steps_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A generation stopped before its first step leaves the question alone; `show` says so and
    names the command (with the question's id) that writes the steps."""
    db = str(tmp_path / "cli.duckdb")
    with Review.open(db) as review:
        tree = review.start("How many legs do 3 spiders have?")
    assert main(["show", tree.session.id, "--db", db]) == 0
    out = capsys.readouterr().out
    assert "no steps yet" in out and f"workstation continue {tree.question_id[:12]}" in out
