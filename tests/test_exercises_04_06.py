"""The exercises of notebooks 04-06: every reference solution passes its checker, and typical wrong answers are
rejected with a message that says what is wrong."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from okcore.exercises import check, solution

KEYS = ["04.1", "04.2", "04.3", "04.4", "05.1", "05.2", "05.3"]


def _verdict(key, answer, capsys):
    capsys.readouterr()
    ok = check(key, answer)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_reference_solutions_pass(key, capsys):
    ok, out = _verdict(key, solution(key), capsys)
    assert ok is True and "correct" in out


@pytest.mark.parametrize("key", KEYS)
def test_unanswered_and_malformed(key, capsys):
    ok, out = _verdict(key, None, capsys)
    assert ok is False and "not answered" in out
    ok, out = _verdict(key, "nonsense", capsys)
    assert ok is False and "not yet" in out


# --- 04 ----------------------------------------------------------------------------------------------------


def test_04_1_wrong_answers(capsys):
    ok, out = _verdict("04.1", lambda signs: signs.T @ signs, capsys)
    assert not ok and "divide" in out
    ok, out = _verdict("04.1", lambda signs: np.eye(signs.shape[1]), capsys)
    assert not ok and "not I" in out
    ok, out = _verdict("04.1", lambda signs: signs @ signs.T / len(signs), capsys)
    assert not ok and "(N, N) matrix" in out
    ok, out = _verdict("04.1", lambda signs: np.eye(3), capsys)
    assert not ok and "expected an (n, n)" in out
    ok, out = _verdict("04.1", lambda signs: signs @ signs, capsys)
    assert not ok and "matrix product @" in out
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=5)))
    ok, out = _verdict("04.1", signs.T @ signs / 32, capsys)  # the matrix itself, not a function
    assert not ok and "Give a function moment(signs)" in out


def test_04_2_wrong_answers(capsys):
    ok, out = _verdict("04.2", lambda n: float(n), capsys)
    assert not ok and "squared mean" in out
    ok, out = _verdict("04.2", lambda n: 0.0, capsys)
    assert not ok and "not zero" in out
    ok, out = _verdict("04.2", lambda n: n - 2.0, capsys)
    assert not ok and "Expand" in out
    ok, _ = _verdict("04.2", 15, capsys)
    assert not ok


def test_04_3_wrong_answers(capsys):
    ref = solution("04.3")
    ok, out = _verdict("04.3", lambda a, b, c, n: 1 / ref(a, b, c, n), capsys)
    assert not ok and "Upside down" in out
    ok, out = _verdict("04.3", lambda a, b, c, n: ref(a, b, c, 1), capsys)
    assert not ok and "factor n" in out
    ok, out = _verdict("04.3", lambda a, b, c, n: ref(a, b, c, n) ** 2, capsys)
    assert not ok and "square root" in out


def _scales(s, theta, xhat, H, D, nu):
    Hs, nuF = H @ s, np.outer(xhat, nu @ D)
    return Hs, nuF, np.sqrt(np.linalg.norm(theta) / np.linalg.norm(Hs)), np.sqrt(np.linalg.norm(nuF) / np.sqrt(len(nu)))


def test_04_4_wrong_answers(capsys):
    ref = solution("04.4")

    def no_balancing(s, theta, xhat, H, D, nu):
        return H @ s + nu, theta + np.outer(xhat, nu @ D)

    ok, out = _verdict("04.4", no_balancing, capsys)
    assert not ok and "Unbiased" in out and "times the balanced minimum" in out

    def sign_error(s, theta, xhat, H, D, nu):
        Hs, nuF, rho0, rho1 = _scales(s, theta, xhat, H, D, nu)
        return rho0 * Hs + rho1 * nu, theta / rho0 - nuF / rho1

    ok, out = _verdict("04.4", sign_error, capsys)
    assert not ok and "sign error" in out

    def scale_error(s, theta, xhat, H, D, nu):
        Hs, nuF, rho0, rho1 = _scales(s, theta, xhat, H, D, nu)
        return rho0 * Hs + rho1 * nu, theta / rho0 + nuF * rho1

    ok, out = _verdict("04.4", scale_error, capsys)
    assert not ok and "Biased" in out and "multiply to 1" in out

    def without_H(s, theta, xhat, H, D, nu):
        return ref(s, theta, xhat, np.eye(len(s)), D, nu)

    ok, out = _verdict("04.4", without_H, capsys)
    assert not ok and "without H" in out

    def transposed(s, theta, xhat, H, D, nu):
        s_new, theta_new = ref(s, theta, xhat, H, D, nu)
        return s_new, theta_new.T

    ok, out = _verdict("04.4", transposed, capsys)
    assert not ok and "Shapes" in out

    def other_split(s, theta, xhat, H, D, nu):
        s_new, theta_new = ref(s, theta, xhat, H, D, nu)
        return 2 * s_new, theta_new / 2

    ok, out = _verdict("04.4", other_split, capsys)
    assert not ok and "times 2 (and θ̃' divided by it)" in out and "common scale" in out

    def opposite_signs(s, theta, xhat, H, D, nu):
        return ref(s, theta, xhat, H, D, -nu)

    ok, out = _verdict("04.4", opposite_signs, capsys)
    assert not ok and "okcore's for −ν" in out

    def sign_on_other_factor(s, theta, xhat, H, D, nu):
        s_new, theta_new = ref(s, theta, xhat, H, D, nu)
        return nu[0] * s_new, nu[0] * theta_new

    ok, out = _verdict("04.4", sign_on_other_factor, capsys)
    assert not ok and "a sign sits on the other factor" in out

    def float32(s, theta, xhat, H, D, nu):
        return tuple(a.astype(np.float32) for a in ref(s, theta, xhat, H, D, nu))

    ok, out = _verdict("04.4", float32, capsys)
    assert not ok and "float32 precision" in out and "Biased" not in out

    def D_times_nu(s, theta, xhat, H, D, nu):
        Hs, nuF, rho0, rho1 = _scales(s, theta, xhat, H, D, nu)
        return rho0 * Hs + rho1 * nu, theta / rho0 + np.outer(xhat, D @ nu) / rho1

    ok, out = _verdict("04.4", D_times_nu, capsys)
    assert not ok and "raised an error in the line" in out and "D @ nu" in out
    assert "matrix product @ whose factors do not fit" in out and "D shape (3, 6), nu shape (3,)" in out
    assert "matmul" not in out and "gufunc" not in out  # no raw numpy message

    def skeleton(s, theta, xhat, H, D, nu): ...

    ok, out = _verdict("04.4", skeleton, capsys)
    assert not ok and "returns None" in out


def test_04_4_names_the_part_that_is_wrong(capsys):
    """The mistakes whose message once only restated the update: each is named."""

    def update(s, theta, xhat, H, D, nu, Hs=None, nuF=None, s_term=None, r0=None, r1=None):
        Hs = H @ s if Hs is None else Hs
        nuF = np.outer(xhat, nu @ D) if nuF is None else nuF
        rho0 = np.sqrt(np.linalg.norm(theta) / np.linalg.norm(Hs)) if r0 is None else r0
        rho1 = np.sqrt(np.linalg.norm(nuF) / np.sqrt(len(nu))) if r1 is None else r1
        return rho0 * Hs + (rho1 * nu if s_term is None else s_term), theta / rho0 + nuF / rho1

    rng = np.random.default_rng()
    cases = [
        (lambda s, th, x, H, D, nu: update(s, th, x, H, D, nu, Hs=H.T @ s), "H_t is transposed"),
        (lambda s, th, x, H, D, nu: update(s, th, x, H, D, nu, Hs=s @ H), "H_t is transposed"),
        (lambda s, th, x, H, D, nu: update(s, th, x, H, D, nu, nuF=np.outer(x, D.sum(0))), "θ̃' does not depend on ν"),
        (lambda s, th, x, H, D, nu: update(s, th, x, H, D, nu, s_term=1.0), "ν is missing from s̃'"),
        (lambda s, th, x, H, D, nu: update(s, th, x, H, D, np.ones_like(nu)), "does not depend on the signs ν"),
        (
            lambda s, th, x, H, D, nu: update(s, th, x, H, D, rng.choice([-1.0, 1.0], size=len(nu))),
            "two calls with the same ν gave different results",
        ),
    ]
    for wrong, message in cases:
        ok, out = _verdict("04.4", wrong, capsys)
        assert not ok and message in out, out

    def swapped(s, theta, xhat, H, D, nu):
        Hs, nuF, rho0, rho1 = _scales(s, theta, xhat, H, D, nu)
        return rho1 * Hs + rho0 * nu, theta / rho0 + nuF / rho1

    ok, out = _verdict("04.4", swapped, capsys)
    assert not ok and re.search(r"is \S+ H s̃ θ̃ᵀ \+ \S+ F\. In each of the two products the scales must cancel", out)


# --- 05 ----------------------------------------------------------------------------------------------------


def test_05_1_wrong_answers(capsys):
    ref = solution("05.1")
    ok, out = _verdict("05.1", lambda a, b, c, d: 1 / ref(a, b, c, d), capsys)
    assert not ok and "Upside down" in out
    ok, out = _verdict("05.1", lambda a, b, c, d: ref(a, b, c, d) ** 2, capsys)
    assert not ok and "square root" in out
    ok, out = _verdict("05.1", lambda a, b, c, d: 1.0, capsys)
    assert not ok and "derivative" in out


def _p(u, A, xhat, H, D):
    HA = H @ A
    return HA, np.sqrt(np.linalg.norm(HA) / np.linalg.norm(u)), np.sqrt(np.linalg.norm(D) / np.linalg.norm(xhat))


def test_05_2_wrong_answers(capsys):
    ref = solution("05.2")

    def no_balancing(u, A, xhat, H, D, c1, c2):
        return c1 * u + c2 * xhat, c1 * (H @ A) + c2 * D

    ok, out = _verdict("05.2", no_balancing, capsys)
    assert not ok and "not balanced" in out and "times the balanced minimum" in out

    def inverted(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return c1 / p1 * u + c2 / p2 * xhat, (c1 * p1) * HA + (c2 * p2) * D

    ok, out = _verdict("05.2", inverted, capsys)
    assert not ok and "not balanced" in out

    def sign_error(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return c1 * p1 * u + c2 * p2 * xhat, (c1 / p1) * HA - (c2 / p2) * D

    ok, out = _verdict("05.2", sign_error, capsys)
    assert not ok and "sign error" in out

    def scale_error(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return c1 * p1 * u + c2 * p2 * xhat, (c1 / p1) * HA + (c2 * p2) * D

    ok, out = _verdict("05.2", scale_error, capsys)
    assert not ok and "must multiply to 1" in out

    def without_H(u, A, xhat, H, D, c1, c2):
        return ref(u, A, xhat, np.eye(len(H)), D, c1, c2)

    ok, out = _verdict("05.2", without_H, capsys)
    assert not ok and "without H" in out

    def same_sign(u, A, xhat, H, D, c1, c2):
        return ref(u, A, xhat, H, D, c1, c1)  # one sign for both terms: the cross terms do not cancel

    ok, out = _verdict("05.2", same_sign, capsys)
    assert not ok and "does not depend on c2 (is c1 used for both terms?)" in out

    ok, out = _verdict("05.2", lambda u, A, xhat, H, D, c1, c2: ref(u, A, xhat, H, D, c2, c2), capsys)
    assert not ok and "does not depend on c1 (is c2 used for both terms?)" in out

    def transposed(u, A, xhat, H, D, c1, c2):
        u_new, A_new = ref(u, A, xhat, H, D, c1, c2)
        return u_new, A_new.T

    ok, out = _verdict("05.2", transposed, capsys)
    assert not ok and "Shapes" in out

    def other_split(u, A, xhat, H, D, c1, c2):
        u_new, A_new = ref(u, A, xhat, H, D, c1, c2)
        return 3 * u_new, A_new / 3

    ok, out = _verdict("05.2", other_split, capsys)
    assert not ok and "times 3 (and A' divided by it)" in out and "common scale" in out

    def signs_on_the_other_factor(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return p1 * u + c1 * c2 * p2 * xhat, HA / p1 + c1 * c2 * D / p2  # the same products, signs moved

    ok, out = _verdict("05.2", signs_on_the_other_factor, capsys)
    assert not ok and "a sign sits on the other factor" in out and "use exactly" not in out

    def swapped_signs(u, A, xhat, H, D, c1, c2):
        return ref(u, A, xhat, H, D, c2, c1)

    ok, out = _verdict("05.2", swapped_signs, capsys)
    assert not ok and "a sign sits on the other factor" in out

    def float32(u, A, xhat, H, D, c1, c2):
        return tuple(a.astype(np.float32) for a in ref(u, A, xhat, H, D, c1, c2))

    ok, out = _verdict("05.2", float32, capsys)
    assert not ok and "float32 precision" in out and "Biased" not in out

    def H_transposed(u, A, xhat, H, D, c1, c2):
        return ref(u, A, xhat, H.T, D, c1, c2)

    ok, out = _verdict("05.2", H_transposed, capsys)
    assert not ok and "H_t is transposed" in out

    def signs_on_u_only(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return c1 * p1 * u + c2 * p2 * xhat, HA / p1 + D / p2

    ok, out = _verdict("05.2", signs_on_u_only, capsys)
    assert not ok and "the mean over the four sign pairs is 0" in out and "both factors of its term" in out

    def crossed(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return c1 * p1 * xhat + c2 * p2 * u, c1 / p1 * HA + c2 / p2 * D

    ok, out = _verdict("05.2", crossed, capsys)
    assert not ok and "x̂ ⊗ HA + u ⊗ D: the terms are paired the wrong way" in out

    def p_on_both(u, A, xhat, H, D, c1, c2):
        HA, p1, p2 = _p(u, A, xhat, H, D)
        return c1 * p1 * u + c2 * p2 * xhat, c1 * p1 * HA + c2 * p2 * D

    ok, out = _verdict("05.2", p_on_both, capsys)
    assert not ok and re.search(r"is \S+ u ⊗ HA \+ \S+ x̂ ⊗ D\. In each term the scales must cancel", out)

    rng = np.random.default_rng()

    def own_signs(u, A, xhat, H, D, c1, c2):
        return ref(u, A, xhat, H, D, *rng.choice([-1.0, 1.0], size=2))

    ok, out = _verdict("05.2", own_signs, capsys)
    assert not ok and "does not depend on the signs c1, c2 it is given: two calls" in out
    ok, out = _verdict("05.2", lambda u, A, xhat, H, D, c1, c2: ref(u, A, xhat, H, D, 1.0, -1.0), capsys)
    assert not ok and "does not depend on the signs c1, c2 it was given" in out

    def matmul_order(u, A, xhat, H, D, c1, c2):
        return ref(u, A, xhat, H, D, c1, c2)[0], A @ H

    ok, out = _verdict("05.2", matmul_order, capsys)
    assert not ok and "matrix product @ whose factors do not fit" in out and "A @ H" in out


@pytest.mark.parametrize(
    ("answer", "ok_expected", "message"),
    [
        ((1.0, 1.0), True, "κ = 1"),
        ((1.1, 1.5), True, "next cell measures"),
        ((0.0, 1.0), False, "does grow"),
        ((2.0, 1.0), False, "too fast"),
        ((0.5, 1.0), False, "compare UORO's per-step floor"),
        ((1.0, 8.0), False, "KF-RTRL: F_t has rank one"),
        ((1.0, 0.1), False, "KF-RTRL: F_t has rank one"),
        (1.0, False, "Give a pair"),
    ],
)
def test_05_3_prediction(answer, ok_expected, message, capsys):
    ok, out = _verdict("05.3", answer, capsys)
    assert ok is ok_expected and message in out


# --- 06 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["06.1", "06.2", "06.3"])
def test_06_reference_solutions_pass(key, capsys):
    ok, out = _verdict(key, solution(key), capsys)
    assert ok is True and "correct" in out


def test_06_1_wrong_answers_reason_without_numbers(capsys):
    ok, out = _verdict("06.1", (1, 4), capsys)
    assert not ok and "‖v_j‖‖M_j‖" in out and not re.search(r"\d\.\d", out.split("not yet.")[1])  # no variances
    ok, out = _verdict("06.1", (1, 2), capsys)  # the best pair counted from 0
    assert not ok and "Counting from 0" in out
    ok, out = _verdict("06.1", (3, 3), capsys)
    assert not ok and "two different" in out


def test_06_2_wrong_answer_names_the_term(capsys):
    alpha = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # c_3 = 2
    ok, out = _verdict("06.2", (alpha, alpha), capsys)
    assert not ok and "linearly independent" in out and "term(s) 3" in out


def test_06_2_must_beat_kf_avg(capsys):
    from okcore.demos.ksums import exact_moments, kf_avg_scheme, sign_mixing_scheme
    from okcore.exercises.nb06 import mixing_instance

    h = 1.0 / np.sqrt(2.0)
    shared = np.array([[1.0, 0.0, h], [0.0, 1.0, h]])  # unbiased (every c_i = 1), but worse than KF-avg here
    inst = mixing_instance()
    worse = exact_moments(sign_mixing_scheme(inst.v, inst.M, shared, shared), inst.target).variance
    assert worse > exact_moments(kf_avg_scheme(inst.v, inst.M), inst.target).variance
    ok, out = _verdict("06.2", (shared, shared), capsys)
    assert not ok and "Unbiased, but it adds" in out and "not less than KF-avg" in out
    ok, out = _verdict("06.2", solution("06.2"), capsys)
    assert ok and "times less" in out


def test_06_3_wrong_answers(capsys):
    h = 1.0 / np.sqrt(2.0)
    every_one = np.array([[1.0, 0.0, h], [0.0, 1.0, h]])  # c = (1, 1, 1): unbiased, but not what is asked
    ok, out = _verdict("06.3", (every_one, every_one), capsys)
    assert not ok and "every c_i" in out
    drops_term = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # c = (1, 1, 0): c_1 + c_3 = 1, biased
    ok, out = _verdict("06.3", (drops_term, drops_term), capsys)
    assert not ok and "Not unbiased" in out and "c_1 + c_3" in out
    ok, out = _verdict("06.3", (np.ones((3, 3)), np.ones((3, 3))), capsys)
    assert not ok and "shape" in out
    ok, out = _verdict("06.3", "alpha", capsys)
    assert not ok


def test_06_3_instance_has_dependent_terms():
    from okcore.exercises.nb06 import repeated_instance

    v, M, P = repeated_instance()
    terms = np.einsum("jp,jaq->japq", v, M)
    assert np.allclose(terms.sum(axis=0), P)
    assert np.linalg.matrix_rank(terms.reshape(3, -1)) == 2
