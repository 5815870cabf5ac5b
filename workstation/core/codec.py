"""The one wire format of events: the fields declared once, everything else derived from them.

An event on the wire is a JSON object with the fields of `EVENT_FIELDS`; its `payload` holds the
fields of its operation's dataclass (nested records as objects, tuples as lists), exactly what
`Operation.payload()` gives. It is written canonically (`canonical`: sorted keys, no spaces,
UTF-8 as is), so the same event always has the same text: the same hash in the store's chain,
the same line in a bundle, and "already imported" is a comparison of texts.

No list of fields is written out below. From `EVENT_FIELDS` and the operations' dataclass
fields (with their declared types) this module derives, when first needed for an operation
class (so a type registered later gets them too):

- `event_dict` / `event_kwargs`: an event as plain data, and back with its checks;
- `event_text`: the canonical text, written by code generated for the operation class, which
  builds no dicts (annotations are most of any large log; the generic path costs several times
  as much) and falls back to `canonical(event_dict(event))` for any value not of its declared
  type, so its text is always the generic text;
- `LineReader`: a regular expression reading the canonical text of one operation's events whose
  strings need no escape (the import's fast lane), with groups in the order asked for;
- `LINE_ID`: the event id at the start of any canonical line.
"""

from __future__ import annotations

import dataclasses
import json
import json.encoder
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from workstation.core.jsontypes import JSONData, JSONObject
from workstation.core.model import Reviewer, SchemaError, _Record
from workstation.core.ops import Operation, operation_from_dict
from workstation.errors import BadInputError

if TYPE_CHECKING:
    from workstation.core.history import Event

_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_str = json.encoder.encode_basestring  # what the encoder above writes for a str; TypeError otherwise


def canonical(value: JSONData) -> str:
    """The one JSON text of an event or record: sorted keys, no spaces, UTF-8 as is."""
    # One encoder made once: json.dumps with these options builds a new one on every call.
    return _ENCODER.encode(value)


class Field(NamedTuple):
    """One field of the wire format: its name, its declared type (as the dataclass declares
    it, e.g. "str | None"), and for a nested record its class and whether it is a list of them."""

    name: str
    declared: str
    required: bool = True
    record: type[_Record] | None = None
    many: bool = False


#: The fields of an event, in the order `event_dict` gives them. `type` and `payload` carry the
#: operation (`Event.op`): its registered type name and its own fields.
EVENT_FIELDS = (
    Field("id", "str"),
    Field("session_id", "str"),
    Field("type", "str"),
    Field("payload", "Operation"),
    Field("reviewer_id", "str"),
    Field("role", "str"),
    Field("at", "str"),
    Field("reverts", "str | None", required=False),
)


def record_fields(cls: type[_Record]) -> tuple[Field, ...]:
    """The wire fields of a record or operation class, from its dataclass declaration."""
    out = []
    for f in dataclasses.fields(cls):
        declared = str(f.type)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        nested = cls._nested.get(f.name)
        if nested is None:
            out.append(Field(f.name, declared, required))
        else:
            out.append(Field(f.name, declared, required, nested[0], nested[1]))
    return tuple(out)


# -- what each declared type is on the wire --------------------------------------------

_PLAIN = r'[^"\\\x00-\x1f]*'  # a str json writes as it is: no quote, backslash or control character
_INT = r"-?(?:0|[1-9][0-9]*)"


class _Kind(NamedTuple):
    """How values of one declared type are written and read.

    `guard` (generated code, `{v}` the value) is true for a value `text` would not write as json
    does; `text` is the code of its JSON text. `core` is the regular expression of a value
    (between its quotes when `quoted`); None: the fast reader takes no such field."""

    guard: str
    text: str
    core: str | None = None
    quoted: bool = False
    optional: bool = False
    many: bool = False


