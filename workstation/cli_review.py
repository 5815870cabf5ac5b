"""Command-line review: generate, sessions, show, annotate, rewrite, challenge, regenerate, ...

Every command takes `--db` and `--json`; `--json` prints what the command created or changed,
with the ids a later command needs. Model output streams to the terminal as plain text.

What the model or a reviewer wrote reaches the terminal through `core.text.terminal_safe`: ESC
and the other control and bidi characters print as `\\x1b`-style escapes, never as commands;
`--json` prints the same characters as JSON `\\u` escapes, so the JSON decodes to the exact text.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workstation.core.model import ROLES, SEVERITIES, Reviewer
from workstation.core.text import terminal_safe
from workstation.core.tree import Tree
from workstation.errors import BadInputError

if TYPE_CHECKING:
    from workstation.core.history import Applied
    from workstation.core.ops import Changes
    from workstation.engine.events import SamplingParams
    from workstation.review import Finished, Review, Streaming
    from workstation.store.records import Generation


def _print_json(data: object) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    # Outside strings JSON holds none of these characters; inside, a \u escape is the same text.
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))
    sys.stdout.write("\n")


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _review(args: argparse.Namespace, *, model: bool = False, reading: bool = False) -> Review:
    """The review for a command; `reading` commands (they change nothing) read a database that
    another window holds, or that may not be written, read-only instead of failing."""
    from workstation.review import Review, default_reviewer
    from workstation.store.errors import DatabaseLockedError, StorePermissionError

    server = getattr(args, "server", None) if model else None
    if server and getattr(args, "model", None):
        raise BadInputError("give either --model (a local GGUF file) or --server (an inference server), not both")
    if model and not server and getattr(args, "model", None):
        from workstation.engine.discovery import choose_model

        choose_model(args.model)  # a bad --model is refused before any database is opened or made
    try:
        review = Review.open(args.db)
    except (DatabaseLockedError, StorePermissionError) as exc:
        if not reading:
            raise
        review = Review.open(args.db, read_only=True)
        print(f"workstation: note: {exc}; reading it read-only instead", file=sys.stderr)
    try:
        if getattr(args, "reviewer", None) or getattr(args, "role", None):
            base = default_reviewer(review.values)
            review.reviewer = Reviewer(args.reviewer or base.id, args.role or base.role)
        if server:
            engine = review.use_server(server, args.server_model or "")
            for notice in engine.notices:
                print(f"workstation: warning: {notice}", file=sys.stderr)
        elif model:
            engine = review.load_model(getattr(args, "model", None), **({"n_threads": args.threads} if args.threads else {}))
            for notice in engine.notices:
                print(f"workstation: {notice}", file=sys.stderr)
    except BaseException:
        review.close()
        raise
    return review


def _sampling(review: Review, args: argparse.Namespace) -> SamplingParams:
    from workstation.review import sampling_from

    return sampling_from(
        review.values, seed=args.seed, max_tokens=args.max_tokens, temperature=args.temperature
    )


def _run(stream: Iterator[Streaming | Finished], args: argparse.Namespace) -> Finished:
    """Drive a model-driven use case, echoing text unless --json; Ctrl+C stops the model."""
    from workstation.review import Finished

    finished: Finished | None = None
    try:
        for item in stream:
            if isinstance(item, Finished):
                finished = item
            elif not args.json:
                sys.stdout.write(terminal_safe(item.text))
                sys.stdout.flush()
    except KeyboardInterrupt:
        raise
    if not args.json:
        sys.stdout.write("\n")
    assert finished is not None  # a use case ends with Finished or raises
    return finished


def _node_row(tree: Tree, node_id: str) -> dict[str, object]:
    node = tree.node(node_id)
    return {
        "id": node.id,
        "kind": node.kind,
        "position": node.position,
        "text": node.text,
        "flags": [f.to_dict() for f in node.current.flags],
        "mean_logprob": node.current.mean_logprob,
        "min_token_prob": node.current.min_token_prob,
    }


def _finished_json(review: Review, finished: Finished) -> dict[str, object]:
    tree = review.tree(finished.session_id)
    return {
        "session_id": finished.session_id,
        "event_id": finished.applied.event.id,
        "nodes": [_node_row(tree, node_id) for node_id in finished.node_ids],
        "finish_reason": finished.finish.finish_reason,
        "prompt_tokens": finished.finish.prompt_tokens,
        "prompt_tokens_evaluated": finished.finish.prompt_tokens_evaluated,
        "completion_tokens": finished.finish.completion_tokens,
        "time_to_first_token_s": finished.finish.time_to_first_token_s,
        "tokens_per_s": finished.finish.tokens_per_s,
        "confidence": _confidence_source(finished),
        **({"server": dict(finished.finish.extra)} if finished.finish.extra.get("engine") == "server" else {}),
        **({"error": finished.finish.error} if finished.finish.error else {}),
    }


def _confidence_source(finished: Finished) -> str:
    """Where the steps' confidence figures came from (an inference server may give none)."""
    extra = finished.finish.extra
    if extra.get("engine") != "server":
        return "from the local model's log-probabilities"
    if extra.get("logprobs_given"):
        return "from the server's log-probabilities"
    return "not given by this server"


