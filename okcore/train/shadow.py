"""Estimators compared on one shared trajectory: exact RTRL trains, the others ride along.

Comparing each method's gradient with the exact one *on its own training run* mixes two things: how good the
estimator is, and where its own training went (a run that got further meets longer sequences and harder
gradients). Here exact RTRL alone drives the weights; every other estimator ("shadow") sees the same states,
the same weights and the same error signals δ_t, keeps its own estimate of G_t, and every ``every`` steps its
W-gradient is compared with the exact one (:data:`okcore.train.loop.AGREEMENT`: cosine, relative error, norm
ratio and, for estimators, the relative variance of the influence estimate). A shadow never changes the weights.

A shadow is a method name with its rank (``("ok", 2, None)``), a factory ``factory(cell, batch, rng)``, or
``("tbptt", None, τ)``: the gradient of the current loss L_t backpropagated through the last τ steps (the sliding
window's gradient, Williams and Peng's BPTT(τ, 1)), the truncated counterpart of δ_t G_t.

Use it as a method of :func:`okcore.train.train`::

    result = train(task, shared_trajectory({"ok-r2": ("ok", 2, None), "kf": ("kf", None, None)}, every=25), ...)
    result.estimator.agreement   # [{"step", "shadow", "cosine", "grad_rel_err", "norm_ratio", "rel_var"}, ...]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from okcore._checks import check_positive_int
from okcore.cells import Step, _Cell
from okcore.rtrl import ExactRTRL
from okcore.train.loop import AGREEMENT, _agreement, _sliding_gradient, check_method, make_estimator

__all__ = ["SharedTrajectory", "shared_trajectory", "bin_agreement"]

Spec = Sequence | Callable


class SharedTrajectory:
    """Exact RTRL with shadows: the :class:`okcore.Estimator` interface, whose gradient is exact RTRL's.

    Args:
        cell: the trained cell; batch: B.
        shadows: ``{name: spec}``; a spec is ``(method, rank, truncation)`` (``rank`` for ``ok`` and ``kf-avg``,
            ``truncation`` τ for ``tbptt``) or a factory ``factory(cell, batch, rng) -> Estimator``.
        every: compare every so many steps.
        rng: Generator from which each shadow gets its own independent stream of signs.

    Attributes:
        agreement: one dict per comparison: ``step``, ``shadow`` (its name) and the fields of ``AGREEMENT`` that
            apply (``rel_var`` for estimators with ``squared_error``, not for tbptt).
    """

    name = "exact"

    def __init__(
        self, cell: _Cell, batch: int, shadows: Mapping[str, Spec], every: int, rng: np.random.Generator
    ) -> None:
        if not isinstance(shadows, Mapping) or not shadows:
            raise ValueError(f"shadows: expected a non-empty dict {{name: spec}}, got {shadows!r}")
        self.every = check_positive_int("every", every)
        self.cell = cell
        self.batch = batch
        self.exact = ExactRTRL(cell, batch=batch)
        self.estimators: dict[str, object] = {}
        self.windows: dict[str, deque] = {}
        streams = rng.spawn(len(shadows))
        for (name, spec), stream in zip(shadows.items(), streams, strict=True):
            if callable(spec):
                self.estimators[name] = make_estimator(spec, cell, batch, None, stream)
                continue
            if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) != 3:
                raise ValueError(f"shadows[{name!r}]: expected (method, rank, truncation) or a factory, got {spec!r}")
            method, rank, truncation = check_method(*spec)
            if method == "exact":
                raise ValueError(f"shadows[{name!r}]: exact RTRL already drives the trajectory")
            if method == "tbptt":
                self.windows[name] = deque(maxlen=truncation)
            else:
                self.estimators[name] = make_estimator(method, cell, batch, rank, stream)
        self.agreement: list[dict] = []
        self.t = 0
        self._mask: np.ndarray | None = None

    def reset(self, mask: object | None = None) -> None:
        """Zero the estimates (all rows, or the rows where ``mask`` is True), exact and shadows alike."""
        self.exact.reset(mask)
        for est in self.estimators.values():
            est.reset(mask)
        rows = np.ones(self.batch, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        self._mask = rows if self._mask is None else self._mask | rows

    def update(self, step: Step) -> None:
        """Advance exact RTRL and every shadow by one step."""
        self.exact.update(step)
        for est in self.estimators.values():
            est.update(step)
        reset = self._mask if self._mask is not None else np.zeros(self.batch, dtype=bool)
        for window in self.windows.values():
            window.append((step, reset))
        self._mask = None
        self.t += 1

    def influence(self) -> np.ndarray:
        """Exact RTRL's influence, (B, n, K, k)."""
        return self.exact.influence()

    def gradient(self, dL_dh: np.ndarray) -> np.ndarray:
        """Exact RTRL's W-gradient (K, k); every ``every`` steps, each shadow's is compared with it first."""
        g = self.exact._gradient(dL_dh)
        if self.t % self.every == 0:
            for name, est in self.estimators.items():
                found = _agreement(est._gradient(dL_dh), g, est, self.exact)
                self.agreement.append({"step": self.t, "shadow": name, **found})
            for name, window in self.windows.items():
                found = _agreement(_sliding_gradient(self.cell, list(window), dL_dh), g, None, None)
                self.agreement.append({"step": self.t, "shadow": name, **found})
        return g

    _gradient = gradient


def shared_trajectory(shadows: Mapping[str, Spec], every: int) -> Callable[[_Cell, int, np.random.Generator], object]:
    """A factory for :func:`okcore.train.train`: exact RTRL trains, ``shadows`` ride along (see the module)."""
    shadows = dict(shadows)
    every = check_positive_int("every", every)

    def factory(cell: _Cell, batch: int, rng: np.random.Generator) -> SharedTrajectory:
        return SharedTrajectory(cell, batch, shadows, every, rng)

    factory.name = "exact"
    return factory


def bin_agreement(agreement: list[dict], steps: Sequence[int]) -> list[dict[str, dict[str, float]]]:
    """Means over consecutive bins: for each log step s (ascending), the comparisons with step in (previous s, s],
    as ``{shadow: {field: mean}}`` (fields of ``AGREEMENT``; NaNs ignored; a field with no finite value is left
    out)."""
    out, lo = [], 0
    for s in steps:
        inside = [a for a in agreement if lo < a["step"] <= s]
        by_shadow: dict[str, dict[str, float]] = {}
        for name in dict.fromkeys(a["shadow"] for a in inside):
            rows = [a for a in inside if a["shadow"] == name]
            means = {}
            for key in AGREEMENT:
                values = np.array([a[key] for a in rows if key in a], dtype=float)
                values = values[np.isfinite(values)]
                if values.size:
                    means[key] = round(float(values.mean()), 6)
            by_shadow[name] = means
        out.append(by_shadow)
        lo = s
    return out
