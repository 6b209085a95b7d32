"""The checkers of notebooks 07-09: each reference solution passes, and deliberately wrong answers are rejected
with the message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.demos import ksums
from okcore.exercises import check, registered, solution
from okcore.lowrank import mixing_coefficients


def verdict(key: str, answer: object, capsys: pytest.CaptureFixture) -> tuple[bool, str]:
    ok = check(key, answer)
    return ok, capsys.readouterr().out


# --- 07 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["07.1", "07.2", "07.3", "07.4", "07.5"])
def test_07_reference_solutions_pass(key, capsys):
    ok, out = verdict(key, solution(key), capsys)
    assert ok and "correct" in out


def test_07_unanswered(capsys):
    ok, out = verdict("07.1", None, capsys)
    assert "07.1" in registered()
    assert not ok and "not answered" in out


def _mix_two_smallest(sigma):
    sigma = np.asarray(sigma)
    mix = np.zeros(sigma.size, dtype=bool)
    mix[np.argsort(sigma, kind="stable")[:2]] = True
    return ~mix, mix


def _mix_all(sigma):
    n = np.asarray(sigma).size
    return np.zeros(n, dtype=bool), np.ones(n, dtype=bool)


def _strict_rule(sigma):
    """The rule with < instead of <=: wrong exactly where the test holds with equality."""
    sigma = np.asarray(sigma, dtype=float)
    N = sigma.size
    order = np.argsort(-sigma, kind="stable")
    s = sigma[order]
    tail = np.cumsum(s[::-1])[::-1]
    q = next((j for j in range(N - 1) if (N - 1 - j) * s[j] < tail[j]), N - 2)
    keep = np.zeros(N, dtype=bool)
    keep[order[:q]] = True
    return keep, ~keep


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_mix_two_smallest, "mixing more values is possible"),
        (_mix_all, "infeasible"),
        (_strict_rule, "rule uses <="),
        (lambda s: (np.ones(len(s), dtype=bool), np.zeros(len(s), dtype=bool)), "at least two are mixed"),
        (lambda s: (np.ones(len(s), dtype=bool), np.ones(len(s), dtype=bool)), "complementary"),
        (lambda s: None, "returned None"),
        (lambda s: (np.ones(len(s) + 1, dtype=bool),) * 2, "shape"),
        (lambda s: s @ np.ones(len(s) + 1), "matrix product @ whose factors do not fit"),
    ],
)
def test_07_1_rejects(wrong, message, capsys):
    ok, out = verdict("07.1", wrong, capsys)
    assert not ok and message in out


@pytest.mark.parametrize(
    "answer, message",
    [([1.0, 0.0, 0.0, 0.0], "σ_1 = 2 is kept"), (-solution("07.2"), "Up to sign"), (np.zeros(3), "shape (4,)")],
)
def test_07_2_rejects(answer, message, capsys):
    ok, out = verdict("07.2", answer, capsys)
    assert not ok and message in out


def _singular_terms_r1(u, A, H, xhat, D):
    HA = H @ A
    Qv, Rv = np.linalg.qr(np.stack([u, xhat], axis=1))
    QM, RM = np.linalg.qr(np.stack([HA.ravel(), D.ravel()], axis=1))
    U, sig, Vt = np.linalg.svd(Rv @ RM.T)
    return Qv @ U, (QM @ Vt.T).T.reshape(2, *D.shape), sig


def _code_split_r1(u, A, H, xhat, D, s):
    """The released code's split at r = 1: coefficients (1, −1) on ũ and (σ_1, −σ_2) on Ã."""
    u_t, A_t, sig = _singular_terms_r1(u, A, H, xhat, D)
    return u_t @ (s * [1.0, -1.0]), np.tensordot(s * [sig[0], -sig[1]], A_t, axes=1)


def _kf_step(u, A, H, xhat, D, s):
    """KF-RTRL's balanced update in the original basis: unbiased, not optimal."""
    return ksums.kf_merge(u, H @ A, xhat, D, s[0], s[1])


