"""What one update of each influence estimator costs: counted (flops, bytes) and measured (time, memory).

Counts, exact for okcore's estimators, for a cell with K = n_in + n + 1 and k = n (tanh) or 2n (gated), per
update and summed over B batch rows (r = rank; KF is r = 1):

============  ===============================================  ======================
method        flops per row of the operations on n² or more      bytes of the estimate
============  ===============================================  ======================
exact         2 n² K k + K k                                   8 B n K k
uoro          2 n² + 3 K k                                     8 B (n + K k)
kf, kf-avg    r (2 n² k + 2 n k + k)                           8 B r (K + n k)
ok            2 r n² k + r (r+1) n k + 2 r² n k + 3 r k         8 B r (K + n k)
truncated-ok  as ok                                            8 B r (K + n k)
snap1, rflo   3 K k                                            8 B K k
============  ===============================================  ======================

The terms: exact RTRL's product H G, then x̂ ⊗ D added to its K k non-zero entries; UORO's H s̃, the squared
norm of θ̃ (2 K k) and θ̃ += x̂ ⊗ ν D; KF's products H Â, their squared norms and D added to its k entries, per
chain; OK's r products H A_j, their Gram matrix (r (r+1)/2 dot products of length n k: the lower triangle with
the diagonal), the r × r recombination A' = T M over n k columns, the r dot products ⟨H A_j, D⟩ on the k entries
of D and D added to each A'_j (truncated OK does the same work, with a different small coefficient matrix); SnAp-1's
and RFLO's kept entries J (K × k) scaled by the decay and x̂ ⊗ d added. Adding a scaled D or x̂ ⊗ D counts one
flop per entry it changes, as notebook 02 counts exact RTRL.

(each flop count is multiplied by B). The small linear algebra (vectors of length K, (r+1) × (r+1) matrices)
is left out: it costs O(r² K + r³) per row, which does not grow with n·k. The estimators also hold work
buffers (:func:`held_bytes`): exact RTRL and KF a second buffer of the size of the estimate, OK and truncated OK the
products H A_j; SnAp-1 and RFLO none.

Measurements use the same protocol as ``benchmarks/bench_estimators.py`` (which imports its pieces from here):
a fixed cycle of genuine steps of a ``GatedCell``, a warm-up, then ``repeats`` rounds that each time the update
and the product it is built around (H·G for exact RTRL, the r products H·A_i for KF, KF-avg and OK) in turn,
each over enough calls to last ``min_time``; the median over the rounds is kept.

Command line (BLAS is pinned to ``--threads`` threads, 1 by default; the process restarts itself with the
thread variables set when they differ, because BLAS reads them only when it loads)::

    python -m okcore.costs --out data/costs/costs.json            # the cached grid (minutes)
    python -m okcore.costs --n 16 32 --ranks 2 --batch 1 --out /tmp/small.json
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from okcore._checks import check_positive_int, check_rng
from okcore.approx import UORO
from okcore.cells import GatedCell, Step, TanhCell, _Cell
from okcore.estimator import Estimator
from okcore.rtrl import ExactRTRL
from okcore.train import loop as train_loop

__all__ = [
    "METHODS",
    "RANKED",
    "FACTORED",
    "DENSE",
    "DIAGONAL",
    "THREAD_VARS",
    "make_estimator",
    "update_flops",
    "estimate_bytes",
    "held_bytes",
    "estimate_nbytes",
    "measure_memory",
    "time_interleaved",
    "make_steps",
    "reference_call",
    "time_update",
    "measure",
    "environment",
    "run",
    "load",
    "main",
]

METHODS = ("exact", "uoro", "kf", "kf-avg", "ok", "truncated-ok", "snap1", "rflo")
RANKED = frozenset({"kf-avg", "ok", "truncated-ok"})  # take a rank r
FACTORED = frozenset({"kf", "kf-avg", "ok", "truncated-ok"})  # built around the r products H·A_i
DIAGONAL = frozenset({"snap1", "rflo"})  # keep one entry of G per weight
DENSE = frozenset({"exact"})  # store G densely
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
N_IN = 4  # inputs of the measured cells
N_STEPS = 8  # distinct steps cycled through by the timed updates
FORMAT = 1  # version of the JSON layout written by :func:`run`

_CELLS: dict[str, type[_Cell]] = {"tanh": TanhCell, "gated": GatedCell}


def _method(method: object) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(map(repr, METHODS))}, got {method!r}")
    return method


def _sizes(n_in: int, n_hidden: int, cell: str) -> tuple[int, int, int]:
    if cell not in _CELLS:
        raise ValueError(f"cell: expected one of {sorted(_CELLS)}, got {cell!r}")
    n_in = check_positive_int("n_in", n_in)
    n = check_positive_int("n_hidden", n_hidden)
    return n, n_in + n + 1, _CELLS[cell].n_blocks * n


def _rank(method: str, rank: int) -> int:
    rank = check_positive_int("rank", rank)
    if method not in RANKED and rank != 1:
        raise ValueError(f"rank: {method} has no rank (it is 1), got {rank}")
    return rank


def make_estimator(method: str, cell: _Cell, rank: int = 1, batch: int = 1, rng: object = 0) -> Estimator:
    """A fresh estimator by name (one of :data:`METHODS`); ``rank`` for kf-avg, ok and truncated-ok."""
    method = _method(method)
    rank = _rank(method, rank)
    return train_loop.make_estimator(method, cell, batch, rank if method in RANKED else None, rng)


# -- counts --------------------------------------------------------------------------------------------------------


def update_flops(
    method: str, n_hidden: int, rank: int = 1, *, n_in: int = N_IN, cell: str = "gated", batch: int = 1
) -> int:
    """Flops of one update on the numbers that grow like n² or faster (see the module docstring), times B."""
    method = _method(method)
    r = _rank(method, rank)
    n, K, k = _sizes(n_in, n_hidden, cell)
    B = check_positive_int("batch", batch)
    if method == "exact":
        per_row = 2 * n * n * K * k + K * k
    elif method == "uoro":
        per_row = 2 * n * n + 3 * K * k
    elif method in ("kf", "kf-avg"):
        per_row = r * (2 * n * n * k + 2 * n * k + k)
    elif method in DIAGONAL:
        per_row = 3 * K * k
    else:
        per_row = 2 * r * n * n * k + r * (r + 1) * n * k + 2 * r * r * n * k + 3 * r * k
    return B * per_row


def estimate_bytes(
    method: str,
    n_hidden: int,
    rank: int = 1,
    *,
    n_in: int = N_IN,
    cell: str = "gated",
    batch: int = 1,
    itemsize: int = 8,
) -> int:
    """Bytes of the arrays that hold the estimate: G (exact), s̃ and θ̃ (UORO), u and A (KF, KF-avg, OK, truncated
    OK), the kept entries J (SnAp-1, RFLO)."""
    method = _method(method)
    r = _rank(method, rank)
    n, K, k = _sizes(n_in, n_hidden, cell)
    numbers = {"exact": n * K * k, "uoro": n + K * k, "snap1": K * k, "rflo": K * k}.get(method, r * (K + n * k))
    return check_positive_int("batch", batch) * numbers * check_positive_int("itemsize", itemsize)


def held_bytes(
    method: str, n_hidden: int, rank: int = 1, *, n_in: int = N_IN, cell: str = "gated", batch: int = 1
) -> int:
    """Bytes of the large buffers an estimator keeps between updates (float64), without its small ones.

    exact: two buffers of G (H G is written into the spare one); UORO: θ̃; KF and KF-avg: two buffers of A
    (H Â is written into the second); OK and truncated OK: A and the products H A_j; SnAp-1 and RFLO: J.
    """
    method = _method(method)
    r = _rank(method, rank)
    n, K, k = _sizes(n_in, n_hidden, cell)
    B = check_positive_int("batch", batch)
    numbers = {"exact": 2 * n * K * k, "uoro": K * k, "snap1": K * k, "rflo": K * k}.get(method, 2 * r * n * k)
    return 8 * B * numbers


def estimate_nbytes(est: Estimator) -> int:
    """The ``nbytes`` of the arrays through which ``est`` exposes its estimate (compare :func:`estimate_bytes`)."""
    if isinstance(est, ExactRTRL):
        return est.influence().nbytes
    if isinstance(est, UORO):
        return est.s.nbytes + est.theta.nbytes
    if hasattr(est, "J"):  # SnAp-1, RFLO
        return est.J.nbytes
    return est.u.nbytes + est.A.nbytes


def measure_memory(
    method: str, n_hidden: int, rank: int = 1, *, n_in: int = N_IN, batch: int = 1, seed: int = 0
) -> int:
    """Bytes still allocated (traced by ``tracemalloc``) after building an estimator and updating it twice.

    numpy reports its buffers to ``tracemalloc``, so this is what the estimator keeps: :func:`held_bytes` plus
    a few small arrays (temporaries of the update are freed by then).
    """
    rng = np.random.default_rng(seed)
    cell = GatedCell(n_in, n_hidden, rng)
    steps = make_steps(cell, batch, rng, 2)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        est = make_estimator(method, cell, rank, batch, rng)
        for step in steps:
            est.update(step)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    del est
    return int(used)


# -- timing --------------------------------------------------------------------------------------------------------


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def time_interleaved(
    fns: list[Callable[[], object]], repeats: int, min_time: float, clock: str = "wall"
) -> list[list[float]]:
    """Per function, the mean time of one call in each of ``repeats`` rounds, in seconds, after a warm-up.

    Each round times every function in turn (each over enough calls to last ``min_time``), so that a slow
    drift of the machine's speed affects an update and its reference alike. ``clock="wall"`` measures elapsed
    time (``time.perf_counter``); ``clock="cpu"`` the processor time of this process (``time.process_time``),
    which leaves out the time other processes hold the processor: on a busy shared machine it is much closer to
    what the same code takes on an idle one (with BLAS on one thread, the two agree on an idle machine).
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock: expected one of {sorted(CLOCKS)}, got {clock!r}")
    now = CLOCKS[clock]
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
            start = now()
            for _ in range(number):
                fn()
            out.append((now() - start) / number)
    return samples


