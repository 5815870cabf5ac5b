"""Agreement coefficients, the disagreement queue, adjudication and team statistics."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest

from tests.exchange.factory import ADA, BO, ETHICS, LEAD, Review, rich_review
from workstation.errors import BadInputError
from workstation.exchange.agreement import (
    adjudicate,
    cohen_kappa,
    compute_stats,
    disagreements,
    krippendorff_alpha,
    step_type,
)
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.errors import ExchangeError


def test_cohen_kappa_matches_the_hand_computed_value() -> None:
    a = np.array([1, 1, -1, -1])
    b = np.array([1, -1, -1, -1])
    # observed 0.75; expected 0.5 * 0.25 + 0.5 * 0.75 = 0.5; kappa = 0.25 / 0.5
    assert cohen_kappa(a, b) == pytest.approx(0.5)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(np.array([1, 1]), np.array([1, 1])) is None  # undefined, not 1 or nan
    assert cohen_kappa(np.array([], dtype=int), np.array([], dtype=int)) is None
    # Against the textbook 2x2 example (Cohen 1960 style): 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
    a = np.array([1] * 25 + [-1] * 25)
    b = np.array([1] * 20 + [-1] * 5 + [1] * 10 + [-1] * 15)
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_alpha_is_ordinal_and_ignores_single_labels() -> None:
    m = np.array([[1, 1, 1, 1, -1, 0, 1, 1, 1], [1, 1, 0, 1, 1, 0, 1, -1, np.nan],
                  [1, 1, 1, 0, 1, -1, 1, 1, np.nan]], dtype=float)
    ours = krippendorff_alpha(m)
    ordinal = krippendorff.alpha(reliability_data=m[:, :8], value_domain=[-1, 0, 1], level_of_measurement="ordinal")
    interval = krippendorff.alpha(reliability_data=m[:, :8], level_of_measurement="interval")
    assert ours == pytest.approx(ordinal) == pytest.approx(0.18541666666666656)
    assert ours != pytest.approx(interval)  # the package's default level would give 0.109
    assert krippendorff_alpha(np.full((2, 3), 1.0)) is None  # one value throughout
    assert krippendorff_alpha(np.empty((0, 0))) is None


def test_step_types() -> None:
    assert step_type("Answer: 4", "answer") == "answer"
    assert step_type("```python\nx = 1\n```", "step") == "code"
    assert step_type("12 * 4 = 48", "step") == "arithmetic"
    assert step_type("So we should be careful.", "step") == "text"


def test_disagreement_queue_and_adjudication() -> None:
    r, n = rich_review()
    reviews = ReviewSet.from_trees([r.tree], r.event_dicts())
    queue = disagreements(reviews)
    # s2's model text: both -1 (agree). t3: ada +1 vs bo 0. s1's current (rewrite): both +1.
    assert [d.node_id for d in queue] == [n["t3"]]
    item = queue[0]
    assert {k: v[0] for k, v in item.labels.items()} == {"ada": 1, "bo": 0}
    json.dumps(item.to_dict())
    with pytest.raises(ExchangeError, match="only an expert or an ethics reviewer"):
        adjudicate(r.tree, n["t3"], ADA, 1, "looks fine")
    op = adjudicate(r.tree, n["t3"], ETHICS, 1, "the conclusion follows from step 2")
    assert set(op.settles) == {a for a in (v[2] for v in item.labels.values())}
    r.do(op, ETHICS)
    reviews = ReviewSet.from_trees([r.tree], r.event_dicts())
    assert disagreements(reviews) == []
    # A reviewer labelling again after the adjudication reopens it.
    r.label(n["t3"], BO, -1)
    assert [d.node_id for d in disagreements(ReviewSet.from_trees([r.tree], r.event_dicts()))] == [n["t3"]]


def test_adjudication_needs_a_reason() -> None:
    r, n = rich_review()
    with pytest.raises(BadInputError, match="reason"):
        r.do(adjudicate(r.tree, n["t3"], LEAD, 1, "  "), LEAD)


def test_stats_are_json_and_complete() -> None:
    r, n = rich_review()
    other = Review("Is it ethical to lie here?")
    (s1, s2) = other.generate(["Step 1: lying is fine", "Answer: yes"], model="Other.gguf")
    other.label(s1, ADA, -1, tags=("unsafe",))
    other.label(s1, BO, -1, tags=("unsafe", "unsupported claim"))
    other.label(s2, ADA, -1)
    reviews = ReviewSet.from_trees([r.tree, other.tree], r.event_dicts() + other.event_dicts())
    stats = compute_stats(reviews)
    json.dumps(stats)
    assert stats["sessions"] == 2
    ada = stats["reviewers"]["ada"]
    assert ada["role"] == "annotator" and ada["annotations"] == 8 and ada["notes"] == 1
    # A label belongs to the version it was given on: one of ada's labels is on a step rewritten
    # since, so it counts apart (as the error rate per model leaves it out).
    assert ada["labels"] == 7 and ada["labels_on_earlier_versions"] == 1
    assert ada["label_distribution"] == {"-1": 3, "0": 0, "1": 4}  # the -1 on step 1's first version apart
    assert stats["reviewers"]["bo"]["label_distribution"] == {"-1": 2, "0": 1, "1": 3}  # so is bo's 0 on it
    assert stats["reviewers"]["bo"]["labels_on_earlier_versions"] == 1
    assert {t["tag"]: t["count"] for t in stats["tags"]} == {"arithmetic error": 2, "unsafe": 2, "unsupported claim": 1}
    assert {f["check"] for f in stats["flags"]} >= {"arithmetic"}
    assert stats["challenged_step_types"] == [{"type": "arithmetic", "challenges": 1}]
    models = stats["models"]
    assert models["Other.gguf"] == {"labelled_steps": 2, "wrong": 2, "error_rate": 1.0}
    # s1 (rewrite, both +1), s2 (both -1), t2 and t4 (both +1); t3 is a tie, s3 and s4 unlabelled.
    assert models["SmolLM2-135M-Instruct.Q4_1.gguf"] == {"labelled_steps": 4, "wrong": 1, "error_rate": 0.25}
    agreement = stats["agreement"]
    assert agreement["units"] == 8 and agreement["units_with_two_or_more_labels"] == 7
    (pair,) = agreement["cohen_kappa_pairs"]
    assert pair["reviewers"] == ["ada", "bo"] and pair["units"] == 7
    assert -1 <= pair["kappa"] <= 1
    assert 0 < agreement["krippendorff_alpha_ordinal"] <= 1
    assert stats["disagreements"] == 1  # t3: ada +1, bo 0
