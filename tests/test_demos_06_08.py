"""Tests of the demos and exercises of notebooks 06–08: Kronecker sums, one OK step, the optimality proof."""

import numpy as np
import pytest

from okcore import GatedCell, TanhCell
from okcore.approx.kf import KFRTRL, KFAverage
from okcore.demos import ksums, ok_step, proof
from okcore.demos.kronecker import rearrange
from okcore.exercises import check, solution
from okcore.lowrank import minimal_variance, mixing_coefficients


@pytest.fixture
def instance():
    rng = np.random.default_rng(7)
    cell = GatedCell(3, 4, rng)
    return cell, ksums.make_instance(cell, 2, rng)


@pytest.fixture
def instance3():
    rng = np.random.default_rng(8)
    cell = GatedCell(3, 4, rng)
    return cell, ksums.make_instance(cell, 3, rng)


# --- ksums ---------------------------------------------------------------------------------------------------


def test_kron_sum_and_rearrange(rng):
    u = rng.standard_normal((3, 5))
    A = rng.standard_normal((3, 2, 4))
    G = ksums.kron_sum(u, A)
    assert G.shape == (2, 5, 4)
    assert np.allclose(G[1, 2, 3], np.sum(u[:, 2] * A[:, 1, 3]))
    R = rearrange(G)
    assert R.shape == (5, 8)
    assert np.allclose(R, u.T @ A.reshape(3, 8))
    assert np.isclose(np.linalg.norm(R), np.linalg.norm(G))
    assert ksums.kronecker_rank(G) == 3
    assert ksums.kronecker_rank(np.zeros((2, 3, 4))) == 0


def test_instance_target_is_the_exact_step(instance):
    cell, inst = instance
    H, D, xhat = inst.step.H, inst.step.D, inst.step.xhat
    G_prev = ksums.kron_sum(inst.u, inst.A)
    want = np.einsum("ab,bpq->apq", H, G_prev) + np.einsum("p,aq->apq", xhat, D)
    assert np.allclose(inst.target, want, atol=1e-13)
    assert inst.v.shape == (3, cell.K) and inst.M.shape == (3, cell.n_hidden, cell.k)
    assert inst.sigma.shape == (3,) and np.all(np.diff(inst.sigma) <= 0)


def test_all_sign_patterns():
    pats = ksums.all_sign_patterns(3)
    assert pats.shape == (8, 3)
    assert len({tuple(p) for p in pats}) == 8
    assert np.allclose(pats.T @ pats, 8 * np.eye(3))


@pytest.mark.parametrize("kind", ["pair", "avg", "mixing"])
def test_schemes_are_unbiased_and_rank_r(instance, kind):
    _, inst = instance
    v, M = inst.v, inst.M
    scheme = {
        "pair": lambda: ksums.kf_pair_scheme(v, M, 0, 2),
        "avg": lambda: ksums.kf_avg_scheme(v, M),
        "mixing": lambda: ksums.random_sign_mixing(v, M, np.random.default_rng(3)),
    }[kind]()
    mom = ksums.exact_moments(scheme, inst.target)
    assert mom.bias < 1e-12
    assert mom.variance >= minimal_variance(inst.sigma) * (1 - 1e-9)
    u_new, A_new = scheme.apply(np.ones(scheme.n_signs))
    assert u_new.shape[0] == inst.rank == A_new.shape[0]


def test_kf_pair_variance_matches_closed_form(instance):
    from okcore.approx.kf import kf_step_variance

    _, inst = instance
    v, M = inst.v, inst.M
    mom = ksums.exact_moments(ksums.kf_pair_scheme(v, M, 1, 2), inst.target)
    assert np.isclose(mom.variance, kf_step_variance(v[1], M[1], v[2], M[2]), rtol=1e-10)
    assert np.ptp(mom.squared_errors) < 1e-12 * mom.variance  # KF's error norm does not depend on the signs


def test_biased_mixing_is_detected(instance):
    _, inst = instance
    alpha = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    mom = ksums.exact_moments(ksums.sign_mixing_scheme(inst.v, inst.M, alpha, alpha), inst.target)
    assert mom.bias > 1e-3


def test_scheme_argument_checks(instance):
    _, inst = instance
    with pytest.raises(ValueError, match="i, j"):
        ksums.kf_pair_scheme(inst.v, inst.M, 1, 1)
    with pytest.raises(ValueError, match="at least 2 terms"):
        ksums.kf_avg_scheme(inst.v[:1], inst.M[:1])


