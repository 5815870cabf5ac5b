"""Exports in the dataset formats Hugging Face TRL trains from (see shared FORMATS.md).

- `trl-stepwise`: {"prompt": str, "completions": [str], "labels": [bool]}, the Math-Shepherd
  stepwise layout; consumed by trl<=1.13's PRMTrainer (`trl.experimental.prm`; removed from
  TRL 1.14 on, PR #7133) and by this app's own verifier when it exists.
- `trl-preference` (TRL 1.16 DPOTrainer and other paired trainers): prompt, chosen, rejected.
- `kto` (TRL 1.16 KTOTrainer, unpaired): prompt, completion, label.

Only those fields are written, with exactly those types: TRL drops or chokes on others. Ids,
provenance and the boundary convention go to the manifest beside the file instead.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import IO

from workstation.core.jsontypes import JSONData
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
from workstation.exchange.corpus import (
    DEFAULT_SEPARATOR,
    Context,
    ReviewSet,
    exported_paths,
    laid_out,
    live_chain_nodes,
    model_version,
    own_chain_text,
)
from workstation.exchange.labels import LabelIndex, LabelPolicy
from workstation.exchange.result import AtomicWriter, ExportResult, dumps_line, write_manifest

STEPWISE_CONSUMERS = (
    "trl<=1.13 PRMTrainer (trl.experimental.prm; TRL 1.14 and later have no stepwise trainer, PR #7133)",
    "the Math-Shepherd stepwise layout (prompt, completions, labels)",
    "this app's own verifier, when it exists",
)

_STANDARD_BOUNDARY = (
    "a completion starts with the separator: prompt = the question, '\\n' and the earlier steps exactly as "
    "the model wrote them, up to the last visible character; a completion = the line breaks that follow, "
    "then the step as the model wrote it (a rewrite inside the model's blank space). prompt + completion "
    "is the text the model saw and wrote, and the prompt ends on a token boundary (BPE joins blank space "
    "to the word after it); the trainer adds EOS after the completion."
)
_CONVERSATIONAL_BOUNDARY = (
    "prompt = the chain's system and user messages (its prompt template); a completion is one assistant "
    "message holding the earlier steps as the model wrote them, then the step. The chat template renders "
    "prompt + completion as the turn the model continued (its assistant header between them); in a pair "
    "the shared earlier steps cancel out of DPO's log-ratio."
)


def export_stepwise(
    reviews: ReviewSet,
    out: Path,
    policy: LabelPolicy = LabelPolicy(),
    separator: str = DEFAULT_SEPARATOR,
    branch: str = "preferred",
    partial: str = "truncate",
) -> ExportResult:
    """One row per exported branch: its steps (current versions) and their labels.

    A step without a resolved label (none given, reviewers tie) or a neutral step that is
    dropped stops the chain there: `partial="truncate"` keeps the steps before it (as PRM800K's
    stop-at-first-error data does), `"drop"` leaves the chain out. Every cut or dropped chain
    is in the manifest with its reason; steps holding the separator are reported.
    """
    result = ExportResult("trl-stepwise", Path(out))
    cut: list[dict[str, JSONData]] = []
    dropped: list[dict[str, JSONData]] = []
    with_separator: list[dict[str, JSONData]] = []
    stood_in: list[str] = []
    with AtomicWriter(result.path) as f:
        for tree in reviews.trees:
            index = LabelIndex(tree, reviews.adjudications, policy.reviewers)
            paths, first = exported_paths(tree, branch)
            if first:
                stood_in.append(tree.session.id)
            if not paths:
                result.skip(tree.session.id, "session", "no model steps")
                continue
            for steps in paths:
                chain = steps[-1].chain_id or tree.session.id
                completions: list[str] = []
                labels: list[bool] = []
                stop: tuple[int, str, str] | None = None
                for i, node in enumerate(steps):
                    label, reason = index.resolve(node, None, policy)
                    value = policy.to_bool(label) if label is not None else None
                    if value is None:
                        stop = (i, node.id, reason or "neutral label dropped")
                        break
                    if separator and separator in node.text:
                        with_separator.append({"session_id": tree.session.id, "chain": chain, "step": node.id,
                                               "position": i + 1})
                    completions.append(node.text)
                    labels.append(value)
                if stop is not None:
                    i, node_id, reason = stop
                    entry: dict[str, JSONData] = {"session_id": tree.session.id, "chain": chain, "step": node_id, "position": i + 1,
                             "reason": reason, "kept_steps": 0 if partial == "drop" else i}
                    if partial == "drop" or not completions:
                        entry["kept_steps"] = 0
                        dropped.append(entry)
                        result.skip(tree.session.id, f"chain {chain} (step {i + 1}: {node_id})", reason, chain=chain)
                        continue
                    cut.append(entry)
                    result.skip(tree.session.id, f"steps {i + 1}-{len(steps)} ({node_id})", reason, chain=chain,
                                action="cut")
                f.write(dumps_line({"prompt": tree.question.text + separator, "completions": completions,
                                    "labels": labels}))
                result.rows += 1
    write_manifest(
        result,
        label_policy=policy.to_dict(),
        separator=separator,
        style="standard (TRL's stepwise format has no conversational form)",
        boundary=f"the prompt ends with the separator {separator!r}; completions are the steps' texts without "
        "it; the trainer appends the separator after every completion and labels that token",
        consumers=list(STEPWISE_CONSUMERS),
        steps_containing_separator=with_separator,
        partial={"mode": partial, "cut": cut, "dropped": dropped},
        **_branch_note(branch, stood_in),
        **_provenance(reviews),
    )
    return result


def export_preference(
    reviews: ReviewSet, out: Path, style: str = "standard", style_why: str = "asked for"
) -> ExportResult:
    """Pairs from rewrites and from preferred branches, every live step of every branch.

    - Rewrite: prompt = what precedes the step, chosen = the reviewer's rewrite (the step's
      current version), rejected = the model's own text of that step.
    - Branch: below a fork where a reviewer preferred one alternative, prompt = what precedes
      the fork, chosen = the preferred alternative and rejected = each other live one, each as
      the model wrote it to the end of its own generation (a reviewer's rewrite never enters).
    """
    result = ExportResult("trl-preference", Path(out))
    counts = {"rewrite": 0, "branch": 0}
    contexts: list[Context] = []
    with AtomicWriter(result.path) as f:
        for tree in reviews.trees:
            ctx = Context(tree, reviews, style)
            contexts.append(ctx)
            for node in live_chain_nodes(tree):
                if len(node.versions) < 2:
                    continue
                current = node.current
                if current.origin != "rewrite":
                    result.skip(tree.session.id, node.id, "rewrite reverted to the model's text",
                                chain=node.chain_id or "")
                    continue
                f.write(dumps_line({"prompt": ctx.prompt(node),
                                    "chosen": ctx.completion(node, laid_out(node, current)),
                                    "rejected": ctx.completion(node, laid_out(node, model_version(node)))}))
                counts["rewrite"] += 1
            counts["branch"] += _branch_pairs(tree, ctx, f, result)
    result.rows = counts["rewrite"] + counts["branch"]
    write_manifest(result, pairs=counts, style=style, style_why=style_why, boundary=_boundary(style),
                   consumers=["TRL 1.16 DPOTrainer (and other paired-preference trainers)"],
                   branch="every live step of every branch (--branch applies to trl-stepwise and prm800k)",
                   **_templates_note(contexts), **_provenance(reviews))
    return result


def _branch_pairs(tree: Tree, ctx: Context, f: IO[str], result: ExportResult) -> int:
    written = 0
    for parent_id in tree.preferred:
        chosen_node = tree.preferred_child(parent_id)
        if chosen_node is None or tree.nodes[parent_id].deleted:
            continue
        others = [n for n in tree.children(parent_id, CHAIN_NODE_KINDS) if n.id != chosen_node.id]
        if not others:
            result.skip(tree.session.id, chosen_node.id, "preferred branch has no live alternative",
                        chain=chosen_node.chain_id or "")
            continue
        prompt = ctx.prompt(chosen_node)
        chosen = ctx.completion(chosen_node, own_chain_text(tree, chosen_node))
        for other in others:
            rejected = ctx.completion(other, own_chain_text(tree, other))
            f.write(dumps_line({"prompt": prompt, "chosen": chosen, "rejected": rejected}))
            written += 1
    return written


def export_kto(
    reviews: ReviewSet,
    out: Path,
    policy: LabelPolicy = LabelPolicy(),
    style: str = "standard",
    seed: int = 0,
    style_why: str = "asked for",
) -> ExportResult:
    """One row per labelled version of every live step, in every branch, in a seeded shuffled
    order (TRL takes batches in file order; rows grouped by session would make one-sided batches).

    prompt = what precedes the step; completion = that version as written (the model's original
    and a rewrite each get their own row when each has a label).
    """
    result = ExportResult("kto", Path(out))
    rows: list[str] = []
    desirable = 0
    contexts: list[Context] = []
    for tree in reviews.trees:
        index = LabelIndex(tree, reviews.adjudications, policy.reviewers)
        ctx = Context(tree, reviews, style)
        contexts.append(ctx)
        labelled_versions = index.versions_by_node
        for node in live_chain_nodes(tree):
            labelled = labelled_versions.get(node.id, ())
            for version in node.versions:
                if version.id not in labelled and not (policy.rewrite_is_right and version.origin == "rewrite"):
                    continue
                label, reason = index.resolve(node, version.id, policy)
                value = policy.to_bool(label) if label is not None else None
                if value is None:
                    result.skip(tree.session.id, f"{node.id}/{version.id}", reason or "neutral label dropped",
                                chain=node.chain_id or "")
                    continue
                rows.append(dumps_line({"prompt": ctx.prompt(node),
                                        "completion": ctx.completion(node, laid_out(node, version)),
                                        "label": value}))
                desirable += value
    random.Random(seed).shuffle(rows)
    with AtomicWriter(result.path) as f:
        f.writelines(rows)
    result.rows = len(rows)
    undesirable = len(rows) - desirable
    write_manifest(result, label_policy=policy.to_dict(), style=style, style_why=style_why, boundary=_boundary(style),
                   consumers=["TRL 1.16 KTOTrainer"],
                   order={"shuffled": True, "seed": seed},
                   labels={"desirable": desirable, "undesirable": undesirable},
                   desirable_weight=_kto_weights(desirable, undesirable),
                   branch="every live step of every branch (--branch applies to trl-stepwise and prm800k)",
                   **_templates_note(contexts), **_provenance(reviews))
    return result


def _kto_weights(desirable: int, undesirable: int) -> dict[str, JSONData]:
    """TRL's suggested `desirable_weight` range with `undesirable_weight=1` (KTO paper, Eq. 8:
    desirable_weight * n_desirable / n_undesirable in [1, 4/3])."""
    if not desirable or not undesirable:
        return {"suggested_range": None, "why": "one of the two labels has no rows; KTO needs both"}
    ratio = undesirable / desirable
    return {"suggested_range": [round(ratio, 2), round(ratio * 1.33, 2)], "with_undesirable_weight": 1.0}


def _boundary(style: str) -> str:
    return _CONVERSATIONAL_BOUNDARY if style == "conversational" else _STANDARD_BOUNDARY


def _templates_note(contexts: list[Context]) -> dict[str, JSONData]:
    """The prompt templates whose system and user messages conversational rows carry."""
    used = sorted({t for ctx in contexts for t in ctx.used_templates})
    note: dict[str, JSONData] = {"prompt_templates": [{"name": n, "version": v} for n, v in used]}
    missing = sorted({name for ctx in contexts for name in ctx.missing_templates})
    if missing:
        note["unknown_prompt_templates"] = {"names": missing,
                                            "effect": "their chains' prompts hold the question alone, no system prompt"}
    return note


def _branch_note(branch: str, stood_in: list[str]) -> dict[str, JSONData]:
    if branch == "all":
        return {"branch": "all: every path from the question to a last step"}
    return {"branch": "preferred: the reviewer's preferred alternative at every fork",
            "first_branch_sessions": {"sessions": stood_in,
                                      "why": "a fork without a preferred alternative: its oldest alternative "
                                      "was exported"}}


def _provenance(reviews: ReviewSet) -> dict[str, JSONData]:
    """Sessions and models an export came from, for its manifest."""
    models = sorted({(m.name, m.sha256 or "") for m in reviews.models.values() if m.name})
    return {
        "sessions": [t.session.id for t in reviews.trees],
        "models": [{"name": n, "sha256": s or None} for n, s in models],
        "chain_outcomes": dict(sorted(reviews.outcomes.items())),
    }
