"""The data model of a review: sessions, nodes with their versions, chains, annotations, flags.

Every object here is an immutable dataclass that turns into a plain JSON-able dict and back
(`to_dict` / `from_dict`), because the store writes them as rows and bundles ship them as JSON.
The tree that holds them is `workstation.core.tree.Tree`; every change to it is an operation in
`workstation.core.ops`.

Names and fields are a contract with the store and the exchange layer: add fields (with
defaults), never rename or remove them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from workstation.core.jsontypes import JSONObject
from workstation.errors import BadInputError

#: What a node in the tree is. Only `step` and `answer` nodes form the chain that later prompts
#: continue from; `challenge` and `reply` nodes hang off a step and never enter those prompts.
NODE_KINDS = ("question", "step", "answer", "challenge", "reply")

#: Where a version's text came from: the model, a reviewer's rewrite of a model step, or text a
#: reviewer typed in the first place (the question, a challenge).
ORIGINS = ("model", "rewrite", "reviewer")

#: Reviewer roles, as stored. `ROLE_NAMES` gives the words shown to people.
ROLES = ("annotator", "expert", "ethics_reviewer")
ROLE_NAMES = {"annotator": "annotator", "expert": "expert", "ethics_reviewer": "ethics reviewer"}

#: A step's label: wrong, neutral, right.
LABELS = (-1, 0, 1)

#: How bad a problem in a step is, when a reviewer says so.
SEVERITIES = ("minor", "major", "critical")

#: How a chain came to be: the first generation, a regeneration from some step, a challenge reply.
CHAIN_KINDS = ("generate", "regenerate", "challenge")

#: The tag vocabulary a new database starts with; users add and remove tags (see TagVocabulary).
DEFAULT_TAGS = (
    "arithmetic error",
    "logic error",
    "unsupported claim",
    "factual error",
    "irrelevant",
    "repetition",
    "incomplete",
    "unclear",
    "code error",
    "unsafe",
    "biased",
    "good insight",
)

#: A flag's severity: `info` is worth a look, `warning` is probably wrong. Flags never block.
FLAG_SEVERITIES = ("info", "warning")


def now_iso() -> str:
    """The current time as an ISO 8601 string in UTC with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SchemaError(BadInputError):
    """A dict read from a file or a bundle does not describe a valid object."""


_T = TypeVar("_T", bound="_Record")


class _Record:
    """Shared dict conversion for the frozen dataclasses below.

    Tuples become lists, nested records become dicts; `from_dict` checks required keys and
    ignores unknown ones so that files from a newer version with added fields still load.
    """

    #: Fields holding nested records: name -> (record class, is_tuple).
    _nested: ClassVar[dict[str, tuple[type[_Record], bool]]] = {}
    #: Every subclass is a dataclass; declared so that `dataclasses.fields` accepts one. `Any`:
    #: the fields of different subclasses hold values of different types.
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def to_dict(self) -> JSONObject:
        """This object as a plain dict of JSON-able values."""
        out: JSONObject = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._nested:
                _, many = self._nested[f.name]
                value = [v.to_dict() for v in value] if many else (value.to_dict() if value is not None else None)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: type[_T], data: object) -> _T:
        """Build the object from `to_dict` output; raises SchemaError naming the missing field."""
        if not isinstance(data, dict):
            raise SchemaError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        # Values of many types, each checked below against its field's declared type.
        kwargs: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise SchemaError(f"{cls.__name__}: missing field '{f.name}'")
                continue
            value = data[f.name]
            if f.name in cls._nested:
                sub, many = cls._nested[f.name]
                if many:
                    if not isinstance(value, list):
                        raise SchemaError(f"{cls.__name__}.{f.name}: expected a list")
                    value = tuple(sub.from_dict(v) for v in value)
                elif value is not None:
                    value = sub.from_dict(value)
                elif "None" not in str(f.type):
                    # A required object given as null (a damaged or hostile bundle) is refused
                    # here, not found missing later by code that relies on it.
                    raise SchemaError(f"{cls.__name__}.{f.name}: expected an object, got null")
            else:
                check = _TYPE_CHECKS.get(str(f.type))
                if check is not None and not check(value):
                    raise SchemaError(
                        f"{cls.__name__}.{f.name}: expected {f.type}, got {type(value).__name__}"
                    )
                if isinstance(value, list):
                    value = tuple(value)
            kwargs[f.name] = value
        try:
            return cls(**kwargs)
        except BadInputError as exc:
            raise SchemaError(f"{cls.__name__}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{cls.__name__}: {exc}") from exc


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Checks of JSON values by the fields' declared types, so that a malformed file is a clear
# SchemaError at load time rather than a TypeError somewhere later.
_TYPE_CHECKS: dict[str, Callable[[object], bool]] = {
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "float | None": lambda v: v is None or _is_number(v),
    "bool": lambda v: isinstance(v, bool),
    "tuple[str, ...]": lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v),
}


