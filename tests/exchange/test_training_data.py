"""Regressions of issue 14: exports train on the text the model produced and the reviewer meant.

Each test names the defect it guards; each failed on the exports as they were before.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exchange.factory import ADA, BO, LEAD, Review, rich_review
from workstation.core.ops import BranchShown, ChainOutcomeSet
from workstation.core.prompts import PromptTemplate
from workstation.exchange.corpus import ModelInfo, ReviewSet
from workstation.exchange.export import export

TEMPLATE = PromptTemplate("cot", "1", "test", "You solve problems step by step.", "Q: {question}", "{critique}")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def _manifest(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".manifest.json").read_text(encoding="utf-8"))


def _set(r: Review) -> ReviewSet:
    reviews = ReviewSet.from_trees([r.tree], r.event_dicts())
    reviews.templates = {"cot": TEMPLATE}
    return reviews


def _two_step_review() -> tuple[Review, list[str]]:
    r = Review("How much do 7 pens cost?")
    ids = r.generate(["1. The total cost is 7 * 2 = 14.", "Answer: 14"])
    r.label(ids[0], ADA, 1)
    r.label(ids[1], ADA, -1)
    r.rewrite(ids[1], "Answer: $14")
    return r, ids


# -- 1. the prompt/completion boundary ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["trl-preference", "kto"])
def test_standard_rows_never_glue_prompt_and_completion(fmt: str, tmp_path: Path) -> None:
    r, _ = _two_step_review()
    out = tmp_path / f"{fmt}.jsonl"
    export(_set(r), fmt, out, style="standard")
    rows = _rows(out)
    assert rows
    for row in rows:
        for completion in [row[k] for k in ("chosen", "rejected", "completion") if k in row]:
            joined = row["prompt"] + completion
            assert "?1." not in joined and ".Answer" not in joined and "14.Answer" not in joined
            assert completion[0].isspace() and not row["prompt"][-1].isspace()  # a completion starts with it
    manifest = _manifest(out)
    assert "prompt + completion" in manifest["boundary"] and manifest["style"] == "standard"


def test_stepwise_prompt_ends_with_the_separator(tmp_path: Path) -> None:
    r, _ = _two_step_review()
    out = tmp_path / "prm.jsonl"
    export(_set(r), "trl-stepwise", out)
    (row,) = _rows(out)
    assert row["prompt"] == "How much do 7 pens cost?\n"
    assert "separator" in _manifest(out)["boundary"]


# -- 2. conversational rows ----------------------------------------------------------------


def test_conversational_rows_carry_the_chains_system_prompt_and_messages(tmp_path: Path) -> None:
    r, _ = _two_step_review()
    out = tmp_path / "dpo.jsonl"
    export(_set(r), "trl-preference", out)  # the default where the model has a chat template
    (row,) = _rows(out)
    assert row["prompt"] == [{"role": "system", "content": "You solve problems step by step."},
                             {"role": "user", "content": "Q: How much do 7 pens cost?"}]
    assert row["chosen"] == [{"role": "assistant", "content": "1. The total cost is 7 * 2 = 14.\n\nAnswer: $14\n\n"}]
    assert row["rejected"] == [{"role": "assistant", "content": "1. The total cost is 7 * 2 = 14.\n\nAnswer: 14\n\n"}]
    assert _manifest(out)["style"] == "conversational"
    assert _manifest(out)["prompt_templates"] == [{"name": "cot", "version": "1"}]


def test_standard_is_the_default_for_a_model_without_a_chat_template(tmp_path: Path) -> None:
    r, _ = _two_step_review()
    reviews = _set(r)
    reviews.models = {cid: ModelInfo(m.name, chat_template=False) for cid, m in reviews.models.items()}
    out = tmp_path / "kto.jsonl"
    export(reviews, "kto", out)
    assert all(isinstance(row["prompt"], str) for row in _rows(out))
    assert "no chat template" in _manifest(out)["style_why"]


# -- 3. branch-versus-branch pairs ---------------------------------------------------------


def test_branch_pairs_hold_only_model_text_from_the_fork() -> None:
    r = Review("What is 12 * 4 + 2?")
    s1, s2, _ = r.generate(["Step 1: 12 * 4 = 48", "Step 2: 48 + 2 = 52", "Answer: 52"])
    t2, _ = r.generate(["Step 2: 48 + 2 = 50", "Answer: 50"], parent_id=s1)
    r.prefer(t2)
    r.rewrite(s2, "Step 2: 48 + 2 = 50 (REVIEWER)")  # a correct rewrite on the rejected branch
    r.generate(["Answer: 52 (REGENERATED)"], parent_id=s2)  # another generation below it
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "dpo.jsonl"
        export(_set(r), "trl-preference", out, style="standard")
        rows = _rows(out)
    branch = [row for row in rows if row["chosen"].startswith("\n\nStep 2: 48 + 2 = 50\n")]
    assert len(branch) == 1
    (pair,) = branch
    assert pair["prompt"] == "What is 12 * 4 + 2?\nStep 1: 12 * 4 = 48"
    assert pair["chosen"] == "\n\nStep 2: 48 + 2 = 50\n\nAnswer: 50\n\n"
    assert pair["rejected"] == "\n\nStep 2: 48 + 2 = 52\n\nAnswer: 52\n\n"
    assert all("REVIEWER" not in row["rejected"] for row in rows)
    assert all("REGENERATED" not in row["rejected"] + row["chosen"] for row in rows)


# -- 4. deterministic branches -------------------------------------------------------------


def test_what_is_exported_does_not_depend_on_the_branch_shown(tmp_path: Path) -> None:
    r = Review()
    s1, s2 = r.generate(["Step 1: 12 * 4 = 48", "Answer: 50"])
    (t2,) = r.generate(["Answer: 51"], parent_id=s1)
    for node in (s1, s2, t2):
        r.label(node, ADA, 1)
    first = tmp_path / "a.jsonl"
    export(_set(r), "trl-stepwise", first)
    r.do(BranchShown.of(r.tree, s2), LEAD)
    again = tmp_path / "b.jsonl"
    export(_set(r), "trl-stepwise", again)
    r.do(BranchShown.of(r.tree, t2), LEAD)
    third = tmp_path / "c.jsonl"
    export(_set(r), "trl-stepwise", third)
    assert _rows(first) == _rows(again) == _rows(third)
    assert _rows(first)[0]["completions"] == ["Step 1: 12 * 4 = 48", "Answer: 50"]  # the oldest alternative
    assert _manifest(first)["first_branch_sessions"]["sessions"] == [r.tree.session.id]
    every = tmp_path / "all.jsonl"
    result = export(_set(r), "trl-stepwise", every, branch="all")
    assert result.rows == 2
    assert sorted(row["completions"][-1] for row in _rows(every)) == ["Answer: 50", "Answer: 51"]


# -- 5. partial chains ---------------------------------------------------------------------


def test_partial_truncate_keeps_steps_before_a_tie_and_drop_leaves_the_chain_out(tmp_path: Path) -> None:
    r = Review()
    s1, s2, s3 = r.generate(["Step 1: 12 * 4 = 48", "Step 2: 48 + 2 = 50", "Answer: 50"])
    r.label(s1, ADA, 1)
    r.label(s2, ADA, 1)
    r.label(s2, BO, -1)  # a tie
    r.label(s3, ADA, 1)
    cut = tmp_path / "cut.jsonl"
    result = export(_set(r), "trl-stepwise", cut, partial="truncate")
    assert _rows(cut)[0]["completions"] == ["Step 1: 12 * 4 = 48"]
    partial = _manifest(cut)["partial"]
    assert partial["mode"] == "truncate" and partial["dropped"] == []
    assert partial["cut"][0]["reason"] == "reviewers disagree (tie)" and partial["cut"][0]["kept_steps"] == 1
    assert result.dropped()[0]["action"] == "cut"
    dropped = tmp_path / "drop.jsonl"
    result = export(_set(r), "trl-stepwise", dropped, partial="drop")
    assert result.rows == 0 and _rows(dropped) == []
    assert _manifest(dropped)["partial"]["dropped"][0]["position"] == 2


# -- 6. who consumes trl-stepwise, and steps holding the separator -------------------------


def test_stepwise_names_its_consumers_and_reports_steps_holding_the_separator(tmp_path: Path) -> None:
    r = Review()
    s1, s2 = r.generate(["Step 1: first line\nsecond line", "Answer: 2"])
    r.label(s1, ADA, 1)
    r.label(s2, ADA, 1)
    out = tmp_path / "prm.jsonl"
    export(_set(r), "trl-stepwise", out)
    manifest = _manifest(out)
    assert any("trl<=1.13" in c and "PRMTrainer" in c for c in manifest["consumers"])
    assert any("Math-Shepherd" in c for c in manifest["consumers"])
    assert [s["step"] for s in manifest["steps_containing_separator"]] == [s1]


# -- 7. KTO order and balance --------------------------------------------------------------


def test_kto_rows_are_shuffled_by_a_recorded_seed_with_counts_and_weights(tmp_path: Path) -> None:
    trees = []
    events = []
    for k in range(6):
        r = Review(f"Question {k}?")
        ids = r.generate([f"Step {i + 1}: s{k}.{i}" for i in range(4)])
        for i, node in enumerate(ids):
            r.label(node, ADA, 1 if i == 0 else -1)
        trees.append(r.tree)
        events += r.event_dicts()
    reviews = ReviewSet.from_trees(trees, events)
    a, b, c = (tmp_path / f"{n}.jsonl" for n in "abc")
    export(reviews, "kto", a, style="standard", seed=1)
    export(reviews, "kto", b, style="standard", seed=1)
    export(reviews, "kto", c, style="standard", seed=2)
    labels = [row["label"] for row in _rows(a)]
    assert _rows(a) == _rows(b) and _rows(a) != _rows(c)
    assert labels[:6] != [False] * 6 and labels != sorted(labels)  # not grouped by session or label
    manifest = _manifest(a)
    assert manifest["order"] == {"shuffled": True, "seed": 1}
    assert manifest["labels"] == {"desirable": 6, "undesirable": 18}
    assert manifest["desirable_weight"]["suggested_range"] == [3.0, 3.99]


# -- the chain outcome ---------------------------------------------------------------------


def test_a_chain_outcome_becomes_prm800ks_finish_reason(tmp_path: Path) -> None:
    r = Review()
    s1, s2 = r.generate(["Step 1: 12 * 4 = 48", "Answer: 50"])
    r.label(s1, ADA, 1)
    r.label(s2, ADA, 1)
    chain = r.tree.nodes[s2].chain_id
    out = tmp_path / "prm800k.jsonl"
    export(_set(r), "prm800k", out)
    assert _rows(out)[0]["label"]["finish_reason"] == "solution"
    r.do(ChainOutcomeSet(chain, "bad_problem"), ADA)
    export(_set(r), "prm800k", out)
    assert _rows(out)[0]["label"]["finish_reason"] == "bad_problem"
    assert _manifest(out)["chain_outcomes"] == {chain: "bad_problem"}
    r.do(ChainOutcomeSet(chain, None, "bad_problem"), ADA)  # cleared: derived again
    export(_set(r), "prm800k", out)
    assert _rows(out)[0]["label"]["finish_reason"] == "solution"


def test_results_say_one_row(tmp_path: Path) -> None:
    r, _ = rich_review()
    result = export(ReviewSet.from_trees([r.tree], r.event_dicts()), "trl-stepwise", tmp_path / "a.jsonl")
    assert result.rows == 1 and "wrote 1 row to" in result.summary()
