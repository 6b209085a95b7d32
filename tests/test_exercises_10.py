"""The checkers of notebook 10 accept the reference answers and reject typical wrong ones, saying why."""

from __future__ import annotations

import pytest

from okcore.exercises import check, solution


def test_10_1_steps_per_level(capsys):
    assert check("10.1", solution("10.1"))
    assert solution("10.1") == 693
    assert not check("10.1", 692)
    assert "Off by one" in capsys.readouterr().out
    assert not check("10.1", 1897)  # the first level, from avg = 1
    assert "very first level" in capsys.readouterr().out
    assert not check("10.1", 693.0)
    assert "whole number" in capsys.readouterr().out


def test_10_2_fraction_inside(capsys):
    assert check("10.2", solution("10.2"))
    assert not check("10.2", lambda d, tau: (tau - d) / tau)  # negative once d > tau
    assert "cannot be negative" in capsys.readouterr().out
    assert not check("10.2", lambda d, tau: max(0, tau - d + 1) / tau)
    assert "Off by one" in capsys.readouterr().out
    assert not check("10.2", 0.5)
    assert "function" in capsys.readouterr().out


@pytest.mark.parametrize("transform", [lambda order: order[::-1], lambda order: [order[1], order[0], *order[2:]]])
def test_10_3_cosine_order(capsys, transform):
    order = solution("10.3")
    assert len(order) == 6 and not any(label.startswith("TBPTT") for label in order)
    assert check("10.3", order)
    assert not check("10.3", transform(order))
    assert "wrong order" in capsys.readouterr().out
    assert not check("10.3", order[:-1])
    assert "exactly once" in capsys.readouterr().out
