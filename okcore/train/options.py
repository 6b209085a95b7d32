"""The options every training command of ``python -m okcore.train`` has, in one list, and their checks.

An option added to :func:`common_arguments` (and its key to :func:`okcore.train.runs.common_options`) reaches
``copy`` and ``text`` alike, with its default shown by ``--help``.
"""

from __future__ import annotations

import argparse

from okcore._checks import DTYPES
from okcore.train.loop import CELLS, DEFAULT_LR, METHODS, WINDOWS
from okcore.train.memory import available_bytes, format_bytes, run_bytes

__all__ = ["Parser", "Formatter", "common_arguments", "add_common", "check_common", "check_positive", "check_memory"]


class Formatter(argparse.HelpFormatter):
    """argparse's help, with every option's default unless the help text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.required
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line on stderr with exit status 2, and help shows the defaults."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message}\n")


def common_arguments(defaults: dict) -> list[tuple[str, dict, str | None]]:
    """(flag, argparse keywords, check) of each option every training command has; defaults from ``defaults``
    (``COPY_DEFAULTS`` or ``TEXT_DEFAULTS``). ``check`` is ``"positive"``, ``"nonneg"`` or None."""
    return [
        ("--method", {"required": True, "help": f"one of {', '.join(METHODS)}"}, None),
        (
            "--rank",
            {"type": int, "default": None, "help": "Kronecker terms kept (kf-avg, ok and truncated-ok only)"},
            None,
        ),
        ("--truncation", {"type": int, "default": None, "help": "window length τ (tbptt only)"}, None),
        (
            "--window",
            {
                "choices": WINDOWS,
                "default": defaults["window"],
                "help": "tbptt only: block (non-overlapping windows, one update per window) or sliding (an update "
                "every step, the current loss backpropagated through the last τ steps)",
            },
            None,
        ),
        ("--hidden", {"type": int, "default": defaults["hidden"], "help": "hidden units n"}, "positive"),
        ("--batch", {"type": int, "default": defaults["batch"], "help": "streams trained side by side"}, "positive"),
        ("--steps", {"type": int, "default": defaults["steps"], "help": "time steps to train"}, "positive"),
        ("--seed", {"type": int, "default": defaults["seed"], "help": "seed of weights, signs and data"}, "nonneg"),
        ("--cell", {"choices": CELLS, "default": defaults["cell"], "help": "recurrent cell"}, None),
        (
            "--lr",
            {"type": float, "default": defaults["lr"], "help": f"Adam's learning rate (default {_lr(defaults)})"},
            "positive",
        ),
        (
            "--clip",
            {"type": float, "default": defaults["clip"], "help": "largest global norm of the W-gradient"},
            "positive",
        ),
        (
            "--dtype",
            {
                "choices": DTYPES,
                "default": defaults["dtype"],
                "help": "floating-point type of weights, states and estimates",
            },
            None,
        ),
        ("--log-every", {"type": int, "default": defaults["log_every"], "help": "steps per log record"}, "positive"),
        ("--out", {"required": True, "help": "where to write the run file (JSON)"}, None),
        (
            "--quiet",
            {"action": "store_true", "help": "no progress bar (there is none either where stderr is not a terminal)"},
            None,
        ),
    ]


def add_common(parser: argparse.ArgumentParser, defaults: dict) -> None:
    """Add :func:`common_arguments` to ``parser``."""
    for flag, kwargs, _check in common_arguments(defaults):
        parser.add_argument(flag, **kwargs)


def _lr(defaults: dict) -> str:
    return "10^-3.5, the paper's" if defaults["lr"] == DEFAULT_LR else f"{defaults['lr']:g}"


def check_positive(name: str, value: float) -> None:
    """Refuse ``--name`` unless ``value`` > 0."""
    if not value > 0:
        raise ValueError(f"--{name}: expected a positive number, got {value}")


def check_common(args: argparse.Namespace, defaults: dict) -> None:
    """Apply the checks of :func:`common_arguments` to parsed ``args``."""
    for flag, _kwargs, check in common_arguments(defaults):
        value = getattr(args, flag[2:].replace("-", "_"))
        if check == "positive":
            check_positive(flag[2:], value)
        elif check == "nonneg" and value < 0:
            raise ValueError(f"{flag}: expected an integer >= 0, got {value}")


def check_memory(args: argparse.Namespace, n_in: int, n_out: int, cosine_every: int = 0) -> None:
    """Refuse a run whose arrays (:func:`okcore.train.memory.run_bytes`) do not fit in the free memory."""
    itemsize = 4 if getattr(args, "dtype", "float64") == "float32" else 8
    need = run_bytes(
        args.method,
        args.hidden,
        batch=args.batch,
        n_in=n_in,
        n_out=n_out,
        rank=args.rank,
        truncation=args.truncation,
        cell=args.cell,
        cosine_every=cosine_every,
        itemsize=itemsize,
    )
    free = available_bytes()
    if free is None or need <= free:
        return
    what = f"--method {args.method}" + (f" --rank {args.rank}" if args.rank else "")
    what += f" --truncation {args.truncation}" if args.truncation else ""
    smaller = "--hidden, --batch or --truncation" if args.method == "tbptt" else "--hidden or --batch"
    raise ValueError(
        f"--hidden: expected a run that fits in the free memory, {format_bytes(free)} ({free:.3g} bytes), got "
        f"{what} --hidden {args.hidden} --batch {args.batch}, which needs {format_bytes(need)} ({need:.3g} bytes); "
        f"choose a smaller {smaller}"
    )
