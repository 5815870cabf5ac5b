"""Exports in the dataset formats Hugging Face TRL trains from (see shared FORMATS.md).

- `trl-stepwise` (PRMTrainer): {"prompt": str, "completions": [str], "labels": [bool]}.
- `trl-preference` (DPO and others): {"prompt": str, "chosen": str, "rejected": str}.
- `kto` (unpaired preference): {"prompt": str, "completion": str, "label": bool}.

Only those fields are written, with exactly those types: TRL drops or chokes on others. Ids
and provenance go to the manifest beside the file instead.
"""

from __future__ import annotations

from pathlib import Path

from workstation.core.tree import CHAIN_NODE_KINDS
from workstation.exchange.corpus import (
    DEFAULT_SEPARATOR,
    Prefixes,
    ReviewSet,
    chain_steps,
    continuation,
    live_chain_nodes,
    model_version,
)
from workstation.exchange.labels import LabelIndex, LabelPolicy
from workstation.exchange.result import AtomicWriter, ExportResult, dumps_line, json_str, write_manifest


def export_stepwise(
    reviews: ReviewSet, out: Path, policy: LabelPolicy = LabelPolicy(), separator: str = DEFAULT_SEPARATOR
) -> ExportResult:
    """One row per session: the preferred branch's steps (current versions) and their labels.

    A step without a resolved label (none given, reviewers disagree) ends the row there, as
    does a neutral step when neutral labels are dropped: later steps would be judged in a
    context the row no longer shows. A session whose first step has no label is skipped.
    """
    result = ExportResult("trl-stepwise", Path(out))
    with AtomicWriter(result.path) as f:
        for tree in reviews.trees:
            index = LabelIndex(tree, reviews.adjudications, policy.reviewers)
            steps = chain_steps(tree.preferred_path())
            if not steps:
                result.skip(tree.session.id, "session", "no model steps")
                continue
            completions: list[str] = []
            labels: list[bool] = []
            for i, node in enumerate(steps):
                label, reason = index.resolve(node, None, policy)
                value = policy.to_bool(label) if label is not None else None
                if value is None:
                    reason = reason or "neutral label dropped"
                    result.skip(tree.session.id, f"steps {i + 1}-{len(steps)} ({node.id})", reason)
                    break
                completions.append(node.text)
                labels.append(value)
            if not completions:
                continue
            f.write(dumps_line({"prompt": tree.question.text, "completions": completions, "labels": labels}))
            result.rows += 1
    write_manifest(result, label_policy=policy.to_dict(), separator=separator,
                   branch="preferred (else shown) alternative at every step", **_provenance(reviews))
    return result


def export_preference(reviews: ReviewSet, out: Path, separator: str = DEFAULT_SEPARATOR) -> ExportResult:
    """Pairs from rewrites (the rewrite over the model's step) and from preferred branches.

    - Rewrite: prompt = question + earlier steps, chosen = the reviewer's rewrite (the step's
      current version), rejected = the model's own text of that step.
    - Branch: below a step where a reviewer preferred one alternative, prompt = question +
      steps before it, chosen = the preferred branch to its end, rejected = each other live
      alternative's branch to its end.
    """
    result = ExportResult("trl-preference", Path(out))
    counts = {"rewrite": 0, "branch": 0}
    with AtomicWriter(result.path) as f:
        for tree in reviews.trees:
            prefixes = Prefixes(tree, separator)
            for node in live_chain_nodes(tree):
                if len(node.versions) < 2:
                    continue
                current = node.current
                if current.origin != "rewrite":
                    result.skip(tree.session.id, node.id, "rewrite reverted to the model's text")
                    continue
                f.write(dumps_line({"prompt": prefixes.before(node), "chosen": current.text,
                                    "rejected": model_version(node).text}))
                counts["rewrite"] += 1
            for parent_id in tree.preferred:
                chosen_node = tree.preferred_child(parent_id)
                if chosen_node is None or tree.nodes[parent_id].deleted:
                    continue
                others = [n for n in tree.children(parent_id, CHAIN_NODE_KINDS) if n.id != chosen_node.id]
                if not others:
                    result.skip(tree.session.id, chosen_node.id, "preferred branch has no live alternative")
                    continue
                prompt = prefixes.through(parent_id)
                chosen = separator.join(n.text for n in continuation(tree, chosen_node))
                for other in others:
                    rejected = separator.join(n.text for n in continuation(tree, other))
                    f.write(dumps_line({"prompt": prompt, "chosen": chosen, "rejected": rejected}))
                    counts["branch"] += 1
    result.rows = counts["rewrite"] + counts["branch"]
    write_manifest(result, pairs=counts, separator=separator, **_provenance(reviews))
    return result


def export_kto(
    reviews: ReviewSet, out: Path, policy: LabelPolicy = LabelPolicy(), separator: str = DEFAULT_SEPARATOR
) -> ExportResult:
    """One row per labelled version of every live step, in every branch.

    prompt = question + earlier steps of its branch; completion = that version's text (the
    model's original and a rewrite each get their own row when each has a label).
    """
    result = ExportResult("kto", Path(out))
    with AtomicWriter(result.path) as f:
        for tree in reviews.trees:
            index = LabelIndex(tree, reviews.adjudications, policy.reviewers)
            prefixes = Prefixes(tree, separator)
            labelled_versions = index.versions_by_node
            for node in live_chain_nodes(tree):
                labelled = labelled_versions.get(node.id, ())
                for version in node.versions:
                    if version.id not in labelled and not (policy.rewrite_is_right and version.origin == "rewrite"):
                        continue
                    label, reason = index.resolve(node, version.id, policy)
                    value = policy.to_bool(label) if label is not None else None
                    if value is None:
                        result.skip(tree.session.id, f"{node.id}/{version.id}", reason or "neutral label dropped")
                        continue
                    # Written by hand: the prompt's JSON is memoized per node (see Prefixes).
                    f.write(f'{{"prompt":{prefixes.json_before(node)},"completion":{_json_str(version.text)},'
                            f'"label":{"true" if value else "false"}}}\n')
                    result.rows += 1
    write_manifest(result, label_policy=policy.to_dict(), separator=separator, **_provenance(reviews))
    return result


def _json_str(text: str) -> str:
    return json_str(text)


def _provenance(reviews: ReviewSet) -> dict[str, object]:
    """Sessions and models an export came from, for its manifest."""
    models = sorted({(m.name, m.sha256 or "") for m in reviews.models.values() if m.name})
    return {
        "sessions": [t.session.id for t in reviews.trees],
        "models": [{"name": n, "sha256": s or None} for n, s in models],
    }
