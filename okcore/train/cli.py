"""Command line: ``python -m okcore.train copy --method ok --rank 4 --steps 20000 --out run.json``.

``text`` trains on a UTF-8 text file and ``sample`` generates text from such a run (see
:mod:`okcore.train.text_cli`).

Progress goes to stderr and a one-line summary to stdout. A bad option exits with status 2 and one line naming it;
Ctrl-C stops the run, writes what it has and exits with status 130.
"""

from __future__ import annotations

import argparse
import sys

from okcore._checks import DTYPES
from okcore.train.loop import CELLS, DEFAULT_LR, METHODS, WINDOWS
from okcore.train.runs import (
    COPY_DEFAULTS,
    check_out_path,
    common_options,
    copy_config,
    run_copy,
    run_record,
    write_json,
)
from okcore.train.text_cli import add_text_parsers, sample_command, text_command

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}\n")


def _add_common(p: argparse.ArgumentParser, defaults: dict) -> None:
    p.add_argument("--method", required=True, help=f"one of {', '.join(METHODS)}")
    p.add_argument("--rank", type=int, default=None, help="Kronecker terms kept (kf-avg and ok only)")
    p.add_argument("--truncation", type=int, default=None, help="window length τ (tbptt only)")
    p.add_argument(
        "--window",
        choices=WINDOWS,
        default="block",
        help="tbptt only: block (non-overlapping windows, one update per window) or sliding (an update every "
        "step, the current loss backpropagated through the last τ steps)",
    )
    p.add_argument("--hidden", type=int, default=defaults["hidden"], help="hidden units n")
    p.add_argument("--batch", type=int, default=defaults["batch"], help="streams trained side by side")
    p.add_argument("--steps", type=int, default=defaults["steps"], help="time steps to train")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, signs and data")
    p.add_argument("--cell", choices=CELLS, default="gated")
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help="Adam's learning rate (default 10^-3.5)")
    p.add_argument("--clip", type=float, default=1.0, help="largest global norm of the W-gradient")
    p.add_argument(
        "--dtype", choices=DTYPES, default="float64", help="floating-point type of weights, states and estimates"
    )
    p.add_argument("--log-every", type=int, default=defaults["log_every"], help="steps per log record")
    p.add_argument("--out", required=True, help="where to write the run file (JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m okcore.train", description="Train a recurrent network online.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    copy = sub.add_parser("copy", help="the copy task with the paper's curriculum")
    _add_common(copy, COPY_DEFAULTS)
    copy.add_argument("--cosine-every", type=int, default=0, help="record the gradient cosine with exact RTRL")
    add_text_parsers(sub, _add_common)
    return parser


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"--{name}: expected a positive number, got {value}")


def _copy(args: argparse.Namespace) -> int:
    for name in ("hidden", "batch", "steps", "lr", "clip", "log_every"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.cosine_every < 0:
        raise ValueError(f"--cosine-every: expected an integer >= 0, got {args.cosine_every}")
    out = check_out_path(args.out)
    config = copy_config(**common_options(args), cosine_every=args.cosine_every)
    result = run_copy(config, progress=not args.quiet)
    record = run_record(result, config)
    write_json(out, record)
    final = record["final"]
    status = "stopped" if result.stopped else "done"
    print(
        f"{status}: copy {args.method} after {result.steps_done} steps in {result.seconds:.1f} s: "
        f"T_ = {final.get('T')}, loss {final.get('loss_bits')} bits; wrote {out}"
    )
    return 130 if result.stopped else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "copy":
            return _copy(args)
        if args.command == "text":
            return text_command(args)
        if args.command == "sample":
            return sample_command(args)
    except (ValueError, TypeError) as err:
        msg = str(err)
        # Messages from the library name the argument; the CLI user knows it as an option.
        for name in ("method", "rank", "truncation", "window", "cell", "dtype"):
            if msg.startswith(f"{name}:"):
                msg = f"--{msg}"
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 2