def make_steps(cell: _Cell, batch: int, rng: np.random.Generator | int, n_steps: int = N_STEPS) -> list[Step]:
    """``n_steps`` consecutive batched steps of the cell on random one-hot inputs drawn from ``rng``."""
    rng = check_rng("rng", rng)
    h = cell.initial_state(batch)
    eye = np.eye(cell.n_in)
    steps = []
    for _ in range(n_steps):
        step = cell.step(eye[rng.integers(0, cell.n_in, size=batch)], h)
        steps.append(step)
        h = step.h
    return steps


def reference_call(
    method: str, steps: list[Step], rank: int, seed: int = 0
) -> tuple[str, Callable[[], object]] | tuple[None, None]:
    """(name, call) of the product the update is built around, on arrays of its shapes; (None, None) for UORO,
    SnAp-1 and RFLO.

    exact: ``np.matmul(H, G, out=...)`` with H (B, n, n), G (B, n, K·k); kf, kf-avg, ok, truncated-ok: the r products
    ``np.matmul(H[:, None], A, out=...)`` with A (B, r, n, k).
    """
    method = _method(method)
    xhat, H, d = steps[0].as_batch()
    B, n, K, k = xhat.shape[0], H.shape[1], xhat.shape[1], d.shape[1]
    rng = np.random.default_rng(seed + 1)
    if method in DENSE:
        G = rng.normal(size=(B, n, K * k))
        out = np.empty_like(G)
        return "H·G", lambda: np.matmul(H, G, out=out)
    if method in FACTORED:
        A = rng.normal(size=(B, rank, n, k))
        out_A = np.empty_like(A)
        H4 = H[:, None]
        return f"{rank}×H·A", lambda: np.matmul(H4, A, out=out_A)
    return None, None


