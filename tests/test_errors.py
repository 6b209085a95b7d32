"""Bad inputs raise a TypeError or ValueError whose message starts with the name of the offending argument."""

import numpy as np
import pytest

from okcore import ExactRTRL, GatedCell, Readout, Step, TanhCell, bptt, truncated_bptt, unroll

N_IN, N, N_OUT, T = 3, 4, 3, 4


@pytest.fixture
def cell(cell_cls, rng):
    return cell_cls(N_IN, N, rng)


@pytest.fixture
def readout(rng):
    return Readout(N, N_OUT, rng)


def _seq(rng, batch=None):
    lead = (T,) if batch is None else (T, batch)
    return rng.normal(size=lead + (N_IN,)), rng.integers(0, N_OUT, size=lead)


def _raises(exc, name):
    """pytest.raises for a message that begins with ``name:``."""
    return pytest.raises(exc, match=rf"^{name}: ")


# -- sizes -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"n_in": 0}, ValueError, "n_in"),
        ({"n_in": -2}, ValueError, "n_in"),
        ({"n_hidden": -1}, ValueError, "n_hidden"),
        ({"n_hidden": 0}, ValueError, "n_hidden"),
        ({"n_in": 2.5}, TypeError, "n_in"),
        ({"n_in": 3.0}, TypeError, "n_in"),
        ({"n_hidden": True}, TypeError, "n_hidden"),
        ({"n_hidden": "4"}, TypeError, "n_hidden"),
        ({"n_hidden": None}, TypeError, "n_hidden"),
        ({"scale": 0.0}, ValueError, "scale"),
        ({"scale": np.nan}, ValueError, "scale"),
        ({"scale": "1"}, TypeError, "scale"),
    ],
)
def test_cell_sizes(cell_cls, rng, kwargs, exc, name):
    args = {"n_in": N_IN, "n_hidden": N, "rng": rng} | kwargs
    with _raises(exc, name):
        cell_cls(**args)


def test_numpy_integers_are_sizes(cell_cls, rng):
    cell = cell_cls(np.int64(N_IN), np.int32(N), rng)
    assert (cell.n_in, cell.n_hidden) == (N_IN, N)
    assert ExactRTRL(cell, batch=np.int64(2)).batch == 2


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"n_hidden": 0}, ValueError, "n_hidden"),
        ({"n_out": -1}, ValueError, "n_out"),
        ({"n_out": 2.5}, TypeError, "n_out"),
        ({"n_out": True}, TypeError, "n_out"),
        ({"unit": "bit"}, ValueError, "unit"),
        ({"unit": "Nats"}, ValueError, "unit"),
        ({"unit": ["nats"]}, ValueError, "unit"),
        ({"unit": None}, ValueError, "unit"),
        ({"scale": -1.0}, ValueError, "scale"),
    ],
)
def test_readout_arguments(rng, kwargs, exc, name):
    args = {"n_hidden": N, "n_out": N_OUT, "rng": rng} | kwargs
    with _raises(exc, name):
        Readout(**args)


@pytest.mark.parametrize(
    ("batch", "exc"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError), ("2", TypeError)]
)
def test_batch_sizes(cell, batch, exc):
    with _raises(exc, "batch"):
        ExactRTRL(cell, batch=batch)
    with _raises(exc, "batch"):
        cell.initial_state(batch)


