"""Automated checks on a step's text. Each returns flags (check, message, span); none blocks.

- `arithmetic`: an equation whose sides differ (`12 * 4 = 46`, also with ×, ÷, x, LaTeX
  `\\times`, decimals, parentheses, units such as `60 km / 1.5 h = 40 km/h` and running chains
  like `12 * 4 = 48 + 2 = 50`). Anything it cannot read as plain numbers - a variable, `%`, `^`,
  a colon, a date-like hyphen, a sum of different units - is left alone, because a missed error
  costs less than a reviewer learning to ignore false alarms.
- `python_syntax`: a fenced Python block that does not parse (parsed, never run).
- `low_confidence`: the model's mean log-probability or its least likely token was low.
- `repetition`: the same words over and over (a generation loop), or a step that repeats an
  earlier one.
"""

from __future__ import annotations

import ast
import enum
import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from workstation.core.model import Flag

#: Bumped when a check's rules change, so that stored flags can be told apart.
CHECKS_VERSION = "1"


@dataclass(frozen=True)
class StepConfidence:
    """The engine's confidence in one step's tokens."""

    mean_logprob: float | None = None
    min_token_prob: float | None = None
    token_count: int | None = None


@dataclass(frozen=True)
class ConfidenceThresholds:
    """Below these the low-confidence check flags a step."""

    #: Mean natural-log probability per token; -1.5 is an average token probability of 0.22.
    mean_logprob: float = -1.5
    #: Probability of the least likely token in the step.
    min_token_prob: float = 0.01


def run_checks(
    text: str,
    *,
    mean_logprob: float | None = None,
    min_token_prob: float | None = None,
    previous_steps: Sequence[str] | EarlierSteps = (),
    thresholds: ConfidenceThresholds = ConfidenceThresholds(),
) -> list[Flag]:
    """Every check on one step's display text, flags in the order of the checks."""
    flags = check_arithmetic(text)
    flags += check_python(text)
    flags += check_confidence(text, mean_logprob, min_token_prob, thresholds)
    flags += check_repetition(text, previous_steps)
    return flags


# -- arithmetic ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<num>[$€£]?(?:\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+))"
    r"|(?P<op>\\times|\\cdot|\\div|[+\-−*×·/÷])"
    r"|(?P<x>(?<=[ \t])x(?=[ \t]))"
    r"|(?P<eq>=)"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<ws>[ \t]+)"
    r"|(?P<word>[A-Za-z]+(?:/[A-Za-z]+)?)"
    r"|(?P<other>.)",
    re.DOTALL,
)
_OPS = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "·": "*", "x": "*", "\\times": "*",
        "\\cdot": "*", "/": "/", "÷": "/", "\\div": "/"}
