"""Reviews for exchange tests, built through the core's real builders and History.

Every change goes through `History.apply`, so each review also has its real event list, the
same events the store logs and bundles carry.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from workstation.core import build
from workstation.core.history import Event, History
from workstation.core.model import Reviewer
from workstation.core.ops import BranchPreferred, Operation
from workstation.core.splitter import split, splitter_version
from workstation.core.tree import Tree

LEAD = Reviewer("lead", "expert", "Lead")
ADA = Reviewer("ada", "annotator", "Ada")
BO = Reviewer("bo", "annotator", "Bo")
ETHICS = Reviewer("eve", "ethics_reviewer", "Eve")
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"

_clock = itertools.count()
_EPOCH = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def tick() -> str:
    """A distinct, increasing ISO time for every call."""
    return (_EPOCH + timedelta(milliseconds=next(_clock))).isoformat(timespec="microseconds")


class Review:
    """One session built step by step, with its events."""

    def __init__(self, question: str = "What is 12 * 4 + 2?", reviewer: Reviewer = LEAD) -> None:
        op = build.start_session(question, "cot", "1", reviewer, at=tick())
        self.history, applied = History.start(op, reviewer, at=tick())
        self.events: list[Event] = [applied.event]

    @property
    def tree(self) -> Tree:
        """The session's tree."""
        return self.history.tree

    def do(self, op: Operation, reviewer: Reviewer) -> Event:
        """Apply an operation as `reviewer` and keep its event."""
        event = self.history.apply(op, reviewer, at=tick()).event
        self.events.append(event)
        return event

    def generate(self, texts: list[str], parent_id: str | None = None, reviewer: Reviewer = LEAD,
                 model: str = MODEL) -> list[str]:
        """Model steps below `parent_id` (default: the question); returns their node ids."""
        raw = "".join(t + "\n\n" for t in texts)
        # Paragraph steps: one text, one step, whatever lines a text holds.
        op = build.steps_added(self.tree, parent_id or self.tree.question_id, raw, split(raw, "paragraphs"), reviewer,
                               "cot", "1", model=model, finish_reason="stop", at=tick(),
                               splitter_version=splitter_version("paragraphs"))
        self.do(op, reviewer)
        return [n.id for n in op.nodes]

    def label(self, node_id: str, reviewer: Reviewer, label: int | None, note: str = "",
              tags: tuple[str, ...] = (), severity: str | None = None) -> str:
        """`reviewer` annotates the node's current version; returns the annotation id."""
        op = build.annotate(self.tree, node_id, reviewer, label, note, tags, severity, at=tick())
        self.do(op, reviewer)
        return op.annotation.id

    def rewrite(self, node_id: str, text: str, reviewer: Reviewer = LEAD) -> None:
        """`reviewer` rewrites a step."""
        self.do(build.rewrite(self.tree, node_id, text, reviewer, at=tick()), reviewer)

    def prefer(self, node_id: str, reviewer: Reviewer = LEAD) -> None:
        """Mark the branch starting at `node_id` as preferred."""
        self.do(BranchPreferred.of(self.tree, node_id), reviewer)

    def challenge(self, node_id: str, question: str, reply: str, reviewer: Reviewer = LEAD) -> None:
        """Challenge a step and record the model's reply."""
        ask = build.ask_challenge(self.tree, node_id, question, reviewer, at=tick())
        self.do(ask, reviewer)
        self.do(build.challenge_answered(self.tree, ask.node.id, reply, reviewer, "cot", "1", model=MODEL,
                                         at=tick()), reviewer)

    def event_dicts(self) -> list[dict[str, Any]]:
        """The events as dicts, oldest first."""
        return [e.to_dict() for e in self.events]


def rich_review() -> tuple[Review, dict[str, str]]:
    """A session with two reviewers' labels, a rewrite, a regenerated branch (preferred), a
    challenge, tags, a code step and HTML in the model's text. Returns it and named node ids."""
    r = Review("What is 12 * 4 + 2? Show <b>work</b>.")
    s1, s2, s3, s4 = r.generate([
        "Step 1: 12 * 4 = 46",
        "Step 2: 46 + 2 = 48 <script>alert(1)</script>",
        "Step 3: check with code\n\n```python\nprint(12 * 4 + 2)\n```",
        "Answer: 48",
    ])
    r.label(s1, ADA, -1, note="12 * 4 is 48", tags=("arithmetic error",), severity="major")
    r.label(s1, BO, 0, tags=("arithmetic error",))
    r.label(s2, ADA, -1)
    r.label(s2, BO, -1)
    r.rewrite(s1, "Step 1: 12 * 4 = 48", ADA)
    r.label(s1, ADA, 1)
    r.label(s1, BO, 1)
    r.challenge(s2, "Why add 2?", "Because the question says + 2.")
    t2, t3, t4 = r.generate(["Step 2: 48 + 2 = 50", "Step 3: so the total is 50", "Answer: 50"], parent_id=s1)
    r.prefer(t2)
    r.label(t2, ADA, 1)
    r.label(t2, BO, 1)
    r.label(t3, ADA, 1)
    r.label(t3, BO, 0)
    r.label(t4, ADA, 1)
    r.label(t4, BO, 1)
    return r, {"s1": s1, "s2": s2, "s3": s3, "s4": s4, "t2": t2, "t3": t3, "t4": t4}
