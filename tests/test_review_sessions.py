"""Deleting and restoring sessions through `Review`, without a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.errors import BadInputError
from workstation.review import Review


def test_delete_session_hides_it_and_restore_or_undo_shows_it(tmp_path: Path) -> None:
    with Review.open(tmp_path / "review.duckdb") as review:
        kept = review.start("Is 7 prime?").session.id
        session_id = review.start("What is 12 * 4?").session.id
        review.add_steps(session_id, "Step 1: 12 * 4 = 48\n\nAnswer: 48")
        assert {s.id for s in review.sessions()} == {kept, session_id}

        deleted = review.delete_session(session_id)
        assert deleted.event.type == "session_deleted"
        assert deleted.event.reviewer_id == review.reviewer.id and deleted.event.at
        assert [s.id for s in review.sessions()] == [kept]
        assert {s.id for s in review.sessions(include_deleted=True)} == {kept, session_id}
        assert review.search(text="12 * 4") == []
        assert review.tree(session_id).session.deleted
        with pytest.raises(BadInputError, match="already deleted"):
            review.delete_session(session_id)

        review.undo(session_id)
        assert {s.id for s in review.sessions()} == {kept, session_id}
        assert review.search(text="12 * 4")
        review.redo(session_id)
        assert [s.id for s in review.sessions()] == [kept]

        restored = review.restore_session(session_id)
        assert restored.event.type == "session_restored"
        assert not review.tree(session_id).session.deleted
        with pytest.raises(BadInputError, match="not deleted"):
            review.restore_session(session_id)
        # The audit trail keeps every step of it.
        types = [e.type for e in review.store.events(session_id)]
        assert types[-4:] == ["session_deleted", "session_restored", "session_deleted", "session_restored"]


def test_an_adjudication_is_one_undo_unit_of_its_session(tmp_path: Path) -> None:
    """Settled in the Team view or by `workstation adjudicate`: undone like any other action,
    through `Review.undo`, with nothing remembered by a window."""
    from workstation.core.model import Reviewer
    from workstation.review_exchange import Exchange

    path = tmp_path / "team.duckdb"
    with Review.open(path) as review:
        sid = review.start("What is 12 * 4?").session.id
        step = review.add_steps(sid, "Step 1: 12 * 4 = 46\n\nAnswer: 46").changes.nodes[0]
        for name, label in (("ana", -1), ("bo", 1)):
            review.reviewer = Reviewer(name)
            review.annotate(step, label)
        assert [d.node_id for d in Exchange(review).disagreements()] == [step]
        review.reviewer = Reviewer("eve", "expert")
        settled = Exchange(review).adjudicate(step, -1, "12 * 4 is 48, so 46 is wrong")
        assert Exchange(review).disagreements() == []
        assert review.store.history(sid).undo_description == "settle step 1 as wrong"
        (undone,) = review.undo(sid)
        assert undone.event.reverts == settled.event.id
        assert [d.node_id for d in Exchange(review).disagreements()] == [step]
        assert review.store.history(sid).undo_description == "label step 1 right"  # Bo's label
    with Review.open(path) as review:  # a new process redoes it from the event log
        (redone,) = review.redo(sid)
        assert redone.event.reverts == undone.event.id
        assert Exchange(review).disagreements() == []
