"""Export and import: the GUI's side of the team use cases in `review_exchange` (keys: `keys_dialog`).

Every job runs on the backend's worker (`Exchange(review)` is built there, never here): the
dialogs only collect choices and show what came back, as plain text. File dialogs are only a
way to pick a path: every flow also takes the path as an argument, so it can be driven without
one. Where no system keyring exists, the signing key is a passphrase-protected file; the
passphrase is asked for here, in a password field, and handed to the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from workstation.review import Review
    from workstation.ui.backend import Backend

#: The CLI's variable (`cli_exchange.PASSPHRASE_VARIABLE`): used when the field is left empty.
PASSPHRASE_VARIABLE = "WORKSTATION_KEY_PASSPHRASE"

#: Format -> (what it is, file name suggested, file filter; "" for a folder).
FORMATS: dict[str, tuple[str, str, str]] = {
    "trl-stepwise": ("Steps with boolean labels, for process reward models (TRL)", "stepwise.jsonl",
                     "JSON lines (*.jsonl)"),
    "trl-preference": ("Chosen/rejected pairs from rewrites and preferred branches (TRL)", "preference.jsonl",
                       "JSON lines (*.jsonl)"),
    "kto": ("Prompt, completion and a boolean label (KTO)", "kto.jsonl", "JSON lines (*.jsonl)"),
    "prm800k": ("The PRM800K schema, alternatives and rewrites included", "prm800k.jsonl", "JSON lines (*.jsonl)"),
    "parquet": ("Every table as Parquet files, in a folder", "parquet", ""),
    "report": ("A self-contained HTML review report", "report.html", "HTML (*.html)"),
    "report-md": ("The review report in Markdown", "report.md", "Markdown (*.md)"),
    "bundle": ("A signed review bundle for teammates (chains and the full history)", "review.wsbundle",
               "Review bundles (*.wsbundle);;All files (*)"),
}
#: Formats whose labels the neutral mapping and the aggregation shape.
LABELLED_FORMATS = ("trl-stepwise", "trl-preference", "kto", "prm800k")
BUNDLE_FILTER = "Review bundles (*.wsbundle *.zip);;All files (*)"


def plain_label(text: str = "", *, wrap: bool = True, name: str = "") -> QLabel:
    """A label that shows text as it is: never rich text, whatever the data holds."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def tell(backend: Backend, message: str) -> None:
    """A failure goes to the window's one message path."""
    backend.error.emit(message)


def notify(window: QWidget | None, message: str) -> None:
    """A notice: the window's message bar where it has one, else its status bar."""
    show_info = getattr(window, "show_info", None)
    if callable(show_info):
        show_info(message)
    elif window is not None and hasattr(window, "statusBar"):
        window.statusBar().showMessage(message, 15_000)


