"""The workstation's main window: model panel, question area, reasoning tree, status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QDockWidget,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workstation import diagnostics, paths
from workstation.ui.workers import run_task


def _settings() -> QSettings:
    return QSettings(str(paths.config_dir() / "ui.ini"), QSettings.Format.IniFormat)


class ModelPanel(QWidget):
    """The discovered models and the selected one's GGUF metadata."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("modelList")
        self.details = QLabel("Looking for models...")
        self.details.setTextFormat(Qt.TextFormat.PlainText)  # file names and metadata are text
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.details, 2)
        self.list.currentItemChanged.connect(self._show_details)

    def set_models(self, models: list) -> None:
        """Fill the list from discovery results (DiscoveredModel objects)."""
        self.list.clear()
        for model in models:
            item = QListWidgetItem(model.name if model.usable else f"{model.name} (unusable)")
            item.setData(Qt.ItemDataRole.UserRole, model)
            item.setToolTip(str(model.path))
            self.list.addItem(item)
        if models:
            self.list.setCurrentRow(0)
        else:
            self.details.setText(f"No models found. Drop a .gguf file into {paths.user_models_dir()}")

    def _show_details(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        model = item.data(Qt.ItemDataRole.UserRole)
        if model.info is None:
            self.details.setText(f"{model.path}\n\n{model.error}")
            return
        info = model.info
        lines = [
            f"Name: {info.name}",
            f"Architecture: {info.architecture}",
            f"Parameters: {info.size_label}",
            f"Quantisation: {info.quantization}",
            f"Trained context: {info.context_length or 'unknown'}",
            f"Chat template: {'yes' if info.has_chat_template else 'no'}",
            f"File: {info.path} ({info.file_size / 1e6:.1f} MB)",
            f"Source: {model.source}",
        ]
        self.details.setText("\n".join(lines))


class MainWindow(QMainWindow):
    """The workstation window."""

    def __init__(self, model: str | None, db: Path) -> None:
        super().__init__()
        self.setWindowTitle("Reasoning Workstation")
        self.resize(1200, 760)
        self.model_arg = model
        self.db_path = db

        self.question = QPlainTextEdit()
        self.question.setObjectName("questionEditor")
        self.question.setPlaceholderText("Ask the model a question to reason about...")
        self.tree = QTreeView()
        self.tree.setObjectName("reasoningTree")
        self.tree_model = QStandardItemModel(0, 3, self)
        self.tree_model.setHorizontalHeaderLabels(["Step", "Label", "Confidence"])
        self.tree.setModel(self.tree_model)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.question)
        splitter.addWidget(self.tree)
        splitter.setSizes([160, 560])
        self.setCentralWidget(splitter)

        self.model_panel = ModelPanel()
        dock = QDockWidget("Model", self)
        dock.setObjectName("modelDock")
        dock.setWidget(self.model_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

        self.model_status = QLabel("Model: looking...")
        self.device_status = QLabel("")
        self.db_status = QLabel(f"Database: {db}")
        for label in (self.model_status, self.device_status, self.db_status):
            label.setTextFormat(Qt.TextFormat.PlainText)
            self.statusBar().addPermanentWidget(label)

        settings = _settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)

        # Discovery reads model headers from disk: never on the GUI thread.
        self._discovery = run_task(self._discover, self._on_discovered, self._on_error)
        crash = diagnostics.unseen_crash()
        if crash is not None:
            self.statusBar().showMessage(f"The last session ended with an error; the log is {crash}")
            diagnostics.mark_crash_seen()

    def _discover(self) -> tuple[list, bool]:
        from workstation.engine.discovery import discover

        try:
            import llama_cpp

            gpu = bool(llama_cpp.llama_supports_gpu_offload())
        except ImportError:
            gpu = False
        return discover(self.model_arg), gpu

    def _on_discovered(self, result: tuple[list, bool]) -> None:
        models, gpu = result
        self.model_panel.set_models(models)
        usable = [model for model in models if model.usable]
        self.model_status.setText(f"Model: {usable[0].name}" if usable else "Model: none found")
        self.device_status.setText("GPU offload available" if gpu else "CPU (this build cannot offload)")

    def _on_error(self, message: str) -> None:
        QMessageBox.warning(self, "Reasoning Workstation", message)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        settings = _settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        super().closeEvent(event)
