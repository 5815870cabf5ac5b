"""Every user setting, declared once with its type, default and description.

The GUI's settings panel and the command line's flags are built from `SETTINGS`, and the values
persist as JSON in the config folder. A damaged settings file is never overwritten silently: it
is reported (file and field) and the defaults are used until the user saves again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workstation import paths
from workstation.errors import BadInputError

#: Setting key -> value, each of its setting's declared type (checked by `Setting.validate` when
#: loaded and saved). Values are Any, not a union: every reader indexes one key whose type its
#: setting declares, and a union would need a cast at each of those reads.
Values = dict[str, Any]


@dataclass(frozen=True)
class Setting:
    """One setting: its key, type, default, description and allowed range or choices."""

    key: str
    type: type
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    group: str = "general"
    #: What the settings dialog calls it (the key stays the name in files and flags).
    label: str = ""

    @property
    def title(self) -> str:
        """The label shown for it: the declared one, else the key's last part in words."""
        return self.label or self.key.split(".", 1)[-1].replace("_", " ").capitalize()

    def validate(self, value: Any, where: str = "") -> Any:
        """Return the value converted to this setting's type, or raise BadInputError naming it."""
        prefix = f"{where}: " if where else ""
        if self.type is tuple:
            return self._paths(value, prefix)
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise BadInputError(f"{prefix}{self.key} must be true or false, not {value!r}")
        if self.type in (int, float) and isinstance(value, bool):
            kind = "a whole number" if self.type is int else "a number"
            raise BadInputError(f"{prefix}{self.key} must be {kind}, not {value!r}")
        try:
            converted = self.type(value)
        except (TypeError, ValueError):
            kind = {int: "a whole number", float: "a number", str: "text"}.get(self.type, self.type.__name__)
            raise BadInputError(f"{prefix}{self.key} must be {kind}, not {value!r}") from None
        if self.type is int and isinstance(value, float) and value != converted:
            raise BadInputError(f"{prefix}{self.key} must be a whole number, not {value!r}")
        if self.minimum is not None and converted < self.minimum:
            raise BadInputError(f"{prefix}{self.key} must be at least {self.minimum}, not {value!r}")
        if self.maximum is not None and converted > self.maximum:
            raise BadInputError(f"{prefix}{self.key} must be at most {self.maximum}, not {value!r}")
        if self.choices is not None and converted not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise BadInputError(f"{prefix}{self.key} must be one of {allowed}, not {value!r}")
        return converted

    def _paths(self, value: Any, prefix: str) -> tuple[str, ...]:
        """A list of paths: a JSON list of text, or one text with the paths separated by the
        platform's path separator (as in PATH), which is how a text field or a flag gives them."""
        if isinstance(value, str):
            value = value.split(os.pathsep)
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise BadInputError(f"{prefix}{self.key} must be a list of folder paths, not {value!r}")
        return tuple(item.strip() for item in value if item.strip())

    def text(self, value: Any) -> str:
        """The value as a text field shows it (a list of paths joined by the path separator)."""
        return os.pathsep.join(value) if self.type is tuple else str(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("model.path", str, "", "GGUF model file to open (empty: discovery picks one)", group="model", label="Model file"),
    Setting("model.n_gpu_layers", int, 0, "layers to offload to the GPU (0 = CPU only, -1 = all)",
            minimum=-1, group="model", label="GPU layers"),
    Setting("model.n_threads", int, max(1, min(8, os.cpu_count() or 1)), "CPU threads for generation",
            minimum=1, maximum=256, group="model", label="CPU threads"),
    Setting("model.n_ctx_cap", int, 4096, "largest context to allocate (the model's own limit applies too)",
            minimum=256, maximum=1_048_576, group="model", label="Largest context (tokens)"),
    Setting("model.folders", tuple, (),
            f"more folders to look for .gguf models in (separate them with {os.pathsep!r})", group="model", label="More model folders"),
    Setting("model.cache_mb", int, 512, "memory for saved model states that make regenerate instant (MB)",
            minimum=0, maximum=65_536, group="model", label="State cache (MB)"),
    Setting("model.kv_cache_type", str, "f16", "KV cache type: f16, or q8_0 for about half the memory per token",
            choices=("f16", "q8_0"), group="model", label="KV cache type"),
    Setting("sampling.temperature", float, 0.7, "randomness of sampling (0 = always the likeliest token)",
            minimum=0.0, maximum=5.0, group="sampling", label="Temperature"),
    Setting("sampling.top_p", float, 0.95, "nucleus sampling: keep tokens up to this total probability",
            minimum=0.0, maximum=1.0, group="sampling", label="Top p"),
    Setting("sampling.top_k", int, 40, "keep only the k likeliest tokens (0 = no limit)",
            minimum=0, maximum=100_000, group="sampling", label="Top k"),
    Setting("sampling.repeat_penalty", float, 1.1, "penalty for repeating recent tokens (1 = none)",
            minimum=0.5, maximum=3.0, group="sampling", label="Repeat penalty"),
    Setting("sampling.max_tokens", int, 512, "most tokens one generation may produce",
            minimum=1, maximum=65_536, group="sampling", label="Most tokens per generation"),
    Setting("sampling.seed", int, 42, "random seed (-1 = a new one each time)", minimum=-1, group="sampling", label="Seed"),
    Setting("review.reviewer", str, "", "your reviewer id (empty: your user name)", group="review", label="Reviewer id"),
    Setting("review.role", str, "annotator", "your role", choices=("annotator", "expert", "ethics_reviewer"),
            group="review", label="Role"),
    Setting("review.template", str, "chain-of-thought", "prompt template for new questions", group="review", label="Prompt template"),
    Setting("review.split", str, "lines",
            "how model output becomes steps: one per line (as PRM800K labels) or one per paragraph",
            choices=("lines", "paragraphs"), group="review", label="Steps are"),
    Setting("review.auto_advance", bool, True, "after a label key (1, 2, 3), move to the next step",
            group="review", label="Move on after a label"),
    Setting("review.low_confidence", float, -1.5,
            "flag a step whose mean token log-probability is below this", maximum=0.0, group="review", label="Low-confidence threshold"),
    Setting("server.url", str, "",
            "OpenAI-compatible inference server to generate with, e.g. http://127.0.0.1:8080/v1 "
            "(empty: the local model; the API key is kept in the keyring, never here)", group="server",
            label="Server URL"),
    Setting("server.model", str, "", "model name on the inference server (empty: the one it serves)",
            group="server", label="Server model"),
    Setting("server.timeout_s", float, 120.0, "seconds to wait for the inference server before giving up",
            minimum=1.0, maximum=3600.0, group="server", label="Server timeout (s)"),
    Setting("server.top_logprobs", int, 5,
            "alternatives per token to ask the server for (0: ask for no log-probabilities)",
            minimum=0, maximum=20, group="server", label="Alternatives per token"),
    Setting("server.continuation", str, "auto",
            "how the server continues a chain from step k: vllm (continue_final_message), prefill "
            "(llama-server), user-turn (asks for the next steps), auto (from the server's model list)",
            choices=("auto", "vllm", "prefill", "user-turn"), group="server", label="Continuation"),
)

