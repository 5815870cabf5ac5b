"""Tokens kept per step and the token branch, through the command line: `show --tokens`, `branch`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from workstation.cli import main
from workstation.store import Store

pytestmark = pytest.mark.model


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, (json.loads(out) if "--json" in args and status == 0 else out), err


def test_show_tokens_then_branch_at_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.duckdb")
    sampling = ["--threads", "2", "--seed", "3", "--max-tokens", "48"]
    status, made, _ = run(capsys, "generate", "--db", db, "--json", *sampling, "--prompt", "What is 12 + 30?")
    assert status == 0
    session, first = made["session_id"], made["nodes"][0]["id"]

    status, shown, _ = run(capsys, "show", session, "--db", db, "--json", "--tokens")
    assert status == 0
    node = next(n for n in shown["nodes"] if n["id"] == first)
    version = node["versions"][0]
    held = shown["tokens"][version["id"]]
    tokens = held["tokens"]
    # The tokens spell the step's raw text (from the offset where its first token starts).
    assert "".join(t["text"] for t in tokens) == version["raw"][held["offset"]:]
    for token in tokens:
        assert len(token["top"]) == 5
        probs = [a["logprob"] for a in token["top"]]
        assert probs == sorted(probs, reverse=True) and all(p <= 0 for p in probs)
        # The sampled token is at most as likely as the likeliest alternative.
        assert token["logprob"] <= probs[0] + 1e-6
    # Without --tokens the JSON has no token lists.
    assert "tokens" not in run(capsys, "show", session, "--db", db, "--json")[1]

    # Branch at the fourth token with the model's second choice there.
    at = held["offset"] + sum(len(t["text"]) for t in tokens[:3])
    place = tokens[3]
    forced = next(a for a in place["top"] if a["text"] != place["text"])
    status, branched, _ = run(capsys, "branch", first[:10], "--db", db, "--json", "--at-char", str(at),
                              "--token", forced["text"], *sampling)
    assert status == 0
    new = branched["nodes"][0]
    kept = version["raw"][:at] + forced["text"]
    status, after, _ = run(capsys, "show", session, "--db", db, "--json", "--tokens")
    new_node = next(n for n in after["nodes"] if n["id"] == new["id"])
    assert new_node["versions"][0]["raw"].startswith(kept)
    assert new_node["parent_id"] == node["parent_id"]  # an alternative of the step
    new_tokens = after["tokens"][new_node["versions"][0]["id"]]["tokens"]
    # The kept tokens keep their probabilities; the forced one has the model's for it.
    assert new_tokens[:3] == tokens[:3]
    assert new_tokens[3]["text"] == forced["text"]
    assert math.isclose(new_tokens[3]["logprob"], forced["logprob"], rel_tol=1e-6)
    chain = next(c for c in after["chains"] if new["id"] in c["node_ids"])
    assert after["generations"][chain["id"]]["extra"]["forced_token"]["at_char"] == at

    status, text, _ = run(capsys, "show", session, "--db", db, "--tokens")
    assert status == 0 and f"{at}:{forced['text']!r}" in text


def test_branch_refuses_a_place_inside_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.duckdb")
    sampling = ["--threads", "2", "--seed", "3", "--max-tokens", "24"]
    status, made, _ = run(capsys, "generate", "--db", db, "--json", *sampling, "--prompt", "Name three colours.")
    assert status == 0
    first = made["nodes"][0]["id"]
    with Store.open(db) as store:
        tree = store.load_session(made["session_id"])
        version = tree.node(first).versions[0]
        held = store.tokens([version.id])[version.id]
    starts = set(held.starts())
    inside = next(i for i in range(len(version.raw)) if i not in starts)
    status, _, err = run(capsys, "branch", first, "--db", db, "--at-char", str(inside), "--token", "x", *sampling)
    assert status != 0
    assert f"--at-char {inside} is not where a token" in err and "Traceback" not in err
    status, _, err = run(capsys, "branch", first, "--db", db, "--at-char", "0", "--token", "", *sampling)
    assert status != 0 and "the token is empty" in err
