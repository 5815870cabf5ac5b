"""The command line: `workstation` opens the GUI; subcommands work headless.

Every subcommand reports a `WorkstationError` as one line on stderr with exit status 2;
anything else is a bug, logged with its traceback (see diagnostics) and reported in one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from workstation import __version__, diagnostics, paths
from workstation.core.text import terminal_safe
from workstation.errors import WorkstationError

Command = Callable[[argparse.Namespace], int]


def _human_size(size: int) -> str:
    scaled = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if scaled < 1000 or unit == "GB":
            return f"{scaled:.0f} {unit}" if unit == "B" else f"{scaled:.1f} {unit}"
        scaled /= 1000
    raise AssertionError("unreachable")


def cmd_models(args: argparse.Namespace) -> int:
    """List every discovered model with its GGUF metadata (read from the header only)."""
    from workstation.cli_review import _print_json
    from workstation.engine import discovery

    if args.assemble:
        path = discovery.assemble(args.assemble)
        print(f"assembled {args.assemble} into {path}")
        return 0
    if args.model:  # an explicit --model must be valid, as for every command
        discovery.choose_model(args.model)
    folders = [*discovery.model_folders(), *args.folder] if args.folder else None
    found = discovery.scan(args.model, folders)
    models = found.models
    for note in found.notes:  # skipped folders: worth knowing, never a failure
        print(f"workstation: note: {terminal_safe(note)}", file=sys.stderr)
    if args.json:
        _print_json([model.to_dict() for model in models])
        return 0
    if not models:
        print(f"no models found; run `make setup`, or drop a .gguf file into {paths.user_models_dir()}")
        return 0
    for model in models:
        print(f"{model.name}")
        print(f"  path:    {model.path}")
        if model.parts:
            print(f"  parts:   {len(model.parts)} (llama.cpp loads the others from the first)")
        print(f"  source:  {model.source}")
        if model.info:
            info = model.info
            context = f"{info.context_length:,}" if info.context_length else "unknown"
            template = "yes" if info.has_chat_template else "no"
            print(
                f"  model:   {info.architecture}, {info.size_label} parameters, {info.quantization}, "
                f"context {context}, chat template {template}, {_human_size(model.size)}"
            )
        else:
            print(f"  error:   {model.error}")
    print(f"(drop your own .gguf files into {paths.user_models_dir()}, or add folders to the "
          "model.folders setting; LM Studio, Ollama, GPT4All, Jan, Hugging Face and llama.cpp models "
          "are found where those applications keep them)")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the workstation window."""
    from workstation.engine import discovery

    if args.model:  # a bad --model is refused here, before any window or llama.cpp sees it
        discovery.choose_model(args.model)
    from workstation.ui.app import run_gui

    return run_gui(model=args.model, db=args.db)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for `workstation` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="workstation",
        description="Review a local language model's reasoning step by step.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--model", metavar="PATH", help="a GGUF model file (default: WORKSTATION_MODEL, then discovery)"
    )
    common.add_argument(
        "--db", metavar="PATH", type=Path, help="the database file (default: WORKSTATION_DB, then the data folder)"
    )
    parser.add_argument("--model", metavar="PATH", help="a GGUF model file to open")
    parser.add_argument("--db", metavar="PATH", type=Path, help="the database file to open")
    parser.set_defaults(func=cmd_gui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    models = sub.add_parser("models", parents=[common], help="list the models the workstation can see")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument("--assemble", metavar="ID", help="join a chunked catalog model into one file")
    from workstation.settings import BY_KEY

    models.add_argument("--folder", metavar="PATH", action="append", default=[],
                        help=f"{BY_KEY['model.folders'].description.split(' (')[0]}, besides the "
                        "model.folders setting (repeat for several)")
    models.set_defaults(func=cmd_models)

    from workstation import cli_exchange, cli_review

    cli_review.add_commands(sub, common)
    cli_exchange.add_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    diagnostics.install_crash_handlers()
    args = build_parser().parse_args(argv)
    try:
        command: Command = args.func  # set by every subparser (argparse types it Any)
        return command(args)
    except WorkstationError as exc:
        # The message may quote a file name or text from a bundle: never terminal commands.
        print(f"workstation: error: {terminal_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug: log it, never show a traceback
        log = diagnostics.record_crash(type(exc), exc, exc.__traceback__)
        print(f"workstation: {diagnostics.apology(log)}", file=sys.stderr)
        return 70
