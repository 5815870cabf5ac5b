"""The GGUF header reader accepts real models and rejects every damaged file in Python."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gguf_files import header_with, write_tiny_gguf
from workstation.engine.gguf_info import read_gguf_info
from workstation.errors import ModelFileError


def test_reads_the_default_model_metadata(default_model_path: Path) -> None:
    info = read_gguf_info(default_model_path)
    assert info.architecture == "llama"
    assert info.size_label == "135M"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.vocab_size == 49152
    assert info.has_chat_template and "<|im_start|>" in (info.chat_template or "")
    assert info.file_size == default_model_path.stat().st_size
    # Counted from the tensor table, so it agrees with the size label.
    assert 130e6 < info.parameter_count < 140e6


def test_reads_a_file_written_by_ggml_writer(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_gguf(tmp_path / "tiny.gguf"))
    assert info.name == "Tiny Test Model"
    assert info.tensor_count == 2
    assert info.parameter_count == 100 * 8 + 8
    assert info.quantization == "F32"
    assert info.vocab_size == 100
    assert info.to_dict()["has_chat_template"] is True


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"absent\.gguf: no such model file"):
        read_gguf_info(tmp_path / "absent.gguf")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="is a folder"):
        read_gguf_info(tmp_path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.gguf"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ModelFileError, match="not the GGUF magic"):
        read_gguf_info(path)


def test_wrong_version(tmp_path: Path) -> None:
    path = tmp_path / "v9.gguf"
    path.write_bytes(header_with(0, 0, version=9) + bytes(64))
    with pytest.raises(ModelFileError, match="version 9 is not supported"):
        read_gguf_info(path)


def test_huge_declared_counts_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "huge.gguf"
    path.write_bytes(header_with(2**60, 2**60) + bytes(64))
    with pytest.raises(ModelFileError, match="more than .* bytes can hold"):
        read_gguf_info(path)


def test_missing_architecture(tmp_path: Path) -> None:
    path = tmp_path / "noarch.gguf"
    path.write_bytes(header_with(0, 0))
    with pytest.raises(ModelFileError, match="no general.architecture"):
        read_gguf_info(path)


@pytest.fixture(scope="module")
def tiny_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_every_truncation_is_refused(tiny_bytes: bytes, tmp_path: Path, cut: int) -> None:
    cut = cut % len(tiny_bytes)  # any proper prefix of a valid file
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny_bytes[:cut])
    with pytest.raises(ModelFileError, match="cut.gguf"):
        read_gguf_info(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=4, max_value=4000), value=st.integers(0, 255))
def test_flipped_bytes_never_escape_as_other_errors(
    tiny_bytes: bytes, tmp_path: Path, position: int, value: int
) -> None:
    damaged = bytearray(tiny_bytes)
    damaged[position % len(damaged)] = value
    path = tmp_path / "flip.gguf"
    path.write_bytes(bytes(damaged))
    try:
        read_gguf_info(path)
    except ModelFileError as exc:
        assert "flip.gguf" in str(exc)
