"""Where other applications keep the GGUF models a user already has, read in place.

Each source knows one application's folder layout (LM Studio, Ollama, GPT4All, Jan, the Hugging
Face hub cache, llama.cpp's cache) or walks a folder the user named. A source returns
`Candidate`s: a file to open, the application's own name for it, and its other parts when the
model is split. Nothing here opens a model file: discovery reads the headers afterwards.

Every walk is bounded (depth, directory entries, time) so a huge or slow folder cannot stall a
scan, follows a folder only once (symlink loops end), and turns an unreadable folder into a note.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: The sources in the order they are listed, with the name shown for each.
SOURCE_LABELS = {
    "folder": "Your folder",
    "lmstudio": "LM Studio",
    "ollama": "Ollama",
    "gpt4all": "GPT4All",
    "jan": "Jan",
    "huggingface": "Hugging Face",
    "llama.cpp": "llama.cpp",
}

#: `name-00001-of-00003.gguf`: the naming llama.cpp's gguf-split and every converter use.
SPLIT_NAME = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_DIGEST = re.compile(r"^sha256[:-](?P<hex>[0-9a-f]{64})$")
MAX_MANIFEST_BYTES = 1024 * 1024  # an Ollama manifest is a few hundred bytes
MAX_SETTINGS_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How far one scan may go: folder depth, entries and seconds per folder, model files in all."""

    depth: int = 6
    entries_per_root: int = 50_000
    seconds_per_root: float = 5.0
    model_files: int = 500


@dataclass(frozen=True)
class Candidate:
    """A model file found in a layout, before its header is read."""

    path: Path  # the file to open: the first part of a split model
    source: str
    display: str  # the application's own name for the model
    parts: tuple[Path, ...] = ()  # every part, in order, when the model is split
    missing: str | None = None  # what is absent when a split model is incomplete


@dataclass
class Scan:
    """The bounds and the notes of one scan, shared by every source."""

    limits: Limits = field(default_factory=Limits)
    notes: list[str] = field(default_factory=list)
    files: int = 0

    def note(self, text: str) -> None:
        """Record something the user should know about the scan (never an error)."""
        if text not in self.notes:
            self.notes.append(text)

    @property
    def full(self) -> bool:
        """Whether the scan has seen as many model files as it may."""
        return self.files >= self.limits.model_files


def _why(exc: OSError) -> str:
    return "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or type(exc).__name__)


def _walk(root: Path, scan: Scan, depth: int, want: Callable[[str], bool],
          skip: Callable[[Path], bool] | None = None) -> list[Path]:
    """The files under `root` whose names `want` accepts, following each folder once (a symlink
    loop ends), within the scan's bounds; an unreadable folder becomes a note."""
    deadline = time.monotonic() + scan.limits.seconds_per_root
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    stack = [(root, 0)]
    entries = 0
    while stack:
        folder, level = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen:
                continue  # a symlink back to a folder already walked: a loop or a second way in
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                # Read no more entries than the bound allows: a folder of millions stays cheap.
                left = scan.limits.entries_per_root - entries + 1
                children = sorted(itertools.islice(listing, left), key=lambda entry: entry.name)
        except OSError as exc:
            scan.note(f"skipped {folder}: {_why(exc)}")
            continue
        for entry in children:
            entries += 1
            if entries > scan.limits.entries_per_root or time.monotonic() > deadline:
                scan.note(f"stopped looking in {root} after {entries - 1:,} entries; "
                          "name a narrower folder to see everything in it")
                return sorted(found)
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows symlinks; a dangling or looping one is neither
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir and level < depth and not entry.name.startswith(".") and not (skip and skip(path)):
                stack.append((path, level + 1))
            elif is_file and want(entry.name):
                found.append(path)
    return sorted(found)


def walk_gguf(root: Path, scan: Scan, depth: int | None = None, skip: Callable[[Path], bool] | None = None) -> list[Path]:
    """The `*.gguf` files under `root`, within the scan's bounds."""
    depth = scan.limits.depth if depth is None else depth
    return _walk(root, scan, depth, lambda name: name.lower().endswith(".gguf"), skip)


def _folder_name(path: Path, root: Path) -> str:
    """The model's folder relative to the root (`ORG/NAME`), or its file name at the top."""
    relative = path.parent.relative_to(root).as_posix()
    return path.stem if relative == "." else relative


def is_projector_name(name: str) -> bool:
    """A vision projector (mmproj) file, which is not a language model by itself."""
    return "mmproj" in name.lower()


