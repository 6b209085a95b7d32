"""The cached runs of notebook 13 (``data/noise``): how much gradient noise learning tolerates, and the biased
approximations beside the unbiased ones. ``python -m okcore.experiments noise`` (or ``make data-noise``).

Every run is the copy task with the same settings (:data:`NOISE_SETTINGS`) and seeds (:data:`NOISE_SEEDS`):

- ``dose/``: exact RTRL plus controlled noise (``noisy-exact``): fresh noise at :data:`FRESH_LEVELS` of relative
  variance, noise carried through the recursion at :data:`CARRIED_LEVELS`, and a fixed bias of relative size
  :data:`BIASES` without noise. The runs of seed :data:`PROBE_SEED` also run exact RTRL alongside
  (``cosine_every``), to measure what each noise level does to the gradient.
- ``methods/``: exact RTRL, the unbiased estimators and the biased ones (:data:`NOISE_METHODS`), each with exact
  RTRL alongside (``cosine_every``) so that its log records the relative variance of its influence *along its own
  training trajectory* (for a biased estimator that is bias² plus variance).
- ``timing.json``: processor seconds per training step of every method at these settings, measured alone (no
  exact RTRL alongside, which slows the method it runs beside through the caches), for comparisons at equal time.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import okcore
from okcore._checks import check_positive_int, check_rng
from okcore.experiments.runner import RUNNERS, run_name
from okcore.tasks.copy import CopyTask
from okcore.train.loop import seed_streams, train
from okcore.train.results import data_path
from okcore.train.runs import copy_config, load_run, write_json

__all__ = [
    "NOISE_SETTINGS",
    "NOISE_SEEDS",
    "FRESH_LEVELS",
    "CARRIED_LEVELS",
    "BIASES",
    "PROBE_SEED",
    "NOISE_METHODS",
    "COSINE_EVERY",
    "TIMING_STEPS",
    "noise_runs",
    "dose_name",
    "method_key",
    "timed_methods",
    "measure_timing",
    "NoiseRuns",
    "load_noise_runs",
    "finals",
    "T_at_step",
    "training_rel_var",
    "training_mean",
    "mean_curve",
    "error_by_level",
    "curve_at",
    "equivalent_rel_var",
    "distance_to_curve",
]

NOISE_SETTINGS = {"hidden": 16, "batch": 16, "steps": 60_000, "log_every": 500}
NOISE_SEEDS = (0, 1, 2, 3, 4)
FRESH_LEVELS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
CARRIED_LEVELS = (1.0, 10.0, 100.0)
BIASES = (0.3, 1.0, 3.0)
PROBE_SEED = 0
COSINE_EVERY = 50
# (method, rank, truncation) of every method run beside the controlled noise
NOISE_METHODS: list[tuple[str, int | None, int | None]] = [
    ("exact", None, None),
    ("ok", 2, None),
    ("ok", 4, None),
    ("kf-avg", 4, None),
    ("kf", None, None),
    ("uoro", None, None),
    ("truncated-ok", 2, None),
    ("truncated-ok", 4, None),
    ("snap1", None, None),
    ("rflo", None, None),
    ("tbptt", None, 4),
]
TIMING_STEPS = 3000
TIMING_REPEATS = 3


def dose_name(options: dict, seed: int) -> str:
    """File name of a ``noisy-exact`` run: ``noisy-exact-fresh-v0.1-seed0.json``, ``noisy-exact-bias1-seed2.json``."""
    if options.get("bias"):
        return f"noisy-exact-bias{options['bias']:g}-seed{seed}.json"
    return f"noisy-exact-{options.get('noise', 'fresh')}-v{options['rel_var']:g}-seed{seed}.json"


def _dose_options() -> list[dict]:
    fresh = [{"rel_var": v, "noise": "fresh"} for v in FRESH_LEVELS]
    carried = [{"rel_var": v, "noise": "carried"} for v in CARRIED_LEVELS]
    biased = [{"rel_var": 0.0, "noise": "fresh", "bias": b} for b in BIASES]
    return fresh + carried + biased


def noise_runs() -> list[tuple[str, dict]]:
    """(relative path, config) of every run of the set, seed by seed (so that an early stop leaves whole seeds),
    the timing first."""
    runs: list[tuple[str, dict]] = [("timing.json", {"task": "noise-timing", **NOISE_SETTINGS})]
    for seed in NOISE_SEEDS:
        for method, rank, truncation in NOISE_METHODS:
            # exact against itself has nothing to measure, and truncated BPTT has no influence estimate
            cosine = 0 if method in ("exact", "tbptt") else COSINE_EVERY
            config = copy_config(
                method=method, rank=rank, truncation=truncation, seed=seed, cosine_every=cosine, **NOISE_SETTINGS
            )
            runs.append(("methods/" + run_name(config), config))
        for options in _dose_options():
            config = copy_config(
                method="noisy-exact",
                seed=seed,
                estimator_options=options,
                cosine_every=COSINE_EVERY if seed == PROBE_SEED else 0,
                **NOISE_SETTINGS,
            )
            runs.append(("dose/" + dose_name(options, seed), config))
    return runs


def method_key(method: str, rank: int | None = None, truncation: int | None = None) -> str:
    """``"ok-r2"``, ``"snap1"``, ``"tbptt-t4"``: how the timing file and the tables name a method."""
    return run_name({"method": method, "rank": rank, "truncation": truncation, "seed": 0})[: -len("-seed0.json")]


def timed_methods() -> list[tuple[str, str, int | None, int | None, dict | None]]:
    """(key, method, rank, truncation, estimator options) of every method whose time per step the set measures."""
    out: list[tuple[str, str, int | None, int | None, dict | None]] = [
        (method_key(m, r, t), m, r, t, None) for m, r, t in NOISE_METHODS
    ]
    for noise in ("fresh", "carried"):
        out.append((f"noisy-exact-{noise}", "noisy-exact", None, None, {"rel_var": 1.0, "noise": noise}))
    return out


def measure_timing(settings: dict, steps: int, repeats: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Processor seconds per training step of each of :func:`timed_methods` at ``settings`` (hidden, batch): the
    median over ``repeats`` runs of ``steps`` steps on the copy task (``train``'s ``cpu_seconds``, time.process_time),
    methods interleaved round by round so that a change of load touches all alike. Returns (medians, samples)."""
    methods = timed_methods()
    samples: dict[str, list[float]] = {key: [] for key, *_ in methods}
    for _ in range(repeats):
        for key, method, rank, truncation, options in methods:
            task = CopyTask(settings["batch"], seed_streams(0)["task"])
            result = train(
                task,
                method,
                rank=rank,
                truncation=truncation,
                steps=steps,
                hidden=settings["hidden"],
                log_every=steps,
                estimator_options=options,
            )
            samples[key].append(result.cpu_seconds / steps)
    return {key: float(np.median(v)) for key, v in samples.items()}, samples