def _report_finished(review: Review, finished: Finished, args: argparse.Namespace, what: str) -> int:
    if finished.finish.error:
        # The steps so far are saved, marked incomplete: say so, and fail the command for scripts.
        print(f"workstation: error: {terminal_safe(finished.finish.error)}", file=sys.stderr)
    status = 2 if finished.finish.error else 0
    if args.json:
        _print_json(_finished_json(review, finished))
        return status
    tree = review.tree(finished.session_id)
    print(f"{what} in session {finished.session_id}:")
    for node_id in finished.node_ids:
        node = tree.node(node_id)
        flags = ", ".join(f.check for f in node.current.flags)
        first_line = node.text.splitlines()[0] if node.text else ""
        print(terminal_safe(f"  {node.id}  {node.kind:<9} {first_line[:70]}" + (f"  [{flags}]" if flags else "")))
    if finished.finish.extra.get("engine") == "server" and not finished.finish.extra.get("logprobs_given"):
        print("confidence: not given by this server")
    return status


def cmd_generate(args: argparse.Namespace) -> int:
    """Ask the model a question and store its reasoning as a new session."""
    if args.prompt_file:
        try:
            question = Path(args.prompt_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"{args.prompt_file}: cannot read the prompt file ({exc})") from None
    else:
        question = args.prompt or ""
    if not question.strip():
        raise BadInputError("give the question with --prompt TEXT or --prompt-file PATH")
    with _review(args, model=True) as review:
        stop = threading.Event()
        finished = _run(review.generate(question, args.template, _sampling(review, args), stop), args)
        return _report_finished(review, finished, args, "generated")


def cmd_regenerate(args: argparse.Namespace) -> int:
    """Regenerate from a step, optionally steered by a critique (or the step's note)."""
    with _review(args, model=True) as review:
        stream = review.regenerate(
            args.step, args.critique, use_note=args.use_note, sampling=_sampling(review, args)
        )
        return _report_finished(review, _run(stream, args), args, "regenerated")


def cmd_branch(args: argparse.Namespace) -> int:
    """Branch a step at one of its tokens: keep the text before it, force another, continue."""
    with _review(args, model=True) as review:
        stream = review.branch_at(args.step, args.at_char, args.token, sampling=_sampling(review, args))
        return _report_finished(review, _run(stream, args), args, "branched")


def cmd_continue(args: argparse.Namespace) -> int:
    """Let the model write new steps after a step (say, after rewriting it)."""
    with _review(args, model=True) as review:
        stream = review.continue_after(args.step, args.critique, sampling=_sampling(review, args))
        return _report_finished(review, _run(stream, args), args, "continued")


def cmd_challenge(args: argparse.Namespace) -> int:
    """Ask the model why (or your own question) about a step."""
    with _review(args, model=True) as review:
        stream = review.challenge(args.step, args.question, sampling=_sampling(review, args))
        return _report_finished(review, _run(stream, args), args, "answered")


def _changed(review: Review, applied: Applied, args: argparse.Namespace, message: str) -> int:
    event = applied.event
    if args.json:
        _print_json(
            {
                "event_id": event.id,
                "session_id": event.session_id,
                "type": event.type,
                "reviewer_id": event.reviewer_id,
                "role": event.role,
                "at": event.at,
                "changes": _changes_json(applied.changes),
            }
        )
    else:
        print(message)
    return 0


def _changes_json(changes: Changes) -> dict[str, object]:
    import dataclasses

    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(changes).items()}


def cmd_annotate(args: argparse.Namespace) -> int:
    """Label and annotate a step as this reviewer."""
    with _review(args) as review:
        applied = review.annotate(args.step, args.label, args.note or "", args.tag or (), args.severity)
        return _changed(review, applied, args, f"annotated {args.step} as {review.reviewer.id}")


