"""One online-training loop for every method: exact RTRL, UORO, KF, KF-avg, OK and truncated BPTT.

A *task* is any object with
- ``n_in``, ``n_out``, ``batch``;
- ``next() -> (x (B, n_in), y (B,) int, reset (B,) bool)``: one time step of B streams; where ``reset[b]`` is True
  a new sequence starts, so h and the influence estimate of row b are zeroed before the step;
- ``observe(loss_bits (B,))``: the step's loss per row, in bits (a curriculum may use it);
- ``log_fields() -> dict``: what each log record should say about the task (e.g. ``{"T": 7}``).

Online methods update the weights after every step (Adam, the W-gradient clipped by global norm, the readout's
gradient exact and unclipped, as in the paper). The influence estimate is *not* reset when W changes, so after
the first update even exact RTRL follows a gradient that mixes old and new weights.

``tbptt`` comes in two variants (``window``):

- ``"block"`` (the standard one): non-overlapping windows; run τ steps forward, backpropagate the window's losses
  through the window, update once, carry h on. One update per τ steps, at the cost of about one backward step
  per forward step.
- ``"sliding"``: update at every step, like the online methods, with the gradient of the current loss L_t
  backpropagated through the last τ steps (Williams and Peng's BPTT(τ, 1)): the truncated counterpart of RTRL's
  δ_t G_t, at τ backward steps per forward step.

Besides a name, ``method`` may be a *factory* ``factory(cell, batch, rng) -> estimator`` that builds any object
with the :class:`okcore.Estimator` interface (``reset(mask)``, ``update(step)``, ``gradient(dL_dh)``), so that an
estimator of one's own trains in the same loop. Its name (its ``name`` attribute, else ``__name__``) stands for
the method in the log and in run files.

Every log record carries ``cpu_s``: the processor time (``time.process_time``) the run has spent training so far,
leaving out evaluations and exact RTRL run alongside for cosines, so that methods can be compared at equal
compute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from okcore._checks import check_dtype, check_nonneg_int, check_positive_float, check_positive_int
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
    "ESTIMATORS",
    "RANKED",
    "CELLS",
    "WINDOWS",
    "AGREEMENT",
    "History",
    "TrainResult",
    "check_method",
    "method_name",
    "make_cell",
    "make_estimator",
    "seed_streams",
    "train",
]

Factory = Callable[[_Cell, int, np.random.Generator], Estimator]

# The estimators by method name: builder(cell, batch, rank, rng). Methods in RANKED take a rank.
ESTIMATORS: dict[str, Callable[[_Cell, int, int | None, np.random.Generator], Estimator]] = {
    "exact": lambda cell, batch, rank, rng: ExactRTRL(cell, batch=batch),
    "uoro": lambda cell, batch, rank, rng: UORO(cell, batch=batch, rng=rng),
    "kf": lambda cell, batch, rank, rng: KFRTRL(cell, batch=batch, rng=rng),
    "kf-avg": lambda cell, batch, rank, rng: KFAverage(cell, rank, batch=batch, rng=rng),
    "ok": lambda cell, batch, rank, rng: OK(cell, rank, batch=batch, rng=rng),
}
RANKED = frozenset({"kf-avg", "ok"})
METHODS = (*ESTIMATORS, "tbptt")
CELLS = ("gated", "tanh")
WINDOWS = ("block", "sliding")
DEFAULT_LR = 10**-3.5


def method_name(method: object) -> str:
    """The name a method goes by in logs and run files: the name itself, or a factory's ``name``/``__name__``."""
    if isinstance(method, str):
        return method
    name = getattr(method, "name", None) or getattr(method, "__name__", None) or type(method).__name__
    return str(name)


def check_method(method: object, rank: object = None, truncation: object = None) -> tuple[str, int | None, int | None]:
    """Validate a method name with its rank or truncation; returns (method, rank, truncation).

    A callable (a factory, see the module docstring) is accepted as it is and takes neither a rank nor a
    truncation: it builds its estimator itself.
    """
    if callable(method) and not isinstance(method, str):
        for name, value in (("rank", rank), ("truncation", truncation)):
            if value is not None:
                raise ValueError(f"{name}: a factory builds its own estimator and takes no {name}, got {value!r}")
        return method, None, None
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"method: expected one of {', '.join(METHODS)} or a factory(cell, batch, rng) -> Estimator, got {method!r}"
        )
    if method in RANKED:
        if rank is None:
            raise ValueError(f"rank: method {method!r} needs a rank (an integer >= 1), got none")
        rank = check_positive_int("rank", rank)
    elif rank is not None:
        raise ValueError(f"rank: only {', '.join(sorted(RANKED))} take a rank, got rank={rank!r} for {method!r}")
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