_KINDS = {
    "str": _Kind("", "_str({v})", _PLAIN, quoted=True),
    "str | None": _Kind("", '"null" if {v} is None else _str({v})', _PLAIN, quoted=True, optional=True),
    "int": _Kind("type({v}) is not int", "str({v})", _INT),  # an exact int: str is its repr
    "int | None": _Kind("{v} is not None and type({v}) is not int",
                        '"null" if {v} is None else str({v})', _INT, optional=True),
    "bool": _Kind("{v} is not True and {v} is not False", '"true" if {v} else "false"', "true|false"),
    "tuple[str, ...]": _Kind("type({v}) is not tuple", '"[" + ",".join([_str(s) for s in {v}]) + "]"', _PLAIN,
                             quoted=True, many=True),
    "float | None": _Kind("", '"null" if {v} is None else _number({v})'),
}
# Any other declared type is written by the generic encoder (the same text, only slower).
_ANY = _Kind("", "_encode({v})")


def _number(value: object) -> str:
    """A float (or int) as json writes it; TypeError for anything else."""
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    if type(value) is int:
        return int.__repr__(value)
    raise TypeError(value)


# -- writing ---------------------------------------------------------------------------


def _own_dict(cls: type[_Record]) -> bool:
    """Whether a record class writes itself other than by its declared fields (`Session` leaves
    out `deleted` while it is False): its text is then its own `to_dict`'s, generically."""
    return cls.to_dict is not _Record.to_dict


class _UnfitError(TypeError):
    """A value the generated writer does not write as json would: take the generic path."""


def _fstring(parts: list[tuple[bool, str]]) -> str:
    """Source of one f-string from (is_code, text) parts."""
    out = []
    for code, text in parts:
        if code:
            out.append("{" + text + "}")
        else:
            assert text.isprintable() and "\\" not in text, text  # keys and type names only
            out.append(text.replace("'", "\\'").replace("{", "{{").replace("}", "}}"))
    return "f'" + "".join(out) + "'"


class _Compiler:
    """Generates the source of writer functions; `functions` holds those of nested records."""

    def __init__(self) -> None:
        self.functions: dict[type[_Record], str] = {}  # record class -> name of its writer
        self.source: list[str] = []
        # The names generated code sees (exec's globals). Any: what exec defines in it has no
        # static type; each function's is declared where it is taken out.
        self.env: dict[str, Any] = {"_str": _str, "_number": _number, "_encode": _ENCODER.encode, "_UnfitError": _UnfitError}
        self._names = 0

    def local(self) -> str:
        """A new local variable name for generated code."""
        self._names += 1
        return f"r{self._names}"

    def alias(self, cls: type[_Record]) -> str:
        """The name generated code knows a class by (unique: two classes may share a name)."""
        alias = f"_{cls.__name__}_{id(cls):x}"
        self.env[alias] = cls
        return alias

    def record(self, cls: type[_Record], value: str, guards: list[str], parts: list[tuple[bool, str]]) -> None:
        """Parts of the JSON object of record `value` (a local name) of class `cls`."""
        alias = self.alias(cls)
        guards.append(f"if type({value}) is not {alias}: raise _UnfitError")
        if _own_dict(cls):
            parts.append((True, f"_encode({value}.to_dict())"))
        else:
            self.fields(record_fields(cls), value, guards, parts)

    def fields(self, fields: Sequence[Field], value: str, guards: list[str], parts: list[tuple[bool, str]]) -> None:
        """Parts of the JSON object of these fields of `value`, keys sorted as json sorts them."""
        parts.append((False, "{"))
        for i, f in enumerate(sorted(fields, key=lambda f: f.name)):
            parts.append((False, ("," if i else "") + _str(f.name) + ":"))
            v = f"{value}.{f.name}"
            if f.record is not None and not f.many and "None" not in f.declared:
                local = self.local()
                guards.append(f"{local} = {v}")
                self.record(f.record, local, guards, parts)
            elif f.record is not None:
                write = self.function(f.record)
                if f.many:
                    guards.append(f"if type({v}) is not tuple: raise _UnfitError")
                    parts.append((True, f'"[" + ",".join([{write}(x) for x in {v}]) + "]"'))
                else:
                    parts.append((True, f'"null" if {v} is None else {write}({v})'))
            else:
                kind = _KINDS.get(f.declared, _ANY)
                if kind.guard:
                    guards.append(f"if {kind.guard.format(v=v)}: raise _UnfitError")
                parts.append((True, kind.text.format(v=v)))
        parts.append((False, "}"))

    def function(self, cls: type[_Record]) -> str:
        """The name of the writer of a record class (generated once)."""
        name = self.functions.get(cls)
        if name is None:
            name = self.functions[cls] = f"_write{self.alias(cls)}"
            guards: list[str] = []
            parts: list[tuple[bool, str]] = []
            self.record(cls, "record", guards, parts)
            self.emit(name, "record", guards, parts)
        return name

    def emit(self, name: str, argument: str, guards: list[str], parts: list[tuple[bool, str]]) -> None:
        """Add the source of a function: the guards, then return the one f-string."""
        body = "".join(f"    {g}\n" for g in guards)
        self.source.append(f"def {name}({argument}):\n{body}    return {_fstring(parts)}\n")


