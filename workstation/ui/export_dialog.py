"""The export dialog: format (in words), sessions, label policy, row style, branches, a path,
and a live preview of what the export would write.

Every job runs on the backend's worker (`Exchange(review)` is built there, never here). The
preview is the export's own dry run (made in a temporary folder and thrown away), so what it
says is what pressing Export writes. The path's extension follows the format, and pressing
Export over an existing file asks before replacing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workstation.review_exchange import FORMAT_NAMES, ExportChoices
from workstation.ui.exchange_dialogs import FORMATS, LABELLED_FORMATS, PassphraseField, notify, plain_label, tell

if TYPE_CHECKING:
    from workstation.review import Review
    from workstation.ui.backend import Backend

#: Formats whose rows come as chat messages or plain text (`--style`).
STYLED_FORMATS = ("trl-preference", "kto")
#: Formats that follow one branch per session or every branch (`--branch`).
BRANCHED_FORMATS = ("trl-stepwise", "prm800k")
#: How long the preview waits after the last change before it asks the worker (ms).
PREVIEW_DELAY_MS = 300


def _checklist(name: str) -> QListWidget:
    widget = QListWidget()
    widget.setObjectName(name)
    widget.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    return widget


def _fill_checklist(widget: QListWidget, entries: list[tuple[str, str]]) -> None:
    """(id, text) rows with check boxes; what was ticked stays ticked."""
    ticked = set(_ticked(widget))
    widget.clear()
    for key, text in entries:
        item = QListWidgetItem(text)  # list items show plain text
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setToolTip(key)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if key in ticked else Qt.CheckState.Unchecked)
        widget.addItem(item)


def _ticked(widget: QListWidget) -> list[str]:
    items = (widget.item(i) for i in range(widget.count()))
    return [str(i.data(Qt.ItemDataRole.UserRole)) for i in items if i.checkState() == Qt.CheckState.Checked]


def _combo(entries: tuple[tuple[str | None, str], ...], name: str = "") -> QComboBox:
    combo = QComboBox()
    for value, text in entries:
        combo.addItem(text, value)
    if name:
        combo.setObjectName(name)
    return combo


def _run_export(review: Review, fmt: str, out: Path, options: ExportChoices) -> str:
    """The export on the worker; returns the summary line."""
    from workstation.review_exchange import Exchange

    return str(Exchange(review).export(fmt, out, **options).summary())


def _run_preview(review: Review, fmt: str, out: Path, options: ExportChoices) -> str:
    """The export's dry run on the worker: rows it would write, what it would drop or cut."""
    from workstation.cli_exchange import preview_line
    from workstation.review_exchange import Exchange

    return preview_line(Exchange(review).export(fmt, out, dry_run=True, **options))


def with_extension(path: Path, fmt: str) -> Path:
    """`path` with the extension of `fmt`'s files (none for a folder)."""
    suggested = Path(FORMATS[fmt][1])
    stem = path.name[: -len("".join(path.suffixes))] if path.suffixes else path.name
    return path.with_name(stem + "".join(suggested.suffixes))


