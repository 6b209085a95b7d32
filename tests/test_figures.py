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
