"""Settings: declared once, validated with messages naming the file and field, saved atomically."""

from __future__ import annotations

import json

import pytest

from workstation import settings
from workstation.errors import BadInputError


def test_defaults_when_nothing_is_saved() -> None:
    values, problems = settings.load()
    assert problems == []
    assert values == settings.defaults()
    assert values["model.cache_mb"] == 512


def test_save_and_load_round_trip() -> None:
    values = settings.defaults() | {"sampling.temperature": 0.2, "model.n_gpu_layers": -1}
    settings.save(values)
    loaded, problems = settings.load()
    assert problems == [] and loaded == values


def test_bad_values_are_reported_by_file_and_field_and_defaults_used() -> None:
    path = settings.settings_file()
    path.write_text(json.dumps({"sampling.top_p": 7, "review.role": "boss", "colour": "red", "sampling.seed": 3}))
    values, problems = settings.load()
    assert values["sampling.top_p"] == settings.BY_KEY["sampling.top_p"].default
    assert values["sampling.seed"] == 3
    assert any(str(path) in p and "sampling.top_p must be at most 1.0" in p for p in problems)
    assert any("review.role must be one of" in p for p in problems)
    assert any("unknown setting 'colour'" in p for p in problems)
    assert json.loads(path.read_text())["colour"] == "red"  # the user's file is left alone


def test_damaged_file_is_reported_not_lost() -> None:
    path = settings.settings_file()
    path.write_text("{not json")
    values, problems = settings.load()
    assert values == settings.defaults()
    assert len(problems) == 1 and str(path) in problems[0]
    assert path.read_text() == "{not json"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sampling.max_tokens", "many", "must be a whole number"),
        ("sampling.max_tokens", 2.5, "must be a whole number"),
        ("model.n_threads", 0, "at least 1"),
        ("sampling.temperature", True, "must be a number"),
    ],
)
def test_validation_messages(key: str, value: object, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        settings.BY_KEY[key].validate(value)
