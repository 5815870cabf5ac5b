"""Builders of operations: they make the ids, versions and flags so that callers need not.

Each builder reads the tree (never changes it) and returns an operation to pass to
`History.apply`. The use cases in `workstation.review` call these with what the user and the
engine supplied; the operation's own check still runs when it is applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from workstation.core import ids
from workstation.core.checks import EarlierSteps, StepConfidence, run_checks
from workstation.core.model import Annotation, Chain, Node, Reviewer, Session, Version, now_iso
from workstation.core.ops import (
    Adjudicated,
    Annotated,
    BranchDeleted,
    BranchPreferred,
    BranchShown,
    ChallengeAnswered,
    ChallengeAsked,
    SessionStarted,
    StepRewritten,
    StepsAdded,
)
from workstation.core.splitter import SPLITTER_NAME, SPLITTER_VERSION, Step, display_text
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
from workstation.errors import BadInputError

#: Recorded as the "splitter" of a challenge reply: a reply stays one node, not split into steps.
REPLY_SPLITTER = ("whole", "1")


def start_session(
    question: str,
    template_name: str,
    template_version: str,
    reviewer: Reviewer,
    title: str | None = None,
    at: str | None = None,
) -> SessionStarted:
    """The first event of a new session on `question` (title: the question's first line)."""
    if not question.strip():
        raise BadInputError("the question is empty")
    at = at or now_iso()
    session_id = ids.session_id(question, reviewer.id, at)
    if title is None or not title.strip():
        first_line = question.strip().splitlines()[0]
        title = first_line if len(first_line) <= 80 else first_line[:79] + "…"
    session = Session(session_id, title, question, template_name, template_version, at, reviewer.id, reviewer.role)
    node_id = ids.question_node_id(session_id)
    version = Version(
        ids.version_id(node_id, "reviewer", reviewer.id, at, question),
        node_id, question, question, "reviewer", reviewer.id, reviewer.role, at,
    )
    question_node = Node(node_id, session_id, "question", None, None, 0, (version,), version.id)
    return SessionStarted(session, question_node)


def steps_added(
    tree: Tree,
    parent_id: str,
    raw_text: str,
    steps: Sequence[Step],
    reviewer: Reviewer,
    template_name: str,
    template_version: str,
    *,
    critique: str | None = None,
    model: str = "",
    finish_reason: str = "",
    confidences: Sequence[object] | None = None,
    splitter_name: str = SPLITTER_NAME,
    splitter_version: str = SPLITTER_VERSION,
    show: bool = True,
    at: str | None = None,
) -> StepsAdded:
    """A generation's steps as an operation, with automated checks run on every step.

    `parent_id` is the question for a first generation, or the step before the one
    regenerated from (that is `regenerate_parent(tree, step_id)`). `steps` must be the split
    of `raw_text`. `confidences` has one entry per step (None where unknown): core's
    StepConfidence or the engine's (anything with mean_logprob, min_token_prob and token_count
    or n_tokens).
    """
    parent = tree.live_node(parent_id)
    if "".join(s.raw for s in steps) != raw_text:
        raise ValueError("the steps are not a split of raw_text")  # a bug in the caller
    at = at or now_iso()
    # Only the session's first chain is a "generate"; a new first step is a regeneration of step 1.
    first = parent.kind == "question" and not tree.children(parent_id, CHAIN_NODE_KINDS, include_deleted=True)
    kind = "generate" if first else "regenerate"
    chain_id = ids.chain_id(tree.session.id, parent_id, raw_text, at)
    earlier = EarlierSteps(n.text for n in tree.steps_to(parent_id)) if parent.kind != "question" else EarlierSteps()
    nodes: list[Node] = []
    previous = parent_id
    for i, step in enumerate(steps):
        confidence = _confidence(confidences[i] if confidences is not None and i < len(confidences) else None)
        position = parent.position + 1 + i
        node_id = ids.node_id(chain_id, position, step.raw)
        flags = run_checks(
            step.text,
            mean_logprob=confidence.mean_logprob,
            min_token_prob=confidence.min_token_prob,
            previous_steps=earlier,
        )
        version = Version(
            ids.version_id(node_id, "model", reviewer.id, at, step.raw),
            node_id, step.text, step.raw, "model", reviewer.id, reviewer.role, at, tuple(flags),
            confidence.mean_logprob, confidence.min_token_prob, confidence.token_count,
        )
        node_kind = "answer" if step.kind == "answer" else "step"
        nodes.append(Node(node_id, tree.session.id, node_kind, previous, chain_id, position, (version,), version.id))
        earlier.add(step.text)
        previous = node_id
    chain = Chain(
        chain_id, tree.session.id, parent_id, kind, raw_text, splitter_name, splitter_version,
        template_name, template_version, reviewer.id, reviewer.role, at,
        tuple(n.id for n in nodes), critique, model, finish_reason,
    )
    return StepsAdded(chain, tuple(nodes), show)


def _confidence(value: object) -> StepConfidence:
    # Accepts core's StepConfidence or anything shaped like it, such as the engine's own
    # (which calls the count `n_tokens`), so the use cases pass the engine's numbers straight on.
    if value is None:
        return StepConfidence()
    count = getattr(value, "token_count", None)
    if count is None:
        count = getattr(value, "n_tokens", None)
    return StepConfidence(getattr(value, "mean_logprob", None), getattr(value, "min_token_prob", None), count)


def regenerate_parent(tree: Tree, node_id: str) -> str:
    """The node a regeneration from step `node_id` continues from (the step before it)."""
    node = tree.live_node(node_id)
    if node.kind not in CHAIN_NODE_KINDS:
        raise BadInputError(f"only steps and answers can be regenerated from, not a {node.kind}")
    assert node.parent_id is not None
    return node.parent_id


def critique_from_notes(tree: Tree, node_id: str, reviewer_id: str | None = None) -> str | None:
    """The latest note on a step (by `reviewer_id`, or by anyone): the default critique when
    regenerating "with my critique". None when there is no note."""
    for annotation in reversed(tree.annotations_for(node_id)):
        if annotation.note and (reviewer_id is None or annotation.reviewer_id == reviewer_id):
            return annotation.note
    return None


def rewrite(tree: Tree, node_id: str, text: str, reviewer: Reviewer, at: str | None = None) -> StepRewritten:
    """A reviewer's rewrite of a step (checks run on the new text)."""
    node = tree.live_node(node_id)
    text = text.strip()
    if not text:
        raise BadInputError("a rewrite must not be empty")
    if text == node.text:
        raise BadInputError("the rewrite is the same as the current text")
    at = at or now_iso()
    earlier = [n.text for n in tree.steps_to(node_id)[:-1]] if node.kind in CHAIN_NODE_KINDS else []
    version = Version(
        ids.version_id(node.id, "rewrite", reviewer.id, at, text),
        node.id, text, text, "rewrite", reviewer.id, reviewer.role, at,
        tuple(run_checks(text, previous_steps=earlier)),
    )
    return StepRewritten(node.id, version)


def annotate(
    tree: Tree,
    node_id: str,
    reviewer: Reviewer,
    label: int | None = None,
    note: str = "",
    tags: Sequence[str] = (),
    severity: str | None = None,
    version_id: str | None = None,
    at: str | None = None,
) -> Annotated:
    """An annotation by `reviewer` on the node's current version (or `version_id`)."""
    node = tree.live_node(node_id)
    return Annotated(_annotation(tree, node, reviewer, label, note, tags, severity, version_id, at))


def adjudicate(
    tree: Tree,
    node_id: str,
    reviewer: Reviewer,
    label: int | None,
    reason: str,
    settles: Sequence[str] = (),
    at: str | None = None,
) -> Adjudicated:
    """An expert's or ethics reviewer's decision between others' annotations, with a reason."""
    node = tree.live_node(node_id)
    annotation = _annotation(tree, node, reviewer, label, reason, (), None, None, at)
    return Adjudicated(annotation, tuple(settles))


def _annotation(
    tree: Tree, node: Node, reviewer: Reviewer, label: int | None, note: str,
    tags: Sequence[str], severity: str | None, version_id: str | None, at: str | None,
) -> Annotation:
    if label is not None and (isinstance(label, bool) or label not in (-1, 0, 1)):
        raise BadInputError(f"a label must be -1, 0 or 1, not {label!r}")
    clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    return Annotation(
        ids.event_id(), tree.session.id, node.id, version_id or node.current_version_id,
        reviewer.id, reviewer.role, at or now_iso(), label, note.strip(), clean_tags, severity,
    )


def ask_challenge(tree: Tree, node_id: str, question: str, reviewer: Reviewer, at: str | None = None) -> ChallengeAsked:
    """A reviewer's challenge ("why?" or their own question) about step `node_id`."""
    node = tree.live_node(node_id)
    question = question.strip()
    if not question:
        raise BadInputError("a challenge needs a question")
    at = at or now_iso()
    challenge_id = ids.content_id("challenge", node.id, reviewer.id, at, question)
    version = Version(
        ids.version_id(challenge_id, "reviewer", reviewer.id, at, question),
        challenge_id, question, question, "reviewer", reviewer.id, reviewer.role, at,
    )
    challenge = Node(challenge_id, tree.session.id, "challenge", node.id, None, node.position, (version,), version.id)
    return ChallengeAsked(challenge)


def challenge_answered(
    tree: Tree,
    challenge_id: str,
    raw_text: str,
    reviewer: Reviewer,
    template_name: str,
    template_version: str,
    *,
    model: str = "",
    finish_reason: str = "",
    confidence: object = None,
    at: str | None = None,
) -> ChallengeAnswered:
    """The model's reply to a challenge: one reply node holding the whole answer."""
    challenge = tree.live_node(challenge_id)
    at = at or now_iso()
    chain_id = ids.chain_id(tree.session.id, challenge.id, raw_text, at)
    node_id = ids.node_id(chain_id, challenge.position, raw_text)
    confidence = _confidence(confidence)
    text = display_text(raw_text)
    version = Version(
        ids.version_id(node_id, "model", reviewer.id, at, raw_text),
        node_id, text, raw_text, "model", reviewer.id, reviewer.role, at,
        tuple(run_checks(text, mean_logprob=confidence.mean_logprob, min_token_prob=confidence.min_token_prob)),
        confidence.mean_logprob, confidence.min_token_prob, confidence.token_count,
    )
    reply = Node(node_id, tree.session.id, "reply", challenge.id, chain_id, challenge.position, (version,), version.id)
    chain = Chain(
        chain_id, tree.session.id, challenge.id, "challenge", raw_text, *REPLY_SPLITTER,
        template_name, template_version, reviewer.id, reviewer.role, at, (node_id,), None, model, finish_reason,
    )
    return ChallengeAnswered(chain, (reply,))


def delete_branch(tree: Tree, node_id: str) -> BranchDeleted:
    """Delete (hide) the branch, challenge or reply starting at `node_id`."""
    tree.live_node(node_id)
    return BranchDeleted(node_id)


def prefer(tree: Tree, node_id: str) -> BranchPreferred:
    """Mark the branch starting at `node_id` as preferred among its alternatives."""
    return BranchPreferred.of(tree, node_id)


def show(tree: Tree, node_id: str) -> BranchShown:
    """Show the branch starting at `node_id` (navigation; not undoable)."""
    return BranchShown.of(tree, node_id)
