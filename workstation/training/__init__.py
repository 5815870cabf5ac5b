"""LoRA training on this app's exports (DPO, KTO) with transformers, TRL and PEFT.

The only package that imports torch, transformers, trl and peft, and only inside functions:
`import workstation.training` is cheap, and a missing extra is one clear message naming
`make train-setup`. `model.load_gguf` turns a GGUF file into a local full-precision copy that
trainers accept; `train.train_dpo` and `train.train_kto` run a few LoRA steps on an export.
"""

from __future__ import annotations

from workstation.errors import WorkstationError

#: What installs the training extra (torch, transformers, trl, peft, datasets, accelerate).
SETUP_HINT = "make train-setup (or: pip install -e '.[train]')"


class TrainingUnavailableError(WorkstationError):
    """The training extra is not installed; says how to install it."""


class UnsupportedModelError(WorkstationError):
    """transformers cannot load this GGUF file (its architecture or quantization)."""


def require() -> None:
    """Raise TrainingUnavailableError unless torch, transformers, trl, peft and datasets import."""
    import importlib.util

    missing = [name for name in ("torch", "transformers", "trl", "peft", "datasets", "accelerate")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise TrainingUnavailableError(f"training needs {', '.join(missing)}: install them with {SETUP_HINT}")
