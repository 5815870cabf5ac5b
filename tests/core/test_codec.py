"""The event codec: every event type round-trips through its canonical text; the generated
writer gives the generic text byte for byte; the generated reader reads exactly the lines it
can, giving what the full decoding gives; an operation type registered later is covered too."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exchange.factory import ADA, BO, LEAD, Review, rich_review
from workstation.core import build, codec
from workstation.core.history import Event
from workstation.core.model import LABELS, ROLES, SEVERITIES, Annotation, Chain, Node, Reviewer
from workstation.core.ops import (
    OPERATIONS,
    Adjudicated,
    Annotated,
    BranchDeleted,
    BranchShown,
    ChainOutcomeSet,
    Changes,
    Operation,
    Outcome,
    SessionDeleted,
    SessionRenamed,
    VersionSelected,
)
from workstation.core.ops.base import _register
from workstation.core.tree import Tree


def _examples() -> list[Event]:
    """Events of every registered operation type, made through the real History (undo and
    redo included, so events that revert others are there too)."""
    r, nodes = rich_review()
    s1, s2, t2 = nodes["s1"], nodes["s2"], nodes["t2"]
    first = next(a for a in r.tree.annotations.values() if a.node_id == s2)
    r.do(build.adjudicate(r.tree, s2, Reviewer("eve", "expert"), -1, "46 + 2 is 48, \"not\" 50", [first.id]),
         Reviewer("eve", "expert"))
    r.label(s1, ADA, None, note="tab\there, line\nbreak, back\\slash, é 中 \u2028", tags=("unclear",))
    r.events.extend(a.event for a in r.history.undo(ADA))  # annotation_retracted
    r.events.extend(a.event for a in r.history.redo(ADA))  # annotation_restored
    r.do(VersionSelected(s1, r.tree.node(s1).original.id), LEAD)
    r.do(BranchShown.of(r.tree, s2), LEAD)
    r.do(BranchShown.of(r.tree, t2), LEAD)
    r.do(BranchDeleted(s2), LEAD)
    r.events.extend(a.event for a in r.history.undo(LEAD))  # branch_restored
    r.do(ChainOutcomeSet(r.tree.nodes[s1].chain_id, "found_error"), LEAD)
    r.do(SessionRenamed("Twelve fours"), LEAD)
    r.do(SessionDeleted(), LEAD)
    r.events.extend(a.event for a in r.history.undo(LEAD))  # session_restored
    return r.events


_EXAMPLES = _examples()


def test_every_operation_type_has_an_example() -> None:
    missing = set(OPERATIONS) - {e.type for e in _EXAMPLES}
    assert not missing, f"add an example of {sorted(missing)} to _examples(): the round trips below need one"


@pytest.mark.parametrize("event", _EXAMPLES, ids=lambda e: e.type)
def test_every_event_round_trips_through_its_text(event: Event) -> None:
    text = codec.event_text(event)
    assert text == codec.canonical(event.to_dict())  # the generated writer: the generic text
    assert text == json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert codec.event_writer(type(event.op))(event) == text  # written by the generated code, not the fallback
    decoded = Event.from_dict(json.loads(text))
    assert decoded == event
    assert codec.event_text(decoded) == text
    found = codec.LINE_ID.match(text)
    assert found is not None and found.group(1) == event.id


def test_the_declared_fields_are_the_events_fields() -> None:
    """`EVENT_FIELDS` and the `Event` dataclass describe the same event (op = type + payload)."""
    declared = {f.name: f.declared for f in codec.EVENT_FIELDS}
    own = {f.name: str(f.type) for f in dataclasses.fields(Event) if f.name != "op"}
    assert declared == {**own, "type": "str", "payload": "Operation"}
    assert list(_EXAMPLES[0].to_dict()) == [f.name for f in codec.EVENT_FIELDS]


# -- the annotation writer and reader, property-tested ---------------------------------

# Any text: quotes, backslashes, control characters, non-ASCII, lone surrogates (as they are,
# or replaced as a UTF-8 round trip would); plain texts often enough for the reader to read.
_any_text = st.text(st.characters(blacklist_categories=()), max_size=10)
_text = st.one_of(
    _any_text,
    _any_text.map(lambda t: t.encode("utf-8", "replace").decode("utf-8")),
    st.text(st.sampled_from('ab é中"\\\n\x00\x1f\x7f'), max_size=6),
    st.sampled_from(["", "x", "fine", "arithmetic error"]),
)
_id = st.one_of(st.sampled_from(["a", "s1", "f" * 32]), _text.filter(bool))


_plain_text = st.text(st.sampled_from("ab é中-"), max_size=5)


@st.composite
def _annotated(draw: st.DrawFn) -> Event:
    """An annotation event with any values; half of them tame (plain texts but perhaps the
    note, an `annotated` event neither reverting nor retracted), which the reader often reads."""
    tame = draw(st.booleans())
    text = _plain_text if tame else _text
    ident = _plain_text.filter(bool) if tame else _id
    annotation = Annotation(
        draw(ident), draw(ident), draw(ident), draw(ident), draw(ident), draw(st.sampled_from(ROLES)), draw(text),
        draw(st.sampled_from((None, *LABELS))), draw(st.one_of(text, _text)), tuple(draw(st.lists(text.filter(str.strip), max_size=3))),
        draw(st.sampled_from((None, *SEVERITIES))), False if tame else draw(st.booleans()),
    )  # fmt: skip
    if tame or draw(st.booleans()):
        op: Annotated = Annotated(annotation)
    else:
        op = Adjudicated(annotation, tuple(draw(st.lists(_id))))
    reverts = None if tame else draw(st.none() | _id)
    return Event(draw(ident), draw(ident), op, draw(ident), draw(st.sampled_from(ROLES)), draw(text), reverts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_annotated())
def test_the_generated_writer_gives_the_generic_text(event: Event) -> None:
    generic = json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert codec.event_writer(type(event.op))(event) == generic
    assert codec.event_text(event) == generic
    assert Event.from_dict(json.loads(generic)) == event


_FIELDS = ("id", "reverts", "at", "payload.annotation.note", "payload.annotation.tags", "payload.annotation.label",
           "payload.annotation.severity", "payload.annotation.retracted", "role")
_READER = codec.LineReader(Annotated, [f for f in _FIELDS if f not in ("reverts", "payload.annotation.retracted")],
                           fixed={"reverts": None, "payload.annotation.retracted": False},
                           choices={"payload.annotation.label": (1, None), "role": ("annotator", "expert")})


def _value(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def _plain(value: Any) -> bool:
    """Whether json writes this string (or these strings) with no escape."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return not isinstance(value, str) or json.dumps(value, ensure_ascii=False)[1:-1] == value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_annotated())
