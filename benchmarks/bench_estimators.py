"""Time one ``update`` of each influence estimator, next to the bare batched product H·G it is built around.

Run from the repository root (with okcore installed, e.g. ``make bench``)::

    python benchmarks/bench_estimators.py
    python benchmarks/bench_estimators.py --n 16 32 --batch 1 --repeats 9

BLAS is pinned to one thread (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS are set to 1 below,
before numpy is imported, because BLAS reads them only when it loads), so the numbers measure the algorithm
and not the machine's core count, and rows are comparable with each other.

Each row is one (estimator, rank, n, batch). The estimator is fed a fixed cycle of genuine steps of a
GatedCell (n_in = 4) with W fixed; after a warm-up the time of one update is measured ``--repeats`` times
(each time averaged over enough calls to last ``--min-time`` seconds) and the median is reported. Each repeat
also times the product the estimator is built around, on arrays of its shapes: ``np.matmul(H, G, out=...)``
with H (B, n, n) and G (B, n, K·k) for exact RTRL, the r products ``np.matmul(H[:, None], A, out=...)`` with
A (B, r, n, k) for KF, KF-avg and OK. ``ratio`` is the median over the repeats of update / that product;
timing the two in turn keeps slow drifts of the machine's speed out of it.

The timing itself lives in :mod:`okcore.costs` (``time_update``), which also writes the cached measurements that
notebook 12 reads; this script prints them as a table. To add an estimator, add its entry to
``okcore.costs.COUNTS`` (its counts, whether it takes a rank, the product it is built around) and its
constructor to ``okcore.train.loop.make_estimator``.

At the end the script restates the performance targets and says whether this run meets them: OK with r = 8 at
n = 128, batch 1, within 1.8× its r products H·A_i; KF at n = 128 within 1.4× H·A; with a batch of 16, the cost
per sequence at most 0.3× that of batch 1 where per-call overhead dominates (n = 16, and r <= 2 at n = 32).
They are printed for information; no test times anything.
"""

from __future__ import annotations

import os

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _var in _THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import okcore  # noqa: E402
from okcore import costs  # noqa: E402
from okcore.costs import DENSE, FACTORED, RANKED, time_update  # noqa: E402

ESTIMATORS = costs.METHODS
N_IN = costs.N_IN