def _event_writer(cls: type[Operation]) -> Callable[[Event], str]:
    """Generate the writer of events whose operation is of class `cls` (raises _UnfitError)."""
    compiler = _Compiler()
    guards = ["op = event.op"]
    parts: list[tuple[bool, str]] = [(False, "{")]
    for i, f in enumerate(sorted(EVENT_FIELDS, key=lambda f: f.name)):
        parts.append((False, ("," if i else "") + _str(f.name) + ":"))
        if f.name == "type":
            parts.append((False, _str(cls.type)))
        elif f.name == "payload" and (_own_dict(cls) or cls.payload is not Operation.payload):
            parts.append((True, "_encode(op.payload())"))
        elif f.name == "payload":
            compiler.fields(record_fields(cls), "op", guards, parts)
        else:
            kind = _KINDS[f.declared]
            parts.append((True, kind.text.format(v=f"event.{f.name}")))
    parts.append((False, "}"))
    compiler.emit("write", "event", guards, parts)
    namespace = dict(compiler.env)
    exec("\n".join(compiler.source), namespace)  # our own generated source, nothing read
    write: Callable[[Event], str] = namespace["write"]
    write.__doc__ = f"The canonical text of a {cls.type} event (generated by workstation.core.codec)."
    return write


_WRITERS: dict[type[Operation], Callable[[Event], str]] = {}


def event_writer(cls: type[Operation]) -> Callable[[Event], str]:
    """The generated writer of events whose operation is of class `cls` (made on first use):
    their canonical text, or TypeError for a value not of its declared type."""
    write = _WRITERS.get(cls)
    if write is None:
        write = _WRITERS[cls] = _event_writer(cls)
    return write


def event_text(event: Event) -> str:
    """The event's canonical JSON text: what the store logs and hashes, and a bundle's line."""
    try:
        return _WRITERS[type(event.op)](event)
    except KeyError:  # the first event of its operation class (writers raise no KeyError)
        if type(event.op) in _WRITERS:
            raise
        event_writer(type(event.op))
        return event_text(event)
    except TypeError:  # _UnfitError, or a value encode_basestring refuses: json says what it makes of it
        return canonical(event_dict(event))


def _event_dict() -> Callable[[Event], JSONObject]:
    """Generate `event_dict`: one dict display, as fast as writing it out by hand."""
    values = {"type": "event.op.type", "payload": "event.op.payload()"}
    items = ", ".join(f"{f.name!r}: {values.get(f.name, 'event.' + f.name)}" for f in EVENT_FIELDS)
    # Any: what exec defines has no static type; the function's is declared where it is taken out.
    namespace: dict[str, Any] = {}
    exec(f"def event_dict(event):\n    return {{{items}}}\n", namespace)  # our own source
    function: Callable[[Event], JSONObject] = namespace["event_dict"]
    function.__doc__ = "The event as plain JSON-able data (the operation's fields under `payload`)."
    return function


