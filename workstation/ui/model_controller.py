"""The model: finding the GGUF files (off the GUI thread) and loading one on the worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from workstation.ui.backend import Backend
from workstation.ui.host import Host
from workstation.ui.window_layout import WindowParts
from workstation.ui.workers import Task, run_task

if TYPE_CHECKING:
    from workstation.engine.discovery import DiscoveredModel, Discovery
    from workstation.review import Review


@dataclass(frozen=True)
class LoadedModel:
    """What the window shows of the loaded model."""

    name: str
    n_ctx: int
    notices: tuple[str, ...]
    n_gpu_layers: int
    #: The model's other names (file, GGUF metadata), for a tooltip.
    other_names: str = ""
    #: The loaded file, to find the name discovery gives it.
    path: str = ""
    server: bool = False  # an inference server, not a local file


class ModelController(QObject):
    """Discovers models, loads the chosen one, and says which is loaded."""

    def __init__(self, parts: WindowParts, backend: Backend, host: Host, model_arg: str | None,
                 autoload: bool, ready: Callable[[], bool], window: QWidget) -> None:
        super().__init__(window)
        self.parts, self.backend, self.host = parts, backend, host
        self.model_arg = model_arg
        self.autoload = autoload
        self._ready = ready
        self.loaded: LoadedModel | None = None
        self.discovered: list[DiscoveredModel] = []
        self._discovery: Task | None = None

    def discover(self) -> None:
        """Read the model headers in the thread pool (disk reads: never on the GUI thread)."""
        model_arg = self.model_arg

        def run() -> Discovery:
            from workstation.engine.discovery import scan

            return scan(model_arg)

        self._discovery = run_task(run, self._on_discovered, self.host.show_error)

    def _on_discovered(self, found: Discovery) -> None:
        models = self.discovered = found.models
        self.parts.model_panel.set_models(models, found.notes)
        # One display name everywhere: steps record the file name, the inspector shows this one.
        self.parts.inspector.model_names = {m.path.name: m.name for m in models}
        usable = [model for model in models if model.usable]
        if self.loaded is None:
            self.parts.model_status.setText(f"Model: {usable[0].name} (not loaded)" if usable else "Model: none found")
        self.maybe_autoload()

    def maybe_autoload(self) -> None:
        """Load the first usable model once, when both the database and the list are there
        (or connect to the configured inference server, when there is one)."""
        url = self.host.values.get("server.url") or ""
        if self.autoload and self._ready() and url and self.loaded is None:
            self.autoload = False
            self.connect_server(url, self.host.values.get("server.model") or "")
            return
        if self.autoload and self._ready() and self.discovered and self.loaded is None:
            self.autoload = False
            if any(m.usable for m in self.discovered):
                self.load_model()

    def load_model(self) -> None:
        """Load the selected model with the panel's options, on the worker, with a busy bar."""
        chosen = self.parts.model_panel.selected()
        path = str(chosen.path) if chosen is not None and chosen.usable else (self.model_arg or None)
        name = chosen.name if chosen is not None else (path or "the default model")
        values = self.host.values
        options = {
            "n_gpu_layers": values["model.n_gpu_layers"],
            "n_threads": values["model.n_threads"],
            "n_ctx_cap": values["model.n_ctx_cap"],
        }

        display = chosen.name if chosen is not None and chosen.usable else None
        forget_server = bool(values.get("server.url"))
        if forget_server:  # a local model from now on, also at the next start
            values["server.url"] = ""
        saved = dict(values)

        def run(review: Review) -> LoadedModel:
            if forget_server:
                from workstation import settings

                settings.save(saved)
                review.values.update(saved)
            engine = review.load_model(path, **options)
            file_name = Path(engine.info.path).name
            gguf_name = str(getattr(engine.info, "name", "") or "")
            others = [f"file: {file_name}"] + ([f"name in the GGUF file: {gguf_name}"] if gguf_name else [])
            return LoadedModel(
                name=display or gguf_name or file_name,
                other_names="\n".join(others),
                path=str(engine.info.path),
                n_ctx=int(engine.n_ctx),
                notices=tuple(engine.notices),
                n_gpu_layers=engine.n_gpu_layers,
            )

        self.parts.model_panel.set_loading(name, True)
        self.parts.model_status.setText(f"Model: loading {name}…")
        self.backend.call(run, self._on_loaded, self._on_failed, quick=False)

    def ask_server(self) -> None:
        """Model > Use server…: ask for the server, then connect to it on the worker."""
        from workstation.ui.server_dialog import ServerDialog

        values = self.host.values
        dialog = ServerDialog(values.get("server.url") or "", values.get("server.model") or "", self.parent_window())
        if dialog.exec():
            choice = dialog.choice()
            self.connect_server(choice.url, choice.model, choice.api_key)

    def parent_window(self) -> QWidget | None:
        """The window this controller belongs to (the dialog's parent)."""
        parent = self.parent()
        return parent if isinstance(parent, QWidget) else None

    def connect_server(self, url: str, model: str, api_key: str | None = None) -> None:
        """Generate with the inference server at `url` from now on: remember it (the key in the
        keyring), connect and check it on the worker, then name it in the status bar."""
        values = self.host.values
        values["server.url"], values["server.model"] = url, model
        saved = dict(values)

        def run(review: Review) -> LoadedModel:
            from workstation import settings
            from workstation.engine.server_config import store_api_key
            from workstation.engine.server_engine import split_url

            settings.save(saved)
            review.values.update(saved)
            notices = [store_api_key(url, api_key or None)] if api_key is not None else []
            engine = review.use_server(url, model)
            return LoadedModel(name=f"{Path(engine.info.path).name} on {split_url(url)[0]}",
                               n_ctx=engine.n_ctx, notices=(*engine.notices, *notices), n_gpu_layers=0,
                               server=True)

        self.parts.model_status.setText(f"Model: connecting to {url}…")
        self.backend.call(run, self._on_loaded, self._on_failed, quick=False)

    def _on_loaded(self, info: LoadedModel) -> None:
        # Loaded by path (the command line's model): the name discovery gives that file, as listed.
        listed = next((m.name for m in self.discovered if str(m.path) == info.path), None)
        if self.parts.model_panel.selected() is None and listed:
            info = replace(info, name=listed)
        self.loaded = info
        self.parts.model_panel.set_loading(None, False, None if info.server else info.name)
        self.parts.model_status.setText(f"Model: {info.name}")
        self.parts.model_status.setToolTip(info.other_names)
        layers = info.n_gpu_layers
        device = f"GPU ({'all' if layers == -1 else layers} layers)" if layers else "CPU"
        self.parts.device_status.setText("inference server" if info.server else device)
        self.parts.context_status.setText(f"Context: 0 / {info.n_ctx:,}" if info.n_ctx else "")
        if info.notices:
            self.parts.messages.show_message("warning", " ".join(info.notices))
        self.host.update_actions()

    def _on_failed(self, message: str) -> None:
        name = self.loaded.name if self.loaded else None
        self.parts.model_panel.set_loading(None, False, name)
        self.parts.model_status.setText(f"Model: {name}" if name else "Model: not loaded")
        self.host.show_error(message)
        self.host.update_actions()

    def context_size(self) -> int | None:
        """The loaded model's context window, in tokens (None when none is loaded)."""
        return (self.loaded.n_ctx or None) if self.loaded else None