def _signs_on_u_only(u, A, H, xhat, D, s):
    ref = solution("07.3")
    return ref(u, A, H, xhat, D, s)[0], ref(u, A, H, xhat, D, np.ones(2))[1]


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_code_split_r1, "released code's split"),
        (_kf_step, "times the optimum"),
        (_signs_on_u_only, "The average is 0"),
        (lambda u, A, H, xhat, D, s: solution("07.3")(u, A, H, xhat, D, np.ones(2)), "does not depend on the signs"),
        (lambda u, A, H, xhat, D, s: tuple(x[None] for x in solution("07.3")(u, A, H, xhat, D, s)), "shapes"),
        (lambda u, A, H, xhat, D, s: None, "returned None"),
        ("not a function", "Give a function"),
    ],
)
def test_07_3_rejects(wrong, message, capsys):
    ok, out = verdict("07.3", wrong, capsys)
    assert not ok and message in out


def _truncated_svd(u, A, H, xhat, D, s):
    """Keep the r largest singular terms exactly, drop the last: deterministic and biased."""
    r = u.shape[0]
    HA = np.einsum("ab,jbq->jaq", H, A)
    Qv, Rv = np.linalg.qr(np.concatenate([u, xhat[None]]).T)
    QM, RM = np.linalg.qr(np.concatenate([HA, D[None]]).reshape(r + 1, -1).T)
    U, sig, Vt = np.linalg.svd(Rv @ RM.T)
    root = np.sqrt(sig[:r])
    return root[:, None] * (Qv @ U).T[:r], root[:, None, None] * (QM @ Vt.T).T.reshape(r + 1, *D.shape)[:r]


def _code_split(u, A, H, xhat, D, s):
    """The released code's split at general r."""
    r = u.shape[0]
    HA = np.einsum("ab,jbq->jaq", H, A)
    Qv, Rv = np.linalg.qr(np.concatenate([u, xhat[None]]).T)
    QM, RM = np.linalg.qr(np.concatenate([HA, D[None]]).reshape(r + 1, -1).T)
    U, sig, Vt = np.linalg.svd(Rv @ RM.T)
    R_s = mixing_coefficients(sig) * s
    u_t, A_t = (Qv @ U).T, (QM @ Vt.T).T.reshape(r + 1, *D.shape)
    return (R_s / np.sqrt(sig)) @ u_t, np.tensordot(R_s * np.sqrt(sig), A_t, axes=1)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_truncated_svd, "Biased"),
        (_code_split, "released code's split"),
        (lambda u, A, H, xhat, D, s: solution("07.3")(u[0], A[0], H, xhat, D, s[:2]), "shapes"),
    ],
)
def test_07_4_rejects(wrong, message, capsys):
    ok, out = verdict("07.4", wrong, capsys)
    assert not ok and message in out


def _ok_step_with(*, use_H=True, core="right", vt=False, weights="sqrt", mix_all=False, dtype=None):
    """An OK step for any r (u (r, K) or (K,)) with one deliberate mistake in one part of the construction."""

    def step(u, A, H, xhat, D, s):
        single = u.ndim == 1
        u_, A_ = (u[None], A[None]) if single else (u, A)
        r = u_.shape[0]
        HA = np.einsum("ab,jbq->jaq", H, A_) if use_H else A_
        Qv, Rv = np.linalg.qr(np.concatenate([u_, xhat[None]]).T)
        QM, RM = np.linalg.qr(np.concatenate([HA, D[None]]).reshape(r + 1, -1).T)
        C = {"right": Rv @ RM.T, "transposed": RM @ Rv.T, "no transpose": Rv @ RM}[core]
        U, sig, Vt = np.linalg.svd(C)
        u_t, A_t = (Qv @ U).T, (QM @ (Vt if vt else Vt.T)).T.reshape(r + 1, *D.shape)
        if mix_all:  # mix all r + 1 values, clipping the negative w_i²
            mu = sig.sum() / r
            w = np.sqrt(np.clip(1 - sig / mu, 0, None))
            R = np.sqrt(mu) * np.linalg.qr(np.column_stack([w, np.eye(r + 1)]))[0][:, 1 : r + 1].T
        elif r == 1:
            R = {
                "sqrt": np.array([[np.sqrt(sig[0]), -np.sqrt(sig[1])]]),
                "sigma": np.array([[sig[0], -sig[1]]]),
                "none": np.array([[1.0, -1.0]]),
            }[weights]
        else:
            R = mixing_coefficients(sig)
        u_new, A_new = (R * s) @ u_t, np.tensordot(R * s, A_t, axes=1)
        if dtype is not None:
            u_new, A_new = u_new.astype(dtype), A_new.astype(dtype)
        return (u_new[0], A_new[0]) if single else (u_new, A_new)

    return step


