"""The memory a training run needs, counted before anything is allocated, and the memory the machine has free.

:func:`run_bytes` adds up the large arrays :func:`okcore.train.train` keeps at once: the influence estimate and the
estimator's work buffers (the counts of :mod:`okcore.costs`), the weights with their gradients and Adam's moments,
one step of the cell, and, for ``tbptt``, the steps of a window. Small arrays (vectors of length n, scalars) are
left out, so the count is a lower bound that is tight when the run is large, which is when it matters.
"""

from __future__ import annotations

import os
from pathlib import Path

from okcore import costs
from okcore.cells import GatedCell, TanhCell

__all__ = ["run_bytes", "available_bytes", "format_bytes"]

_BLOCKS = {"gated": GatedCell.n_blocks, "tanh": TanhCell.n_blocks}
_NO_LIMIT = 1 << 60  # cgroup "limits" at or above this mean none


def run_bytes(
    method: str,
    hidden: int,
    *,
    batch: int,
    n_in: int,
    n_out: int,
    rank: int | None = None,
    truncation: int | None = None,
    cell: str = "gated",
    cosine_every: int = 0,
    itemsize: int = 8,
) -> int:
    """Bytes of the large arrays of a training run (see the module docstring); ``itemsize`` 8 for float64.

    Arguments as for :func:`okcore.train.train`; ``n_in`` and ``n_out`` are the task's sizes.
    """
    n, B = hidden, batch
    K, k = n_in + n + 1, _BLOCKS[cell] * n
    # W and W_out, their gradients, the clipped gradient, Adam's two moments
    numbers = 5 * (K * k + (n + 1) * n_out)
    # a step (x, h_prev, h, x̂, H, d), two alive while the next is computed, and an H-sized temporary of the cell;
    # the readout's logits and dL/dh
    step = B * (n_in + 2 * n + K + n * n + k)
    numbers += 2 * step + B * n * n + 2 * B * (n_out + n)
    if method == "tbptt":
        # a window keeps each of its steps, with dL/dh and the readout's gradient
        numbers += (truncation or 1) * (step + B * n + (n + 1) * n_out)
    else:
        r = rank if method in costs.RANKED else 1
        # the estimate and the estimator's work buffers (counted in float64 numbers by okcore.costs)
        numbers += costs.held_bytes(method, n, r, n_in=n_in, cell=cell, batch=B) // 8
        if method == "uoro":
            numbers += B * K * k  # the rank-one term x̂ ⊗ ν D, made before it is added to θ̃
    if cosine_every:
        numbers += costs.held_bytes("exact", n, n_in=n_in, cell=cell, batch=B) // 8  # exact RTRL alongside
    return numbers * itemsize


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cgroup_free() -> int | None:
    """What a cgroup memory limit (v2, then v1) leaves free, or None when there is no limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(Path(limit_file)), _read_int(Path(usage_file))
        if limit is not None and limit < _NO_LIMIT:
            return max(limit - (usage or 0), 0)
    return None


def available_bytes() -> int | None:
    """Memory that can be allocated without swapping, in bytes, or None where the system does not say.

    Linux: ``MemAvailable`` of /proc/meminfo, capped by a cgroup limit; elsewhere psutil if it is installed,
    else ``os.sysconf``.
    """
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            import psutil

            free = int(psutil.virtual_memory().available)
        except Exception:  # not installed, or no answer on this system
            try:
                free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            except (AttributeError, ValueError, OSError):
                return None
    cap = _cgroup_free()
    return free if cap is None else min(free, cap)


def format_bytes(n: float) -> str:
    """``n`` bytes with a binary unit and 3 significant digits: ``"149 GiB"``, ``"512 B"``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.3g} {units[i]}" if i else f"{int(n)} B"
