"""PRM800K export: one object per session and reviewer, raw ratings, alternatives, rewrites."""

from __future__ import annotations

import json
from pathlib import Path

from tests.exchange.factory import rich_review
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.export import export


def test_prm800k_schema(tmp_path: Path) -> None:
    r, n = rich_review()
    result = export(ReviewSet.from_trees([r.tree], r.event_dicts()), "prm800k", tmp_path / "p.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert result.rows == 2
    assert [row["labeler"] for row in rows] == ["ada", "bo"]
    ada = rows[0]
    assert set(ada) >= {"labeler", "timestamp", "generation", "question", "label"}
    assert ada["question"]["problem"] == "What is 12 * 4 + 2? Show <b>work</b>."
    steps = ada["label"]["steps"]
    assert len(steps) == 4  # s1, then the preferred branch t2, t3, t4
    first = steps[0]
    # Step 1 was rewritten: the model's text is the completion (ada rated it -1), the rewrite is
    # the human completion (ada rated it +1), and no model completion was chosen.
    assert first["completions"] == [{"text": "Step 1: 12 * 4 = 46", "rating": -1, "flagged": True}]
    assert first["human_completion"]["text"] == "Step 1: 12 * 4 = 48"
    assert first["human_completion"]["rating"] == 1
    assert first["chosen_completion"] is None
    second = steps[1]
    # Step 2 has two alternatives: the original (rated -1) and the regenerated one (chosen).
    assert [c["text"] for c in second["completions"]] == [
        "Step 2: 46 + 2 = 48 <script>alert(1)</script>", "Step 2: 48 + 2 = 50"]
    assert [c["rating"] for c in second["completions"]] == [-1, 1]
    assert second["chosen_completion"] == 1
    assert second["human_completion"] is None
    assert ada["label"]["finish_reason"] == "solution"
    assert isinstance(ada["label"]["total_time"], int)
    bo = rows[1]
    assert [s["completions"][s["chosen_completion"]]["rating"] for s in bo["label"]["steps"][1:]] == [1, 0, 1]
    assert bo["label"]["steps"][0]["completions"][0]["rating"] == 0  # raw neutral kept
    assert result.manifest["ratings"].startswith("raw")