def make_cell(cell: str, n_in: int, hidden: int, rng: np.random.Generator, dtype: object = np.float64) -> _Cell:
    """A ``GatedCell`` or ``TanhCell`` by name."""
    if cell == "gated":
        return GatedCell(n_in, hidden, rng, dtype=dtype)
    if cell == "tanh":
        return TanhCell(n_in, hidden, rng, dtype=dtype)
    raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")


def make_estimator(
    method: str | Factory, cell: _Cell, batch: int, rank: int | None, rng: np.random.Generator
) -> Estimator:
    """The influence estimator of an online method (not ``tbptt``, which has none), or what a factory builds."""
    if callable(method) and not isinstance(method, str):
        est = method(cell, batch, rng)
        missing = [name for name in ("reset", "update", "gradient") if not callable(getattr(est, name, None))]
        if missing:
            raise TypeError(
                f"method: the factory {method_name(method)!r} returned {type(est).__name__}, which lacks "
                f"{', '.join(missing)}; expected an object with the Estimator interface (reset, update, gradient)"
            )
        return est
    if method not in ESTIMATORS:
        raise ValueError(f"method: expected one of {', '.join(ESTIMATORS)} for an estimator, got {method!r}")
    return ESTIMATORS[method](cell, batch, rank, rng)


@dataclass
class History:
    """What a run logged. ``records``: dicts with ``step`` (steps done), ``loss_bits`` (mean loss per step and row
    over the logging interval), ``cpu_s``, the task's fields, the means over the interval of what was compared
    with exact RTRL when it ran alongside (:data:`AGREEMENT`: ``cosine`` and the others), and whatever the
    evaluation returned. ``cosines``: every (step, cosine) measured; ``agreement``: every comparison, a dict with
    ``step`` and the fields of :data:`AGREEMENT` that apply."""

    records: list[dict] = field(default_factory=list)
    cosines: list[tuple[int, float]] = field(default_factory=list)
    agreement: list[dict] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        """One field over the records that have it, as a float array."""
        return np.array([r[name] for r in self.records if name in r], dtype=float)

    def steps(self, name: str = "loss_bits") -> np.ndarray:
        """The steps of the records that have field ``name``."""
        return np.array([r["step"] for r in self.records if name in r], dtype=int)


@dataclass
class TrainResult:
    """The trained model and its log. ``stopped`` is True when the run was interrupted (Ctrl-C).

    ``seconds``: wall-clock time of the run; ``cpu_seconds``: processor time spent training (the last record's
    ``cpu_s``: evaluations and exact RTRL run alongside for cosines left out).
    """

    cell: _Cell
    readout: Readout
    history: History
    steps_done: int
    seconds: float
    stopped: bool
    estimator: Estimator | None
    cpu_seconds: float = 0.0


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(np.vdot(a, b) / (na * nb)) if na > 0 and nb > 0 else float("nan")


# What a comparison with exact RTRL alongside records (all but rel_var about the W-gradient g of the step, or of
# the window for block tbptt, against the exact one g*):
AGREEMENT = {
    "cosine": "⟨g, g*⟩ / (‖g‖ ‖g*‖)",
    "grad_rel_err": "‖g − g*‖ / ‖g*‖",
    "norm_ratio": "‖g‖ / ‖g*‖",
    "rel_var": "mean over the batch rows of ‖G̃ − G‖²_F / ‖G‖²_F, the estimate of the influence against the exact "
    "one (for estimators with squared_error; the relative variance of okcore.noise, along the training trajectory)",
}


