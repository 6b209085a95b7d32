"""Failures that explain themselves: overflow of an estimate, and what ``rng`` accepts."""

import numpy as np
import pytest

from okcore import KFRTRL, OK, UORO, ExactRTRL, GatedCell, KFAverage, Readout, TanhCell
from okcore.approx.kf import _KroneckerFactored
from okcore.lowrank import optimal_unbiased
from okcore.noise import relative_variance
from okcore.signs import RandomSigns, ReplaySigns, as_sign_source
from okcore.tasks import delayed_recall

# name -> factory(cell, batch, rng); the estimators and options an exploding network is run with
FACTORIES = {
    "ExactRTRL": lambda cell, batch, rng: ExactRTRL(cell, batch=batch),
    "UORO": lambda cell, batch, rng: UORO(cell, batch=batch, rng=rng),
    "UORO unbalanced": lambda cell, batch, rng: UORO(cell, batch=batch, rng=rng, balance=False),
    "KFRTRL": lambda cell, batch, rng: KFRTRL(cell, batch=batch, rng=rng),
    "KFRTRL unbalanced": lambda cell, batch, rng: KFRTRL(cell, batch=batch, rng=rng, balance=False),
    "KFAverage": lambda cell, batch, rng: KFAverage(cell, 3, batch=batch, rng=rng),
    "OK": lambda cell, batch, rng: OK(cell, 3, batch=batch, rng=rng),
    "OK qr": lambda cell, batch, rng: OK(cell, 3, batch=batch, rng=rng, basis="qr"),
    "OK code": lambda cell, batch, rng: OK(cell, 2, batch=batch, rng=rng, split="code"),
}


def exploding_cell() -> GatedCell:
    """A gated cell whose weights are 10 times the default scale: its influence grows like 10^(t/20) or so."""
    cell = GatedCell(4, 16, rng=0)
    cell.W = 10.0 * cell.W
    return cell


@pytest.mark.parametrize("name", list(FACTORIES))
def test_an_exploding_network_raises_a_floating_point_error(name):
    cell, B = exploding_cell(), 2
    est = FACTORIES[name](cell, B, 1)
    rng = np.random.default_rng(2)
    h = cell.initial_state(B)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), pytest.raises(FloatingPointError) as info:
        for _ in range(6000):
            step = cell.step(rng.standard_normal((B, 4)), h)
            h = step.h
            est.update(step)
    message = str(info.value)
    step_no = int(message.split("overflowed at update ")[1].split(" ")[0])
    # it grows to 1e308 within a few thousand steps; the check fires at or just before the overflow itself
    assert 1000 < step_no <= 6000
    assert step_no == est.t + 1
    assert message.startswith(type(est).__name__ + ": ")
    for words in ("exploding network", "W", "learning rate", "clip", "reset()", "‖H_t‖₂"):
        assert words in message


def test_the_error_names_the_batch_rows():
    """Row 1 of the estimate is set by hand just below the overflow; the next update overflows there only."""
    cell = GatedCell(4, 6, rng=0)
    est = KFRTRL(cell, batch=3, rng=0)
    h = cell.initial_state(3)
    step = cell.step(np.ones((3, 4)), h)
    est.update(step)
    u = est.u.copy()
    u[1] *= 1e200
    est.u = u
    A = est.A.copy()
    A[1] *= 1e200
    est.A = A
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match=r"in batch row 1:"):
        est.update(step)