def _timing(path: str, config: dict) -> tuple[float, dict]:
    t0 = time.process_time()
    per_step, samples = measure_timing(config, TIMING_STEPS, TIMING_REPEATS)
    record = {
        "config": {
            **config,
            "timing_steps": TIMING_STEPS,
            "repeats": TIMING_REPEATS,
            "okcore": okcore.__version__,
            "numpy": np.__version__,
        },
        "seconds_per_step": per_step,
        "samples": {key: [round(x, 9) for x in v] for key, v in samples.items()},
        "note": "processor time (time.process_time) per training step on the copy task, median of the repeats, "
        "without exact RTRL alongside; noisy-exact with rel_var 1",
    }
    write_json(path, record)
    return time.process_time() - t0, {k: round(v * 1e6, 1) for k, v in per_step.items()}


RUNNERS["noise-timing"] = _timing


# --- reading the set ------------------------------------------------------------------------------------------


@dataclass
class NoiseRuns:
    """The runs of the set, by what they vary. Each value is a list of run records (dicts with config, log and
    final), in seed order.

    Attributes:
        fresh, carried: rel_var -> runs of ``noisy-exact`` with that noise.
        bias: b -> runs of ``noisy-exact`` with bias b and no noise.
        methods: method key (:func:`method_key`, e.g. ``"ok-r2"``) -> runs.
        timing: the timing record (seconds per step by method key), or None if it is missing.
    """

    fresh: dict[float, list[dict]]
    carried: dict[float, list[dict]]
    bias: dict[float, list[dict]]
    methods: dict[str, list[dict]]
    timing: dict | None

    def label(self, key: str) -> str:
        """The workbook's label of method ``key`` (the one its figures use, e.g. ``"OK r=2"`` for ``"ok-r2"``)."""
        if key not in self.methods:
            raise ValueError(f"key: expected one of {sorted(self.methods)}, got {key!r}")
        from okcore.plotting import run_style

        return run_style(self.methods[key][0]["config"])["label"]

    def seconds_per_step(self, key: str) -> float:
        """Processor seconds per training step of method ``key``, measured alone (``timing.json``)."""
        if self.timing is None:
            raise ValueError("timing: the set's timing.json is missing; run python -m okcore.experiments noise")
        return float(self.timing["seconds_per_step"][key])


