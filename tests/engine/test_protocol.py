"""The Engine protocol: the local engine satisfies it, and another engine plugs into the review
layer through it alone (what the server engine will do)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from workstation import settings
from workstation.core.model import Reviewer
from workstation.engine import prompt as prompt_module
from workstation.engine.events import FinishEvent, GenerationEvent, SamplingParams, TokenEvent
from workstation.engine.protocol import ChatMessage, Engine, Prompt
from workstation.review import Review, drain
from workstation.store.store import Store

REPLY = "Step 1: 60 km in 1.5 hours.\n\nStep 2: 60 / 1.5 = 40.\n\nAnswer: 40 km/h"


@pytest.mark.model
def test_llama_engine_is_an_engine(engine: object) -> None:
    from workstation.engine.llama_engine import LlamaEngine

    assert isinstance(engine, LlamaEngine)
    # Statically, `Review.load_model` assigns a LlamaEngine to an `Engine` variable, so mypy
    # checks every member's signature; at run time the protocol checks the members are there.
    assert isinstance(engine, Engine)
    assert engine.n_gpu_layers in (0, -1) or engine.n_gpu_layers > 0
    assert len(engine.file_sha256()) == 64


def test_prompt_is_one_type_wherever_it_is_imported() -> None:
    assert prompt_module.Prompt is Prompt


@dataclass(frozen=True)
class _Info:
    path: Path
    file_size: int


class CannedEngine:
    """An engine with no model: it answers every prompt with REPLY, one word per token."""

    def __init__(self) -> None:
        self.info = _Info(Path("/served/canned-model"), 0)
        self.n_ctx = 4096
        self.n_gpu_layers = 3
        self.notices: list[str] = []
        self.closed = False
        self.checked = 0

    def build_prompt(self, messages: Sequence[ChatMessage], continuation: Sequence[str] = ()) -> Prompt:
        head = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
        return self.extend_prompt(Prompt(tuple(range(len(head.split()))), (len(head.split()),), head), continuation)

    def extend_prompt(self, prompt: Prompt, pieces: Sequence[str]) -> Prompt:
        text = prompt.text + "".join(pieces)
        return Prompt(tuple(range(len(text.split()))), prompt.boundaries, text, prompt.pieces + tuple(pieces))

    def check_fits(self, prompt: Prompt, max_tokens: int) -> None:
        assert len(prompt.tokens) + max_tokens <= self.n_ctx

    def generate(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), stop: threading.Event | None = None
    ) -> Iterator[GenerationEvent]:
        words = REPLY.split(" ")
        for i, word in enumerate(words):
            yield TokenEvent(word if i == 0 else " " + word, i, -0.1)
        yield FinishEvent("stop", len(prompt), len(prompt), len(words), 0.01, 100.0, REPLY, tuple(range(len(words))), (-0.1,) * len(words))

    def check_file(self) -> None:
        self.checked += 1

    def file_sha256(self) -> str:
        return "c" * 64

    def close(self) -> None:
        self.closed = True


def test_another_engine_plugs_into_the_review_layer(tmp_path: Path) -> None:
    canned = CannedEngine()
    assert isinstance(canned, Engine)
    review = Review(Store.open(tmp_path / "r.duckdb"), Reviewer("ana", "annotator"), engine=canned, values=settings.defaults())
    try:
        first = drain(review.generate("A train travels 60 km in 1.5 hours. What is its speed?"))
        second = drain(review.regenerate(first.node_ids[1]))
        tree = review.tree(first.session_id)
        assert [tree.node(n).text for n in first.node_ids] == [
            "Step 1: 60 km in 1.5 hours.", "Step 2: 60 / 1.5 = 40.", "Answer: 40 km/h",
        ]
        assert tree.chain(tree.node(first.node_ids[0]).chain_id).model == "canned-model"
        generation = review.store.generation(tree.node(first.node_ids[0]).chain_id)
        assert generation is not None
        assert generation.model_sha256 == "c" * 64
        assert generation.extra == {"n_ctx": 4096, "n_gpu_layers": 3}
        # The hash is read once; later generations ask the engine to check its model instead.
        assert second.generation is not None and second.generation.model_sha256 == "c" * 64
        assert canned.checked == 1
    finally:
        review.close()
    assert canned.closed and review.engine is None