def test_a_long_run_stays_finite(monkeypatch):
    """Every estimator with ordinary weights stays finite and bounded over a long run: the scales kept aside
    (UORO's γ, KF's λ) are folded back whenever they leave their range, and the balancing floors and OK's
    tolerances keep every estimate finite and bounded.

    What makes a run long enough: the network forgets within 100 steps (the product of 100 Jacobians H has norm
    below 1e-6, checked below), so a row's estimate depends only on its last few hundred steps and on the scales
    kept aside, the one state that could drift without bound. 10⁴ steps of 20 rows (independent signs) thus visit
    as many nearly independent states as 10⁵ steps of 2 rows, with a tenth of the updates, and every scale is
    folded back at least ten times (counted below). The bound is checked at the end of each of the ten periods, not
    only at the end. The steps are 1000 genuine consecutive steps of the cell, fed 10 times over (the estimators
    only see the sequence of x̂, H and D).
    """
    n, B, T, period = 8, 20, 10_000, 1000
    cell = GatedCell(3, n, rng=0)
    tokens = np.random.default_rng(5).integers(0, 3, size=(period, B))
    eye = np.eye(3)
    h = cell.initial_state(B)
    steps = []
    for t in range(period):
        step = cell.step(eye[tokens[t]], h)
        h = step.h
        steps.append(step)
    forget = np.broadcast_to(np.eye(n), (B, n, n))
    for step in steps[:100]:
        forget = step.H @ forget
    assert np.linalg.norm(forget, ord=2, axis=(1, 2)).max() < 1e-6

    folds = {"UORO": 0, "KF": 0}  # folds of a scale that had left its range

    def counting(cls, name, key, out_of_range):
        fold = getattr(cls, name)

        def wrapper(self):
            folds[key] += bool(out_of_range(self))
            fold(self)

        monkeypatch.setattr(cls, name, wrapper)

    counting(UORO, "_fold_gamma", "UORO", lambda e: e._scaled and np.abs(np.log10(e._gamma)).max() >= 100)

    def lambda_out_of_range(e):
        lam2, limit = e._lams[e._cur] ** 2, e._LAMBDA2_LIMIT
        return e._scaled and not (lam2.max() <= limit and lam2.min() >= 1.0 / limit)

    counting(_KroneckerFactored, "_fold_lambda", "KF", lambda_out_of_range)
    ests = [
        ExactRTRL(cell, batch=B),
        UORO(cell, batch=B, rng=1),
        KFRTRL(cell, batch=B, rng=2),
        KFAverage(cell, 2, batch=B, rng=3),
        OK(cell, 2, batch=B, rng=4),
    ]
    for p in range(T // period):
        for est in ests:
            for step in steps:
                est.update(step)
        exact = np.abs(ests[0].influence()).max()
        for est in ests:
            G = est.influence()
            assert np.all(np.isfinite(G)), (type(est).__name__, p)
            # an unbiased estimate of a bounded G: its size stays within a few orders of magnitude of G's
            assert np.abs(G).max() < 1e3 * max(exact, 1.0), (type(est).__name__, p)
    assert all(est.t == T for est in ests)
    assert folds["UORO"] >= 10 and folds["KF"] >= 2 * 10, folds  # KF and KF-avg


# -- rng -------------------------------------------------------------------------------------------------------


def test_cells_without_rng_name_the_public_class():
    for cls in (GatedCell, TanhCell):
        with pytest.raises(TypeError, match=rf"^rng: {cls.__name__} draws random numbers") as info:
            cls(4, 16)
        assert "_Cell" not in str(info.value)
    with pytest.raises(TypeError, match=r"^rng: Readout draws"):
        Readout(4, 3)
    cell = GatedCell(4, 16, rng=0)
    for cls in (UORO, KFRTRL):
        with pytest.raises(TypeError, match=rf"^rng: {cls.__name__} draws .* or a sign source"):
            cls(cell)
    for cls in (KFAverage, OK):
        with pytest.raises(TypeError, match=rf"^rng: {cls.__name__} draws"):
            cls(cell, 2)


@pytest.mark.parametrize("seed", [0, 7, np.int64(3)])
def test_an_integer_seed_means_default_rng_of_it(seed):
    """Every public function that takes ``rng`` reads an integer as np.random.default_rng(seed)."""

    def gen():
        return np.random.default_rng(seed)

    for cls in (GatedCell, TanhCell):
        assert np.array_equal(cls(3, 5, seed).W, cls(3, 5, gen()).W)
    assert np.array_equal(Readout(5, 2, rng=seed).W_out, Readout(5, 2, rng=gen()).W_out)
    assert np.array_equal(RandomSigns(seed).signs((4, 3)), RandomSigns(gen()).signs((4, 3)))
    P1, Q1 = optimal_unbiased([3.0, 2.0, 1.0], seed)
    P2, Q2 = optimal_unbiased([3.0, 2.0, 1.0], gen())
    assert np.array_equal(P1, P2) and np.array_equal(Q1, Q2)
    xs1, ys1 = delayed_recall(12, 2, 3, seed, batch=2)
    xs2, ys2 = delayed_recall(12, 2, 3, gen(), batch=2)
    assert np.array_equal(xs1, xs2) and np.array_equal(ys1, ys2)

    cell = GatedCell(3, 4, rng=1)
    xs = np.eye(3)[np.random.default_rng(2).integers(0, 3, size=6)]
    v1 = relative_variance(cell, xs, OK, 4, seed, {"rank": 2})
    v2 = relative_variance(cell, xs, OK, 4, gen(), {"rank": 2})
    assert np.array_equal(v1, v2)
    for make in (
        lambda r: UORO(cell, batch=2, rng=r),
        lambda r: KFRTRL(cell, batch=2, rng=r),
        lambda r: KFAverage(cell, 2, batch=2, rng=r),
        lambda r: OK(cell, 2, batch=2, rng=r),
    ):
        a, b = make(seed), make(gen())
        h = cell.initial_state(2)
        for t in range(4):
            step = cell.step(xs[t : t + 2], h)
            h = step.h
            a.update(step)
            b.update(step)
        assert np.array_equal(a.influence(), b.influence())


def test_seed_sequences_and_bit_generators_are_accepted():
    ss = np.random.SeedSequence(5)
    assert np.array_equal(GatedCell(3, 4, ss).W, GatedCell(3, 4, np.random.default_rng(5)).W)
    bg = np.random.PCG64(5)
    assert np.array_equal(GatedCell(3, 4, bg).W, GatedCell(3, 4, np.random.default_rng(5)).W)


def test_a_generator_is_used_as_it_is():
    rng = np.random.default_rng(0)
    assert as_sign_source(rng).rng is rng
    replay = ReplaySigns([np.ones((1, 4))])
    assert as_sign_source(replay) is replay


@pytest.mark.parametrize(("bad", "exc"), [(-1, ValueError), (True, TypeError), (2.0, TypeError), (None, TypeError)])
def test_bad_seeds(bad, exc):
    with pytest.raises(exc, match=r"^rng: "):
        GatedCell(3, 4, bad)
    with pytest.raises(exc, match=r"^rng: "):
        UORO(GatedCell(3, 4, 0), rng=bad)