def load_noise_runs(folder: str | os.PathLike | None = None) -> NoiseRuns:
    """Every run file of the set in ``folder`` (default ``data/noise``), sorted into a :class:`NoiseRuns`.

    Raises ``ValueError`` if the folder holds no runs, or if two runs differ in a setting of
    :data:`NOISE_SETTINGS` (so that everything is compared on equal terms).
    """
    root = Path(folder) if folder is not None else data_path("noise")
    files = sorted(root.glob("methods/*.json")) + sorted(root.glob("dose/*.json"))
    if not files:
        raise ValueError(f"folder: expected the runs of the noise set in {str(root)!r}, found none")
    out = NoiseRuns({}, {}, {}, {}, None)
    for f in files:
        run = load_run(f)
        config = run["config"]
        wrong = {k: config.get(k) for k, v in NOISE_SETTINGS.items() if config.get(k) != v}
        if wrong:
            raise ValueError(f"folder: {f.name} has {wrong}, expected the set's settings {NOISE_SETTINGS}")
        options = config.get("estimator_options") or {}
        if config["method"] != "noisy-exact":
            key = method_key(config["method"], config.get("rank"), config.get("truncation"))
            out.methods.setdefault(key, []).append(run)
        elif options.get("bias"):
            out.bias.setdefault(float(options["bias"]), []).append(run)
        else:
            target = out.carried if options.get("noise") == "carried" else out.fresh
            target.setdefault(float(options["rel_var"]), []).append(run)
    for group in (out.fresh, out.carried, out.bias, out.methods):
        for runs in group.values():
            runs.sort(key=lambda r: r["config"]["seed"])
    timing = root / "timing.json"
    if timing.is_file():
        out.timing = json.loads(timing.read_text(encoding="utf-8"))
    return out


def finals(runs: list[dict], field: str = "T") -> np.ndarray:
    """The final value of ``field`` of each run, (n_runs,)."""
    return np.array([r["final"][field] for r in runs], dtype=float)


def T_at_step(run: dict, step: float) -> float:
    """The curriculum level T_ of ``run`` at its last log record at or before ``step`` (1 before the first)."""
    values = [rec["T"] for rec in run["log"] if rec["step"] <= step]
    return float(values[-1]) if values else 1.0


def training_rel_var(run: dict, field: str = "rel_var") -> np.ndarray:
    """The values of ``field`` (default ``rel_var``: ‖G̃ − G‖² / ‖G‖² against exact RTRL run alongside) over the
    run's log records, (n_records,); empty if the run did not measure it."""
    return np.array([rec[field] for rec in run["log"] if field in rec], dtype=float)


def training_mean(run: dict, field: str = "rel_var") -> float:
    """The mean of ``field`` over the run's log records (:func:`training_rel_var`); NaN if it was not measured."""
    values = training_rel_var(run, field)
    return float(values.mean()) if values.size else float("nan")