@pytest.mark.parametrize("key", ["07.3", "07.4"])
@pytest.mark.parametrize(
    "mistake, message",
    [
        ({"use_H": False}, "H is missing"),
        ({"core": "transposed"}, "The core is wrong: you use C transposed"),
        ({"core": "no transpose"}, "The core is wrong: you use R_v R_M."),
        ({"vt": True}, "The matrix basis is wrong"),
        ({"dtype": np.float32}, "float32 precision"),
    ],
)
def test_07_3_and_07_4_name_the_wrong_part(key, mistake, message, capsys):
    assert verdict(key, _ok_step_with(), capsys)[0]  # without a mistake the helper is a right answer
    ok, out = verdict(key, _ok_step_with(**mistake), capsys)
    assert not ok and message in out


@pytest.mark.parametrize(
    "weights, message", [("sigma", "√σ enters each side"), ("none", "yours give every direction the weight 1")]
)
def test_07_3_names_a_wrong_scale(weights, message, capsys):
    ok, out = verdict("07.3", _ok_step_with(weights=weights), capsys)
    assert not ok and "The scale" in out and message in out
    assert "R = (" not in out and "√σ_1" not in out  # the coefficient row R at r = 1 is the reader's to work out


def _learner_step(mistake: str = "", gram_schmidt: bool = False):
    """An OK step as a learner writes it (np.linalg.qr, np.linalg.svd; any r, u (r, K) or (K,)), with one classic
    mistake; ``gram_schmidt``: bases with a positive diagonal of R, as Gram–Schmidt by hand gives them."""

    def qr(X):
        Q, R = np.linalg.qr(X)
        if gram_schmidt:
            d = np.sign(np.diag(R))
            Q, R = Q * d, d[:, None] * R
        return Q, R

    def step(u, A, H, xhat, D, s):
        single = u.ndim == 1
        u_, A_ = (u[None], A[None]) if single else (u, A)
        r, (n, k) = u_.shape[0], D.shape
        HA = A_ if mistake == "no H" else np.einsum("ab,jbq->jaq", H, A_)
        vs = np.concatenate([xhat[None], u_]) if mistake == "v order" else np.concatenate([u_, xhat[None]])
        Ms = np.concatenate([D[None], HA]) if mistake == "M order" else np.concatenate([HA, D[None]])
        Qv, Rv = qr(vs.T)
        QM, RM = qr(Ms.reshape(r + 1, -1).T)
        C = {"core RM Rv.T": RM @ Rv.T, "core Rv RM": Rv @ RM, "core Rv.T RM": Rv.T @ RM}.get(mistake, Rv @ RM.T)
        U, sig, Vt = np.linalg.svd(C)
        u_t = (Qv @ (U.T if mistake == "U.T" else U)).T
        A_flat = (QM @ {"Vt": Vt, "U both": U}.get(mistake, Vt.T)).T
        if mistake == "column-major":
            A_t = A_flat.reshape(r + 1, k, n).transpose(0, 2, 1)
        else:
            A_t = A_flat.reshape(r + 1, n, k)
        R = mixing_coefficients({"sigma": sig**2, "no scale": np.ones_like(sig)}.get(mistake, sig)) * s
        u_new, A_new = R @ u_t, np.tensordot(R, A_t, axes=1)
        return (u_new[0], A_new[0]) if single else (u_new, A_new)

    return step


