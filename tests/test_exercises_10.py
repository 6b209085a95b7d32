"""The checkers of notebook 10 accept the reference answers and reject typical wrong ones, saying why; no message
for a wrong answer prints the reference answer of a question with one right answer."""

from __future__ import annotations

import pytest

import okcore.exercises.nb10 as nb10
from okcore.exercises import accepted, check, solution


def verdict(key, answer, capsys):
    ok = check(key, answer)
    return ok, capsys.readouterr().out


def test_10_1_steps_per_level(capsys):
    ok, out = verdict("10.1", solution("10.1"), capsys)
    assert ok and "correct. 0.3 · 0.999^693 < 0.15 first holds at t = 693." in out
    assert solution("10.1") == 693
    for wrong, message in [
        (692, "Off by one"),
        (1897, "very first level"),  # from avg = 1
        (1896, "very first level"),
        (700, "Solve 0.3 · 0.999^t < 0.15 for the smallest integer t."),
        (693.0, "Give a whole number of steps, got float."),
        (True, "Give a whole number of steps, got bool."),
        ("693", "Give a whole number of steps, got str."),
    ]:
        ok, out = verdict("10.1", wrong, capsys)
        assert not ok and message in out, (wrong, out)
        assert "693" not in out.split("not yet.", 1)[1], (wrong, out)


def test_10_1_measured_gaps_match_the_bound():
    fewest = solution("10.1")
    gaps = nb10.measured_steps_per_level(levels=3)
    assert len(gaps) == 3 and all(fewest <= g <= fewest + 12 for g in gaps)


def test_10_2_fraction_inside(capsys):
    ok, out = verdict("10.2", solution("10.2"), capsys)
    assert ok and "Checked on 25 cases against counting over whole windows." in out
    for wrong, message in [
        (lambda d, tau: (tau - d) / tau, "A share cannot be negative"),  # negative once d > tau
        (lambda d, tau: max(0, tau - d + 1) / tau, "Off by one"),
        (lambda d, tau: max(0, tau - d) // tau, "// rounds down"),
        (lambda d, tau: 1 - max(0, tau - d) / tau, "its complement"),
        (lambda d, tau: 0.5, "but counting steps gives"),
        (lambda d, tau: None, "returned None; expected a number. Does it end with return?"),
        (lambda d, tau: "a half", "returned str; expected a number."),
        (lambda d, tau: float("nan"), "returned the number nan; expected a number."),
        (lambda d, tau: d / (tau - tau), "Your function fraction_inside raised an error"),
        (0.5, "Give a function fraction_inside(d, tau) that returns a number, got the number 0.5."),
    ]:
        ok, out = verdict("10.2", wrong, capsys)
        assert not ok and message in out, (message, out)


def test_10_2_accepts_an_array_of_one_number(capsys):
    import numpy as np

    ok, _ = verdict("10.2", lambda d, tau: np.array([max(0, tau - d) / tau]), capsys)
    assert ok


@pytest.mark.parametrize("transform", [lambda order: order[::-1], lambda order: [order[1], order[0], *order[2:]]])
def test_10_3_cosine_order(capsys, transform):
    order = solution("10.3")
    assert len(order) == 6 and not any(label.startswith("TBPTT") for label in order)
    ok, out = verdict("10.3", order, capsys)
    assert ok and out.rstrip().endswith("correct.")
    assert accepted("10.3") == order
    ok, out = verdict("10.3", transform(order), capsys)
    assert not ok and "neighbouring pair(s) in the wrong order, e.g." in out
    for wrong in (order[:-1], [*order[:-1], order[0]], [*order, "exact RTRL"]):
        ok, out = verdict("10.3", wrong, capsys)
        assert not ok and "exactly once" in out
    for wrong in (" ".join(order), 3):
        ok, out = verdict("10.3", wrong, capsys)
        assert not ok and "Give a list of the labels" in out, out


def test_unanswered_exercises_wait(capsys):
    for key in ("10.1", "10.2", "10.3"):
        ok, out = verdict(key, ..., capsys)
        assert not ok and "not answered yet" in out
