"""Discovery finds the models other applications keep, each with its source and that
application's name for it, in place, under a temporary HOME with the real default model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import model_layouts
from tests.gguf_files import write_tiny_gguf
from workstation import settings
from workstation.engine import discovery
from workstation.engine.model_sources import Limits


@pytest.fixture(scope="session")
def split_parts(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The default model split into three parts, once per session (about three seconds)."""
    folder = tmp_path_factory.mktemp("split")
    return model_layouts.split_gguf(default_model_path, folder / "smol")


@pytest.fixture
def layouts(isolated_home: Path, default_model_path: Path, split_parts: list[Path], tmp_path: Path):
    built = model_layouts.build(isolated_home, default_model_path, split_parts, tmp_path)
    yield built
    assert built.unreadable is not None
    built.unreadable.chmod(0o700)  # so that pytest can remove the temporary folder


def _by_source(found: list[discovery.DiscoveredModel]) -> dict[tuple[str, str], discovery.DiscoveredModel]:
    return {(model.source, model.name): model for model in found}


def test_every_layout_is_found_with_its_source_and_name(layouts: model_layouts.Layouts) -> None:
    found = discovery.scan()
    listed = _by_source(found.models)
    for key, path in layouts.expected.items():
        assert key in listed, f"{key} not among {sorted(listed)}"
        assert listed[key].path == path and listed[key].usable
    # Used in place: every listed path is the application's own file, nothing was copied.
    assert all(path.exists() for path in layouts.expected.values())
    listed_paths = {model.path for model in found.models}
    for hidden in layouts.hidden:
        assert hidden not in listed_paths


def test_the_default_model_is_still_the_one_chosen(layouts: model_layouts.Layouts) -> None:
    found = discovery.discover()
    assert found[0].source.startswith("package:")  # other applications' models come after
    assert discovery.choose_model().catalog_id == "smollm2-135m-instruct"


def test_a_split_model_is_one_entry_with_its_parts(layouts: model_layouts.Layouts) -> None:
    model = _by_source(discovery.discover())[("lmstudio", "bartowski/Smol-Split-GGUF")]
    assert model.parts == tuple(layouts.split_parts) and len(model.parts) == 3
    assert model.path.name.endswith("-00001-of-00003.gguf")
    assert model.size == sum(part.stat().st_size for part in layouts.split_parts)
    row = model.to_dict()
    assert row["parts"] == [str(part) for part in layouts.split_parts]
    assert row["parameter_count"] is None  # the first part's tensors are not the model's
    assert row["size_label"] == "135M"  # from general.size_label, which the first part carries


def test_a_split_model_with_a_missing_part_is_listed_as_unusable(
    isolated_home: Path, split_parts: list[Path]
) -> None:
    folder = isolated_home / "split"
    for part in split_parts[:2]:
        model_layouts.place(part, folder / part.name)
    model = discovery.discover(folders=[folder])[-1]
    assert model.source == "folder" and not model.usable
    assert "part 3 of 3 is missing" in (model.error or "")


def test_llama_cpp_loads_a_split_model_from_its_first_part(
    split_parts: list[Path], default_model_path: Path
) -> None:
    import llama_cpp

    def greedy(path: Path) -> str:
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False)
        try:
            text: str = llm("The capital of France is", max_tokens=8, temperature=0.0)["choices"][0]["text"]
            return text
        finally:
            llm.close()

    assert greedy(split_parts[0]) == greedy(default_model_path)


def test_unreadable_folders_are_skipped_with_a_note(layouts: model_layouts.Layouts) -> None:
    found = discovery.scan()
    assert found.models  # everything else is still listed
    assert layouts.unreadable is not None
    if os.access(layouts.unreadable, os.R_OK):
        pytest.skip("running as root, who reads a chmod 000 folder anyway: the note cannot happen here")
    assert any(str(layouts.unreadable) in note and "permission denied" in note for note in found.notes)


def test_symlink_loops_end(isolated_home: Path, default_model_path: Path) -> None:
    folder = isolated_home / "looped"
    model_layouts.place(default_model_path, folder / "deep" / "m.gguf")
    (folder / "deep" / "back").symlink_to(folder)
    (folder / "deep" / "self").symlink_to(folder / "deep" / "self")
    found = discovery.scan(folders=[folder])
    assert [m.path for m in found.models if m.source == "folder"] == [folder / "deep" / "m.gguf"]