def time_update(
    method: str,
    n_hidden: int,
    rank: int = 1,
    batch: int = 1,
    *,
    repeats: int = 7,
    min_time: float = 0.02,
    seed: int = 0,
    clock: str = "wall",
    cell: _Cell | None = None,
    steps: list[Step] | None = None,
) -> dict[str, Any]:
    """Time one ``update`` (and its reference product) for one setting; returns a row of the costs table.

    Keys: method, rank, n, batch, update_s (median seconds per update), per_seq_s (update_s / B), reference
    (its name or None), ref_s, ratio (median over the rounds of update / reference, or None), best_s and
    ref_best_s (the fastest round of each: on a busy machine the least disturbed, since other processes only
    ever add time), samples_s (the per-round times of the update), flops, estimate_bytes, held_bytes.
    """
    method = _method(method)
    rank = _rank(method, rank)
    repeats = check_positive_int("repeats", repeats)
    if cell is None:
        cell = GatedCell(N_IN, n_hidden, np.random.default_rng(seed))
    if steps is None:
        steps = make_steps(cell, batch, np.random.default_rng(seed + 3))
    est = make_estimator(method, cell, rank, batch, np.random.default_rng(seed + 2))
    cycle = itertools.cycle(steps)

    def update() -> None:
        est.update(next(cycle))

    ref_name, ref = reference_call(method, steps, rank, seed)
    samples = time_interleaved([update] if ref is None else [update, ref], repeats, min_time, clock)
    seconds = statistics.median(samples[0])
    ref_s = None if ref is None else statistics.median(samples[1])
    ratio = None if ref is None else statistics.median(a / b for a, b in zip(*samples, strict=True))
    n_in = cell.n_in
    return {
        "method": method,
        "rank": rank,
        "n": n_hidden,
        "batch": batch,
        "update_s": seconds,
        "per_seq_s": seconds / batch,
        "reference": ref_name,
        "ref_s": ref_s,
        "ratio": ratio,
        "best_s": min(samples[0]),
        "ref_best_s": None if ref is None else min(samples[1]),
        "samples_s": samples[0],
        "flops": update_flops(method, n_hidden, rank, n_in=n_in, batch=batch),
        "estimate_bytes": estimate_bytes(method, n_hidden, rank, n_in=n_in, batch=batch),
        "held_bytes": held_bytes(method, n_hidden, rank, n_in=n_in, batch=batch),
    }


