"""Chat messages to prompt tokens, with the model's own chat template, tokenised piece by piece.

A prompt is the rendered conversation up to the start of the assistant's turn (the "head"),
followed by zero or more pieces of assistant text to continue (the steps already in a chain).
The head is tokenised once and each piece separately, then the token lists are concatenated:
so the prompt that continues after step k is, token for token, a prefix of the prompt that
continues after step k+1. That is what lets the engine reuse evaluated prefixes when the user
regenerates from any step. Tokenising the joined text instead could merge tokens across a
step boundary and change earlier tokens when a step is appended.

The template is rendered with jinja2 in a sandbox, exactly as llama-cpp-python's
Jinja2ChatFormatter does (same extensions, filters and variables), and the head is the
template's own generation prompt (`add_generation_prompt=True`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workstation.engine.errors import ChatTemplateError, EmptyPromptError

# Prompt is defined with the Engine protocol (it is part of every engine's interface); it is
# re-exported here, where the prompts are built.
from workstation.engine.protocol import ChatMessage
from workstation.engine.protocol import Prompt as Prompt
from workstation.errors import BadInputError

#: Used when a GGUF file carries no chat template (base models): plain text turns, so the
#: prompt still reads naturally to a model that was never taught a chat format.
PLAIN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}Question: {{ message['content'] }}\n\n"
    "{% else %}Answer: {{ message['content'] }}\n\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Answer:{% endif %}"
)

ROLES = ("system", "user", "assistant")


class _IgnoreGenerationTags(jinja2.ext.Extension):
    """Pass-through for Hugging Face's `{% generation %}` chat-template tag."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"the model's chat template rejected the messages: {message}")


def _tojson(x: object, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    import json

    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def check_messages(messages: object) -> list[dict[str, str]]:
    """Validate chat messages ({"role", "content"}) and return them as plain dicts.

    Takes any object: messages may come from outside (a file, a test), and every wrong shape
    gets a BadInputError naming what is wrong.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise BadInputError("messages must be a list of {'role', 'content'} objects")
    checked: list[dict[str, str]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise BadInputError(f"message {index} is a {type(message).__name__}, not an object")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or role not in ROLES:
            raise BadInputError(f"message {index} has role {role!r}; use one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise BadInputError(f"message {index} has no text content")
        checked.append({"role": role, "content": content})
    if not any(m["content"].strip() for m in checked):
        raise EmptyPromptError("the prompt is empty: give a question or a message with some text")
    return checked


class ChatPrompter:
    """Renders messages with one chat template and tokenises prompts piece by piece.

    `tokenize(text, special)` must return the model's tokens for `text` without a BOS token;
    `special=True` lets the template's markers (such as `<|im_start|>`) become control tokens,
    while the user's and the model's own text is tokenised with `special=False`, so text that
    merely spells a marker stays text.
    """

    def __init__(
        self,
        template: str | None,
        tokenize: Callable[[str, bool], list[int]],
        *,
        bos_token: str = "",
        eos_token: str = "",
    ) -> None:
        self.has_model_template = bool(template)
        self.template_source = template or PLAIN_TEMPLATE
        self._tokenize = tokenize
        self._bos_token = bos_token
        self._eos_token = eos_token
        environment = ImmutableSandboxedEnvironment(
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[_IgnoreGenerationTags, jinja2.ext.loopcontrols],
        )
        environment.filters["tojson"] = _tojson
        try:
            self._template = environment.from_string(self.template_source)
        except jinja2.TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template does not parse: {exc}") from None

    def render_head(self, messages: Sequence[ChatMessage]) -> str:
        """The conversation as text, up to and including the start of the assistant's turn."""
        checked = check_messages(messages)
        try:
            return self._template.render(
                messages=checked,
                bos_token=self._bos_token,
                eos_token=self._eos_token,
                raise_exception=_raise_exception,
                add_generation_prompt=True,
                strftime_now=lambda f: datetime.now().strftime(f),
            )
        except ChatTemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template failed on these messages: {exc}") from None

    def build(self, messages: Sequence[ChatMessage], continuation: Sequence[str] = ()) -> Prompt:
        """The prompt for a new assistant turn, continuing after `continuation` pieces of its text.

        The pieces are the assistant's text so far (for example the steps already in a chain,
        each with its own separator), concatenated verbatim.
        """
        head = self.render_head(messages)
        tokens = self._tokenize(head, True)
        if not tokens:
            raise EmptyPromptError("the prompt is empty: the chat template rendered no text")
        base = Prompt(tuple(tokens), (len(tokens),), head)
        return self.extend(base, continuation)

    def extend(self, prompt: Prompt, pieces: Sequence[str]) -> Prompt:
        """`prompt` followed by more assistant text; earlier tokens are left exactly as they are."""
        if isinstance(pieces, str):
            raise BadInputError("continuation must be a list of text pieces, not one string")
        tokens = list(prompt.tokens)
        boundaries = list(prompt.boundaries)
        for piece in pieces:
            if not isinstance(piece, str):
                raise BadInputError(f"a continuation piece is a {type(piece).__name__}, not text")
            if not piece:
                continue
            tokens.extend(self._tokenize(piece, False))
            boundaries.append(len(tokens))
        return Prompt(tuple(tokens), tuple(boundaries), prompt.text + "".join(pieces),
                      prompt.pieces + tuple(p for p in pieces if p))
