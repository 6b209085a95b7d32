"""Measuring the noise and the bias of influence estimators against exact RTRL, with W fixed.

The samples of an estimator run along the batch axis: one input sequence is fed to every row, so each row is an
independent run of the estimator on the same trajectory, and all rows advance with one vectorised update. The exact
influence G_t is computed alongside by :class:`~okcore.rtrl.ExactRTRL` on a single row.

The mean squared error splits into bias² and variance (:meth:`NoiseResult.split`): the unbiased estimators
(UORO, KF, KF-avg, OK; :func:`standard_estimators`) have only variance, the deterministic approximations
(truncated OK, SnAp-1, RFLO; :func:`biased_estimators`) only bias. :func:`diagonal_gradient_by_lag` splits the
gradient of SnAp-1 and RFLO by the length of the dependency it carries.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from okcore._checks import check_array, check_positive_int, check_rng
from okcore.approx import KFRTRL, OK, RFLO, UORO, KFAverage, SnAp1, TruncatedOK
from okcore.bptt import unroll
from okcore.cells import GatedCell, Step, _Cell
from okcore.estimator import Estimator
from okcore.readout import Readout
from okcore.rtrl import ExactRTRL

__all__ = [
    "NoiseResult",
    "biased_estimators",
    "broadcast_step",
    "diagonal_gradient_by_lag",
    "measure_noise",
    "relative_variance",
    "standard_estimators",
    "variance_table",
]


@dataclass(frozen=True)
class NoiseResult:
    """Noise of one or more estimators over time.

    Attributes:
        relative_variance: name -> (T,) the mean over samples of ‖G̃_t − G_t‖²_F / ‖G_t‖²_F.
        relative_bias2: name -> (T,) ‖mean of G̃_t − G_t‖²_F / ‖G_t‖²_F; for an unbiased estimator this is about
            relative_variance / n_samples.
        exact_norm2: (T,) ‖G_t‖²_F.
        n_samples: number of independent runs per estimator.
    """

    relative_variance: dict[str, np.ndarray]
    relative_bias2: dict[str, np.ndarray]
    exact_norm2: np.ndarray
    n_samples: int

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(bias², variance) of estimator ``name`` over time, (T,) each, relative to ‖G_t‖², that add up to its
        relative mean squared error ``relative_variance[name]`` = ‖E[G̃_t] − G_t‖² + E‖G̃_t − E[G̃_t]‖², all over
        ‖G_t‖².

        Both are estimated without the bias the finite number N of samples gives: with m the mean squared error
        and b the squared distance of the sample mean to G_t, the variance is (m − b) N / (N − 1) (the spread about
        the sample mean, corrected) and the bias² is b − variance / N (the sample mean's own noise taken off;
        clipped at 0). For a deterministic estimator (or N = 1) the variance is 0 and the bias² is m.
        """
        if name not in self.relative_variance:
            raise ValueError(f"name: expected one of {', '.join(self.relative_variance)}, got {name!r}")
        mse, b2 = self.relative_variance[name], self.relative_bias2[name]
        N = self.n_samples
        if N == 1:
            return mse.copy(), np.zeros_like(mse)
        var = np.maximum(mse - b2, 0.0) * N / (N - 1)
        return np.maximum(b2 - var / N, 0.0), var


def broadcast_step(step: Step, batch: int) -> Step:
    """The step of one sequence repeated over ``batch`` rows (read-only views, no copies)."""
    xhat, H, d = step.as_batch()
    if xhat.shape[0] != 1:
        raise ValueError(f"step: expected a step of a single sequence, got batch {xhat.shape[0]}")
    n = H.shape[1]
    return Step(
        x=np.broadcast_to(step.x.reshape(1, -1), (batch, step.x.shape[-1])),
        h_prev=np.broadcast_to(step.h_prev.reshape(1, n), (batch, n)),
        xhat=np.broadcast_to(xhat, (batch, xhat.shape[1])),
        h=np.broadcast_to(step.h.reshape(1, n), (batch, n)),
        H=np.broadcast_to(H, (batch, n, n)),
        d=np.broadcast_to(d, (batch, d.shape[1])),
    )


