"""Tokens through the review use cases: kept for every model-written step and reply, and
`branch_at` continuing from the engine's evaluated prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.core.model import Reviewer
from workstation.engine.events import SamplingParams
from workstation.errors import BadInputError
from workstation.review import Review, drain

pytestmark = pytest.mark.model

PARAMS = SamplingParams(max_tokens=40, seed=3)


def test_tokens_kept_and_branch_reuses_the_prefix(tmp_path: Path, default_model_path: Path) -> None:
    with Review.open(tmp_path / "r.duckdb", reviewer=Reviewer("ana", "annotator")) as review:
        review.load_model(default_model_path, n_threads=2, n_ctx_cap=1024)
        made = drain(review.generate("What is 12 + 30?", sampling=PARAMS))
        tree = review.tree(made.session_id)
        # Every step's tokens, together, spell the model's output.
        held = [review.step_tokens(node_id) for node_id in made.node_ids]
        assert all(h is not None for h in held)
        raw = tree.chains[tree.node(made.node_ids[0]).chain_id].raw_text
        assert "".join(t.text for h in held if h for t in h[1].tokens) == raw

        first = made.node_ids[0]
        version, tokens = review.step_tokens(first) or (None, None)
        assert tokens is not None and version is not None and len(tokens.tokens) > 3
        at = tokens.starts()[2]
        forced = next(text for text, _ in tokens.tokens[2].top if text != tokens.tokens[2].text)
        branched = drain(review.branch_at(first, at, forced, sampling=PARAMS))
        # The prefix (the question and the kept text) came from the engine's state: a few tokens
        # were decoded, not the whole prompt.
        assert branched.finish.prompt_tokens_evaluated < 8 < branched.finish.prompt_tokens
        tree = review.tree(made.session_id)
        new = tree.node(branched.node_ids[0])
        assert new.parent_id == tree.node(first).parent_id
        assert new.current.raw.startswith(version.raw[:at] + forced)
        assert new.current.token_count is not None and new.current.token_count >= 3

        # A reply's tokens are kept too.
        answered = drain(review.challenge(first, sampling=PARAMS))
        assert review.step_tokens(answered.node_ids[0]) is not None

        with pytest.raises(BadInputError, match="the token is empty"):
            drain(review.branch_at(first, at, ""))
        review.rewrite(first, "Twelve plus thirty is forty-two.")
        # A rewritten step branches from its model version's tokens.
        assert review.step_tokens(first)[0].origin == "model"
        typed = review.start("Typed only")
        review.add_steps(typed.session.id, "Step 1: typed, not generated.")
        typed_step = review.tree(typed.session.id).shown_path()[1].id
        with pytest.raises(BadInputError, match="has no stored tokens"):
            drain(review.branch_at(typed_step, 0, "x"))
