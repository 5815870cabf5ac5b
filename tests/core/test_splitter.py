"""The splitter: rules by example, and properties that must hold for any output."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.splitter import (
    MODES,
    SPLITTER_NAME,
    SPLITTER_VERSION,
    StreamSplitter,
    display_text,
    is_answer,
    split,
    splitter_version,
)


def _raws(text, mode="paragraphs"):
    """The paragraph rules (version 1) by example; line mode has its own tests below."""
    return [s.raw for s in split(text, mode)]


def _split(text):
    return split(text, "paragraphs")


# -- line mode, the default ---------------------------------------------------------------

def test_a_four_line_answer_is_four_steps():
    text = "Tom has 3 apples.\nHe buys 4 more.\nSo he has 3 + 4 = 7.\nAnswer: 7"
    steps = split(text)
    assert [s.text for s in steps] == ["Tom has 3 apples.", "He buys 4 more.", "So he has 3 + 4 = 7.", "Answer: 7"]
    assert steps[-1].kind == "answer" and "".join(s.raw for s in steps) == text
    assert len(split(text, "paragraphs")) == 2  # the old default made one step of the first three lines


def test_line_mode_keeps_blank_lines_with_the_step_before():
    assert [s.raw for s in split("a\n\n\nb\nc")] == ["a\n\n\n", "b\n", "c"]


def test_line_mode_never_splits_a_code_block_or_a_think_tag():
    text = "Here is the fix:\n```python\ndef f():\n    return 1\n```\nThen test it."
    assert [s.raw for s in split(text)] == [text[: text.index("Then")], "Then test it."]
    steps = split("<think>\nOkay.\nSo 2+2=4.\n</think>\nThe answer is 4.")
    assert [s.text for s in steps] == ["Okay.", "So 2+2=4.", "The answer is 4."]
    assert all(s.raw.count("<think>") == s.raw.count("<think") for s in steps)


def test_line_mode_answer_takes_the_rest():
    steps = split("Work.\nAnswer: 5\nBecause x.")
    assert [s.kind for s in steps] == ["step", "answer"] and steps[1].text == "Answer: 5\nBecause x."


def test_modes_record_their_versions():
    assert splitter_version("lines") == SPLITTER_VERSION == StreamSplitter().version
    assert splitter_version("paragraphs") == "1" == StreamSplitter("paragraphs").version
    with pytest.raises(ValueError, match="sentences"):
        StreamSplitter("sentences")


# -- paragraph mode (version 1) ----------------------------------------------------------


def test_step_markers():
    assert _raws("Step 1: a\nStep 2: b\n") == ["Step 1: a\n", "Step 2: b\n"]
    assert _raws("**Step 1:** a\n### Step 2 b") == ["**Step 1:** a\n", "### Step 2 b"]


def test_numbered_lists():
    assert _raws("1. a\n2. b\n   more of b\n3) c") == ["1. a\n", "2. b\n   more of b\n", "3) c"]


def test_blank_lines_separate_paragraphs():
    assert _raws("First.\nStill first.\n\n\nSecond.\n") == ["First.\nStill first.\n\n\n", "Second.\n"]


def test_leading_blank_space_and_decimals_do_not_split():
    assert _raws("\n\n  First 12.5 units\n2.5 more") == ["\n\n  First 12.5 units\n2.5 more"]


def test_answer_takes_the_rest():
    steps = _split("Step 1: x\n\nAnswer: 5\n\nBecause x.\n\nStep 2: y")
    assert [s.kind for s in steps] == ["step", "answer"]
    assert steps[1].text == "Answer: 5\n\nBecause x.\n\nStep 2: y"


@pytest.mark.parametrize("line", ["Answer: 5", "**Answer:** 5", "Final answer: 5", "The final answer is 5", "answer：5"])
def test_answer_markers(line):
    assert is_answer(line)
    assert _split("Some work.\n" + line)[-1].kind == "answer"


def test_not_answers():
    assert not is_answer("Answering this needs care")
    assert [s.kind for s in _split("The answer depends.\n\nMore.")] == ["step", "step"]


def test_think_block_with_both_tags():
    steps = _split("<think>\nOkay.\n\nSo 2+2=4.\n</think>\n\nThe answer is 4.")
    assert [s.raw for s in steps] == ["<think>\nOkay.\n\n", "So 2+2=4.\n</think>\n\n", "The answer is 4."]
    assert [s.text for s in steps] == ["Okay.", "So 2+2=4.", "The answer is 4."]


def test_only_the_closing_think_tag():
    steps = _split("Let me think.\n\nIt is 4.</think>Answer: 4")
    assert [s.raw for s in steps] == ["Let me think.\n\n", "It is 4.</think>", "Answer: 4"]
    assert steps[-1].kind == "answer"


def test_empty_think_block_makes_no_step():
    steps = _split("<think>\n\n</think>\n\nThe answer is 4.")
    assert len(steps) == 1 and steps[0].text == "The answer is 4."


def test_think_tag_after_content_starts_a_step():
    assert _raws("Intro <think>hmm</think> done") == ["Intro ", "<think>hmm</think> ", "done"]
    assert _raws("Intro\n<think>") == ["Intro\n<think>"]


def test_fenced_code_is_never_split():
    text = "Here is the fix:\n\n```python\ndef f():\n\n    return 1\n\n1. not a step\nStep 2: nor this\n```\n\nStep 2: test it"
    steps = _split(text)
    assert [s.raw for s in steps] == [text[: text.index("Step 2: test")], "Step 2: test it"]


def test_tilde_fences_and_longer_closers():
    text = "Code:\n~~~~\na\n\nb\n~~~\n\nc\n~~~~~\n\nNext"
    assert _raws(text) == [text[:-4], "Next"]


def test_inline_triple_backticks_do_not_open_a_block():
    assert _raws("```x``` inline\n\nNext") == ["```x``` inline\n\n", "Next"]


def test_empty_and_blank_output():
    assert _split("") == []
    steps = _split("  \n")
    assert len(steps) == 1 and steps[0].text == ""


def test_streaming_gives_finished_steps_and_a_pending_tail():
    splitter = StreamSplitter("paragraphs")
    assert splitter.feed("Step 1: a") == []
    assert splitter.pending == "Step 1: a"
    assert splitter.feed("\nStep 2") == []  # "Step 2" could still become "Step 20:" or more
    done = splitter.feed(": b\n")
    assert [s.raw for s in done] == ["Step 1: a\n"]
    assert splitter.pending == "Step 2: b\n"
    last = splitter.finish()
    assert [s.raw for s in last] == ["Step 2: b\n"] and splitter.finish() == []
    assert splitter.text == "Step 1: a\nStep 2: b\n"
    with pytest.raises(RuntimeError):
        splitter.feed("more")


def test_name_and_version_are_recorded():
    assert StreamSplitter.name == SPLITTER_NAME and StreamSplitter("paragraphs").version == "1"


def test_display_text_strips_tags_and_space():
    assert display_text("\n<think>\n a </think>\n\n") == "a"


def test_windows_line_endings():
    assert _raws("a\r\n\r\nb\r\n") == ["a\r\n\r\n", "b\r\n"]


# -- properties ----------------------------------------------------------------------

_FRAGMENTS = [
    "Step 1:", "Step 12: ", "**Step 3:** ", "1. ", "2) ", "10.5 ", "Answer: ", "Final answer", "<think>",
    "</think>", "<think", "```python\n", "```\n", "```", "~~~\n", "\n", "\n\n", "\r\n", "  ", "\t",
    "word", "12 * 4 = 48", "x", "#", "- ", "`",
]
_outputs = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=40).map("".join)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=200, deadline=None)
@given(text=_outputs)
def test_joining_raw_spans_gives_back_the_output(mode, text):
    steps = split(text, mode)
    assert "".join(s.raw for s in steps) == text
    position = 0
    for i, step in enumerate(steps):
        assert step.index == i and step.start == position and text[step.start:step.end] == step.raw
        assert step.text == display_text(step.raw) and step.kind in ("step", "answer")
        position = step.end
    # Every step has something to read, unless the whole output has nothing.
    if len(steps) > 1:
        assert all(s.text for s in steps)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=200, deadline=None)
@given(text=_outputs, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_streaming_in_any_chunking_gives_the_same_steps(mode, text, cuts):
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0] + points, points + [len(text)])]
    splitter = StreamSplitter(mode)
    streamed = []
    fed = ""
    for chunk in chunks:
        fed += chunk
        streamed += splitter.feed(chunk)
        assert "".join(s.raw for s in streamed) + splitter.pending == fed
    streamed += splitter.finish()
    assert streamed == split(text, mode)
    assert splitter.steps == streamed


_plain = st.lists(st.sampled_from(["word", " ", "\n", "\n\n", "Step 2: ", "1. ", "Answer: ", "x = 1"]), max_size=15).map("".join)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=200, deadline=None)
@given(before=_plain, inside=_plain, after=_plain)
def test_a_closed_code_block_stays_in_one_step(mode, before, inside, after):
    block = "```python\n" + inside + "\n```\n"
    text = before + "\n\n" + block + after
    steps = split(text, mode)
    start = len(before) + 2
    assert any(s.start <= start and start + len(block) <= s.end for s in steps)
