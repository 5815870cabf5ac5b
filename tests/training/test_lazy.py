"""`workstation.training` is cheap to import: torch, transformers, trl and peft load only when
a training function runs, and a missing extra is one message naming `make train-setup`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workstation.training import SETUP_HINT, TrainingUnavailableError, require


def test_importing_the_training_package_loads_no_heavy_library() -> None:
    code = ("import sys, workstation.training, workstation.training.model, workstation.training.train; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_extra_names_make_train_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trl" else real(name, *a))
    with pytest.raises(TrainingUnavailableError, match="make train-setup") as caught:
        require()
    assert "trl" in str(caught.value) and SETUP_HINT in str(caught.value)