def _build(cell: _Cell, name: str, spec: object, n_samples: int, rng: np.random.Generator) -> Estimator:
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
        cls, kwargs = spec
    else:
        cls, kwargs = spec, {}
    if not (isinstance(cls, type) and issubclass(cls, Estimator)):
        raise TypeError(
            f"estimators[{name!r}]: expected an estimator class or (class, kwargs), got {type(spec).__name__}"
        )
    if cls is ExactRTRL or "rng" not in inspect.signature(cls).parameters:  # deterministic: no randomness to draw
        return cls(cell, batch=n_samples, **kwargs)
    return cls(cell, batch=n_samples, rng=rng, **kwargs)


def measure_noise(
    cell: _Cell,
    xs: object,
    estimators: Mapping[str, Any],
    n_samples: int,
    rng: np.random.Generator,
    h0: object | None = None,
) -> NoiseResult:
    """Relative variance and squared bias of several estimators over one input sequence, W fixed.

    Args:
        cell: the network (its W is not changed).
        xs: the input sequence, (T, n_in).
        estimators: name -> estimator class, or (class, kwargs) such as ``(OK, {"rank": 4})``.
        n_samples: independent runs per estimator (the batch size of each estimator).
        rng: the Generator every estimator draws its signs from (in the order of ``estimators``).
        h0: initial state, (n,); zeros by default.
    """
    if not isinstance(cell, _Cell):
        raise TypeError(f"cell: expected a TanhCell or GatedCell, got {type(cell).__name__}")
    xs_arr = check_array("xs", xs, (None, cell.n_in))
    if xs_arr.shape[0] < 1:
        raise ValueError(f"xs: expected at least one time step, got shape {xs_arr.shape}")
    n_samples = check_positive_int("n_samples", n_samples)
    rng = check_rng("rng", rng)
    if not isinstance(estimators, Mapping) or not estimators:
        raise TypeError("estimators: expected a non-empty mapping name -> class or (class, kwargs)")
    h = np.zeros(cell.n_hidden) if h0 is None else check_array("h0", h0, (cell.n_hidden,))

    runs = {name: _build(cell, name, spec, n_samples, rng) for name, spec in estimators.items()}
    exact = ExactRTRL(cell, batch=1)
    T = xs_arr.shape[0]
    rel_var = {name: np.empty(T) for name in runs}
    rel_bias2 = {name: np.empty(T) for name in runs}
    norm2 = np.empty(T)
    for t in range(T):
        step = cell.step(xs_arr[t], h)
        h = step.h
        exact.update(step)
        G = exact.influence()[0]
        norm2[t] = np.einsum("apq,apq->", G, G)
        scale = 1.0 / norm2[t] if norm2[t] > 0 else 0.0
        many = broadcast_step(step, n_samples)
        for name, est in runs.items():
            est.update(many)
            rel_var[name][t] = est.squared_error(G).mean() * scale
            rel_bias2[name][t] = np.sum((est.mean_influence() - G) ** 2) * scale
    return NoiseResult(rel_var, rel_bias2, norm2, n_samples)


def relative_variance(
    cell: _Cell,
    xs: object,
    estimator: type[Estimator],
    n_samples: int,
    rng: np.random.Generator,
    estimator_kwargs: Mapping[str, Any] | None = None,
    h0: object | None = None,
) -> np.ndarray:
    """E‖G̃_t − G_t‖²_F / ‖G_t‖²_F for t = 1..T, (T,), estimated from ``n_samples`` independent runs.

    ``estimator`` is a class such as ``OK``; ``estimator_kwargs`` its extra arguments (e.g. ``{"rank": 4}``).
    """
    spec = (estimator, dict(estimator_kwargs or {}))
    return measure_noise(cell, xs, {"estimator": spec}, n_samples, rng, h0).relative_variance["estimator"]


def standard_estimators(ranks: tuple[int, ...] = (2, 4, 8)) -> dict[str, Any]:
    """UORO, KF and, for each rank r, KF-avg(r) and OK(r), as a spec for :func:`measure_noise`."""
    specs: dict[str, Any] = {"UORO": UORO, "KF": KFRTRL}
    for r in ranks:
        specs[f"KF-avg r={r}"] = (KFAverage, {"rank": r})
        specs[f"OK r={r}"] = (OK, {"rank": r})
    return specs


