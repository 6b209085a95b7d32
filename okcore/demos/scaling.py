"""Memory and time of exact RTRL against the hidden size n: counted exactly, and measured.

For a cell with n_in inputs and n hidden units, K = n_in + n + 1 and k = n (tanh) or 2n (gated). Exact RTRL
stores the influence matrix G (B, n, K, k) and updates it by G ← H G + x̂ ⊗ D:

- memory of G: B·n·K·k floats = O(n³);
- arithmetic of one update: the batched product H G is 2·n·n·(K·k) flops per row (one multiply and one add per
  term), plus K·k additions for the non-zero entries of x̂ ⊗ D: O(n⁴).

The counts are exact for :class:`okcore.ExactRTRL`; the measurements (:func:`time_rtrl_update`,
:func:`measure_rtrl_memory`) are what a particular machine does with it.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence

import numpy as np

from okcore._checks import check_array, check_positive_int
from okcore.cells import GatedCell, TanhCell, _Cell
from okcore.rtrl import ExactRTRL

__all__ = [
    "CELLS",
    "make_cell",
    "rtrl_memory_bytes",
    "rtrl_update_flops",
    "loglog_slope",
    "time_rtrl_update",
    "measure_rtrl_memory",
]

CELLS: dict[str, type[_Cell]] = {"tanh": TanhCell, "gated": GatedCell}


def _cell_class(cell: str) -> type[_Cell]:
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell]


def _sizes(n_in: int, n_hidden: int, cell: str) -> tuple[int, int, int]:
    """(n, K, k) for a cell kind."""
    n_in = check_positive_int("n_in", n_in)
    n = check_positive_int("n_hidden", n_hidden)
    return n, n_in + n + 1, _cell_class(cell).n_blocks * n


def make_cell(n_in: int, n_hidden: int, cell: str, rng: np.random.Generator) -> _Cell:
    """A ``TanhCell`` (cell="tanh") or ``GatedCell`` (cell="gated") with default initial weights."""
    return _cell_class(cell)(n_in, n_hidden, rng)


def rtrl_memory_bytes(n_in: int, n_hidden: int, cell: str = "gated", batch: int = 1, itemsize: int = 8) -> int:
    """Bytes of one influence matrix G: batch·n·K·k·itemsize (8 for float64)."""
    n, K, k = _sizes(n_in, n_hidden, cell)
    return check_positive_int("batch", batch) * n * K * k * check_positive_int("itemsize", itemsize)


def rtrl_update_flops(n_in: int, n_hidden: int, cell: str = "gated", batch: int = 1) -> int:
    """Floating-point operations of one exact RTRL update: batch·(2·n²·K·k + K·k)."""
    n, K, k = _sizes(n_in, n_hidden, cell)
    return check_positive_int("batch", batch) * (2 * n * n * K * k + K * k)


def loglog_slope(x: object, y: object) -> float:
    """Least-squares slope of log y against log x: the exponent p of a fit y ≈ c·x^p."""
    xa = check_array("x", x, (None,))
    ya = check_array("y", y, (xa.size,))
    if xa.size < 2:
        raise ValueError(f"x: expected at least two points to fit a slope, got {xa.size}")
    if np.any(xa <= 0) or np.any(ya <= 0):
        raise ValueError("x, y: expected positive values (their logarithms are fitted)")
    lx, ly = np.log(xa), np.log(ya)
    lx0 = lx - lx.mean()
    return float(lx0 @ (ly - ly.mean()) / (lx0 @ lx0))


def time_rtrl_update(
    ns: Sequence[int],
    n_in: int = 4,
    cell: str = "gated",
    batch: int = 1,
    repeats: int = 9,
    warmup: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Wall-clock seconds of one ``ExactRTRL.update`` for each hidden size in ``ns``: the minimum over repeats.

    The minimum is the least disturbed measurement (other processes only ever add time); ``warmup`` untimed
    updates first touch every page of both buffers. The values depend on the machine, its BLAS and its load.
    """
    repeats = check_positive_int("repeats", repeats)
    rng = np.random.default_rng(seed)
    times = []
    for n in ns:
        c = make_cell(n_in, n, cell, rng)
        step = c.step(rng.standard_normal((batch, n_in)), 0.5 * np.tanh(rng.standard_normal((batch, n))))
        est = ExactRTRL(c, batch=batch)
        for _ in range(warmup):
            est.update(step)
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            est.update(step)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    return np.array(times)


def measure_rtrl_memory(n_in: int, n_hidden: int, cell: str = "gated", batch: int = 1, seed: int = 0) -> int:
    """Bytes still allocated (as traced by ``tracemalloc``) after building an ``ExactRTRL`` and updating it once.

    numpy reports its array buffers to ``tracemalloc``, so this counts the estimator's arrays: two buffers of
    the size of G (the update writes H G into the spare one and swaps), plus a few small objects.
    """
    rng = np.random.default_rng(seed)
    c = make_cell(n_in, n_hidden, cell, rng)
    step = c.step(rng.standard_normal((batch, n_in)), np.zeros((batch, c.n_hidden)))
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        est = ExactRTRL(c, batch=batch)
        est.update(step)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    del est
    return int(used)
