"""How reviewers' -1/0/+1 labels become one label per step, and how that becomes a boolean.

Nothing here overwrites anyone: every reviewer's latest label stays in the data, and export
time decides how to combine them (`LabelPolicy`), which every export records in its manifest.
An adjudication (an expert's or ethics reviewer's decision, with a reason) always wins.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from workstation.core.jsontypes import JSONData
from workstation.core.model import Annotation, Node
from workstation.core.tree import Tree
from workstation.exchange.errors import ExchangeError

#: What a neutral (0) label becomes in a boolean export. TRL's own PRM800K converter maps 0 to
#: False, so that is the default; "drop" leaves neutral steps out (see each export).
NEUTRAL_CHOICES = ("false", "true", "drop")

#: How several reviewers' labels on one step combine.
#: - majority: the most common label; a tie is unresolved (the step counts as unlabelled).
#: - strict: the lowest label anyone gave (one "wrong" makes it wrong).
#: - unanimous: the label everyone gave; any disagreement leaves it unresolved.
AGGREGATIONS = ("majority", "strict", "unanimous")


@dataclass(frozen=True)
class LabelPolicy:
    """The choices an export makes about labels; recorded in its manifest."""

    neutral: str = "false"
    aggregate: str = "majority"
    #: Only these reviewers' labels count (None: everyone's).
    reviewers: frozenset[str] | None = None
    #: A reviewer's rewrite with no label on it counts as right (+1): they wrote it as the
    #: correct step. Turn off to use rewrites only where someone labelled them.
    rewrite_is_right: bool = True

    def __post_init__(self) -> None:
        if self.neutral not in NEUTRAL_CHOICES:
            raise ExchangeError(f"--neutral-as must be one of {', '.join(NEUTRAL_CHOICES)}, not '{self.neutral}'")
        if self.aggregate not in AGGREGATIONS:
            raise ExchangeError(f"the aggregation must be one of {', '.join(AGGREGATIONS)}, not '{self.aggregate}'")

    def to_dict(self) -> dict[str, JSONData]:
        """The policy as manifest data, with the label mapping spelled out."""
        neutral: dict[str, bool | str] = {"false": False, "true": True, "drop": "dropped"}
        mapping: dict[str, JSONData] = {"1": True, "-1": False, "0": neutral[self.neutral]}
        return {
            "neutral_as": self.neutral,
            "label_mapping": mapping,
            "aggregate": self.aggregate,
            "adjudication": "an adjudication's label wins over every other label",
            "reviewers": sorted(self.reviewers) if self.reviewers is not None else "all",
            "rewrite_is_right": self.rewrite_is_right,
            "labels_on": "the step's current version (older versions' labels are not carried over)",
        }

    def to_bool(self, label: int) -> bool | None:
        """A -1/0/+1 label as a boolean; None when neutral is dropped."""
        if label > 0:
            return True
        if label < 0:
            return False
        return {"false": False, "true": True, "drop": None}[self.neutral]


class LabelIndex:
    """Each reviewer's latest label per (node, version) of one tree, built in one pass.

    `Tree.current_annotations` scans every annotation per call; exports of 100,000 steps need
    one pass instead. `by_node`, `versions_by_node` and `order` are built on first use.
    """

    def __init__(self, tree: Tree, adjudications: dict[str, tuple[str, ...]] | None = None,
                 reviewers: frozenset[str] | None = None) -> None:
        self.tree = tree
        adjudications = adjudications or {}
        #: Ids of every adjudication (labelled or not) this index knows of.
        self.adjudication_ids = frozenset(adjudications)
        #: (node id, version id) -> reviewer id -> their latest annotation with a label.
        self.latest: dict[tuple[str, str], dict[str, Annotation]] = {}
        #: (node id, version id) -> the latest adjudication with a label.
        self.adjudicated: dict[tuple[str, str], Annotation] = {}
        self._by_node: dict[str, list[Annotation]] | None = None
        self._order: dict[str, int] | None = None
        latest = self.latest
        for a in tree.annotations.values():  # creation order: later ones win
            if a.retracted or a.label is None or (reviewers is not None and a.reviewer_id not in reviewers):
                continue
            key = (a.node_id, a.version_id)
            per = latest.get(key)
            if per is None:
                latest[key] = {a.reviewer_id: a}
            else:
                per[a.reviewer_id] = a
            if adjudications and a.id in adjudications:
                self.adjudicated[key] = a

    @property
    def by_node(self) -> dict[str, list[Annotation]]:
        """Node id -> every annotation not retracted (labels, notes, tags), oldest first."""
        if self._by_node is None:
            self._by_node = defaultdict(list)
            for a in self.tree.annotations.values():
                if not a.retracted:
                    self._by_node[a.node_id].append(a)
        return self._by_node

    @property
    def order(self) -> dict[str, int]:
        """Annotation id -> its place in the tree's order (creation, then merge order).

        Clocks of different reviewers' machines disagree; this order does not.
        """
        if self._order is None:
            self._order = {a_id: i for i, a_id in enumerate(self.tree.annotations)}
        return self._order

    @property
    def versions_by_node(self) -> dict[str, list[str]]:
        """Node id -> ids of its versions that carry a counted label."""
        out: dict[str, list[str]] = defaultdict(list)
        for node_id, version_id in self.latest:
            out[node_id].append(version_id)
        return out

    def labels(self, node_id: str, version_id: str) -> dict[str, int]:
        """Reviewer id -> latest label on this version of this node."""
        return {r: a.label for r, a in self.latest.get((node_id, version_id), {}).items()}  # type: ignore[misc]

    def resolve(self, node: Node, version_id: str | None, policy: LabelPolicy) -> tuple[int | None, str]:
        """The combined label of a version (default: current) and why it is None when it is.

        Returns (label, reason): reason is "" when a label was found, else a short phrase for
        the export's skip list ("no label", "reviewers disagree").
        """
        version_id = version_id or node.current_version_id
        key = (node.id, version_id)
        adjudication = self.adjudicated.get(key)
        latest = self.latest.get(key)
        if adjudication is not None and latest is not None:
            # An adjudication decides unless its author labelled the step again afterwards.
            mine = latest.get(adjudication.reviewer_id)
            return (mine.label if mine is not None else adjudication.label), ""
        if not latest:
            if policy.rewrite_is_right and node.version(version_id).origin == "rewrite":
                return 1, ""
            return None, "no label"
        values = [a.label for a in latest.values()]
        return aggregate(values, policy.aggregate)  # type: ignore[arg-type]


def aggregate(values: list[int], how: str) -> tuple[int | None, str]:
    """Combine labels by `how` (see AGGREGATIONS); (None, reason) when unresolved."""
    first = values[0]
    if len(values) == 1 or all(v == first for v in values):
        return first, ""
    if how == "strict":
        return min(values), ""
    if how == "unanimous":
        return (values[0], "") if len(set(values)) == 1 else (None, "reviewers disagree")
    # Three possible values: counting them directly beats collections.Counter here.
    counts = sorted(((values.count(v), v) for v in (-1, 0, 1)), reverse=True)
    if counts[0][0] == counts[1][0]:
        return None, "reviewers disagree (tie)"
    return counts[0][1], ""
