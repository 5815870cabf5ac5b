"""The window with an inference server: configure it, generate, watch steps arrive; faults shown.

The server is llama-cpp-python's own on the default model (or a loopback server of the test's
own for the faults); the key goes to a real keyring backend in tmp_path, never the user's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from tests.servers import MODEL_ALIAS, BadServer, LlamaServer
from workstation import settings
from workstation.engine.server_config import api_key_for
from workstation.ui.main_window import MainWindow
from workstation.ui.server_dialog import ServerDialog
from workstation.ui.tree_model import KindRole

pytestmark = [pytest.mark.qt]


@pytest.fixture
def test_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """keyrings.alt's file backend in tmp_path as the keyring for this test."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    before = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


def kinds(window: MainWindow) -> list[str]:
    model = window.parts.tree_model
    return [model.index(i, 0).data(KindRole) for i in range(model.rowCount())]


def generate(qtbot, window: MainWindow, question: str) -> None:
    window.parts.question.setPlainText(question)
    window.parts.actions["generate"].trigger()
    qtbot.waitUntil(lambda: window.generation.job is None, timeout=180_000)


def test_the_dialog_checks_the_url(qtbot) -> None:
    dialog = ServerDialog("", "")
    qtbot.addWidget(dialog)
    dialog.url.setText("ftp://somewhere")
    dialog._check()
    assert "not an http(s) URL" in dialog.problem.text() and not dialog.result()
    dialog.url.setText(" http://127.0.0.1:8080/v1 ")
    dialog.model.setText("qwen")
    dialog.key.setText("k-123")
    assert dialog.choice().url == "http://127.0.0.1:8080/v1" and dialog.choice().api_key == "k-123"
    dialog.key.setText("")
    assert dialog.choice().api_key is None  # unchanged


@pytest.mark.model
def test_use_a_server_and_generate(qtbot, open_window, default_model_path: Path, test_keyring: PlaintextKeyring) -> None:
    with LlamaServer(default_model_path) as server:
        window = open_window()
        assert window.parts.actions["use_server"].isEnabled()
        window.model.connect_server(server.url, MODEL_ALIAS, "k-secret")
        qtbot.waitUntil(lambda: window.model.loaded is not None, timeout=60_000)
        assert window.parts.model_status.text() == f"Model: {MODEL_ALIAS} on {server.url}"
        assert window.parts.device_status.text() == "inference server"
        assert api_key_for(server.url) == "k-secret"
        saved = settings.load()[0]
        assert saved["server.url"] == server.url and saved["server.model"] == MODEL_ALIAS
        assert "k-secret" not in (settings.settings_file().read_text(encoding="utf-8"))

        generate(qtbot, window, "What is 12 * 4? Think step by step.")
        assert window.parts.messages.level != "error", window.parts.messages.label.text()
        assert kinds(window)[0] == "question" and "step" in kinds(window)[1:]


def test_a_server_without_logprobs_and_a_dropped_stream(qtbot, open_window, test_keyring: PlaintextKeyring) -> None:
    with BadServer() as bad:
        window = open_window()
        window.model.connect_server(bad.url("nologprobs"), "m")
        qtbot.waitUntil(lambda: window.model.loaded is not None, timeout=30_000)
        generate(qtbot, window, "What is 12 * 4?")
        assert "not given by this server" in window.parts.messages.label.text()

        window.model.loaded = None
        window.model.connect_server(bad.url("drop"), "m")
        qtbot.waitUntil(lambda: window.model.loaded is not None, timeout=30_000)
        generate(qtbot, window, "What is 12 * 4?")
        assert window.parts.messages.level == "error"
        assert "marked incomplete" in window.parts.messages.label.text()
        assert "step" in kinds(window)  # the steps that came are saved


def test_a_refused_connection_is_one_clear_message(qtbot, open_window, test_keyring: PlaintextKeyring) -> None:
    from tests.servers import free_port

    window = open_window()
    url = f"http://127.0.0.1:{free_port()}/v1"
    window.model.connect_server(url, "m")
    qtbot.waitUntil(lambda: window.parts.messages.level == "error", timeout=30_000)
    assert url in window.parts.messages.label.text() and "Traceback" not in window.parts.messages.label.text()
    assert window.model.loaded is None
