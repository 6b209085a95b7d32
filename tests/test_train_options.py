"""Training options beyond the method name: float32, a sliding TBPTT window, a factory method, processor time."""

from __future__ import annotations

import numpy as np
import pytest

import okcore
from okcore.approx import KFRTRL, OK, UORO, KFAverage
from okcore.bptt import _immediate_grad
from okcore.rtrl import ExactRTRL
from okcore.tasks import CopyTask
from okcore.train import check_method, seed_streams, train
from okcore.train import loop as loop_module
from okcore.train.cli import main
from okcore.train.runs import copy_config, load_run, run_copy, run_record

# --- float32 ------------------------------------------------------------------------------------------------------

ESTIMATORS = [
    (ExactRTRL, {}),
    (UORO, {}),
    (KFRTRL, {}),
    (KFAverage, {"rank": 3}),
    (OK, {"rank": 1}),
    (OK, {"rank": 3}),
    (OK, {"rank": 3, "split": "code"}),
    (OK, {"rank": 2, "basis": "qr"}),
]


def _run_estimator(cls, kw, dtype, cell_cls=okcore.GatedCell, steps=15):
    cell = cell_cls(4, 12, rng=0, dtype=dtype)
    est = cls(cell, batch=3, **kw) if cls is ExactRTRL else cls(cell, batch=3, rng=1, **kw)
    rng = np.random.default_rng(2)
    h = cell.initial_state(3)
    grad = np.zeros_like(cell.W)
    for _ in range(steps):
        step = cell.step(np.eye(4)[rng.integers(0, 4, 3)], h)
        est.update(step)
        h = step.h
        grad += est.gradient(h - 0.5)
    return est, grad


@pytest.mark.parametrize("cell_cls", [okcore.GatedCell, okcore.TanhCell])
@pytest.mark.parametrize("cls,kw", ESTIMATORS)
def test_float32_estimators_stay_float32_and_agree_with_float64(cls, kw, cell_cls):
    """With the same weights (rounded) and the same signs, a float32 estimator keeps its large arrays, its
    estimate and its gradient in float32, and its gradient after 15 steps is the float64 one to float32 precision
    (relative error a few times 1e-7; 1e-5 leaves room for the rounding to grow along the recursion)."""
    est32, g32 = _run_estimator(cls, kw, np.float32, cell_cls)
    _, g64 = _run_estimator(cls, kw, np.float64, cell_cls)
    assert est32.influence().dtype == np.float32
    assert g32.dtype == np.float32
    state = [name for name in ("_G", "u", "A", "_HA", "s", "theta") if hasattr(est32, name)]
    assert state and all(getattr(est32, name).dtype == np.float32 for name in state), state
    assert np.linalg.norm(g32 - g64) <= 1e-5 * np.linalg.norm(g64)


def test_cells_and_readout_take_a_dtype_and_convert_inputs():
    cell = okcore.GatedCell(3, 5, rng=0, dtype="float32")
    cell64 = okcore.GatedCell(3, 5, rng=0)
    assert cell.W.dtype == np.float32
    np.testing.assert_array_equal(cell.W, cell64.W.astype(np.float32))  # the same weights, rounded
    step = cell.step(np.ones(3), np.zeros(5))  # float64 inputs are converted
    assert all(a.dtype == np.float32 for a in (step.h, step.xhat, step.H, step.d))
    readout = okcore.Readout(5, 4, rng=0, dtype=np.float32)
    assert readout.W_out.dtype == np.float32 and readout.probabilities(step.h).dtype == np.float32
    cell.W = np.zeros((cell.K, cell.k))
    assert cell.W.dtype == np.float32
    with pytest.raises(ValueError, match="dtype: expected one of float64, float32, got str 'float16'"):
        okcore.TanhCell(3, 5, rng=0, dtype="float16")
    with pytest.raises(ValueError, match="dtype: expected one of"):
        okcore.Readout(5, 4, rng=0, dtype=int)


@pytest.mark.parametrize("method,kw", [("ok", {"rank": 2}), ("uoro", {}), ("tbptt", {"truncation": 4})])
def test_float32_training_follows_float64_training(method, kw):
    """The same run in float32 and float64: the float32 model's weights are float32 throughout, and after 200
    steps the loss curves agree to 1e-3 bits (rounding, amplified by Adam's normalised steps, stays small this
    early)."""

    def run(dtype):
        task = CopyTask(4, rng=seed_streams(3)["task"])
        return train(task, method, steps=200, hidden=8, seed=3, log_every=50, dtype=dtype, **kw)

    r32, r64 = run("float32"), run("float64")
    assert r32.cell.W.dtype == np.float32 and r32.readout.W_out.dtype == np.float32
    loss32, loss64 = r32.history.column("loss_bits"), r64.history.column("loss_bits")
    np.testing.assert_allclose(loss32, loss64, atol=1e-3)


