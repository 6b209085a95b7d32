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

To add an estimator, add a factory ``(cell, batch, rank, rng) -> Estimator`` to ``ESTIMATORS``; if it uses
``rank``, add its name to ``RANKED`` too (every other estimator gets one row per size, rank shown as "-"); if
it stores G densely, add it to ``DENSE`` (such rows are skipped above ``--max-gb``, like the H·G column).
"""

from __future__ import annotations

import os

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _var in _THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

import okcore  # noqa: E402
from okcore import KFRTRL, OK, UORO, ExactRTRL, GatedCell, KFAverage  # noqa: E402
from okcore.estimator import Estimator  # noqa: E402

N_IN = 4
N_STEPS = 8  # distinct steps cycled through by the updates

# name -> factory(cell, batch, rank, rng) returning a fresh estimator.
ESTIMATORS: dict[str, Callable[[GatedCell, int, int, np.random.Generator], Estimator]] = {
    "exact": lambda cell, batch, rank, rng: ExactRTRL(cell, batch=batch),
    "uoro": lambda cell, batch, rank, rng: UORO(cell, batch=batch, rng=rng),
    "kf": lambda cell, batch, rank, rng: KFRTRL(cell, batch=batch, rng=rng),
    "kf-avg": lambda cell, batch, rank, rng: KFAverage(cell, rank, batch=batch, rng=rng),
    "ok": lambda cell, batch, rank, rng: OK(cell, rank, batch=batch, rng=rng),
}
# Names whose factory uses ``rank``: they get one row per rank in --ranks.
RANKED: set[str] = {"kf-avg", "ok"}
# Names built around r products H·A_i (r = 1 for kf): their reference column is that product alone.
FACTORED: set[str] = {"kf", "kf-avg", "ok"}
# Names that store G densely: skipped, like the H·G column, when two dense buffers would exceed --max-gb.
DENSE: set[str] = {"exact"}


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
    args = p.parse_args(argv)
    for name in ("n", "batch", "ranks"):
        if min(getattr(args, name)) < 1:
            p.error(f"--{name}: sizes must be >= 1")
    if args.repeats < 1 or args.min_time <= 0 or args.max_gb <= 0:
        p.error("--repeats, --min-time and --max-gb must be positive")
    return args


def time_interleaved(fns: list[Callable[[], object]], repeats: int, min_time: float) -> list[list[float]]:
    """Per function, the mean time of one call in each of ``repeats`` rounds, in seconds, after a warm-up.

    Each round times every function in turn (each over enough calls to last ``min_time``), so that a slow
    drift of the machine's speed affects an update and its reference alike.
    """
    numbers = []
    for fn in fns:
        fn()  # warm-up: first-touch page faults, BLAS initialisation, caches
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        numbers.append(max(1, int(np.ceil(min_time / max(once, 1e-9)))))
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, number, out in zip(fns, numbers, samples, strict=True):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - start) / number)
    return samples


def make_steps(cell: GatedCell, batch: int, rng: np.random.Generator) -> list[okcore.Step]:
    """N_STEPS consecutive batched steps of the cell on random one-hot inputs."""
    h = cell.initial_state(batch)
    steps = []
    for _ in range(N_STEPS):
        x = np.eye(N_IN)[rng.integers(0, N_IN, size=batch)]
        step = cell.step(x, h)
        steps.append(step)
        h = step.h
    return steps


def matmul_call(steps: list[okcore.Step], batch: int, n: int, K: int, k: int, seed: int) -> Callable[[], object]:
    """np.matmul(H, G, out=...) with H (B, n, n) and G (B, n, K·k): exact RTRL's product."""
    G = np.random.default_rng(seed + 1).normal(size=(batch, n, K * k))
    out = np.empty_like(G)
    H = steps[0].H
    return lambda: np.matmul(H, G, out=out)


def products_call(steps: list[okcore.Step], batch: int, rank: int, n: int, k: int, seed: int) -> Callable[[], object]:
    """np.matmul(H, A, out=...) with H (B, 1, n, n) and A (B, r, n, k): the r products H·A_i."""
    A = np.random.default_rng(seed + 1).normal(size=(batch, rank, n, k))
    out = np.empty_like(A)
    H = steps[0].H[:, None]
    return lambda: np.matmul(H, A, out=out)


def update_call(
    name: str, cell: GatedCell, steps: list[okcore.Step], batch: int, rank: int, seed: int
) -> tuple[Callable[[], object], Estimator]:
    """One ``update`` of a fresh estimator on the next of the cycled steps, and that estimator."""
    est = ESTIMATORS[name](cell, batch, rank, np.random.default_rng(seed + 2))
    cycle = itertools.cycle(steps)
    return lambda: est.update(next(cycle)), est


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"okcore {okcore.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    print(
        f"BLAS: {blas.get('name', '?')} {blas.get('version', '')}".rstrip()
        + "; threads pinned: "
        + ", ".join(f"{v}={os.environ[v]}" for v in _THREAD_VARS)
    )
    print(f"cell: GatedCell(n_in={N_IN}), k = 2n; median of {args.repeats} repeats of >= {args.min_time * 1e3:g} ms")
    print()

    header = ["estimator", "rank", "n", "B", "update µs", "per seq µs", "reference", "ref µs", "ratio"]
    rows: list[list[str]] = []
    notes: list[str] = []
    started = time.perf_counter()
    for n in args.n:
        cell = GatedCell(N_IN, n, np.random.default_rng(args.seed))
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
            steps = make_steps(cell, batch, np.random.default_rng(args.seed + 3))
            for name in names:
                for rank in args.ranks if name in RANKED else [None]:
                    update, est = update_call(name, cell, steps, batch, rank or 1, args.seed)
                    if name in FACTORED:
                        ref_name, ref = f"{rank or 1}×H·A", products_call(steps, batch, rank or 1, n, k, args.seed)
                    elif name in DENSE:
                        ref_name, ref = "H·G", matmul_call(steps, batch, n, K, k, args.seed)
                    else:  # UORO is built around O(n²) vector products: no product to compare with
                        ref_name, ref = "-", None
                    samples = time_interleaved([update] if ref is None else [update, ref], args.repeats, args.min_time)
                    seconds = statistics.median(samples[0])
                    ref_s = None if ref is None else statistics.median(samples[1])
                    ratio = None if ref is None else statistics.median(a / b for a, b in zip(*samples, strict=True))
                    del ref
                    finite = bool(np.all(np.isfinite(est.gradient(np.ones((batch, n))))))
                    if not finite:
                        notes.append(f"{name} n={n} B={batch}: the estimate overflowed; its time may be unreliable")
                    rows.append(
                        [
                            name,
                            "-" if rank is None else str(rank),
                            str(n),
                            str(batch),
                            f"{seconds * 1e6:.1f}",
                            f"{seconds * 1e6 / batch:.1f}",
                            ref_name if ref_s is not None else "-",
                            "-" if ref_s is None else f"{ref_s * 1e6:.1f}",
                            "-" if ratio is None else f"{ratio:.2f}",
                        ]
                    )
                    print(f"  timed {name} n={n} B={batch}", file=sys.stderr, flush=True)
    print(format_table(header, rows))
    print()
    print("per seq: update time / B. reference: the product each estimator is built around (H·G for exact RTRL,")
    print("the r products H·A_i for KF, KF-avg and OK), timed in turn with the update in every repeat; ratio: the")
    print("median over the repeats of update / reference.")
    for note in notes:
        print("note:", note)
    print(f"total time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