def _agreement(g: np.ndarray, g_exact: np.ndarray, estimator: object, exact: ExactRTRL | None) -> dict:
    """The fields of :data:`AGREEMENT` for one comparison (NaN where g* is zero)."""
    norm, norm_exact = float(np.linalg.norm(g)), float(np.linalg.norm(g_exact))
    out = {"cosine": _cosine(g, g_exact)}
    if norm_exact > 0:
        out["grad_rel_err"] = float(np.linalg.norm(g - g_exact)) / norm_exact
        out["norm_ratio"] = norm / norm_exact
    else:
        out["grad_rel_err"] = out["norm_ratio"] = float("nan")
    if exact is not None and callable(getattr(estimator, "squared_error", None)):
        G = exact._G
        sq = np.einsum("bapq,bapq->b", G, G, dtype=np.float64)
        err = estimator.squared_error(G)
        live = sq > 0
        out["rel_var"] = float(np.mean(err[live] / sq[live])) if live.any() else float("nan")
    return out


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
    method: str | Factory,
    *,
    steps: int,
    rank: int | None = None,
    truncation: int | None = None,
    window: str = "block",
    hidden: int = 32,
    cell: str = "gated",
    lr: float = DEFAULT_LR,
    clip: float = 1.0,
    seed: int = 0,
    dtype: object = "float64",
    log_every: int = 100,
    cosine_every: int = 0,
    evaluate: Callable[[_Cell, Readout], dict] | None = None,
    eval_every: int = 0,
    progress: bool = False,
) -> TrainResult:
    """Train a cell and a readout online on ``task`` for ``steps`` time steps.

    Args:
        task: see the module docstring.
        method: one of ``METHODS`` (``rank`` for ``kf-avg`` and ``ok``, ``truncation`` τ and ``window`` for
            ``tbptt``), or a factory ``factory(cell, batch, rng) -> estimator`` (see the module docstring).
        window: ``"block"`` or ``"sliding"``, the variant of ``tbptt`` (see the module docstring).
        hidden: n; cell: ``"gated"`` or ``"tanh"``.
        lr: Adam's learning rate; clip: the largest global norm of the W-gradient.
        seed: one integer from which the weights, the signs and nothing else are drawn (the task has its own
            Generator); see :func:`seed_streams`.
        dtype: ``"float64"`` (default) or ``"float32"``, for the cell, the readout, the estimator and the
            optimiser. The initial weights are the same numbers either way (drawn in float64, then rounded).
        log_every: steps per log record.
        cosine_every: if > 0, run exact RTRL alongside on the same trajectory and compare with it every
            ``cosine_every`` steps (see :data:`AGREEMENT`): the cosine, relative error and norm ratio of the
            method's W-gradient against the exact one (for block ``tbptt``: the window's gradient against the sum
            of exact per-step gradients over the window), and for estimators the relative variance of the
            influence estimate.
        evaluate, eval_every: if given, ``evaluate(cell, readout)`` is called every ``eval_every`` steps and at the
            end; the dict it returns is added to the log record of that step.
        progress: show a progress bar in a terminal or a notebook (see :mod:`okcore.train.progress`).

    Returns:
        A :class:`TrainResult`. Ctrl-C stops the run cleanly with ``stopped=True``.
    """
    _check_task(task)
    method, rank, truncation = check_method(method, rank, truncation)
    if window not in WINDOWS:
        raise ValueError(f"window: expected one of {', '.join(WINDOWS)}, got {window!r}")
    if window != "block" and method != "tbptt":
        raise ValueError(f"window: only 'tbptt' has window variants, got window={window!r} for {method_name(method)!r}")
    steps = check_positive_int("steps", steps)
    hidden = check_positive_int("hidden", hidden)
    lr = check_positive_float("lr", lr)
    clip = check_positive_float("clip", clip)
    dtype = check_dtype("dtype", dtype)
    log_every = check_positive_int("log_every", log_every)
    cosine_every = check_nonneg_int("cosine_every", cosine_every)
    eval_every = check_nonneg_int("eval_every", eval_every)
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")

    streams = seed_streams(seed)
    model = make_cell(cell, task.n_in, hidden, streams["weights"], dtype)
    readout = Readout(hidden, task.n_out, streams["weights"], unit="bits", dtype=dtype)
    B = task.batch
    estimator = None if method == "tbptt" else make_estimator(method, model, B, rank, streams["signs"])
    # okcore's estimators skip the argument checks on this hot path; others get the public method
    contract = None if estimator is None else getattr(estimator, "_gradient", estimator.gradient)
    exact = ExactRTRL(model, batch=B) if cosine_every else None
    adam = Adam([model.W, readout.W_out], lr)
    history = History()
    bar = Progress(steps) if progress else None
    sliding = method == "tbptt" and window == "sliding"

    h = np.zeros((B, hidden), dtype=dtype)
    done = 0
    interval_loss, interval_n, interval_cmp = 0.0, 0, []
    window_steps: list = []  # tbptt: (step, dL_dh, reset, dW_out) of the current window, or of the last τ steps
    window_exact = None
    stopped = False
    start = time.perf_counter()
    cpu_start = time.process_time()
    cpu_aside = 0.0  # processor time of evaluations and of exact RTRL alongside, left out of cpu_s

    def cpu_now() -> float:
        return time.process_time() - cpu_start - cpu_aside

    logged_cpu = (-1, 0.0)  # (step, processor time) of the last record

    def log(step: int, extra: dict | None = None) -> None:
        nonlocal interval_loss, interval_n, interval_cmp, logged_cpu
        record = {"step": step, "loss_bits": round(interval_loss / max(interval_n, 1), 6), **task.log_fields()}
        logged_cpu = (step, cpu_now())
        record["cpu_s"] = round(logged_cpu[1], 3)
        for key in AGREEMENT:
            values = [c[key] for c in interval_cmp if key in c]
            if values:
                record[key] = round(float(np.mean(values)), 6)
        if extra:
            record.update(extra)
        history.records.append(record)
        interval_loss, interval_n, interval_cmp = 0.0, 0, []

    def compare(step_done: int, g: np.ndarray, g_exact: np.ndarray, with_influence: bool) -> None:
        nonlocal cpu_aside
        c0 = time.process_time()
        found = _agreement(g, g_exact, estimator, exact if with_influence else None)
        cpu_aside += time.process_time() - c0
        interval_cmp.append(found)
        history.cosines.append((step_done, found["cosine"]))
        history.agreement.append({"step": step_done, **found})

    try:
        for t in range(steps):
            x, y, reset = task.next()
            if reset.any():
                h[reset] = 0.0
                if estimator is not None:
                    estimator.reset(reset)
                if exact is not None:
                    exact.reset(reset)
            step = model._step(x.astype(dtype, copy=False), h)
            losses, dL_dh, dW_out = _readout_grads(readout, step.h, y)
            want_cosine = exact is not None and (t + 1) % cosine_every == 0
            exact_grad = None
            if exact is not None:
                c0 = time.process_time()
                exact.update(step)
                if want_cosine or (method == "tbptt" and not sliding):
                    exact_grad = exact._gradient(dL_dh)
                cpu_aside += time.process_time() - c0
            if estimator is not None:
                estimator.update(step)
                dW = contract(dL_dh)
                if want_cosine:
                    compare(t + 1, dW, exact_grad, True)
                (dW,), _ = clip_by_global_norm([dW], clip)
                adam.step([dW, dW_out])
            elif sliding:
                window_steps.append((step, reset))
                if len(window_steps) > truncation:
                    window_steps.pop(0)
                dW = _sliding_gradient(model, window_steps, dL_dh)
                if want_cosine:
                    compare(t + 1, dW, exact_grad, False)
                (dW,), _ = clip_by_global_norm([dW], clip)
                adam.step([dW, dW_out])
            else:
                window_steps.append((step, dL_dh, reset, dW_out))
                if exact_grad is not None:
                    window_exact = exact_grad if window_exact is None else window_exact + exact_grad
                if len(window_steps) == truncation or t + 1 == steps:
                    dW, dW_out_sum = _window_gradient(model, window_steps)
                    if window_exact is not None and any(
                        (s + 1) % cosine_every == 0 for s in range(t + 1 - len(window_steps), t + 1)
                    ):
                        compare(t + 1, dW, window_exact, False)
                    n_win = len(window_steps)
                    (dW,), _ = clip_by_global_norm([dW / n_win], clip)
                    adam.step([dW, dW_out_sum / n_win])
                    window_steps, window_exact = [], None
            task.observe(losses)
            h = step.h
            done = t + 1
            interval_loss += float(losses.mean())
            interval_n += 1
            extra = None
            if evaluate is not None and eval_every and done % eval_every == 0:
                c0 = time.process_time()
                extra = dict(evaluate(model, readout))
                cpu_aside += time.process_time() - c0
            if done % log_every == 0 or extra is not None:
                log(done, extra)
            if bar is not None:
                bar.show(done, history.records[-1] if history.records else None)
    except KeyboardInterrupt:
        stopped = True
    # a run whose last step was logged reports that record's time, so the two always agree
    cpu_seconds = logged_cpu[1] if logged_cpu[0] == done else cpu_now()
    need_eval = evaluate is not None and done > 0 and not (eval_every and done % eval_every == 0)
    c0 = time.process_time()
    extra = dict(evaluate(model, readout)) if need_eval else None
    cpu_aside += time.process_time() - c0
    if interval_n:
        log(done, extra)
    elif extra:
        history.records[-1].update(extra)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.show(done, history.records[-1] if history.records else None)
        bar.close("stopped" if stopped else "done")
    return TrainResult(model, readout, history, done, seconds, stopped, estimator, cpu_seconds)


def _sliding_gradient(model: _Cell, last: list, dL_dh: np.ndarray) -> np.ndarray:
    """The W-gradient of the current loss backpropagated through the last τ steps ``last`` ((step, reset) pairs,
    oldest first): Σ_s δ_s x̂_sᵀ D_s with δ_t = ∂L_t/∂h_t and δ_{s-1} = δ_s H_s, stopped at a reset."""
    dW = np.zeros_like(model.W)
    delta = dL_dh
    for i in range(len(last) - 1, -1, -1):
        step, reset = last[i]
        dW += _immediate_grad(step, delta)
        if i > 0:
            delta = _back_one(step, delta, reset)
    return dW


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
