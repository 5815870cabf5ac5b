"""Team and training-data use cases: export, bundles, import and merge, agreement, adjudication.

These belong to the review layer (the GUI and the CLI call them) and combine the store with
`workstation.exchange`. Kept apart from `review.py` so that each module stays one subject.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from workstation.core.history import Applied
from workstation.errors import BadInputError

if TYPE_CHECKING:
    from workstation.core.tree import Tree
    from workstation.exchange.agreement import Disagreement, TeamStats
    from workstation.exchange.corpus import ModelInfo, ReviewSet
    from workstation.exchange.export import ExportOptions
    from workstation.exchange.keys import KeyStore, PublicKey, SigningKey, TrustedKeys
    from workstation.exchange.merge import ImportResult
    from workstation.exchange.result import ExportResult
    from workstation.review import Review
    from workstation.store import Store

#: Every format `export` writes.
EXPORT_FORMATS = ("trl-stepwise", "trl-preference", "kto", "prm800k", "parquet", "report", "report-md", "bundle")

#: Each format in words, for the window and the CLI's help.
FORMAT_NAMES = {
    "trl-stepwise": "Stepwise labels (process reward models, trl<=1.13 PRMTrainer)",
    "trl-preference": "Preference pairs (TRL DPO)",
    "kto": "Labelled completions (TRL KTO)",
    "prm800k": "PRM800K labels",
    "parquet": "Every table as Parquet",
    "report": "Review report (HTML)",
    "report-md": "Review report (Markdown)",
    "bundle": "Signed review bundle",
}


class ExportChoices(TypedDict, total=False):
    """Keyword arguments of `Exchange.export` a caller has chosen (the export dialog's)."""

    sessions: Sequence[str] | None
    reviewers: Sequence[str] | None
    neutral: str
    aggregate: str
    passphrase: str | None
    style: str | None
    branch: str
    partial: str


class Exchange:
    """Export, import and team statistics over a `Review`'s database, as its reviewer."""

    def __init__(self, review: Review, *, keystore: KeyStore | None = None,
                 trusted: TrustedKeys | None = None) -> None:
        from workstation.exchange.keys import KeyStore, TrustedKeys

        self.review = review
        self.keystore = keystore if keystore is not None else KeyStore()
        self.trusted = trusted if trusted is not None else TrustedKeys()

    @property
    def store(self) -> Store:
        """The review's store."""
        return self.review.store

    # -- keys ------------------------------------------------------------------------------

    def signing_key(self, passphrase: str | None = None) -> SigningKey:
        """This reviewer's signing key, created on first use; the own key is trusted and its
        public half recorded with the reviewer in the database."""
        reviewer = self.review.reviewer
        created = not self.keystore.has_key(reviewer.id)
        key = self.keystore.load_or_create(reviewer.id, passphrase)
        if created or not self.trusted.is_trusted(key.public):
            self.trusted.trust(key.public)
        if not self.review.store.read_only:
            self.store.add_reviewer(reviewer, public_key=key.public.to_text().strip())
        return key

    def public_key_text(self, passphrase: str | None = None) -> str:
        """The reviewer's public key as one line to give to teammates."""
        return str(self.signing_key(passphrase).public.to_text()).strip()

    def trust(self, text: str) -> PublicKey:
        """Trust a teammate's public key (the line `keys show` prints, or a file holding it)."""
        from workstation.exchange.keys import PublicKey

        source = "public key"
        candidate = Path(text)
        if len(text) < 4096 and "\n" not in text and candidate.is_file():
            source = str(candidate)
            text = candidate.read_text(encoding="utf-8")
        key = PublicKey.from_text(text.strip(), source)
        self.trusted.trust(key)
        return key

    # -- export and import -----------------------------------------------------------------

    def export(
        self,
        fmt: str,
        out: Path,
        *,
        sessions: Sequence[str] | None = None,
        reviewers: Sequence[str] | None = None,
        neutral: str = "false",
        aggregate: str = "majority",
        passphrase: str | None = None,
        style: str | None = None,
        branch: str = "preferred",
        partial: str = "truncate",
        seed: int = 0,
        dry_run: bool = False,
    ) -> ExportResult:
        """Write the sessions (default: all) as `fmt`; returns what was written and skipped.

        With `dry_run` the export is made in a temporary folder and thrown away: the result
        (rows, what was dropped and why, the manifest) is what a real export would report, and
        nothing is written at `out`.
        """
        if fmt not in EXPORT_FORMATS:
            raise BadInputError(f"unknown export format '{fmt}' (formats: {', '.join(EXPORT_FORMATS)})")
        if neutral not in ("true", "false", "drop"):
            raise BadInputError(f"--neutral-as must be true, false or drop, not '{neutral}'")
        from workstation.exchange.errors import ExportWriteError

        out = Path(out)
        options: ExportOptions = {"neutral": neutral, "aggregate": aggregate, "style": style, "branch": branch,
                                  "partial": partial, "seed": seed}
        if dry_run:
            with tempfile.TemporaryDirectory(prefix="workstation-dry-run-") as folder:
                result = self._export(fmt, Path(folder) / (out.name or "export"), sessions, reviewers, passphrase,
                                      options)
                result.path = out
                result.files = []
                return result
        try:
            return self._export(fmt, out, sessions, reviewers, passphrase, options)
        except OSError as exc:  # the export's own file: the disk, not a bug
            raise ExportWriteError(out, exc) from exc

    def _export(self, fmt: str, out: Path, sessions: Sequence[str] | None, reviewers: Sequence[str] | None,
                passphrase: str | None, options: ExportOptions) -> ExportResult:
        from workstation.exchange import bundle, export, parquet

        if fmt == "parquet":
            return parquet.export_parquet_from_store(self.store, out)
        if fmt == "bundle":
            key = self.signing_key(passphrase)
            return bundle.bundle_from_store(
                self.store, out, key, session_ids=list(sessions) if sessions else None,
                signer_role=self.review.reviewer.role,
            )
        reviews = self.review_set(sessions)
        return export.export(reviews, fmt, out, reviewers=list(reviewers) if reviewers else None, **options)

    def review_set(self, sessions: Sequence[str] | None = None) -> ReviewSet:
        """The sessions to export, with the prompt templates and whether each model file on
        this machine has a chat template (what the default row style follows)."""
        reviews = self._reviews(sessions)
        reviews.templates = dict(self.review.templates)
        reviews.models = {cid: _with_chat_template(info) for cid, info in reviews.models.items()}
        return reviews

    # -- chain outcome ---------------------------------------------------------------------

    def set_outcome(self, chain_or_step: str, outcome: str | None) -> Applied:
        """Record the reviewer's outcome of a chain (a chain id or any of its step ids; a unique
        prefix is enough), as an event; None clears it."""
        from workstation.core.ops.outcomes import CHAIN_OUTCOMES, ChainOutcomeSet
        from workstation.exchange.corpus import outcomes_from_events

        if outcome is not None and outcome not in CHAIN_OUTCOMES:
            raise BadInputError(f"--set must be one of {', '.join(CHAIN_OUTCOMES)}, not '{outcome}'")
        tree, chain_id = self._chain(chain_or_step)
        events = [e.to_dict() for e in self.store.events(tree.session.id, types=(ChainOutcomeSet.type,))]
        previous = outcomes_from_events(events).get(chain_id)
        op = ChainOutcomeSet(chain_id, outcome, previous)
        return self.store.apply(tree.session.id, op, self.review.reviewer)

    def _chain(self, chain_or_step: str) -> tuple[Tree, str]:
        from workstation.store.errors import UnknownIdError

        text = chain_or_step.strip()
        try:
            tree, node_id = self.review.locate(text)
        except UnknownIdError:
            matches = [(self.review.tree(s.id), cid) for s in self.store.list_sessions()
                       for cid in self.review.tree(s.id).chains if text and cid.startswith(text)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise BadInputError(f"'{text}' matches {len(matches)} chains; give more of the id") from None
            raise BadInputError(f"no chain or step with id '{text}' in {self.store.path}") from None
        chain_id = tree.nodes[node_id].chain_id
        if chain_id is None:
            raise BadInputError(f"{node_id} is the question, not a step of a chain; give a step or chain id")
        return tree, chain_id

    def import_bundles(
        self,
        files: Sequence[Path | str],
        *,
        trust_new_signers: bool = False,
        progress: Callable[[int, int, Path], None] | None = None,
    ) -> ImportResult:
        """Verify and merge bundles; each imports wholly or not at all. `progress(i, n, path)`
        as bundle i (from 0) of n starts."""
        from workstation.exchange.merge import StoreTarget, import_bundles

        return import_bundles(files, StoreTarget(self.store), self.trusted, trust_new_signers=trust_new_signers,
                              progress=progress)

    # -- agreement -------------------------------------------------------------------------

    def _reviews(self, sessions: Sequence[str] | None = None) -> ReviewSet:
        from workstation.exchange.corpus import ReviewSet

        return ReviewSet.from_store(self.store, list(sessions) if sessions else None)

    def stats(self, sessions: Sequence[str] | None = None) -> TeamStats:
        """Per-reviewer counts, label distributions, Krippendorff's alpha, Cohen's kappa, ..."""
        from workstation.exchange.agreement import compute_stats

        return compute_stats(self._reviews(sessions))

    def disagreements(self, sessions: Sequence[str] | None = None) -> list[Disagreement]:
        """Steps whose reviewers' current labels differ and that nobody has adjudicated."""
        from workstation.exchange.agreement import disagreements

        return disagreements(self._reviews(sessions))

    def adjudicate(self, node_id: str, label: int, reason: str) -> Applied:
        """Settle a disagreement as an expert or ethics reviewer, with a reason (an event)."""
        from workstation.core.text import clean
        from workstation.exchange.agreement import adjudicate

        reason = clean(reason)
        if not reason.strip():
            raise BadInputError("an adjudication needs a reason; say why this label is right")
        tree, full_id = self.review.locate(node_id)
        op = adjudicate(tree, full_id, self.review.reviewer, label, reason)
        return self.store.apply(tree.session.id, op, self.review.reviewer)


def _with_chat_template(info: ModelInfo) -> ModelInfo:
    """`info` (a `ModelInfo`) with whether its file, found on this machine, has a chat template."""
    import dataclasses

    found = _chat_templates().get(info.name)
    return dataclasses.replace(info, chat_template=found) if found is not None else info


def _chat_templates() -> dict[str, bool]:
    """Model file name -> whether it has a chat template, for the models discovery finds
    (headers only, never weights)."""
    from workstation.engine.discovery import discover

    try:
        models = discover()
    except Exception:  # a discovery problem only costs the default style its evidence
        return {}
    return {m.path.name: m.info.has_chat_template for m in models if m.info is not None}
