"""Turn raw model output into steps, also while it streams.

Two modes. `lines` (the default, the PRM800K and Math-Shepherd convention: a labeller judges
one line at a time) starts a new step at every non-blank line. `paragraphs` (version 1 of
these rules, kept as a setting) starts one only where the rules below say. Both modes share
everything else: think tags, answers, code fences.

Rules, applied line by line (a line ends with "\\n"):

- In `lines` mode, every non-blank line starts a new step once the current step has content.
- A new step starts at a line that begins with a `Step N` marker or a numbered-list item
  (`1.`, `2)`), or at the first non-blank line after a blank line - but only once the current
  step has some content, so leading blank space and bare tags never make a step of their own.
- `<think>` opens a new step where it stands and `</think>` closes one: if the current step
  has content, the next content starts a new step (at the opening tag, or at the content after
  a closing tag). Output with only the closing tag (the chat
  template opened the block) works the same way.
- A line starting with `Answer:` / `Final answer` starts an answer step, which takes the rest of
  the output (up to a think tag).
- Nothing splits inside a fenced code block (``` or ~~~), and a fence opening after a blank line
  stays with the step that introduces it.

Each step keeps its exact raw span (joining them gives back the output byte for byte) and a
display text (think tags and surrounding blank space stripped). Whether a line starts a step
depends only on that line and the ones before it, and streaming only decides about complete
lines, so feeding the output in any chunking gives the same steps as splitting it at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Recorded with every chain so that a change of rules can be told apart in stored data.
SPLITTER_NAME = "workstation-lines"
SPLITTER_VERSION = "2"

#: The modes and the version each records: `paragraphs` is exactly version 1's rules, so chains
#: stored before line mode existed read as what they are.
MODES = ("lines", "paragraphs")
DEFAULT_MODE = "lines"
_VERSIONS = {"lines": SPLITTER_VERSION, "paragraphs": "1"}


def splitter_version(mode: str = DEFAULT_MODE) -> str:
    """The version recorded with a chain split in `mode`."""
    return _VERSIONS[_checked(mode)]


def _checked(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"the splitter mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode

STEP_KINDS = ("step", "answer")

_THINK_TAG = re.compile(r"</?think>")
_STEP_MARKER = re.compile(r"[ \t]{0,3}(?:#{1,6}[ \t]*|\*\*|__)?step[ \t]*\d+\b", re.IGNORECASE)
_NUMBERED = re.compile(r"[ \t]{0,3}(?:\*\*)?\d{1,3}[.)](?:\*\*)?[ \t]+\S")
_ANSWER = re.compile(
    r"\s*(?:#{1,6}[ \t]*|\*\*|__)?(?:(?:the[ \t]+)?final[ \t]+answer\b|answer(?:\*\*|__)?[ \t]*[:：])",
    re.IGNORECASE,
)
_FENCE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Step:
    """One step split from model output.

    `raw` is output[start:end] exactly (including the blank space and tags around it);
    `text` is what a reviewer reads: the raw span without think tags, stripped.
    """

    index: int
    start: int
    end: int
    raw: str
    text: str
    kind: str = "step"


def display_text(raw: str) -> str:
    """The text a reviewer reads for a raw span: think tags removed, outer blank space stripped."""
    return _THINK_TAG.sub("", raw).strip()


def is_answer(text: str) -> bool:
    """Whether `text` begins with an answer marker (`Answer:`, `Final answer`, `**Answer:**`)."""
    return _ANSWER.match(text) is not None


class StreamSplitter:
    """Split output as it arrives: `feed` chunks, get the steps that are finished.

    A step is finished when the next one has started; `pending` is the raw text not yet in a
    finished step, and `finish` (at the end of generation) returns the last step(s).
    """

    name = SPLITTER_NAME

    def __init__(self, mode: str = DEFAULT_MODE) -> None:
        self.mode = _checked(mode)
        self.version = splitter_version(mode)
        self._by_line = mode == "lines"
        self.steps: list[Step] = []
        # The text from the start of the pending step on; `_offset` is its position in the output.
        self._tail = ""
        self._offset = 0
        self._scanned = 0  # position in the output up to which complete lines were read
        self._finished = False
        # State of the pending step and of the line scanner.
        self._has_content = False
        self._answer = False
        self._break_next = False  # set by think tags: the next content starts a new step
        self._break_at: int | None = None  # ... here (an opening tag), or where it starts
        self._fence: tuple[str, int] | None = None
        self._prev_blank = False

    @property
    def pending(self) -> str:
        """The raw text received after the last finished step."""
        return self._tail

    @property
    def text(self) -> str:
        """All output fed so far, exactly."""
        return "".join(s.raw for s in self.steps) + self._tail

    def feed(self, chunk: str) -> list[Step]:
        """Add a chunk of output; return the steps that this chunk finished (often none)."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._tail += chunk
        return self._run(final=False)

    def finish(self) -> list[Step]:
        """End of output: return the remaining step(s). The splitter takes no more input."""
        if self._finished:
            return []
        out = self._run(final=True)
        self._finished = True
        if self._tail:
            out.append(self._emit(self._offset + len(self._tail)))
        return out

    # -- scanning --------------------------------------------------------------------

    def _run(self, final: bool) -> list[Step]:
        out: list[Step] = []
        end = self._offset + len(self._tail)
        while self._scanned < end:
            rel = self._scanned - self._offset
            newline = self._tail.find("\n", rel)
            if newline == -1 and not final:
                break  # an incomplete line may still become a marker; wait for the rest
            stop = newline + 1 if newline != -1 else len(self._tail)
            line = self._tail[rel:stop]
            line_start = self._scanned
            self._scanned = line_start + len(line)
            self._line(line, line_start, out)
        return out

    def _line(self, line: str, pos: int, out: list[Step]) -> None:
        i = 0
        while True:
            tag = _THINK_TAG.search(line, i)
            segment_end = tag.start() if tag else len(line)
            if segment_end > i:
                self._segment(line[i:segment_end], pos + i, i == 0, out)
            if tag is None:
                break
            self._fence = None  # a think tag ends any code block left open inside it
            self._answer = False
            if self._has_content:
                # The next content starts a new step: at the opening tag for `<think>`, at the
                # content itself after `</think>`. Waiting for that content keeps a trailing tag
                # with the step before instead of making an empty step of it.
                self._break_next = True
                self._break_at = pos + tag.start() if tag.group() == "<think>" else None
            i = tag.end()
        self._prev_blank = not line.strip()

    def _segment(self, seg: str, pos: int, line_start: bool, out: list[Step]) -> None:
        body = seg.lstrip()
        if not body:
            return  # blank space belongs to the step it follows
        if self._break_next:
            self._break_next = False
            at = self._break_at if self._break_at is not None else pos + len(seg) - len(body)
            out.append(self._emit(at))
            self._start_content(body, line_start and self._opens_fence(seg))
            return
        if self._answer:
            return  # an answer takes the rest of the output
        if not line_start:
            self._start_content(body, False)
            return
        if self._fence is not None:
            if self._closes_fence(seg):
                self._fence = None
            return
        if self._opens_fence(seg):
            self._has_content = True
            return
        if self._has_content and (
            _STEP_MARKER.match(seg) or _NUMBERED.match(seg) or _ANSWER.match(seg) or self._prev_blank or self._by_line
        ):
            out.append(self._emit(pos))
        self._start_content(body, False)

    def _start_content(self, body: str, opened_fence: bool) -> None:
        if not self._has_content and not opened_fence and _ANSWER.match(body):
            self._answer = True
        self._has_content = True

    def _opens_fence(self, seg: str) -> bool:
        match = _FENCE.match(seg)
        if match is None:
            return False
        fence = match.group(1)
        if fence[0] == "`" and "`" in seg[match.end():]:
            return False  # ```inline``` code on one line, not a block
        self._fence = (fence[0], len(fence))
        return True

    def _closes_fence(self, seg: str) -> bool:
        match = _FENCE.match(seg)
        assert self._fence is not None
        return (
            match is not None
            and match.group(1)[0] == self._fence[0]
            and len(match.group(1)) >= self._fence[1]
            and not seg[match.end():].strip()
        )

    def _emit(self, end: int) -> Step:
        cut = end - self._offset
        raw, self._tail = self._tail[:cut], self._tail[cut:]
        start = self._offset
        self._offset = end
        kind = "answer" if self._answer else "step"
        step = Step(len(self.steps), start, end, raw, display_text(raw), kind)
        self.steps.append(step)
        self._has_content = False
        self._answer = False
        return step


def split(raw: str, mode: str = DEFAULT_MODE) -> list[Step]:
    """Split complete model output into steps (the same steps streaming would give)."""
    splitter = StreamSplitter(mode)
    steps = splitter.feed(raw)
    steps.extend(splitter.finish())
    return steps
