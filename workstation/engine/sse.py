"""Server-sent events (the `text/event-stream` format) read line by line, as OpenAI-style servers send them.

Only what chat completions use: `data:` fields (several in one event are joined with newlines),
events ended by a blank line, comment lines (`: ping`) ignored, `event:`/`id:`/`retry:` fields
skipped. Pure Python, so it is tested on its own (hypothesis-friendly: any lines in, payloads out).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

#: The payload OpenAI-style servers send after the last chunk.
DONE = "[DONE]"


def events(lines: Iterable[str]) -> Iterator[str]:
    """The data payload of each event in `lines` (without line endings), in order.

    An event still open when the lines end is yielded too: whether the stream was complete is
    for the caller to judge (a chat stream ends with `[DONE]` or a finish_reason).
    """
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name != "data":
            continue
        data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
