"""Automated checks: what they catch, and the look-alikes they must leave alone."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core.checks import (
    ConfidenceThresholds,
    check_arithmetic,
    check_confidence,
    check_python,
    check_repetition,
    run_checks,
    step_confidences,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12 * 4 = 46", "12 * 4 is 48, not 46"),
        ("So 12 × 4 = 46 apples.", "12 × 4 is 48, not 46 apples"),
        ("10 ÷ 4 = 4", "10 ÷ 4 is 2.5, not 4"),
        ("so -3 + 5 = 3", "-3 + 5 is 2, not 3"),
        ("3 x 4 = 13", "3 x 4 is 12, not 13"),
        (r"\( 12 \times 4 = 46 \)", r"12 \times 4 is 48, not 46"),
        ("1.5 + 2.25 = 3.5", "1.5 + 2.25 is 3.75, not 3.5"),
        ("(3 + 4) * 2 = 15.", "(3 + 4) * 2 is 14, not 15"),
        ("2 + 3 * 4 = 20", "2 + 3 * 4 is 14, not 20"),
        ("12*4=48+2=51", "48+2 is 50, not 51"),
        ("90 km / 1.5 hours = 45 km / 1.5 hours", "90 km / 1.5 hours is 60, but 45 km / 1.5 hours is 30"),
        ("$12 * 4 = $46", "$12 * 4 is 48, not $46"),
        ("1,000 + 2,500 = 3,000", "1,000 + 2,500 is 3500, not 3,000"),
        ("5 - 8 = 3", "5 - 8 is -3, not 3"),
        ("10 + 0.4 = 10", "10 + 0.4 is 10.4, not 10"),
        ("60 / 1.5 = 6.0", "60 / 1.5 is 40, not 6.0"),
        ("1 / 3 = 0.5", "1 / 3 is about 0.333333, not 0.5"),
        ("Total = 12 * 4 = 46", "12 * 4 is 48, not 46"),
        ("Speed = 60 km / 1.5 h = 6.0 km/h.", "60 km / 1.5 h is 40, not 6.0 km/h"),
        ("3 apples + 4 apples = 8 apples", "3 apples + 4 apples is 7, not 8 apples"),
        ("2 + 3 = 5 and 5 * 2 = 11", "5 * 2 is 10, not 11"),
        ("so 12 * 4 = 46 is the total", "12 * 4 is 48, not 46"),
        ("so x = 3 * 4 = 13", "3 * 4 is 12, not 13"),
    ],
)
def test_wrong_arithmetic_is_flagged(text, message):
    flags = check_arithmetic(text)
    assert [f.message for f in flags] == [message]
    flag = flags[0]
    assert flag.check == "arithmetic" and flag.severity == "warning"
    assert text[flag.start:flag.end].startswith(message.split(" is ")[0])


@pytest.mark.parametrize(
    "text",
    [
        "12 * 4 = 48",
        "12 * 4 = 48 + 2 = 50",  # a running chain
        "10 / 3 = 3.33",
        "2/3 = 0.66",
        "100 / 7 = 14",
        "3.14159 * 2 = 6.28",
        "3.33 * 3 = 10",
        "0.1 + 0.2 = 0.3",
        "The ratio 3:4 = 0.75",
        "From 1990-2024 = 34 years",
        "On 2024-01-05 = a Friday",
        "At 10:30 + 2 = 12:30",
        "20% of 50 = 10",
        "2x + 3 = 7",
        "y - 3 = 7",
        "a * 3 + 4 = 10",
        "x = 5",
        "Total = 48",
        "Total = 12 * 4 = 48",
        "a == 3 + 4 = 7",
        "2^3 = 8 and 2^3 = 9",
        "f(3) = 10",
        r"\frac{1}{2} = 3",
        "v1.2 = 3",
        "Both 3 = 4 in this notation",
        "1 / 0 = 5",
        "3 + 4 =",
        "2 + 2 == 5",
        "60 km / 1.5 h = 40 km/h",
        "2 hours + 30 minutes = 2.5 hours",
        "1 km + 500 m = 1.5 km",
        "5 m + 3 = 8 m",
        "2 hours * 60 = 120 minutes",
        "3 + 4 = 7 because we add",
        "Step 2 of 3 = done",
        "2x + 3 = 7",
        "3 y + 4 = 10",
        "60km / 1.5 = 6",
        "3 squared + 1 = 10",
        "2 thousand * 3 = 6000",
        "10 percent * 50 = 5",
        "2 dozen + 1 = 25",
        "11 pm + 2 = 1 am",
        "version 3.5.1 + 2 = 5",
    ],
)
def test_look_alikes_are_left_alone(text):
    assert check_arithmetic(text) == []


def test_equations_in_code_blocks_are_left_alone():
    assert check_arithmetic("```python\nx = 12 * 4 = 46\n```\n") == []


def test_several_equations_each_judged():
    flags = check_arithmetic("3 + 4 = 7, 7 * 2 = 15, and 15 - 1 = 14")
    assert [f.message for f in flags] == ["7 * 2 is 14, not 15"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arithmetic_never_crashes(text):
    for flag in check_arithmetic(text):
        assert 0 <= flag.start < flag.end <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(-999, 999), st.integers(-999, 999), st.sampled_from(["+", "-", "*"]))
def test_correct_integer_arithmetic_is_never_flagged(a, b, op):
    result = {"+": a + b, "-": a - b, "*": a * b}[op]
    assert check_arithmetic(f"so {a} {op} {b} = {result}") == []
    assert check_arithmetic(f"so {a} {op} {b} = {result + 1}") != []


def test_python_that_does_not_parse():
    text = "Fix:\n```python\ndef f(x):\n    return x +\n```\n"
    flags = check_python(text)
    assert len(flags) == 1 and flags[0].check == "python_syntax"
    assert "line 2" in flags[0].message
    assert text[flags[0].start:flags[0].end] == "    return x +"


def test_python_that_parses_or_is_not_python():
    assert check_python("```python\nprint('\\d')\n```\n") == []  # a warning, not an error
    assert check_python("```js\nfunction (\n```\n") == []
    assert check_python("```\nnot python (\n```\n") == []
    assert check_python("```python\nunclosed (\n") == []  # an unfinished block is not judged
    assert check_python("```py\nx = (\n```\n") != []


def test_python_with_a_null_byte_is_flagged_not_crashing():
    flags = check_python("```python\nx = 1\x00\n```\n")
    assert flags and flags[0].check == "python_syntax"


def test_low_confidence():
    assert check_confidence("t", -0.2, 0.5) == []
    assert check_confidence("t", None, None) == []
    flags = check_confidence("text", -2.0, 0.001)
    assert [f.severity for f in flags] == ["warning", "info"]
    assert "0.14" in flags[0].message and flags[0].end == 4
    assert check_confidence("t", -2.0, None, ConfidenceThresholds(mean_logprob=-3.0)) == []


def test_repetition_loop():
    text = "Let me check again. " * 6
    flags = check_repetition(text)
    assert len(flags) == 1 and "repeated 6 times" in flags[0].message
    assert check_repetition("no no no") == []
    assert check_repetition("We add 2 and 2, then 2 and 2 again to get 8.") == []


def test_repeating_an_earlier_step():
    flags = check_repetition("We multiply 12 by 4.", ["Something else.", "we  multiply 12 by 4."])
    assert [f.message for f in flags] == ["repeats step 2 word for word"]
    assert check_repetition("Yes.", ["Yes."]) == []  # too short to count


def test_run_checks_combines_all():
    flags = run_checks("12 * 4 = 46", mean_logprob=-3.0)
    assert [f.check for f in flags] == ["arithmetic", "low_confidence"]


def test_step_confidences_from_tokens():
    tokens = [("Step", -0.1), (" 1", -0.3), ("\n\n", -0.2), ("Step", -2.0), (" 2", -0.0)]
    first, second = step_confidences(tokens, [8, 14])
    assert first.token_count == 3 and second.token_count == 2
    assert math.isclose(first.mean_logprob, -0.2)
    assert math.isclose(second.min_token_prob, math.exp(-2.0))
    assert step_confidences([], [3])[0].mean_logprob is None
    assert step_confidences([("a", -1.0)], []) == []
