"""Keys: your public key to copy to teammates, trusting theirs, and the keys you trust.

The key jobs run on the backend's worker; the dialog shows what came back as plain text. Where
no system keyring exists the signing key is a passphrase-protected file, and the passphrase is
asked for in a password field (`PassphraseField`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.exchange_dialogs import PassphraseField, plain_label, tell

if TYPE_CHECKING:
    from workstation.review import Review
    from workstation.ui.backend import Backend

@dataclass(frozen=True)
class KeysState:
    """Your key and the keys you trust (made on the worker)."""

    reviewer_id: str
    storage: str
    storage_message: str
    public_key: str | None  # None: no key yet
    fingerprint: str
    trusted: tuple[tuple[str, str], ...]  # (reviewer id, fingerprint)


def _keys_state(review: Review, passphrase: str | None = None, create: bool = False) -> KeysState:
    """Your key (made first when `create`) and the trusted keys, on the worker."""
    from workstation.exchange.errors import SigningKeyError
    from workstation.exchange.keys import PublicKey
    from workstation.review_exchange import Exchange

    exchange = Exchange(review)
    keystore, reviewer_id = exchange.keystore, review.reviewer.id
    text: str | None = None
    if keystore.has_key(reviewer_id):
        try:
            text = keystore.public_key(reviewer_id).to_text().strip()  # no passphrase needed
        except SigningKeyError:
            text = None  # a key without its public file: derived from the private key on request
    if text is None and create:
        text = exchange.public_key_text(passphrase)
    fingerprint = PublicKey.from_text(text).fingerprint if text else ""
    trusted = tuple(sorted((k.reviewer_id, k.fingerprint) for k in exchange.trusted.keys()))
    return KeysState(reviewer_id, keystore.storage, keystore.storage_message, text, fingerprint, trusted)


class KeysDialog(QDialog):
    """Your public key (to copy to teammates), trusting a teammate's, and the keys you trust."""

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keys")
        self.setObjectName("keysDialog")
        self.resize(720, 520)
        self.backend = backend
        self.state: KeysState | None = None
        self.own_title = plain_label("Your public key", name="ownKeyTitle")
        self.own_key = QLineEdit()
        self.own_key.setObjectName("ownPublicKey")
        self.own_key.setReadOnly(True)
        self.own_fingerprint = plain_label(name="ownFingerprint")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_public_key)
        self.create_button = QPushButton("Create my signing key")
        self.create_button.clicked.connect(lambda: self.create_key())
        self.passphrase = PassphraseField()
        own_row = QHBoxLayout()
        own_row.addWidget(self.own_key, 1)
        own_row.addWidget(self.copy_button)
        own_row.addWidget(self.create_button)

        self.paste = QPlainTextEdit()
        self.paste.setObjectName("trustKeyInput")
        self.paste.setPlaceholderText("Paste a teammate's key line: workstation-ed25519 KEY REVIEWER")
        self.paste.setMaximumHeight(70)
        trust_button = QPushButton("Trust")
        trust_button.clicked.connect(lambda: self.trust())
        from_file = QPushButton("From file…")
        from_file.clicked.connect(self.trust_from_file)
        trust_row = QHBoxLayout()
        trust_row.addWidget(self.paste, 1)
        trust_row.addWidget(trust_button)
        trust_row.addWidget(from_file)

        self.trusted = QTableWidget(0, 2)
        self.trusted.setObjectName("trustedKeys")
        self.trusted.setHorizontalHeaderLabels(["Reviewer", "Fingerprint"])
        self.trusted.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.trusted.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.trusted.horizontalHeader().setStretchLastSection(True)
        revoke = QPushButton("Stop trusting")
        revoke.clicked.connect(lambda: self.revoke())
        self.result_label = plain_label(name="keysResult")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.own_title)
        layout.addLayout(own_row)
        layout.addWidget(self.own_fingerprint)
        layout.addWidget(self.passphrase)
        layout.addWidget(plain_label("Trust a teammate's key (check its fingerprint with them)"))
        layout.addLayout(trust_row)
        layout.addWidget(plain_label("Keys you trust to sign bundles"))
        layout.addWidget(self.trusted, 1)
        layout.addWidget(revoke, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.result_label)
        layout.addWidget(buttons)
        self.reload()

    def _call(self, run: Callable[[Review], KeysState], done_text: Callable[[KeysState], str] | None = None) -> None:
        def done(state: KeysState) -> None:
            self._show(state)
            if done_text is not None:
                self.result_label.setText(done_text(state))

        def failed(message: str) -> None:
            self.result_label.setText(message)
            tell(self.backend, message)

        self.backend.call(run, done, failed)

    def reload(self) -> None:
        """Read the keys again (on the worker)."""
        self._call(_keys_state)

    def _show(self, state: KeysState) -> None:
        self.state = state
        self.own_title.setText(f"Your public key ({state.reviewer_id})")
        has_key = state.public_key is not None
        self.own_key.setText(state.public_key or "")
        self.own_fingerprint.setText(f"Fingerprint: {state.fingerprint}" if has_key else "You have no signing key yet.")
        self.copy_button.setEnabled(has_key)
        self.create_button.setVisible(not has_key)
        self.passphrase.set_storage(state.storage, state.storage_message)
        self.passphrase.setVisible(not has_key and state.storage == "file")
        self.trusted.setRowCount(len(state.trusted))
        for row, (reviewer_id, fingerprint) in enumerate(state.trusted):
            self.trusted.setItem(row, 0, QTableWidgetItem(reviewer_id))
            self.trusted.setItem(row, 1, QTableWidgetItem(fingerprint))

    def copy_public_key(self) -> None:
        """Put your public key line on the clipboard."""
        if self.own_key.text():
            QGuiApplication.clipboard().setText(self.own_key.text())
            self.result_label.setText("Your public key is on the clipboard; send it to your teammates.")

    def create_key(self) -> None:
        """Make your signing key (asks for a passphrase where there is no keyring)."""
        passphrase = self.passphrase.passphrase()
        self._call(lambda review: _keys_state(review, passphrase, create=True),
                   lambda s: f"Created your signing key (fingerprint {s.fingerprint}).")

    def trust(self, text: str | None = None) -> None:
        """Trust a key line (default: the pasted text) or a file holding one."""
        line = (text if text is not None else self.paste.toPlainText()).strip()
        if not line:
            self.result_label.setText("Paste a teammate's key line first.")
            return

        def run(review: Review) -> KeysState:
            from workstation.review_exchange import Exchange

            key = Exchange(review).trust(line)
            trusted_text.append(f"Trusted {key.reviewer_id}'s key (fingerprint {key.fingerprint}).")
            return _keys_state(review)

        trusted_text: list[str] = []
        self._call(run, lambda _s: trusted_text[0])
        self.paste.clear()

    def trust_from_file(self, path: Path | str | None = None) -> None:
        """Trust the key in a file (default: pick one with the platform's file dialog)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "A teammate's public key", "", "Public keys (*.pub);;All files (*)")
        if path:
            self.trust(str(path))

    def revoke(self, fingerprint: str | None = None) -> None:
        """Stop trusting a key (default: the selected row's)."""
        if fingerprint is None:
            row = self.trusted.currentRow()
            if row < 0:
                self.result_label.setText("Select a key to stop trusting.")
                return
            item = self.trusted.item(row, 1)
            if item is None:
                return
            fingerprint = item.text()
        own = self.state.fingerprint if self.state is not None else ""

        def run(review: Review) -> KeysState:
            from workstation.review_exchange import Exchange

            Exchange(review).trusted.revoke(fingerprint)
            return _keys_state(review)

        note = " (your own key: your bundles now need trusting again here)" if fingerprint == own else ""
        self._call(run, lambda _s: f"No longer trusted: {fingerprint}{note}")
