"""Agreement between reviewers, the disagreement queue, adjudication, team statistics.

A unit is one version of one step: reviewers agree or disagree about the text they saw.
Each reviewer's latest label on a unit counts (`LabelIndex`), never anyone else's.

- Krippendorff's alpha at the ordinal level (-1 < 0 < +1), explicitly: the `krippendorff`
  package defaults to interval. Units with one label carry no pairs and drop out.
- Cohen's kappa for every pair of reviewers over the units both labelled, in numpy.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from workstation.core import build
from workstation.core.model import LABELS, Reviewer
from workstation.core.ops import Adjudicated
from workstation.core.tree import Tree
from workstation.exchange.corpus import ReviewSet, live_chain_nodes
from workstation.exchange.errors import ExchangeError
from workstation.exchange.labels import LabelIndex, LabelPolicy

_CODE = re.compile(r"```|~~~|^\s*(def |class |import |for .* in |return )", re.M)
_ARITHMETIC = re.compile(r"\d\s*[-+*/×÷^]\s*\d|=\s*-?\d")
#: Error rates count a step wrong when the majority (or an adjudication) says so.
_MAJORITY = LabelPolicy(aggregate="majority", rewrite_is_right=False)


class LabelOf(TypedDict):
    """One reviewer's latest label on a disagreement's step."""

    label: int
    role: str
    annotation_id: str


class DisagreementData(TypedDict):
    """A `Disagreement` as JSON-able data (`Disagreement.to_dict`)."""

    session_id: str
    node_id: str
    version_id: str
    position: int
    text: str
    #: reviewer id -> that reviewer's latest label.
    labels: dict[str, LabelOf]


class QueueItem(DisagreementData, total=False):
    """A disagreement as a queue lists it, with the title of its session."""

    session_title: str


class ReviewerStats(TypedDict):
    """One reviewer's counts in `compute_stats`; distributions keyed by the label as text."""

    role: str
    annotations: int
    labels: int  # on the versions current now (a label belongs to the version it was given on)
    labels_on_earlier_versions: int
    notes: int
    label_distribution: dict[str, int]
    label_share: dict[str, float | None]


class KappaPair(TypedDict):
    """Cohen's kappa of two reviewers over the units both labelled (None: undefined)."""

    reviewers: list[str]
    units: int
    kappa: float | None


class AgreementStats(TypedDict):
    """Agreement over all units (labelled step versions)."""

    units: int
    units_with_two_or_more_labels: int
    krippendorff_alpha_ordinal: float | None
    cohen_kappa_pairs: list[KappaPair]


class TagCount(TypedDict):
    """How often a tag was used."""

    tag: str
    count: int


class FlagCount(TypedDict):
    """How often an automated check flagged a step."""

    check: str
    count: int


class ChallengeCount(TypedDict):
    """How often steps of one type were challenged."""

    type: str
    challenges: int


class ModelStats(TypedDict):
    """A model's labelled steps and error rate (None when none is labelled)."""

    labelled_steps: int
    wrong: int
    error_rate: float | None


class TeamStats(TypedDict):
    """Team statistics (`compute_stats`), as `stats --json` prints them."""

    sessions: int
    reviewers: dict[str, ReviewerStats]
    agreement: AgreementStats
    tags: list[TagCount]
    flags: list[FlagCount]
    challenged_step_types: list[ChallengeCount]
    models: dict[str, ModelStats]
    disagreements: int


@dataclass(frozen=True)
class Disagreement:
    """A step whose current version reviewers labelled differently, awaiting adjudication."""

    session_id: str
    node_id: str
    version_id: str
    position: int
    text: str
    #: reviewer id -> (label, role, annotation id), each reviewer's latest label.
    labels: dict[str, tuple[int, str, str]]

    def to_dict(self) -> DisagreementData:
        """As JSON-able data."""
        return {
            "session_id": self.session_id, "node_id": self.node_id, "version_id": self.version_id,
            "position": self.position, "text": self.text,
            "labels": {r: {"label": lab, "role": role, "annotation_id": a} for r, (lab, role, a) in self.labels.items()},
        }  # fmt: skip


def disagreements(reviews: ReviewSet) -> list[Disagreement]:
    """The disagreement queue: live steps whose current version has differing latest labels
    and no adjudication after them; in session, then position, order."""
    queue = []
    for tree in reviews.trees:
        queue.extend(_tree_disagreements(tree, LabelIndex(tree, reviews.adjudications)))
    queue.sort(key=lambda d: (d.session_id, d.position))
    return queue


