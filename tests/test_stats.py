"""okcore.stats: bootstrap intervals, steps to a level, quantiles with unreached seeds, values at positions."""

import numpy as np
import pytest

from okcore.stats import bootstrap_ci, bootstrap_diff_ci, intervals_overlap, quantiles, steps_to_level, value_at


def test_bootstrap_interval_of_the_mean_covers_the_mean_and_reproduces():
    v = [6, 7, 7, 8, 8, 8, 9, 9]
    est, lo, hi = bootstrap_ci(v, rng=1)
    assert est == np.mean(v) and lo < est < hi
    assert (est, lo, hi) == bootstrap_ci(v, rng=np.random.default_rng(1))
    # the resampled means lie between the smallest and the largest value
    assert min(v) <= lo and hi <= max(v)


def test_bootstrap_interval_matches_the_normal_approximation_for_a_large_sample():
    # for the mean of N draws the percentile interval is close to mean ± 1.96 s / sqrt(N)
    x = np.random.default_rng(0).normal(size=400)
    est, lo, hi = bootstrap_ci(x, resamples=20_000, rng=2)
    half = 1.96 * x.std() / np.sqrt(x.size)
    assert abs((hi - lo) / 2 - half) < 0.05 * half


def test_bootstrap_of_a_constant_sample_is_a_point_and_the_median_works():
    assert bootstrap_ci([4, 4, 4], rng=0) == (4.0, 4.0, 4.0)
    est, lo, hi = bootstrap_ci([1, 2, 3, 100], statistic=np.median, rng=0)
    assert est == 2.5 and lo >= 1 and hi <= 100


def test_bootstrap_difference_of_two_groups():
    a, b = [9, 9, 8, 9, 9, 8, 9, 9], [4, 4, 4, 4, 4, 4, 4, 4]
    est, lo, hi = bootstrap_diff_ci(a, b, rng=0)
    assert est == np.mean(a) - 4 and 4 <= lo <= est <= hi <= 5
    est, lo, hi = bootstrap_diff_ci([1, 2, 3, 4], [1, 2, 3, 4], rng=0)
    assert est == 0 and lo < 0 < hi


def test_overlap():
    assert intervals_overlap((1.0, 0.5, 1.5), (2.0, 1.5, 2.5))
    assert not intervals_overlap((0.5, 1.4), (1.5, 2.5))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"values": []}, "non-empty"),
        ({"values": [1, np.nan]}, "finite"),
        ({"values": [1, 2], "level": 1.0}, "level"),
        ({"values": [1, 2], "resamples": 0}, "resamples"),
    ],
)
def test_bootstrap_errors_name_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(**kw)
    with pytest.raises((TypeError, ValueError), match="rng"):
        bootstrap_ci([1, 2], rng=None)


def test_steps_to_level():
    steps, T = [500, 1000, 1500, 2000], [1, 2, 2, 4]
    assert steps_to_level(steps, T, 2) == 1000
    assert steps_to_level(steps, T, 3) == 2000  # jumped over 3: counts where the log first shows it
    assert steps_to_level(steps, T, 5) == np.inf
    with pytest.raises(ValueError, match="one length"):
        steps_to_level([1, 2], [1], 1)


def test_quantiles_with_unreached_seeds():
    np.testing.assert_allclose(quantiles([4, 1, 3, 2]), np.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]))
    q = quantiles([1, 2, 3, np.inf])  # positions 0.75, 1.5, 2.25: the last needs the unreached seed
    assert q[0] == 1.75 and q[1] == 2.5 and q[2] == np.inf
    assert (quantiles([np.inf, np.inf]) == np.inf).all()
    with pytest.raises(ValueError, match="values"):
        quantiles([1, np.nan])


def test_value_at_reads_a_step_function():
    pos, val = [1.0, 2.0, 4.0], [10, 20, 40]
    np.testing.assert_array_equal(value_at([0.5, 1, 1.5, 3.99, 4, 5], pos, val), [np.nan, 10, 10, 20, 40, np.nan])
    with pytest.raises(ValueError, match="non-decreasing"):
        value_at(1, [2, 1], [0, 0])
