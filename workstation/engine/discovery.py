"""Find the GGUF models a user can run: an explicit path, model folders, then catalog packages.

Discovery only reads headers (see gguf_info); it never loads weights and never downloads.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from workstation import paths
from workstation.engine.gguf_info import GGUFInfo, read_gguf_info
from workstation.errors import BadInputError, ModelFileError, WorkstationError


@dataclass(frozen=True)
class CatalogEntry:
    """A model package listed in models/catalog.toml."""

    id: str
    title: str
    package: str
    file: str | None = None
    assemble: str | None = None
    assembled_file: str | None = None
    default: bool = False
    install: str = ""
    note: str = ""


@dataclass(frozen=True)
class DiscoveredModel:
    """A model file found by discovery, with its header metadata or what is wrong with it."""

    path: Path
    source: str  # explicit | repository | user | package:<name>
    info: GGUFInfo | None = None
    error: str | None = None
    catalog_id: str | None = None
    title: str | None = None

    @property
    def name(self) -> str:
        """The catalog's title, else the model's own name from its metadata, else the file name."""
        return self.title or (self.info.name if self.info else self.path.name)

    @property
    def usable(self) -> bool:
        """Whether the header validated."""
        return self.info is not None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready row for `workstation models --json`."""
        row: dict[str, object] = {
            "name": self.name,
            "path": str(self.path),
            "source": self.source,
            "catalog_id": self.catalog_id,
            "model_name": self.info.name if self.info else None,
        }
        if self.info:
            info = self.info.to_dict()
            for key in (
                "architecture",
                "size_label",
                "parameter_count",
                "quantization",
                "context_length",
                "file_size",
                "has_chat_template",
            ):
                row[key] = info[key]
        else:
            row["error"] = self.error
        return row


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    """Read the catalog of model packages; a malformed catalog names the file and the entry."""
    path = path or paths.catalog_path()
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not valid TOML: {exc}") from None
    entries = []
    for index, raw in enumerate(data.get("model", [])):
        try:
            entries.append(CatalogEntry(**raw))
        except TypeError as exc:
            raise BadInputError(f"{path}: model entry {index + 1}: {exc}") from None
    return entries


def _package_file(entry: CatalogEntry) -> Path | None:
    """Where a catalog model's GGUF file is: inside its installed package, or (for a chunked
    package) the file it was assembled into; None if the package is not installed."""
    if entry.assembled_file:  # kept once assembled, even if the chunk packages are removed
        return paths.user_models_dir() / entry.assembled_file
    try:
        dist = importlib.metadata.distribution(entry.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(entry.file))) if entry.file else None


def _describe(path: Path, source: str, entry: CatalogEntry | None = None) -> DiscoveredModel:
    catalog_id, title = (entry.id, entry.title) if entry else (None, None)
    try:
        return DiscoveredModel(path, source, info=read_gguf_info(path), catalog_id=catalog_id, title=title)
    except ModelFileError as exc:
        return DiscoveredModel(path, source, error=str(exc), catalog_id=catalog_id, title=title)


def discover(explicit: str | Path | None = None) -> list[DiscoveredModel]:
    """Every model the workstation can see, in priority order, without duplicates.

    `explicit` (or `WORKSTATION_MODEL`) comes first; then `*.gguf` in the repository's models/
    folder and the user's models folder; then installed catalog packages.
    """
    found: list[DiscoveredModel] = []
    seen: set[Path] = set()

    def add(model: DiscoveredModel) -> None:
        key = model.path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(model)

    explicit = explicit or os.environ.get("WORKSTATION_MODEL") or None
    if explicit:
        add(_describe(Path(explicit).expanduser(), "explicit"))
    catalog = load_catalog()
    # A catalog model assembled into the user's folder is still the catalog's: it is listed
    # with its catalog entry, in catalog order, so it never displaces the default model.
    assembled = {
        (paths.user_models_dir() / entry.assembled_file).resolve() for entry in catalog if entry.assembled_file
    }
    folders = [(paths.repo_models_dir(), "repository"), (paths.user_models_dir(), "user")]
    for folder, source in folders:
        if folder and folder.is_dir():
            for file in sorted(folder.glob("*.gguf")):
                if file.resolve() not in assembled:
                    add(_describe(file, source))
    for entry in catalog:
        packaged = _package_file(entry)
        if packaged is not None and packaged.exists():
            add(_describe(packaged, f"package:{entry.package}", entry))
    return found


def default_model() -> DiscoveredModel | None:
    """The catalog's default model if its package is installed and its file is valid."""
    for entry in load_catalog():
        if entry.default:
            file = _package_file(entry)
            if file is not None and file.exists():
                model = _describe(file, f"package:{entry.package}", entry)
                return model if model.usable else None
    return None


def choose_model(explicit: str | Path | None = None) -> DiscoveredModel:
    """The model to open: an explicit path (validated, or ModelFileError), else the first usable one."""
    explicit = explicit or os.environ.get("WORKSTATION_MODEL") or None
    if explicit:
        path = Path(explicit).expanduser()
        return DiscoveredModel(path, "explicit", info=read_gguf_info(path))
    for model in discover():
        if model.usable:
            return model
    raise WorkstationError(
        "no usable model found: run `make setup` to install the default model, "
        f"or drop a .gguf file into {paths.user_models_dir()}"
    )


def assemble(catalog_id: str) -> Path:
    """Join a chunked catalog model into one file in the user's models folder."""
    entries = {entry.id: entry for entry in load_catalog()}
    entry = entries.get(catalog_id)
    if entry is None or not entry.assemble or not entry.assembled_file:
        choices = ", ".join(e.id for e in entries.values() if e.assemble) or "none"
        raise BadInputError(f"{catalog_id!r} is not a model to assemble (choices: {choices})")
    module_name, _, function_name = entry.assemble.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except ImportError:
        raise BadInputError(f"{entry.package} is not installed; install it with: {entry.install}") from None
    target = paths.user_models_dir() / entry.assembled_file
    return Path(function(output_path=target))
