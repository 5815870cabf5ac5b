"""Fixtures for the core tests: a reviewer and a session with one generated chain."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from workstation.core import build
from workstation.core.history import Applied, History
from workstation.core.model import Reviewer
from workstation.core.splitter import split

RAW = "Step 1: 12 * 4 = 46\n\nStep 2: Then add 2 to get 48.\n\nAnswer: 48"


@dataclass
class Sample:
    """A history with one chain of two steps and an answer, and the events so far."""

    history: History
    reviewer: Reviewer
    events: list[Applied]

    @property
    def tree(self):  # noqa: ANN201 - a test helper
        return self.history.tree

    def steps(self):  # noqa: ANN201
        return self.tree.shown_path()[1:]

    def do(self, op):  # noqa: ANN001, ANN201
        applied = self.history.apply(op, self.reviewer)
        self.events.append(applied)
        return applied

    def generate(self, parent_id: str, raw: str, critique: str | None = None):  # noqa: ANN201
        op = build.steps_added(
            self.tree, parent_id, raw, split(raw), self.reviewer, "chain-of-thought", "1", critique=critique
        )
        return self.do(op)


@pytest.fixture
def alice() -> Reviewer:
    return Reviewer("alice", "annotator", "Alice")


@pytest.fixture
def sample(alice: Reviewer) -> Sample:
    op = build.start_session("What is 12 * 4 + 2?", "chain-of-thought", "1", alice, at="2026-11-27T10:00:00+00:00")
    history, first = History.start(op, alice)
    s = Sample(history, alice, [first])
    s.generate(history.tree.question_id, RAW)
    return s
