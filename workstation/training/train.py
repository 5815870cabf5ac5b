"""A few LoRA steps of DPO or KTO on an export file, and what the trainer prepared from it.

`train_dpo(model, "preference.jsonl", out)` and `train_kto(model, "kto.jsonl", out)` return a
`TrainingRun`: the losses logged and the tokenized rows the trainer built (prompt and
completion ids), so a caller can decode exactly what the model was trained on.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from workstation.training import require
from workstation.training.model import LocalModel, Tokenizer, Untyped


@dataclass(frozen=True)
class LoraSettings:
    """The adapter and the run: LoRA rank and alpha, steps, batch size, learning rate."""

    rank: int = 8
    alpha: int = 16
    steps: int = 2
    batch_size: int = 2
    learning_rate: float = 5e-5
    max_length: int = 512
    seed: int = 0


@dataclass
class TrainingRun:
    """What one training run did: the trainer kind, losses per logged step, the prepared rows."""

    kind: str
    losses: list[float] = field(default_factory=list)
    #: The trainer's processed rows: for DPO prompt_ids/chosen_ids/rejected_ids, for KTO
    #: prompt_ids/completion_ids (token id lists).
    prepared: list[dict[str, list[int]]] = field(default_factory=list)
    tokenizer: Tokenizer | None = None
    adapter: Path | None = None

    @property
    def finite(self) -> bool:
        """Whether every logged loss is a finite number (and there is at least one)."""
        return bool(self.losses) and all(math.isfinite(x) for x in self.losses)

    def decoded(self, row: int, part: str) -> str:
        """The text of one prepared field (e.g. "prompt_ids", "chosen_ids"), special tokens kept."""
        assert self.tokenizer is not None, "a run without its tokenizer has nothing to decode with"
        return str(self.tokenizer.decode(self.prepared[row][part], skip_special_tokens=False))


def _lora(settings: LoraSettings) -> Untyped:
    from peft import LoraConfig

    return LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "v_proj"])


def _common(settings: LoraSettings, out: Path) -> dict[str, str | int | float | bool]:
    return dict(output_dir=str(out), max_steps=settings.steps, per_device_train_batch_size=settings.batch_size,
                learning_rate=settings.learning_rate, logging_steps=1, save_strategy="no", report_to="none",
                use_cpu=True, seed=settings.seed, max_length=settings.max_length, dataloader_num_workers=0,
                disable_tqdm=True)


def _dataset(path: Path, out: Path) -> Untyped:
    from datasets import load_dataset

    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(out / "hf-cache"))


def _run(kind: str, trainer: Untyped, tokenizer: Tokenizer, fields: tuple[str, ...], out: Path) -> TrainingRun:
    prepared = [{f: list(row[f]) for f in fields} for row in trainer.train_dataset]
    trainer.train()
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    adapter = out / "adapter"
    trainer.model.save_pretrained(adapter)
    return TrainingRun(kind, losses, prepared, tokenizer, adapter)


def train_dpo(model: LocalModel, data: Path | str, out: Path | str, settings: LoraSettings = LoraSettings()) -> TrainingRun:
    """DPO with a LoRA adapter on a `trl-preference` export (either style) for `settings.steps` steps."""
    require()
    trl = importlib.import_module("trl")  # trl's lazy module exports its trainers untyped

    out = Path(out)
    policy, tokenizer = model.load()
    args = trl.DPOConfig(**_common(settings, out), beta=0.1)
    trainer = trl.DPOTrainer(model=policy, args=args, train_dataset=_dataset(Path(data), out),
                         processing_class=tokenizer, peft_config=_lora(settings))
    return _run("dpo", trainer, tokenizer, ("prompt_ids", "chosen_ids", "rejected_ids"), out)


def train_kto(model: LocalModel, data: Path | str, out: Path | str, settings: LoraSettings = LoraSettings()) -> TrainingRun:
    """KTO with a LoRA adapter on a `kto` export for `settings.steps` steps; the desirable weight
    follows the export's counts (TRL's suggested range, its lower end)."""
    require()
    trl = importlib.import_module("trl")

    out = Path(out)
    dataset = _dataset(Path(data), out)
    desirable = max(sum(bool(x) for x in dataset["label"]), 1)
    undesirable = max(len(dataset) - desirable, 1)
    policy, tokenizer = model.load()
    args = trl.KTOConfig(**_common(settings, out), beta=0.1, desirable_weight=round(undesirable / desirable, 2))
    trainer = trl.KTOTrainer(model=policy, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=_lora(settings))
    return _run("kto", trainer, tokenizer, ("prompt_ids", "completion_ids"), out)