def biased_estimators(ranks: tuple[int, ...] = (2, 4)) -> dict[str, Any]:
    """The deterministic, biased approximations as a spec for :func:`measure_noise`: truncated OK at each rank,
    SnAp-1 and RFLO (one sample each is enough: they have no variance)."""
    specs: dict[str, Any] = {f"truncated OK r={r}": (TruncatedOK, {"rank": r}) for r in ranks}
    specs["SnAp-1"] = SnAp1
    specs["RFLO"] = RFLO
    return specs


def variance_table(
    n_hidden: int = 16,
    T: int = 60,
    n_samples: int = 100,
    seed: int = 0,
    ranks: tuple[int, ...] = (2, 4, 8),
    times: tuple[int, ...] = (10, 30, 60),
    n_in: int = 4,
    scale: float = 0.3,
) -> dict[str, np.ndarray]:
    """Relative variance at the given times (1-based) of the standard estimators, W fixed.

    The network is a gated cell with W ~ N(0, scale²) driven by a random one-hot sequence, all drawn from
    ``np.random.default_rng(seed)``, which also supplies the estimators' signs. Returns name -> (len(times),).
    """
    times_arr = np.asarray(times)
    if times_arr.ndim != 1 or times_arr.size == 0 or times_arr.min() < 1 or times_arr.max() > T:
        raise ValueError(f"times: expected steps between 1 and T={T}, got {times}")
    rng = np.random.default_rng(seed)
    cell = GatedCell(n_in, n_hidden, rng, scale=scale)
    xs = np.eye(n_in)[rng.integers(0, n_in, size=T)]
    res = measure_noise(cell, xs, standard_estimators(ranks), n_samples, rng)
    return {name: curve[times_arr - 1] for name, curve in res.relative_variance.items()}


def diagonal_gradient_by_lag(
    cell: _Cell, readout: Readout, xs: object, ys: object, decay: str = "snap1", h0: object | None = None
) -> np.ndarray:
    """The W-gradient that SnAp-1 (``decay="snap1"``) or RFLO (``"rflo"``) accumulates over a sequence, split by
    lag like :func:`okcore.demos.truncation.gradient_by_lag`: an array (T, K, k) whose sum over the first axis is
    Σ_t δ_t · G̃_t of the estimator run online on the sequence with W fixed.

    Both keep only the entries G̃[q mod n, p, q] and propagate them with a per-unit factor λ_s (SnAp-1: the
    diagonal of H_s; RFLO: the leak diag(H_s − D_s W_hᵀ)), so their gradient is backpropagation through time
    whose backward pass multiplies δ by λ_s instead of H_s: the part of ∂L_t/∂W that reaches back ℓ steps is

        x̂_{t−ℓ}ᵀ (δ_t ⊙ λ_t ⊙ … ⊙ λ_{t−ℓ+1} on the columns' units) ⊙ d_{t−ℓ},

    summed over t. Comparing it lag by lag with the exact decomposition shows which dependency lengths the
    approximation keeps. Arguments as in :func:`okcore.bptt` (one sequence or a batch). Cost: O(T²) steps.
    """
    if decay not in ("snap1", "rflo"):
        raise ValueError(f"decay: expected 'snap1' or 'rflo', got {decay!r}")
    run = unroll(cell, readout, xs, ys, h0)
    n, blocks = cell.n_hidden, cell.k // cell.n_hidden
    Wh_diag = np.diagonal(cell._h_part(), axis1=1, axis2=2)  # (blocks, n)
    T = len(run.steps)
    out = np.zeros((T, cell.K, cell.k))
    for t in range(T):
        delta = run.dL_dh[t]  # (B, n)
        for s in range(t, -1, -1):
            step = run.steps[s]
            out[t - s] += step.xhat.T @ (np.tile(delta, (1, blocks)) * step.d)
            if s == 0:
                break
            lam = np.diagonal(step.H, axis1=1, axis2=2)
            if decay == "rflo":
                lam = lam - np.einsum("bja,ja->ba", step.d.reshape(-1, blocks, n), Wh_diag)
            delta = delta * lam
    return out
