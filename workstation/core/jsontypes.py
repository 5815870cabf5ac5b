"""The types of JSON-shaped data: what `json.loads` gives and what we build to write.

Records, events, manifests and exports travel as JSON. Typing them `dict[str, Any]` would let
any value through unchecked; these aliases say what a value can be, so a reader must narrow it
(`isinstance`) before it relies on a key.

Two spellings, because `dict` and `list` are invariant: a `dict[str, str]` is not a
`dict[str, JSONValue]`. `JSONValue`/`JSONObject` are what we build and what `json.loads` gives
(mutable); `JSONData` is read-only (`Mapping`/`Sequence` are covariant), for a parameter that
only reads its argument or writes it out, so any JSON-shaped value may be passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: A JSON value as `json.loads` gives it, and as we build one to write.
JSONValue: TypeAlias = "None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]"

#: A JSON object: a manifest, an event, a record's `to_dict`.
JSONObject: TypeAlias = "dict[str, JSONValue]"

#: JSON-shaped data only read (or written out): any mapping, list or tuple of JSON values.
JSONData: TypeAlias = "None | bool | int | float | str | Sequence[JSONData] | Mapping[str, JSONData]"

