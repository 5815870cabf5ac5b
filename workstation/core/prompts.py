"""Prompt templates (TOML data files) and the chat messages built from them.

A template file holds: name, version, kind ("task", or "challenge" for the template a challenge
uses), description, system, user (formatted with {question}) and guidance (formatted with
{critique}, {step}, {step_number}: how a reviewer's critique steers a regeneration).

A built `Prompt` is a list of {"role", "content"} messages plus an `assistant_prefix`: the
steps already written, which the engine appends after rendering the messages with the model's
chat template (with the generation prompt), so that the model continues them; `assistant_pieces`
is the same text cut per step, for `engine.build_prompt(messages, continuation)`. The prefix is
made of the steps' exact raw spans, so the tokens match what the model produced and the engine's
KV cache can reuse them.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workstation.core.jsontypes import JSONObject
from workstation.core.model import Node
from workstation.core.tree import CHAIN_NODE_KINDS, Tree
from workstation.errors import BadInputError

TEMPLATE_KINDS = ("task", "challenge")
#: The template a challenge uses unless the caller names another one.
DEFAULT_CHALLENGE_TEMPLATE = "why"
DEFAULT_TASK_TEMPLATE = "chain-of-thought"
#: What a challenge asks when the reviewer just says "why?".
DEFAULT_CHALLENGE_QUESTION = "Why is this step correct?"

_REQUIRED = ("name", "version", "description", "system", "user", "guidance")
_OPTIONAL = ("kind",)
# Placeholders each formatted field may use, and the one it must use.
_PLACEHOLDERS = {
    "user": ({"question", "step", "step_number"}, "question"),
    "guidance": ({"critique", "step", "step_number"}, "critique"),
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Separates steps when a rewritten step has no model text to take the blank space from.
_STEP_SEPARATOR = "\n\n"


class TemplateError(BadInputError):
    """A prompt template file is unreadable or invalid; names the file and, if known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"prompt template {where}: {message}")


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template, as read from its file; recorded on every chain by name and version."""

    name: str
    version: str
    description: str
    system: str
    user: str
    guidance: str
    kind: str = "task"
    path: str = ""

    def user_message(self, question: str, step: str = "", step_number: int = 0) -> str:
        """The user message for `question` (or, in a challenge template, the reviewer's question)."""
        return self.user.format(question=question, step=step, step_number=step_number)

    def guidance_text(self, critique: str, step: str = "", step_number: int = 0) -> str:
        """The guidance that carries a reviewer's critique into a regeneration."""
        return self.guidance.format(critique=critique, step=step, step_number=step_number)


def builtin_templates_dir() -> Path:
    """The folder of the templates that ship with the workstation (`resources/prompts`)."""
    from workstation.paths import resources_dir

    return resources_dir() / "prompts"


def load_template(path: Path | str) -> PromptTemplate:
    """Read and check one template file; raises TemplateError naming the file and line."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TemplateError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise TemplateError(path, f"TOML syntax error: {exc}", int(match.group(1)) if match else None) from None
    return _validate(path, source, data)


def _line_of(source: str, key: str) -> int | None:
    match = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", source, re.MULTILINE)
    return source.count("\n", 0, match.start()) + 1 if match else None


def _validate(path: Path, source: str, data: Mapping[str, object]) -> PromptTemplate:
    for key in data:
        if key not in _REQUIRED and key not in _OPTIONAL:
            known = ", ".join(_REQUIRED + _OPTIONAL)
            raise TemplateError(path, f"unknown field '{key}' (known fields: {known})", _line_of(source, key))
    for key in _REQUIRED:
        if key not in data:
            raise TemplateError(path, f"missing field '{key}'")
    values: dict[str, str] = {}
    for key in _REQUIRED + _OPTIONAL:
        if key not in data:
            continue
        value = data[key]
        if key == "version" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # `version = 2` is as clear as `version = "2"`
        if not isinstance(value, str):
            raise TemplateError(path, f"field '{key}' must be a string", _line_of(source, key))
        value = value.strip()
        if not value and key != "system":  # a model without a system role gets none
            raise TemplateError(path, f"field '{key}' must not be empty", _line_of(source, key))
        values[key] = value
    if not _NAME.fullmatch(values["name"]):
        raise TemplateError(path, "the name may use only letters, digits, '-', '_' and '.'", _line_of(source, "name"))
    kind = values.get("kind", "task")
    if kind not in TEMPLATE_KINDS:
        raise TemplateError(path, f"kind must be one of {', '.join(TEMPLATE_KINDS)}", _line_of(source, "kind"))
    for key, (allowed, required) in _PLACEHOLDERS.items():
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(values[key]) if f is not None}
        except ValueError as exc:
            raise TemplateError(
                path, f"field '{key}': {exc}; write {{{{ and }}}} for literal braces", _line_of(source, key)
            ) from None
        unknown = fields - allowed
        if unknown:
            raise TemplateError(
                path,
                f"field '{key}' uses unknown placeholder {{{sorted(unknown)[0]}}} "
                f"(it may use {', '.join('{' + a + '}' for a in sorted(allowed))})",
                _line_of(source, key),
            )
        if required not in fields:
            raise TemplateError(path, f"field '{key}' must contain {{{required}}}", _line_of(source, key))
    return PromptTemplate(
        values["name"], values["version"], values["description"], values["system"],
        values["user"], values["guidance"], kind, str(path),
    )


def load_templates(
    *folders: Path | str, errors: list[TemplateError] | None = None
) -> dict[str, PromptTemplate]:
    """All `*.toml` templates in `folders`, by name; a later folder's template replaces an
    earlier one of the same name (the user's folder after the built-in one).

    With `errors`, a bad file is skipped and its error appended there (so one broken user file
    does not hide the others); without, the first bad file raises TemplateError.
    """
    templates: dict[str, PromptTemplate] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                template = load_template(path)
            except TemplateError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                continue
            templates[template.name] = template
    return templates


# -- building prompts ----------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """Chat messages for the engine, and the assistant text to continue from.

    The engine renders `messages` with the model's chat template and the generation prompt,
    then appends `assistant_prefix` verbatim and generates from there.
    """

    messages: tuple[dict[str, str], ...]
    assistant_prefix: str = ""
    template_name: str = ""
    template_version: str = ""
    #: `assistant_prefix` cut per step (what the engine's `build_prompt(messages, continuation)`
    #: takes, tokenising each step on its own so that the prompt for steps 1..k is a token prefix
    #: of the prompt for steps 1..k+1). Joined, they are `assistant_prefix`.
    assistant_pieces: tuple[str, ...] = ()

    def chat(self) -> list[dict[str, str]]:
        """The messages as a new list of new dicts (safe to hand to a library that mutates)."""
        return [dict(m) for m in self.messages]

    def to_dict(self) -> JSONObject:
        """Plain JSON-able data, for logs and `--json` output."""
        return {
            "messages": [{**m} for m in self.messages],
            "assistant_prefix": self.assistant_prefix,
            "template_name": self.template_name,
            "template_version": self.template_version,
            "assistant_pieces": list(self.assistant_pieces),
        }


def _messages(system: str, *turns: tuple[str, str]) -> tuple[dict[str, str], ...]:
    out = [{"role": "system", "content": system}] if system else []
    out += [{"role": role, "content": content} for role, content in turns]
    return tuple(out)


def prompt_text(node: Node) -> str:
    """A chain node's text as the model should see it again: its current version.

    A model version gives its exact raw span. A rewrite keeps the blank space and think tags
    that surrounded the model's original text, so the chain's layout (and the tokens around
    the step) stays the same.
    """
    current = node.current
    if current.origin == "model":
        return current.raw
    original = node.original
    if original.origin == "model" and original.text and original.text in original.raw:
        at = original.raw.index(original.text)
        return original.raw[:at] + current.text + original.raw[at + len(original.text):]
    return current.text + _STEP_SEPARATOR


def assistant_prefix(steps: Sequence[Node]) -> str:
    """The steps' current texts joined as the model would have written them."""
    return "".join(prompt_text(n) for n in steps)


def generate_prompt(template: PromptTemplate, question: str) -> Prompt:
    """The prompt for a first generation on `question`."""
    _need_kind(template, "task")
    return Prompt(
        _messages(template.system, ("user", template.user_message(question))),
        "", template.name, template.version,
    )


def continue_prompt(
    template: PromptTemplate,
    question: str,
    steps: Sequence[Node],
    critique: str | None = None,
    critique_step: Node | None = None,
) -> Prompt:
    """The prompt to continue after `steps` (their current versions become the prefix).

    With `critique`, the template's guidance (naming `critique_step`, the step the critique is
    about) is added to the user message. It goes there, not into the system message, so that the
    system message and the question still match the earlier prompt and the cache reuses them.
    """
    _need_kind(template, "task")
    user = template.user_message(question)
    if critique is not None and critique.strip():
        step_text = critique_step.text if critique_step is not None else ""
        step_number = critique_step.position if critique_step is not None else len(steps) + 1
        user = user + "\n\n" + template.guidance_text(critique.strip(), step_text, step_number)
    pieces = tuple(p for p in (prompt_text(n) for n in steps) if p)
    return Prompt(_messages(template.system, ("user", user)), "".join(pieces), template.name, template.version, pieces)


def regenerate_prompt(template: PromptTemplate, tree: Tree, node_id: str, critique: str | None = None) -> Prompt:
    """The prompt to regenerate step `node_id` and what follows: steps 1..k-1 as the prefix.

    The new chain hangs from `build.regenerate_parent(tree, node_id)`. Challenges and replies
    are never part of it.
    """
    node = tree.node(node_id)
    if node.kind not in CHAIN_NODE_KINDS:
        raise BadInputError(f"only steps and answers can be regenerated, not a {node.kind}")
    steps = tree.steps_to(node_id)[:-1]
    return continue_prompt(template, tree.session.question, steps, critique, node)


def continue_after_prompt(
    template: PromptTemplate, tree: Tree, node_id: str, critique: str | None = None
) -> Prompt:
    """The prompt to write new steps after step `node_id` (steps 1..k, e.g. after rewriting
    step k); the new chain hangs from `node_id` itself. A critique here is about step k.

    After the question (`node_id` is the question) it is the first generation's prompt: steps
    from the start, for a session that has none yet (its generation was stopped or killed
    before any step was saved) or as another first chain beside the ones it has.
    """
    node = tree.node(node_id)
    if node.kind == "question":
        return continue_prompt(template, tree.session.question, (), critique)
    if node.kind != "step":
        raise BadInputError(f"new steps can only follow a step or the question, not a {node.kind}")
    steps = tree.steps_to(node_id)
    return continue_prompt(template, tree.session.question, steps, critique, node)


def challenge_prompt(
    task: PromptTemplate,
    challenge_template: PromptTemplate,
    tree: Tree,
    node_id: str,
    question: str,
) -> Prompt:
    """The prompt for the model to answer a reviewer's `question` about step `node_id`.

    The context is the original question and steps 1..k (current versions, display text) as the
    model's earlier answer, then the challenge as a new user turn. Other challenges and replies
    are left out.
    """
    _need_kind(task, "task")
    _need_kind(challenge_template, "challenge")
    node = tree.node(node_id)
    if node.kind not in CHAIN_NODE_KINDS:
        raise BadInputError(f"only steps and answers can be challenged, not a {node.kind}")
    if not question.strip():
        raise BadInputError("a challenge needs a question")
    steps = tree.steps_to(node_id)
    earlier = "\n\n".join(n.text for n in steps)
    challenge = challenge_template.user_message(question.strip(), node.text, node.position)
    return Prompt(
        _messages(
            challenge_template.system,
            ("user", task.user_message(tree.session.question)),
            ("assistant", earlier),
            ("user", challenge),
        ),
        "", challenge_template.name, challenge_template.version,
    )


def _need_kind(template: PromptTemplate, kind: str) -> None:
    if template.kind != kind:
        raise BadInputError(f"prompt template '{template.name}' is a {template.kind} template, not a {kind} template")