def _tree_disagreements(tree: Tree, index: LabelIndex) -> list[Disagreement]:
    found = []
    for key in _open_disagreements(tree, index):
        node = tree.nodes[key[0]]
        # `latest` holds labelled annotations only; the test says so to the type checker.
        labels = {r: (a.label, a.role, a.id) for r, a in index.latest[key].items() if a.label is not None}
        found.append(Disagreement(tree.session.id, node.id, key[1], node.position, node.text, labels))
    return found


def _open_disagreements(tree: Tree, index: LabelIndex) -> list[tuple[str, str]]:
    """(node id, version id) of every live current version with differing latest labels and
    no adjudication after them."""
    found = []
    nodes = tree.nodes
    for key, latest in index.latest.items():
        if len(latest) < 2:
            continue
        labels = iter(latest.values())
        first = next(labels).label
        if all(a.label == first for a in labels):
            continue
        node = nodes[key[0]]
        if node.deleted or key[1] != node.current_version_id:
            continue
        adjudication = index.adjudicated.get(key)
        if adjudication is not None:
            others = [a for a in latest.values() if a.reviewer_id != adjudication.reviewer_id]
            # Settled, unless someone labelled again after the adjudication.
            if all(index.order[a.id] < index.order[adjudication.id] for a in others):
                continue
        found.append(key)
    return found


def adjudicate(tree: Tree, node_id: str, reviewer: Reviewer, label: int, reason: str,
               at: str | None = None) -> Adjudicated:
    """The adjudication of a step by an expert or ethics reviewer, settling every other
    reviewer's latest label on its current version. Apply it as any operation
    (`Store.apply(session_id, op, reviewer)`); its check refuses other roles and no reason."""
    if reviewer.role not in ("expert", "ethics_reviewer"):
        raise ExchangeError(f"only an expert or an ethics reviewer can adjudicate; '{reviewer.id}' is {reviewer.role}")
    node = tree.node(node_id)
    settles = [a.id for a in tree.current_annotations(node.id).values()
               if a.reviewer_id != reviewer.id and a.label is not None and a.version_id == node.current_version_id]
    return build.adjudicate(tree, node.id, reviewer, label, reason, settles, at=at)


# -- coefficients ----------------------------------------------------------------------


def cohen_kappa(a: np.ndarray, b: np.ndarray, categories: tuple[int, ...] = LABELS) -> float | None:
    """Cohen's kappa of two equal-length label arrays; None when undefined (no items, or
    both reviewers used one and the same label throughout)."""
    n = len(a)
    if n == 0:
        return None
    k = len(categories)
    ia = np.searchsorted(np.asarray(categories), a)
    ib = np.searchsorted(np.asarray(categories), b)
    confusion = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k) / n
    observed = float(np.trace(confusion))
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha(matrix: np.ndarray) -> float | None:
    """Krippendorff's alpha, ordinal level, of a reviewers x units matrix (nan = missing).

    None when there is nothing to compare (fewer than two labels on every unit, or a single
    label value throughout).
    """
    import krippendorff

    if matrix.size == 0:
        return None
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    matrix = matrix[:, pairable]
    values = matrix[~np.isnan(matrix)]
    if matrix.shape[1] == 0 or len(np.unique(values)) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=matrix, value_domain=list(LABELS), level_of_measurement="ordinal"))


def step_type(text: str, kind: str) -> str:
    """A coarse type for a step, for "which kinds of step get challenged": answer, code,
    arithmetic or text."""
    if kind == "answer":
        return "answer"
    if _CODE.search(text):
        return "code"
    if _ARITHMETIC.search(text):
        return "arithmetic"
    return "text"


# -- statistics ------------------------------------------------------------------------


