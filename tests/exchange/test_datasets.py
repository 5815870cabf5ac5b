"""Each JSONL export loads with Hugging Face `datasets` with the exact columns and Arrow types
TRL expects (FORMATS.md): strings, lists of strings, booleans and lists of booleans."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exchange.factory import rich_review
from workstation.exchange.corpus import ReviewSet
from workstation.exchange.export import export

datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")

EXPECTED = {
    "trl-stepwise": {"prompt": pa.string(), "completions": pa.list_(pa.string()), "labels": pa.list_(pa.bool_())},
    "trl-preference": {"prompt": pa.string(), "chosen": pa.string(), "rejected": pa.string()},
    "kto": {"prompt": pa.string(), "completion": pa.string(), "label": pa.bool_()},
}


def _load(path: Path, cache: Path):
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_export_loads_with_datasets(fmt: str, tmp_path: Path) -> None:
    r, _ = rich_review()
    out = tmp_path / f"{fmt}.jsonl"
    result = export(ReviewSet.from_trees([r.tree], r.event_dicts()), fmt, out,
                    **({"style": "standard"} if fmt != "trl-stepwise" else {}))
    assert result.rows > 0
    ds = _load(out, tmp_path / "hf-cache")
    assert ds.num_rows == result.rows
    schema = ds.data.schema
    assert schema.names == list(EXPECTED[fmt])
    for name, kind in EXPECTED[fmt].items():
        field_type = schema.field(name).type
        # datasets may store lists as large lists; the element type is what TRL reads.
        if pa.types.is_list(kind):
            assert pa.types.is_list(field_type) or pa.types.is_large_list(field_type), (name, field_type)
            assert field_type.value_type == kind.value_type, (name, field_type)
        else:
            assert field_type == kind, (name, field_type)


def test_prm800k_loads_with_datasets(tmp_path: Path) -> None:
    r, _ = rich_review()
    out = tmp_path / "prm800k.jsonl"
    export(ReviewSet.from_trees([r.tree], r.event_dicts()), "prm800k", out)
    ds = _load(out, tmp_path / "hf-cache")
    assert {"labeler", "timestamp", "question", "label"} <= set(ds.column_names)
    step = ds[0]["label"]["steps"][0]
    assert set(step) == {"completions", "human_completion", "chosen_completion"}


@pytest.mark.parametrize("fmt", ["trl-preference", "kto"])
def test_conversational_exports_load_as_lists_of_messages(fmt: str, tmp_path: Path) -> None:
    r, _ = rich_review()
    out = tmp_path / f"{fmt}.jsonl"
    export(ReviewSet.from_trees([r.tree], r.event_dicts()), fmt, out, style="conversational")
    ds = _load(out, tmp_path / "hf-cache")
    first = ds[0]
    assert first["prompt"][-1]["role"] == "user"
    completion = first["chosen"] if fmt == "trl-preference" else first["completion"]
    assert [m["role"] for m in completion] == ["assistant"]
