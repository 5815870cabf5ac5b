"""The scripted review of issue 4, run through the command line as a new user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workstation.cli import main

pytestmark = pytest.mark.model


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, (json.loads(out) if "--json" in args and status == 0 else out), err


def test_scripted_review(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.duckdb")
    sampling = ["--threads", "2", "--seed", "1"]
    status, made, _ = run(
        capsys, "generate", "--db", db, "--json", "--max-tokens", "160", *sampling,
        "--prompt", "A train travels 60 km in 1.5 hours. What is its average speed?",
    )
    assert status == 0
    session, steps = made["session_id"], [n["id"] for n in made["nodes"]]
    assert len(steps) >= 3 and made["finish_reason"] in ("stop", "length")

    status, labelled, _ = run(capsys, "annotate", steps[0][:8], "--db", db, "--json", "--label", "-1",
                              "--note", "Converting to miles is irrelevant", "--tag", "irrelevant",
                              "--reviewer", "ana", "--role", "expert")
    assert status == 0 and labelled["reviewer_id"] == "ana" and labelled["role"] == "expert"
    assert run(capsys, "annotate", steps[1], "--db", db, "--json", "--label", "1", "--reviewer", "ana")[0] == 0

    rewritten = "Average speed is distance over time: 60 km / 1.5 h = 40 km/h."
    assert run(capsys, "rewrite", steps[1], "--db", db, "--json", "--text", rewritten, "--reviewer", "ana")[0] == 0
    status, regenerated, _ = run(capsys, "regenerate", steps[1], "--db", db, "--json", "--max-tokens", "48",
                                 "--critique", "Use distance divided by time.", "--reviewer", "ana", *sampling)
    assert status == 0
    status, answered, _ = run(capsys, "challenge", steps[2], "--db", db, "--json", "--max-tokens", "32",
                              "--reviewer", "ana", *sampling)
    assert status == 0

    status, tree, _ = run(capsys, "show", session, "--db", db, "--json")
    assert status == 0
    nodes = {n["id"]: n for n in tree["nodes"]}
    # Versions: the model's original and the rewrite.
    assert [v["origin"] for v in nodes[steps[1]]["versions"]] == ["model", "rewrite"]
    assert nodes[steps[1]]["versions"][-1]["text"] == rewritten
    # Labels from the reviewer, flags from the checks.
    labels = {(a["node_id"], a["label"]) for a in tree["annotations"]}
    assert (steps[0], -1) in labels and (steps[1], 1) in labels
    assert any(v["flags"] for n in tree["nodes"] for v in n["versions"])
    # Both branches: the regenerated alternative sits beside the original step 2.
    new_step = regenerated["nodes"][0]["id"]
    assert nodes[new_step]["parent_id"] == nodes[steps[1]]["parent_id"]
    assert any(c["critique"] == "Use distance divided by time." for c in tree["chains"])
    # The challenge and its reply hang off step 3, outside the shown chain.
    reply = nodes[answered["nodes"][0]["id"]]
    assert reply["kind"] == "reply" and nodes[reply["parent_id"]]["parent_id"] == steps[2]
    assert reply["id"] not in tree["shown_path"]
    assert all(g is not None and g["model_sha256"] for g in
               (tree["generations"][c["id"]] for c in tree["chains"]))

    status, listing, _ = run(capsys, "sessions", "--db", db, "--json")
    assert status == 0 and [s["id"] for s in listing] == [session]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["annotate", "nosuchstep", "--label", "1"], "no step with id 'nosuchstep'"),
        (["show", "nosuchsession"], "no session with id 'nosuchsession'"),
        (["generate"], "give the question with --prompt"),
        (["generate", "--prompt-file", "/nonexistent/q.txt"], "/nonexistent/q.txt: cannot read"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, _, err = run(capsys, *args, "--db", str(tmp_path / "bad.duckdb"))
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err


def test_label_outside_the_scale_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["annotate", "abc", "--label", "5", "--db", str(tmp_path / "x.duckdb")])
    assert exit_info.value.code == 2
    assert "invalid choice: 5" in capsys.readouterr().err


def test_undo_after_challenge_removes_question_and_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workstation.review import Review

    db = str(tmp_path / "undo.duckdb")
    with Review.open(db) as review:
        session = review.start("What is 12 * 4?").session.id
        step = review.add_steps(session, "Step 1: 12 * 4 = 48\n\nAnswer: 48").changes.nodes[0]
    status, answered, _ = run(capsys, "challenge", step, "--db", db, "--json", "--max-tokens", "16",
                              "--threads", "2", "--seed", "1")
    assert status == 0
    reply = answered["nodes"][0]["id"]

    status, undone, _ = run(capsys, "undo", session[:8], "--db", db, "--json")
    assert status == 0 and undone["description"] == "challenge step 1"
    assert [e["type"] for e in undone["events"]] == ["branch_deleted", "branch_deleted"]
    # The answer is reversed first, then the question; the top keys describe the last event.
    assert undone["events"][0]["changes"]["nodes"] == [reply]
    assert undone["event_id"] == undone["events"][-1]["event_id"] and undone["type"] == "branch_deleted"
    assert reply in undone["changes"]["nodes"] and len(undone["changes"]["nodes"]) == 2
    status, tree, _ = run(capsys, "show", session, "--db", db, "--json")
    deleted = {n["kind"] for n in tree["nodes"] if n["deleted"]}
    assert status == 0 and deleted == {"challenge", "reply"}

    status, out, _ = run(capsys, "redo", session, "--db", db)
    assert status == 0 and out.strip() == "redid challenge step 1 (2 events)"
    status, tree, _ = run(capsys, "show", session, "--db", db, "--json")
    assert not any(n["deleted"] for n in tree["nodes"])
