"""The review use cases end to end: the real default model, a real DuckDB file."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from workstation import paths
from workstation.core import prompts
from workstation.engine.errors import ContextOverflowError
from workstation.engine.events import SamplingParams
from workstation.errors import BadInputError
from workstation.review import Finished, NoModelError, Review, Streaming, drain

pytestmark = pytest.mark.model

QUESTION = "A train travels 60 km in 1.5 hours. What is its average speed?"


def params(seed: int = 1, max_tokens: int = 96) -> SamplingParams:
    return SamplingParams(seed=seed, max_tokens=max_tokens)


@pytest.fixture
def review(tmp_path: Path, default_model_path: Path):
    r = Review.open(tmp_path / "review.duckdb")
    r.load_model(default_model_path, n_threads=2)
    yield r
    r.close()


def chain_steps(review: Review, finished: Finished) -> list:
    tree = review.tree(finished.session_id)
    return [tree.node(node_id) for node_id in finished.node_ids]


def test_generate_streams_then_commits_what_it_streamed(review: Review, default_model_path: Path) -> None:
    items = list(review.generate(QUESTION, sampling=params(max_tokens=160)))
    streamed = [i for i in items if isinstance(i, Streaming)]
    finished = items[-1]
    assert isinstance(finished, Finished) and len(streamed) > 10
    assert {i.session_id for i in streamed} == {finished.session_id}  # the new session, named from the start
    tree = review.tree(finished.session_id)
    chain = tree.chain(tree.node(finished.node_ids[0]).chain_id)
    assert "".join(s.text for s in streamed) == streamed[-1].raw == chain.raw_text
    assert len(finished.node_ids) >= 2
    assert tree.session.question == QUESTION
    generation = review.store.generation(chain.id)
    assert generation is not None
    assert generation.model_sha256 == hashlib.sha256(default_model_path.read_bytes()).hexdigest()
    assert generation.sampling["seed"] == 1 and generation.completion_tokens == finished.finish.completion_tokens
    assert len(generation.step_confidence) == len(finished.node_ids)
    assert all(tree.node(n).current.mean_logprob is not None for n in finished.node_ids)


def test_everything_survives_closing_the_database(tmp_path: Path, default_model_path: Path) -> None:
    with Review.open(tmp_path / "r.duckdb") as review:
        review.load_model(default_model_path, n_threads=2)
        finished = drain(review.generate(QUESTION, sampling=params()))
        first = finished.node_ids[0]
        review.annotate(first, -1, "wrong unit", ["arithmetic error"], "major")
        review.rewrite(first, "Average speed is distance over time: 60 / 1.5 = 40 km/h.")
        before = review.tree(finished.session_id).to_dict()
    with Review.open(tmp_path / "r.duckdb") as again:
        assert again.tree(finished.session_id).to_dict() == before


def test_empty_question_saves_nothing(review: Review) -> None:
    with pytest.raises(BadInputError, match="question is empty"):
        drain(review.generate("   ", sampling=params()))
    assert review.sessions() == []


def test_a_question_longer_than_the_context_is_refused_before_saving(tmp_path: Path, default_model_path: Path) -> None:
    with Review.open(tmp_path / "small.duckdb") as review:
        review.load_model(default_model_path, n_threads=2, n_ctx=256)
        with pytest.raises(ContextOverflowError, match="256"):
            drain(review.generate("why " * 400, sampling=params()))
        assert review.sessions() == []


def test_use_cases_need_a_model(tmp_path: Path) -> None:
    with Review.open(tmp_path / "nomodel.duckdb") as review:
        with pytest.raises(NoModelError, match="no model is loaded"):
            drain(review.generate(QUESTION))


def test_regenerate_with_critique_adds_an_alternative_and_reuses_the_prefix(review: Review) -> None:
    finished = drain(review.generate(QUESTION, sampling=params(max_tokens=160)))
    second = finished.node_ids[1]
    critique = "Divide the distance by the time."
    again = drain(review.regenerate(second, critique, sampling=params(seed=7, max_tokens=48)))
    tree = review.tree(finished.session_id)
    new_first = tree.node(again.node_ids[0])
    assert new_first.parent_id == tree.node(second).parent_id  # a sibling: an alternative of step 2
    assert {n.id for n in tree.alternatives(second)} == {second, new_first.id}
    assert tree.chain(new_first.chain_id).critique == critique
    assert tree.shown_child(new_first.parent_id).id == new_first.id
    # The same step again: the shared prefix is in the engine's cache, so little is evaluated.
    third = drain(review.regenerate(second, sampling=params(seed=8, max_tokens=16)))
    assert third.finish.prompt_tokens_evaluated < third.finish.prompt_tokens / 2


def test_regenerate_with_the_note_as_critique(review: Review) -> None:
    finished = drain(review.generate(QUESTION, sampling=params()))
    step = finished.node_ids[0]
    with pytest.raises(BadInputError, match="no note"):
        drain(review.regenerate(step, use_note=True, sampling=params(max_tokens=16)))
    review.annotate(step, -1, "Use speed = distance / time.")
    again = drain(review.regenerate(step, use_note=True, sampling=params(max_tokens=16)))
    tree = review.tree(finished.session_id)
    assert tree.chain(tree.node(again.node_ids[0]).chain_id).critique == "Use speed = distance / time."


def test_challenge_reply_hangs_off_the_step_and_stays_out_of_later_prompts(review: Review) -> None:
    finished = drain(review.generate(QUESTION, sampling=params(max_tokens=160)))
    first, second = finished.node_ids[:2]
    answer = drain(review.challenge(first, "Why that unit?", sampling=params(max_tokens=32)))
    tree = review.tree(finished.session_id)
    reply = tree.node(answer.node_ids[0])
    challenge = tree.node(reply.parent_id)
    assert reply.kind == "reply" and challenge.kind == "challenge" and challenge.parent_id == first
    assert challenge.text == "Why that unit?"
    assert reply.id not in {n.id for n in tree.shown_path()}
    later = prompts.regenerate_prompt(review.template(), tree, second)
    assert reply.text not in later.assistant_prefix + "".join(m["content"] for m in later.messages)


def test_stop_ends_the_generation_and_keeps_what_was_written(review: Review) -> None:
    stop = threading.Event()
    items = []
    for item in review.generate(QUESTION, sampling=params(max_tokens=400), stop=stop):
        items.append(item)
        if len(items) == 5:
            stop.set()
    finished = items[-1]
    assert isinstance(finished, Finished)
    assert finished.finish.finish_reason == "cancelled"
    assert finished.finish.completion_tokens <= 7  # within a token of the request


def test_a_session_without_steps_continues_from_the_question(review: Review) -> None:
    """What a generation killed before its first step leaves: the session and its question.
    Continuing after the question writes its first chain (a "generate", as if never stopped)."""
    tree = review.start(QUESTION)
    assert not tree.chains
    finished = drain(review.continue_after(tree.question_id, sampling=params()))
    tree = review.tree(finished.session_id)
    assert finished.session_id == tree.session.id and len(finished.node_ids) >= 1
    first = tree.node(finished.node_ids[0])
    assert first.parent_id == tree.question_id and first.position == 1
    assert tree.chain(first.chain_id).kind == "generate"
    # Again: another first chain beside it, as regenerating step 1 would give.
    again = drain(review.continue_after(tree.question_id, sampling=params(seed=2)))
    tree = review.tree(again.session_id)
    assert tree.chain(tree.node(again.node_ids[0]).chain_id).kind == "regenerate"
    assert len(tree.alternatives(first.id)) == 2


def test_bad_ids_labels_and_rewrites_change_nothing(review: Review) -> None:
    finished = drain(review.generate(QUESTION, sampling=params(max_tokens=48)))
    events = len(review.store.events(finished.session_id))
    step = finished.node_ids[0]
    with pytest.raises(BadInputError, match="no step with id 'zzz'"):
        review.annotate("zzz", 1)
    with pytest.raises(BadInputError, match="label must be"):
        review.annotate(step, 2)
    with pytest.raises(BadInputError, match="rewrite is empty"):
        review.rewrite(step, " \n")
    assert len(review.store.events(finished.session_id)) == events


def test_undo_and_redo(review: Review) -> None:
    finished = drain(review.generate(QUESTION, sampling=params(max_tokens=48)))
    step = finished.node_ids[0]
    review.annotate(step, 1)
    assert review.tree(finished.session_id).current_annotations(step)[review.reviewer.id].label == 1
    review.undo(finished.session_id)
    assert review.tree(finished.session_id).current_annotations(step) == {}
    review.redo(finished.session_id)
    assert review.tree(finished.session_id).current_annotations(step)[review.reviewer.id].label == 1


def test_undo_of_a_challenge_removes_question_and_answer_and_keeps_a_label_made_meanwhile(review: Review) -> None:
    finished = drain(review.generate(QUESTION, sampling=params(max_tokens=48)))
    sid, step = finished.session_id, finished.node_ids[0]
    stream = review.challenge(step, "Why that unit?", sampling=params(max_tokens=24))
    assert isinstance(next(stream), Streaming)  # the question is committed; the answer streams
    labelled = review.annotate(step, -1)  # as the window does between two tokens
    answered = drain(stream)
    tree = review.tree(sid)
    reply = tree.node(answered.node_ids[0])
    challenge = tree.node(reply.parent_id)
    assert review.store.history(sid).undo_description == "challenge step 1"

    asked = next(e for e in review.store.events(sid) if e.type == "challenge_asked")
    undone = review.undo(sid)
    assert [a.event.reverts for a in undone] == [answered.applied.event.id, asked.id]  # the answer first
    tree = review.tree(sid)
    assert tree.node(reply.id).deleted and tree.node(challenge.id).deleted
    label_id = labelled.changes.annotations[0]
    assert not tree.annotations[label_id].retracted
    assert review.store.history(sid).undo_description == "label step 1 wrong"

    redone = review.redo(sid)
    assert len(redone) == 2
    tree = review.tree(sid)
    assert not tree.node(reply.id).deleted and not tree.node(challenge.id).deleted
    assert review.store.history(sid).undo_description == "challenge step 1"


def test_a_broken_user_template_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    folder = paths.config_dir() / "prompts"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('name = "mine"\nversion = "1"\nsystem = """unclosed\n')
    with Review.open(tmp_path / "t.duckdb") as review:
        assert "chain-of-thought" in review.templates
        assert len(review.template_errors) == 1 and "mine.toml" in str(review.template_errors[0])
        with pytest.raises(BadInputError, match="no task template named 'mine'"):
            review.template("mine")