def test_the_scan_is_bounded_and_says_so(isolated_home: Path) -> None:
    folder = isolated_home / "huge"
    folder.mkdir(parents=True)
    for index in range(30):
        (folder / f"file{index:02}.txt").write_text("x")
    found = discovery.scan(folders=[folder], limits=Limits(entries_per_root=10))
    assert any("stopped looking in" in note and str(folder) in note for note in found.notes)


def test_a_file_reached_twice_is_listed_once(isolated_home: Path, default_model_path: Path) -> None:
    real = model_layouts.place(default_model_path, isolated_home / "a" / "m.gguf")
    (isolated_home / "b").mkdir(parents=True)
    (isolated_home / "b" / "same.gguf").symlink_to(real)
    found = discovery.discover(folders=[isolated_home / "a", isolated_home / "b"])
    assert [m.path for m in found if m.source == "folder"] == [real]


def test_folders_come_from_the_setting(isolated_home: Path, default_model_path: Path) -> None:
    folder = isolated_home / "mine"
    model_layouts.place(default_model_path, folder / "team" / "model.gguf")
    settings.save(settings.defaults() | {"model.folders": [str(folder)]})
    listed = _by_source(discovery.discover())
    assert listed[("folder", "team/model.gguf")].path == folder / "team" / "model.gguf"


def test_a_missing_setting_folder_is_a_note(isolated_home: Path) -> None:
    found = discovery.scan(folders=[isolated_home / "nowhere"])
    assert any("nowhere" in note and "not a folder" in note for note in found.notes)


def test_the_folders_setting_validates_and_reads_text() -> None:
    setting = settings.BY_KEY["model.folders"]
    assert setting.validate(f"/a{os.pathsep}/b{os.pathsep}") == ("/a", "/b")
    assert setting.validate(["/a"]) == ("/a",)
    assert setting.text(("/a", "/b")) == f"/a{os.pathsep}/b"
    with pytest.raises(settings.BadInputError, match="model.folders must be a list of folder paths"):
        setting.validate(5)


@pytest.mark.parametrize(
    ("manifest", "note"),
    [
        ({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../x"}]},
         "no sha256 digest"),
        ({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + "d" * 64}]},
         "are not in"),
        ({"schemaVersion": 2}, "not an Ollama manifest"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_ollama_manifests_are_notes(isolated_home: Path, manifest: object, note: str) -> None:
    path = isolated_home / ".ollama" / "models" / "manifests" / "registry.ollama.ai" / "library" / "x" / "latest"
    path.parent.mkdir(parents=True)
    path.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    found = discovery.scan()
    assert not [m for m in found.models if m.source == "ollama"]
    assert any(note in line and str(path) in line for line in found.notes)


def test_ollama_models_honours_its_variable(isolated_home: Path, default_model_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = isolated_home / "elsewhere"
    model_layouts.place(default_model_path, root / "blobs" / f"sha256-{model_layouts.DIGEST}")
    model_layouts.ollama_manifest(root, "registry.ollama.ai/team/reasoner/q4", model_layouts.DIGEST)
    monkeypatch.setenv("OLLAMA_MODELS", str(root))
    listed = _by_source(discovery.discover())
    assert ("ollama", "team/reasoner:q4") in listed


def test_hub_cache_and_llama_cache_variables(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = isolated_home / "hub"
    snapshot = hub / "models--org--tiny" / "snapshots" / "r1"
    snapshot.mkdir(parents=True)
    write_tiny_gguf(snapshot / "a.gguf")
    write_tiny_gguf(snapshot / "b.gguf")
    cache = isolated_home / "llcache"
    cache.mkdir(parents=True)
    write_tiny_gguf(cache / "org_repo_c.gguf")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("LLAMA_CACHE", str(cache))
    names = {(m.source, m.name) for m in discovery.discover()}
    # One repository with two files: each is named with its file.
    assert {("huggingface", "org/tiny (a.gguf)"), ("huggingface", "org/tiny (b.gguf)"),
            ("llama.cpp", "org_repo_c")} <= names


def test_models_json_lists_each_source(layouts: model_layouts.Layouts, isolated_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "workstation", "models", "--json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {(row["source"], row["name"]): row for row in json.loads(result.stdout)}
    for (source, name), path in layouts.expected.items():
        assert rows[(source, name)]["path"] == str(path)
    split = rows[("lmstudio", "bartowski/Smol-Split-GGUF")]
    assert len(split["parts"]) == 3