def test_kf_avg_scheme_equals_estimator(instance):
    cell, inst = instance
    pats = ksums.all_sign_patterns(2 * inst.rank)
    a = ksums.kf_avg_estimator_outputs(cell, inst, pats)
    b = ksums.scheme_outputs(ksums.kf_avg_scheme(inst.v, inst.M))
    assert np.allclose(a, b, atol=1e-13)


def test_counted_kf_avg_step(instance):
    cell, inst = instance
    r = inst.rank
    signs = np.array([[1.0, -1.0], [-1.0, -1.0]])
    counter = ksums.ProductCounter()
    u_new, A_new = ksums.kf_avg_step(inst.u, inst.A, inst.step.xhat, inst.step.H, inst.step.d, signs, counter)
    scheme = ksums.kf_avg_scheme(inst.v, inst.M)
    assert np.allclose(ksums.kron_sum(u_new, A_new), scheme.dense(signs.ravel()), atol=1e-13)
    want = ksums.kf_avg_products(cell.n_hidden, cell.K, cell.k, r)
    assert counter.products == want["total"] == r * want["per_chain"] + want["shared"]


def test_product_counter_counts_matmul():
    c = ksums.ProductCounter()
    c.einsum("ab,bc->ac", np.ones((2, 3)), np.ones((3, 4)))
    assert c.products == 24
    c.scale(np.ones(2), np.ones((2, 5)))
    assert c.products == 34


def test_squared_errors_shapes_and_kf_avg_ratio():
    rng = np.random.default_rng(11)
    cell = TanhCell(2, 4, rng)
    xs = ksums.random_tokens(8, 2, rng)
    out = ksums.squared_errors(cell, xs, {"KF": KFRTRL, "avg": (KFAverage, {"rank": 4})}, 1500, rng)
    assert out["KF"].shape == (8, 1500)
    a, b = out["KF"].mean(axis=0), out["avg"].mean(axis=0)
    ratio = a.mean() / b.mean()
    se = ratio * np.hypot(a.std() / a.mean(), b.std() / b.mean()) / np.sqrt(1500)
    assert abs(ratio - 4.0) < 5 * se


def test_random_tokens_are_one_hot(rng):
    xs = ksums.random_tokens(5, 3, rng)
    assert xs.shape == (5, 3) and np.all(xs.sum(axis=1) == 1.0)


# --- ok_step ---------------------------------------------------------------------------------------------------


def test_gram_schmidt(rng):
    X = rng.standard_normal((3, 2, 5))
    E, L = ok_step.gram_schmidt(X)
    flat = E.reshape(3, -1)
    assert np.allclose(flat @ flat.T, np.eye(3), atol=1e-13)
    assert np.allclose(np.triu(L, 1), 0.0) and np.all(np.diag(L) > 0)
    assert np.allclose(np.einsum("js,s...->j...", L, E), X)
    with pytest.raises(ValueError, match="combination"):
        ok_step.gram_schmidt(np.array([[1.0, 0.0], [2.0, 0.0]]))


def test_completion():
    w = np.array([0.0, 0.6, 0.0, 0.8])
    mix = np.array([False, True, True, True])
    Q = ok_step.completion(w, mix)
    assert Q.shape == (2, 4)
    assert np.allclose(Q @ Q.T, np.eye(2)) and np.allclose(Q @ w, 0.0) and np.allclose(Q[:, 0], 0.0)
    with pytest.raises(ValueError):
        ok_step.completion(np.array([1.0, 0.0]), np.array([True]))


def test_ok_parts_identities(instance3):
    _, inst = instance3
    p = ok_step.ok_parts(inst.v, inst.M)
    N = p.sigma.size
    assert np.allclose(p.e @ p.e.T, np.eye(N), atol=1e-12)
    assert np.allclose(np.einsum("st,sp,taq->apq", p.C, p.e, p.Z), inst.target, atol=1e-12)
    assert np.allclose(p.sigma, inst.sigma, rtol=1e-10)
    assert np.isclose(np.linalg.norm(p.w), 1.0) and np.all(p.w[p.keep] == 0.0)
    G = p.R.T @ p.R
    assert np.allclose(np.diag(G), p.sigma, rtol=1e-12)
    ref = mixing_coefficients(p.sigma)
    assert np.allclose(G, ref.T @ ref, atol=1e-12)


