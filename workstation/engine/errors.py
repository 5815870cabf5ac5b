"""Typed errors the engine raises; each message is one line naming the value and what to do."""

from __future__ import annotations

from workstation.errors import BadInputError, ModelFileError


class UnsupportedModelError(ModelFileError):
    """A valid GGUF file that this build of llama.cpp cannot load (unknown architecture, ...)."""


class EmptyPromptError(BadInputError):
    """The messages render to nothing the model could continue."""


class ContextOverflowError(BadInputError):
    """The prompt plus the requested completion does not fit in the context window."""

    def __init__(self, message: str, *, prompt_tokens: int, max_tokens: int, n_ctx: int) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx


class ChatTemplateError(BadInputError):
    """The model's own chat template rejected the messages (say, roles that do not alternate)."""