def test_the_reader_reads_exactly_the_lines_it_can(event: Event) -> None:
    text = codec.event_text(event)
    data = json.loads(text)
    values = _READER.read(text)
    readable = (
        type(event.op) is Annotated
        and event.reverts is None
        and not event.op.annotation.retracted
        and event.op.annotation.label in (1, None)
        and event.role in ("annotator", "expert")
        and all(_plain(v) for v in (event.id, event.session_id, event.at, event.reviewer_id))
        and all(_plain(v) for v in dataclasses.astuple(event.op.annotation))
    )
    assert (values is not None) == readable
    if values is None:
        return
    read = dict(zip([f for f in _FIELDS if f not in ("reverts", "payload.annotation.retracted")], values, strict=True))
    assert codec.LineReader.strings(read.pop("payload.annotation.tags")) == data["payload"]["annotation"]["tags"]
    label = read.pop("payload.annotation.label")
    assert (None if label is None else int(label)) == data["payload"]["annotation"]["label"]
    assert read == {path: _value(data, path) for path in read}


def test_the_reader_refuses_what_it_cannot_read() -> None:
    from workstation.core.ops import StepsAdded

    with pytest.raises(ValueError, match="nodes"):
        codec.LineReader(StepsAdded, ["id", "payload.nodes"])
    with pytest.raises(ValueError, match="cannot give"):
        codec.LineReader(Annotated, ["id", "reverts"], fixed={"reverts": None})
    with pytest.raises(ValueError, match="payload.annotation.lable: not fields"):
        codec.LineReader(Annotated, ["id", "at"], choices={"payload.annotation.lable": (1,)})