BY_KEY = {setting.key: setting for setting in SETTINGS}


def settings_file() -> Path:
    """Where the settings are saved."""
    return paths.config_dir() / "settings.json"


def defaults() -> Values:
    """Every setting at its default value."""
    return {setting.key: setting.default for setting in SETTINGS}


def load(path: Path | None = None) -> tuple[Values, list[str]]:
    """The saved settings over the defaults, and a list of problems found (file and field).

    Unknown keys are ignored and reported; an unreadable file yields the defaults and a problem.
    """
    path = path or settings_file()
    values = defaults()
    problems: list[str] = []
    if not path.exists():
        return values, problems
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return values, [f"{path}: cannot be read ({exc}); using the default settings"]
    if not isinstance(saved, dict):
        return values, [f"{path}: expected a JSON object; using the default settings"]
    for key, value in saved.items():
        setting = BY_KEY.get(key)
        if setting is None:
            problems.append(f"{path}: unknown setting {key!r} ignored")
            continue
        try:
            values[key] = setting.validate(value, str(path))
        except BadInputError as exc:
            problems.append(f"{exc}; using the default {setting.default!r}")
    return values, problems


def save(values: Values, path: Path | None = None) -> None:
    """Validate and write the settings atomically (a crash never leaves half a file)."""
    path = path or settings_file()
    clean = {key: BY_KEY[key].validate(value) for key, value in values.items() if key in BY_KEY}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(clean, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
