"""One real engine on the default model for the whole session (loading takes ~0.2 s, but the
KV cache and snapshots it builds up are part of what the tests exercise)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Small context and two threads: the machine is shared and tests should stay fast.
TEST_OPTIONS = dict(n_ctx=1024, n_threads=2, cache_budget_bytes=128 * 1024 * 1024)


@pytest.fixture(scope="session")
def engine(default_model_path: Path) -> Iterator[Any]:
    """The shared LlamaEngine; tests that need a cold engine call `engine.reset()` first."""
    # Imported here so that the model-free tests in this folder collect without llama_cpp.
    from workstation.engine.llama_engine import LlamaEngine, LoadOptions

    with LlamaEngine(LoadOptions(default_model_path, **TEST_OPTIONS)) as shared:
        yield shared