def group_parts(files: Iterable[Path]) -> list[tuple[Path, tuple[Path, ...], str | None]]:
    """Fold `-0000K-of-0000N` parts into one entry per model: (first part, all parts, what is
    missing); other files stand alone. Projector files are left out."""
    singles: list[tuple[Path, tuple[Path, ...], str | None]] = []
    split: dict[tuple[Path, str, int], dict[int, Path]] = {}
    for path in files:
        if is_projector_name(path.name):
            continue
        match = SPLIT_NAME.match(path.name)
        if match is None:
            singles.append((path, (), None))
            continue
        count = int(match["count"])
        split.setdefault((path.parent, match["stem"].lower(), count), {})[int(match["no"])] = path
    for (_, _, count), numbered in split.items():
        absent = [number for number in range(1, count + 1) if number not in numbered]
        first = numbered.get(1) or numbered[min(numbered)]
        parts = tuple(numbered[number] for number in sorted(numbered))
        missing = f"part {', '.join(str(n) for n in absent)} of {count} is missing" if absent else None
        singles.append((first, parts, missing))
    return sorted(singles, key=lambda item: str(item[0]))


def _candidates(files: Iterable[Path], source: str, name: Callable[[Path], str], scan: Scan) -> list[Candidate]:
    out = []
    for first, parts, missing in group_parts(files):
        if scan.full:
            scan.note(f"listed the first {scan.limits.model_files} model files only")
            break
        scan.files += 1
        label = name(first)
        if parts:  # `smol-00001-of-00003.gguf` is the model `smol`
            label = re.sub(r"-\d{5}-of-\d{5}(\.gguf)?$", "", label, flags=re.IGNORECASE)
        out.append(Candidate(first, source, label, parts, missing))
    return out


def _one_per_folder(found: list[Candidate]) -> list[Candidate]:
    """Name a model by its folder (`ORG/NAME`) where the folder holds one model, and add the
    file name where it holds several (one repository often carries many quantisations)."""
    per_name: dict[str, int] = {}
    for candidate in found:
        per_name[candidate.display] = per_name.get(candidate.display, 0) + 1
    return [
        c if per_name[c.display] == 1 else Candidate(c.path, c.source, f"{c.display} ({c.path.name})", c.parts, c.missing)
        for c in found
    ]


# -- where each application keeps its models ---------------------------------------------------

def _home() -> Path:
    return Path.home()


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def _xdg(name: str, fallback: str) -> Path:
    return _env_path(name) or _home() / fallback


def _platform_dirs(linux: list[Path], mac: list[Path], windows: list[Path]) -> list[Path]:
    if sys.platform == "win32":
        return windows
    if sys.platform == "darwin":
        return mac
    return linux


def _appdata(name: str) -> list[Path]:
    folder = _env_path(name)
    return [folder] if folder else []


