"""A GGUF model as a full-precision transformers model that trainers accept.

transformers reads a GGUF file with `gguf_file=` and dequantizes its weights, but it marks the
model as GGUF-quantized (`hf_quantizer`, `config.quantization_config`), and the trainers refuse
a quantized model without an adapter type they know. The weights are already plain floats, so
the marks are cleared and a local copy is saved once; training loads that copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workstation.training import UnsupportedModelError, require

#: An object of the training stack: a transformers model, a trl trainer, a peft config, a
#: datasets Dataset. Any: the type gate does not follow those libraries (pyproject skips them so
#: that it does not read torch), so mypy sees them as Any whatever is written here.
Untyped = Any


class Tokenizer(Protocol):
    """What a run needs of a transformers tokenizer: token ids back to text."""

    def decode(self, token_ids: list[int], skip_special_tokens: bool = False) -> str:
        """The text of `token_ids`."""
        ...


@dataclass(frozen=True)
class LocalModel:
    """A converted model folder (config, safetensors, tokenizer) and the GGUF it came from."""

    folder: Path
    source: Path

    def load(self) -> tuple[Untyped, Tokenizer]:
        """(model, tokenizer) from the folder, full precision, on the CPU."""
        require()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.folder)
        model = AutoModelForCausalLM.from_pretrained(self.folder)
        return model, tokenizer


def load_gguf(gguf: Path | str, folder: Path | str) -> LocalModel:
    """Convert `gguf` into `folder` (once: an existing conversion is reused) and return it.

    Raises UnsupportedModelError naming the file when transformers cannot read its
    architecture or quantization.
    """
    require()
    gguf, folder = Path(gguf), Path(folder)
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return LocalModel(folder, gguf)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (ValueError, KeyError, NotImplementedError) as exc:
        raise UnsupportedModelError(
            f"{gguf}: transformers cannot load this GGUF file for training ({exc}); its architecture or "
            "quantization is not one transformers' GGUF loader supports"
        ) from exc
    # Dequantized already: drop the marks that make trainers treat it as a quantized model.
    setattr(model, "hf_quantizer", None)  # noqa: B010 - torch's Module typing refuses a plain assignment
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    setattr(model, "is_quantized", False)  # noqa: B010
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return LocalModel(folder, gguf)
