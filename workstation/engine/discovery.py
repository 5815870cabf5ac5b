"""Find the GGUF models a user can run: an explicit path, model folders, catalog packages, then
the models other applications keep (LM Studio, Ollama, GPT4All, Jan, the Hugging Face and
llama.cpp caches) and folders named in the settings, all used in place.

Discovery only reads headers (see gguf_info); it never loads weights, never copies a file and
never downloads. What it could not read becomes a note in the result, never an error.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from workstation import paths, settings
from workstation.engine import model_sources
from workstation.engine.gguf_info import GGUFInfo, read_gguf_info
from workstation.engine.model_sources import Candidate, Limits, Scan
from workstation.errors import BadInputError, ModelFileError, WorkstationError

#: general.architecture of vision projector files (mmproj): not language models by themselves.
PROJECTOR_ARCHITECTURES = frozenset({"clip", "mmproj"})


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
    #: explicit | repository | user | package:<name> | folder | lmstudio | ollama | gpt4all | jan
    #: | huggingface | llama.cpp
    source: str
    info: GGUFInfo | None = None
    error: str | None = None
    catalog_id: str | None = None
    title: str | None = None
    display_name: str | None = None  # the other application's name for it (`NAME:TAG`, `ORG/NAME`)
    parts: tuple[Path, ...] = ()  # every part of a split model, the first being `path`

    @property
    def name(self) -> str:
        """The catalog's title, else the other application's name for the model, else the model's
        own name from its metadata, else the file name."""
        return self.title or self.display_name or (self.info.name if self.info else self.path.name)

    @property
    def size(self) -> int:
        """Bytes on disk, over every part of a split model."""
        if not self.parts:
            return self.info.file_size if self.info else 0
        total = 0
        for part in self.parts:
            try:
                total += part.stat().st_size
            except OSError:
                pass
        return total

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
            row["file_size"] = self.size
        else:
            row["error"] = self.error
        if self.parts:
            # The first part's tensors are only some of the model's: its count would mislead.
            row["parameter_count"] = None
            row["parts"] = [str(part) for part in self.parts]
        return row


@dataclass
class Discovery:
    """What a scan found, and what it could not look at (folders skipped, with why)."""

    models: list[DiscoveredModel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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


#: Headers already read, by (path, size, mtime): a rescan of many large models stays quick.
_HEADERS: dict[tuple[str, int, int], GGUFInfo | str] = {}
_HEADERS_LOCK = threading.Lock()


def _header(path: Path) -> GGUFInfo | str:
    """The file's header, or what is wrong with it."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None:
        with _HEADERS_LOCK:
            cached = _HEADERS.get(key)
        if cached is not None:
            return cached
    try:
        result: GGUFInfo | str = read_gguf_info(path)
    except ModelFileError as exc:
        result = str(exc)
    if key is not None:
        with _HEADERS_LOCK:
            _HEADERS[key] = result
    return result


def _describe_candidate(candidate: Candidate) -> DiscoveredModel | None:
    """The candidate with its header read; None for a vision projector, which is not a model."""
    base = DiscoveredModel(candidate.path, candidate.source, display_name=candidate.display, parts=candidate.parts)
    if candidate.missing:
        return replace(base, error=f"{candidate.path}: split model: {candidate.missing}; download it again")
    header = _header(candidate.path)
    if isinstance(header, str):
        return replace(base, error=header)
    if header.architecture in PROJECTOR_ARCHITECTURES:
        return None
    if candidate.parts and "general.size_label" not in header.metadata:
        header = replace(header, size_label="unknown")  # the first part's tensors alone would mislead
    return replace(base, info=header)


def model_folders(values: settings.Values | None = None) -> list[str]:
    """The extra folders to scan, from the `model.folders` setting."""
    values = values if values is not None else settings.load()[0]
    return list(values.get("model.folders") or ())


def _iter_models(
    explicit: str | Path | None, folders: Iterable[str | Path] | None, scan: Scan
) -> Iterator[DiscoveredModel]:
    """Every model in priority order, lazily (so choosing one reads no more than it needs):
    explicit, repository, user, catalog packages, then folders from the settings and the
    other applications' layouts."""
    explicit = explicit or os.environ.get("WORKSTATION_MODEL") or None
    if explicit:
        yield _describe(Path(explicit).expanduser(), "explicit")
    catalog = load_catalog()
    # A catalog model assembled into the user's folder is still the catalog's: it is listed
    # with its catalog entry, in catalog order, so it never displaces the default model.
    assembled = {
        (paths.user_models_dir() / entry.assembled_file).resolve() for entry in catalog if entry.assembled_file
    }
    own = [(paths.repo_models_dir(), "repository"), (paths.user_models_dir(), "user")]
    for folder, source in own:
        if folder and folder.is_dir():
            for file in sorted(folder.glob("*.gguf")):
                if file.resolve() not in assembled:
                    yield _describe(file, source)
    for entry in catalog:
        packaged = _package_file(entry)
        if packaged is not None and packaged.exists():
            yield _describe(packaged, f"package:{entry.package}", entry)
    extra = model_folders() if folders is None else list(folders)

    def own_folders(state: Scan) -> list[Candidate]:
        return model_sources.folders(extra, state)

    sources: list[tuple[str, Callable[[Scan], list[Candidate]]]] = [("folder", own_folders)]
    for name, find in [*sources, *model_sources.APP_SOURCES]:
        try:
            candidates = find(scan)
        except OSError as exc:  # a layout changed under us: the others still count
            scan.note(f"skipped {model_sources.SOURCE_LABELS.get(name, name)}'s models: {exc}")
            continue
        for candidate in candidates:
            model = _describe_candidate(candidate)
            if model is not None:
                yield model


def scan(
    explicit: str | Path | None = None, folders: Iterable[str | Path] | None = None, limits: Limits | None = None
) -> Discovery:
    """Every model the workstation can see, without duplicates, and notes on what it skipped.

    `folders` replaces the `model.folders` setting when given. The same file reached twice (a
    Hugging Face snapshot link and its blob, a model in two lists) is listed once, first.
    """
    state = Scan(limits or Limits())
    found = Discovery(notes=state.notes)
    seen: set[Path] = set()
    for model in _iter_models(explicit, folders, state):
        try:
            key = model.path.resolve()
        except OSError:
            key = model.path
        if key not in seen:
            seen.add(key)
            found.models.append(model)
    return found


def discover(explicit: str | Path | None = None, folders: Iterable[str | Path] | None = None) -> list[DiscoveredModel]:
    """Every model the workstation can see, in priority order, without duplicates.

    `explicit` (or `WORKSTATION_MODEL`) comes first; then `*.gguf` in the repository's models/
    folder and the user's models folder; then installed catalog packages; then the folders of
    the `model.folders` setting and other applications' models (see `scan` for the notes).
    """
    return scan(explicit, folders).models


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
    for model in _iter_models(None, None, Scan()):
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