def test_values_not_of_their_declared_type_take_the_generic_path() -> None:
    a = Annotation("a", "s", "n", "v", "r", "annotator", "t", 1, tags=("x",))
    odd = Event(type("S", (str,), {})("e"), "s", Annotated(a), "r", "annotator", "t")
    assert codec.event_text(odd) == codec.canonical(odd.to_dict())
    for changed in ({"at": 5}, {"reverts": 3.5}):
        event = dataclasses.replace(odd, **changed)
        with pytest.raises(TypeError):
            codec.event_writer(Annotated)(event)
        assert codec.event_text(event) == codec.canonical(event.to_dict())
    for field_changes in ({"label": True}, {"retracted": 1}, {"tags": ["x"]}, {"note": None}, {"label": 2**70}):
        annotation = Annotation.__new__(Annotation)
        for f in dataclasses.fields(Annotation):  # bypass the checks: a malformed object
            object.__setattr__(annotation, f.name, field_changes.get(f.name, getattr(a, f.name)))
        event = dataclasses.replace(odd, op=Annotated(annotation))
        assert codec.event_text(event) == codec.canonical(event.to_dict())


def test_floats_are_written_as_json_writes_them() -> None:
    steps = next(e for e in _EXAMPLES if e.type == "steps_added")
    node = steps.op.nodes[0]  # type: ignore[attr-defined]
    for value in (0.1, -2.5e-300, 1e300, 3, float("nan"), float("inf")):
        version = dataclasses.replace(node.versions[0], mean_logprob=value)
        changed = dataclasses.replace(steps, op=dataclasses.replace(
            steps.op, nodes=(dataclasses.replace(node, versions=(version,)), *steps.op.nodes[1:])))  # type: ignore[attr-defined]
        assert codec.event_text(changed) == codec.canonical(changed.to_dict())


# -- an operation type the codec has never heard of ------------------------------------


@dataclasses.dataclass(frozen=True)
class _Outcome(Operation):
    """A stand-in for an operation type added later: an outcome set on a chain."""

    type: ClassVar[str] = "test_outcome_set"

    chain_id: str
    outcome: str | None
    score: int | None = None
    sure: bool = False
    notes: tuple[str, ...] = ()

    def _apply(self, tree: Tree) -> Outcome:
        return Outcome(None, Changes())


@dataclasses.dataclass(frozen=True)
class _Rich(_Outcome):
    """One with every other kind of field: a float, a dict, nested records (one optional, many)."""

    type: ClassVar[str] = "test_rich_outcome_set"
    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"chain": (Chain, False), "nodes": (Node, True)}

    weight: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    chain: Chain | None = None
    nodes: tuple[Node, ...] = ()


@pytest.fixture
def new_types() -> Iterator[None]:
    _register(_Outcome)
    _register(_Rich)
    try:
        yield
    finally:
        del OPERATIONS[_Outcome.type], OPERATIONS[_Rich.type]


@pytest.mark.usefixtures("new_types")
def test_an_operation_type_added_later_is_encoded_and_decoded() -> None:
    steps = next(e for e in _EXAMPLES if e.type == "steps_added")
    chain, nodes = steps.op.chain, steps.op.nodes  # type: ignore[attr-defined]
    for op in (_Outcome("c", None), _Outcome("c", "right", -3, True, ("a", 'b"')), _Rich("c", None),
               _Rich("c", "wrong", 1, False, (), 0.25, {"k": [1, "é"]}, chain, nodes)):
        event = Event("e1", "s", op, "ada", "annotator", "t", None)
        text = codec.event_text(event)
        assert text == codec.canonical(event.to_dict())
        assert codec.event_writer(type(op))(event) == text
        assert Event.from_dict(json.loads(text)) == event
    reader = codec.LineReader(_Outcome, ["id", "payload.outcome", "payload.score", "payload.notes"])
    line = codec.event_text(Event("e1", "s", _Outcome("c", "right", 2, notes=("x",)), "bo", "expert", "t"))
    assert reader.read(line) == ("e1", "right", "2", '"x"')
    with pytest.raises(ValueError, match="cannot read field"):
        codec.LineReader(_Rich, ["id", "payload.outcome"])


def test_a_reader_of_an_annotation_by_review_factory() -> None:
    """The reader sees the lines a real review makes (guards the property test against a reader
    that reads nothing)."""
    r = Review()
    (step,) = r.generate(["Answer: 48"])
    r.label(step, BO, 1, tags=("good insight", "unclear"), severity="minor")
    values = _READER.read(codec.event_text(r.events[-1]))
    assert values is not None
    assert values[0] == r.events[-1].id and codec.LineReader.strings(values[3]) == ["good insight", "unclear"]