@pytest.mark.parametrize(
    ("truncation", "exc"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_truncation(cell, readout, rng, truncation, exc):
    xs, ys = _seq(rng)
    with _raises(exc, "truncation"):
        truncated_bptt(cell, readout, xs, ys, truncation)


# -- random generators ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_rng", [None, 1.5, "0", np.random.RandomState(0), np.random])
def test_rng_must_be_a_generator(cell_cls, bad_rng):
    with _raises(TypeError, "rng"):
        cell_cls(N_IN, N, bad_rng)
    with _raises(TypeError, "rng"):
        Readout(N, N_OUT, bad_rng)


# -- cell.step and cell.transition ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "h", "exc", "name"),
    [
        (np.zeros(N_IN + 1), np.zeros(N), ValueError, "x"),
        (np.zeros((2, N_IN - 1)), np.zeros((2, N)), ValueError, "x"),
        (np.zeros((1, 2, N_IN)), np.zeros(N), ValueError, "x"),
        (np.float64(1.0), np.zeros(N), ValueError, "x"),
        (np.zeros(N_IN), np.zeros(N + 1), ValueError, "h"),
        (np.zeros(N_IN), np.zeros((1, N)), ValueError, "h"),  # 1-D x needs 1-D h: no broadcasting
        (np.zeros((2, N_IN)), np.zeros(N), ValueError, "h"),
        (np.zeros((2, N_IN)), np.zeros((3, N)), ValueError, "h"),
        (np.zeros((0, N_IN)), np.zeros((0, N)), ValueError, "x"),  # an empty batch
        (np.array([0.0, np.nan, 0.0]), np.zeros(N), ValueError, "x"),
        (np.array([0.0, np.inf, 0.0]), np.zeros(N), ValueError, "x"),
        (np.zeros(N_IN), np.array([0.0, 0.0, np.nan, 0.0]), ValueError, "h"),
        (np.zeros(N_IN, dtype=bool), np.zeros(N), TypeError, "x"),
        (np.zeros(N_IN), np.zeros(N, dtype=bool), TypeError, "h"),
        (np.zeros(N_IN, dtype=complex), np.zeros(N), TypeError, "x"),
        (np.zeros(N_IN), np.zeros(N, dtype=complex), TypeError, "h"),
        (np.array(["a", "b", "c"]), np.zeros(N), TypeError, "x"),
        (["a", "b", "c"], np.zeros(N), TypeError, "x"),
        (np.zeros(N_IN), "abcd", TypeError, "h"),
        (np.zeros(N_IN), np.array([None] * N), TypeError, "h"),
    ],
)
def test_step_inputs(cell, x, h, exc, name):
    with _raises(exc, name):
        cell.step(x, h)


def test_step_accepts_lists_and_integers(cell):
    s = cell.step([1, 0, 0], [0, 0, 0, 0])
    assert s.h.dtype == np.float64 and s.h.shape == (N,)


def test_transition_inputs(cell):
    with _raises(ValueError, "z"):
        cell.transition(np.zeros((1, cell.k + 1)), np.zeros((1, N)))
    with _raises(ValueError, "z"):
        cell.transition(np.zeros(cell.k), np.zeros(N))
    with _raises(ValueError, "h_prev"):
        cell.transition(np.zeros((2, cell.k)), np.zeros((1, N)))


@pytest.mark.parametrize(
    ("value", "exc"),
    [
        ("shape", ValueError),
        ("transposed", ValueError),
        ("nan", ValueError),
        ("inf", ValueError),
        ("bool", TypeError),
        ("complex", TypeError),
        ("string", TypeError),
    ],
)
def test_weight_setters(cell, readout, value, exc):
    def bad(shape):
        return {
            "shape": np.zeros((shape[0] + 1, shape[1])),
            "transposed": np.zeros(shape[::-1]),
            "nan": np.full(shape, np.nan),
            "inf": np.full(shape, np.inf),
            "bool": np.zeros(shape, dtype=bool),
            "complex": np.zeros(shape, dtype=complex),
            "string": np.full(shape, "w"),
        }[value]

    W, W_out = cell.W.copy(), readout.W_out.copy()
    if value != "transposed" or cell.K != cell.k:  # (the gated cell's W is square here)
        with _raises(exc, "W"):
            cell.W = bad(W.shape)
    with _raises(exc, "W_out"):
        readout.W_out = bad(W_out.shape)
    np.testing.assert_array_equal(cell.W, W)  # a refused value leaves the weights as they were
    np.testing.assert_array_equal(readout.W_out, W_out)


# -- readout ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h", "y", "exc", "name"),
    [
        (np.zeros(N + 1), 0, ValueError, "h"),
        (np.zeros((2, N, 1)), [0, 0], ValueError, "h"),
        (np.full(N, np.nan), 0, ValueError, "h"),
        (np.zeros(N, dtype=bool), 0, TypeError, "h"),
        (np.zeros(N), N_OUT, ValueError, "y"),
        (np.zeros(N), -1, ValueError, "y"),
        (np.zeros((2, N)), [0, N_OUT + 3], ValueError, "y"),
        (np.zeros(N), 1.0, TypeError, "y"),
        (np.zeros(N), True, TypeError, "y"),
        (np.zeros(N), "1", TypeError, "y"),
        (np.zeros(N), [0], ValueError, "y"),  # one sequence takes one target
        (np.zeros((2, N)), 0, ValueError, "y"),  # a batch takes one target per row
        (np.zeros((2, N)), [0, 1, 2], ValueError, "y"),
        (np.zeros((0, N)), np.zeros(0, dtype=int), ValueError, "h"),  # an empty batch
    ],
)
def test_readout_inputs(readout, h, y, exc, name):
    with _raises(exc, name):
        readout.loss_and_grads(h, y)
    with _raises(exc, name):
        readout.loss(h, y)