#: The event as plain JSON-able data (the operation's fields under `payload`), keys in the
#: order of `EVENT_FIELDS`.
event_dict = _event_dict()

#: An event as `event_dict` gives it, read by key path (`e["payload"]["chain"]["id"]`) by code
#: that selects among events of a log it made. `Any`: the payload's shape is the operation's,
#: one per event type; `Event.from_dict` checks it when events come from outside, and checking
#: it again for every key path read would duplicate those checks.
EventData = Mapping[str, Any]


# -- reading ---------------------------------------------------------------------------

# How a decoded value of a declared type is found wrong (generated code, `{v}` the value), and
# what the message says it must be.
_CHECKS = {
    "str": ("not isinstance({v}, str)", "a string"),
    "str | None": ("{v} is not None and not isinstance({v}, str)", "a string or null"),
}


#: `Event`'s keyword arguments, checked: values of several types (str, Operation, None), which
#: `Event(**kwargs)` takes, so `Any` (a TypedDict would write out the fields this module derives).
EventKwargs = dict[str, Any]


def _event_kwargs() -> Callable[[object], EventKwargs]:
    """Generate `event_kwargs`: the checks of `EVENT_FIELDS` in order, written out."""
    lines = ["def event_kwargs(data):",
             "    if not isinstance(data, dict): raise SchemaError('event: expected an object')"]
    values = []
    for f in EVENT_FIELDS:
        v = f"data[{f.name!r}]"
        if f.required:
            lines.append(f"    if {f.name!r} not in data: raise SchemaError(\"event: missing field '{f.name}'\")")
        else:
            v = f"data.get({f.name!r})"
        check = _CHECKS.get(f.declared)
        if check is not None:
            message = f"event: field '{f.name}' must be {check[1]}"
            lines.append(f"    if {check[0].format(v=v)}: raise SchemaError({message!r})")
        if f.name not in ("type", "payload"):
            values.append(f"{f.name!r}: {v}")
    lines += [
        "    try: Reviewer(data['reviewer_id'], data['role'])",  # its checks: a reviewer id, a known role
        "    except BadInputError as exc: raise SchemaError(f\"event {data['id']}: {exc}\") from None",
        f"    return {{{', '.join(values)}, 'op': operation_from_dict(data['type'], data['payload'])}}",
    ]
    # Any: what exec defines has no static type; the function's is declared where it is taken out.
    namespace: dict[str, Any] = {"SchemaError": SchemaError, "Reviewer": Reviewer, "BadInputError": BadInputError,
                                 "operation_from_dict": operation_from_dict}
    exec("\n".join(lines) + "\n", namespace)  # our own generated source, nothing read
    function: Callable[[object], EventKwargs] = namespace["event_kwargs"]
    function.__doc__ = ("The `Event` fields of decoded event data (`op` built from type and payload); raises "
                        "SchemaError naming what is wrong.")
    return function


#: The `Event` fields of decoded event data (`op` built from its type and payload); raises
#: SchemaError naming what is wrong (the checks of `EVENT_FIELDS`, generated).
event_kwargs = _event_kwargs()


#: A value a field of the fast reader may be pinned to or limited to.
Scalar = str | int | bool | None


def _value_pattern(field: Field, choices: Sequence[Scalar] | None) -> tuple[str, bool]:
    """The regular expression of one field's value (not a fixed one), and whether it has a group."""
    kind = _KINDS.get(field.declared)
    if kind is None or kind.core is None or field.record is not None:
        raise ValueError(f"the fast reader cannot read field '{field.name}' ({field.declared})")
    if kind.many:  # a list of strings: its group is what is between the brackets
        item = f'"{kind.core}"'
        return rf"\[((?:{item}(?:,{item})*)?)\]", True
    core, optional = kind.core, kind.optional
    if choices is not None:
        optional = optional and None in choices
        values: list[str] = []
        for c in choices:
            if c is not None:
                v = c if kind.quoted else canonical(c)
                assert isinstance(v, str) and re.fullmatch(kind.core, v), choices
                values.append(v)
        core = "|".join(re.escape(v) for v in values)
    body = f'"({core})"' if kind.quoted else f"({core})"
    return (f"(?:null|{body})" if optional else body), True



