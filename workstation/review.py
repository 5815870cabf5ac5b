"""The review use cases: the one place that combines the core, the engine and the store.

The GUI and the command line both call `Review`, so every operation works headless too.
Mutations commit before they return (the store's rule); the model-driven ones (`generate`,
`regenerate`, `continue_after`, `challenge`) are generators that yield `Streaming` progress
while the model writes and end with one `Finished`, after the new steps are committed.

A `Review` is used from one thread at a time: it owns one engine (llama.cpp state is not
thread-safe) and one store connection. The GUI keeps it on a worker thread.

Text enters the workstation here (typed, pasted or written by the model), so every use case
passes it through `core.text.clean`: a lone surrogate, which no UTF-8 file can hold, becomes
U+FFFD; every other character is kept exactly.
"""

from __future__ import annotations

import dataclasses
import getpass
import random
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from workstation import paths, settings
from workstation.core import build, prompts
from workstation.core.checks import ConfidenceThresholds, StepConfidence, step_confidences
from workstation.core.history import Applied
from workstation.core.jsontypes import JSONObject
from workstation.core.model import Node, Reviewer, Version
from workstation.core.ops import Operation, SessionDeleted, SessionRenamed, SessionRestored
from workstation.core.prompts import PromptTemplate, TemplateError
from workstation.core.splitter import DEFAULT_MODE, Step, StreamSplitter, split, splitter_version
from workstation.core.text import clean
from workstation.core.tree import Tree
from workstation.engine.events import FinishEvent, SamplingParams, TokenEvent
from workstation.engine.server_errors import ServerError
from workstation.errors import BadInputError, WorkstationError
from workstation.review_tokens import branch_head
from workstation.store.records import Generation, SearchHit, SessionSummary
from workstation.store.store import Store
from workstation.store.tokens import StepToken, VersionTokens, split_tokens

if TYPE_CHECKING:
    from workstation.engine.llama_engine import LoadOverrides
    from workstation.engine.protocol import Engine, Prompt
    from workstation.engine.server_config import ServerOverrides

DEFAULT_TEMPLATE = "chain-of-thought"
CHALLENGE_TEMPLATE = "why"
DEFAULT_CHALLENGE = "Why? Explain the reasoning behind this step."


@dataclass(frozen=True)
class Streaming:
    """Progress while the model writes: the new text, all text so far, finished steps."""

    text: str
    raw: str
    steps: tuple[Step, ...]
    pending: str
    session_id: str = ""  # the session being written (a new one for generate)


@dataclass(frozen=True)
class Finished:
    """The end of a model-driven use case: what was committed."""

    session_id: str
    applied: Applied
    node_ids: tuple[str, ...]
    finish: FinishEvent
    generation: Generation | None


class NoModelError(WorkstationError):
    """A use case needs the model but none is loaded."""


def default_reviewer(values: settings.Values | None = None) -> Reviewer:
    """The reviewer from the settings, or the user's login name as an annotator."""
    values = values or settings.load()[0]
    reviewer_id = values.get("review.reviewer") or _login_name()
    return Reviewer(reviewer_id, values.get("review.role", "annotator"))


def _login_name() -> str:
    try:
        return getpass.getuser() or "reviewer"
    except (KeyError, OSError):
        return "reviewer"


def sampling_from(
    values: settings.Values,
    *,
    seed: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    repeat_penalty: float | None = None,
    max_tokens: int | None = None,
) -> SamplingParams:
    """SamplingParams from settings values, each overridden where given (not None); a seed of
    -1 picks a fresh random seed."""
    if seed is None:
        seed = values["sampling.seed"]
    if seed == -1:
        seed = random.randrange(2**31)
    return SamplingParams(
        temperature=values["sampling.temperature"] if temperature is None else temperature,
        top_p=values["sampling.top_p"] if top_p is None else top_p,
        top_k=values["sampling.top_k"] if top_k is None else top_k,
        repeat_penalty=values["sampling.repeat_penalty"] if repeat_penalty is None else repeat_penalty,
        max_tokens=values["sampling.max_tokens"] if max_tokens is None else max_tokens,
        seed=seed,
    )


def load_templates() -> tuple[dict[str, PromptTemplate], list[TemplateError]]:
    """The built-in prompt templates, then the user's own (same name: the user's wins).

    A broken user template is reported, not fatal: the others still load.
    """
    errors: list[TemplateError] = []
    user_folder = paths.config_dir() / "prompts"
    found = prompts.load_templates(prompts.builtin_templates_dir(), user_folder, errors=errors)
    return found, errors


