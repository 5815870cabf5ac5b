"""The text the event log stores for `annotated` events (the codec's generated writer) is byte
for byte the generic JSON text (the hash chain depends on it); property-tested against
`json.dumps`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.core import codec
from workstation.core.history import Event
from workstation.core.model import ROLES, SEVERITIES, Annotation
from workstation.core.ops import Adjudicated, Annotated
from workstation.store import event_log

# Any text, surrogates and control characters included: the direct path escapes as json does.
_text = st.text(st.characters(), max_size=12)
_id = st.text(st.characters(), min_size=1, max_size=12)


@st.composite
def _events(draw: st.DrawFn) -> Event:
    annotation = Annotation(
        draw(_id), draw(_id), draw(_id), draw(_id), draw(_id), draw(st.sampled_from(ROLES)),
        draw(_text), draw(st.sampled_from((None, -1, 0, 1))), draw(_text),
        tuple(draw(st.lists(_text.filter(str.strip), max_size=3))),
        draw(st.sampled_from((None, *SEVERITIES))), draw(st.booleans()),
    )  # fmt: skip
    return Event(draw(_id), draw(_id), Annotated(annotation), draw(_id),
                 draw(st.sampled_from(ROLES)), draw(_text), draw(st.none() | _id))  # fmt: skip


def _generic(event: Event) -> str:
    return json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(_events())
def test_annotated_event_text_is_the_generic_text(event: Event) -> None:
    assert codec.event_writer(Annotated)(event) == _generic(event)
    assert event_log.event_text(event) == _generic(event)


def test_other_values_take_the_generic_path() -> None:
    a = Annotation("a", "s", "n", "v", "r", "annotator", "t", 1, tags=("x",))
    # An adjudication carries more than an annotation: never the direct path.
    adj = Event("e", "s", Adjudicated(a, ("b",)), "r", "expert", "t")
    assert event_log.event_text(adj) == _generic(adj)
    # A str subclass is written as json writes it; a value of another type takes json's path.
    odd = Event(type("S", (str,), {})("e"), "s", Annotated(a), "r", "annotator", "t")
    assert event_log.event_text(odd) == _generic(odd)
    changes: list[dict[str, Any]] = [dict(at=5), dict(reverts=3.5)]
    for changed in changes:
        event = dataclasses.replace(odd, **changed)
        with pytest.raises(TypeError):  # the writer says so; the log takes json's text
            codec.event_writer(Annotated)(event)
        assert event_log.event_text(event) == _generic(event)
    for changed in (dict(label=True), dict(retracted=1), dict(tags=["x"]), dict(note=None)):
        annotation = Annotation.__new__(Annotation)
        for field in dataclasses.fields(Annotation):  # bypass the checks: a malformed object
            object.__setattr__(annotation, field.name, changed.get(field.name, getattr(a, field.name)))
        event = dataclasses.replace(odd, op=Annotated(annotation))
        with pytest.raises(TypeError):
            codec.event_writer(Annotated)(event)
        assert event_log.event_text(event) == _generic(event)