def cmd_rewrite(args: argparse.Namespace) -> int:
    """Write a new version of a step."""
    with _review(args) as review:
        applied = review.rewrite(args.step, args.text)
        return _changed(review, applied, args, f"rewrote {args.step}")


def cmd_prefer(args: argparse.Namespace) -> int:
    """Mark the branch starting at a step as preferred."""
    with _review(args) as review:
        return _changed(review, review.prefer(args.step), args, f"preferred the branch at {args.step}")


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete the branch starting at a step (the audit log keeps it)."""
    with _review(args) as review:
        return _changed(review, review.delete_branch(args.step), args, f"deleted the branch at {args.step}")


def _session_id(review: Review, prefix: str) -> str:
    # Deleted sessions too: they can be shown, undone and restored.
    sessions = review.sessions(include_deleted=True)
    matches = [s.id for s in sessions if s.id.startswith(prefix)] if prefix else []
    if prefix in matches:
        return prefix
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInputError(f"no session with id '{prefix}' in {review.store.path}; see `workstation sessions`")
    raise BadInputError(f"'{prefix}' matches {len(matches)} sessions; give more of the id")


def cmd_delete_session(args: argparse.Namespace) -> int:
    """Hide a session from lists, searches and exports (the audit log keeps it)."""
    with _review(args) as review:
        session_id = _session_id(review, args.session)
        applied = review.delete_session(session_id)
        title = review.tree(session_id).session.title
        return _changed(
            review, applied, args,
            f"deleted session {session_id} ({title}); `workstation restore-session {session_id}` "
            "brings it back",
        )  # fmt: skip


def cmd_restore_session(args: argparse.Namespace) -> int:
    """Show a deleted session again."""
    with _review(args) as review:
        session_id = _session_id(review, args.session)
        return _changed(review, review.restore_session(session_id), args, f"restored session {session_id}")


def cmd_undo(args: argparse.Namespace) -> int:
    """Undo the latest action in a session (all of its events: a challenge's answer and question)."""
    with _review(args) as review:
        session_id = _session_id(review, args.session)
        applied = review.undo(session_id)
        # The unit just undone is now the one redo would do again.
        return _changed_unit(applied, review.store.history(session_id).redo_description, args, "undid")


def cmd_redo(args: argparse.Namespace) -> int:
    """Redo the action the latest undo reversed."""
    with _review(args) as review:
        session_id = _session_id(review, args.session)
        applied = review.redo(session_id)
        return _changed_unit(applied, review.store.history(session_id).undo_description, args, "redid")


def _changed_unit(applied: Sequence[Applied], description: str, args: argparse.Namespace, verb: str) -> int:
    """Report an undo or redo: the keys of one event for its last event (as before units), the
    changes of all, and every event it wrote under `events`."""
    from workstation.core.ops import Changes

    last = applied[-1].event
    if args.json:
        _print_json(
            {
                "event_id": last.id,
                "session_id": last.session_id,
                "type": last.type,
                "reviewer_id": last.reviewer_id,
                "role": last.role,
                "at": last.at,
                "reverts": last.reverts,
                "changes": _changes_json(Changes.union(a.changes for a in applied)),
                "description": description,
                "events": [
                    {"event_id": a.event.id, "type": a.event.type, "reverts": a.event.reverts,
                     "changes": _changes_json(a.changes)}
                    for a in applied
                ],
            }
        )
    else:
        count = f" ({len(applied)} events)" if len(applied) > 1 else ""
        print(f"{verb} {terminal_safe(description)}{count}")
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    """List the sessions in the database."""
    import dataclasses

    with _review(args, reading=True) as review:
        rows = review.sessions()
        if args.json:
            _print_json([dataclasses.asdict(row) for row in rows])
            return 0
        if not rows:
            print(f"no sessions in {review.store.path} yet; start one with `workstation generate --prompt ...`")
        for row in rows:
            print(f"{row.id}  {row.updated_at[:19]}  {row.steps:>4} steps  {row.annotations:>3} labels  {terminal_safe(row.title[:60])}")
        return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Search questions and steps across sessions."""
    import dataclasses

    with _review(args, reading=True) as review:
        hits = review.search(text=args.text, label=args.label, tag=args.tag, reviewer=args.by, model=args.model_name)
        if args.json:
            _print_json([dataclasses.asdict(hit) for hit in hits])
        else:
            for hit in hits:
                fields = dataclasses.asdict(hit)
                print(terminal_safe("  ".join(str(fields[k])[:70] for k in fields)))
        return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Show a session's tree: every branch, version, label and flag."""
    with _review(args, reading=True) as review:
        session_id = _session_id(review, args.session)
        tree = review.tree(session_id)
        if args.json:
            data: dict[str, object] = {**tree.to_dict()}
            data["shown_path"] = [n.id for n in tree.shown_path()]
            data["preferred_path"] = [n.id for n in tree.preferred_path()]
            data["generations"] = {
                chain_id: _generation_json(review.store.generation(chain_id)) for chain_id in tree.chains
            }
            if args.tokens:
                data["tokens"] = _tokens_json(review, tree)
            _print_json(data)
            return 0
        _print_tree(tree)
        if args.tokens:
            _print_tokens(review, tree)
        return 0


def _model_versions(tree: Tree) -> list[str]:
    return [v.id for n in tree.nodes.values() for v in n.versions if v.origin == "model"]


def _tokens_json(review: Review, tree: Tree) -> dict[str, object]:
    """version id -> its tokens, for each model-written version that has them stored."""
    held = review.store.tokens(_model_versions(tree))
    return {
        version_id: {"offset": found.offset, "tokens": [t.to_dict() for t in found.tokens]}
        for version_id, found in held.items()
    }


def _print_tokens(review: Review, tree: Tree) -> None:
    """Each shown step's tokens as `at:'text' probability`, where `at` is what `branch --at-char` takes."""
    for node in tree.shown_path():
        found = review.step_tokens(node.id)
        if found is None:
            continue
        _, held = found
        cells = [f"{at}:{t.text!r} " + ("-" if t.logprob is None else f"{math.exp(t.logprob):.2f}") for at, t in zip(held.starts(), held.tokens, strict=True)]
        print(terminal_safe(f"{node.id[:12]} " + "  ".join(cells)))


def _generation_json(generation: Generation | None) -> object:
    import dataclasses

    return None if generation is None else json.loads(json.dumps(dataclasses.asdict(generation), default=str))


_LABELS: dict[int | None, str] = {-1: "wrong", 0: "neutral", 1: "right"}


def _print_tree(tree: Tree) -> None:
    print(f"session {tree.session.id}: {terminal_safe(tree.session.title)}")
    print(f"question: {terminal_safe(tree.question.text)}")
    shown = {n.id for n in tree.shown_path()}

    def walk(node_id: str, depth: int) -> None:
        for child in tree.children(node_id):
            marker = "*" if child.id in shown else " "
            alternatives = len(tree.alternatives(child.id)) if child.kind in ("step", "answer") else 1
            text = child.text.replace("\n", " ")
            labels = ", ".join(
                f"{rid}: {_LABELS.get(a.label, 'note')}" for rid, a in tree.current_annotations(child.id).items()
            )
            extra = []
            if alternatives > 1:
                extra.append(f"{alternatives} alternatives")
            if len(child.versions) > 1:
                extra.append(f"{len(child.versions)} versions")
            if child.current.flags:
                extra.append("flags: " + ", ".join(f.check for f in child.current.flags))
            if labels:
                extra.append(labels)
            line = f"{'  ' * depth}{marker} {child.id[:12]} {child.kind:<9} {text[:70]}" + (f"  [{'; '.join(extra)}]" if extra else "")
            print(terminal_safe(line))
            walk(child.id, depth + 1)

    walk(tree.question_id, 0)
    if not tree.chains:
        print(f"no steps yet (the generation stopped before any step was saved): "
              f"workstation continue {tree.question_id[:12]} writes them")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Register the review subcommands on the CLI's subparsers."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print what was created or changed as JSON")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--reviewer", help="your reviewer id (default: the settings, else your login name)")
    who.add_argument("--role", choices=ROLES, help="the role you review in")
    sampling = argparse.ArgumentParser(add_help=False)
    sampling.add_argument("--seed", type=int, help="sampling seed (-1: random)")
    sampling.add_argument("--max-tokens", type=int, help="most tokens to generate")
    sampling.add_argument("--temperature", type=float, help="sampling temperature")
    sampling.add_argument("--threads", type=int, help="CPU threads for the model")
    sampling.add_argument("--server", metavar="URL",
                          help="generate with an OpenAI-compatible inference server, e.g. http://127.0.0.1:8080/v1 "
                          "(API key: WORKSTATION_API_KEY, else the keyring)")
    sampling.add_argument("--server-model", metavar="NAME", help="the model's name on --server (default: the one it serves)")
    parents = [common, output]

    p = sub.add_parser("generate", parents=[*parents, who, sampling], help="ask the model and store its reasoning")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--prompt", help="the question")
    source.add_argument("--prompt-file", help="a file holding the question")
    p.add_argument("--template", help="prompt template (default: chain-of-thought)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("sessions", parents=parents, help="list sessions")
    p.set_defaults(func=cmd_sessions)

    p = sub.add_parser("show", parents=parents, help="show a session's tree")
    p.add_argument("session", metavar="SESSION", help="session id (a unique prefix is enough)")
    p.add_argument("--tokens", action="store_true", help="add each model-written version's tokens and alternatives")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("search", parents=parents, help="search questions and steps")
    p.add_argument("text", nargs="?", help="text to find")
    p.add_argument("--label", type=int, choices=(-1, 0, 1))
    p.add_argument("--tag")
    p.add_argument("--by", metavar="REVIEWER", help="labelled by this reviewer")
    p.add_argument("--model-name", metavar="MODEL", help="generated by this model (file name)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("annotate", parents=[*parents, who], help="label and annotate a step")
    p.add_argument("step", metavar="STEP", help="step id (a unique prefix is enough)")
    p.add_argument("--label", type=int, choices=(-1, 0, 1), help="-1 wrong, 0 neutral, 1 right")
    p.add_argument("--note", help="why the step is right or wrong")
    p.add_argument("--tag", action="append", help="a tag (repeat for several)")
    p.add_argument("--severity", choices=SEVERITIES)
    p.set_defaults(func=cmd_annotate)

    p = sub.add_parser("rewrite", parents=[*parents, who], help="write a new version of a step")
    p.add_argument("step", metavar="STEP")
    p.add_argument("--text", required=True, help="the step's new text")
    p.set_defaults(func=cmd_rewrite)

    p = sub.add_parser("challenge", parents=[*parents, who, sampling], help="ask the model why about a step")
    p.add_argument("step", metavar="STEP")
    p.add_argument("--question", help="your question (default: why?)")
    p.set_defaults(func=cmd_challenge)

    p = sub.add_parser("regenerate", parents=[*parents, who, sampling], help="regenerate from a step")
    p.add_argument("step", metavar="STEP")
    steer = p.add_mutually_exclusive_group()
    steer.add_argument("--critique", help="guidance for the model about this step")
    steer.add_argument("--use-note", action="store_true", help="use your latest note on the step as the critique")
    p.set_defaults(func=cmd_regenerate)

    p = sub.add_parser(
        "branch", parents=[*parents, who, sampling], help="branch a step at a token with another token"
    )
    p.add_argument("step", metavar="STEP")
    p.add_argument("--at-char", type=int, required=True, metavar="N", help="where the token starts in the step's text (show --tokens)")
    p.add_argument("--token", required=True, metavar="TEXT", help="the token to put there instead")
    p.set_defaults(func=cmd_branch)

    p = sub.add_parser("continue", parents=[*parents, who, sampling], help="let the model continue after a step (or the question)")
    p.add_argument("step", metavar="STEP", help="a step id, or the question's id for steps from the start")
    p.add_argument("--critique", help="guidance for the model")
    p.set_defaults(func=cmd_continue)

    for name, func, text in (("prefer", cmd_prefer, "mark a branch as preferred"), ("delete", cmd_delete, "delete a branch")):
        p = sub.add_parser(name, parents=[*parents, who], help=text)
        p.add_argument("step", metavar="STEP")
        p.set_defaults(func=func)

    for name, func, text in (
        ("delete-session", cmd_delete_session, "hide a session (undo or restore-session brings it back)"),
        ("restore-session", cmd_restore_session, "show a deleted session again"),
    ):
        p = sub.add_parser(name, parents=[*parents, who], help=text)
        p.add_argument("session", metavar="SESSION", help="session id (a unique prefix is enough)")
        p.set_defaults(func=func)

    for name, func, text in (("undo", cmd_undo, "undo the latest operation"), ("redo", cmd_redo, "redo")):
        p = sub.add_parser(name, parents=[*parents, who], help=text)
        p.add_argument("session", metavar="SESSION")
        p.set_defaults(func=func)