class ExportDialog(QDialog):
    """Pick a format, the sessions, the label policy and a path; the export runs on the worker."""

    exported = Signal(str)
    #: The preview line shown (emitted when a dry run comes back).
    previewed = Signal(str)
    #: The outcome line. It shadows QDialog.result() (the dialog code), which nothing here reads;
    #: the window's tests and the reliability driver read `dialog.result.text()`.
    result: QLabel  # type: ignore[assignment]  # a label in place of the unused result() method

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setObjectName("exportDialog")
        self.resize(720, 640)
        self.backend = backend
        self.owner = parent
        self.format = QComboBox()
        for name, (text, _, _) in FORMATS.items():
            self.format.addItem(FORMAT_NAMES.get(name, name), name)
            self.format.setItemData(self.format.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.format_text = plain_label()
        self.path = QLineEdit()
        self.path.setObjectName("exportPath")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.neutral = _combo((("false", "wrong (false)"), ("true", "right (true)"), ("drop", "left out")))
        self.aggregate = _combo((("majority", "majority (a tie leaves the step unlabelled)"),
                                 ("strict", "strict (the lowest label: one wrong makes it wrong)"),
                                 ("unanimous", "unanimous (any disagreement leaves it unlabelled)")))
        self.aggregate.setToolTip("An adjudication always wins over the reviewers' labels")
        self.row_style = _combo(((None, "chat messages where the model has a chat template"),
                             ("conversational", "chat messages (conversational)"),
                             ("standard", "plain text (standard)")), "exportStyle")
        self.branch = _combo((("preferred", "the preferred branch (else the oldest)"),
                              ("all", "every branch")), "exportBranch")
        self.partial = _combo((("truncate", "keep the steps before it"), ("drop", "leave the chain out")),
                              "exportPartial")
        self.sessions = _checklist("exportSessions")
        self.reviewers = _checklist("exportReviewers")
        self.reviewers.setMaximumHeight(90)
        self.passphrase = PassphraseField()
        self.preview = plain_label(name="exportPreview")
        self.result = plain_label(name="exportResult")
        self.confirm: QMessageBox | None = None
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(lambda: self.export())
        self.buttons.rejected.connect(self.reject)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self._preview_job = 0

        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("", self.format_text)
        form.addRow("Save to", path_row)
        form.addRow("A neutral label counts as", self.neutral)
        form.addRow("Several reviewers' labels", self.aggregate)
        form.addRow("Rows as", self.row_style)
        form.addRow("Branches", self.branch)
        form.addRow("A chain with an unlabelled step", self.partial)
        form.addRow("Sessions (none ticked: all)", self.sessions)
        form.addRow("Whose labels count (none ticked: everyone's)", self.reviewers)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.passphrase)
        layout.addWidget(self.preview)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        for combo in (self.neutral, self.aggregate, self.row_style, self.branch, self.partial):
            combo.currentIndexChanged.connect(self.schedule_preview)
        for checklist in (self.sessions, self.reviewers):
            checklist.itemChanged.connect(self.schedule_preview)
        self.loaded = False
        self.running = False
        self._format_changed()
        self.reload()

    def reload(self) -> None:
        """Read the sessions and where the signing key is kept (on the worker)."""
        self.loaded = False
        self.backend.call(self._load, self._on_loaded, self._on_failed)

    @staticmethod
    def _load(review: Review) -> tuple[list[tuple[str, str]], list[tuple[str, str]], tuple[str, str]]:
        from workstation.ui.exchange_dialogs import _key_storage

        sessions = [(s.id, (s.title or s.question or s.id).splitlines()[0][:120]) for s in review.sessions()]
        reviewers = [(r.id, f"{r.id} ({r.role})") for r in review.store.reviewers()]
        return sessions, reviewers, _key_storage(review)

    def _on_loaded(self, loaded: tuple[list[tuple[str, str]], list[tuple[str, str]], tuple[str, str]]) -> None:
        sessions, reviewers, (storage, message) = loaded
        _fill_checklist(self.sessions, sessions)
        _fill_checklist(self.reviewers, reviewers)
        self.passphrase.set_storage(storage, message)
        self._format_changed()
        self.loaded = True

    def _on_failed(self, message: str) -> None:
        self.running = False
        self.export_button.setEnabled(True)
        self.result.setText(f"Export failed: {message}")
        tell(self.backend, message)

    def _format_changed(self) -> None:
        fmt = self.current_format()
        self.format_text.setText(FORMATS[fmt][0])
        labelled = fmt in LABELLED_FORMATS
        self.neutral.setEnabled(labelled)
        self.aggregate.setEnabled(labelled)
        self.reviewers.setEnabled(labelled)
        self.row_style.setEnabled(fmt in STYLED_FORMATS)
        self.branch.setEnabled(fmt in BRANCHED_FORMATS)
        self.partial.setEnabled(fmt == "trl-stepwise")
        text = self.path.text().strip()
        if text:  # the extension follows the format: a report is never written as .jsonl
            self.path.setText(str(with_extension(Path(text), fmt)))
        self.sessions.setEnabled(fmt != "parquet")  # parquet copies every table
        self.passphrase.setVisible(fmt == "bundle" and self.passphrase.storage == "file")
        self.schedule_preview()

    def current_format(self) -> str:
        """The format chosen (its name, e.g. "trl-preference")."""
        return str(self.format.currentData())

    def set_format(self, fmt: str) -> None:
        """Choose a format by name."""
        self.format.setCurrentIndex(self.format.findData(fmt))

    def selected_sessions(self) -> list[str]:
        """The ticked sessions (empty: all)."""
        return _ticked(self.sessions)

    def selected_reviewers(self) -> list[str]:
        """The reviewers whose labels count (empty: everyone's)."""
        return _ticked(self.reviewers)

    def browse(self) -> None:
        """Pick where to write with the platform's file dialog."""
        fmt = self.current_format()
        _, suggested, filters = FORMATS[fmt]
        start = self.path.text() or suggested
        if not filters:
            chosen = QFileDialog.getExistingDirectory(self, "Folder for the Parquet files", start)
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, f"Export {FORMAT_NAMES.get(fmt, fmt)}", start, filters)
        if chosen:
            self.path.setText(chosen)
            self.schedule_preview()

    def options(self) -> ExportChoices:
        """The export's options as chosen in the dialog."""
        fmt = self.current_format()
        options: ExportChoices = {"sessions": self.selected_sessions() or None}
        if fmt in LABELLED_FORMATS:
            options["neutral"] = self.neutral.currentData()
            options["aggregate"] = self.aggregate.currentData()
            options["reviewers"] = self.selected_reviewers() or None
        if fmt in STYLED_FORMATS:
            options["style"] = self.row_style.currentData()
        if fmt in BRANCHED_FORMATS:
            options["branch"] = self.branch.currentData()
        if fmt == "trl-stepwise":
            options["partial"] = self.partial.currentData()
        if fmt == "bundle":
            options["passphrase"] = self.passphrase.passphrase()
        return options

    # -- preview -----------------------------------------------------------------------------

    def schedule_preview(self) -> None:
        """Ask for a new preview once the choices have settled."""
        if self.current_format() == "bundle":
            self._preview_timer.stop()
            self.preview.setText("A bundle carries the sessions' full history (no preview).")
            return
        self._preview_timer.start()

    def refresh_preview(self) -> None:
        """Run the export's dry run on the worker; the line shows here when it comes back."""
        fmt = self.current_format()
        if fmt == "bundle" or not getattr(self, "loaded", False):
            return
        target = Path(self.path.text().strip() or FORMATS[fmt][1])
        options = self.options()
        self._preview_job += 1
        job = self._preview_job

        def shown(line: str) -> None:
            if job == self._preview_job:  # an older preview's answer is stale
                self.preview.setText(line)
                self.previewed.emit(line)

        def failed(message: str) -> None:
            if job == self._preview_job:
                self.preview.setText(f"No preview: {message}")

        self.backend.call(lambda review: _run_preview(review, fmt, target, options), shown, failed)

    # -- export ------------------------------------------------------------------------------

    def export(self, out: Path | str | None = None, *, replace: bool | None = None) -> None:
        """Export to `out` (default: the path field); the summary shows here when it is done.

        Pressing Export over an existing file asks before replacing it; a caller naming `out`
        has chosen it (as after a file dialog's own question) unless it passes `replace=False`.
        """
        if out is not None:
            self.path.setText(str(out))
            replace = True if replace is None else replace
        text = self.path.text().strip()
        if not text:
            self.result.setText("Choose where to save the export first (Browse…).")
            return
        target = Path(text)
        if not replace and _occupied(target):
            self._ask_replace(target)
            return
        fmt = self.current_format()
        options = self.options()
        self.running = True
        self.export_button.setEnabled(False)
        self.result.setText(f"Exporting {FORMAT_NAMES.get(fmt, fmt)}…")
        self.backend.call(lambda review: _run_export(review, fmt, target, options), self._on_done, self._on_failed,
                          quick=False)

    def _ask_replace(self, target: Path) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Replace the file?",
                          f"{target} already exists. Replace it with this export?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("exportReplace")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.confirm = box

        def answered(result: int) -> None:
            self.confirm = None
            box.deleteLater()
            if result == QMessageBox.StandardButton.Yes:
                self.export(target, replace=True)
            else:
                self.result.setText(f"Not exported: {target} is kept as it is.")

        box.finished.connect(answered)
        box.open()

    def _on_done(self, summary: str) -> None:
        self.running = False
        self.export_button.setEnabled(True)
        self.result.setText(summary)
        notify(self.owner, summary)
        self.exported.emit(summary)
        self.schedule_preview()


def _occupied(path: Path) -> bool:
    """Whether writing `path` would replace something (a file, or a folder with files)."""
    if path.is_dir():
        return any(path.iterdir())
    return path.exists()