class Review:
    """Review use cases over one database, with an optional loaded model."""

    def __init__(
        self,
        store: Store,
        reviewer: Reviewer | None = None,
        *,
        engine: Engine | None = None,
        values: settings.Values | None = None,
    ) -> None:
        self.store = store
        self.values = values or settings.load()[0]
        self.reviewer = reviewer or default_reviewer(self.values)
        self.engine: Engine | None = engine
        self.templates, self.template_errors = load_templates()
        self.thresholds = ConfidenceThresholds(mean_logprob=self.values["review.low_confidence"])
        self._model_sha: str | None = None

    @classmethod
    def open(
        cls,
        db: Path | str | None = None,
        *,
        read_only: bool = False,
        reviewer: Reviewer | None = None,
        engine: Engine | None = None,
        values: settings.Values | None = None,
    ) -> Review:
        """Open the database (default: the user's) for review."""
        return cls(Store.open(db or paths.default_db(), read_only=read_only), reviewer, engine=engine, values=values)

    @property
    def split_mode(self) -> str:
        """How model output becomes steps (the `review.split` setting: lines or paragraphs)."""
        return str(self.values.get("review.split", DEFAULT_MODE))

    def close(self) -> None:
        """Free the model and close the database."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.store.close()

    def __enter__(self) -> Review:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the model -----------------------------------------------------------------------

    def load_model(self, model: str | Path | None = None, **options: Unpack[LoadOverrides]) -> Engine:
        """Load a model (explicit path, else discovery's choice) with the settings' options."""
        from workstation.engine.discovery import choose_model
        from workstation.engine.llama_engine import LlamaEngine, LoadOptions

        chosen = choose_model(model or self.values.get("model.path") or None)
        load: LoadOverrides = {
            "n_gpu_layers": self.values["model.n_gpu_layers"],
            "n_threads": self.values["model.n_threads"],
            "n_ctx_cap": self.values["model.n_ctx_cap"],
            "cache_budget_bytes": self.values["model.cache_mb"] * 1024 * 1024,
            "kv_cache_type": self.values["model.kv_cache_type"],
        }
        load.update(options)
        engine: Engine = LlamaEngine(LoadOptions(model_path=chosen.path, **load))
        if self.engine is not None:
            self.engine.close()
        self.engine = engine
        self._model_sha = None
        return engine

    def use_server(
        self, url: str, model: str = "", api_key: str | None = None, **options: Unpack[ServerOverrides]
    ) -> Engine:
        """Generate with an OpenAI-compatible inference server instead of a local model.

        Connects once to check the URL, the key and the model (a clear ServerError otherwise);
        the key defaults to WORKSTATION_API_KEY, then the keyring's entry for this server.
        """
        from workstation.engine.server_config import api_key_for
        from workstation.engine.server_engine import ServerEngine, ServerOptions

        values = {**settings.defaults(), **self.values}  # a caller's partial values still work
        chosen: ServerOverrides = {
            "timeout_s": values["server.timeout_s"],
            "top_logprobs": values["server.top_logprobs"],
            "continuation": values["server.continuation"],
        }
        chosen.update(options)
        key = api_key if api_key is not None else api_key_for(url)
        engine: Engine = ServerEngine(ServerOptions(url=url, model=model, api_key=key, **chosen))
        if self.engine is not None:
            self.engine.close()
        self.engine = engine
        self._model_sha = None
        return engine

    def _engine(self) -> Engine:
        if self.engine is None:
            raise NoModelError("no model is loaded; load one first (see `workstation models`)")
        return self.engine

    def _model_sha256(self) -> str:
        engine = self._engine()
        if self._model_sha is None:
            # The engine's own file (held open since loading), not whatever the path holds now.
            self._model_sha = engine.file_sha256()
        else:
            engine.check_file()
        return self._model_sha

    # -- queries ---------------------------------------------------------------------------

    def sessions(self, *, include_deleted: bool = False) -> list[SessionSummary]:
        """Every session (not deleted, unless `include_deleted`), newest activity first as the
        store orders them."""
        return self.store.list_sessions(include_deleted=include_deleted)

    def tree(self, session_id: str) -> Tree:
        """The live tree of a session (raises UnknownIdError for an unknown id)."""
        return self.store.history(session_id).tree

    def search(
        self,
        text: str | None = None,
        *,
        label: int | None = None,
        tag: str | None = None,
        reviewer: str | None = None,
        model: str | None = None,
        include_deleted: bool = False,
        limit: int = 200,
    ) -> list[SearchHit]:
        """Search steps and questions across sessions (text, label, tag, reviewer, model)."""
        return self.store.search(
            text, label=label, tag=tag, reviewer=reviewer, model=model, include_deleted=include_deleted, limit=limit
        )

    def locate(self, node_id: str) -> tuple[Tree, str]:
        """The tree holding a node and the node's full id; a unique prefix is enough."""
        session_id, full_id = self.store.locate(node_id)
        return self.tree(session_id), full_id

    def template(self, name: str | None = None, kind: str = "task") -> PromptTemplate:
        """A prompt template by name, or a clear error listing the ones there are."""
        name = name or self.values.get("review.template") or DEFAULT_TEMPLATE
        template = self.templates.get(name)
        if template is None or template.kind != kind:
            names = ", ".join(sorted(n for n, t in self.templates.items() if t.kind == kind))
            raise BadInputError(f"no {kind} template named '{name}' (templates: {names})")
        return template

    # -- plain mutations (commit before returning) -----------------------------------------

    def _apply(self, session_id: str, op: Operation, generation: Generation | None = None) -> Applied:
        return self.store.apply(session_id, op, self.reviewer, generation=generation)

    def start(self, question: str, template: str | None = None, title: str | None = None) -> Tree:
        """A new session on `question` with no steps yet."""
        question, title = clean(question), clean(title) if title is not None else None
        if not question.strip():
            raise BadInputError("the question is empty; type the question for the model to reason about")
        chosen = self.template(template)
        op = build.start_session(question, chosen.name, chosen.version, self.reviewer, title=title)
        self.store.start_session(op, self.reviewer)
        return self.tree(op.session.id)

    def annotate(
        self,
        node_id: str,
        label: int | None,
        note: str = "",
        tags: Sequence[str] = (),
        severity: str | None = None,
    ) -> Applied:
        """Label (-1 wrong, 0 neutral, +1 right) and annotate a step as this reviewer."""
        if label is not None and (isinstance(label, bool) or label not in (-1, 0, 1)):
            raise BadInputError(f"label must be -1 (wrong), 0 (neutral) or 1 (right), not {label!r}")
        tree, full_id = self.locate(node_id)
        note, tags = clean(note), [clean(t) for t in tags]
        op = build.annotate(tree, full_id, self.reviewer, label, note, tuple(tags), severity)
        return self._apply(tree.session.id, op)

    def rewrite(self, node_id: str, text: str) -> Applied:
        """A new version of a step written by this reviewer; later prompts use it."""
        text = clean(text)
        if not text.strip():
            raise BadInputError("the rewrite is empty; type the step's new text")
        tree, full_id = self.locate(node_id)
        return self._apply(tree.session.id, build.rewrite(tree, full_id, text, self.reviewer))

    def prefer(self, node_id: str) -> Applied:
        """Mark the branch starting at a step as preferred among its alternatives."""
        tree, full_id = self.locate(node_id)
        return self._apply(tree.session.id, build.prefer(tree, full_id))

    def show(self, node_id: str) -> Applied:
        """Show the branch starting at a step (remembered across restarts)."""
        tree, full_id = self.locate(node_id)
        return self._apply(tree.session.id, build.show(tree, full_id))

    def delete_branch(self, node_id: str) -> Applied:
        """Delete the branch, challenge or reply starting at a node (the audit log keeps it)."""
        tree, full_id = self.locate(node_id)
        return self._apply(tree.session.id, build.delete_branch(tree, full_id))

    def rename(self, session_id: str, title: str) -> Applied:
        """Give a session a new title."""
        title = clean(title)
        if not title.strip():
            raise BadInputError("the title is empty; type a title for the session")
        return self._apply(session_id, SessionRenamed(title.strip()))

    def delete_session(self, session_id: str) -> Applied:
        """Hide a session from the session list, searches and exports of all sessions.

        Nothing is removed: the deletion is an event (who, when), and `restore_session` or
        `undo` shows the session again. Raises BadInputError if it is already deleted."""
        return self._apply(session_id, SessionDeleted())

    def restore_session(self, session_id: str) -> Applied:
        """Show a deleted session again (BadInputError if it is not deleted)."""
        return self._apply(session_id, SessionRestored())

    def add_steps(self, session_id: str, raw: str, parent_id: str | None = None, *, model: str = "") -> Applied:
        """Steps written outside the engine (a sample, a pasted chain), split and checked like
        the model's, below `parent_id` (default: the question)."""
        tree = self.tree(session_id)
        raw = clean(raw)
        steps = split(raw, self.split_mode)
        if not steps:
            raise BadInputError("the text holds no steps")
        chosen = self._session_template(tree)
        op = build.steps_added(
            tree, parent_id or tree.question_id, raw, steps, self.reviewer, chosen.name, chosen.version,
            model=model, finish_reason="stop", splitter_version=splitter_version(self.split_mode),
        )
        return self._apply(session_id, op)

    def undo(self, session_id: str) -> tuple[Applied, ...]:
        """Undo the session's latest action, whole: a challenge's answer and question, or one
        label, rewrite, generation... Returns the new events (committed together), in order.

        `store.history(session_id)` says whether there is one and what it is (`can_undo`,
        `undo_description`). An adjudication made in the Team view is one such action too."""
        return self.store.undo(session_id, self.reviewer)

    def redo(self, session_id: str) -> tuple[Applied, ...]:
        """Redo the action the latest undo reversed; returns the new events, in order."""
        return self.store.redo(session_id, self.reviewer)

    # -- model-driven use cases --------------------------------------------------------------

    def generate(
        self,
        question: str,
        template: str | None = None,
        sampling: SamplingParams | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Streaming | Finished]:
        """Start a session on `question` and let the model reason; steps stream, then commit."""
        engine = self._engine()
        chosen = self.template(template)
        core_prompt = prompts.generate_prompt(chosen, question) if question.strip() else None
        if core_prompt is None:
            raise BadInputError("the question is empty; type the question for the model to reason about")
        engine_prompt = engine.build_prompt(core_prompt.chat(), core_prompt.assistant_pieces)
        params = sampling or sampling_from(self.values)
        engine.check_fits(engine_prompt, params.max_tokens)  # refuse before anything is saved
        tree = self.start(question, chosen.name)
        yield from self._run_chain(tree, tree.question_id, chosen, engine_prompt, params, stop, None)

    def regenerate(
        self,
        node_id: str,
        critique: str | None = None,
        *,
        use_note: bool = False,
        sampling: SamplingParams | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Streaming | Finished]:
        """A new alternative for step k and what follows, optionally steered by a critique.

        With `use_note`, the reviewer's latest note on the step is the critique.
        """
        engine = self._engine()
        tree, full_id = self.locate(node_id)
        critique = clean(critique) if critique is not None else None
        if use_note and critique is None:
            critique = build.critique_from_notes(tree, full_id, self.reviewer.id) or build.critique_from_notes(
                tree, full_id
            )
            if critique is None:
                raise BadInputError("this step has no note to use as a critique; write one or pass the critique")
        chosen = self._session_template(tree)
        core_prompt = prompts.regenerate_prompt(chosen, tree, full_id, critique)
        engine_prompt = engine.build_prompt(core_prompt.chat(), core_prompt.assistant_pieces)
        parent = build.regenerate_parent(tree, full_id)
        params = sampling or sampling_from(self.values)
        yield from self._run_chain(tree, parent, chosen, engine_prompt, params, stop, critique)

    def continue_after(
        self,
        node_id: str,
        critique: str | None = None,
        *,
        sampling: SamplingParams | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Streaming | Finished]:
        """New steps after step k (say, after rewriting it): a new branch below step k.

        After the question: steps from the start (a session whose generation stopped before
        any step was saved gets its first chain; one with steps gets another first chain)."""
        engine = self._engine()
        tree, full_id = self.locate(node_id)
        critique = clean(critique) if critique is not None else None
        chosen = self._session_template(tree)
        core_prompt = prompts.continue_after_prompt(chosen, tree, full_id, critique)
        engine_prompt = engine.build_prompt(core_prompt.chat(), core_prompt.assistant_pieces)
        params = sampling or sampling_from(self.values)
        yield from self._run_chain(tree, full_id, chosen, engine_prompt, params, stop, critique)

    def challenge(
        self,
        node_id: str,
        question: str | None = None,
        *,
        sampling: SamplingParams | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Streaming | Finished]:
        """Ask the model why (or the reviewer's own question) about step k; it answers from
        the context of steps 1..k, and the reply never enters later prompts of the chain."""
        engine = self._engine()
        tree, full_id = self.locate(node_id)
        asked = clean(question or "").strip() or DEFAULT_CHALLENGE
        task = self._session_template(tree)
        why = self.template(CHALLENGE_TEMPLATE, kind="challenge")
        core_prompt = prompts.challenge_prompt(task, why, tree, full_id, asked)
        engine_prompt = engine.build_prompt(core_prompt.chat(), core_prompt.assistant_pieces)
        params = sampling or sampling_from(self.values)
        engine.check_fits(engine_prompt, params.max_tokens)
        asked_op = build.ask_challenge(tree, full_id, asked, self.reviewer)
        self._apply(tree.session.id, asked_op)
        challenge_id = asked_op.node.id
        raw, tokens, finish = yield from self._stream(tree.session.id, engine_prompt, params, stop)
        if not raw and finish.error:
            raise ServerError(finish.error)
        confidence = _overall_confidence([(t.text, t.logprob) for t in tokens])
        op = build.challenge_answered(
            self.tree(tree.session.id), challenge_id, clean(raw), self.reviewer, why.name, why.version,
            model=Path(engine.info.path).name, finish_reason=finish.finish_reason, confidence=confidence,
        )
        generation = self._generation(op.chain.id, params, finish, [confidence])
        applied = self._apply(tree.session.id, op, generation)
        self._keep_tokens(tree.session.id, op.nodes, [(0, len(raw))], tokens)
        yield Finished(tree.session.id, applied, tuple(n.id for n in op.nodes), finish, generation)

    def branch_at(
        self,
        node_id: str,
        at_char: int,
        token_text: str,
        *,
        sampling: SamplingParams | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Streaming | Finished]:
        """A new alternative of a model-written step: its text up to `at_char` (where one of its
        tokens starts in its raw text), then `token_text` instead of the model's token there, then
        what the model writes next. The kept tokens keep their log-probabilities; the forced one
        gets the model's, from the alternatives kept at that place (-inf when it was not one)."""
        engine = self._engine()
        tree, full_id = self.locate(node_id)
        token_text = clean(token_text)
        if not token_text:
            raise BadInputError("the token is empty; give the text to put in place of the model's token")
        found = self.step_tokens(full_id)
        if found is None:
            raise BadInputError(
                f"step {full_id[:12]} has no stored tokens (not written by the model, or written before "
                "tokens were kept); regenerate it, then branch from one of the new step's tokens"
            )
        version, held = found
        head = branch_head(version.raw, held, at_char, token_text, full_id)
        chosen = self._session_template(tree)
        core_prompt = prompts.regenerate_prompt(chosen, tree, full_id)
        pieces = (*core_prompt.assistant_pieces, "".join(t.text for t in head))
        engine_prompt = engine.build_prompt(core_prompt.chat(), pieces)
        params = sampling or sampling_from(self.values)
        forced: JSONObject = {"branch_of": full_id, "version_id": version.id, "at_char": at_char, "token": token_text}
        parent = build.regenerate_parent(tree, full_id)
        yield from self._run_chain(tree, parent, chosen, engine_prompt, params, stop, None, head, forced)

    def step_tokens(self, node_id: str) -> tuple[Version, VersionTokens] | None:
        """The stored tokens of a step: its current version's if the model wrote it, else its
        original model version's; None when neither has tokens stored."""
        tree, full_id = self.locate(node_id)
        node = tree.node(full_id)
        versions = [v for v in (node.current, node.original) if v.origin == "model"]
        held = self.store.tokens(v.id for v in versions)
        return next(((v, held[v.id]) for v in versions if v.id in held), None)

    # -- internals -----------------------------------------------------------------------------

    def _session_template(self, tree: Tree) -> PromptTemplate:
        return self.template(tree.session.template_name)

    def _stream(
        self,
        session_id: str,
        engine_prompt: Prompt,
        params: SamplingParams,
        stop: threading.Event | None,
        head: str = "",
    ) -> Generator[Streaming, None, tuple[str, list[StepToken], FinishEvent]]:
        """Run the model, yielding progress; returns (raw text, its tokens, finish).

        `head` is text the chain starts with that the model did not write in this generation
        (a token branch's kept text and forced token): the progress shows it first."""
        splitter = StreamSplitter(self.split_mode)
        done: list[Step] = list(splitter.feed(head)) if head else []
        tokens: list[StepToken] = []
        finish: FinishEvent | None = None
        for event in self._engine().generate(engine_prompt, params, stop):
            if isinstance(event, TokenEvent):
                tokens.append(StepToken(event.text, event.logprob, event.alternatives))
                if event.text:
                    done += splitter.feed(event.text)
                    yield Streaming(event.text, splitter.text, tuple(done), splitter.pending, session_id)
            else:
                finish = event
        assert finish is not None  # the engine always ends with a FinishEvent
        return finish.text, tokens, finish

    def _run_chain(
        self,
        tree: Tree,
        parent_id: str,
        template: PromptTemplate,
        engine_prompt: Prompt,
        params: SamplingParams,
        stop: threading.Event | None,
        critique: str | None,
        head: Sequence[StepToken] = (),
        forced: JSONObject | None = None,
    ) -> Iterator[Streaming | Finished]:
        self._engine().check_fits(engine_prompt, params.max_tokens)
        head_text = "".join(t.text for t in head)
        raw, written, finish = yield from self._stream(tree.session.id, engine_prompt, params, stop, head_text)
        tokens = [*head, *written]
        raw = clean(head_text + raw)  # one character for one: the steps' offsets still hold
        steps = split(raw, self.split_mode)
        if not steps and finish.error:
            raise ServerError(finish.error)
        if not steps:
            raise WorkstationError(
                f"the model wrote no steps (it stopped: {finish.finish_reason}); "
                "try again with another seed or a higher temperature"
            )
        confidences = _confidences([(t.text, t.logprob) for t in tokens], [s.end for s in steps])
        op = build.steps_added(
            self.tree(tree.session.id), parent_id, raw, steps, self.reviewer, template.name, template.version,
            critique=critique, model=Path(self._engine().info.path).name,
            finish_reason=finish.finish_reason, confidences=confidences,
            splitter_version=splitter_version(self.split_mode),
        )
        generation = self._generation(op.chain.id, params, finish, confidences)
        if forced is not None:  # a token branch: its origin is part of the generation's record
            generation = dataclasses.replace(generation, extra={**generation.extra, "forced_token": forced})
        applied = self._apply(tree.session.id, op, generation)
        self._keep_tokens(tree.session.id, op.nodes, [(s.start, s.end) for s in steps], tokens)
        yield Finished(tree.session.id, applied, tuple(n.id for n in op.nodes), finish, generation)

    def _keep_tokens(
        self, session_id: str, nodes: Sequence[Node], spans: Sequence[tuple[int, int]], tokens: Sequence[StepToken]
    ) -> None:
        """Store each new model-written node's tokens under its first version."""
        if len(nodes) != len(spans):
            return  # the operation made other nodes than steps (nothing here does): keep none
        per_step = split_tokens(tokens, spans)
        self.store.save_tokens(
            session_id, {n.versions[0].id: held for n, held in zip(nodes, per_step, strict=True) if held.tokens}
        )

    def _generation(
        self,
        chain_id: str,
        params: SamplingParams,
        finish: FinishEvent,
        confidences: Sequence[StepConfidence],
    ) -> Generation:
        engine = self._engine()
        path = Path(engine.info.path)
        return Generation(
            chain_id=chain_id,
            model_file=path.name,
            model_size=engine.info.file_size,
            model_sha256=self._model_sha256() or None,
            sampling=dataclasses.asdict(params),
            prompt_tokens=finish.prompt_tokens,
            prompt_tokens_evaluated=finish.prompt_tokens_evaluated,
            completion_tokens=finish.completion_tokens,
            time_to_first_token_s=finish.time_to_first_token_s,
            tokens_per_s=finish.tokens_per_s,
            finish_reason=finish.finish_reason,
            step_confidence=tuple(dataclasses.asdict(c) for c in confidences),
            extra={"n_ctx": engine.n_ctx, "n_gpu_layers": engine.n_gpu_layers, **finish.extra,
                   **({"error": finish.error} if finish.error else {})},
        )


def _confidences(tokens: Sequence[tuple[str, float | None]], step_ends: Sequence[int]) -> list[StepConfidence]:
    """Per-step confidence, or none at all (not zero) when the engine gave no log-probabilities
    for some tokens: an inference server that does not send them."""
    known = [(text, logprob) for text, logprob in tokens if logprob is not None]
    if len(known) != len(tokens):
        return [StepConfidence() for _ in step_ends]
    return step_confidences(known, step_ends)


def _overall_confidence(tokens: Sequence[tuple[str, float | None]]) -> StepConfidence:
    if not tokens:
        return StepConfidence()
    return _confidences(tokens, [sum(len(t) for t, _ in tokens)])[0]


def drain(stream: Iterator[Streaming | Finished]) -> Finished:
    """Run a model-driven use case to its end and return what it committed (for the CLI, tests)."""
    finished: Finished | None = None
    for item in stream:
        if isinstance(item, Finished):
            finished = item
    assert finished is not None
    return finished
