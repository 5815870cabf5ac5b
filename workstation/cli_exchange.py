"""Command-line exchange: export, import, stats, disagreements, adjudicate, keys."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workstation.cli_review import _print_json, _review
from workstation.core.model import ROLES
from workstation.core.text import terminal_safe
from workstation.review_exchange import EXPORT_FORMATS, FORMAT_NAMES, Exchange

if TYPE_CHECKING:
    from workstation.exchange.result import ExportResult
    from workstation.review import Review

PASSPHRASE_VARIABLE = "WORKSTATION_KEY_PASSPHRASE"


def _passphrase(exchange: Exchange) -> str | None:
    """Only needed where there is no system keyring: from the environment, else asked for."""
    if exchange.keystore.storage == "keyring":
        return None
    if os.environ.get(PASSPHRASE_VARIABLE):
        return os.environ[PASSPHRASE_VARIABLE]
    print(f"workstation: {exchange.keystore.storage_message}", file=sys.stderr)
    if sys.stdin.isatty():
        return getpass.getpass("Key passphrase: ")
    return None  # the key store then says a passphrase is needed, and how to give one


def _with_identity(review: Review, args: argparse.Namespace) -> None:
    from workstation.core.model import Reviewer
    from workstation.review import default_reviewer

    if getattr(args, "signer", None) or getattr(args, "role", None):
        base = default_reviewer(review.values)
        review.reviewer = Reviewer(getattr(args, "signer", None) or base.id, args.role or base.role)


def cmd_export(args: argparse.Namespace) -> int:
    """Write training data, a report or a signed bundle (or, with --dry-run, say what it would)."""
    out = Path(args.out)
    if not args.dry_run and not args.force and _occupied(out):
        raise_usage(f"{out} already exists; add --force to replace it, or choose another --out")
    with _review(args, reading=True) as review:
        _with_identity(review, args)
        exchange = Exchange(review)
        passphrase = _passphrase(exchange) if args.format == "bundle" else None
        result = exchange.export(
            args.format, out, sessions=args.session, reviewers=args.reviewer,
            neutral=args.neutral_as, aggregate=args.aggregate, passphrase=passphrase,
            style=args.style, branch=args.branch, partial=args.partial, seed=args.seed, dry_run=args.dry_run,
        )
        if args.dry_run:
            preview = {"rows": result.rows, "dropped": result.dropped(), "format": result.format,
                       "path": str(out), "written": False, "manifest": result.manifest}
            if args.json:
                _print_json(preview)
            else:
                print(terminal_safe(preview_line(result)))
            return 0
        if args.json:
            _print_json(result.to_dict())
        else:
            print(terminal_safe(result.summary()))
        return 0


def preview_line(result: ExportResult) -> str:
    """What a dry run found, in one line: rows to write, chains dropped or cut and why."""
    from workstation.exchange.result import plural

    text = f"{result.format}: would write {plural(result.rows, 'row')} to {result.path}"
    dropped = result.dropped()
    if dropped:
        reasons: dict[str, int] = {}
        for d in dropped:
            key = f"{d['action']}: {d['reason']}"
            reasons[key] = reasons.get(key, 0) + 1
        text += "; " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    return text


def _occupied(out: Path) -> bool:
    """Whether writing `out` would replace something: a file, or a folder with files in it."""
    if out.is_dir():
        return any(out.iterdir())
    return out.exists()


def cmd_outcome(args: argparse.Namespace) -> int:
    """Record how a chain ended (PRM800K's finish reasons), as an event."""
    with _review(args) as review:
        if args.reviewer:
            from workstation.core.model import Reviewer

            review.reviewer = Reviewer(args.reviewer, review.reviewer.role)
        outcome = None if args.clear else args.set
        if outcome is None and not args.clear:
            raise_usage("give --set solution|found_error|give_up|bad_problem, or --clear")
        applied = Exchange(review).set_outcome(args.chain, outcome)
        chain_id = getattr(applied.event.op, "chain_id", None)
        if args.json:
            _print_json({"event_id": applied.event.id, "session_id": applied.event.session_id,
                         "chain_id": chain_id, "outcome": outcome})
        else:
            print(terminal_safe(f"chain {chain_id}: outcome {outcome or 'cleared'}"))
        return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Verify and merge review bundles from teammates."""
    with _review(args) as review:
        exchange = Exchange(review)
        result = exchange.import_bundles(args.files, trust_new_signers=args.trust, progress=_import_progress())
        if args.json:
            _print_json(result.to_dict())
        else:
            print(result.summary())
            for report in result.bundles:
                if report.untrusted_key is not None:
                    print(
                        f"  to trust {report.signer}'s key (fingerprint {report.fingerprint}), check the "
                        "fingerprint with them, then run:\n"
                        f"  workstation keys trust '{report.untrusted_key.to_text().strip()}'"
                    )
        return 0 if result.ok else 2


def _import_progress() -> Callable[[int, int, Path], None] | None:
    """On a terminal, a line on stderr naming each bundle as it starts (an import of many
    bundles takes seconds); nothing when stderr is a file or a pipe, where output is read."""
    if not sys.stderr.isatty():
        return None

    def show(index: int, count: int, path: Path) -> None:
        end = "\n" if index + 1 == count else ""
        sys.stderr.write(f"\rimporting bundle {index + 1} of {count}: {terminal_safe(Path(path).name)}\x1b[K{end}")
        sys.stderr.flush()

    return show


def cmd_stats(args: argparse.Namespace) -> int:
    """Reviewer counts, label distributions and agreement."""
    with _review(args, reading=True) as review:
        stats = Exchange(review).stats(args.session)
        if args.json:
            _print_json(stats)
        else:
            print(json.dumps(stats, indent=2, ensure_ascii=False, default=str))
        return 0


def cmd_disagreements(args: argparse.Namespace) -> int:
    """Steps whose reviewers disagree, for an expert or ethics reviewer to settle."""
    with _review(args, reading=True) as review:
        queue = Exchange(review).disagreements(args.session)
        if args.json:
            _print_json([d.to_dict() for d in queue])
            return 0
        if not queue:
            print("no disagreements")
        for d in queue:
            labels = ", ".join(f"{rid}: {lab:+d}" for rid, (lab, _role, _a) in d.labels.items())
            print(terminal_safe(f"{d.node_id}  step {d.position}  {labels}  {d.text.splitlines()[0][:60] if d.text else ''}"))
        return 0


def cmd_adjudicate(args: argparse.Namespace) -> int:
    """Settle a disagreement (expert or ethics reviewer), with a reason."""
    with _review(args) as review:
        applied = Exchange(review).adjudicate(args.step, args.label, args.reason)
        if args.json:
            _print_json({"event_id": applied.event.id, "session_id": applied.event.session_id,
                         "reviewer_id": applied.event.reviewer_id, "role": applied.event.role})
        else:
            print(f"adjudicated {args.step} as {review.reviewer.id} ({review.reviewer.role})")
        return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """Show your public key, trust a teammate's, list or revoke trusted keys."""
    with _review(args) as review:
        _with_identity(review, args)
        exchange = Exchange(review)
        if args.action == "show":
            print(exchange.public_key_text(_passphrase(exchange)))
        elif args.action == "trust":
            if not args.key:
                raise_usage("keys trust needs the key line (or a file holding it)")
            key = exchange.trust(args.key)
            print(terminal_safe(f"trusted {key.reviewer_id}'s key (fingerprint {key.fingerprint})"))
        elif args.action == "revoke":
            if not args.key or not exchange.trusted.revoke(args.key):
                raise_usage(f"no trusted key with fingerprint '{args.key}'")
            print(f"revoked {args.key}")
        else:
            keys = exchange.trusted.keys()
            if args.json:
                _print_json([{"reviewer_id": k.reviewer_id, "fingerprint": k.fingerprint} for k in keys])
            for k in keys if not args.json else ():
                print(terminal_safe(f"{k.fingerprint}  {k.reviewer_id}"))
        return 0


def raise_usage(message: str) -> None:
    from workstation.errors import BadInputError

    raise BadInputError(message)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Register the exchange subcommands."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print the result as JSON")
    parents = [common, output]

    p = sub.add_parser("export", parents=parents, help="write training data, a report or a signed bundle")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                   help="; ".join(f"{k}: {v}" for k, v in FORMAT_NAMES.items()))
    p.add_argument("--out", required=True, metavar="PATH", help="file (folder for parquet) to write")
    p.add_argument("--style", choices=("conversational", "standard"),
                   help="trl-preference and kto rows as chat messages or plain text (default: conversational "
                   "where the model has a chat template)")
    p.add_argument("--branch", choices=("preferred", "all"), default="preferred",
                   help="trl-stepwise and prm800k: the preferred branch (else the oldest) or every branch")
    p.add_argument("--partial", choices=("truncate", "drop"), default="truncate",
                   help="trl-stepwise: keep the steps before an unlabelled or tied step, or drop the chain")
    p.add_argument("--seed", type=int, default=0, help="kto: the seed of the shuffled row order (default 0)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--dry-run", action="store_true",
                   help="write nothing; say how many rows would be written and what would be dropped or cut, and why")
    p.add_argument("--session", action="append", help="only this session (repeat for several)")
    p.add_argument("--reviewer", action="append", help="only these reviewers' labels count (repeat)")
    p.add_argument("--neutral-as", choices=("true", "false", "drop"), default="false",
                   help="how a neutral (0) label maps to a boolean label (default false)")
    p.add_argument("--aggregate", choices=("majority", "strict", "unanimous"), default="majority",
                   help="how several reviewers' labels combine (an adjudication always wins)")
    p.add_argument("--signer", help="sign a bundle as this reviewer (default: you)")
    p.add_argument("--role", choices=ROLES, help="the signer's role")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("outcome", parents=parents, help="record how a chain ended (exported in prm800k)")
    p.add_argument("chain", metavar="CHAIN", help="a chain id, or the id of any of its steps")
    p.add_argument("--set", choices=("solution", "found_error", "give_up", "bad_problem"))
    p.add_argument("--clear", action="store_true", help="remove the chain's outcome")
    p.add_argument("--reviewer", help="your reviewer id")
    p.set_defaults(func=cmd_outcome)

    p = sub.add_parser("import", parents=parents, help="verify and merge review bundles")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--trust", action="store_true", help="trust signers not yet trusted (check fingerprints first)")
    p.set_defaults(func=cmd_import)

    for name, func, text in (("stats", cmd_stats, "reviewer counts and agreement"),
                             ("disagreements", cmd_disagreements, "steps whose reviewers disagree")):
        p = sub.add_parser(name, parents=parents, help=text)
        p.add_argument("--session", action="append", help="only this session (repeat)")
        p.set_defaults(func=func)

    p = sub.add_parser("adjudicate", parents=parents, help="settle a disagreement (expert or ethics reviewer)")
    p.add_argument("step", metavar="STEP")
    p.add_argument("--label", type=int, choices=(-1, 0, 1), required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--reviewer", help="your reviewer id")
    p.add_argument("--role", choices=ROLES, help="your role (expert or ethics_reviewer)")
    p.set_defaults(func=cmd_adjudicate)

    p = sub.add_parser("keys", parents=parents, help="your signing key and the keys you trust")
    p.add_argument("action", choices=("show", "trust", "list", "revoke"))
    p.add_argument("key", nargs="?", help="for trust: the key line or a file; for revoke: a fingerprint")
    p.add_argument("--signer", help="whose key to show (default: you)")
    p.add_argument("--role", choices=ROLES)
    p.set_defaults(func=cmd_keys)
