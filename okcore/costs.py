"""What one update of each influence estimator costs: counted (flops, bytes) and measured (time, memory).

Counts, exact for okcore's estimators, for a cell with K = n_in + n + 1 and k = n (tanh) or 2n (gated), per
update and summed over B batch rows (r = rank; KF is r = 1):

==========  ===============================================  ======================
method      flops per row of the operations on n² or more      bytes of the estimate
==========  ===============================================  ======================
exact       2 n² K k + K k                                   8 B n K k
uoro        2 n² + 3 K k                                     8 B (n + K k)
kf, kf-avg  r (2 n² k + 2 n k + k)                           8 B r (K + n k)
ok          2 r n² k + r (r+1) n k + 2 r² n k + 3 r k         8 B r (K + n k)
==========  ===============================================  ======================

The terms: exact RTRL's product H G, then x̂ ⊗ D added to its K k non-zero entries; UORO's H s̃, the squared
norm of θ̃ (2 K k) and θ̃ += x̂ ⊗ ν D; KF's products H Â, their squared norms and D added to its k entries, per
chain; OK's r products H A_j, their Gram matrix (r (r+1)/2 dot products of length n k: the lower triangle with
the diagonal), the r × r recombination A' = T M over n k columns, the r dot products ⟨H A_j, D⟩ on the k entries
of D and D added to each A'_j. Adding a scaled D or x̂ ⊗ D counts one flop per entry it changes, as notebook 02
counts exact RTRL.

(each flop count is multiplied by B). The small linear algebra (vectors of length K, (r+1) × (r+1) matrices)
is left out: it costs O(r² K + r³) per row, which does not grow with n·k. Besides the estimate, the estimators
keep large work buffers (:func:`work_bytes`): exact RTRL a second buffer of G, KF and KF-avg a second buffer of
A, OK the products H A_j, UORO none; :func:`held_bytes` is the estimate plus those. The counts of every method
live in one table, :data:`COUNTS`.

Measurements use the same protocol as ``benchmarks/bench_estimators.py`` (which imports its pieces from here):
a fixed cycle of genuine steps of a ``GatedCell``, a warm-up, then ``repeats`` rounds that each time the update
and the product it is built around (H·G for exact RTRL, the r products H·A_i for KF, KF-avg and OK) in turn,
each over enough calls to last ``min_time``; the median over the rounds is kept, with the first and third
quartiles (the spread) and the fastest round.

Command line (BLAS is pinned to ``--threads`` threads, 1 by default; the process restarts itself with the
thread variables set when they differ, because BLAS reads them only when it loads)::

    python -m okcore.costs --out data/costs/costs.json            # the cached grid (minutes)
    python -m okcore.costs --n 16 32 --ranks 2 --batch 1 --out /tmp/small.json
    python -m okcore.costs --noise --n 32 128 --ranks 2 8 --out data/costs/noise.json   # the noise column

``--max-load 0.7`` waits (up to ``--wait`` seconds) for a quiet machine before timing, and the file records the
load average at the start and at the end.
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
from dataclasses import dataclass
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
    "Counts",
    "COUNTS",
    "METHODS",
    "RANKED",
    "FACTORED",
    "DENSE",
    "THREAD_VARS",
    "make_estimator",
    "update_flops",
    "estimate_bytes",
    "work_bytes",
    "held_bytes",
    "estimate_nbytes",
    "measure_memory",
    "time_interleaved",
    "make_steps",
    "reference_call",
    "quartiles",
    "time_update",
    "measure",
    "environment",
    "run",
    "load",
    "row",
    "measure_noise",
    "comparison",
    "format_comparison",
    "main",
]


@dataclass(frozen=True)
class Counts:
    """What one method's update costs, per batch row, for a cell with sizes n, K, k and rank r (KF: r = 1).

    ``flops(n, K, k, r)``: operations on the numbers that grow like n² or faster; ``estimate(n, K, k, r)``: numbers
    of the arrays that hold the estimate; ``work(n, K, k, r)``: numbers of the large work buffers kept besides
    it. ``reference``: the product the update is built around ("dense": H·G, "factored": the r products H·A_i,
    None: neither). ``bias``, ``time``, ``memory``: how the comparison table describes the method.
    """

    flops: Callable[[int, int, int, int], int]
    estimate: Callable[[int, int, int, int], int]
    work: Callable[[int, int, int, int], int]
    ranked: bool = False
    reference: str | None = None
    bias: str = "none (unbiased)"
    time: str = ""
    memory: str = ""


#: The counted methods, in the order tables list them. A new estimator needs one entry here (and a constructor
#: in ``okcore.train.loop.make_estimator``); the cached file, the table and notebook 12 pick it up from there.
COUNTS: dict[str, Counts] = {
    "exact": Counts(
        flops=lambda n, K, k, r: 2 * n * n * K * k + K * k,
        estimate=lambda n, K, k, r: n * K * k,
        work=lambda n, K, k, r: n * K * k,  # the spare buffer H G is written into
        reference="dense",
        bias="none (exact)",
        time="n⁴",
        memory="n³",
    ),
    "uoro": Counts(
        flops=lambda n, K, k, r: 2 * n * n + 3 * K * k,
        estimate=lambda n, K, k, r: n + K * k,
        work=lambda n, K, k, r: 0,
        time="n²",
        memory="n²",
    ),
    "kf": Counts(
        flops=lambda n, K, k, r: 2 * n * n * k + 2 * n * k + k,
        estimate=lambda n, K, k, r: K + n * k,
        work=lambda n, K, k, r: n * k,  # the buffer H Â is written into
        reference="factored",
        time="n³",
        memory="n²",
    ),
    "kf-avg": Counts(
        flops=lambda n, K, k, r: r * (2 * n * n * k + 2 * n * k + k),
        estimate=lambda n, K, k, r: r * (K + n * k),
        work=lambda n, K, k, r: r * n * k,
        ranked=True,
        reference="factored",
        time="r n³",
        memory="r n²",
    ),
    "ok": Counts(
        flops=lambda n, K, k, r: 2 * r * n * n * k + r * (r + 1) * n * k + 2 * r * r * n * k + 3 * r * k,
        estimate=lambda n, K, k, r: r * (K + n * k),
        work=lambda n, K, k, r: r * n * k,  # the products H A_j
        ranked=True,
        reference="factored",
        time="r n³ + r² n²",
        memory="r n²",
    ),
}
METHODS = tuple(COUNTS)
RANKED = frozenset(m for m, c in COUNTS.items() if c.ranked)  # take a rank r
FACTORED = frozenset(m for m, c in COUNTS.items() if c.reference == "factored")  # built around the products H·A_i
DENSE = frozenset(m for m, c in COUNTS.items() if c.reference == "dense")  # store G densely
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
N_IN = 4  # inputs of the measured cells
N_STEPS = 8  # distinct steps cycled through by the timed updates
FORMAT = 2  # version of the JSON layout written by :func:`run` (2: quartiles, end load, noise files)

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
    """A fresh estimator by name (``exact``, ``uoro``, ``kf``, ``kf-avg``, ``ok``); ``rank`` for kf-avg and ok."""
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
    return check_positive_int("batch", batch) * COUNTS[method].flops(n, K, k, r)


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
    """Bytes of the arrays that hold the estimate: G (exact), s̃ and θ̃ (UORO), u and A (KF, KF-avg, OK)."""
    method = _method(method)
    r = _rank(method, rank)
    n, K, k = _sizes(n_in, n_hidden, cell)
    numbers = COUNTS[method].estimate(n, K, k, r)
    return check_positive_int("batch", batch) * numbers * check_positive_int("itemsize", itemsize)


def work_bytes(
    method: str, n_hidden: int, rank: int = 1, *, n_in: int = N_IN, cell: str = "gated", batch: int = 1
) -> int:
    """Bytes of the large work buffers an estimator keeps besides its estimate (float64): exact RTRL a second
    buffer of G (H G is written into it, then the two swap), KF and KF-avg a second buffer of A, OK the products
    H A_j; UORO none."""
    method = _method(method)
    r = _rank(method, rank)
    n, K, k = _sizes(n_in, n_hidden, cell)
    return 8 * check_positive_int("batch", batch) * COUNTS[method].work(n, K, k, r)


def held_bytes(
    method: str, n_hidden: int, rank: int = 1, *, n_in: int = N_IN, cell: str = "gated", batch: int = 1
) -> int:
    """Bytes an estimator holds between updates: its estimate plus its large work buffers (float64).

    Small arrays (O(r K) numbers per row, e.g. KF's second u, OK's Gram matrix) are left out; what
    :func:`measure_memory` sees is this plus those.
    """
    kw = {"n_in": n_in, "cell": cell, "batch": batch}
    return estimate_bytes(method, n_hidden, rank, **kw) + work_bytes(method, n_hidden, rank, **kw)


def estimate_nbytes(est: Estimator) -> int:
    """The ``nbytes`` of the arrays through which ``est`` exposes its estimate (compare :func:`estimate_bytes`)."""
    if isinstance(est, ExactRTRL):
        return est.influence().nbytes
    if isinstance(est, UORO):
        return est.s.nbytes + est.theta.nbytes
    return est.u.nbytes + est.A.nbytes


def measure_memory(
    method: str, n_hidden: int, rank: int = 1, *, n_in: int = N_IN, batch: int = 1, seed: int = 0
) -> int:
    """Bytes still allocated (traced by ``tracemalloc``) after building an estimator and updating it twice.

    numpy reports its buffers to ``tracemalloc``, so this is what the estimator keeps: :func:`held_bytes` plus
    its small arrays (temporaries of the update are freed by then).
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