def _unique_dirs(folders: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    keys: set[str] = set()
    for folder in folders:
        try:
            key = str(folder.resolve())
            exists = folder.is_dir()
        except OSError:
            continue
        if exists and key not in keys:
            keys.add(key)
            out.append(folder)
    return out


def _read_json(path: Path, scan: Scan, limit: int = MAX_SETTINGS_BYTES) -> object:
    """A small JSON file, or None (with a note) when it cannot be read or parsed."""
    try:
        if path.stat().st_size > limit:
            scan.note(f"skipped {path}: larger than {limit:,} bytes")
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        scan.note(f"skipped {path}: {_why(exc)}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        scan.note(f"skipped {path}: not valid JSON")
    return None


def lmstudio_roots(scan: Scan) -> list[Path]:
    """LM Studio's models folders: `~/.lmstudio/models`, a moved home named by
    `~/.lmstudio-home-pointer`, a download folder chosen in its settings, the older cache."""
    home = _home() / ".lmstudio"
    roots = [home / "models"]
    try:
        pointer = (_home() / ".lmstudio-home-pointer").read_text(encoding="utf-8").strip()
        if pointer:
            home = Path(pointer).expanduser()
            roots.append(home / "models")
    except (OSError, UnicodeDecodeError):
        pass
    saved = _read_json(home / "settings.json", scan)
    if isinstance(saved, dict) and isinstance(saved.get("downloadsFolder"), str):
        roots.append(Path(saved["downloadsFolder"]).expanduser())
    roots.append(_home() / ".cache" / "lm-studio" / "models")
    return _unique_dirs(roots)


def lmstudio(scan: Scan) -> list[Candidate]:
    """`PUBLISHER/REPOSITORY/*.gguf`, named `PUBLISHER/REPOSITORY` as LM Studio shows it."""
    found: list[Candidate] = []
    for root in lmstudio_roots(scan):
        def name(path: Path, root: Path = root) -> str:
            return _folder_name(path, root)
        found += _one_per_folder(_candidates(walk_gguf(root, scan, depth=4), "lmstudio", name, scan))
    return found


def ollama_roots() -> list[Path]:
    """`OLLAMA_MODELS` if set, else `~/.ollama/models` (and the Linux service's own folder)."""
    chosen = _env_path("OLLAMA_MODELS")
    if chosen is not None:
        return _unique_dirs([chosen])
    service = [Path("/usr/share/ollama/.ollama/models")] if sys.platform.startswith("linux") else []
    return _unique_dirs([_home() / ".ollama" / "models", *service])


def ollama_name(manifest: Path, manifests: Path) -> str:
    """`NAME:TAG` as `ollama list` shows it: the default registry and `library` namespace are
    left out, any other namespace or registry is kept."""
    parts = list(manifest.relative_to(manifests).parts)
    if len(parts) < 2:
        return manifest.name
    *where, tag = parts
    if where[:1] == ["registry.ollama.ai"]:
        where = where[1:]
        if where[:1] == ["library"]:
            where = where[1:]
    return f"{'/'.join(where)}:{tag}"


def ollama(scan: Scan) -> list[Candidate]:
    """Each manifest under `manifests/REGISTRY/NAMESPACE/NAME/TAG` names its weights blob by the
    layer of media type `application/vnd.ollama.image.model`; the blob is a GGUF file."""
    found: list[Candidate] = []
    for root in ollama_roots():
        manifests = root / "manifests"
        if not manifests.is_dir():
            continue
        # The default registry's names first: an alias of the same blob elsewhere is then the
        # one left out as a duplicate.
        listed = _walk(manifests, scan, 4, lambda name: True)
        for manifest in sorted(listed, key=lambda path: (path.relative_to(manifests).parts[0] != "registry.ollama.ai",
                                                         str(path))):
            if scan.full:
                scan.note(f"listed the first {scan.limits.model_files} model files only")
                return found
            blob = _ollama_blob(manifest, root, scan)
            if blob is not None:
                scan.files += 1
                found.append(Candidate(blob, "ollama", ollama_name(manifest, manifests)))
    return found


def _ollama_blob(manifest: Path, root: Path, scan: Scan) -> Path | None:
    data = _read_json(manifest, scan, MAX_MANIFEST_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        if data is not None:
            scan.note(f"skipped {manifest}: not an Ollama manifest")
        return None
    for layer in data["layers"]:
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
            digest = OLLAMA_DIGEST.match(str(layer.get("digest", "")))
            if digest is None:  # never a path: a hostile digest could point anywhere
                scan.note(f"skipped {manifest}: its model layer has no sha256 digest")
                return None
            blob = root / "blobs" / f"sha256-{digest['hex']}"
            if not blob.is_file():
                scan.note(f"skipped {manifest}: its weights {blob.name} are not in {blob.parent}")
                return None
            return blob
    return None  # an embedding-only or adapter manifest: nothing to run here


def gpt4all_roots(scan: Scan) -> list[Path]:
    """GPT4All's download folder: the one set in its settings, else the platform's default."""
    roots = _platform_dirs(
        linux=[_xdg("XDG_DATA_HOME", ".local/share") / "nomic.ai" / "GPT4All"],
        mac=[_home() / "Library" / "Application Support" / "nomic.ai" / "GPT4All"],
        windows=[folder / "nomic.ai" / "GPT4All" for folder in _appdata("LOCALAPPDATA")],
    )
    ini = _xdg("XDG_CONFIG_HOME", ".config") / "nomic.ai" / "GPT4All.ini"
    try:
        for line in ini.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "modelPath" and value.strip():
                roots.insert(0, Path(value.strip()).expanduser())
    except OSError:
        pass
    roots.append(_home() / ".cache" / "gpt4all")  # the Python bindings' downloads
    return _unique_dirs(roots)


def gpt4all(scan: Scan) -> list[Candidate]:
    """A flat folder of `.gguf` files, named by file as GPT4All lists sideloaded models."""
    found: list[Candidate] = []
    for root in gpt4all_roots(scan):
        found += _candidates(walk_gguf(root, scan, depth=1), "gpt4all", lambda path: path.name, scan)
    return found


def jan_roots() -> list[Path]:
    """Jan's model folders: `~/jan/models` (before 0.5), then its data folder's `models` and
    `llamacpp/models` (0.6 and later) wherever this platform keeps it."""
    data = _platform_dirs(
        linux=[_xdg("XDG_DATA_HOME", ".local/share") / "Jan" / "data",
               _xdg("XDG_CONFIG_HOME", ".config") / "Jan" / "data"],
        mac=[_home() / "Library" / "Application Support" / "Jan" / "data"],
        windows=[folder / "Jan" / "data" for folder in _appdata("APPDATA")],
    )
    return _unique_dirs([_home() / "jan" / "models",
                         *(folder / sub for folder in data for sub in ("llamacpp/models", "models"))])


def jan(scan: Scan) -> list[Candidate]:
    """One folder per model id (with its model.json or model.yml), named by that id."""
    found: list[Candidate] = []
    for root in jan_roots():
        def name(path: Path, root: Path = root) -> str:
            return _folder_name(path, root).removeprefix("llamacpp/")
        found += _one_per_folder(_candidates(walk_gguf(root, scan, depth=5), "jan", name, scan))
    return found


def huggingface_root() -> Path:
    """The hub cache: `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`."""
    cache = _env_path("HF_HUB_CACHE")
    if cache is not None:
        return cache
    hf_home = _env_path("HF_HOME") or _xdg("XDG_CACHE_HOME", ".cache") / "huggingface"
    return hf_home / "hub"


def hub_cache(root: Path, source: str, scan: Scan) -> list[Candidate]:
    """`models--ORG--NAME/snapshots/REVISION/**.gguf` (symlinks into `blobs/` are normal), named
    `ORG/NAME`; a file present in several revisions is listed once, from the `main` ref's."""
    try:
        repos = sorted(p for p in root.iterdir() if p.name.startswith("models--") and p.is_dir())
    except OSError as exc:
        if root.exists():
            scan.note(f"skipped {root}: {_why(exc)}")
        return []
    found: list[Candidate] = []
    for repo in repos:
        repo_id = "/".join(repo.name.removeprefix("models--").split("--"))
        files: dict[str, Path] = {}
        for snapshot in _snapshots(repo, scan):
            for path in walk_gguf(snapshot, scan, depth=3):
                files.setdefault(path.relative_to(snapshot).as_posix(), path)
        def name(path: Path, repo_id: str = repo_id) -> str:
            return repo_id
        found += _one_per_folder(_candidates(files.values(), source, name, scan))
    return found


def _snapshots(repo: Path, scan: Scan) -> list[Path]:
    """The repository's snapshot folders, the `main` ref's first, then the newest."""
    try:
        snapshots = [p for p in (repo / "snapshots").iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        scan.note(f"skipped {repo / 'snapshots'}: {_why(exc)}")
        return []
    try:
        main = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        main = ""

    def order(path: Path) -> tuple[bool, float]:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = 0.0
        return (path.name != main, -mtime)

    return sorted(snapshots, key=order)


def huggingface(scan: Scan) -> list[Candidate]:
    """Models in the Hugging Face hub cache."""
    return hub_cache(huggingface_root(), "huggingface", scan)


def llama_cpp_root() -> Path:
    """`LLAMA_CACHE`, else llama.cpp's per-platform cache folder."""
    chosen = _env_path("LLAMA_CACHE")
    if chosen is not None:
        return chosen
    return _platform_dirs(
        linux=[_xdg("XDG_CACHE_HOME", ".cache") / "llama.cpp"],
        mac=[_home() / "Library" / "Caches" / "llama.cpp"],
        windows=[folder / "llama.cpp" for folder in _appdata("LOCALAPPDATA")] or [_home() / ".cache" / "llama.cpp"],
    )[0]


def llama_cpp(scan: Scan) -> list[Candidate]:
    """`-hf` downloads: flat `ORG_REPO_FILE.gguf` files, or a hub-style cache in newer builds."""
    root = llama_cpp_root()
    if not root.is_dir():
        return []
    flat = walk_gguf(root, scan, depth=2, skip=lambda path: path.name.startswith("models--"))
    return _candidates(flat, "llama.cpp", lambda path: path.stem, scan) + hub_cache(root, "llama.cpp", scan)


def folders(paths: Iterable[str | Path], scan: Scan) -> list[Candidate]:
    """Folders the user added in the settings (or with `--folder`), walked to the scan's depth."""
    found: list[Candidate] = []
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.is_dir():
            scan.note(f"skipped {root}: not a folder (check the model folders setting)")
            continue

        def name(path: Path, root: Path = root) -> str:
            return path.relative_to(root).as_posix()
        found += _candidates(walk_gguf(root, scan), "folder", name, scan)
    return found


#: The applications' layouts, in the order their models are listed.
APP_SOURCES: tuple[tuple[str, Callable[[Scan], list[Candidate]]], ...] = (
    ("lmstudio", lmstudio),
    ("ollama", ollama),
    ("gpt4all", gpt4all),
    ("jan", jan),
    ("huggingface", huggingface),
    ("llama.cpp", llama_cpp),
)
