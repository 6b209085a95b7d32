"""Training throughput: time steps per second of ``okcore.train.train`` for every method, and the share of a step
spent outside the influence estimator (the cell's forward step, the readout, the optimiser, the task, the
bookkeeping).

Run from the repository root (with okcore installed, e.g. ``make bench``)::

    python benchmarks/bench_training.py
    python benchmarks/bench_training.py --quick     # a smoke test with tiny sizes

BLAS is pinned to one thread before numpy is imported. Each row trains on the copy task from a fresh start for
``steps`` steps (after a short warm-up run that is not timed) and reports the median of ``--repeats`` runs. The
estimator's time (its ``update`` and the contraction of the estimate into the W-gradient) is measured by wrapping
those methods with a clock, so ``outside`` = 1 − estimator / step.

Settings: the one of notebook 10's cached runs (n = 24, batch 16), n = 32 with batch 16 (the target below) and the
paper's copy-task setting (n = 128, OK at r = 16, batch 16), for which the authors report 52–139 s per 1000 steps on
their GPU.

A second table sets float32 against float64 at the setting of notebook 11's cached runs (character-level text,
OK r = 4, n = 64, batch 32, its rate): steps per second and milliseconds per step of processor time (median of
``--repeats`` rounds of 400 steps, the two dtypes taking turns in each round; the speed-up is the median of the
rounds' ratios), and the validation bpc after 5,000 steps of training from the same seed. The targets: float32 at
least 1.6× the steps per second of float64, and its validation bpc within 0.02 of float64's.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import okcore  # noqa: E402
from okcore.experiments import COPY_METHODS  # noqa: E402
from okcore.experiments.text import TEXT_LR  # noqa: E402
from okcore.tasks import TextStreams  # noqa: E402
from okcore.train import train  # noqa: E402
from okcore.train.text_runs import load_text_data, run_text, text_config  # noqa: E402
from okcore.train.timing import time_training  # noqa: E402

# The methods of notebook 10's cached runs, then the target row, then the paper's setting.
NOTEBOOK_METHODS = COPY_METHODS
TARGET = ("ok", 4, None, 32, 16)  # method, rank, truncation, n, batch: outside share <= 25 %
TARGET_SHARE = 0.25
PAPER = ("ok", 16, None, 128, 16)
PAPER_SECONDS_PER_1000 = (52, 139)
# float32 against float64: method, rank, n, batch of notebook 11's cached runs; the targets
DTYPE_ROW = ("ok", 4, 64, 32)
DTYPE_SPEEDUP, DTYPE_BPC_TOL, DTYPE_BPC_STEPS = 1.6, 0.02, 5_000
DTYPE_LR = TEXT_LR[("ok", 4, None, "block")]  # the rate of the cached runs


def measure(method, rank, truncation, n, batch, steps, repeats) -> tuple[float, float]:
    kw = {"rank": rank, "truncation": truncation, "hidden": n, "batch": batch}
    time_training(method, steps=max(2, steps // 10), **kw)  # warm-up
    runs = [time_training(method, steps=steps, **kw) for _ in range(repeats)]
    per_step = statistics.median(r[0] for r in runs)
    inside = statistics.median(r[1] for r in runs)
    return per_step, inside


def text_cpu_per_step(dtype: str, n: int, batch: int, steps: int, data) -> float:
    """Processor seconds per step of training OK on the text (fresh start, no evaluation)."""
    method, rank = DTYPE_ROW[:2]
    task = TextStreams(data.train, data.vocab, batch, rng=0)
    start = time.process_time()
    train(task, method, rank=rank, steps=steps, hidden=n, lr=DTYPE_LR, dtype=dtype, log_every=steps)
    return (time.process_time() - start) / steps


def dtype_table(n: int, batch: int, steps: int, bpc_steps: int, repeats: int, eval_chars: int | None) -> None:
    """The float32-against-float64 table (see the module docstring)."""
    config = text_config(method=DTYPE_ROW[0], rank=DTYPE_ROW[1], hidden=n, batch=batch, lr=DTYPE_LR)
    data = load_text_data(config)
    print(
        f"\nfloat32 against float64: text, {DTYPE_ROW[0]} r={DTYPE_ROW[1]}, n = {n}, batch {batch}, lr {DTYPE_LR:g}, "
        "processor time"
    )
    print(f"| dtype | steps/s | ms/step | valid bpc after {bpc_steps:,} steps |")
    print("|---|---:|---:|---:|")
    # the two dtypes take turns, so that the machine's speed, which drifts on a shared machine, affects both alike
    for dtype in ("float64", "float32"):
        text_cpu_per_step(dtype, n, batch, max(2, steps // 10), data)  # warm-up
    rounds = [{d: text_cpu_per_step(d, n, batch, steps, data) for d in ("float64", "float32")} for _ in range(repeats)]
    speed = {d: statistics.median(r[d] for r in rounds) for d in ("float64", "float32")}
    bpc = {}
    for dtype in ("float64", "float32"):
        run = config | {"dtype": dtype, "steps": bpc_steps, "eval_every": bpc_steps, "eval_chars": eval_chars}
        result, _ = run_text(run, data=data)
        bpc[dtype] = result.history.records[-1]["valid_bpc"]
        print(f"| {dtype} | {1 / speed[dtype]:.0f} | {1e3 * speed[dtype]:.2f} | {bpc[dtype]:.3f} |")
    gain = statistics.median(r["float64"] / r["float32"] for r in rounds)  # the median of the rounds' ratios
    diff = abs(bpc["float32"] - bpc["float64"])
    print(
        f"target: float32 at least {DTYPE_SPEEDUP}x the steps per second of float64: {gain:.2f}x, "
        f"{'met' if gain >= DTYPE_SPEEDUP else 'NOT met'}; validation bpc within {DTYPE_BPC_TOL}: "
        f"{diff:.3f}, {'met' if diff <= DTYPE_BPC_TOL else 'NOT met'}"
    )


def _label(method: str, rank: int | None, truncation: int | None) -> str:
    return method + (f" r={rank}" if rank else "") + (f" τ={truncation}" if truncation else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps: a smoke test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        rows = [(m, r, t, 6, 2, 20) for m, r, t in NOTEBOOK_METHODS] + [(*TARGET[:3], 8, 2, 20)]
        paper = (PAPER[0], 4, PAPER[2], 8, 2, 5)
    else:
        rows = [(m, r, t, 24, 16, 400) for m, r, t in NOTEBOOK_METHODS] + [(*TARGET, 400)]
        paper = (*PAPER, 20)
    print(f"okcore {okcore.__version__}, numpy {np.__version__}, BLAS on one thread, median of {args.repeats}")
    print("| method | n | batch | steps/s | ms/step | estimator ms/step | outside the estimator |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    shares = {}
    for method, rank, truncation, n, batch, steps in [*rows, paper]:
        per_step, inside = measure(method, rank, truncation, n, batch, steps, args.repeats)
        share = 1.0 - inside / per_step if np.isfinite(inside) else float("nan")
        shares[(method, rank, n, batch)] = share
        update = f"{1e3 * inside:.2f}" if np.isfinite(inside) else "-"
        outside = f"{100 * share:.0f} %" if np.isfinite(share) else "-"
        print(
            f"| {_label(method, rank, truncation)} | {n} | {batch} | {1 / per_step:.0f} | {1e3 * per_step:.2f} | "
            f"{update} | {outside} |"
        )
        if (method, rank, truncation, n, batch) == paper[:5] and not args.quick:
            print(
                f"\nat the paper's setting: {1000 * per_step:.0f} s per 1000 steps here (one core, float64); the "
                f"authors report {PAPER_SECONDS_PER_1000[0]}–{PAPER_SECONDS_PER_1000[1]} s per 1000 steps on their GPU"
            )
    if not args.quick:
        share = shares[(TARGET[0], TARGET[1], TARGET[3], TARGET[4])]
        verdict = "met" if share <= TARGET_SHARE else "NOT met"
        print(
            f"target: OK r={TARGET[1]}, n={TARGET[3]}, batch {TARGET[4]} spends at most {100 * TARGET_SHARE:.0f} % "
            f"of a step outside the estimator: {100 * share:.0f} %, {verdict}"
        )
    if args.quick:
        dtype_table(8, 2, 20, 50, 1, eval_chars=2_000)
    else:
        dtype_table(*DTYPE_ROW[2:], 400, DTYPE_BPC_STEPS, max(args.repeats, 5), eval_chars=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