_BEFORE_OK = set(" \t\n\r\"'[(")
_AFTER_PUNCT = set(".,;:!?")
_AFTER_OK = set(" \t\n\r\"')]")
_FENCED = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})([^\n`]*)\n(.*?)^[ \t]{0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass
class _Tok:
    kind: str
    text: str
    start: int
    end: int
    unit: str | None = None


# A unit after a number ("60 km / 1.5 h = 40 km/h"): a word set off by a space, two letters or
# more, or one of the common one-letter units (not "x", not a variable like "y").
_UNIT = re.compile(r"(?:[A-Za-z]{2,}|[hmsgLlKCF])(?:/[A-Za-z]+)?")
# Words after a number that change its value or the operation: never a unit.
_NOT_UNITS = frozenset(
    "squared cubed factorial percent pct times plus minus over divided multiplied by of to power "
    "root choose mod modulo and or is are was equals the a an per dozen half halves third thirds "
    "quarter quarters hundred hundreds thousand thousands million millions billion billions "
    "trillion k bn mn".split()
)


def check_arithmetic(text: str) -> list[Flag]:
    """Flags for equations in `text` whose two sides differ (outside code blocks)."""
    code = [(m.start(), m.end()) for m in _FENCED.finditer(text)]
    flags = []
    for run in _runs(text):
        if any(a <= run[0].start < b for a, b in code):
            continue
        flags += _check_run(text, run)
    return flags


def _runs(text: str) -> Iterable[list[_Tok]]:
    toks = [_Tok(m.lastgroup or "other", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    run: list[_Tok] = []
    for i, tok in enumerate(toks):
        if tok.kind == "word" and _is_unit(toks, i, run):
            number = run[-2]
            number.unit, number.end = tok.text, tok.end
            run.pop()  # the space between number and unit
            continue
        if tok.kind in ("other", "word"):
            if run:
                yield run
            run = []
            continue
        if tok.kind == "ws" and not run:
            continue
        run.append(tok)
    if run:
        yield run


def _is_unit(toks: list[_Tok], i: int, run: list[_Tok]) -> bool:
    if len(run) < 2 or run[-1].kind != "ws" or run[-2].kind != "num" or run[-2].unit is not None:
        return False
    if not _UNIT.fullmatch(toks[i].text) or toks[i].text.lower() in _NOT_UNITS:
        return False
    following = next((t for t in toks[i + 1:] if t.kind != "ws"), None)
    # "7 because we ..." is a sentence going on, not a unit.
    return following is None or following.kind not in ("num", "word")


def _check_run(text: str, run: list[_Tok]) -> list[Flag]:
    toks = [t for t in run if t.kind != "ws"]
    # Brackets around a sentence, "(so 3 + 4 = 7)", are not part of the equation.
    while toks and toks[0].kind == "lp" and _depth(toks) > 0:
        toks.pop(0)
    while toks and toks[-1].kind == "rp" and _depth(toks) < 0:
        toks.pop()
    if not any(t.kind == "eq" for t in toks) or len(toks) > 200:
        return []
    start, end = toks[0].start, toks[-1].end
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before not in _BEFORE_OK:
        return []
    negative = toks[0].text in "-−" and len(toks) > 1 and toks[0].end == toks[1].start
    if toks[0].kind == "op" and not negative and text[:start].rstrip(" \t")[-1:] not in ("", "\n", "(", "[", '"', "'", ":"):
        return []  # "y - 3 = 7": the equation starts before the numbers ("so -3 + 5 = 2" is fine)
    if after in _AFTER_PUNCT:
        if end + 1 < len(text) and not text[end + 1].isspace():
            return []  # "12:30", "3.5.1"
    elif after not in _AFTER_OK:
        return []
    if any(_looks_like_range(text, toks, i) for i, t in enumerate(toks) if t.kind == "op" and t.text in "-−"):
        return []
    segments: list[list[_Tok]] = [[]]
    for t in toks:
        if t.kind == "eq":
            segments.append([])
        else:
            segments[-1].append(t)
    for segment in segments:
        # Adding hours to minutes ("2 hours + 30 minutes = 2.5 hours") needs a conversion this
        # check does not know: leave sums of mixed units alone.
        if any(t.kind == "op" and _OPS[t.text] in "+-" for t in segment[1:]):
            if len({t.unit for t in segment if t.kind == "num"}) > 1:
                return []
    # "Total = 12 * 4 = 46", "x = 3 * 4 = 13": a name before the first "=" is not a number, but
    # what follows it still claims something.
    if len(segments) > 2 and (not segments[0] or (segments[0][0].kind == "x" and len(segments[0]) == 1)):
        segments = segments[1:]
    values: list[Fraction | None] = []
    for segment in segments:
        value = _evaluate(segment)
        if value is _BAD:
            return []  # not plain arithmetic: "==", "3 4", an unbalanced bracket
        values.append(value)
    flags = []
    for i in range(len(segments) - 1):
        left, right = segments[i], segments[i + 1]
        if not (_has_op(left) or _has_op(right)):
            continue  # "x = 5" style restatements claim nothing
        lv, rv = values[i], values[i + 1]
        if lv is None or rv is None or _close(lv, rv, left, right):
            continue
        first = _evaluate(right[:1]) if right and right[0].kind == "num" else None
        if _has_op(right) and isinstance(first, Fraction) and _close(lv, first, left, right[:1]):
            continue  # a running chain: "12 * 4 = 48 + 2 = 50"
        lhs = text[left[0].start:left[-1].end]
        rhs = text[right[0].start:right[-1].end]
        flags.append(Flag(
            "arithmetic",
            f"{lhs} is {_format(lv)}, but {rhs} is {_format(rv)}" if _has_op(right) else f"{lhs} is {_format(lv)}, not {rhs}",
            left[0].start, right[-1].end, "warning",
        ))
    return flags


def _depth(toks: list[_Tok]) -> int:
    return sum(1 if t.kind == "lp" else -1 if t.kind == "rp" else 0 for t in toks)


def _looks_like_range(text: str, toks: list[_Tok], i: int) -> bool:
    # "1990-2024" or "2024-01-05": an unspaced hyphen next to a 4-digit number is a range or a date.
    if i == 0 or i + 1 >= len(toks) or toks[i - 1].kind != "num" or toks[i + 1].kind != "num":
        return False
    op = toks[i]
    unspaced = toks[i - 1].end == op.start and op.end == toks[i + 1].start
    return unspaced and any(re.fullmatch(r"\d{4}", t.text) for t in (toks[i - 1], toks[i + 1]))


def _has_op(segment: list[_Tok]) -> bool:
    return any(t.kind in ("op", "x") for t in segment[1:]) or (
        len(segment) > 1 and segment[0].kind in ("op", "x", "lp")
    )


class _NotArithmetic(enum.Enum):
    """The one value `_evaluate` returns for a segment that is not plain arithmetic."""

    BAD = "bad"


_BAD: Final = _NotArithmetic.BAD


def _evaluate(segment: list[_Tok]) -> Fraction | None | Literal[_NotArithmetic.BAD]:
    """The exact value of a segment, None for a division by zero, _BAD if not arithmetic."""
    if not segment:
        return _BAD
    pos = 0

    def number(tok: _Tok) -> Fraction:
        return Fraction(tok.text.lstrip("$€£").replace(",", ""))

    def factor() -> Fraction:
        nonlocal pos
        if pos >= len(segment):
            raise ValueError
        tok = segment[pos]
        pos += 1
        if tok.kind == "op" and _OPS[tok.text] == "-":
            return -factor()
        if tok.kind == "num":
            return number(tok)
        if tok.kind == "lp":
            value = expr()
            if pos >= len(segment) or segment[pos].kind != "rp":
                raise ValueError
            pos += 1
            return value
        raise ValueError

    def term() -> Fraction:
        nonlocal pos
        value = factor()
        while pos < len(segment) and segment[pos].kind in ("op", "x") and _OPS[segment[pos].text] in "*/":
            op = _OPS[segment[pos].text]
            pos += 1
            rhs = factor()
            value = value * rhs if op == "*" else value / rhs
        return value

    def expr() -> Fraction:
        nonlocal pos
        value = term()
        while pos < len(segment) and segment[pos].kind == "op" and _OPS[segment[pos].text] in "+-":
            op = _OPS[segment[pos].text]
            pos += 1
            rhs = term()
            value = value + rhs if op == "+" else value - rhs
        return value

    try:
        value = expr()
    except ZeroDivisionError:
        return None
    except ValueError:
        return _BAD
    return value if pos == len(segment) else _BAD


def _decimals(segment: list[_Tok]) -> int:
    return max((len(t.text.split(".")[1]) for t in segment if t.kind == "num" and "." in t.text), default=0)


def _close(lv: Fraction, rv: Fraction, left: list[_Tok], right: list[_Tok]) -> bool:
    if lv == rv:
        return True
    diff = abs(lv - rv)
    d = _decimals(right)
    divides = any(t.kind == "op" and _OPS[t.text] == "/" for t in left)
    # A result written with d decimals may be rounded or cut to d decimals; with d == 0 we only
    # accept that after a division ("100 / 7 = 14"), so that "10 + 0.4 = 10" is still caught.
    if (divides or d > 0) and diff < Fraction(1, 10**d):
        return True
    # Operands with 2+ decimals were probably rounded earlier ("3.33 * 3 = 10").
    if _decimals(left) >= 2 and diff <= abs(lv) * Fraction(1, 200):
        return True
    return False


def _format(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == value else "about " + text


# -- python --------------------------------------------------------------------------


def check_python(text: str) -> list[Flag]:
    """Flags for fenced Python blocks in `text` that do not parse. The code is never run."""
    flags = []
    for m in _FENCED.finditer(text):
        lang = m.group(2).strip().lower().split()
        if not lang or lang[0] not in ("python", "py", "python3"):
            continue
        code = m.group(3)
        try:
            with warnings.catch_warnings():
                # Invalid escapes and the like are warnings at compile time, not syntax errors.
                warnings.simplefilter("ignore")
                ast.parse(code)
        except SyntaxError as exc:
            start, end = m.start(3), m.end(3)
            if exc.lineno is not None and exc.lineno >= 1:
                lines = code.splitlines(keepends=True)
                if exc.lineno <= len(lines):
                    start += sum(len(x) for x in lines[: exc.lineno - 1])
                    end = start + len(lines[exc.lineno - 1].rstrip("\n"))
            where = f" (line {exc.lineno} of the block)" if exc.lineno else ""
            flags.append(Flag("python_syntax", f"Python code does not parse: {exc.msg}{where}", start, end))
        except (ValueError, RecursionError, MemoryError):
            flags.append(Flag("python_syntax", "Python code could not be parsed", m.start(3), m.end(3)))
    return flags


# -- confidence ----------------------------------------------------------------------


def check_confidence(
    text: str,
    mean_logprob: float | None,
    min_token_prob: float | None,
    thresholds: ConfidenceThresholds = ConfidenceThresholds(),
) -> list[Flag]:
    """Flags when the model was unsure of this step (numbers from the engine)."""
    flags = []
    if mean_logprob is not None and mean_logprob < thresholds.mean_logprob:
        flags.append(Flag(
            "low_confidence",
            f"low model confidence: mean token probability {math.exp(mean_logprob):.2f}",
            0, len(text), "warning",
        ))
    if min_token_prob is not None and min_token_prob < thresholds.min_token_prob:
        flags.append(Flag(
            "low_confidence",
            f"the model found one token very unlikely (probability {min_token_prob:.3f})",
            0, len(text), "info",
        ))
    return flags


def step_confidences(tokens: Sequence[tuple[str, float]], step_ends: Sequence[int]) -> list[StepConfidence]:
    """Per-step confidence from the generated tokens' (text, logprob) pairs.

    `step_ends` are the steps' end offsets in the output (`Step.end`). A token counts for the
    step in which it starts; token texts are assumed to add up to the output.
    """
    buckets: list[list[float]] = [[] for _ in step_ends]
    offset = 0
    index = 0
    for token_text, logprob in tokens:
        while index < len(step_ends) - 1 and offset >= step_ends[index]:
            index += 1
        if buckets:
            buckets[index].append(logprob)
        offset += len(token_text)
    out = []
    for values in buckets:
        finite = [v for v in values if math.isfinite(v)]
        if not values:
            out.append(StepConfidence())
            continue
        out.append(StepConfidence(
            mean_logprob=sum(finite) / len(finite) if finite else None,
            min_token_prob=math.exp(min(values)),
            token_count=len(values),
        ))
    return out


# -- repetition ----------------------------------------------------------------------

_WORD = re.compile(r"\S+")
#: A loop is a run of words repeated at least this often, covering at least MIN_LOOP_WORDS.
MIN_REPEATS = 3
MIN_LOOP_WORDS = 12
_MAX_PERIOD = 60
_MAX_WORDS = 20_000


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


class EarlierSteps:
    """The steps before the one being checked, indexed so that a long chain is checked in
    linear time (build one and `add` each step after checking it)."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._first: dict[str, int] = {}
        self._count = 0
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        """Append the next step's text."""
        self._count += 1
        self._first.setdefault(_normal(text), self._count)

    def find(self, text: str) -> int | None:
        """The number of the first earlier step with the same words as `text`, if any."""
        return self._first.get(_normal(text))


def check_repetition(text: str, previous_steps: Sequence[str] | EarlierSteps = ()) -> list[Flag]:
    """Flags for a generation loop inside `text`, or for `text` repeating an earlier step."""
    flags = []
    if len(_normal(text)) >= 12:  # "Yes." twice is no loop
        earlier = previous_steps if isinstance(previous_steps, EarlierSteps) else EarlierSteps(previous_steps)
        number = earlier.find(text)
        if number is not None:
            flags.append(Flag("repetition", f"repeats step {number} word for word", 0, len(text), "warning"))
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)][:_MAX_WORDS]
    best: tuple[int, int, int] | None = None  # (covered words, first word, period)
    for period in range(1, min(_MAX_PERIOD, len(words) // MIN_REPEATS) + 1):
        run = 0
        for i in range(len(words) - period + 1):
            if i + period < len(words) and words[i][2] == words[i + period][2]:
                run += 1
                continue
            covered = run + period
            if run and covered >= MIN_REPEATS * period and covered >= MIN_LOOP_WORDS:
                if best is None or covered > best[0]:
                    best = (covered, i - run, period)
            run = 0
    if best is not None:
        covered, first, period = best
        start, end = words[first][0], words[first + covered - 1][1]
        repeats = covered // period
        flags.append(Flag(
            "repetition",
            f"the same {period} word{'s' if period > 1 else ''} repeated {repeats} times (a generation loop?)",
            start, end, "warning",
        ))
    return flags
