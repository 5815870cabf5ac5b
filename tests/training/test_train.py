"""A real training check: exports made by the CLI from sessions the real model wrote and a
reviewer labelled, rewrote and regenerated, trained for a few LoRA steps with real TRL.

The test decodes what each trainer prepared (its tokenized prompt and completion ids) and
checks the boundary text, then that the losses are finite. The GGUF is converted once per
test session. `make test` installs the `train` extra; select with `-m train`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workstation.cli import main

pytest.importorskip("trl", reason="the train extra is not installed: make train-setup")

pytestmark = [
    pytest.mark.train,
    pytest.mark.model,
    pytest.mark.slow,
    # Third-party deprecation and resource notices from torch/transformers/TRL during training.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

QUESTION = "What is 15% of 80?"


@pytest.fixture(scope="session")
def local_model(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The default GGUF as a full-precision transformers folder, converted once."""
    from workstation.training.model import load_gguf

    return load_gguf(default_model_path, tmp_path_factory.mktemp("smollm2-hf"))


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    status = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def _reviewed_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    sampling = ("--max-tokens", "120", "--seed", "1", "--threads", "2")
    made = _cli(capsys, "generate", "--prompt", QUESTION, *sampling)
    steps = [n["id"] for n in made["nodes"]]
    assert len(steps) >= 2, made
    first, second = steps[0], steps[1]
    _cli(capsys, "annotate", first, "--label", "1")
    _cli(capsys, "annotate", second, "--label", "-1")
    _cli(capsys, "rewrite", second, "--text", "15% of 80 is 0.15 * 80 = 12.")
    again = _cli(capsys, "regenerate", second, *sampling[:2], "--seed", "5", "--threads", "2")
    new_first = again["nodes"][0]["id"]
    _cli(capsys, "prefer", new_first)
    _cli(capsys, "annotate", new_first, "--label", "1")
    files = {}
    for name, fmt, style in (("conv", "trl-preference", "conversational"), ("std", "trl-preference", "standard"),
                             ("kto", "kto", "conversational")):
        out = tmp_path / f"{name}.jsonl"
        result = _cli(capsys, "export", "--format", fmt, "--style", style, "--out", str(out))
        assert result["rows"] >= 2, result
        files[name] = out
    return files


def test_dpo_and_kto_train_on_the_text_the_model_wrote(
    local_model, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    from workstation.training.train import LoraSettings, train_dpo, train_kto

    files = _reviewed_exports(tmp_path, capsys)
    settings = LoraSettings(steps=1, batch_size=2, max_length=384)

    conv = train_dpo(local_model, files["conv"], tmp_path / "dpo-conv", settings)
    assert conv.finite, conv.losses
    for i in range(len(conv.prepared)):
        prompt, chosen, rejected = (conv.decoded(i, f) for f in ("prompt_ids", "chosen_ids", "rejected_ids"))
        # The chat template's assistant header sits between the prompt and the completion.
        assert prompt.endswith("<|im_start|>assistant\n"), prompt[-80:]
        assert "careful assistant" in prompt and QUESTION in prompt
        assert chosen != rejected and chosen.endswith("<|im_end|>\n")

    std = train_dpo(local_model, files["std"], tmp_path / "dpo-std", settings)
    assert std.finite, std.losses
    rows = [json.loads(line) for line in files["std"].read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        prompt, chosen = std.decoded(i, "prompt_ids"), std.decoded(i, "chosen_ids")
        # The prompt ends on a token boundary (TRL kept all of it) and the completion starts with
        # the line break: the trained text is the row's text exactly, never "?1." glued.
        assert prompt.endswith(row["prompt"]) and not prompt[-1].isspace()
        assert chosen.startswith(row["chosen"]) and chosen[0].isspace()
        assert not re.search(r"\?(1\.|Step|\w)", prompt + chosen)

    assert "not a prefix" not in caplog.text  # TRL kept every prompt whole
    kto = train_kto(local_model, files["kto"], tmp_path / "kto", settings)
    assert kto.finite, kto.losses
    for i in range(len(kto.prepared)):
        prompt, completion = kto.decoded(i, "prompt_ids"), kto.decoded(i, "completion_ids")
        assert prompt.endswith("<|im_start|>assistant\n")
        assert completion.strip() and not completion.startswith("<|im_start|>")
