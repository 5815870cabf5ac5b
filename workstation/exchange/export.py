"""The one entry point for exports, for the CLI and the GUI: `export` and `export_from_store`.

    result = export_from_store(store, "trl-stepwise", Path("prm.jsonl"), neutral="drop")
    print(result.summary())          # what was written, what was skipped and why
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from workstation.exchange.corpus import BRANCHES, DEFAULT_SEPARATOR, PARTIALS, STYLES, ReviewSet
from workstation.exchange.errors import ExchangeError
from workstation.exchange.labels import LabelPolicy
from workstation.exchange.prm800k import export_prm800k
from workstation.exchange.report import export_report
from workstation.exchange.result import ExportResult
from workstation.exchange.trl import export_kto, export_preference, export_stepwise

if TYPE_CHECKING:
    from workstation.store import Store

#: Formats `export` writes from trees. `parquet` (every table, by DuckDB COPY) goes through
#: the store: `parquet.export_parquet_from_store`; `bundle` takes a signing key: `bundle`.
TREE_FORMATS = ("trl-stepwise", "trl-preference", "kto", "prm800k", "report", "report-md")


class ExportOptions(TypedDict, total=False):
    """The options of `export` besides `reviewers`, as `export_from_store` passes them on."""

    neutral: str
    aggregate: str
    rewrite_is_right: bool
    separator: str
    style: str | None
    branch: str
    partial: str
    seed: int


def export(
    reviews: ReviewSet,
    fmt: str,
    out: Path,
    *,
    neutral: str = "false",
    aggregate: str = "majority",
    reviewers: Iterable[str] | None = None,
    rewrite_is_right: bool = True,
    separator: str = DEFAULT_SEPARATOR,
    style: str | None = None,
    branch: str = "preferred",
    partial: str = "truncate",
    seed: int = 0,
) -> ExportResult:
    """Write `reviews` as `fmt` to `out` (and a manifest beside it); returns what it wrote.

    `neutral` (false|true|drop), `aggregate` (majority|strict|unanimous) and `reviewers`
    (whose labels count) apply to the labelled formats and are recorded in the manifest.
    `style` (conversational|standard; None: conversational unless the models are known to have
    no chat template) shapes trl-preference and kto rows; `branch` (preferred|all) which
    branches trl-stepwise and prm800k follow; `partial` (truncate|drop) what trl-stepwise does
    with a chain that has an unlabelled step; `seed` the order of kto rows.
    """
    out = Path(out)
    _check("--branch", branch, BRANCHES)
    _check("--partial", partial, PARTIALS)
    chosen = frozenset(reviewers) if reviewers is not None else None
    policy = LabelPolicy(neutral=neutral, aggregate=aggregate, reviewers=chosen, rewrite_is_right=rewrite_is_right)
    if fmt == "trl-stepwise":
        return export_stepwise(reviews, out, policy, separator, branch, partial)
    if fmt in ("trl-preference", "kto"):
        chosen_style, why = resolve_style(reviews, style)
        if fmt == "trl-preference":
            return export_preference(reviews, out, chosen_style, why)
        return export_kto(reviews, out, policy, chosen_style, seed, why)
    if fmt == "prm800k":
        return export_prm800k(reviews, out, chosen, branch)
    if fmt == "report":
        return export_report(reviews, out, "html")
    if fmt == "report-md":
        return export_report(reviews, out, "md")
    raise ExchangeError(f"unknown export format '{fmt}' (known: {', '.join(TREE_FORMATS)}, parquet, bundle)")


def resolve_style(reviews: ReviewSet, style: str | None) -> tuple[str, str]:
    """The row style to write and why: as asked, else conversational where the models have a
    chat template (a model file not on this machine counts as having one)."""
    if style is not None:
        _check("--style", style, STYLES)
        return style, "asked for"
    known = [m for m in reviews.models.values() if m.chat_template is not None]
    if known and not any(m.chat_template for m in known):
        return "standard", "the models that wrote these chains have no chat template"
    return "conversational", "the default where the model has a chat template"


def _check(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ExchangeError(f"{flag} must be one of {', '.join(choices)}, not '{value}'")


def export_from_store(
    store: Store, fmt: str, out: Path, *, sessions: Sequence[str] | None = None,
    reviewers: Iterable[str] | None = None, **options: Unpack[ExportOptions]
) -> ExportResult:
    """`export` of a store's sessions (all of them when `sessions` is None)."""
    if fmt not in TREE_FORMATS:
        raise ExchangeError(f"unknown export format '{fmt}' (known: {', '.join(TREE_FORMATS)}, parquet, bundle)")
    return export(ReviewSet.from_store(store, sessions), fmt, out, reviewers=reviewers, **options)
