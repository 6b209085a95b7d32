"""The palette (one colour and label per method) and the figure check (no colliding labels, no legend on data)."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from okcore.plotting import METHODS, method_style, run_style  # noqa: E402

# every method and parameter the workbook draws (notebooks 09–13)
WORKBOOK = (
    [("exact", {})]
    + [("ok", {"rank": r}) for r in (1, 2, 4, 8, 16)]
    + [("kf-avg", {"rank": r}) for r in (2, 4, 8)]
    + [("kf", {}), ("uoro", {})]
    + [("tbptt", {"truncation": t, "window": w}) for t in (4, 16, 100) for w in ("block", "sliding")]
    + [("truncated-ok", {"rank": r}) for r in (1, 2, 4, 8, 16)]
    + [("snap1", {}), ("rflo", {})]
    + [("noisy-exact", {"noise": v}) for v in (0.01, 0.1, 1.0, 10.0)]
    + [("ngram", {"order": k}) for k in (1, 2, 3, 4, 5)]
)


def _distance(a: str, b: str) -> float:
    """Euclidean distance of two colours in RGB, 0..sqrt(3)."""
    return float(np.linalg.norm(np.subtract(to_rgb(a), to_rgb(b))))


def _distinct(s1: dict, s2: dict) -> bool:
    """Two styles a reader tells apart: different colours, or one colour with different line styles."""
    return _distance(s1["color"], s2["color"]) > 0.15 or s1["linestyle"] != s2["linestyle"]


def test_every_workbook_method_is_styled():
    seen = {m for m, _ in WORKBOOK}
    assert seen == set(METHODS)
    for method, params in WORKBOOK:
        style = method_style(method, **params)
        assert set(style) == {"color", "label", "linestyle"}
        to_rgb(style["color"])  # a valid colour


def test_labels_unique_and_readable():
    labels = [method_style(m, **p)["label"] for m, p in WORKBOOK]
    assert len(set(labels)) == len(labels)
    assert method_style("ok", rank=2)["label"] == "OK r=2"
    assert method_style("tbptt", truncation=16)["label"] == "TBPTT τ=16"
    assert method_style("tbptt", truncation=16, window="sliding")["label"] == "TBPTT τ=16 sliding"
    assert method_style("exact")["label"] == "exact RTRL"
    assert method_style("ngram", order=2)["label"] == "bigram"


def test_all_workbook_styles_pairwise_distinct():
    """Any two methods of the workbook can share a figure and still be told apart."""
    styles = [(m, p, method_style(m, **p)) for m, p in WORKBOOK]
    for (m1, p1, s1), (m2, p2, s2) in itertools.combinations(styles, 2):
        assert _distinct(s1, s2), f"{m1} {p1} and {m2} {p2} look alike: {s1} {s2}"


def test_families_differ_in_hue_and_ranks_in_shade():
    """Different families never share a colour; within a family a larger rank or τ is darker."""
    plain = [method_style(m, **p) for m, p in WORKBOOK if m not in ("ngram",)]
    by_family: dict[str, list[str]] = {}
    for (m, _), s in zip([w for w in WORKBOOK if w[0] != "ngram"], plain, strict=True):
        by_family.setdefault(m, []).append(s["color"])
    for f1, f2 in itertools.combinations(by_family, 2):
        for c1, c2 in itertools.product(by_family[f1], by_family[f2]):
            assert _distance(c1, c2) > 0.15, (f1, f2, c1, c2)
    for family, key, values in (("ok", "rank", (1, 2, 4, 8, 16)), ("tbptt", "truncation", (4, 16, 100))):
        brightness = [sum(to_rgb(method_style(family, **{key: v})["color"])) for v in values]
        assert np.all(np.diff(brightness) < 0), (family, brightness)


def test_styles_are_stable():
    """A method's colour depends on the method only, not on call order or on other methods drawn."""
    first = [method_style(m, **p) for m, p in WORKBOOK]
    again = [method_style(m, **p) for m, p in reversed(WORKBOOK)][::-1]
    assert first == again
    assert method_style("ok", rank=2)["color"] == "#4f9bcb"  # a fixed value: a change must be deliberate
    assert method_style("uoro")["color"] == "#d62728"


