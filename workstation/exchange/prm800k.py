"""Export in OpenAI's PRM800K schema ("Let's Verify Step by Step"), labels kept raw.

One JSON object per (session, reviewer): PRM800K has one labeler per object, so each reviewer's
own -1/0/+1 ratings stay as they are, side by side, never aggregated. Along the preferred
branch, step k lists every live alternative at that position as `completions` (the model's
text and this reviewer's rating of it), a reviewer's rewrite as `human_completion`, and
`chosen_completion` the index of the alternative the branch continues with (null when the
rewrite is what continues, as in PRM800K).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from workstation.core.jsontypes import JSONObject, JSONValue
from workstation.core.model import Node, Version
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
from workstation.exchange.corpus import ReviewSet, exported_paths, model_version
from workstation.exchange.labels import LabelIndex
from workstation.exchange.result import AtomicWriter, ExportResult, dumps_line, write_manifest

#: PRM800K's finish reasons; a reviewer's chain outcome (`workstation outcome`) is one of them.
FINISH_REASONS = ("solution", "found_error", "give_up", "bad_problem")


def export_prm800k(
    reviews: ReviewSet, out: Path, reviewers: frozenset[str] | None = None, branch: str = "preferred"
) -> ExportResult:
    """Write one PRM800K object per exported branch and reviewer who labelled any step of it."""
    result = ExportResult("prm800k", Path(out))
    stood_in: list[str] = []
    outcomes_used: dict[str, str] = {}
    with AtomicWriter(result.path) as f:
        for tree in reviews.trees:
            index = LabelIndex(tree, reviews.adjudications, reviewers)
            paths, first = exported_paths(tree, branch)
            if first:
                stood_in.append(tree.session.id)
            if not paths:
                result.skip(tree.session.id, "session", "no model steps")
                continue
            labelers = sorted({r for per in index.latest.values() for r in per})
            if not labelers:
                result.skip(tree.session.id, "session", "no label")
                continue
            times: dict[str, list[str]] = {}
            for a in tree.annotations.values():
                if not a.retracted:
                    times.setdefault(a.reviewer_id, []).append(a.created_at)
            for steps in paths:
                layout = _layout(tree, steps)
                outcome = reviews.outcomes.get(steps[-1].chain_id or "")
                if outcome is not None:
                    outcomes_used[steps[-1].chain_id or ""] = outcome
                f.writelines(dumps_line(_solution(tree, index, steps, layout, r, sorted(times.get(r, ())), outcome))
                             for r in labelers)
                result.rows += len(labelers)
    write_manifest(
        result,
        ratings="raw -1/0/+1 per reviewer, as given (no neutral mapping, no aggregation)",
        flagged="true when an automated check flagged that text",
        finish_reason="the reviewer's chain outcome (workstation outcome CHAIN --set ...) of the chain holding "
        "the branch's last step where one is set; else found_error if a chosen step is rated -1; solution if "
        "every chosen step is rated and the branch ends in an answer; give_up otherwise",
        chain_outcomes=dict(sorted(outcomes_used.items())),
        branch="all: every path to a last step" if branch == "all" else
        "preferred: the preferred alternative at every fork, else the oldest",
        first_branch_sessions=stood_in,
        sessions=[t.session.id for t in reviews.trees],
    )
    return result


#: Per step of the branch: (alternatives as (node, model version), index of the chosen one,
#: the rewrite version continuing instead, if any).
_Layout = list[tuple[list[tuple[Node, Version]], int, Version | None]]


def _layout(tree: Tree, steps: list[Node]) -> _Layout:
    """What does not depend on the reviewer: the alternatives at each step and the choice."""
    layout: _Layout = []
    for node in steps:
        assert node.parent_id is not None
        alternatives = [(alt, model_version(alt)) for alt in tree.children(node.parent_id, CHAIN_NODE_KINDS)]
        chosen = next(i for i, (alt, _) in enumerate(alternatives) if alt.id == node.id)
        current = node.current
        layout.append((alternatives, chosen, current if current.origin == "rewrite" else None))
    return layout


def _solution(tree: Tree, index: LabelIndex, steps: list[Node], layout: _Layout, reviewer_id: str,
              times: list[str], outcome: str | None = None) -> JSONObject:
    latest = index.latest
    label_steps: list[JSONValue] = []
    chosen_ratings: list[int | None] = []
    for node, (alternatives, chosen, rewrite) in zip(steps, layout, strict=True):
        completions: list[JSONValue] = []
        ratings: list[int | None] = []
        for alt, original in alternatives:
            mine = latest.get((alt.id, original.id), {}).get(reviewer_id)
            ratings.append(mine.label if mine is not None else None)
            completions.append({"text": original.text, "rating": ratings[-1], "flagged": bool(original.flags)})
        if rewrite is not None:
            mine = latest.get((node.id, rewrite.id), {}).get(reviewer_id)
            rating = mine.label if mine is not None else None
            human: JSONObject = {
                "text": rewrite.text,
                "rating": rating,
                "source": "human",
                "flagged": bool(rewrite.flags),
                "corrected_rating": None,
            }
            chosen_ratings.append(rating)
            label_steps.append({"completions": completions, "human_completion": human, "chosen_completion": None})
        else:
            chosen_ratings.append(ratings[chosen])
            label_steps.append({"completions": completions, "human_completion": None, "chosen_completion": chosen})
    if outcome is not None:
        finish = outcome
    elif any(r == -1 for r in chosen_ratings):
        finish = "found_error"
    elif all(r is not None for r in chosen_ratings) and steps[-1].kind == "answer":
        finish = "solution"
    else:
        finish = "give_up"
    return {
        "labeler": reviewer_id,
        "timestamp": times[-1] if times else None,
        "generation": None,
        "is_quality_control_question": False,
        "is_initial_screening_question": False,
        "question": {
            "problem": tree.question.text,
            "ground_truth_answer": None,
            "pre_generated_steps": [model_version(n).text for n in steps],
            "pre_generated_answer": None,
            "pre_generated_verifier_score": None,
        },
        "label": {"steps": label_steps, "total_time": _elapsed_ms(times), "finish_reason": finish},
    }


def _elapsed_ms(times: list[str]) -> int:
    if len(times) < 2:
        return 0
    try:
        first, last = datetime.fromisoformat(times[0]), datetime.fromisoformat(times[-1])
    except ValueError:
        return 0
    return max(0, int((last - first).total_seconds() * 1000))