def test_dtype_is_checked_and_recorded(tmp_path):
    task = CopyTask(2, rng=0)
    with pytest.raises(ValueError, match="dtype: expected one of float64, float32"):
        train(task, "kf", steps=5, dtype="half")
    config = copy_config(method="kf", steps=20, hidden=4, batch=2, log_every=10, dtype="float32")
    record = run_record(run_copy(config), config)
    assert record["config"]["dtype"] == "float32"


# --- the sliding TBPTT window ------------------------------------------------------------------------------------


def test_sliding_gradient_is_the_current_loss_backpropagated_tau_steps():
    """For fixed W, the sliding window's gradient at step t equals δ_t Σ_{s > t-τ} H_t ⋯ H_{s+1} F_s, computed
    another way: exact RTRL started from G = 0 at step t - τ + 1 on the same steps (and, for τ >= t, exact RTRL
    itself); with a reset inside the window, the sum stops at the reset."""
    rng = np.random.default_rng(0)
    B, T = 3, 9
    cell = okcore.GatedCell(4, 6, rng=rng)
    resets = np.zeros((T, B), dtype=bool)
    resets[5, 1] = True  # row 1 starts a new sequence at step 5
    h = cell.initial_state(B)
    steps = []
    for t in range(T):
        h[resets[t]] = 0.0
        step = cell.step(np.eye(4)[rng.integers(0, 4, B)], h)
        steps.append((step, resets[t]))
        h = step.h
    delta = rng.standard_normal((B, 6))
    for tau in (1, 3, 6, T + 2):
        window = steps[max(0, T - tau) :]
        got = loop_module._sliding_gradient(cell, window, delta)
        exact = ExactRTRL(cell, batch=B)
        for step, reset in window:
            exact.reset(reset)
            exact.update(step)
        np.testing.assert_allclose(got, exact.gradient(delta), rtol=1e-12, atol=1e-14)
    only_last = loop_module._sliding_gradient(cell, steps[-1:], delta)
    np.testing.assert_allclose(only_last, _immediate_grad(steps[-1][0], delta), rtol=1e-14)


def test_sliding_tbptt_trains_updates_every_step_and_is_checked():
    calls = []
    original = loop_module._sliding_gradient

    def spy(model, window, dL_dh):
        calls.append(len(window))
        return original(model, window, dL_dh)

    loop_module._sliding_gradient = spy
    try:
        result = train(CopyTask(2, rng=0), "tbptt", truncation=4, window="sliding", steps=10, hidden=5)
    finally:
        loop_module._sliding_gradient = original
    assert calls == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]  # an update at every step, through at most τ steps
    assert result.steps_done == 10
    with pytest.raises(ValueError, match="window: only 'tbptt' has window variants"):
        train(CopyTask(2, rng=0), "kf", window="sliding", steps=5)
    with pytest.raises(ValueError, match="window: expected one of block, sliding, got 'overlap'"):
        train(CopyTask(2, rng=0), "tbptt", truncation=4, window="overlap", steps=5)


def test_sliding_window_cosine_against_exact_is_one_when_tau_covers_the_sequences():
    """With τ longer than any sequence (resets stop both), the sliding gradient is exact RTRL's own, up to the
    drift of W within the window (exact RTRL carries G computed with older weights): cosines near 1."""
    result = train(
        CopyTask(2, rng=1), "tbptt", truncation=50, window="sliding", steps=60, hidden=5, cosine_every=5, lr=1e-6
    )
    cosines = np.array([c for _, c in result.history.cosines])
    assert cosines.size == 12 and np.all(cosines > 0.999999)


# --- a factory method ---------------------------------------------------------------------------------------------


class ScaledExact(ExactRTRL):
    """A user's estimator: exact RTRL's gradient times a fixed factor (biased on purpose)."""

    def __init__(self, cell, batch=1, factor=0.5):
        super().__init__(cell, batch)
        self.factor = factor

    def _gradient(self, delta):
        return self.factor * super()._gradient(delta)


def scaled_exact(cell, batch, rng):
    return ScaledExact(cell, batch, factor=0.5)


def test_train_accepts_a_factory_and_records_its_name(tmp_path):
    task = CopyTask(3, rng=seed_streams(0)["task"])
    result = train(task, scaled_exact, steps=30, hidden=5, seed=0, log_every=10)
    assert isinstance(result.estimator, ScaledExact) and result.steps_done == 30
    config = {"method": loop_module.method_name(scaled_exact), "steps": 30}
    assert config["method"] == "scaled_exact"
    record = run_record(result, config)
    assert record["config"]["method"] == "scaled_exact"
    # the factory's estimator changes training: with Adam, halving every W-gradient changes nothing but the
    # first steps' size relative to eps, so compare against a factor that flips the sign instead
    flipped = train(
        CopyTask(3, rng=seed_streams(0)["task"]),
        lambda cell, batch, rng: ScaledExact(cell, batch, factor=-1.0),
        steps=30,
        hidden=5,
        seed=0,
    )
    plain = train(CopyTask(3, rng=seed_streams(0)["task"]), "exact", steps=30, hidden=5, seed=0)
    assert not np.allclose(flipped.cell.W, plain.cell.W)


