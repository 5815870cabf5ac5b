"""The import's fast lane for `annotated` events, most of any bundle.

The full path parses a line's JSON, builds the core's objects and applies the operation to a
copy of the tree; for a plain annotation that is most of an import's time, and all it decides
is whether a handful of fields are well formed and name a step version of the session. Here a
line written exactly as the store's writer writes an annotation (`codec.event_text`: sorted
keys, no spaces), with no escape in its strings, is read with one regular expression (derived
from the declared fields by `codec.LineReader`) and checked against the session's nodes and
annotation ids directly, giving the rows the store writes.

The lane never refuses anything: a line it is not sure of (another shape, an escape, a check
that fails) takes the full path, which accepts or refuses it with its own message. So the lane
accepts a subset of what the full path accepts, with the same result (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import NamedTuple

from workstation.core.codec import LineReader
from workstation.core.model import LABELS, ROLES, SEVERITIES
from workstation.core.ops import Annotated
from workstation.core.ops.annotations import ANNOTATABLE
from workstation.core.tree import Tree
from workstation.store.writer import AnnotationRow

#: An `annotated` event line written canonically with no escape in its strings, not undoing
#: anything, its annotation not retracted: the values the lane gives, in the order it takes
#: them. The pattern is derived from the declared fields (`core.codec`); only its limits are here.
_READER = LineReader(
    Annotated,
    ("id", "session_id", "at", "reviewer_id", "role", "payload.annotation.id", "payload.annotation.node_id",
     "payload.annotation.version_id", "payload.annotation.reviewer_id", "payload.annotation.role",
     "payload.annotation.session_id", "payload.annotation.created_at", "payload.annotation.label",
     "payload.annotation.note", "payload.annotation.tags", "payload.annotation.severity"),
    fixed={"reverts": None, "payload.annotation.retracted": False},
    choices={"role": ROLES, "payload.annotation.role": ROLES, "payload.annotation.label": (*LABELS, None),
             "payload.annotation.severity": (*SEVERITIES, None)},
)
# The reader's parts, bound once: `candidate` runs for every line of every bundle.
_match = _READER.pattern.fullmatch
_ORDER = _READER.order
_strings = LineReader.strings
_LABELS: dict[str | None, int | None] = {str(label): label for label in LABELS} | {None: None}


class SessionView(NamedTuple):
    """What the lane checks an annotation against: the session's nodes that take annotations
    (node id -> ids of its versions) and the ids of the annotations it holds."""

    versions: Mapping[str, Container[str]]
    annotation_ids: Container[str]

    @classmethod
    def of_tree(cls, tree: Tree, annotation_ids: Container[str] | None = None) -> SessionView:
        """The view of a tree (its own annotations unless `annotation_ids` is given)."""
        return cls(
            {n.id: {v.id for v in n.versions} for n in tree.nodes.values() if n.kind in ANNOTATABLE},
            tree.annotations if annotation_ids is None else annotation_ids,
        )

    @classmethod
    def of_index(cls, nodes: Mapping[str, tuple[str, Container[str]]], annotation_ids: Container[str]) -> SessionView:
        """The view of a store's `annotation_index` entry."""
        return cls({nid: versions for nid, (kind, versions) in nodes.items() if kind in ANNOTATABLE}, annotation_ids)


def candidate(text: str) -> AnnotationRow | None:
    """The rows for a line written exactly as the writer writes an annotation whose fields
    are all well formed, else None. Whether it fits its session is `fits`'s to say.

    Depends on nothing but the line, so a bundle's lines can be read ahead (`candidates`).
    The checks are those of `bundle.parse_event` and `Annotation`; with `fits`, those of
    `Annotated.check` too.
    """
    found = _match(text)
    if found is None:
        return None
    (event_id, session_id, at, reviewer_id, role, annotation_id, node_id, version_id, a_reviewer, a_role,
     a_session, created_at, label, note, tags, severity) = found.group(*_ORDER)  # fmt: skip
    if not (event_id and session_id and reviewer_id and at) or a_session != session_id:
        return None
    tag_list = _strings(tags)
    for tag in tag_list:
        if not tag.strip():
            return None
    value = _LABELS[label]
    if value is None and severity is None and not tag_list and not note.strip():
        return None
    return AnnotationRow(event_id, session_id, at, reviewer_id, role, text, annotation_id, node_id,
                         version_id, a_reviewer, a_role, created_at, value, note, tag_list, severity)


def candidates(lines: Iterable[str]) -> list[AnnotationRow | None]:
    """`candidate` of every line."""
    return [candidate(text) for text in lines]


def fits(row: AnnotationRow, view: SessionView, fresh: Container[str]) -> bool:
    """Whether a candidate fits its session as the full path would find it: a new annotation
    (not in `view`, nor in `fresh`: those the bundle added so far) of a version of a step,
    answer or reply of the session."""
    if row.annotation_id in view.annotation_ids or row.annotation_id in fresh:
        return False
    versions = view.versions.get(row.node_id)
    return versions is not None and row.version_id in versions
