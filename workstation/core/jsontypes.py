"""The types of JSON-shaped data: what `json.loads` gives, what we build to write, and checks.

Records, events, manifests and exports travel as JSON. Typing them `dict[str, Any]` would let
any value through unchecked; these aliases say what a value can be, so a reader must narrow it
(`isinstance`, or `json_object` below) before it relies on a key.

Two spellings, because `dict` and `list` are invariant: a `dict[str, str]` is not a
`dict[str, JSONValue]`. `JSONValue`/`JSONObject` are what we build and what `json.loads` gives
(mutable); `JSONData` is read-only (`Mapping`/`Sequence` are covariant), for a parameter that
only reads its argument or writes it out, so any JSON-shaped value may be passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from workstation.errors import BadInputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: A JSON value as `json.loads` gives it, and as we build one to write.
JSONValue: TypeAlias = "None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]"

#: A JSON object: a manifest, an event, a record's `to_dict`.
JSONObject: TypeAlias = "dict[str, JSONValue]"

#: JSON-shaped data only read (or written out): any mapping, list or tuple of JSON values.
JSONData: TypeAlias = "None | bool | int | float | str | Sequence[JSONData] | Mapping[str, JSONData]"


def json_object(value: object, what: str) -> JSONObject:
    """`value` (decoded JSON) as an object; BadInputError naming `what` if it is anything else."""
    if not isinstance(value, dict):
        raise BadInputError(f"{what}: expected a JSON object, got {_kind(value)}")
    return value


def json_list(value: object, what: str) -> list[JSONValue]:
    """`value` (decoded JSON) as a list; BadInputError naming `what` if it is anything else."""
    if not isinstance(value, list):
        raise BadInputError(f"{what}: expected a JSON list, got {_kind(value)}")
    return value


def json_str(value: object, what: str) -> str:
    """`value` (decoded JSON) as a string; BadInputError naming `what` if it is anything else."""
    if not isinstance(value, str):
        raise BadInputError(f"{what}: expected a string, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