class LineReader:
    """Reads the canonical text of one operation's events when no string in it needs an escape.

    `fields` are the values to give, by path ("id", "payload.annotation.note"), in that order;
    `fixed` pins fields to one value, `choices` limits fields to some values (a line with any
    other value is not read). A value is given as its text: a string as it is, null as None,
    a number as written, a list of strings as what is between its brackets (see `strings`).
    """

    def __init__(self, cls: type[Operation], fields: Sequence[str], *, fixed: Mapping[str, Scalar] | None = None,
                 choices: Mapping[str, Sequence[Scalar]] | None = None) -> None:
        fixed_values: dict[str, Scalar] = dict(fixed or {})
        choice_values = dict(choices or {})
        fixed_values["type"] = cls.type
        self._groups: dict[str, int] = {}
        self._paths: set[str] = set()
        pattern = self._object(sorted(EVENT_FIELDS, key=lambda f: f.name), "", cls, fixed_values, choice_values)
        self.pattern = re.compile(pattern)
        missing = [name for name in fields if name not in self._groups]
        if missing or len(fields) < 2:
            raise ValueError(f"cannot give {missing or fields} (fixed, or not fields of {cls.type})")
        unknown = sorted((set(fixed_values) | set(choice_values)) - self._paths)
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not fields of {cls.type}")
        #: The group numbers of `fields`, in their order: `pattern.fullmatch(text).group(*order)`
        #: is `read(text)`, for a caller that saves the call.
        self.order = tuple(self._groups[name] for name in fields)
        self._match = self.pattern.fullmatch

    def _object(self, fields: Sequence[Field], prefix: str, cls: type[Operation], fixed: dict[str, Scalar],
                choices: dict[str, Sequence[Scalar]]) -> str:
        out = []
        for f in sorted(fields, key=lambda f: f.name):
            path = prefix + f.name
            if f.name == "payload" and not prefix:
                if _own_dict(cls) or cls.payload is not Operation.payload:
                    raise ValueError(f"the fast reader cannot read {cls.type}: it writes its own payload")
                value = self._object(record_fields(cls), "payload.", cls, fixed, choices)
            elif f.record is not None and not f.many and "None" not in f.declared and not _own_dict(f.record):
                value = self._object(record_fields(f.record), path + ".", cls, fixed, choices)
            else:
                if path in fixed:
                    value, group = re.escape(canonical(fixed[path])), False
                else:
                    value, group = _value_pattern(f, choices.get(path))
                self._paths.add(path)
                if group:
                    self._groups[path] = len(self._groups) + 1
            out.append(re.escape(_str(f.name)) + ":" + value)
        return r"\{" + ",".join(out) + r"\}"

    def read(self, text: str) -> tuple[str | None, ...] | None:
        """The asked-for values of a line, in order; None for a line not of this shape."""
        found = self._match(text)
        return None if found is None else found.group(*self.order)

    @staticmethod
    def strings(inside: str) -> list[str]:
        """The strings of a list read by `read` (what was between its brackets)."""
        return inside[1:-1].split('","') if inside else []


def _line_id() -> re.Pattern[str]:
    """The id at the start of a canonical line: the fields sorted before it, then it."""
    out = []
    for f in sorted(EVENT_FIELDS, key=lambda f: f.name):
        if f.name == "id":
            out.append(re.escape(_str("id")) + r':"([^"\\]+)"')
            break
        assert _KINDS[f.declared].quoted and not _KINDS[f.declared].optional, f  # a plain string
        out.append(re.escape(_str(f.name)) + r':"[^"\\]*"')
    return re.compile(r"\{" + ",".join(out))


#: The id at the start of a canonical event line (group 1), found without parsing it.
LINE_ID = _line_id()