def test_every_sign_vector_has_the_minimal_error(instance3):
    _, inst = instance3
    p = ok_step.ok_parts(inst.v, inst.M)
    errs = [ok_step.step_error(p, s) for s in ksums.all_sign_patterns(p.sigma.size)]
    assert np.allclose(errs, minimal_variance(p.sigma), rtol=1e-9)
    code = [ok_step.step_error(p, s, "code") for s in ksums.all_sign_patterns(p.sigma.size)]
    assert np.allclose(code, ok_step.code_split_variance(p.sigma), rtol=1e-9)
    assert min(code) >= max(errs)


def test_recombine_argument_checks(instance):
    _, inst = instance
    p = ok_step.ok_parts(inst.v, inst.M)
    with pytest.raises(ValueError, match="split"):
        ok_step.recombine(p, np.ones(3), "other")
    with pytest.raises(ValueError, match="signs"):
        ok_step.recombine(p, np.array([1.0, 0.5, 1.0]))


def test_code_split_variance_two_values():
    assert np.isclose(ok_step.code_split_variance([3.0, 0.5]), 3.0**2 + 0.5**2)
    with pytest.raises(ValueError):
        ok_step.code_split_variance([1.0, 0.0])


@pytest.mark.parametrize("split_name", ["optimal", "code"])
def test_ok_estimator_matches_step_by_step(instance, split_name):
    cell, inst = instance
    p = ok_step.ok_parts(inst.v, inst.M)
    eps = ok_step.sign_flips(cell, p, inst, split_name)
    pats = ksums.all_sign_patterns(p.sigma.size)
    theirs = ok_step.ok_estimator_outputs(cell, inst, pats, split_name)
    mine = np.stack([ksums.kron_sum(*ok_step.recombine(p, eps * s, split_name)) for s in pats])
    assert np.allclose(theirs, mine, atol=1e-12)


def test_split_noise_names():
    rng = np.random.default_rng(5)
    cell = GatedCell(2, 3, rng)
    xs = ksums.random_tokens(4, 2, rng)
    noise = ok_step.split_noise(cell, xs, [1], 5, rng)
    assert set(noise) == {"OK r=1", "code r=1"} and noise["OK r=1"].shape == (4,)


# --- proof -----------------------------------------------------------------------------------------------------


def test_top_r_norm_and_lower_bound(rng):
    M = np.diag([3.0, 2.0, 1.0])
    assert np.isclose(proof.top_r_norm(M, 2), np.sqrt(13.0))
    P = np.diag([3.0, 2.0, 1.0])
    assert np.isclose(proof.lower_bound(np.diag([2.0, 1.0, 1.0]), P, 2), 81 / 5 - 14)


@pytest.mark.parametrize("seed", range(5))
def test_bound_matrix_gives_minimal_variance(seed):
    rng = np.random.default_rng(seed)
    r = int(rng.integers(1, 5))
    sigma = np.sort(rng.exponential(size=r + 1))[::-1]
    a = np.linalg.qr(rng.standard_normal((6, r + 1)))[0]
    b = np.linalg.qr(rng.standard_normal((7, r + 1)))[0]
    P = (a * sigma) @ b.T
    M, q, mu = proof.bound_matrix(P, r)
    assert np.isclose(proof.top_r_norm(M, r) ** 2, np.sum(M * P))
    assert np.isclose(proof.lower_bound(M, P, r), minimal_variance(sigma), rtol=1e-9, atol=1e-12)
    bounds = [proof.bound_for_q(sigma, qq) for qq in range(r)]
    assert np.isclose(max(bounds), minimal_variance(sigma), rtol=1e-9, atol=1e-12)
    assert np.isclose(bounds[q], max(bounds))


