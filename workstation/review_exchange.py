"""Team and training-data use cases: export, bundles, import and merge, agreement, adjudication.

These belong to the review layer (the GUI and the CLI call them) and combine the store with
`workstation.exchange`. Kept apart from `review.py` so that each module stays one subject.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workstation.core.history import Applied
from workstation.errors import BadInputError

#: Every format `export` writes.
EXPORT_FORMATS = ("trl-stepwise", "trl-preference", "kto", "prm800k", "parquet", "report", "report-md", "bundle")


class Exchange:
    """Export, import and team statistics over a `Review`'s database, as its reviewer."""

    def __init__(self, review: Any, *, keystore: Any = None, trusted: Any = None) -> None:
        from workstation.exchange.keys import KeyStore, TrustedKeys

        self.review = review
        self.keystore = keystore if keystore is not None else KeyStore()
        self.trusted = trusted if trusted is not None else TrustedKeys()

    @property
    def store(self) -> Any:
        """The review's store."""
        return self.review.store

    # -- keys ------------------------------------------------------------------------------

    def signing_key(self, passphrase: str | None = None) -> Any:
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
        return self.signing_key(passphrase).public.to_text().strip()

    def trust(self, text: str) -> Any:
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
    ) -> Any:
        """Write the sessions (default: all) as `fmt`; returns what was written and skipped."""
        from workstation.exchange import bundle, export, parquet

        if fmt not in EXPORT_FORMATS:
            raise BadInputError(f"unknown export format '{fmt}' (formats: {', '.join(EXPORT_FORMATS)})")
        if neutral not in ("true", "false", "drop"):
            raise BadInputError(f"--neutral-as must be true, false or drop, not '{neutral}'")
        from workstation.exchange.errors import ExportWriteError

        out = Path(out)
        key = self.signing_key(passphrase) if fmt == "bundle" else None
        try:
            if fmt == "parquet":
                return parquet.export_parquet_from_store(self.store, out)
            if fmt == "bundle":
                return bundle.bundle_from_store(
                    self.store, out, key, session_ids=list(sessions) if sessions else None,
                    signer_role=self.review.reviewer.role,
                )
            return export.export_from_store(
                self.store, fmt, out, sessions=list(sessions) if sessions else None,
                neutral=neutral, aggregate=aggregate, reviewers=list(reviewers) if reviewers else None,
            )
        except OSError as exc:  # the export's own file: the disk, not a bug
            raise ExportWriteError(out, exc) from exc

    def import_bundles(
        self,
        files: Sequence[Path | str],
        *,
        trust_new_signers: bool = False,
        progress: Callable[[int, int, Path], None] | None = None,
    ) -> Any:
        """Verify and merge bundles; each imports wholly or not at all. `progress(i, n, path)`
        as bundle i (from 0) of n starts."""
        from workstation.exchange.merge import StoreTarget, import_bundles

        return import_bundles(files, StoreTarget(self.store), self.trusted, trust_new_signers=trust_new_signers,
                              progress=progress)

    # -- agreement -------------------------------------------------------------------------

    def _reviews(self, sessions: Sequence[str] | None = None) -> Any:
        from workstation.exchange.corpus import ReviewSet

        return ReviewSet.from_store(self.store, list(sessions) if sessions else None)

    def stats(self, sessions: Sequence[str] | None = None) -> dict[str, Any]:
        """Per-reviewer counts, label distributions, Krippendorff's alpha, Cohen's kappa, ..."""
        from workstation.exchange.agreement import compute_stats

        return compute_stats(self._reviews(sessions))

    def disagreements(self, sessions: Sequence[str] | None = None) -> list[Any]:
        """Steps whose reviewers' current labels differ and that nobody has adjudicated."""
        from workstation.exchange.agreement import disagreements

        return disagreements(self._reviews(sessions))

    def adjudicate(self, node_id: str, label: int, reason: str) -> Applied:
        """Settle a disagreement as an expert or ethics reviewer, with a reason (an event)."""
        from workstation.exchange.agreement import adjudicate

        from workstation.core.text import clean

        reason = clean(reason)
        if not reason.strip():
            raise BadInputError("an adjudication needs a reason; say why this label is right")
        tree, full_id = self.review.locate(node_id)
        op = adjudicate(tree, full_id, self.review.reviewer, label, reason)
        return self.store.apply(tree.session.id, op, self.review.reviewer)
