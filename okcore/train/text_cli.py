"""The ``text`` and ``sample`` commands of ``python -m okcore.train``.

``text`` trains a character-level language model online on any UTF-8 text file (or ``kjv``, the corpus kept in
``data/corpus``) and writes the run file and, beside it, the weights (``.npz``). ``sample`` prints text generated
by such a model. Errors in options or files become one line naming the option, with exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from okcore.train.runs import check_out_path, common_options, write_json
from okcore.train.text_runs import (
    TEXT_DEFAULTS,
    load_text_data,
    run_text,
    sample_run,
    save_model,
    text_config,
    text_record,
    weights_path,
)

__all__ = ["add_text_parsers", "text_command", "sample_command"]

_OPTIONS = ("corpus", "valid", "run", "method", "rank", "truncation", "cell", "temperature", "prompt", "chars")


def _as_option(err: Exception) -> ValueError:
    """A library error ``name: ...`` as ``--name: ...``, so that it names the command-line option."""
    msg = str(err)
    for name in _OPTIONS:
        if msg.startswith(f"{name}:"):
            return ValueError(f"--{msg}")
    return ValueError(msg)


def add_text_parsers(
    sub: argparse._SubParsersAction, add_common: Callable[[argparse.ArgumentParser, dict], None]
) -> None:
    """Add the ``text`` and ``sample`` subcommands; ``add_common`` adds the options every training command has."""
    text = sub.add_parser("text", help="character-level language modelling on a UTF-8 text file")
    add_common(text, TEXT_DEFAULTS)
    for action in text._actions:  # the cached text runs use a larger learning rate than the paper's
        if action.dest == "lr":
            action.default = TEXT_DEFAULTS["lr"]
            action.help = f"Adam's learning rate (default {TEXT_DEFAULTS['lr']:g}, as in the cached runs)"
    text.add_argument(
        "--corpus", required=True, help="a UTF-8 text file (plain or .gz), or 'kjv' for the corpus in data/corpus"
    )
    text.add_argument(
        "--valid",
        default=None,
        help="validation text (default: kjv's validation split, or the last 10%% of the corpus file)",
    )
    text.add_argument("--eval-every", type=int, default=TEXT_DEFAULTS["eval_every"], help="steps between evaluations")
    text.add_argument(
        "--eval-chars", type=int, default=TEXT_DEFAULTS["eval_chars"], help="characters of validation text evaluated"
    )
    text.add_argument(
        "--eval-streams",
        type=int,
        default=TEXT_DEFAULTS["eval_streams"],
        help="contiguous streams the validation text is read in (default: one per 1,000 characters, at most 128)",
    )
    text.add_argument(
        "--reset-every", type=int, default=TEXT_DEFAULTS["reset_every"], help="steps between resets of the streams"
    )
    text.add_argument(
        "--max-vocab", type=int, default=TEXT_DEFAULTS["max_vocab"], help="largest vocabulary, unknown symbol included"
    )

    smp = sub.add_parser("sample", help="generate text from a model trained with the text command")
    smp.add_argument("--run", required=True, help="a run file (.json) of the text command, or its weights (.npz)")
    smp.add_argument("--chars", type=int, default=300, help="how many characters to generate")
    smp.add_argument("--prompt", default="", help="text the model reads first (not printed)")
    smp.add_argument("--temperature", type=float, default=1.0, help="divides the logits; below 1 is more cautious")
    smp.add_argument("--seed", type=int, default=0, help="seed of the draws")


def text_command(args: argparse.Namespace) -> int:
    """Train on text as the options say; write RUN.json and RUN.npz; print a one-line summary."""
    for name in ("hidden", "batch", "steps", "lr", "clip", "log_every", "eval_chars", "reset_every"):
        value = getattr(args, name)
        if not value > 0:
            raise ValueError(f"--{name.replace('_', '-')}: expected a positive number, got {value}")
    if args.seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.eval_every < 0:
        raise ValueError(f"--eval-every: expected an integer >= 0 (0: only at the end), got {args.eval_every}")
    if args.eval_streams is not None and args.eval_streams < 1:
        raise ValueError(f"--eval-streams: expected a positive integer, got {args.eval_streams}")
    if args.max_vocab < 2:
        raise ValueError(
            f"--max-vocab: expected an integer >= 2 (the unknown symbol and a character), got {args.max_vocab}"
        )
    out = check_out_path(args.out)
    try:
        config = text_config(
            corpus=args.corpus,
            valid=args.valid,
            **common_options(args),
            eval_every=args.eval_every,
            eval_chars=args.eval_chars,
            eval_streams=args.eval_streams,
            reset_every=args.reset_every,
            max_vocab=args.max_vocab,
        )
        data = load_text_data(config)
    except (ValueError, TypeError) as err:
        raise _as_option(err) from None
    result, data = run_text(config, progress=not args.quiet, data=data)
    weights = weights_path(out)
    save_model(weights, result, data.vocab, config)
    record = text_record(result, data, config, weights=weights.name)
    write_json(out, record)
    final = record["final"]
    status = "stopped" if result.stopped else "done"
    bpc = final.get("valid_bpc")
    summary = "no evaluation" if bpc is None else f"valid {bpc:.3f} bpc (best {final['best_valid_bpc']:.3f})"
    print(
        f"{status}: text {args.method} after {result.steps_done} steps in {result.seconds:.1f} s: {summary}, "
        f"vocabulary {len(data.vocab.chars) + 1}; wrote {out} and {weights.name}"
    )
    return 130 if result.stopped else 0


def sample_command(args: argparse.Namespace) -> int:
    """Print ``--chars`` characters generated by the model of ``--run``."""
    if args.chars < 1:
        raise ValueError(f"--chars: expected a positive integer, got {args.chars}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature: expected a positive number, got {args.temperature}")
    if args.seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {args.seed}")
    try:
        text = sample_run(args.run, args.chars, seed=args.seed, prompt=args.prompt, temperature=args.temperature)
    except (ValueError, TypeError) as err:
        raise _as_option(err) from None
    print(text)
    return 0