def test_run_style_reads_a_config():
    config = {"method": "ok", "rank": 2, "truncation": None, "seed": 0}
    assert run_style(config) == method_style("ok", rank=2)
    assert run_style({"method": "tbptt", "truncation": 4, "rank": None}) == method_style("tbptt", truncation=4)
    assert run_style({"method": "noisy-exact", "rel_var": 0.1}) == method_style("noisy-exact", noise=0.1)
    assert run_style({"method": "exact"}, markers=True)["marker"] == "o"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("lstm",), {}, ValueError, "method: expected one of"),
        (("ok",), {"rank": 0}, ValueError, "rank: expected a positive int"),
        (("ok",), {"rank": 1.5}, ValueError, "rank: expected a positive int"),
        (("ok",), {"rank": "2"}, TypeError, "rank: expected a positive int, got str"),
        (("tbptt",), {"truncation": 4, "window": "overlap"}, ValueError, "window: expected 'block' or 'sliding'"),
        (("ngram",), {}, ValueError, "order: expected"),
        (("ngram",), {"order": 7}, ValueError, "order: expected an n-gram order from 1 to 5"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        method_style(*args, **kwargs)


def test_run_style_needs_a_method():
    with pytest.raises(ValueError, match="config: expected a run config dict"):
        run_style({"rank": 2})


# --- the figure check ------------------------------------------------------------------------------------------

import matplotlib.pyplot as plt  # noqa: E402

from okcore.plotting import check_figure, place_legend  # noqa: E402

NS = np.array([16, 24, 32, 48, 64, 96, 128])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_check_figure_finds_colliding_tick_labels():
    """Custom ticks on a short log axis with matplotlib's minor labels left on: "3×10¹" lands on "32"."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.semilogx(NS, np.linspace(0.2, 1.0, NS.size), "o-")
    ax.set_xticks(NS, [str(n) for n in NS])
    problems = check_figure(fig)
    assert any("'32' overlaps tick label '3×10^1'" in p for p in problems), problems
    assert check_figure(fig, ticks=False) == []


def test_check_figure_finds_a_legend_on_data_and_clipped_points():
    fig, ax = plt.subplots(figsize=(5, 3))
    t = np.linspace(0, 1, 50)
    ax.plot(t, np.ones_like(t), label="flat line through the legend")
    ax.plot(t, t, label="rising")
    ax.set_ylim(0, 1.2)
    ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.83))
    assert any("legend covers data of 'flat line" in p for p in check_figure(fig))
    ax.set_ylim(0, 0.9)
    problems = check_figure(fig, legends=False)
    assert any("lie outside the axes' limits" in p and "'flat line" in p for p in problems), problems
    assert check_figure(fig, legends=False, clipping=False) == []


def test_check_figure_sees_a_line_pass_under_a_legend_between_two_points():
    """Two far-apart points joined by a line that crosses the legend box: no point inside, the segment is."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="center")
    assert any("'diagonal'" in p for p in check_figure(fig))
    ax.legend(loc="upper left")
    assert check_figure(fig) == []


def test_check_figure_ignores_spanning_lines_and_outside_legends():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.axhline(0.5, color="gray", label="reference")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    assert check_figure(fig) == []


def test_place_legend_finds_a_free_corner_or_goes_outside():
    fig, ax = plt.subplots(figsize=(5, 3))
    t = np.linspace(0, 1, 50)
    ax.plot(t, 1 - t, label="falling")
    legend = place_legend(ax)
    assert legend._loc == 1  # upper right: the first corner the line leaves free
    assert check_figure(fig) == []
    ax.plot(t, 0.5 + 0 * t, label="middle")
    ax.plot(t, t, label="rising")
    ax.plot([0, 1, 1, 0, 0], [0, 0, 1, 1, 0], label="frame")
    legend = place_legend(ax)
    assert legend.get_bbox_to_anchor().x0 > ax.bbox.x1  # nowhere inside is free: outside on the right
    assert check_figure(fig, ticks=False, clipping=False) == []


def test_place_legend_prefers_a_corner_clear_of_reference_bands():
    fig, ax = plt.subplots(figsize=(5, 3))
    t = np.linspace(0, 1, 50)
    ax.plot(t, 0.3 + 0.2 * t, label="data")
    ax.axhspan(0.8, 0.95, color="0.8", label="reference band")
    ax.axhline(0.9, color="k", label="reference")
    ax.set_ylim(0, 1)
    legend = place_legend(ax)
    assert legend._loc in (3, 4)  # a lower corner: the upper ones would cover the band
    assert check_figure(fig) == []


# --- every figure helper of okcore, drawn on representative data, passes the check -----------------------------


def _ok(fig, **kw):
    problems = check_figure(fig, **kw)
    assert problems == [], problems


def test_plotting_helpers_of_notebooks_01_and_02():
    from okcore.plotting import plot_gradient_by_lag, plot_scaling, plot_states, plot_truncation_bias

    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
    plot_states(np.tanh(rng.normal(size=(40, 16))), ax=axes[0], colorbar=False)
    plot_states(0.3 * np.tanh(rng.normal(size=(40, 16))), ax=axes[1])
    _ok(fig)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    taus = np.arange(1, 41)
    errors = np.r_[np.exp(-taus[:-1] / 6.0), 0.0]
    plot_truncation_bias(taus, errors, delay=8, ax=axes[0])
    norms = np.exp(-np.arange(40) / 10.0) * 0.3
    norms[8] = 0.33
    plot_gradient_by_lag(norms, delay=8, ax=axes[1], label="rows of W that read $x_t$")
    fig.tight_layout()
    _ok(fig)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    ns = np.array([32, 48, 64, 96, 128])
    times = 1e-3 * (ns / 32.0) ** 3.5
    plot_scaling(ns, ns**4 * times[-1] / ns[-1] ** 4, ax=axes[0], label="flop count (scaled)", style="s-")
    plot_scaling(ns, times, slopes=(3, 4), ax=axes[0], label="measured", ylabel="seconds per update")
    plot_scaling(ns, 8 * ns**3 / 1e6, slopes=(3,), ax=axes[1], label="bytes of G", ylabel="MB")
    fig.tight_layout()
    _ok(fig)


def test_plotting_helpers_of_notebook_12():
    from okcore.plotting import plot_method_vs_size, plot_time_vs_count

    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    for ax, (method, rank, p) in zip(
        axes.ravel(),
        [("exact", None, 4), ("kf", None, 3), ("ok", 2, 3), ("ok", 8, 3), ("uoro", None, 2), ("kf-avg", 8, 3)],
        strict=True,
    ):
        seconds = 5e-5 + 1e-12 * NS**p
        plot_time_vs_count(
            NS, seconds, NS.astype(float) ** p, method, rank, spread=(0.9 * seconds, 1.2 * seconds), slope=p, ax=ax
        )
        lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
        measured, scaled = lines["measured (median, quartiles)"], lines["flop count, scaled to meet at n = 128"]
        assert scaled[-1] == pytest.approx(measured[-1]) == pytest.approx(1e6 * seconds[-1])  # one unit: µs
    fig.tight_layout()
    for ax in axes.ravel():
        place_legend(ax, fontsize=8)
    _ok(fig)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for rank in (1, 2, 4, 8):
        plot_method_vs_size(NS, 20.0 * (16 / NS) ** 2 * rank**0.3, "ok", rank, ax=ax)
    ax.axhline(1.0, color="gray", lw=1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    _ok(fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(n) for n in NS]
    assert ax.xaxis.get_minor_locator().tick_values(16, 128) == []


def test_ngram_baselines():
    from okcore.plotting import plot_ngram_baselines

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 15000], [4.3, 3.0], **method_style("ok", rank=2))
    plot_ngram_baselines(ax, {1: 4.37, 2: 3.26, 3: 2.6})
    ax.set_ylim(2.4, 4.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    _ok(fig)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[1:] == ["unigram 4.37", "bigram 3.26", "trigram 2.60"]


def test_plot_groups_of_notebooks_10_and_11():
    """The cached runs as notebooks 10 and 11 draw them: each method keeps its colour across panels."""
    from okcore.train.results import data_path, load_groups, plot_groups

    groups = load_groups(data_path("copy"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    plot_groups(axes[0], groups, "T", labels=["exact RTRL", "OK r=4", "OK r=2", "OK r=1", "KF-avg r=4", "KF"])
    plot_groups(axes[1], groups, "T", labels=["exact RTRL", "OK r=2", "UORO", "TBPTT τ=4", "TBPTT τ=16"])
    colours = [{line.get_label().split(" (")[0]: line.get_color() for line in ax.get_lines()} for ax in axes]
    for label in ("exact RTRL", "OK r=2"):
        assert colours[0][label] == colours[1][label]
    assert colours[0]["OK r=2"] == method_style("ok", rank=2)["color"]
    for ax in axes:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    _ok(fig)
    from okcore.experiments.text import load_text_groups, plot_bpc

    groups = load_text_groups(data_path("text"))  # each method at its own rate: the text set's reader
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for ax, x in zip(axes, ("step", "cpu_s"), strict=True):
        plot_bpc(ax, groups, x=x)
    axes[1].set_xscale("log")
    assert {line.get_color() for line in axes[0].get_lines()} == {line.get_color() for line in axes[1].get_lines()}
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    _ok(fig)


def test_noise_explorer_figures():
    from okcore import explorer
    from okcore.widgets import color, compute_result, draw_noise, draw_size

    params = {
        "estimators": ("UORO", "KF", "KF-avg", "OK"),
        "rank": 2,
        "n_hidden": 8,
        "cell_type": "gated",
        "T": 20,
        "n_samples": 16,
        "seed": 0,
        "sweep": True,
    }
    result = compute_result(params)
    fig = draw_noise(result)
    _ok(fig)
    left, right = fig.axes[:2]
    ok_left = [line for line in left.get_lines() if line.get_label().startswith("OK")][0]
    ok_right = [line for line in right.get_lines() if line.get_label() == "OK"][0]
    assert ok_left.get_color() == ok_right.get_color() == color("OK", 2) == method_style("ok", rank=2)["color"]
    by_size = explorer.noise_vs_size(sizes=(4, 8), estimators=("UORO", "KF"), T=10, n_samples=8, seed=0)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    draw_size(ax, by_size)
    _ok(fig)


def test_demo_figures_of_notebooks_03_to_08():
    from okcore import KFRTRL, UORO, GatedCell, KFAverage
    from okcore.demos import kf, kronecker, ksums, ok_step, proof, uoro

    cell, xs = kronecker.random_network(n_hidden=6, T=20, seed=0, scale=0.5)
    sv = kronecker.kronecker_spectrum(cell, xs)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    rs = [1, 2, 4, 8]
    share = kronecker.top_share(sv, rs)
    kronecker.plot_top_share(share, rs, ax=axes[0])
    kronecker.plot_top_share(share, rs, ax=axes[1], log_tail=True)
    kronecker.plot_spectra(sv, [5, 20], ax=axes[2])
    fig.tight_layout()
    _ok(fig)
    by_size = uoro.noise_vs_size([4, 8], {"UORO": UORO, "KF-RTRL": KFRTRL}, T=20, n_samples=8, seed=0)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    uoro.plot_noise_vs_size([4, 8], by_size, ax=axes[0])
    uoro.plot_noise_vs_size([4, 8], {"UORO": by_size["UORO"]}, ax=axes[1], loglog=False, reference=False)
    fig.tight_layout()
    _ok(fig)
    assert axes[0].get_lines()[0].get_color() == method_style("uoro")["color"]
    assert axes[0].get_lines()[1].get_color() == method_style("kf")["color"]
    fig, ax = plt.subplots()
    t = np.arange(1, 31)
    uoro.plot_noise_over_time({"balanced": 20 + 0 * t, "no balancing": 7.0 * t}, ax=ax, logy=False)
    _ok(fig)
    rng = np.random.default_rng(60)
    cell8 = GatedCell(4, 8, rng)
    toks = ksums.random_tokens(12, 4, rng)
    errors = ksums.squared_errors(
        cell8,
        toks,
        {"KF": KFRTRL, "KF-avg r=2": (KFAverage, {"rank": 2}), "KF-avg r=4": (KFAverage, {"rank": 4})},
        50,
        rng,
    )
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ksums.plot_kf_avg_noise(errors, ax=ax)
    _ok(fig)
    assert [line.get_color() for line in ax.get_lines()] == [
        method_style("kf")["color"],
        method_style("kf-avg", rank=2)["color"],
        method_style("kf-avg", rank=4)["color"],
    ]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ksums.plot_scheme_variances(["KF merge (1,2)", "KF-avg", "random mixing 1"], [0.3, 0.65, 20.0], 0.041, ax=ax)
    fig.tight_layout()
    _ok(fig)
    noise = ok_step.split_noise(cell8, toks, [1, 2], 20, rng)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ok_step.plot_split_noise(noise, ax=ax)
    fig.tight_layout()
    _ok(fig)
    assert ax.get_lines()[0].get_color() == method_style("ok", rank=1)["color"]
    u, A, step = kf.kf_state_before(cell, xs, t=8, rng=np.random.default_rng(0))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    kf.plot_step_variance(u, A, step, ax=ax)
    _ok(fig)
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.2))
    proof.draw_explorer(proof.compute_explorer((3.0, 2.0, 1.5, 1.2, 0.4)), axes)
    fig.tight_layout()
    _ok(fig)


def test_rotated_tick_labels_are_compared_as_rotated_boxes():
    """Long labels rotated by 30°: their axis-aligned extents overlap, the glyphs' boxes do not, until the
    labels are crowded."""
    names = ["KF merge (1,2)", "KF merge (1,3)", "KF merge (2,3)", "KF-avg", "random mixing 1", "random mixing 2"]
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.bar(range(len(names)), np.arange(1, len(names) + 1))
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    fig.tight_layout()
    assert check_figure(fig) == []
    fig.set_size_inches(1.5, 3.4)
    assert any("overlaps tick label" in p for p in check_figure(fig))
