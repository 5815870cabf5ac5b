"""Undo units in the store: a challenge's question and answer are undone and redone together,
in one transaction, also in a new process and when the answer comes after a reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from workstation.core.history import History
from workstation.store import DiskFullError, Store, writer

from . import factory as f
from .factory import ADA, BO


def _challenged(store: Store) -> tuple[str, str, str, str]:
    """A session whose step 2 is challenged, with Bo's label on step 1 committed between the
    question and the answer; returns (session, challenge, reply, label annotation) ids."""
    sid = store.start_session(f.start(), ADA).event.session_id
    tree = store.history(sid).tree
    chain = f.steps(tree, tree.question_id, ["12 * 4 = 46", "So 46", "Answer: 46"])
    store.apply(sid, chain, ADA)
    s1, s2 = chain.chain.node_ids[:2]
    ask = f.challenge(tree, s2, "Why 46?")
    store.apply(sid, ask, ADA)
    label = f.annotate(tree, s1, BO, -1)
    store.apply(sid, label, BO)
    answer = f.reply(tree, ask.node.id, "Because 12 * 4 = 46.")
    store.apply(sid, answer, ADA)
    return sid, ask.node.id, answer.nodes[0].id, label.annotation.id


def test_undo_of_a_challenge_reverses_question_and_answer_and_keeps_the_label(tmp_path: Path) -> None:
    path = tmp_path / "units.duckdb"
    with Store.open(path) as store:
        sid, challenge, reply, label = _challenged(store)
        assert store.history(sid).undo_description == "challenge step 2"
        count = store.verify_events()
        undone = store.undo(sid, ADA)
        assert [a.event.type for a in undone] == ["branch_deleted", "branch_deleted"]
        events = store.events(sid)
        assert [e.id for e in events[-2:]] == [a.event.id for a in undone]
        assert events[-2].reverts == events[-3].id  # the answer first
        assert store.verify_events() == count + 2
        tree = store.load_session(sid)
        assert tree.node(challenge).deleted and tree.node(reply).deleted
        assert not tree.annotations[label].retracted
        assert store.history(sid).undo_description == "label step 1 wrong"
    with Store.open(path) as store:  # a new process: the units come from the event log
        redone = store.redo(sid, BO)
        assert [a.event.reverts for a in redone] == [a.event.id for a in reversed(undone)]
        tree = store.load_session(sid)
        assert not tree.node(challenge).deleted and not tree.node(reply).deleted
        assert store.history(sid).undo_description == "challenge step 2"
    with Store.open(path) as store:
        assert len(store.undo(sid, ADA)) == 2
        assert store.load_session(sid).to_dict() == History.replay(store.events(sid)).tree.to_dict()


def test_an_answer_committed_after_reopening_joins_its_question(tmp_path: Path) -> None:
    path = tmp_path / "late.duckdb"
    with Store.open(path) as store:
        sid = store.start_session(f.start(), ADA).event.session_id
        tree = store.history(sid).tree
        chain = f.steps(tree, tree.question_id, ["12 * 4 = 46", "Answer: 46"])
        store.apply(sid, chain, ADA)
        ask = f.challenge(tree, chain.chain.node_ids[0])
        store.apply(sid, ask, ADA)
    with Store.open(path) as store:  # opened from the tables: the question's unit is in the log
        tree = store.history(sid).tree
        store.apply(sid, f.reply(tree, ask.node.id, "Because."), ADA)
        history = store.history(sid)
        assert history.undo_description == "challenge step 1"
        assert [u.description for u in history.undo_stack] == ["generate", "challenge step 1"]
        assert len(store.undo(sid, ADA)) == 2


def test_a_unit_whose_writing_fails_writes_none_of_its_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fail.duckdb"
    with Store.open(path) as store:
        sid, challenge, reply, _ = _challenged(store)
        count = store.verify_events()
        before = store.load_session(sid).to_dict()

        def disk_full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        # The undo's two events are written first in its transaction; then its rows fail.
        with monkeypatch.context() as patched:
            patched.setattr(writer, "write_changes", disk_full)
            with pytest.raises(DiskFullError):
                store.undo(sid, ADA)
    with Store.open(path) as store:
        assert store.verify_events() == count
        assert store.load_session(sid).to_dict() == before
        # The undo is still there to do, whole.
        assert not store.history(sid).tree.node(challenge).deleted
        undone = store.undo(sid, ADA)
        assert len(undone) == 2 and store.load_session(sid).node(reply).deleted