def test_a_named_factory_object_and_bad_factories():
    class Factory:
        name = "my-estimator"

        def __call__(self, cell, batch, rng):
            return KFRTRL(cell, batch=batch, rng=rng)

    assert loop_module.method_name(Factory()) == "my-estimator"
    assert check_method(Factory())[1:] == (None, None)
    with pytest.raises(ValueError, match="rank: a factory builds its own estimator"):
        check_method(scaled_exact, rank=2)
    with pytest.raises(TypeError, match="method: the factory 'bad' returned int, which lacks reset, update, gradient"):

        def bad(cell, batch, rng):
            return 3

        train(CopyTask(2, rng=0), bad, steps=3)


# --- processor time ------------------------------------------------------------------------------------------------


def test_records_carry_processor_time_without_evaluations():
    """cpu_s grows from record to record, and the processor time of evaluations is left out: an evaluation that
    burns 0.3 s of processor time three times does not show in a run whose training takes far less."""

    def busy(cell, readout):
        t0 = okcore.train.loop.time.process_time()
        while okcore.train.loop.time.process_time() - t0 < 0.3:
            pass
        return {"burnt": 1}

    result = train(CopyTask(2, rng=0), "kf", steps=30, hidden=4, log_every=10, evaluate=busy, eval_every=10)
    cpu = result.history.column("cpu_s")
    assert cpu.size == 3 and np.all(np.diff(cpu) >= 0)
    assert result.cpu_seconds < 0.3 and cpu[-1] == round(result.cpu_seconds, 3)


def test_cli_dtype_and_window(tmp_path, capsys):
    out = tmp_path / "r.json"
    args = ["copy", "--method", "tbptt", "--truncation", "3", "--window", "sliding", "--dtype", "float32"]
    assert main([*args, "--steps", "20", "--hidden", "4", "--batch", "2", "--out", str(out), "--quiet"]) == 0
    config = load_run(out)["config"]
    assert config["window"] == "sliding" and config["dtype"] == "float32"
    assert load_run(out)["final"]["cpu_seconds"] >= 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["copy", "--method", "kf", "--dtype", "float16", "--out", str(out)])
    assert exit_info.value.code == 2 and "--dtype" in capsys.readouterr().err


# --- comparisons with exact RTRL alongside ----------------------------------------------------------------------


def test_agreement_fields_by_hand():
    g_exact = np.array([[3.0, 0.0], [0.0, 4.0]])  # ‖g*‖ = 5
    g = np.array([[3.0, 0.0], [0.0, 0.0]])
    found = loop_module._agreement(g, g_exact, None, None)
    assert found["cosine"] == pytest.approx(3.0 / 5.0)
    assert found["grad_rel_err"] == pytest.approx(4.0 / 5.0)
    assert found["norm_ratio"] == pytest.approx(3.0 / 5.0)
    assert "rel_var" not in found
    zero = loop_module._agreement(g, np.zeros_like(g), None, None)
    assert np.isnan(zero["grad_rel_err"]) and np.isnan(zero["norm_ratio"]) and np.isnan(zero["cosine"])


def test_agreement_along_training():
    """Exact RTRL against itself agrees perfectly; KF's estimate has a positive relative variance, the same as
    okcore's squared_error gives for the estimator and exact G of the last step; tbptt has no influence."""
    kw = {"steps": 40, "hidden": 5, "log_every": 20, "cosine_every": 10}
    exact = train(CopyTask(2, rng=0), "exact", **kw)
    for found in exact.history.agreement:
        assert found["cosine"] == pytest.approx(1.0) and found["norm_ratio"] == pytest.approx(1.0)
        assert found["grad_rel_err"] < 1e-12 and found["rel_var"] < 1e-24
    assert [r["step"] for r in exact.history.agreement] == [10, 20, 30, 40]
    assert {"cosine", "grad_rel_err", "norm_ratio", "rel_var"} <= set(exact.history.records[-1])

    captured = {}
    original = loop_module._agreement

    def spy(g, g_exact, estimator, exact_est):
        found = original(g, g_exact, estimator, exact_est)
        if exact_est is not None:
            G = exact_est.influence()
            captured["direct"] = float(np.mean(estimator.squared_error(G) / np.einsum("bapq,bapq->b", G, G)))
            captured["found"] = found["rel_var"]
        return found

    loop_module._agreement = spy
    try:
        kf = train(CopyTask(2, rng=0), "kf", **kw)
    finally:
        loop_module._agreement = original
    assert 0 < kf.history.agreement[-1]["rel_var"] < np.inf
    assert captured["found"] == pytest.approx(captured["direct"], rel=1e-12)
    tb = train(CopyTask(2, rng=0), "tbptt", truncation=5, **kw)
    assert tb.history.agreement and all("rel_var" not in a for a in tb.history.agreement)