# The targets, restated: (description, test on the table's rows) -- printed, never asserted.
TARGET_OK_RATIO = 1.8  # OK, r = 8, n = 128, B = 1: update / its 8 products H·A_i
TARGET_KF_RATIO = 1.4  # KF, n = 128, B = 1: update / H·A
TARGET_BATCH_GAIN = 0.3  # per-sequence time with B = 16 / with B = 1, where per-call overhead dominates


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--estimators",
        nargs="+",
        default=list(ESTIMATORS),
        choices=list(ESTIMATORS),
        metavar="NAME",
        help=f"estimators to time (default: all of {', '.join(ESTIMATORS)})",
    )
    p.add_argument("--n", nargs="+", type=int, default=[16, 32, 64, 128], help="hidden sizes (default 16 32 64 128)")
    p.add_argument("--batch", nargs="+", type=int, default=[1, 16], help="batch sizes (default 1 16)")
    p.add_argument(
        "--ranks", nargs="+", type=int, default=[1, 2, 4, 8], help="ranks for rank-r estimators (default 1 2 4 8)"
    )
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per row; the median is shown (default 7)")
    p.add_argument(
        "--min-time",
        type=float,
        default=0.02,
        help="seconds each repeat lasts at least, by calling the update several times (default 0.02)",
    )
    p.add_argument(
        "--max-gb",
        type=float,
        default=2.0,
        help="skip H·G and dense estimators where 2 buffers of B·n·K·k float64 exceed this many GB (default 2.0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the cell weights and inputs (default 0)")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed time (default); cpu: this process's processor time, steadier on a busy machine",
    )
    args = p.parse_args(argv)
    for name in ("n", "batch", "ranks"):
        if min(getattr(args, name)) < 1:
            p.error(f"--{name}: sizes must be >= 1")
    if args.repeats < 1 or args.min_time <= 0 or args.max_gb <= 0:
        p.error("--repeats, --min-time and --max-gb must be positive")
    return args


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # The first column (names) is left-aligned, the numbers right-aligned.
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|" + "|".join((":" + "-" * (w + 1)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    )
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def targets(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each restated target whose rows are in the table."""
    by_key = {(r["method"], r["rank"], r["n"], r["batch"]): r for r in rows}
    out = []
    ok8 = by_key.get(("ok", 8, 128, 1))
    if ok8 is not None:
        out.append(
            (
                f"OK r=8, n=128, B=1: update <= {TARGET_OK_RATIO}× its 8 products H·A_i",
                f"{ok8['ratio']:.2f}×",
                "met" if ok8["ratio"] <= TARGET_OK_RATIO else "NOT met",
            )
        )
    kf = by_key.get(("kf", 1, 128, 1))
    if kf is not None:
        out.append(
            (
                f"KF, n=128, B=1: update <= {TARGET_KF_RATIO}× H·A",
                f"{kf['ratio']:.2f}×",
                "met" if kf["ratio"] <= TARGET_KF_RATIO else "NOT met",
            )
        )
    for (method, rank, n, batch), row in by_key.items():
        one = by_key.get((method, rank, n, 1))
        overhead_bound = n == 16 or (n == 32 and method != "exact" and rank <= 2)
        if batch != 16 or one is None or not overhead_bound:
            continue
        gain = row["per_seq_s"] / one["per_seq_s"]
        name = method + (f" r={rank}" if method in RANKED else "")
        out.append(
            (
                f"{name}, n={n}: per sequence B=16 <= {TARGET_BATCH_GAIN}× B=1",
                f"{gain:.2f}×",
                "met" if gain <= TARGET_BATCH_GAIN else "NOT met",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = costs.environment()
    print(f"okcore {okcore.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    print(
        f"BLAS: {env['blas']['name']} {env['blas']['version'] or ''}".rstrip()
        + "; threads pinned: "
        + ", ".join(f"{v}={os.environ[v]}" for v in _THREAD_VARS)
        + f"; load average {env['machine']['load_average_1min']:.1f} on {env['machine']['logical_cpus']} CPUs"
    )
    print(
        f"cell: GatedCell(n_in={N_IN}), k = 2n; median of {args.repeats} repeats of >= {args.min_time * 1e3:g} ms"
        f" ({args.clock} clock)"
    )
    print()

    header = ["estimator", "rank", "n", "B", "update µs", "IQR µs", "per seq µs", "reference", "ref µs", "ratio"]
    table: list[list[str]] = []
    rows: list[dict] = []
    notes: list[str] = []
    started = time.perf_counter()
    for n in args.n:
        cell = okcore.GatedCell(N_IN, n, np.random.default_rng(args.seed))
        K, k = cell.K, cell.k
        for batch in args.batch:
            g_bytes = 8 * batch * n * K * k
            dense_fits = 2 * g_bytes <= args.max_gb * 1e9
            if not dense_fits:
                notes.append(
                    f"n={n}, B={batch}: H·G and {', '.join(sorted(DENSE))} skipped, two dense buffers of G take "
                    f"{2 * g_bytes / 1e9:.2f} GB > --max-gb {args.max_gb:g}"
                )
            names = [name for name in args.estimators if dense_fits or name not in DENSE]
            if not names:
                continue
            steps = costs.make_steps(cell, batch, np.random.default_rng(args.seed + 3))
            for name in names:
                for rank in args.ranks if name in RANKED else [None]:
                    row = time_update(
                        name,
                        n,
                        rank or 1,
                        batch,
                        repeats=args.repeats,
                        min_time=args.min_time,
                        seed=args.seed,
                        clock=args.clock,
                        cell=cell,
                        steps=steps,
                    )
                    rows.append(row)
                    has_ref = name in FACTORED or name in DENSE
                    table.append(
                        [
                            name,
                            "-" if rank is None else str(rank),
                            str(n),
                            str(batch),
                            f"{row['update_s'] * 1e6:.1f}",
                            f"{row['q1_s'] * 1e6:.1f}–{row['q3_s'] * 1e6:.1f}",
                            f"{row['per_seq_s'] * 1e6:.1f}",
                            row["reference"] if has_ref else "-",
                            f"{row['ref_s'] * 1e6:.1f}" if has_ref else "-",
                            f"{row['ratio']:.2f}" if has_ref else "-",
                        ]
                    )
                    print(f"  timed {name} n={n} B={batch}", file=sys.stderr, flush=True)
    print(format_table(header, table))
    print()
    print("update: median of the repeats; IQR: their first to third quartile. per seq: update time / B.")
    print("reference: the product each estimator is built around (H·G for exact RTRL,")
    print("the r products H·A_i for KF, KF-avg and OK), timed in turn with the update in every repeat; ratio: the")
    print("median over the repeats of update / reference.")
    for note in notes:
        print("note:", note)
    met = targets(rows)
    if met:
        print()
        print("targets (restated; printed for information, never asserted by a test):")
        print(format_table(["target", "measured", "verdict"], [list(t) for t in met]))
    print(f"total time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
