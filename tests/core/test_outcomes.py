"""The chain outcome operation: checked, reversible by its inverse, round-trips as JSON."""

from __future__ import annotations

import json

import pytest

from tests.exchange.factory import ADA, Review
from workstation.core import ops
from workstation.core.ops import ChainOutcomeSet, apply
from workstation.errors import BadInputError


def test_outcome_checks_inverts_and_round_trips() -> None:
    r = Review()
    (s1,) = r.generate(["Answer: 50"])
    chain = r.tree.nodes[s1].chain_id
    op = ChainOutcomeSet(chain, "found_error", "solution")
    outcome = apply(r.tree, op)
    assert outcome.inverse == ChainOutcomeSet(chain, "solution", "found_error")
    for o in (op, outcome.inverse):
        assert ops.operation_from_dict(o.type, json.loads(json.dumps(o.payload()))) == o
    with pytest.raises(BadInputError, match="one of solution"):
        apply(r.tree, ChainOutcomeSet(chain, "maybe"))
    with pytest.raises(BadInputError, match="no chain"):
        apply(r.tree, ChainOutcomeSet("nope", "solution"))
    r.do(op, ADA)
    assert r.events[-1].type == "chain_outcome_set"