def measure(
    methods: Sequence[str] = METHODS,
    ns: Sequence[int] = (16, 32, 64, 128),
    ranks: Sequence[int] = (1, 2, 4, 8),
    batches: Sequence[int] = (1, 16),
    *,
    repeats: int = 7,
    min_time: float = 0.02,
    seed: int = 0,
    max_gb: float = 2.0,
    clock: str = "wall",
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of :func:`time_update` over a grid, and notes on what was skipped.

    Ranked methods get one row per rank, the others one row per (n, B). Exact RTRL is skipped where two dense
    buffers of G (B·n·K·k float64 each) would exceed ``max_gb``.
    """
    for name in methods:
        _method(name)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for n in ns:
        cell = GatedCell(N_IN, n, np.random.default_rng(seed))
        for batch in batches:
            g_bytes = 8 * batch * n * cell.K * cell.k
            dense_fits = 2 * g_bytes <= max_gb * 1e9
            if not dense_fits and any(m in DENSE for m in methods):
                notes.append(
                    f"n={n}, B={batch}: exact skipped, two dense buffers of G take {2 * g_bytes / 1e9:.2f} GB "
                    f"> max_gb {max_gb:g}"
                )
            steps = make_steps(cell, batch, np.random.default_rng(seed + 3))
            for method in methods:
                if method in DENSE and not dense_fits:
                    continue
                for rank in ranks if method in RANKED else [1]:
                    row = time_update(
                        method,
                        n,
                        rank,
                        batch,
                        repeats=repeats,
                        min_time=min_time,
                        seed=seed,
                        clock=clock,
                        cell=cell,
                        steps=steps,
                    )
                    rows.append(row)
                    if progress is not None:
                        progress(f"timed {method} r={rank} n={n} B={batch}: {row['update_s'] * 1e6:.1f} µs")
    return rows, notes


# -- the cached file ---------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """Where a measurement was made: machine, BLAS, thread settings and versions."""
    import okcore

    config = np.show_config(mode="dicts")
    blas = config.get("Build Dependencies", {}).get("blas", {})
    return {
        "machine": {
            "platform": platform.platform(),
            "architecture": platform.machine(),
            "cpu": _cpu_model(),
            "logical_cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "blas": {"name": blas.get("name"), "version": blas.get("version")},
        "threads": {var: os.environ.get(var) for var in THREAD_VARS},
        "versions": {"okcore": okcore.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }


def run(
    methods: Sequence[str] = METHODS,
    ns: Sequence[int] = (16, 32, 64, 128),
    ranks: Sequence[int] = (1, 2, 4, 8),
    batches: Sequence[int] = (1, 16),
    *,
    repeats: int = 7,
    min_time: float = 0.02,
    seed: int = 0,
    max_gb: float = 2.0,
    clock: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure a grid (:func:`measure`) and return the document that ``--out`` writes as JSON."""
    started = time.perf_counter()
    env = environment()
    rows, notes = measure(
        methods,
        ns,
        ranks,
        batches,
        repeats=repeats,
        min_time=min_time,
        seed=seed,
        max_gb=max_gb,
        clock=clock,
        progress=progress,
    )
    return {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {
            "methods": list(methods),
            "n": list(ns),
            "ranks": list(ranks),
            "batch": list(batches),
            "repeats": repeats,
            "min_time_s": min_time,
            "seed": seed,
            "max_gb": max_gb,
            "clock": clock,
            "cell": f"GatedCell(n_in={N_IN})",
            "steps_cycled": N_STEPS,
        },
        **env,
        "seconds": round(time.perf_counter() - started, 1),
        "notes": notes,
        "rows": rows,
    }


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a file written by ``python -m okcore.costs --out``; checks its layout version."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT:
        raise ValueError(f"path: expected a costs file of format {FORMAT}, got format {doc.get('format')!r}")
    return doc


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m okcore.costs", description="Time one update of each influence estimator over a grid."
    )
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), metavar="NAME")
    p.add_argument("--n", nargs="+", type=int, default=[16, 32, 64, 128], help="hidden sizes")
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4, 8], help="ranks of kf-avg and ok")
    p.add_argument("--batch", nargs="+", type=int, default=[1, 16], help="batch sizes")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds per row; the median is kept")
    p.add_argument("--min-time", type=float, default=0.02, help="seconds each timed round lasts at least")
    p.add_argument("--max-gb", type=float, default=2.0, help="skip exact RTRL where 2 buffers of G exceed this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: processor time of this process (default; robust on a busy machine), wall: elapsed time",
    )
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = p.parse_args(argv)
    for name in ("n", "ranks", "batch"):
        if min(getattr(args, name)) < 1:
            p.error(f"--{name.replace('_', '-')}: expected sizes >= 1, got {getattr(args, name)}")
    if args.repeats < 1 or args.min_time <= 0 or args.max_gb <= 0 or args.threads < 1:
        p.error("--repeats, --min-time, --max-gb and --threads: expected positive values")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    wanted = str(args.threads)
    if any(os.environ.get(var) != wanted for var in THREAD_VARS):
        # BLAS has read its thread count already (numpy is loaded): start again with the variables set.
        env = dict(os.environ, **{var: wanted for var in THREAD_VARS})
        cmd = [sys.executable, "-m", "okcore.costs", *(sys.argv[1:] if argv is None else argv)]
        os.execve(sys.executable, cmd, env)
    doc = run(
        args.methods,
        args.n,
        args.ranks,
        args.batch,
        repeats=args.repeats,
        min_time=args.min_time,
        seed=args.seed,
        max_gb=args.max_gb,
        clock=args.clock,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )
    doc = {"command": "python -m okcore.costs " + " ".join(sys.argv[1:] if argv is None else argv), **doc}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['rows'])} rows to {out} in {doc['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
