"""The `Engine` protocol: everything the review layer asks of a model engine, and the types it names.

`LlamaEngine` (a local GGUF file through llama-cpp-python) is one implementation; `ServerEngine`
(any OpenAI-compatible `/v1/chat/completions` server) is the other. The review layer and the windows hold
an `Engine` and call only what is declared here, never probing for a capability with `getattr`:
an engine that cannot do something meaningfully still implements it (see each method for what
such an engine should do).

This module imports nothing heavy (no llama_cpp, numpy or jinja2), so a second engine, the review
layer and type checks can use it without loading the local engine's dependencies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from workstation.engine.events import FinishEvent as FinishEvent
from workstation.engine.events import FinishReason as FinishReason
from workstation.engine.events import GenerationEvent as GenerationEvent
from workstation.engine.events import SamplingParams as SamplingParams
from workstation.engine.events import TokenEvent as TokenEvent

#: One chat message as the prompt builders take it: {"role": ..., "content": ...}. Values are
#: `object` because messages may come from outside (JSON, a test) and are checked when rendered.
ChatMessage = Mapping[str, object]


@dataclass(frozen=True)
class Prompt:
    """Prompt tokens plus where each piece ends, or, for an engine without a tokenizer, messages.

    `boundaries` are token counts: the first is the end of the head (the assistant turn's start),
    then one per continuation piece. The engine may snapshot its state at these positions.
    `text` is the rendered head followed by the pieces, for logs and display; `pieces` is the
    assistant text to continue. An inference server renders the chat itself, so its prompt
    carries the checked `messages` and no tokens (`tokens` empty, `boundaries` (0,)).
    """

    tokens: tuple[int, ...]
    boundaries: tuple[int, ...]
    text: str
    pieces: tuple[str, ...] = field(default=())
    messages: tuple[Mapping[str, str], ...] = field(default=())

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def head_length(self) -> int:
        """Tokens in the head (the conversation up to the assistant's turn)."""
        return self.boundaries[0]


class ModelInfo(Protocol):
    """What every engine tells about its model; `GGUFInfo` is the local engine's, with more."""

    @property
    def path(self) -> Path:
        """The model file (a server engine: a path-like name of the served model)."""
        ...

    @property
    def file_size(self) -> int:
        """The model file's size in bytes (0 where the engine cannot know it)."""
        ...


@runtime_checkable
class Engine(Protocol):
    """What the review use cases need from a model engine.

    An engine is used from one thread at a time; only `threading.Event.set()` on a stop event may
    come from another thread.
    """

    @property
    def info(self) -> ModelInfo:
        """The loaded model (its file and size go into every generation's record)."""
        ...

    @property
    def n_ctx(self) -> int:
        """The context window in tokens: a prompt plus max_tokens must fit in it (0: not known,
        as for a server that does not report it)."""
        ...

    @property
    def n_gpu_layers(self) -> int:
        """Layers offloaded to a GPU as the engine runs them (0: CPU only, -1: all)."""
        ...

    @property
    def notices(self) -> Sequence[str]:
        """What the user should be told about how the model was loaded (say, a GPU fallback)."""
        ...

    def build_prompt(self, messages: Sequence[ChatMessage], continuation: Sequence[str] = ()) -> Prompt:
        """Render messages (and assistant text to continue) to prompt tokens."""
        ...

    def extend_prompt(self, prompt: Prompt, pieces: Sequence[str]) -> Prompt:
        """Append assistant text pieces to a prompt without changing its earlier tokens."""
        ...

    def check_fits(self, prompt: Prompt, max_tokens: int) -> None:
        """Raise EmptyPromptError or ContextOverflowError unless the prompt plus max_tokens fits
        (an engine without a tokenizer refuses only what surely cannot fit)."""
        ...

    def generate(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), stop: threading.Event | None = None
    ) -> Iterator[GenerationEvent]:
        """Stream TokenEvents, then exactly one FinishEvent; setting `stop` ends it within a token."""
        ...

    def check_file(self) -> None:
        """Raise ModelFileError when the loaded model can no longer be used as it was loaded
        (the local engine: its file was changed in place); an engine with nothing to check passes."""
        ...

    def file_sha256(self) -> str:
        """The SHA-256 (hex) of the model's weights as loaded, recorded with every generation
        ("" where the weights are not on this machine: a server records its model id instead)."""
        ...

    def close(self) -> None:
        """Free the model; the engine cannot be used afterwards."""
        ...