def quartiles(samples: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles of the per-round times (their interquartile range is the spread)."""
    values = sorted(float(x) for x in samples)
    if not values:
        raise ValueError("samples: expected at least one time, got none")
    if len(values) == 1:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


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
    """(name, call) of the product the update is built around, on arrays of its shapes; (None, None) for UORO.

    exact: ``np.matmul(H, G, out=...)`` with H (B, n, n), G (B, n, K·k); kf, kf-avg, ok: the r products
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

    Keys: method, rank, n, batch, update_s (median seconds per update), q1_s and q3_s (the first and third
    quartiles of the rounds: update_s ± the spread), per_seq_s (update_s / B), reference
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
    q1, q3 = quartiles(samples[0])
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
        "q1_s": q1,
        "q3_s": q3,
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


def _load() -> float | None:
    """The 1-minute load average (processes wanting a processor), where the system reports one."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _caches() -> dict[str, int | None]:
    """Sizes of the data caches of the first processor (L1d, L2, L3) in bytes, as Linux reports them in
    /sys/devices/system/cpu/cpu0/cache; None where unknown (other systems)."""
    sizes: dict[str, int | None] = {"L1d": None, "L2": None, "L3": None}
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
            name = "L1d" if (level, kind) == ("1", "Data") else f"L{level}" if kind == "Unified" else None
            if name in sizes:
                sizes[name] = int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        except (OSError, ValueError):
            continue
    return sizes


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
            "load_average_1min": _load(),
            "cache_bytes": _caches(),
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
    env["machine"]["load_average_1min_end"] = _load()
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
    """Read a file written by ``python -m okcore.costs --out`` (timings, or noise with ``--noise``); checks its
    layout version."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT:
        raise ValueError(f"path: expected a costs file of format {FORMAT}, got format {doc.get('format')!r}")
    return doc


def row(doc: dict[str, Any], method: str, n: int, rank: int = 1, batch: int = 1) -> dict[str, Any]:
    """The row of a loaded file for one setting; ValueError naming the setting if the file has none."""
    for r in doc["rows"]:
        if (r["method"], r["n"], r["rank"], r.get("batch", 1)) == (method, n, rank, batch):
            return r
    raise ValueError(f"doc: expected a row for {method} r={rank} n={n} B={batch}, the file has none")


# -- noise: the other column of the comparison -------------------------------------------------------------------

# okcore.explorer's names of the estimators it measures
_EXPLORER_NAMES = {"uoro": "UORO", "kf": "KF", "kf-avg": "KF-avg", "ok": "OK"}


def measure_noise(
    ns: Sequence[int] = (32, 128),
    ranks: Sequence[int] = (2, 8),
    *,
    methods: Sequence[str] = METHODS,
    T: int = 50,
    n_samples: int = 64,
    seed: int = 0,
    cell_type: str = "gated",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Relative variance E‖G̃_t − G_t‖²/‖G_t‖², averaged over t = 1..T, of each method at each size: the
    measurement of notebook 09 (:func:`okcore.explorer.noise_curve`, W fixed). Returns the document that
    ``--noise --out`` writes; its rows have method, rank, n and rel_var. Exact RTRL has none by construction
    (rel_var 0); methods the explorer does not measure are listed under ``not_measured``."""
    from okcore import explorer

    started = time.perf_counter()
    for name in methods:
        _method(name)
    rows: list[dict[str, Any]] = []
    for n in ns:
        for method in methods:
            for rank in ranks if method in RANKED else [1]:
                if method == "exact":
                    value = 0.0
                elif method in _EXPLORER_NAMES:
                    curve = explorer.noise_curve(_EXPLORER_NAMES[method], rank, cell_type, n, T, n_samples, seed)
                    value = float(np.mean(curve))
                else:
                    continue
                rows.append({"method": method, "rank": rank, "n": n, "rel_var": value})
                if progress is not None:
                    progress(f"noise of {method} r={rank} n={n}: {value:.3g}")
    return {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": {
            "methods": list(methods),
            "n": list(ns),
            "ranks": list(ranks),
            "T": T,
            "n_samples": n_samples,
            "seed": seed,
            "cell": cell_type,
            "statistic": "mean over t = 1..T of E||G~_t - G_t||^2 / ||G_t||^2",
        },
        "versions": environment()["versions"],
        "not_measured": [m for m in methods if m != "exact" and m not in _EXPLORER_NAMES],
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }


# -- the comparison table -----------------------------------------------------------------------------------------


def comparison(
    times: dict[str, Any],
    noise: dict[str, Any] | None = None,
    sizes: Sequence[int] = (32, 128),
    ranks: Sequence[int] | None = None,
    batch: int = 1,
) -> list[dict[str, Any]]:
    """One entry per (method, rank) that the timings file holds at every size in ``sizes`` (with ``batch``), in
    the order of :data:`COUNTS`: label, method, rank, bias, and per size (dicts keyed by n) the noise (None
    where not measured), the median time per update and its quartiles (µs), the bytes held (estimate plus work
    buffers, :func:`held_bytes`); and the growth of time and memory. ``ranks`` keeps only those ranks of the
    ranked methods. A method added to :data:`COUNTS` and measured appears without other changes."""
    from okcore.plotting import method_style

    have = {(r["method"], r["rank"]) for r in times["rows"]}
    noise_of = {} if noise is None else {(r["method"], r["rank"], r["n"]): r["rel_var"] for r in noise["rows"]}
    entries = []
    for method, count in COUNTS.items():
        for rank in sorted(rk for m, rk in have if m == method):
            if method in RANKED and ranks is not None and rank not in ranks:
                continue
            try:
                rs = {n: row(times, method, n, rank, batch) for n in sizes}
            except ValueError:
                continue
            entries.append(
                {
                    "label": method_style(method, rank=rank if method in RANKED else None)["label"],
                    "method": method,
                    "rank": rank,
                    "bias": count.bias,
                    "noise": {n: noise_of.get((method, rank, n)) for n in sizes},
                    "time_us": {n: r["update_s"] * 1e6 for n, r in rs.items()},
                    "iqr_us": {n: (r["q1_s"] * 1e6, r["q3_s"] * 1e6) for n, r in rs.items()},
                    "held_bytes": {n: held_bytes(method, n, rank, batch=batch) for n in sizes},
                    "time": count.time,
                    "memory": count.memory,
                }
            )
    return entries


def format_comparison(entries: list[dict[str, Any]]) -> str:
    """The entries of :func:`comparison` as a text table: per size, noise, µs per update (median [quartiles]) and
    MB held; then the growth of time and memory."""
    if not entries:
        raise ValueError("entries: expected at least one row of the comparison, got none")
    sizes = list(entries[0]["time_us"])
    header = ["method", "bias"]
    for n in sizes:
        header += [f"noise n={n}", f"µs n={n} [IQR]", f"MB n={n}"]
    header += ["time ~", "memory ~"]
    lines = [header]
    for e in entries:
        cells = [e["label"], e["bias"]]
        for n in sizes:
            v = e["noise"][n]
            q1, q3 = e["iqr_us"][n]
            cells += [
                "not measured" if v is None else f"{v:.3g}",
                f"{e['time_us'][n]:.0f} [{q1:.0f}–{q3:.0f}]",
                f"{e['held_bytes'][n] / 1e6:.3g}",
            ]
        cells += [e["time"], e["memory"]]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    left = {0, 1, len(header) - 2, len(header) - 1}
    out = []
    for j, line in enumerate(lines):
        out.append(
            " | ".join(
                c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if j == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(x.rstrip() for x in out)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m okcore.costs",
        description="Time one update of each influence estimator over a grid (or, with --noise, measure their noise).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), metavar="NAME")
    p.add_argument("--n", nargs="+", type=int, default=[16, 32, 64, 128], help="hidden sizes")
    p.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4, 8], help="ranks of the ranked methods")
    p.add_argument("--batch", nargs="+", type=int, default=[1, 16], help="batch sizes")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds per row; the median is kept")
    p.add_argument("--min-time", type=float, default=0.02, help="seconds each timed round lasts at least")
    p.add_argument("--max-gb", type=float, default=2.0, help="skip exact RTRL where 2 buffers of G exceed this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: processor time of this process (robust on a busy machine), wall: elapsed time",
    )
    p.add_argument("--threads", type=int, default=1, help="BLAS threads")
    p.add_argument(
        "--max-load",
        type=float,
        default=None,
        help="before timing, wait until the 1-minute load average is below this (checked every 30 s)",
    )
    p.add_argument("--wait", type=float, default=1800.0, help="seconds to wait for --max-load before giving up")
    p.add_argument(
        "--noise",
        action="store_true",
        help="measure each method's relative variance (notebook 09's measure) at --n and --ranks instead of timing",
    )
    p.add_argument("--T", type=int, default=50, help="--noise: sequence length")
    p.add_argument("--samples", type=int, default=64, help="--noise: independent runs per estimator")
    args = p.parse_args(argv)
    for name in ("n", "ranks", "batch"):
        if min(getattr(args, name)) < 1:
            p.error(f"--{name.replace('_', '-')}: expected sizes >= 1, got {getattr(args, name)}")
    if args.repeats < 1 or args.min_time <= 0 or args.max_gb <= 0 or args.threads < 1:
        p.error("--repeats, --min-time, --max-gb and --threads: expected positive values")
    if args.T < 1 or args.samples < 2 or args.wait < 0:
        p.error(
            f"--T, --samples, --wait: expected T >= 1, samples >= 2, wait >= 0, got {args.T}, {args.samples}, "
            f"{args.wait}"
        )
    return args


def wait_for_quiet(max_load: float, wait: float, every: float = 30.0, say: Callable[[str], None] = print) -> bool:
    """Wait (up to ``wait`` seconds, checking every ``every``) until the 1-minute load average is below
    ``max_load``; True when it is, False when the time ran out (or the system reports no load)."""
    deadline = time.monotonic() + wait
    while True:
        load = _load()
        if load is None:
            return False
        if load < max_load:
            return True
        if time.monotonic() + every > deadline:
            return False
        say(f"load average {load:.2f} >= {max_load:g}: waiting {every:.0f} s")
        time.sleep(every)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    wanted = str(args.threads)
    if any(os.environ.get(var) != wanted for var in THREAD_VARS):
        # BLAS has read its thread count already (numpy is loaded): start again with the variables set.
        env = dict(os.environ, **{var: wanted for var in THREAD_VARS})
        cmd = [sys.executable, "-m", "okcore.costs", *(sys.argv[1:] if argv is None else argv)]
        os.execve(sys.executable, cmd, env)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if args.noise:
        doc = measure_noise(
            args.n, args.ranks, methods=args.methods, T=args.T, n_samples=args.samples, seed=args.seed, progress=say
        )
    else:
        if args.max_load is not None and not wait_for_quiet(args.max_load, args.wait, say=say):
            print(
                f"--max-load: expected the 1-minute load average below {args.max_load:g} within {args.wait:g} s, "
                f"it stayed at {_load()}; nothing measured",
                file=sys.stderr,
            )
            return 2
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
            progress=say,
        )
    doc = {"command": "python -m okcore.costs " + " ".join(sys.argv[1:] if argv is None else argv), **doc}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['rows'])} rows to {out} in {doc['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
