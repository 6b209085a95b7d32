"""Command line: ``python -m okcore.train copy --method ok --rank 4 --steps 20000 --out run.json``.

``text`` trains on a UTF-8 text file and ``sample`` generates text from such a run (see
:mod:`okcore.train.text_cli`). The options every training command has are listed once, in
:mod:`okcore.train.options`; ``--help`` shows each one's default.

A progress bar goes to stderr on a terminal, and a one-line summary to stdout. A bad option exits with status 2
and one line naming it, before any training: so does a run too large for the free memory, or an ``--out`` where
no file can be created. Ctrl-C stops the run, writes what it has and exits with status 130. If the run file cannot
be written at the end, it is written in the working directory (or the temporary folder) and a line says where.
"""

from __future__ import annotations

import argparse
import sys

from okcore.tasks.copy import CopyTask
from okcore.train.options import Parser, add_common, check_common, check_memory
from okcore.train.output import RunOutput, report_saved
from okcore.train.runs import COPY_DEFAULTS, common_options, copy_config, run_copy, run_record
from okcore.train.text_cli import add_text_parsers, sample_command, text_command

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m okcore.train", description="Train a recurrent network online.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    copy = sub.add_parser(
        "copy",
        help="the copy task with the paper's curriculum",
        description="Train on the copy task with the paper's curriculum; write the run file (JSON).",
    )
    add_common(copy, COPY_DEFAULTS)
    copy.add_argument(
        "--cosine-every",
        type=int,
        default=COPY_DEFAULTS["cosine_every"],
        help="record the gradient cosine with exact RTRL every so many steps (0: never)",
    )
    add_text_parsers(sub, add_common)
    return parser


def _copy(args: argparse.Namespace) -> int:
    check_common(args, COPY_DEFAULTS)
    if args.cosine_every < 0:
        raise ValueError(f"--cosine-every: expected an integer >= 0, got {args.cosine_every}")
    config = copy_config(**common_options(args), cosine_every=args.cosine_every)
    check_memory(args, CopyTask.n_in, CopyTask.n_out, cosine_every=args.cosine_every)
    with RunOutput(args.out) as out:
        result = run_copy(config, progress=not args.quiet)
        record = run_record(result, config)
        saved, problem = out.save(lambda path: out.write_json(record, path))
    report_saved(out, saved, problem)
    final = record["final"]
    status = "stopped" if result.stopped else "done"
    print(
        f"{status}: copy {args.method} after {result.steps_done} steps in {result.seconds:.1f} s: "
        f"T_ = {final.get('T')}, loss {final.get('loss_bits')} bits; wrote {saved}"
    )
    return 130 if result.stopped else 1 if problem else 0


def _as_option(msg: str) -> str:
    # Messages from the library name the argument; the CLI user knows it as an option.
    for name in ("method", "rank", "truncation", "window", "cell", "dtype"):
        if msg.startswith(f"{name}:"):
            return f"--{msg}"
    return msg


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the exit status (0 done, 1 not saved where asked, 2 bad options, 130 stopped)."""
    args = build_parser().parse_args(argv)
    commands = {"copy": _copy, "text": text_command, "sample": sample_command}
    try:
        return commands[args.command](args)
    except (ValueError, TypeError) as err:
        print(f"error: {_as_option(str(err))}", file=sys.stderr)
        return 2
    except MemoryError as err:
        detail = f" ({err})" if str(err) else ""
        print(f"error: out of memory{detail}; choose a smaller --hidden or --batch", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped before training started", file=sys.stderr)
        return 130