def compute_stats(reviews: ReviewSet, top: int = 10) -> TeamStats:
    """Team statistics as a JSON-able dict (what `stats --json` prints).

    Keys: reviewers (per reviewer: role, annotations, labels, label distribution, notes),
    agreement (units, alpha_ordinal, pairwise kappa), tags, flags, challenged_step_types,
    models (per model: labelled steps, wrong, error rate), disagreements (queue length).
    """
    reviewer_ids: dict[str, int] = {}
    roles: dict[str, str] = {}
    annotation_counts: Counter[str] = Counter()
    note_counts: Counter[str] = Counter()
    unit_rows: list[int] = []
    unit_vals: list[int | None] = []  # never None (`latest` is labelled); None would read as missing
    unit_sizes: list[int] = []
    unit_current: list[bool] = []  # whether a unit is its step's current version
    tags: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    challenged: Counter[str] = Counter()
    models: dict[str, Counter[str]] = defaultdict(Counter)
    queue = 0
    for tree in reviews.trees:
        index = LabelIndex(tree, reviews.adjudications)
        queue += len(_open_disagreements(tree, index))
        live = [a for a in tree.annotations.values() if not a.retracted]
        annotation_counts.update(a.reviewer_id for a in live)
        note_counts.update(a.reviewer_id for a in live if a.note.strip())
        for a in live:
            if a.tags:
                tags.update(a.tags)
            roles[a.reviewer_id] = a.role
        nodes = tree.nodes
        model_counts: dict[str, list[int]] = {}  # model -> [labelled, wrong], this tree
        for (node_id, version_id), latest in index.latest.items():
            node = nodes[node_id]
            if node.deleted:
                continue
            for reviewer_id, a in latest.items():
                col = reviewer_ids.get(reviewer_id)
                if col is None:
                    col = reviewer_ids[reviewer_id] = len(reviewer_ids)
                unit_rows.append(col)
                unit_vals.append(a.label)
            unit_sizes.append(len(latest))
            unit_current.append(version_id == node.current_version_id)
            if version_id == node.current_version_id:
                label, _ = index.resolve(node, version_id, _MAJORITY)
                if label is not None:
                    model = node.chain_id or ""
                    counts = model_counts.get(model)
                    if counts is None:
                        counts = model_counts[model] = [0, 0]
                    counts[0] += 1
                    counts[1] += label < 0
        for chain_id, (labelled, wrong) in model_counts.items():
            chain = tree.chains.get(chain_id)
            info = reviews.models.get(chain_id)
            name = (info.name if info is not None and info.name else chain.model if chain is not None else "")
            m = models[name or "(unknown)"]
            m["labelled"] += labelled
            m["wrong"] += wrong
        for node in live_chain_nodes(tree):
            n_challenges = len(tree.challenges(node.id))
            if n_challenges:
                challenged[step_type(node.text, node.kind)] += n_challenges
            for version in node.versions:  # the model's flags count even after a rewrite
                for flag in version.flags:
                    flags[flag.check] += 1
    units = len(unit_sizes)
    matrix = np.full((len(reviewer_ids), units), np.nan)
    if unit_vals:
        unit_cols = np.repeat(np.arange(units), np.asarray(unit_sizes))
        matrix[np.asarray(unit_rows), unit_cols] = np.asarray(unit_vals, dtype=float)
    names = list(reviewer_ids)
    present = ~np.isnan(matrix)
    pairs: list[KappaPair] = []
    for i, j in itertools.combinations(range(len(names)), 2):
        both = present[i] & present[j]
        n = int(both.sum())
        if n == 0:
            continue
        kappa = cohen_kappa(matrix[i, both].astype(int), matrix[j, both].astype(int))
        pairs.append({"reviewers": [names[i], names[j]], "units": n, "kappa": kappa})
    # One rule everywhere (the window, exports, the error rate): a label belongs to the version it
    # was given on, so a reviewer's labels are those on current versions; agreement still uses
    # every version (two reviewers who judged the same text agree or not whatever came after).
    current = np.asarray(unit_current, dtype=bool)
    distribution = {rid: {v: int((matrix[k][current] == v).sum()) for v in LABELS} for rid, k in reviewer_ids.items()}
    earlier = {rid: int((~np.isnan(matrix[k][~current])).sum()) for rid, k in reviewer_ids.items()}
    reviewers_out: dict[str, ReviewerStats] = {}
    for rid in sorted(annotation_counts):
        dist = distribution.get(rid, {v: 0 for v in LABELS})
        labelled = sum(dist.values())
        reviewers_out[rid] = {
            "role": roles.get(rid, ""),
            "annotations": annotation_counts[rid],
            "labels": labelled,
            "labels_on_earlier_versions": earlier.get(rid, 0),
            "notes": note_counts[rid],
            "label_distribution": {str(v): dist[v] for v in LABELS},
            "label_share": {str(v): (dist[v] / labelled if labelled else None) for v in LABELS},
        }
    return {
        "sessions": len(reviews.trees),
        "reviewers": reviewers_out,
        "agreement": {
            "units": units,
            "units_with_two_or_more_labels": int((np.asarray(unit_sizes) >= 2).sum()),
            "krippendorff_alpha_ordinal": krippendorff_alpha(matrix),
            "cohen_kappa_pairs": pairs,
        },
        "tags": [{"tag": t, "count": n} for t, n in tags.most_common(top)],
        "flags": [{"check": f, "count": n} for f, n in flags.most_common(top)],
        "challenged_step_types": [{"type": t, "challenges": n} for t, n in challenged.most_common()],
        "models": {
            name: {"labelled_steps": c["labelled"], "wrong": c["wrong"],
                   "error_rate": c["wrong"] / c["labelled"] if c["labelled"] else None}
            for name, c in sorted(models.items())
        },
        "disagreements": queue,
    }

