"""The one entry point for exports, for the CLI and the GUI: `export` and `export_from_store`.

    result = export_from_store(store, "trl-stepwise", Path("prm.jsonl"), neutral="drop")
    print(result.summary())          # what was written, what was skipped and why
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from workstation.exchange.corpus import DEFAULT_SEPARATOR, ReviewSet
from workstation.exchange.errors import ExchangeError
from workstation.exchange.labels import LabelPolicy
from workstation.exchange.prm800k import export_prm800k
from workstation.exchange.report import export_report
from workstation.exchange.result import ExportResult
from workstation.exchange.trl import export_kto, export_preference, export_stepwise

#: Formats `export` writes from trees. `parquet` (every table, by DuckDB COPY) goes through
#: the store: `parquet.export_parquet_from_store`; `bundle` takes a signing key: `bundle`.
TREE_FORMATS = ("trl-stepwise", "trl-preference", "kto", "prm800k", "report", "report-md")


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
) -> ExportResult:
    """Write `reviews` as `fmt` to `out` (and a manifest beside it); returns what it wrote.

    `neutral` (false|true|drop), `aggregate` (majority|strict|unanimous) and `reviewers`
    (whose labels count) apply to the labelled formats and are recorded in the manifest.
    """
    out = Path(out)
    chosen = frozenset(reviewers) if reviewers is not None else None
    policy = LabelPolicy(neutral=neutral, aggregate=aggregate, reviewers=chosen, rewrite_is_right=rewrite_is_right)
    if fmt == "trl-stepwise":
        return export_stepwise(reviews, out, policy, separator)
    if fmt == "trl-preference":
        return export_preference(reviews, out, separator)
    if fmt == "kto":
        return export_kto(reviews, out, policy, separator)
    if fmt == "prm800k":
        return export_prm800k(reviews, out, chosen)
    if fmt == "report":
        return export_report(reviews, out, "html")
    if fmt == "report-md":
        return export_report(reviews, out, "md")
    raise ExchangeError(f"unknown export format '{fmt}' (known: {', '.join(TREE_FORMATS)}, parquet, bundle)")


def export_from_store(
    store: Any, fmt: str, out: Path, *, sessions: Sequence[str] | None = None, **options: Any
) -> ExportResult:
    """`export` of a store's sessions (all of them when `sessions` is None)."""
    if fmt not in TREE_FORMATS:
        raise ExchangeError(f"unknown export format '{fmt}' (known: {', '.join(TREE_FORMATS)}, parquet, bundle)")
    return export(ReviewSet.from_store(store, sessions), fmt, out, **options)
