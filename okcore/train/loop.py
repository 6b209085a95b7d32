"""One online-training loop for every method: exact RTRL, UORO, KF, KF-avg, OK and truncated BPTT.

A *task* is any object with
- ``n_in``, ``n_out``, ``batch``;
- ``next() -> (x (B, n_in), y (B,) int, reset (B,) bool)``: one time step of B streams; where ``reset[b]`` is True
  a new sequence starts, so h and the influence estimate of row b are zeroed before the step;
- ``observe(loss_bits (B,))``: the step's loss per row, in bits (a curriculum may use it);
- ``log_fields() -> dict``: what each log record should say about the task (e.g. ``{"T": 7}``).

Online methods update the weights after every step (Adam, the W-gradient clipped by global norm, the readout's
gradient exact and unclipped, as in the paper). The influence estimate is *not* reset when W changes, so after
the first update even exact RTRL follows a gradient that mixes old and new weights. ``tbptt`` uses the standard
non-overlapping windows: run τ steps forward, backpropagate through them, update once, carry h on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from okcore._checks import check_nonneg_int, check_positive_float, check_positive_int
from okcore.approx import KFRTRL, OK, UORO, KFAverage
from okcore.bptt import _back_one, _immediate_grad
from okcore.cells import GatedCell, TanhCell, _Cell
from okcore.estimator import Estimator
from okcore.optim import Adam, clip_by_global_norm
from okcore.readout import Readout
from okcore.rtrl import ExactRTRL
from okcore.train.progress import Progress

__all__ = [
    "METHODS",
    "CELLS",
    "History",
    "TrainResult",
    "check_method",
    "make_cell",
    "make_estimator",
    "seed_streams",
    "train",
]

METHODS = ("exact", "uoro", "kf", "kf-avg", "ok", "tbptt")
CELLS = ("gated", "tanh")
_RANKED = ("kf-avg", "ok")
DEFAULT_LR = 10**-3.5


def check_method(method: object, rank: object = None, truncation: object = None) -> tuple[str, int | None, int | None]:
    """Validate a method name with its rank or truncation; returns (method, rank, truncation)."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if method in _RANKED:
        if rank is None:
            raise ValueError(f"rank: method {method!r} needs a rank (an integer >= 1), got none")
        rank = check_positive_int("rank", rank)
    elif rank is not None:
        raise ValueError(f"rank: only {' and '.join(_RANKED)} take a rank, got rank={rank!r} for {method!r}")
    if method == "tbptt":
        if truncation is None:
            raise ValueError("truncation: method 'tbptt' needs a truncation (an integer >= 1), got none")
        truncation = check_positive_int("truncation", truncation)
    elif truncation is not None:
        raise ValueError(f"truncation: only 'tbptt' takes a truncation, got truncation={truncation!r} for {method!r}")
    return method, rank, truncation


def seed_streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Independent Generators for the initial weights, the estimator's signs and the task, from one seed."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(check_nonneg_int("seed", seed))
    weights, signs, task = ss.spawn(3)
    return {
        "weights": np.random.default_rng(weights),
        "signs": np.random.default_rng(signs),
        "task": np.random.default_rng(task),
    }


def make_cell(cell: str, n_in: int, hidden: int, rng: np.random.Generator) -> _Cell:
    """A ``GatedCell`` or ``TanhCell`` by name."""
    if cell == "gated":
        return GatedCell(n_in, hidden, rng)
    if cell == "tanh":
        return TanhCell(n_in, hidden, rng)
    raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")


def make_estimator(method: str, cell: _Cell, batch: int, rank: int | None, rng: np.random.Generator) -> Estimator:
    """The influence estimator of an online method (not ``tbptt``, which has none)."""
    if method == "exact":
        return ExactRTRL(cell, batch=batch)
    if method == "uoro":
        return UORO(cell, batch=batch, rng=rng)
    if method == "kf":
        return KFRTRL(cell, batch=batch, rng=rng)
    if method == "kf-avg":
        return KFAverage(cell, rank, batch=batch, rng=rng)
    if method == "ok":
        return OK(cell, rank, batch=batch, rng=rng)
    raise ValueError(f"method: expected one of {', '.join(METHODS[:-1])} for an estimator, got {method!r}")