def mean_curve(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, mean T_): the curriculum level at each log step, averaged over ``runs`` (logged at the same steps)."""
    steps = [rec["step"] for rec in runs[0]["log"]]
    for r in runs[1:]:
        if [rec["step"] for rec in r["log"]] != steps:
            raise ValueError("runs: expected runs logged at the same steps")
    return np.array(steps), np.array([[rec["T"] for rec in r["log"]] for r in runs], dtype=float).mean(axis=0)


def error_by_level(runs: list[dict], field: str = "rel_var") -> tuple[np.ndarray, np.ndarray]:
    """(levels, mean error): the mean of the logged ``field`` over the records at each curriculum level T_ the runs
    passed through, pooled over ``runs`` (records without a positive value are skipped)."""
    pairs = [(rec["T"], rec[field]) for r in runs for rec in r["log"] if rec.get(field, 0) > 0]
    levels = sorted({T for T, _ in pairs})
    return np.array(levels), np.array([np.mean([e for T, e in pairs if T == level]) for level in levels])


def curve_at(v: float, levels: object, T_means: object, T_zero: float) -> float:
    """A dose-response curve (``T_means`` at the relative variances ``levels``, increasing) at ``v``, interpolated
    linearly in log10 v; ``T_zero`` (no noise) for v <= 0, and between 0 and the smallest level."""
    if v <= 0:
        return float(T_zero)
    x = np.log10(np.asarray(levels, dtype=float))
    return float(np.interp(np.log10(v), x, np.asarray(T_means, dtype=float), left=T_zero))


def equivalent_rel_var(T: float, levels: object, T_means: object) -> float:
    """The relative variance at which a falling dose-response curve reaches the level ``T`` (the inverse of
    :func:`curve_at`, interpolated in log10 v; clamped to the curve's first and last levels)."""
    x = np.log10(np.asarray(levels, dtype=float))
    y = np.asarray(T_means, dtype=float)
    if np.any(np.diff(y) > 0):
        raise ValueError(f"T_means: expected a curve that does not rise, got {y.tolist()}")
    return float(10 ** np.interp(T, y[::-1], x[::-1]))


def distance_to_curve(
    T_finals: object,
    v: float,
    levels: object,
    level_finals: object,
    zero_finals: object,
    resamples: int = 10_000,
    rng: np.random.Generator | int = 0,
) -> tuple[float, float, float]:
    """How far a method's mean final T_ lies above (+) or below (−) a dose-response curve at relative variance ``v``,
    with a percentile bootstrap interval (95 %) that resamples the method's seeds, each level's seeds and the
    no-noise runs' seeds independently.

    Args:
        T_finals: (N,) the method's final T_, one per seed.
        v: where on the curve (:func:`curve_at`, interpolated in log10 v).
        levels: (L,) the curve's relative variances, increasing; ``level_finals``: (L, M) their runs' final T_.
        zero_finals: (M0,) the final T_ without noise (exact RTRL), the curve's value below its first level.
        resamples, rng: number of bootstrap draws and their Generator or seed.

    Returns:
        (estimate, low, high).
    """
    est = np.asarray(T_finals, dtype=float)
    per_level = np.asarray(level_finals, dtype=float)
    zero = np.asarray(zero_finals, dtype=float)
    if est.ndim != 1 or zero.ndim != 1 or per_level.ndim != 2 or per_level.shape[0] != np.size(levels):
        raise ValueError(
            f"T_finals, level_finals, zero_finals: expected shapes (N,), (L={np.size(levels)}, M), (M0,), got "
            f"{est.shape}, {per_level.shape}, {zero.shape}"
        )
    resamples = check_positive_int("resamples", resamples)
    gen = check_rng("rng", rng)

    def boot(x: np.ndarray) -> np.ndarray:
        return x[..., gen.integers(0, x.shape[-1], size=(resamples, x.shape[-1]))].mean(axis=-1)

    est_b, curves_b, zero_b = boot(est), boot(per_level), boot(zero)  # (R,), (L, R), (R,)
    at = np.array([curve_at(v, levels, curves_b[:, i], zero_b[i]) for i in range(resamples)])
    low, high = np.quantile(est_b - at, [0.025, 0.975])
    estimate = est.mean() - curve_at(v, levels, per_level.mean(axis=1), zero.mean())
    return float(estimate), float(low), float(high)