# -- sequences: unroll, bptt, truncated_bptt -------------------------------------------------------------------


def _call_all(cell, readout, xs, ys, **kwargs):
    """The three sequence functions with the same arguments: each must raise the same error."""
    yield lambda: unroll(cell, readout, xs, ys, **kwargs)
    yield lambda: bptt(cell, readout, xs, ys, **kwargs)
    yield lambda: truncated_bptt(cell, readout, xs, ys, 2, **kwargs)


@pytest.mark.parametrize(
    ("case", "exc", "name"),
    [
        ("xs 1-D", ValueError, "xs"),
        ("xs 4-D", ValueError, "xs"),
        ("xs wrong n_in", ValueError, "xs"),
        ("xs empty", ValueError, "xs"),
        ("xs nan", ValueError, "xs"),
        ("xs bool", TypeError, "xs"),
        ("xs complex", TypeError, "xs"),
        ("ys wrong length", ValueError, "ys"),
        ("ys batched for unbatched xs", ValueError, "ys"),
        ("ys out of range", ValueError, "ys"),
        ("ys negative", ValueError, "ys"),
        ("ys float", TypeError, "ys"),
        ("ys bool", TypeError, "ys"),
        ("h0 wrong size", ValueError, "h0"),
        ("h0 batched for unbatched xs", ValueError, "h0"),
        ("h0 nan", ValueError, "h0"),
        ("resets wrong length", ValueError, "resets"),
        ("resets int", TypeError, "resets"),
        ("resets batched for unbatched xs", ValueError, "resets"),
    ],
)
def test_sequence_inputs_unbatched(cell, readout, rng, case, exc, name):
    xs, ys = _seq(rng)
    h0, resets = np.zeros(N), np.zeros(T, dtype=bool)
    if case == "xs 1-D":
        xs = xs[:, 0]
    elif case == "xs 4-D":
        xs = xs[:, None, None, :]
    elif case == "xs wrong n_in":
        xs = xs[:, :-1]
    elif case == "xs empty":
        xs, ys, resets = xs[:0], ys[:0], resets[:0]
    elif case == "xs nan":
        xs[1, 0] = np.nan
    elif case == "xs bool":
        xs = xs > 0
    elif case == "xs complex":
        xs = xs + 0j
    elif case == "ys wrong length":
        ys = ys[:-1]
    elif case == "ys batched for unbatched xs":
        ys = ys[:, None]
    elif case == "ys out of range":
        ys[2] = N_OUT
    elif case == "ys negative":
        ys[0] = -1
    elif case == "ys float":
        ys = ys.astype(float)
    elif case == "ys bool":
        ys = ys > 0
    elif case == "h0 wrong size":
        h0 = np.zeros(N + 1)
    elif case == "h0 batched for unbatched xs":
        h0 = np.zeros((1, N))
    elif case == "h0 nan":
        h0[0] = np.nan
    elif case == "resets wrong length":
        resets = resets[:-1]
    elif case == "resets int":
        resets = resets.astype(int)
    elif case == "resets batched for unbatched xs":
        resets = resets[:, None]
    for call in _call_all(cell, readout, xs, ys, h0=h0, resets=resets):
        with _raises(exc, name):
            call()


@pytest.mark.parametrize(
    ("case", "exc", "name"),
    [
        ("empty batch", ValueError, r"batch size \(xs.shape\[1\]\)"),
        ("ys unbatched", ValueError, "ys"),
        ("ys wrong batch", ValueError, "ys"),
        ("h0 unbatched", ValueError, "h0"),
        ("h0 wrong batch", ValueError, "h0"),
        ("resets unbatched", ValueError, "resets"),
        ("resets wrong batch", ValueError, "resets"),
    ],
)
def test_sequence_inputs_batched(cell, readout, rng, case, exc, name):
    B = 3
    xs, ys = _seq(rng, B)
    h0, resets = np.zeros((B, N)), np.zeros((T, B), dtype=bool)
    if case == "empty batch":
        xs, ys, h0, resets = xs[:, :0], ys[:, :0], h0[:0], resets[:, :0]
    elif case == "ys unbatched":
        ys = ys[:, 0]
    elif case == "ys wrong batch":
        ys = ys[:, :-1]
    elif case == "h0 unbatched":
        h0 = h0[0]
    elif case == "h0 wrong batch":
        h0 = np.zeros((B + 1, N))
    elif case == "resets unbatched":
        resets = resets[:, 0]
    elif case == "resets wrong batch":
        resets = np.zeros((T, B - 1), dtype=bool)
    for call in _call_all(cell, readout, xs, ys, h0=h0, resets=resets):
        with _raises(exc, name):
            call()


