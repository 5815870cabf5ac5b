"""Operations for store tests, made from the core's model classes directly.

The store must persist whatever the core hands it, so these build realistic operations
(chains with flags and confidences, rewrites, challenges, replies) without an engine.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from workstation.core import ids
from workstation.core.model import Annotation, Chain, Flag, Node, Reviewer, Session, Version
from workstation.core.ops import (
    Annotated,
    ChallengeAnswered,
    ChallengeAsked,
    SessionStarted,
    StepRewritten,
    StepsAdded,
)
from workstation.core.tree import Tree
from workstation.store.records import Generation

ADA = Reviewer("ada", "expert", "Ada")
BO = Reviewer("bo", "annotator", "Bo")

_clock = itertools.count()
_EPOCH = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at() -> str:
    """A distinct ISO time for every call (ids are hashed from times)."""
    return (_EPOCH + timedelta(microseconds=next(_clock))).isoformat(timespec="microseconds")


def start(question: str = "What is 12 * 4?", reviewer: Reviewer = ADA) -> SessionStarted:
    """A new session on `question`."""
    when = at()
    sid = ids.session_id(question, reviewer.id, when)
    session = Session(sid, question[:40], question, "cot", "1", when, reviewer.id, reviewer.role)
    nid = ids.question_node_id(sid)
    version = Version(
        ids.version_id(nid, "reviewer", reviewer.id, when, question),
        nid, question, question, "reviewer", reviewer.id, reviewer.role, when,
    )  # fmt: skip
    return SessionStarted(session, Node(nid, sid, "question", None, None, 0, (version,), version.id))


def steps(
    tree: Tree,
    parent_id: str,
    texts: list[str],
    reviewer: Reviewer = ADA,
    model: str = "SmolLM2-135M-Instruct.Q4_1.gguf",
) -> StepsAdded:
    """A chain of model steps below `parent_id` (the last one an answer)."""
    when = at()
    raws = [t + "\n\n" for t in texts]
    raw_text = "".join(raws)
    parent = tree.node(parent_id)
    kind = "generate" if parent.kind == "question" else "regenerate"
    cid = ids.chain_id(tree.session.id, parent_id, raw_text, when)
    nodes = []
    previous = parent_id
    for i, (text, raw) in enumerate(zip(texts, raws)):
        position = parent.position + 1 + i
        nid = ids.node_id(cid, position, raw)
        flags = (Flag("arithmetic", "12 * 4 is 48, not 46", 0, 5),) if "46" in text else ()
        version = Version(
            ids.version_id(nid, "model", reviewer.id, when, raw),
            nid, text, raw, "model", reviewer.id, reviewer.role, when, flags,
            -0.25 - i / 100, 0.125, 7 + i,
        )  # fmt: skip
        node_kind = "answer" if i == len(texts) - 1 else "step"
        nodes.append(Node(nid, tree.session.id, node_kind, previous, cid, position, (version,), version.id))
        previous = nid
    chain = Chain(
        cid, tree.session.id, parent_id, kind, raw_text, "paragraphs", "1", "cot", "1",
        reviewer.id, reviewer.role, when, tuple(n.id for n in nodes), None, model, "stop",
    )  # fmt: skip
    return StepsAdded(chain, tuple(nodes))


def generation(op: StepsAdded) -> Generation:
    """An engine record for the chain `op` adds."""
    return Generation(
        op.chain.id, op.chain.model, 98_000_000, "ab" * 32,
        {"temperature": 0.7, "top_p": 0.95, "top_k": 40, "min_p": 0.05,
         "repeat_penalty": 1.1, "max_tokens": 512, "seed": 42},
        120, 30, 64, 0.28, 61.5, "stop",
        tuple({"n_tokens": 7, "mean_logprob": -0.25, "min_token_prob": 0.125} for _ in op.nodes),
    )  # fmt: skip


def annotate(
    tree: Tree,
    node_id: str,
    reviewer: Reviewer = ADA,
    label: int | None = 1,
    note: str = "",
    tags: tuple[str, ...] = (),
    severity: str | None = None,
) -> Annotated:
    """`reviewer`'s annotation of the node's current version."""
    node = tree.node(node_id)
    return Annotated(
        Annotation(
            ids.event_id(), tree.session.id, node.id, node.current_version_id, reviewer.id,
            reviewer.role, at(), label, note, tags, severity,
        )
    )  # fmt: skip


def rewrite(tree: Tree, node_id: str, text: str, reviewer: Reviewer = ADA) -> StepRewritten:
    """A reviewer's rewrite of a step."""
    when = at()
    version = Version(
        ids.version_id(node_id, "rewrite", reviewer.id, when, text),
        node_id, text, text, "rewrite", reviewer.id, reviewer.role, when,
    )  # fmt: skip
    return StepRewritten(node_id, version)


def challenge(tree: Tree, node_id: str, question: str = "Why?", reviewer: Reviewer = ADA) -> ChallengeAsked:
    """A challenge about a step."""
    node = tree.node(node_id)
    when = at()
    cid = ids.content_id("challenge", node.id, reviewer.id, when, question)
    version = Version(
        ids.version_id(cid, "reviewer", reviewer.id, when, question),
        cid, question, question, "reviewer", reviewer.id, reviewer.role, when,
    )  # fmt: skip
    return ChallengeAsked(Node(cid, tree.session.id, "challenge", node.id, None, node.position, (version,), version.id))


def reply(tree: Tree, challenge_id: str, text: str, reviewer: Reviewer = ADA) -> ChallengeAnswered:
    """The model's reply to a challenge."""
    challenge_node = tree.node(challenge_id)
    when = at()
    cid = ids.chain_id(tree.session.id, challenge_id, text, when)
    nid = ids.node_id(cid, challenge_node.position, text)
    version = Version(
        ids.version_id(nid, "model", reviewer.id, when, text),
        nid, text, text, "model", reviewer.id, reviewer.role, when,
    )  # fmt: skip
    node = Node(nid, tree.session.id, "reply", challenge_id, cid, challenge_node.position, (version,), version.id)
    chain = Chain(
        cid, tree.session.id, challenge_id, "challenge", text, "whole", "1", "cot", "1",
        reviewer.id, reviewer.role, when, (nid,), None, "SmolLM2-135M-Instruct.Q4_1.gguf", "stop",
    )  # fmt: skip
    return ChallengeAnswered(chain, (node,))