_CLASSIC_MISTAKES = [
    ("Vt", "The matrix basis is wrong: np.linalg.svd returns Vt"),
    ("U both", "it uses U, the left singular vectors"),
    ("sigma", "√σ enters each side, not σ"),
    ("no scale", "the weight 1"),
    ("core RM Rv.T", "The core is wrong: you use C transposed"),
    ("core Rv RM", "The core is wrong: you use R_v R_M."),
    ("core Rv.T RM", "The core is wrong: you use R_vᵀ R_M"),
    ("no H", "H is missing"),
    ("column-major", "flattened and reshaped back in different orders"),
    ("v order", "paired in different orders"),
    ("M order", "paired in different orders"),
]


@pytest.mark.parametrize("mistake, message", _CLASSIC_MISTAKES, ids=[m for m, _ in _CLASSIC_MISTAKES])
def test_07_3_catches_every_classic_mistake_every_time(mistake, message, capsys):
    """Each classic mistake is rejected, with its name, on every one of many checks (each check draws fresh steps;
    a check that drew only steps hiding the mistake would accept it)."""
    assert verdict("07.3", _learner_step(), capsys)[0]
    runs = 50 if mistake == "Vt" else 10  # Vt for V̄ is the mistake a random r = 1 step hides half the time
    for _ in range(runs):
        ok, out = verdict("07.3", _learner_step(mistake), capsys)
        assert not ok and message in out, out


