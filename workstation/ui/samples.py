"""The sample sessions of a first start (read from samples.toml), added through the use cases."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workstation.review import Review

SAMPLES_FILE = Path(__file__).with_name("samples.toml")
SAMPLE_MODEL = "sample (written by hand)"


def seed_samples(review: Review) -> list[str]:
    """Add the sample sessions (runs on the worker thread); returns their ids, math first."""
    data = tomllib.loads(SAMPLES_FILE.read_text(encoding="utf-8"))
    ids = []
    for sample in data["sample"]:
        tree = review.start(sample["question"], sample["template"], title=sample["title"])
        sid = tree.session.id
        review.add_steps(sid, sample["steps"], model=SAMPLE_MODEL)
        k = sample.get("alternative_from", 0)
        if k and sample.get("alternative"):
            first = review.tree(sid).shown_path()[k].id
            parent = review.tree(sid).shown_path()[k - 1].id
            review.add_steps(sid, sample["alternative"], parent_id=parent, model=SAMPLE_MODEL)
            review.show(first)  # open on the model's flawed branch: the flag is the point
        ids.append(sid)
    return ids
