"""Review queries for the keyboard flow: the next step to judge, flag triage, chain outcomes.

Read-only queries over a `Review` (and the two small mutations they lead to), run on the
worker by the window and usable headless. One rule everywhere: a label belongs to the version
it was given on, so a step rewritten after its label is unlabelled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workstation.errors import BadInputError

if TYPE_CHECKING:
    from workstation.core.history import Applied
    from workstation.core.model import Node
    from workstation.core.tree import Tree
    from workstation.review import Review

#: What `next_step` looks for.
WANTS = ("unlabelled", "flagged")


@dataclass(frozen=True)
class Found:
    """A step found by a query: its session and node."""

    session_id: str
    node_id: str


@dataclass(frozen=True)
class TriageItem:
    """One warning flag on the current version of a step that the reviewer has not labelled."""

    session_id: str
    session_title: str
    node_id: str
    position: int
    check: str
    message: str
    text: str


def labelled_by(tree: Tree, node: Node, reviewer_id: str) -> int | None:
    """The reviewer's label on the node's current version (None: not labelled on this version)."""
    mine = tree.current_annotations(node.id).get(reviewer_id)
    if mine is None or mine.version_id != node.current_version_id:
        return None
    return mine.label


def _reviewable(tree: Tree) -> list[Node]:
    """The steps of the branch shown, in order (the question takes no label)."""
    return [n for n in tree.shown_path() if n.kind != "question"]


def _warnings(node: Node) -> list[tuple[str, str]]:
    return [(f.check, f.message) for f in node.current.flags if f.severity == "warning"]


def _wanted(tree: Tree, node: Node, want: str, reviewer_id: str) -> bool:
    if want == "unlabelled":
        return labelled_by(tree, node, reviewer_id) is None
    return bool(_warnings(node))


def next_step(review: Review, session_id: str | None, after_node_id: str | None, want: str) -> Found | None:
    """The next step after `after_node_id` on the session's shown branch that is unlabelled (by
    this reviewer, on its current version) or carries a warning flag; else the first such step
    of the sessions that follow in the list, wrapping round to the start of this one."""
    if want not in WANTS:
        raise BadInputError(f"want must be one of {', '.join(WANTS)}, not {want!r}")
    rid = review.reviewer.id
    order = [s.id for s in review.sessions()]
    if session_id in order:
        start = order.index(session_id)
        order = order[start:] + order[:start]
    elif session_id is not None:
        order.insert(0, session_id)
    for turn, sid in enumerate(order):
        tree = review.tree(sid)
        steps = _reviewable(tree)
        if turn == 0 and after_node_id is not None:
            ids = [n.id for n in steps]
            steps = steps[ids.index(after_node_id) + 1:] if after_node_id in ids else steps
        for node in steps:
            if _wanted(tree, node, want, rid):
                return Found(sid, node.id)
    if session_id is not None and after_node_id is not None:  # the start of this session, last
        tree = review.tree(session_id)
        for node in _reviewable(tree):
            if node.id == after_node_id:
                break
            if _wanted(tree, node, want, rid):
                return Found(session_id, node.id)
    return None


def triage_queue(review: Review, limit: int = 500) -> list[TriageItem]:
    """Warning flags (arithmetic, code, low confidence, repetition) on steps of the shown
    branches that this reviewer has not labelled yet, session by session, at most `limit`."""
    rid = review.reviewer.id
    items: list[TriageItem] = []
    for summary in review.sessions():
        tree = review.tree(summary.id)
        for node in _reviewable(tree):
            if labelled_by(tree, node, rid) is not None:
                continue
            for check, message in _warnings(node):
                items.append(TriageItem(summary.id, summary.title, node.id, node.position, check, message,
                                        node.text))
                if len(items) >= limit:
                    return items
    return items


def confirm_flag(review: Review, node_id: str, check: str, message: str) -> Applied:
    """Confirm a flag: label the step wrong, tagged with the check, its message as the critique
    (what Regenerate with note sends the model)."""
    return review.annotate(node_id, -1, message, (check,), None)


def chain_outcome(review: Review, node_id: str) -> tuple[str, str | None]:
    """The chain a step belongs to and the outcome set on it (None: none yet)."""
    from workstation.core.ops.outcomes import ChainOutcomeSet
    from workstation.exchange.corpus import outcomes_from_events

    tree, full_id = review.locate(node_id)
    chain_id = tree.node(full_id).chain_id
    if chain_id is None:
        raise BadInputError("the question belongs to no chain; select a step to set its chain's outcome")
    events = [e.to_dict() for e in review.store.events(tree.session.id, types=(ChainOutcomeSet.type,))]
    return chain_id, outcomes_from_events(events).get(chain_id)


def toggle_outcome(review: Review, node_id: str, outcome: str) -> str | None:
    """Set the outcome of the step's chain, or clear it when it is already that (undoable);
    returns the outcome now set."""
    from workstation.core.ops.outcomes import CHAIN_OUTCOMES, ChainOutcomeSet

    if outcome not in CHAIN_OUTCOMES:
        raise BadInputError(f"a chain outcome must be one of {', '.join(CHAIN_OUTCOMES)}, not {outcome!r}")
    chain_id, current = chain_outcome(review, node_id)
    new = None if current == outcome else outcome
    tree, _ = review.locate(node_id)
    review.store.apply(tree.session.id, ChainOutcomeSet(chain_id, new, current), review.reviewer)
    return new


def reveal(review: Review, node_id: str) -> bool:
    """Show the branches that lead to a step (a search hit on a hidden alternative); returns
    whether anything changed. Navigation only: nothing goes on the undo stack."""
    tree, full_id = review.locate(node_id)
    path: list[str] = []
    current: str | None = full_id
    while current is not None:
        path.append(current)
        current = tree.node(current).parent_id
    changed = False
    for nid in reversed(path):
        tree = review.tree(tree.session.id)
        node = tree.node(nid)
        if node.kind not in ("step", "answer") or node.deleted:
            continue
        if nid not in {n.id for n in tree.shown_path()}:
            review.show(nid)
            changed = True
    return changed