class PassphraseField(QWidget):
    """Where the signing key is a passphrase-protected file: why, and a password field."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = plain_label(name="keyStorageMessage")
        self.edit = QLineEdit()
        self.edit.setObjectName("passphrase")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText("Passphrase of your signing key")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.edit)
        self.storage = ""
        self.hide()

    def set_storage(self, storage: str, message: str) -> None:
        """Show the field only where keys are kept in a file (no system keyring)."""
        self.storage = storage
        self.message.setText(message)
        self.setVisible(storage == "file")

    def passphrase(self) -> str | None:
        """The passphrase typed (or the CLI's variable), None where the keyring holds the key."""
        if self.storage != "file":
            return None
        return self.edit.text() or os.environ.get(PASSPHRASE_VARIABLE) or None


def _key_storage(review: Review) -> tuple[str, str]:
    from workstation.review_exchange import Exchange

    keystore = Exchange(review).keystore
    return keystore.storage, keystore.storage_message


# -- import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleOutcome:
    """What happened to one bundle, as the GUI shows it (made on the worker, immutable)."""

    path: str
    status: str
    new_events: int
    known_events: int
    signer: str
    fingerprint: str
    error: str
    #: The signer's key as one line, where the bundle was refused only for want of trust.
    untrusted_key: str | None


def _run_import(
    review: Review,
    files: Sequence[str],
    trust_key: str | None = None,
    progress: Callable[[int, int, Path], None] | None = None,
) -> list[BundleOutcome]:
    """Import on the worker (after trusting `trust_key`, when given); `progress` as each
    bundle starts."""
    from workstation.review_exchange import Exchange

    exchange = Exchange(review)
    if trust_key is not None:
        exchange.trust(trust_key)
    result = exchange.import_bundles(list(files), progress=progress)
    return [
        BundleOutcome(str(b.path), b.status, b.new_events, b.known_events, b.signer, b.fingerprint, b.error,
                      b.untrusted_key.to_text().strip() if b.untrusted_key is not None else None)
        for b in result.bundles
    ]


class TrustKeyDialog(QDialog):
    """An unknown signer: their key and fingerprint, and whether to trust it."""

    def __init__(self, signer: str, fingerprint: str, key_text: str, files: Sequence[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Trust this signer?")
        self.setObjectName("trustKeyDialog")
        self.signer, self.fingerprint, self.key_text = signer, fingerprint, key_text
        listed = "\n".join(files)
        intro = plain_label(
            f"{len(files)} bundle(s) are signed by '{signer}', whose key you do not trust yet:\n{listed}\n\n"
            "Compare the fingerprint below with the one they see (in person or by phone, not by the channel "
            "that brought the bundle). Trust the key only if they match."
        )
        self.fingerprint_label = plain_label(fingerprint, name="trustFingerprint")
        font = self.fingerprint_label.font()
        font.setBold(True)
        self.fingerprint_label.setFont(font)
        key = QLineEdit(key_text)
        key.setReadOnly(True)
        key.setObjectName("trustKeyText")
        buttons = QDialogButtonBox()
        self.trust_button = buttons.addButton("Trust and import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.trust_button.setAutoDefault(False)  # Enter must not trust a key by accident
        refuse = buttons.addButton("Don't trust", QDialogButtonBox.ButtonRole.RejectRole)
        refuse.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        form = QFormLayout()
        form.addRow("Fingerprint", self.fingerprint_label)
        form.addRow("Public key", key)
        layout.addLayout(form)
        layout.addWidget(buttons)


class ImportResultsDialog(QDialog):
    """Each bundle's outcome: imported, unchanged or refused (and why)."""

    COLUMNS = ("Bundle", "Result", "New events", "Already present", "Signer", "Fingerprint", "Why")

    def __init__(self, outcomes: Sequence[BundleOutcome], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import results")
        self.setObjectName("importResults")
        self.resize(860, 300)
        self.table = QTableWidget(len(outcomes), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, o in enumerate(outcomes):
            values = (Path(o.path).name, o.status, str(o.new_events), str(o.known_events), o.signer, o.fingerprint,
                      o.error)
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(o.path if col == 0 else value)
                self.table.setItem(row, col, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        imported = sum(o.new_events for o in outcomes)
        refused = sum(o.status == "refused" for o in outcomes)
        self.summary = plain_label(
            f"{len(outcomes)} bundle(s): {imported} new events imported"
            + (f"; {refused} refused (nothing from them was imported)" if refused else ""),
            name="importSummary",
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)


class ImportFlow(QObject):
    """Import bundles: verify and merge on the worker, ask about each unknown signer once (by
    fingerprint), import their bundles if trusted, then list every bundle's outcome."""

    finished = Signal(object)  # list[BundleOutcome]
    #: bundle i (from 0) of n starts merging, its file name; emitted on the worker, received here.
    progress = Signal(int, int, str)

    def __init__(self, backend: Backend, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self.backend = backend
        self.parent_widget = parent_widget
        self.outcomes: dict[str, BundleOutcome] = {}
        self._pending: list[tuple[str, str, str, list[str]]] = []  # signer, fingerprint, key, files
        self.trust_dialog: TrustKeyDialog | None = None
        self.results_dialog: ImportResultsDialog | None = None
        self.running = False
        self.progress.connect(self._show_progress)

    def start(self, files: Sequence[Path | str] | None = None) -> None:
        """Import `files` (default: ask with the platform's file dialog)."""
        if self.running:
            return
        if files is None:
            chosen, _ = QFileDialog.getOpenFileNames(self.parent_widget, "Import review bundles", "", BUNDLE_FILTER)
            files = chosen
        paths = [str(f) for f in files]
        if not paths:
            return
        self.running = True
        self.outcomes = {}
        self._status(f"Importing {len(paths)} bundle(s)…")
        self.backend.call(lambda review: _run_import(review, paths, progress=self._emit_progress), self._on_imported,
                          self._on_failed, quick=False)

    def _emit_progress(self, index: int, count: int, path: Path) -> None:
        try:
            self.progress.emit(index, count, Path(path).name)  # on the worker: queued to the GUI
        except RuntimeError:
            pass  # the window is gone: the import goes on, with nobody to tell

    def _show_progress(self, index: int, count: int, name: str) -> None:
        self._status(f"Importing bundle {index + 1} of {count}: {name}…")

    def _status(self, message: str) -> None:
        """A transient line in the window's status bar (cleared when the import ends)."""
        bar = getattr(self.parent_widget, "statusBar", None)
        if not callable(bar):
            return
        if message:
            bar().showMessage(message)
        else:
            bar().clearMessage()

    def _on_failed(self, message: str) -> None:
        self.running = False
        self._status("")
        tell(self.backend, message)
        self.finished.emit(list(self.outcomes.values()))

    def _on_imported(self, outcomes: list[BundleOutcome]) -> None:
        fresh = not self.outcomes
        for o in outcomes:
            self.outcomes[o.path] = o
        if fresh:
            by_key: dict[str, tuple[str, str, str, list[str]]] = {}
            for o in outcomes:
                if o.untrusted_key is not None:
                    entry = by_key.setdefault(o.fingerprint, (o.signer, o.fingerprint, o.untrusted_key, []))
                    entry[3].append(o.path)
            self._pending = list(by_key.values())
        self._ask_next()

    def _ask_next(self) -> None:
        if not self._pending:
            self._finish()
            return
        signer, fingerprint, key_text, files = self._pending.pop(0)
        dialog = TrustKeyDialog(signer, fingerprint, key_text, files, self.parent_widget)
        self.trust_dialog = dialog

        def answered(result: int) -> None:
            self.trust_dialog = None
            dialog.deleteLater()
            if result == QDialog.DialogCode.Accepted:
                self._status(f"Importing {len(files)} bundle(s) from {signer}…")
                self.backend.call(lambda review: _run_import(review, files, key_text, self._emit_progress),
                                  self._on_imported, self._on_failed, quick=False)
            else:
                self._ask_next()

        dialog.finished.connect(answered)
        dialog.open()

    def _finish(self) -> None:
        self.running = False
        self._status("")
        outcomes = list(self.outcomes.values())
        self.results_dialog = ImportResultsDialog(outcomes, self.parent_widget)
        self.results_dialog.open()
        imported = sum(o.new_events for o in outcomes)
        if imported:
            notify(self.parent_widget, f"Imported {imported} new events from {len(outcomes)} bundle(s)")
            refresh = getattr(self.parent_widget, "refresh_sessions", None)
            if callable(refresh):
                refresh()
        self.finished.emit(outcomes)

__all__ = ["BUNDLE_FILTER", "FORMATS", "LABELLED_FORMATS", "PASSPHRASE_VARIABLE", "BundleOutcome",
           "ImportFlow", "ImportResultsDialog", "PassphraseField", "TrustKeyDialog", "notify", "plain_label", "tell"]