def _check(condition: bool, message: str) -> None:
    # Only for fixed messages: an f-string argument is built on every call, failing or not
    # (once a quarter of an import's time), so those checks raise where they fail instead.
    if not condition:
        raise BadInputError(message)


@dataclass(frozen=True)
class Reviewer(_Record):
    """Who did something: a stable reviewer id and the role they acted in."""

    id: str
    role: str = "annotator"
    name: str = ""

    def __post_init__(self) -> None:
        _check(bool(self.id) and isinstance(self.id, str), "a reviewer id must be a non-empty string")
        if self.role not in ROLES:
            raise BadInputError(f"unknown reviewer role '{self.role}' (known: {', '.join(ROLES)})")


@dataclass(frozen=True)
class Flag(_Record):
    """One finding of an automated check on a version's text; informs, never blocks.

    `start`/`end` index the version's `text` (end exclusive); both 0 when the flag is about the
    whole step rather than a span of it.
    """

    check: str
    message: str
    start: int = 0
    end: int = 0
    severity: str = "warning"

    def __post_init__(self) -> None:
        if self.severity not in FLAG_SEVERITIES:
            raise BadInputError(f"unknown flag severity '{self.severity}'")
        if not (0 <= self.start <= self.end):
            raise BadInputError(f"bad flag span {self.start}..{self.end}")


@dataclass(frozen=True)
class Version(_Record):
    """One text of a node: the model's original, a reviewer's rewrite, or typed text.

    `text` is the display text (think tags and surrounding blank space stripped), the text a
    reviewer reads, labels and rewrites. `raw` is the exact span of model output the step came
    from (for rewrites and typed text it equals `text`); joining a chain's raw spans gives the
    model's output back byte for byte, and prompts reuse them so the engine's KV cache matches.
    """

    id: str
    node_id: str
    text: str
    raw: str
    origin: str
    author: str
    role: str
    created_at: str
    flags: tuple[Flag, ...] = ()
    #: The engine's confidence in the tokens of this step (model versions only).
    mean_logprob: float | None = None
    min_token_prob: float | None = None
    token_count: int | None = None

    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"flags": (Flag, True)}

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise BadInputError(f"unknown version origin '{self.origin}'")


@dataclass(frozen=True)
class Node(_Record):
    """A node of the review tree with every version it ever had.

    `position` is the step number along the chain: 0 for the question, 1 for the first step,
    the same number for alternatives of the same step; a challenge and its reply carry the
    position of the step they are about. `deleted` hides a branch; nothing is ever removed.
    """

    id: str
    session_id: str
    kind: str
    parent_id: str | None
    chain_id: str | None
    position: int
    versions: tuple[Version, ...]
    current_version_id: str
    deleted: bool = False

    _nested: ClassVar[dict[str, tuple[type, bool]]] = {"versions": (Version, True)}

    def __post_init__(self) -> None:
        if self.kind not in NODE_KINDS:
            raise BadInputError(f"unknown node kind '{self.kind}'")
        if len(self.versions) == 0:
            raise BadInputError(f"node {self.id} has no version")
        if not any(v.id == self.current_version_id for v in self.versions):
            raise BadInputError(
                f"node {self.id}: current version {self.current_version_id} is not one of its versions"
            )

    @property
    def current(self) -> Version:
        """The version later prompts and exports use."""
        for version in self.versions:
            if version.id == self.current_version_id:
                return version
        raise AssertionError("checked in __post_init__")  # pragma: no cover

    @property
    def original(self) -> Version:
        """The first version (the model's own text for a model step)."""
        return self.versions[0]

    @property
    def text(self) -> str:
        """The current version's display text."""
        return self.current.text

    def version(self, version_id: str) -> Version:
        """The version with this id; raises BadInputError if the node has none such."""
        for version in self.versions:
            if version.id == version_id:
                return version
        raise BadInputError(f"step {self.id} has no version {version_id}")


