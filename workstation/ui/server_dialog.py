"""Model > Use server…: the URL, model name and API key of an OpenAI-compatible inference server.

The dialog only collects and checks the fields; the model controller stores the key in the
keyring and connects on the worker thread (the GUI thread never waits on the network).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from workstation.errors import BadInputError


@dataclass(frozen=True)
class ServerChoice:
    """What the user entered: `api_key` None keeps the stored key, "" forgets it."""

    url: str
    model: str
    api_key: str | None


EXPLAIN = (
    "Generate with an OpenAI-compatible server (llama-server, vLLM, LM Studio, Ollama) instead of the "
    "local model. The questions, the prompts and the steps you regenerate from are sent to it. "
    "The API key is kept in the system keyring, never in the settings file."
)


class ServerDialog(QDialog):
    """Asks for the server's URL, the model name and an optional API key."""

    def __init__(self, url: str, model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Use an inference server")
        self.setObjectName("serverDialog")
        explain = QLabel(EXPLAIN)
        explain.setWordWrap(True)
        self.url = QLineEdit(url)
        self.url.setObjectName("serverUrl")
        self.url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.model = QLineEdit(model)
        self.model.setObjectName("serverModel")
        self.model.setPlaceholderText("empty: the one model it serves")
        self.key = QLineEdit()
        self.key.setObjectName("serverKey")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("unchanged (type to set, a space to forget)")
        self.problem = QLabel("")
        self.problem.setObjectName("serverProblem")
        form = QFormLayout()
        form.addRow("Server URL", self.url)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _check(self) -> None:
        from workstation.engine.server_engine import split_url

        try:
            split_url(self.url.text())
        except BadInputError as exc:
            self.problem.setText(str(exc))
            return
        self.accept()

    def choice(self) -> ServerChoice:
        """The fields as entered (a key of only spaces forgets the stored one)."""
        key = self.key.text()
        return ServerChoice(self.url.text().strip(), self.model.text().strip(),
                            None if key == "" else key.strip())
