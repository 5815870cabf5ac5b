"""Other applications' model folders, built under a test's home with the real default model.

Each layout is what LM Studio, Ollama, GPT4All, Jan, the Hugging Face hub and llama.cpp leave
on disk; the model file is hard-linked (not copied: ~100 MB each) so every layout holds a real
GGUF file at its own path.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import gguf

from tests.gguf_files import write_tiny_gguf

DIGEST = "a" * 64  # the Ollama blob's name; discovery never hashes a blob
HF_BLOB = "b" * 64


def place(model: Path, target: Path) -> Path:
    """A real copy of `model` at `target`: a hard link where the file system allows one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(model, target)
    except OSError:
        shutil.copyfile(model, target)
    return target


def split_gguf(source: Path, first_stem: Path, tensors_per_part: int = 100) -> list[Path]:
    """Split a GGUF model into `STEM-0000K-of-0000N.gguf` parts with ggml's own writer, as
    llama.cpp's gguf-split does: the first part carries the metadata, each part some tensors."""
    reader = gguf.GGUFReader(source)
    architecture = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(first_stem.with_suffix(".gguf"), architecture, split_max_tensors=tensors_per_part)
    for item in reader.fields.values():
        if item.name == gguf.Keys.General.ARCHITECTURE or item.name.startswith("GGUF."):
            continue  # written by the writer itself
        value_type = item.types[0]
        sub_type = item.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(item.name, item.contents(), value_type, sub_type=sub_type)
    for tensor in reader.tensors:
        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                               tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return sorted(first_stem.parent.glob(f"{first_stem.name}-*-of-*.gguf"))


@dataclass
class Layouts:
    """What was built, and what discovery should report: (source, name) -> the file to open."""

    expected: dict[tuple[str, str], Path] = field(default_factory=dict)
    hidden: list[Path] = field(default_factory=list)  # projector files and non-first parts
    split_parts: list[Path] = field(default_factory=list)
    unreadable: Path | None = None


def ollama_manifest(root: Path, where: str, digest: str, extra_layers: list[dict[str, object]] | None = None) -> Path:
    """A manifest at `manifests/WHERE` whose model layer names the blob `sha256-DIGEST`."""
    manifest = root / "manifests" / where
    manifest.parent.mkdir(parents=True, exist_ok=True)
    layers = [{"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": 1}]
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers + (extra_layers or [])}))
    return manifest


def build(home: Path, model: Path, parts: list[Path], tmp: Path) -> Layouts:
    """Every application's layout under `home` (HOME), with XDG folders where the test's
    environment puts them."""
    out = Layouts()
    data = Path(os.environ["XDG_DATA_HOME"])
    cache = Path(os.environ["XDG_CACHE_HOME"])

    # LM Studio: PUBLISHER/REPOSITORY/*.gguf, a vision projector beside it, the older cache.
    repo = home / ".lmstudio" / "models" / "lmstudio-community" / "SmolLM2-135M-Instruct-GGUF"
    out.expected[("lmstudio", "lmstudio-community/SmolLM2-135M-Instruct-GGUF")] = place(
        model, repo / "SmolLM2-135M-Instruct-Q4_1.gguf")
    out.hidden.append(place(model, repo / "mmproj-SmolLM2-f16.gguf"))
    (repo.parent / "vision").mkdir()
    out.hidden.append(write_tiny_gguf(repo.parent / "vision" / "projector.gguf", architecture="clip"))
    old = home / ".cache" / "lm-studio" / "models" / "TheBloke" / "Smol-GGUF"
    out.expected[("lmstudio", "TheBloke/Smol-GGUF")] = place(model, old / "smol.Q4_1.gguf")
    # A split model: one entry, opened by its first part.
    split_repo = home / ".lmstudio" / "models" / "bartowski" / "Smol-Split-GGUF"
    linked = [place(part, split_repo / part.name) for part in parts]
    out.expected[("lmstudio", "bartowski/Smol-Split-GGUF")] = linked[0]
    out.split_parts = linked
    out.hidden += linked[1:]
    # An unreadable folder (tests run as root, who can read it anyway: see the tests).
    locked = home / ".lmstudio" / "models" / "locked"
    place(model, locked / "inside" / "secret.gguf")
    locked.chmod(0)
    out.unreadable = locked

    # Ollama: a manifest per NAME:TAG naming a blob; a projector layer is not the model.
    ollama = home / ".ollama" / "models"
    blob = place(model, ollama / "blobs" / f"sha256-{DIGEST}")
    ollama_manifest(ollama, "registry.ollama.ai/library/smollm2/135m", DIGEST,
                    [{"mediaType": "application/vnd.ollama.image.projector", "digest": "sha256:" + "c" * 64}])
    ollama_manifest(ollama, "hf.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/latest", DIGEST)
    out.expected[("ollama", "smollm2:135m")] = blob
    # The second manifest names the same blob: listed once (the first name wins).
    out.hidden.append(ollama / "manifests" / "hf.co")

    # GPT4All: a flat folder of .gguf files in the data folder.
    out.expected[("gpt4all", "smollm2-135m-instruct-q4_1.gguf")] = place(
        model, data / "nomic.ai" / "GPT4All" / "smollm2-135m-instruct-q4_1.gguf")

    # Jan: ~/jan/models/ID/ (before 0.5) and the data folder's llamacpp/models/ID/ (0.6+).
    out.expected[("jan", "smollm2-135m")] = place(model, home / "jan" / "models" / "smollm2-135m" / "model.gguf")
    out.expected[("jan", "smol-tauri")] = place(
        model, data / "Jan" / "data" / "llamacpp" / "models" / "smol-tauri" / "model.gguf")
    (home / "jan" / "models" / "loop").symlink_to(home / "jan")  # a symlink loop
    (home / "jan" / "models" / "self").symlink_to(home / "jan" / "models" / "self")

    # Hugging Face: snapshots link into blobs; two revisions of one file are one model.
    hub = cache / "huggingface" / "hub" / "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
    hf_blob = place(model, hub / "blobs" / HF_BLOB)
    for revision in ("1111", "2222"):
        snapshot = hub / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "smollm2-135m-instruct-q4_1.gguf").symlink_to(Path("../../blobs") / HF_BLOB)
    (hub / "refs").mkdir()
    (hub / "refs" / "main").write_text("2222")
    out.expected[("huggingface", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")] = (
        hub / "snapshots" / "2222" / "smollm2-135m-instruct-q4_1.gguf")
    out.hidden += [hf_blob, hub / "snapshots" / "1111" / "smollm2-135m-instruct-q4_1.gguf"]

    # llama.cpp's cache: `-hf` downloads named ORG_REPO_FILE.gguf.
    out.expected[("llama.cpp", "bartowski_SmolLM2_smol-Q4_1")] = place(
        model, cache / "llama.cpp" / "bartowski_SmolLM2_smol-Q4_1.gguf")
    return out
