"""The exercises of notebooks 00-03: every reference solution passes, typical wrong answers are rejected with
the message that names the mistake, and malformed answers fail quietly."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.demos.truncation import delayed_recall_problem
from okcore.exercises import check, registered, show_solution, solution

KEYS = ["00.1", "00.2", "00.3", "01.1", "01.2", "01.3", "02.1", "02.2", "03.1", "03.2", "03.3", "03.4"]


def verdict(key, answer, capsys):
    ok = check(key, answer)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_reference_solution_passes(key, capsys):
    ok, out = verdict(key, solution(key), capsys)
    assert ok is True and "correct" in out and "not yet" not in out


@pytest.mark.parametrize("key", KEYS)
def test_unanswered_and_malformed_answers_fail_quietly(key, capsys):
    ok, out = verdict(key, None, capsys)
    assert ok is False and "not answered" in out
    for junk in ("abc", 3.25, [1, 2], object(), lambda *args: None):
        ok, out = verdict(key, junk, capsys)
        assert ok is False and "not yet" in out


@pytest.mark.parametrize("key", KEYS)
def test_show_solution_prints_code(key, capsys):
    show_solution(key)
    assert "def " in capsys.readouterr().out


def test_keys_are_registered():
    for key in KEYS:
        solution(key)
    assert set(KEYS) <= set(registered())


# --- 00 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda n: n * n, "one more axis than W, not two"),
        (lambda n: 1, "not the size of W"),
        (lambda n: n + 1, "Compare the shapes"),
        (lambda n: "n", "should return a number"),
        (lambda n: None, "returned None"),
        (lambda: 3, "raised an error"),
        (32, "Give a function ratio(n)"),
    ],
)
def test_00_ratio_wrong_answers(wrong, message, capsys):
    ok, out = verdict("00.1", wrong, capsys)
    assert ok is False and message in out


@pytest.mark.parametrize(
    ("answer", "ok_expected", "message"),
    [
        (7.0, True, "6.977"),
        (6.6, True, "43 to 75"),
        (8, False, "does K = n_in + n + 1"),
        (16, False, "time of a step"),
        (0.5, False, "divide its size at n = 64"),
        (5.0, False, "Write the size of G"),
        (np.nan, False, "one number"),
    ],
)
def test_00_growth_prediction(answer, ok_expected, message, capsys):
    ok, out = verdict("00.2", answer, capsys)
    assert ok is ok_expected and message in out


def test_00_growth_range_contains_the_measured_factor():
    from okcore import ExactRTRL, GatedCell
    from okcore.exercises import nb00

    size = {n: ExactRTRL(GatedCell(nb00.N_IN, n, np.random.default_rng(0))).influence()[0].size for n in (32, 64)}
    low, high = nb00.GROWTH_RANGE
    assert low <= size[64] / size[32] <= high and np.isclose(size[64] / size[32], solution("00.2"))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda b: b, "Wrong sign"),
        (lambda b: 0 * b, "does not average out"),
        (lambda b: -0.1 * b, "does not depend on η"),
        (lambda b: b[:1], "same shape as b"),
        (lambda b: b**2, "Solve w = w − η(w + b)"),
        (lambda b: b @ np.ones((b.size + 1, 2)), "matrix product @ whose factors do not fit"),
    ],
)
def test_00_bias_fixed_point_wrong_answers(wrong, message, capsys):
    ok, out = verdict("00.3", wrong, capsys)
    assert ok is False and message in out


def test_00_bias_fixed_point_is_where_sgd_settles():
    b = np.array([0.5, -1.0, 0.25])
    w = np.zeros(3)
    for _ in range(2000):
        w = w - 0.05 * (w + b)
    assert np.allclose(w, solution("00.3")(b), atol=1e-12)


# --- 01 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (64 * np.log(2), "nats"),
        (32 * np.log2(5), "blank class never occurs"),
        (80.0, "surely blank"),
    ],
)
def test_01_memoryless_bits_wrong_values(wrong, message, capsys):
    ok, out = verdict("01.1", wrong, capsys)
    assert ok is False and message in out


def test_01_memoryless_bits_matches_the_notebook_problem():
    from okcore.exercises import nb01

    p = delayed_recall_problem()
    assert nb01._PROBLEM == {"T": p.T, "delay": p.delay, "n_symbols": p.cell.n_in}
    assert solution("01.1") == pytest.approx(32 * 2.0)


@pytest.mark.parametrize(
    ("answer", "ok_expected", "message"),
    [
        (("smooth", 36), True, "τ ≈ 36"),
        (("smooth", 25), True, "sound prediction"),
        (("smooth", 9), False, "too short"),
        (("smooth", 60), False, "more than enough"),
        (("sharp", 36), False, "does not drop at once"),
        (("sharp", 9), False, "too short"),
        (("steep", 36), False, '"sharp" or "smooth"'),
        (("smooth", "36"), False, "a number of steps"),
        (36, False, "Give a pair"),
    ],
)
def test_01_truncation_prediction(answer, ok_expected, message, capsys):
    ok, out = verdict("01.3", answer, capsys)
    assert ok is ok_expected and message in out


def test_01_truncation_range_contains_the_measured_value():
    from okcore.exercises import nb01

    kind, tau = solution("01.3")
    low, high = nb01.TAU_RANGE
    assert kind == "smooth" and low <= tau <= high


def _wrong_back_steps():
    def no_derivative(delta, h, W, n_in):
        return delta @ W[n_in : n_in + h.size].T

    def no_transpose(delta, h, W, n_in):
        return (delta * (1 - h**2)) @ W[n_in : n_in + h.size]

    def tanh_of_h(delta, h, W, n_in):
        return (delta * (1 - np.tanh(h) ** 2)) @ W[n_in : n_in + h.size].T

    def wrong_rows(delta, h, W, n_in):
        return (delta * (1 - h**2)) @ W[: h.size].T

    def wrong_shape(delta, h, W, n_in):
        return np.outer(delta, h)

    def float32(delta, h, W, n_in):
        W32 = W.astype(np.float32)
        return (delta * (1.0 - h**2)).astype(np.float32) @ W32[n_in : n_in + h.size].T

    def raises(delta, h, W, n_in):
        return delta @ W

    return [
        (no_derivative, "derivative of tanh is missing"),
        (no_transpose, "needs a transpose"),
        (tanh_of_h, "already tanh"),
        (wrong_rows, "Which rows of W"),
        (wrong_shape, "shape"),
        (float32, "float32 precision"),
        (raises, "raised an error in the line"),
    ]


@pytest.mark.parametrize(("wrong", "message"), _wrong_back_steps(), ids=lambda x: getattr(x, "__name__", ""))
def test_01_back_step_wrong_answers(wrong, message, capsys):
    ok, out = verdict("01.2", wrong, capsys)
    assert ok is False and message in out


# --- 02 -------------------------------------------------------------------------------------------------------


def _flat(G):
    return G.reshape(G.shape[0], -1)


def _wrong_rtrl_steps():
    def swapped_kron(G, H, xhat, D):
        return (H @ _flat(G) + np.kron(D, xhat[None])).reshape(G.shape)

    def xhat_as_column(G, H, xhat, D):
        return (H @ _flat(G) + np.kron(xhat[:, None], D).reshape(G.shape[0], -1)).reshape(G.shape)

    def column_kron_shape(G, H, xhat, D):
        return np.kron(xhat[:, None], D)

    def transposed_H(G, H, xhat, D):
        return (H.T @ _flat(G) + np.kron(xhat[None], D)).reshape(G.shape)

    def no_memory(G, H, xhat, D):
        return np.kron(xhat[None], D).reshape(G.shape)

    def no_immediate(G, H, xhat, D):
        return (H @ _flat(G)).reshape(G.shape)

    def no_H(G, H, xhat, D):
        return G + np.kron(xhat[None], D).reshape(G.shape)

    def minus(G, H, xhat, D):
        return (H @ _flat(G) - np.kron(xhat[None], D)).reshape(G.shape)

    def flat(G, H, xhat, D):
        return H @ _flat(G) + np.kron(xhat[None], D)

    def axes_swapped(G, H, xhat, D):
        return np.einsum("ab,bpq->paq", H, G) + np.einsum("p,aq->paq", xhat, D)

    def forgot_return(G, H, xhat, D):
        np.einsum("ab,bpq->apq", H, G) + np.einsum("p,aq->apq", xhat, D)

    def float32(G, H, xhat, D):
        G32, H32 = G.astype(np.float32), H.astype(np.float32)
        return np.einsum("ab,bpq->apq", H32, G32) + np.einsum("p,aq->apq", xhat, D).astype(np.float32)

    def broadcast_error(G, H, xhat, D):
        return np.einsum("ab,bpq->apq", H, G) + xhat[:, None] * D

    def matmul_error(G, H, xhat, D):
        return H @ G.reshape(G.shape[1], -1)

    def half_F(G, H, xhat, D):
        return (H @ _flat(G) + 0.5 * np.kron(xhat[None], D)).reshape(G.shape)

    def double_HG(G, H, xhat, D):
        return (2 * H @ _flat(G) + np.kron(xhat[None], D)).reshape(G.shape)

    def no_bias_entry(G, H, xhat, D):
        return (H @ _flat(G) + np.kron(np.r_[xhat[:-1], 0.0][None], D)).reshape(G.shape)

    def no_state_part(G, H, xhat, D):
        x = xhat.copy()
        x[len(xhat) - 1 - len(H) : -1] = 0.0
        return (H @ _flat(G) + np.kron(x[None], D)).reshape(G.shape)

    def matmul_3d(G, H, xhat, D):
        return H @ G + xhat[None, :, None] * D[:, None, :]

    def van_loan_layout(G, H, xhat, D):
        return (H @ _flat(G)).reshape(G.shape) + np.outer(xhat, D.reshape(-1)).reshape(G.shape)

    return [
        (half_F, "F_t enters with a factor 0.5"),
        (double_HG, "H_t G_{t-1} enters with a factor 2"),
        (no_bias_entry, "set to 0), which belongs to the constant 1 (the bias entry)"),
        (no_state_part, "set to 0), which belong to h_{t-1}"),
        (matmul_3d, "@ treats the first as a batch axis"),
        (van_loan_layout, "np.outer(x̂, D.reshape(-1))"),
        (swapped_kron, "factors of F are swapped"),
        (xhat_as_column, "K×1 column"),
        (column_kron_shape, "x̂ as a column"),
        (transposed_H, "H_t is transposed"),
        (no_memory, "H_t G_{t-1}, which carries the past, is missing"),
        (no_immediate, "F_t = x̂_t ⊗ D_t is missing"),
        (no_H, "multiplied by H_t first"),
        (minus, "sign"),
        (flat, "(n, K·k) layout"),
        (axes_swapped, "wrong order"),
        (forgot_return, "returned None"),
        (float32, "float32 precision"),
        (broadcast_error, "elementwise operation (+, -, *, /) on arrays of shapes"),
        (matmul_error, "matrix product @ whose factors do not fit"),
    ]


@pytest.mark.parametrize(("wrong", "message"), _wrong_rtrl_steps(), ids=lambda x: getattr(x, "__name__", ""))
def test_02_rtrl_step_wrong_answers(wrong, message, capsys):
    ok, out = verdict("02.1", wrong, capsys)
    assert ok is False and message in out


def test_02_rtrl_step_single_sequence_versions_pass(capsys):
    def with_einsum(G, H, xhat, D):
        return np.einsum("ab,bpq->apq", H, G) + np.einsum("p,aq->apq", xhat, D)

    def with_kron(G, H, xhat, D):
        return (H @ _flat(G) + np.kron(xhat[None, :], D)).reshape(G.shape)

    for answer in (with_einsum, with_kron):
        ok, out = verdict("02.1", answer, capsys)
        assert ok is True and "For one sequence" in out
    ok, out = verdict("02.1", solution("02.1"), capsys)
    assert ok is True and "works on a batch" in out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (256 * 307 * 256 * 8, "k = 2n"),
        (256 * 307 * 512, "number of entries"),
        (256 * 306 * 512 * 8, "constant 1"),
        (321.912832, "not megabytes"),
    ],
)
def test_02_bytes_wrong_values(wrong, message, capsys):
    ok, out = verdict("02.2", wrong, capsys)
    assert ok is False and message in out


# --- 03 -------------------------------------------------------------------------------------------------------


def test_03_immediate_influence_wrong_answers(capsys):
    from okcore.exercises.nb03 import exercise_step

    step = exercise_step()
    F = np.einsum("p,aq->apq", step.xhat, step.D)
    ok, out = verdict("03.1", F.transpose(1, 0, 2), capsys)
    assert not ok and "unit of h first" in out
    ok, out = verdict("03.1", np.einsum("p,aq->apq", step.x, step.D), capsys)
    assert not ok and "x̂" in out
    ok, out = verdict("03.1", np.einsum("p,aq->apq", step.xhat, step.H), capsys)
    assert not ok and "H_t" in out
    ok, out = verdict("03.1", 2 * F, capsys)
    assert not ok and "x̂[p] · D[a, q]" in out
    ok, out = verdict("03.1", F.astype(np.float32), capsys)
    assert not ok and "float32 precision" in out


def test_03_rearrangement_wrong_answers(capsys):
    ok, out = verdict("03.2", lambda G: G.transpose(1, 2, 0).reshape(G.shape[1], -1), capsys)
    assert not ok and "column by column" in out
    ok, out = verdict("03.2", lambda G: G.reshape(G.shape[1], -1), capsys)
    assert not ok and "axis order" in out
    ok, out = verdict("03.2", lambda G: G.reshape(-1), capsys)
    assert not ok and "shape" in out
    ok, out = verdict("03.2", lambda G: G.reshape(G.shape[0] + 1, -1), capsys)
    assert not ok and "a reshape that changes the number of entries" in out


@pytest.mark.parametrize(
    ("answer", "ok_expected", "message"),
    [
        (4, True, "sound prediction"),
        (6, True, "sound prediction"),
        (7, False, "fewer terms than there"),
        (12, False, "fewer terms than there"),
        (1, False, "two terms of similar size"),
        (4.0, False, "integer"),
    ],
)
def test_03_spectrum_rank_prediction(answer, ok_expected, message, capsys):
    ok, out = verdict("03.4", answer, capsys)
    assert ok is ok_expected and message in out


def test_03_spectrum_rank_range_contains_the_measured_value():
    from okcore.exercises import nb03

    low, high = nb03.RANK_RANGE
    assert low <= solution("03.4") <= high


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ((1, 1), "one such term per step"),
        ((5, 1), "what bounds its rank"),
        ((2, 4), "one row per hidden unit"),
        ((1, 2), "wrong order"),
    ],
)
def test_03_tiny_ranks_wrong_answers(wrong, message, capsys):
    ok, out = verdict("03.3", wrong, capsys)
    assert ok is False and message in out


def test_03_tiny_ranks_match_a_run():
    from okcore import ExactRTRL, GatedCell
    from okcore.demos.kronecker import rearrange
    from okcore.exercises import nb03

    rng = np.random.default_rng(0)
    cell = GatedCell(nb03.TINY_N_IN, 1, rng)
    est, h, ranks = ExactRTRL(cell), np.zeros(1), set()
    for _ in range(6):
        step = cell.step(rng.standard_normal(nb03.TINY_N_IN), h)
        est.update(step)
        h = step.h
        G = est.influence()[0]
        ranks.add((np.linalg.matrix_rank(rearrange(G)), np.linalg.matrix_rank(G.reshape(1, -1))))
    assert max(ranks) == solution("03.3")
