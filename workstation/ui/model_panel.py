"""The model panel: discovered models with their GGUF metadata, load options and load progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workstation import paths
from workstation.engine.model_sources import SOURCE_LABELS
from workstation.settings import BY_KEY

if TYPE_CHECKING:
    from workstation.engine.discovery import DiscoveredModel

#: The settings the panel edits, in order, with their labels.
PANEL_SETTINGS = (
    ("model.n_gpu_layers", "GPU layers"),
    ("model.n_threads", "Threads"),
    ("model.n_ctx_cap", "Context size"),
    ("sampling.temperature", "Temperature"),
    ("sampling.top_p", "Top-p"),
    ("sampling.seed", "Seed"),
    ("sampling.max_tokens", "Max tokens"),
)

GPU_UNSUPPORTED = (
    "This llama-cpp-python build runs on the CPU only, so GPU layers cannot be offloaded. "
    "Rebuild it with GPU support (see the README: `make setup GPU=cuda`, metal or vulkan) to use a GPU."
)


def setting_editor(key: str) -> QSpinBox | QDoubleSpinBox:
    """A spin box for a numeric setting, with its range and description from the declaration."""
    setting = BY_KEY[key]
    editor: QSpinBox | QDoubleSpinBox
    if setting.type is float:
        decimal = QDoubleSpinBox()
        decimal.setDecimals(2)
        decimal.setSingleStep(0.05)
        decimal.setRange(setting.minimum if setting.minimum is not None else -1e9,
                         setting.maximum if setting.maximum is not None else 1e9)
        editor = decimal
    else:
        editor = QSpinBox()
        editor.setRange(int(setting.minimum) if setting.minimum is not None else -2**31 + 1,
                        int(setting.maximum) if setting.maximum is not None else 2**31 - 1)
    editor.setToolTip(setting.description)
    editor.setObjectName(key)
    return editor


def source_label(source: str) -> str:
    """The name shown for where a model was found."""
    if source.startswith("package:"):
        return "Installed package"
    return SOURCE_LABELS.get(source, {"explicit": "Given path", "repository": "Repository",
                                      "user": "Your models"}.get(source, source))


class ModelList(QTreeWidget):
    """The discovered models: name (the other application's name for it) and where it was found."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelList")
        self.setColumnCount(2)
        self.setHeaderLabels(["Model", "Source"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)

    def count(self) -> int:
        """How many models are listed."""
        return self.topLevelItemCount()


def _plain(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # file names and metadata are text
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ModelPanel(QWidget):
    """Discovered models, the selected one's metadata, and the options a load uses."""

    value_changed = Signal(str, object)

    def __init__(self, load_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = ModelList()
        self.notes = _plain()
        self.notes.setObjectName("discoveryNotes")
        self.notes.hide()
        self.details = _plain("Looking for models...")
        self.progress = QProgressBar()
        self.progress.setObjectName("loadProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("no model loaded")
        self.progress.setTextVisible(True)
        self.editors: dict[str, QSpinBox | QDoubleSpinBox] = {}
        form = QFormLayout()
        for key, label in PANEL_SETTINGS:
            editor = setting_editor(key)
            editor.valueChanged.connect(lambda value, key=key: self.value_changed.emit(key, value))
            self.editors[key] = editor
            form.addRow(label, editor)
        self.gpu_note = _plain()
        self.gpu_note.setObjectName("gpuNote")
        form.addRow("", self.gpu_note)
        load = QToolButton()
        load.setDefaultAction(load_action)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.notes)
        layout.addWidget(self.details, 2)
        layout.addLayout(form)
        layout.addWidget(load)
        layout.addWidget(self.progress)
        self.list.currentItemChanged.connect(lambda item, _previous: self._show_details(item))

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the settings' values without reporting them as changes."""
        for key, editor in self.editors.items():
            editor.blockSignals(True)
            editor.setValue(values[key])
            editor.blockSignals(False)

    def set_gpu_supported(self, supported: bool) -> None:
        """Disable GPU layers, with the reason, where the build cannot offload."""
        editor = self.editors["model.n_gpu_layers"]
        editor.setEnabled(supported)
        editor.setToolTip(BY_KEY["model.n_gpu_layers"].description if supported else GPU_UNSUPPORTED)
        self.gpu_note.setText("" if supported else GPU_UNSUPPORTED)

    def set_loading(self, name: str | None, loading: bool, loaded: str | None = None) -> None:
        """Show a busy indicator while a model loads, then what is loaded."""
        # The bar says what happens in a word (a model's name did not fit a docked panel); the
        # name is in its tooltip and in the status bar.
        if loading:
            self.progress.setRange(0, 0)  # indeterminate: llama.cpp reports no progress
            self.progress.setFormat("loading…")
            self.progress.setToolTip(f"loading {name}")
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if loaded else 0)
            self.progress.setFormat("loaded" if loaded else "no model loaded")
            self.progress.setToolTip(f"loaded: {loaded}" if loaded else "")

    def set_models(self, models: list[DiscoveredModel], notes: Sequence[str] = ()) -> None:
        """Fill the list from discovery results, with what the scan skipped (if anything)."""
        self.list.clear()
        first: QTreeWidgetItem | None = None
        for model in models:
            item = QTreeWidgetItem([model.name if model.usable else f"{model.name} (unusable)",
                                    source_label(model.source)])
            item.setData(0, Qt.ItemDataRole.UserRole, model)
            where = "\n".join(str(part) for part in model.parts) if model.parts else str(model.path)
            for column in (0, 1):
                item.setToolTip(column, where)
            self.list.addTopLevelItem(item)
            first = first or item
        if first is not None:
            self.list.setCurrentItem(first)
        else:
            self.details.setText(f"No models found. Drop a .gguf file into {paths.user_models_dir()}")
        self.notes.setVisible(bool(notes))
        self.notes.setText(f"Some folders were skipped ({len(notes)}); hover here for why." if notes else "")
        self.notes.setToolTip("\n".join(notes))

    def selected(self) -> Any:
        """The selected DiscoveredModel, or None."""
        item = self.list.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_details(self, item: QTreeWidgetItem | None) -> None:
        if item is None:
            return
        model = item.data(0, Qt.ItemDataRole.UserRole)
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
            f"Layers: {info.block_count or 'unknown'}",
            f"Chat template: {'yes' if info.has_chat_template else 'no'}",
            f"File: {info.path} ({model.size / 1e6:.1f} MB)",
            f"Source: {source_label(model.source)}",
        ]
        if model.parts:
            lines.insert(-1, f"Parts: {len(model.parts)} (loaded from the first)")
        self.details.setText("\n".join(lines))
