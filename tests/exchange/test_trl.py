"""TRL exports: exact fields and types, label policies, skips, manifests; loading with `datasets`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.exchange.factory import ADA, BO, LEAD, Review, rich_review
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.errors import ExchangeError
from workstation.exchange.export import export


def _rows(path: Path) -> list[dict]:
    # Split on "\n" only: JSON keeps U+0085 and U+2028 unescaped, and str.splitlines() would
    # cut there (JSON Lines readers, file iteration and pyarrow do not).
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


@pytest.fixture
def reviews() -> ReviewSet:
    r, _ = rich_review()
    return ReviewSet.from_trees([r.tree], r.event_dicts())


def test_stepwise_takes_the_preferred_branch_with_current_versions(reviews: ReviewSet, tmp_path: Path) -> None:
    result = export(reviews, "trl-stepwise", tmp_path / "prm.jsonl")
    rows = _rows(tmp_path / "prm.jsonl")
    assert rows == [{
        "prompt": "What is 12 * 4 + 2? Show <b>work</b>.\n",  # the separator ends the prompt
        "completions": ["Step 1: 12 * 4 = 48", "Step 2: 48 + 2 = 50"],
        "labels": [True, True],
    }]
    # Step 3 of the preferred branch: ada +1, bo 0 -> a tie under majority, so the row ends.
    assert result.rows == 1
    assert result.skip_reasons() == {"reviewers disagree (tie)": 1}
    manifest = json.loads((tmp_path / "prm.jsonl.manifest.json").read_text())
    assert manifest["label_policy"]["neutral_as"] == "false"
    assert manifest["label_policy"]["label_mapping"] == {"1": True, "-1": False, "0": False}
    assert manifest["rows"] == 1 and manifest["skipped"] == 1
    assert manifest["models"][0]["name"] == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_stepwise_policies_strict_and_neutral(reviews: ReviewSet, tmp_path: Path) -> None:
    export(reviews, "trl-stepwise", tmp_path / "a.jsonl", aggregate="strict")
    assert _rows(tmp_path / "a.jsonl")[0]["labels"] == [True, True, False, True]
    export(reviews, "trl-stepwise", tmp_path / "b.jsonl", aggregate="strict", neutral="true")
    assert _rows(tmp_path / "b.jsonl")[0]["labels"] == [True, True, True, True]
    result = export(reviews, "trl-stepwise", tmp_path / "c.jsonl", aggregate="strict", neutral="drop")
    assert _rows(tmp_path / "c.jsonl")[0]["labels"] == [True, True]
    assert result.skip_reasons() == {"neutral label dropped": 1}
    export(reviews, "trl-stepwise", tmp_path / "d.jsonl", reviewers=["ada"])
    assert _rows(tmp_path / "d.jsonl")[0]["labels"] == [True, True, True, True]
    with pytest.raises(ExchangeError, match="neutral-as"):
        export(reviews, "trl-stepwise", tmp_path / "e.jsonl", neutral="maybe")
    with pytest.raises(ExchangeError, match="unknown export format"):
        export(reviews, "csv", tmp_path / "e.csv")


def test_an_adjudication_decides(tmp_path: Path) -> None:
    r = Review()
    (s1,) = r.generate(["Answer: 50"])
    r.label(s1, ADA, 1)
    r.label(s1, BO, -1)
    from workstation.exchange.agreement import adjudicate

    r.do(adjudicate(r.tree, s1, LEAD, -1, "50 is right but the working is missing"), LEAD)
    reviews = ReviewSet.from_trees([r.tree], r.event_dicts())
    export(reviews, "trl-stepwise", tmp_path / "a.jsonl")
    assert _rows(tmp_path / "a.jsonl")[0]["labels"] == [False]


def test_unlabelled_sessions_are_skipped_with_a_reason(tmp_path: Path) -> None:
    r = Review()
    r.generate(["Step 1: think", "Answer: 3"])
    empty = Review("No steps yet")
    result = export(ReviewSet.from_trees([r.tree, empty.tree]), "trl-stepwise", tmp_path / "a.jsonl")
    assert result.rows == 0
    assert result.skip_reasons() == {"no label": 1, "no model steps": 1}
    assert (tmp_path / "a.jsonl").read_text() == ""


def test_preference_pairs_from_rewrites_and_preferred_branches(reviews: ReviewSet, tmp_path: Path) -> None:
    result = export(reviews, "trl-preference", tmp_path / "dpo.jsonl", style="standard")
    rows = _rows(tmp_path / "dpo.jsonl")
    assert all(set(row) == {"prompt", "chosen", "rejected"} for row in rows)
    assert rows[0] == {"prompt": "What is 12 * 4 + 2? Show <b>work</b>.", "chosen": "\nStep 1: 12 * 4 = 48\n\n",
                       "rejected": "\nStep 1: 12 * 4 = 46\n\n"}
    assert rows[1]["prompt"] == "What is 12 * 4 + 2? Show <b>work</b>.\nStep 1: 12 * 4 = 48"
    assert rows[1]["chosen"] == "\n\nStep 2: 48 + 2 = 50\n\nStep 3: so the total is 50\n\nAnswer: 50\n\n"
    assert rows[1]["rejected"].startswith("\n\nStep 2: 46 + 2 = 48")
    assert result.manifest["pairs"] == {"rewrite": 1, "branch": 1}


def test_kto_rows_per_labelled_version(reviews: ReviewSet, tmp_path: Path) -> None:
    export(reviews, "kto", tmp_path / "kto.jsonl", aggregate="strict", style="standard")
    rows = _rows(tmp_path / "kto.jsonl")
    assert all(set(row) == {"prompt", "completion", "label"} and isinstance(row["label"], bool) for row in rows)
    by_completion = {row["completion"].strip(): row["label"] for row in rows}
    assert by_completion["Step 1: 12 * 4 = 46"] is False  # the model's original, labelled before the rewrite
    assert by_completion["Step 1: 12 * 4 = 48"] is True
    assert by_completion["Step 3: so the total is 50"] is False  # strict: bo's 0 -> False


def test_a_failed_export_leaves_no_partial_file(reviews: ReviewSet, tmp_path: Path, monkeypatch) -> None:
    import workstation.exchange.trl as trl

    def boom(row):  # noqa: ANN001
        raise OSError("disk full")

    monkeypatch.setattr(trl, "dumps_line", boom)
    with pytest.raises(OSError):
        export(reviews, "trl-preference", tmp_path / "dpo.jsonl")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=30, deadline=None)
@given(question=st.text(min_size=1, alphabet=st.characters(blacklist_categories=("Cs",))).filter(str.strip),
       steps=st.lists(st.text(min_size=1, alphabet=st.characters(blacklist_categories=("Cs",))).filter(str.strip),
                      min_size=1, max_size=4))
def test_kto_rows_reproduce_the_text_the_model_saw_and_wrote(question: str, steps: list[str]) -> None:
    """prompt + completion of every standard KTO row is the question, a line break and the
    model's output up to that step, byte for byte, whatever the text holds."""
    import tempfile

    from workstation.core import build
    from workstation.core.splitter import split

    r = Review(question)
    raw = "".join(f"Step {i + 1}: {s}\n\n" for i, s in enumerate(steps))
    op = build.steps_added(r.tree, r.tree.question_id, raw, split(raw), LEAD, "cot", "1")
    r.do(op, LEAD)
    for node in op.nodes:
        r.label(node.id, ADA, 1)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "kto.jsonl"
        export(ReviewSet.from_trees([r.tree]), "kto", out, style="standard")
        rows = _rows(out)
    ends = {r.tree.question.text + "\n" + raw[: sum(len(n.original.raw) for n in op.nodes[: i + 1])]
            for i in range(len(op.nodes))}
    assert {row["prompt"] + row["completion"] for row in rows} == ends