@dataclass
class History:
    """What a run logged. ``records``: dicts with ``step`` (steps done), ``loss_bits`` (mean loss per step and row
    over the logging interval), the task's fields, ``cosine`` (mean gradient cosine with exact RTRL over the
    interval, when recorded) and whatever the evaluation returned. ``cosines``: every (step, cosine) measured."""

    records: list[dict] = field(default_factory=list)
    cosines: list[tuple[int, float]] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        """One field over the records that have it, as a float array."""
        return np.array([r[name] for r in self.records if name in r], dtype=float)

    def steps(self, name: str = "loss_bits") -> np.ndarray:
        """The steps of the records that have field ``name``."""
        return np.array([r["step"] for r in self.records if name in r], dtype=int)


@dataclass
class TrainResult:
    """The trained model and its log. ``stopped`` is True when the run was interrupted (Ctrl-C)."""

    cell: _Cell
    readout: Readout
    history: History
    steps_done: int
    seconds: float
    stopped: bool
    estimator: Estimator | None


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(np.vdot(a, b) / (na * nb)) if na > 0 and nb > 0 else float("nan")


def _readout_grads(readout: Readout, h: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row loss (B,) and the gradients of the batch-mean loss: dL/dh (B, n), dL/dW_out (n + 1, n_out)."""
    W_out = readout.W_out
    logits = h @ W_out[:-1] + W_out[-1]
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rows = np.arange(h.shape[0])
    unit = 1.0 / np.log(2.0)  # bits
    losses = -logp[rows, y] * unit
    dlogits = np.exp(logp)
    dlogits[rows, y] -= 1.0
    dlogits *= unit / h.shape[0]
    dW_out = np.empty_like(W_out)
    dW_out[:-1] = h.T @ dlogits
    dW_out[-1] = dlogits.sum(axis=0)
    return losses, dlogits @ W_out[:-1].T, dW_out


def _check_task(task: object) -> None:
    for name in ("n_in", "n_out", "batch", "next", "observe", "log_fields"):
        if not hasattr(task, name):
            raise TypeError(
                f"task: expected an object with n_in, n_out, batch, next, observe, log_fields; "
                f"{type(task).__name__} has no {name!r}"
            )


def train(
    task: object,
    method: str,
    *,
    steps: int,
    rank: int | None = None,
    truncation: int | None = None,
    hidden: int = 32,
    cell: str = "gated",
    lr: float = DEFAULT_LR,
    clip: float = 1.0,
    seed: int = 0,
    log_every: int = 100,
    cosine_every: int = 0,
    evaluate: Callable[[_Cell, Readout], dict] | None = None,
    eval_every: int = 0,
    progress: bool = False,
) -> TrainResult:
    """Train a cell and a readout online on ``task`` for ``steps`` time steps.

    Args:
        task: see the module docstring.
        method: one of ``METHODS``; ``rank`` for ``kf-avg`` and ``ok``, ``truncation`` τ for ``tbptt``.
        hidden: n; cell: ``"gated"`` or ``"tanh"``.
        lr: Adam's learning rate; clip: the largest global norm of the W-gradient.
        seed: one integer from which the weights, the signs and nothing else are drawn (the task has its own
            Generator); see :func:`seed_streams`.
        log_every: steps per log record.
        cosine_every: if > 0, run exact RTRL alongside on the same trajectory and record, every
            ``cosine_every`` steps, the cosine between the method's W-gradient and the exact one (for ``tbptt``:
            the window's gradient against the sum of exact per-step gradients over the window).
        evaluate, eval_every: if given, ``evaluate(cell, readout)`` is called every ``eval_every`` steps and at the
            end; the dict it returns is added to the log record of that step.
        progress: show a progress bar in a terminal or a notebook (see :mod:`okcore.train.progress`).

    Returns:
        A :class:`TrainResult`. Ctrl-C stops the run cleanly with ``stopped=True``.
    """
    _check_task(task)
    method, rank, truncation = check_method(method, rank, truncation)
    steps = check_positive_int("steps", steps)
    hidden = check_positive_int("hidden", hidden)
    lr = check_positive_float("lr", lr)
    clip = check_positive_float("clip", clip)
    log_every = check_positive_int("log_every", log_every)
    cosine_every = check_nonneg_int("cosine_every", cosine_every)
    eval_every = check_nonneg_int("eval_every", eval_every)
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")

    streams = seed_streams(seed)
    model = make_cell(cell, task.n_in, hidden, streams["weights"])
    readout = Readout(hidden, task.n_out, streams["weights"], unit="bits")
    B = task.batch
    estimator = None if method == "tbptt" else make_estimator(method, model, B, rank, streams["signs"])
    exact = ExactRTRL(model, batch=B) if cosine_every else None
    adam = Adam([model.W, readout.W_out], lr)
    history = History()
    bar = Progress(steps) if progress else None

    h = np.zeros((B, hidden))
    done = 0
    interval_loss, interval_n, interval_cos = 0.0, 0, []
    window: list = []  # tbptt: (step, dL_dh, reset) of the current window
    window_exact = None
    stopped = False
    start = time.perf_counter()

    def log(step: int, extra: dict | None = None) -> None:
        nonlocal interval_loss, interval_n, interval_cos
        record = {"step": step, "loss_bits": round(interval_loss / max(interval_n, 1), 6), **task.log_fields()}
        if interval_cos:
            record["cosine"] = round(float(np.mean(interval_cos)), 6)
        if extra:
            record.update(extra)
        history.records.append(record)
        interval_loss, interval_n, interval_cos = 0.0, 0, []

    try:
        for t in range(steps):
            x, y, reset = task.next()
            if reset.any():
                h[reset] = 0.0
                if estimator is not None:
                    estimator.reset(reset)
                if exact is not None:
                    exact.reset(reset)
            step = model._step(x, h)
            losses, dL_dh, dW_out = _readout_grads(readout, step.h, y)
            want_cosine = exact is not None and (t + 1) % cosine_every == 0
            if exact is not None:
                exact.update(step)
            if estimator is not None:
                estimator.update(step)
                dW = estimator._gradient(dL_dh)
                if want_cosine:
                    cos = _cosine(dW, exact._gradient(dL_dh))
                    interval_cos.append(cos)
                    history.cosines.append((t + 1, cos))
                (dW,), _ = clip_by_global_norm([dW], clip)
                adam.step([dW, dW_out])
            else:
                window.append((step, dL_dh, reset, dW_out))
                if exact is not None:
                    g = exact._gradient(dL_dh)
                    window_exact = g if window_exact is None else window_exact + g
                if len(window) == truncation or t + 1 == steps:
                    dW, dW_out_sum = _window_gradient(model, window)
                    if window_exact is not None and any(
                        (s + 1) % cosine_every == 0 for s in range(t + 1 - len(window), t + 1)
                    ):
                        cos = _cosine(dW, window_exact)
                        interval_cos.append(cos)
                        history.cosines.append((t + 1, cos))
                    n_win = len(window)
                    (dW,), _ = clip_by_global_norm([dW / n_win], clip)
                    adam.step([dW, dW_out_sum / n_win])
                    window, window_exact = [], None
            task.observe(losses)
            h = step.h
            done = t + 1
            interval_loss += float(losses.mean())
            interval_n += 1
            extra = None
            if evaluate is not None and eval_every and done % eval_every == 0:
                extra = dict(evaluate(model, readout))
            if done % log_every == 0 or extra is not None:
                log(done, extra)
            if bar is not None:
                bar.show(done, history.records[-1] if history.records else None)
    except KeyboardInterrupt:
        stopped = True
    need_eval = evaluate is not None and done > 0 and not (eval_every and done % eval_every == 0)
    extra = dict(evaluate(model, readout)) if need_eval else None
    if interval_n:
        log(done, extra)
    elif extra:
        history.records[-1].update(extra)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.show(done, history.records[-1] if history.records else None)
        bar.close("stopped" if stopped else "done")
    return TrainResult(model, readout, history, done, seconds, stopped, estimator)


def _window_gradient(model: _Cell, window: list) -> tuple[np.ndarray, np.ndarray]:
    """Backpropagate through one tbptt window: W-gradient and W_out-gradient summed over its steps."""
    dW = np.zeros_like(model.W)
    dW_out = np.zeros_like(window[0][3])
    delta = np.zeros_like(window[0][1])
    for i in range(len(window) - 1, -1, -1):
        step, dL_dh, _reset, dWo = window[i]
        delta = delta + dL_dh
        dW += _immediate_grad(step, delta)
        dW_out += dWo
        if i > 0:
            delta = _back_one(step, delta, window[i][2])
    return dW, dW_out