def test_outcome_stats_of_ok_and_others(instance3):
    _, inst = instance3
    P = rearrange(inst.target)
    r = inst.rank
    ok = proof.outcome_stats(proof.ok_outcomes(inst), P, r)
    assert ok["bias"] < 1e-12 and ok["max_rank"] <= r
    assert np.isclose(ok["variance"], ok["bound"], rtol=1e-9)
    assert np.isclose(ok["variance"], ok["E_norm2"] - ok["P_norm2"], rtol=1e-6)
    assert ok["norm_spread"] < 1e-12 and ok["min_cs_gap"] > -1e-12
    rand = proof.random_frame_scheme(P, r, np.random.default_rng(0))
    mixed = proof.mixture("mix", [proof.ok_outcomes(inst, "code"), rand], [0.3, 0.7])
    for o in (rand, mixed):
        st = proof.outcome_stats(o, P, r)
        assert st["bias"] < 1e-10 and st["max_rank"] <= r
        assert st["variance"] >= st["bound"] and st["E_norm2"] >= st["E_norm_sq"] - 1e-12
    with pytest.raises(ValueError):
        proof.mixture("bad", [rand], [0.5])


def test_compute_explorer():
    res = proof.compute_explorer((3.0, 2.0, 1.5, 1.2, 0.4))
    assert res["r"] == 4 and res["m"] == sum(res["mix"]) == 3
    assert res["keep"] == (True, True, False, False, False)
    assert np.isclose(res["mu"], (1.5 + 1.2 + 0.4) / 2)
    v = res["variance"]
    assert np.isclose(v["OK"], minimal_variance(np.array(res["sigma"])))
    assert v["OK"] <= v["KF pairwise"] and v["OK"] <= v["code split"]
    assert res == proof.compute_explorer((3.0, 2.0, 1.5, 1.2, 0.4))
    two = proof.compute_explorer((2.0, 0.5))
    assert np.isclose(two["variance"]["OK"], 2.0) and np.isclose(two["variance"]["code split"], 4.25)
    with pytest.raises(ValueError):
        proof.compute_explorer((1.0, 0.0))


def test_explorer_widget_follows_sliders():
    ui = proof.singular_value_explorer((2.0, 1.0, 0.5))
    assert len(ui.sliders) == 3 and all(not s.continuous_update for s in ui.sliders)
    assert ui.result == proof.compute_explorer((2.0, 1.0, 0.5))
    ui.sliders[2].value = 0.95
    assert ui.result == proof.compute_explorer((2.0, 1.0, 0.95))
    assert len(ui.out.outputs) == 1


def test_lookahead_comparison(instance):
    _, inst = instance
    H = np.diag([3.0, 1.0, 0.5, 0.2])
    res = proof.lookahead_comparison(inst, H)
    assert np.isclose(res["OK step"], res["bound step"], rtol=1e-9)
    assert np.isclose(res["look-ahead propagated"], res["bound propagated"], rtol=1e-9)
    assert res["look-ahead step"] >= res["OK step"]
    assert res["OK propagated"] >= res["look-ahead propagated"]


# --- exercises -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["06.1", "06.2"])
def test_reference_solutions_pass(key, capsys):
    assert check(key, solution(key))


def test_unanswered(capsys):
    assert not check("06.1", None)
    assert "not answered" in capsys.readouterr().out


def test_06_1_wrong_answers(capsys):
    from okcore.exercises.nb06 import _pair_variances

    best = solution("06.1")
    assert best == (2, 3)
    assert check("06.1", (3, 2))  # order does not matter
    worst = max(_pair_variances(), key=_pair_variances().get)
    capsys.readouterr()
    assert not check("06.1", worst)
    assert "Another pair adds less" in capsys.readouterr().out
    assert not check("06.1", (1, 2))
    assert "Counting from 0" in capsys.readouterr().out
    assert not check("06.1", (2, 2))
    assert not check("06.1", (0, 5))
    assert not check("06.1", 3)


def test_06_2_wrong_answers(capsys):
    alpha = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    assert not check("06.2", (alpha, alpha))
    assert "term(s) 3" in capsys.readouterr().out
    assert not check("06.2", (np.ones((3, 3)), np.ones((3, 3))))
    assert not check("06.2", "alpha")


def test_06_2_accepts_other_schemes_that_beat_kf_avg_and_no_others(capsys):
    alpha, beta = (np.asarray(x, dtype=float) for x in solution("06.2"))
    assert check("06.2", (2.0 * alpha, beta / 2.0))  # other coefficients, the same products
    unbiased = (np.array([[1.0, 2.0, 0.5], [1.0, 0.0, 0.5]]), np.array([[0.5, 0.5, 1.0], [0.5, 0.0, 1.0]]))
    capsys.readouterr()
    assert not check("06.2", unbiased)  # unbiased, but it adds more variance than KF-avg
    assert "not less than KF-avg's" in capsys.readouterr().out