def test_cell_and_readout_must_match(cell, rng):
    xs, ys = _seq(rng)
    for call in _call_all(cell, Readout(N + 1, N_OUT, rng), xs, ys):
        with _raises(ValueError, "readout"):
            call()
    for call in _call_all(cell, "readout", xs, ys):
        with _raises(TypeError, "readout"):
            call()
    for call in _call_all(object(), Readout(N, N_OUT, rng), xs, ys):
        with _raises(TypeError, "cell"):
            call()


# -- estimators --------------------------------------------------------------------------------------------------


def test_estimator_needs_a_cell():
    with _raises(TypeError, "cell"):
        ExactRTRL("cell")


@pytest.mark.parametrize("differs_in", ["K", "n", "k"])
def test_update_with_a_step_of_another_cell(cell, rng, differs_in):
    if differs_in == "K":
        other = type(cell)(N_IN + 1, N, rng)
    elif differs_in == "n":
        other = type(cell)(N_IN, N + 1, rng)
    else:  # same n and K, the other cell type: k = n instead of 2n or the reverse
        other = (GatedCell if isinstance(cell, TanhCell) else TanhCell)(N_IN, N, rng)
        assert (other.n_hidden, other.K) == (cell.n_hidden, cell.K) and other.k != cell.k
    est = ExactRTRL(cell, batch=2)
    with _raises(ValueError, "step"):
        est.update(other.step(np.zeros((2, other.n_in)), np.zeros((2, other.n_hidden))))


@pytest.mark.parametrize(("est_batch", "step_batch"), [(2, 3), (3, 2), (2, None), (1, 2)])
def test_update_with_a_step_of_another_batch_size(cell, est_batch, step_batch):
    est = ExactRTRL(cell, batch=est_batch)
    if step_batch is None:
        step = cell.step(np.zeros(N_IN), np.zeros(N))
    else:
        step = cell.step(np.zeros((step_batch, N_IN)), np.zeros((step_batch, N)))
    with _raises(ValueError, "step"):
        est.update(step)
    assert est.t == 0 and np.all(est.influence() == 0.0)


@pytest.mark.parametrize("bad", [None, "step", (1, 2, 3), np.zeros((2, 4))])
def test_update_with_a_non_step(cell, bad):
    with _raises(TypeError, "step"):
        ExactRTRL(cell).update(bad)


def test_update_with_a_step_like_tuple(cell):
    s = cell.step(np.zeros(N_IN), np.zeros(N))
    with _raises(TypeError, "step"):
        ExactRTRL(cell).update((s.x, s.h_prev, s.xhat, s.h, s.H, s.d))
    assert isinstance(s, Step)


@pytest.mark.parametrize(
    ("batch", "delta", "exc"),
    [
        (1, np.zeros(N + 1), ValueError),
        (1, np.zeros((2, N)), ValueError),
        (3, np.zeros(N), ValueError),  # a 1-D δ only for batch 1: no broadcasting over rows
        (3, np.zeros((2, N)), ValueError),
        (3, np.zeros((3, N, 1)), ValueError),
        (1, np.full(N, np.nan), ValueError),
        (1, np.zeros(N, dtype=bool), TypeError),
        (1, np.zeros(N, dtype=complex), TypeError),
        (1, "dL_dh", TypeError),
    ],
)
def test_gradient_inputs(cell, batch, delta, exc):
    with _raises(exc, "dL_dh"):
        ExactRTRL(cell, batch=batch).gradient(delta)


@pytest.mark.parametrize(
    ("mask", "exc"),
    [
        (np.zeros(2, dtype=bool), ValueError),
        (np.zeros((3, 1), dtype=bool), ValueError),
        (np.True_, ValueError),
        (np.zeros(3, dtype=int), TypeError),
        (np.array([1.0, 0.0, 1.0]), TypeError),
        ([0, 1, 2], TypeError),
        ("mask", TypeError),
    ],
)
def test_reset_mask(cell, mask, exc):
    with _raises(exc, "mask"):
        ExactRTRL(cell, batch=3).reset(mask)