def test_07_3_mistakes_that_change_nothing_at_r1_are_caught_at_general_r(capsys):
    """numpy's SVD of a 2 × 2 matrix returns a symmetric U, and with Gram–Schmidt bases (R of positive diagonal)
    det C > 0 makes V̄ symmetric too: there, U for Uᵀ and Vt for V̄ give exactly the right step, so 07.3 accepts
    them, and 07.4 (r = 2, 3) rejects them."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        U = np.linalg.svd(rng.standard_normal((2, 2)))[0]
        assert np.allclose(U, U.T, rtol=0, atol=1e-12)
    for wrong in (_learner_step("U.T"), _learner_step("Vt", gram_schmidt=True)):
        assert verdict("07.3", wrong, capsys)[0]
        for _ in range(3):
            ok, out = verdict("07.4", wrong, capsys)
            assert not ok and "basis is wrong" in out, out
    assert verdict("07.4", _learner_step(gram_schmidt=True), capsys)[0]


@pytest.mark.parametrize("mistake, message", _CLASSIC_MISTAKES, ids=[m for m, _ in _CLASSIC_MISTAKES])
def test_07_4_catches_every_classic_mistake(mistake, message, capsys):
    ok, out = verdict("07.4", _learner_step(mistake), capsys)
    assert not ok and message in out, out


def test_07_3_names_kf_merge(capsys):
    ok, out = verdict("07.3", _kf_step, capsys)
    assert not ok and "KF-RTRL's balanced merge of the two terms as they are" in out


def test_07_4_calls_mixing_everything_infeasible(capsys):
    ok, out = verdict("07.4", _ok_step_with(mix_all=True), capsys)
    assert not ok and out.split("not yet. ")[1].startswith("(r = 2) Infeasible mixing") and "w_1² = 1 − σ_1/μ" in out


def test_07_3_raw_errors_are_explained(capsys):
    ok, out = verdict("07.3", lambda u, A, H, xhat, D, s: (u, D @ s), capsys)
    assert not ok and "raised an error in the line" in out and "matrix product @" in out and "s shape (2,)" in out


@pytest.mark.parametrize("answer, message", [("a", "Not what happens"), ("b", "Not what happens"), ("d", "one letter")])
def test_07_5_rejects(answer, message, capsys):
    ok, out = verdict("07.5", answer, capsys)
    assert not ok and message in out


# --- 08 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["08.1", "08.2"])
def test_08_reference_solutions_pass(key, capsys):
    ok, out = verdict(key, solution(key), capsys)
    assert ok and "correct" in out


def _full_norm(Y, P, r):
    return float(np.sum(Y * P)) ** 2 / float(np.sum(Y * Y)) - float(np.sum(P * P))


def _no_minus(Y, P, r):
    s = np.linalg.svd(Y, compute_uv=False)
    return float(np.sum(Y * P)) ** 2 / float(np.sum(s[:r] ** 2))


def _clipped(Y, P, r):
    s = np.linalg.svd(Y, compute_uv=False)
    return max(float(np.sum(Y * P)), 0.0) ** 2 / float(np.sum(s[:r] ** 2)) - float(np.sum(P * P))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_full_norm, "‖Y‖²_(r)"),
        (_no_minus, "subtract"),
        (_clipped, "square ⟨Y, P⟩ as it is"),
        (lambda Y, P, r: 0.0, "expected"),
        (3.0, "Give a function"),
    ],
)
def test_08_1_rejects(wrong, message, capsys):
    ok, out = verdict("08.1", wrong, capsys)
    assert not ok and message in out


@pytest.mark.parametrize(
    "answer, message", [(0.4, "Write the rule"), (0.6, "Write the rule"), (1.5, "(0, 1]"), ("0.5", "one number")]
)
def test_08_2_rejects(answer, message, capsys):
    ok, out = verdict("08.2", answer, capsys)
    assert not ok and message in out


# --- 09 -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def references_09():
    return {key: solution(key) for key in ("09.1", "09.3")}


def test_09_reference_solutions_pass(references_09, capsys):
    for key, answer in references_09.items():
        ok, out = verdict(key, answer, capsys)
        assert ok and "correct" in out, key


def test_09_1_rejects(references_09, capsys):
    order = references_09["09.1"]
    assert order[0] == "UORO" and order[-1] == "OK"
    for wrong, message in (
        (order[::-1], "quietest first"),
        ([order[1], order[0], *order[2:]], "Not that order"),
        (list(order[:3]), "exactly once"),
        ("UORO", "Give a list"),
    ):
        ok, out = verdict("09.1", wrong, capsys)
        assert not ok and message in out


@pytest.mark.parametrize(
    "answer, ok_expected, message",
    [
        (20.0, True, "sound prediction"),
        (5.0, True, "sound prediction"),
        (2.0, False, "what averaging gives"),
        (0.5, False, "increase"),
        (1e6, False, "ten thousand"),
        ("20", False, "one number"),
    ],
)
def test_09_2_prediction(answer, ok_expected, message, capsys):
    ok, out = verdict("09.2", answer, capsys)
    assert ok is ok_expected and message in out


def test_09_3_rejects(references_09, capsys):
    chains = references_09["09.3"]
    assert verdict("09.3", chains + 2, capsys)[0]  # within the reading tolerance
    for wrong, message in (
        (4, "Far more than the slider"),
        (2 * chains, "KF-avg(r) = KF / r"),
        (float(chains), "whole"),
    ):
        ok, out = verdict("09.3", wrong, capsys)
        assert not ok and message in out


@pytest.mark.parametrize(
    "answer, ok_expected, message",
    [
        ({"UORO": 2.07, "KF": 1.0}, True, "sound prediction"),
        ({"UORO": 1.0, "KF": 1.0}, False, "V_1 = n − 1 goes from 15 to 31"),
        ({"UORO": 2.0, "KF": 2.5}, False, "KF: it stores"),
        ({"UORO": 4.0, "KF": 4.0}, False, "KF: it stores"),
        ({"UORO": 2.0}, False, "Give a dict"),
        ({"UORO": 2.0, "KF": float("nan")}, False, "finite numbers"),
    ],
)
def test_09_4_prediction(answer, ok_expected, message, capsys):
    ok, out = verdict("09.4", answer, capsys)
    assert ok is ok_expected and message in out