@dataclass(frozen=True)
class Chain(_Record):
    """One piece of model output and how it was made; its nodes are the steps split from it.

    `parent_id` is the node the chain continues from (the question for a first generation,
    step k-1 when regenerating from step k, the challenge node for a reply). `raw_text` is the
    model's exact output; `critique` is the guidance given when regenerating with a critique.
    The engine's generation record (model file, sampling, timings) is stored under this id.
    """

    id: str
    session_id: str
    parent_id: str
    kind: str
    raw_text: str
    splitter_name: str
    splitter_version: str
    template_name: str
    template_version: str
    author: str
    role: str
    created_at: str
    node_ids: tuple[str, ...] = ()
    critique: str | None = None
    model: str = ""
    finish_reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CHAIN_KINDS:
            raise BadInputError(f"unknown chain kind '{self.kind}'")


@dataclass(frozen=True)
class Annotation(_Record):
    """One reviewer's judgement of one version of a step.

    Annotations are never edited: annotating again adds a new one, and the latest one per
    reviewer and node is that reviewer's current judgement (`Tree.current_annotations`).
    `label` is -1/0/+1, or None for a note or tags without a verdict. `retracted` is set by
    undo; the annotation stays in the record.
    """

    id: str
    session_id: str
    node_id: str
    version_id: str
    reviewer_id: str
    role: str
    created_at: str
    label: int | None = None
    note: str = ""
    tags: tuple[str, ...] = ()
    severity: str | None = None
    retracted: bool = False

    def __post_init__(self) -> None:
        if not (
            self.label is None or (isinstance(self.label, int) and not isinstance(self.label, bool) and self.label in LABELS)
        ):
            raise BadInputError(f"a label must be -1, 0 or 1, not {self.label!r}")
        if self.role not in ROLES:
            raise BadInputError(f"unknown reviewer role '{self.role}' (known: {', '.join(ROLES)})")
        if not (self.severity is None or self.severity in SEVERITIES):
            raise BadInputError(f"unknown severity '{self.severity}' (known: {', '.join(SEVERITIES)})")
        _check(all(isinstance(t, str) and t.strip() for t in self.tags), "tags must be non-empty strings")


@dataclass(frozen=True)
class Session(_Record):
    """A review of one question: who started it, with which prompt template, and when.

    `deleted` hides the session from lists and searches (`SessionDeleted`); nothing of it is
    removed, and `SessionRestored` (or undo) shows it again.
    """

    id: str
    title: str
    question: str
    template_name: str
    template_version: str
    created_at: str
    reviewer_id: str
    role: str = "annotator"
    deleted: bool = False

    def to_dict(self) -> JSONObject:
        """As `_Record.to_dict`, leaving out `deleted` while it is False: a session starts
        undeleted, and the `session_started` events written before the field existed must
        serialize to the same text (the event log's hash chain and bundle imports compare it)."""
        out = super().to_dict()
        if not self.deleted:
            del out["deleted"]
        return out


@dataclass(frozen=True)
class TagVocabulary(_Record):
    """The tags offered when annotating; starts with DEFAULT_TAGS, users add and remove tags.

    Tags on existing annotations stay as they are when a tag leaves the vocabulary.
    """

    tags: tuple[str, ...] = field(default=DEFAULT_TAGS)

    def with_tag(self, tag: str) -> TagVocabulary:
        """A vocabulary that also offers `tag` (trimmed); the same one if it is already there."""
        tag = tag.strip()
        _check(bool(tag), "a tag must not be empty")
        return self if tag in self.tags else TagVocabulary(self.tags + (tag,))

    def without_tag(self, tag: str) -> TagVocabulary:
        """A vocabulary that no longer offers `tag`."""
        return TagVocabulary(tuple(t for t in self.tags if t != tag.strip()))
