"""The step_tokens table: tokens split per step by where they start, kept and read back exactly."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from workstation.store import Store
from workstation.store.tokens import StepToken, VersionTokens, split_tokens


def tok(text: str, logprob: float = -0.5) -> StepToken:
    return StepToken(text, logprob, ((text, logprob), ("x", logprob - 1)))


def test_split_tokens_by_where_each_starts() -> None:
    tokens = [tok("Step"), tok(" 1"), tok(".\n"), tok("\nSt"), tok("ep"), tok(" 2")]
    # "Step 1.\n" | "\nStep 2": the token "\nSt" starts in step 1's span and belongs to it.
    text = "".join(t.text for t in tokens)
    spans = [(0, 9), (9, len(text))]
    first, second = split_tokens(tokens, spans)
    assert [t.text for t in first.tokens] == ["Step", " 1", ".\n", "\nSt"]
    assert [t.text for t in second.tokens] == ["ep", " 2"]
    # The second step's own tokens begin two characters into its span ("St" went with step 1).
    assert second.offset == 2 and first.offset == 0
    assert second.starts() == [2, 4]


@given(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=30), st.data())
def test_split_tokens_keeps_every_token_once_in_order(texts: list[str], data: st.DataObject) -> None:
    tokens = [tok(t) for t in texts]
    total = sum(len(t) for t in texts)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, total - 1)), max_size=5))))
    bounds = [0, *[c for c in cuts if 0 < c < total], total]
    spans = list(zip(bounds, bounds[1:], strict=False))
    held = split_tokens(tokens, spans)
    assert [t for h in held for t in h.tokens] == tokens
    starts = [sum(len(t) for t in texts[:i]) for i in range(len(texts))]
    first = 0
    for (start, _end), h in zip(spans, held, strict=True):
        # Each step's tokens sit where its offset says, and start inside its span (or the last).
        assert [start + s for s in h.starts()] == starts[first:first + len(h.tokens)]
        first += len(h.tokens)


def test_tokens_round_trip(tmp_path: Path) -> None:
    held = {
        "v1": VersionTokens(0, (StepToken("Hé", -0.25, (("Hé", -0.25), ("<b>", -3.5))), StepToken("\n", -math.inf))),
        "v2": VersionTokens(3, (tok(" 42"),)),
    }
    with Store.open(tmp_path / "t.duckdb") as store:
        store.save_tokens("s1", held)
        assert store.tokens(["v1", "v2", "missing"]).keys() == {"v1", "v2"}
    with Store.open(tmp_path / "t.duckdb", read_only=True) as store:
        back = store.tokens(["v2", "v1"])
    assert back["v2"].offset == 3
    assert back["v1"].tokens[0].text == "Hé" and back["v1"].tokens[0].top[1][0] == "<b>"
    # float32: a few digits, as the token view shows them.
    assert math.isclose(back["v2"].tokens[0].logprob, -0.5, rel_tol=1e-6)
    assert back["v1"].tokens[1].logprob == -math.inf and back["v1"].tokens[1].to_dict()["logprob"] is None
