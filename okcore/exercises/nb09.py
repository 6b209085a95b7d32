"""Exercises of notebook 09 (noise explorer): predictions about the noise of the estimators, made before the
dashboard or the cell that measures them.

All of them are about the relative variance averaged over t = 1..T at the setting ``SETTING`` (the dashboard's default
view), with one control changed where the question says so. 09.1 (the order of the four estimators) is checked
against the measurement; 09.2 and 09.4 against ranges that follow from the argument the question asks for (the
notebook measures the values and asserts that they lie in these ranges); 09.3 (the number of KF chains that match
OK) against the number that the readout and KF-avg's 1/r law give, within 10 %.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from okcore import explorer
from okcore.exercises import exercise

#: The setting every exercise starts from (the dashboard's default view).
SETTING: dict[str, Any] = {"cell_type": "gated", "n_hidden": 16, "T": 50, "n_samples": 64, "seed": 0}
RANK = 2
_RTOL = 0.01


def mean_noise(name: str, rank: int = RANK, **changes: Any) -> float:
    """Relative variance of one estimator averaged over t, at ``SETTING`` with ``changes`` applied."""
    setting = {**SETTING, **changes}
    return float(np.mean(explorer.noise_curve(name, rank, **setting)))


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, numbers.Real) and math.isfinite(x)


def _close(got: float, want: float, rtol: float = _RTOL) -> bool:
    return abs(got - want) <= rtol * abs(want)


# --- 09.1: from noisiest to quietest --------------------------------------------------------------------------


def _reference_order() -> list[str]:
    means = {name: mean_noise(name) for name in explorer.ESTIMATORS}
    return sorted(means, key=means.get, reverse=True)


@exercise("09.1", "the estimators from noisiest to quietest", _reference_order)
def _check_order(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return False, f"Give a list of the four names {list(explorer.ESTIMATORS)}, noisiest first."
    got = list(answer)
    if sorted(map(str, got)) != sorted(explorer.ESTIMATORS):
        return False, f"Give each of {list(explorer.ESTIMATORS)} exactly once."
    want = _reference_order()
    if got == want:
        return True, ""
    if got == want[::-1]:
        return False, "That is quietest first; the question asks for the noisiest first."
    return False, "Not that order. Compare the 'mean over t' column of the readout at the default view (r = 2)."


# --- 09.4: UORO and KF when n doubles (a prediction) ------------------------------------------------------

# Accepted predictions. UORO starts at V_1 = n − 1, which goes from 15 to 31 (a factor 2.07), and its noise stays near
# a multiple of that floor; KF stores F_t exactly and its noise stays of order one.
DOUBLING_RANGES = {"UORO": (1.6, 2.6), "KF": (0.5, 2.0)}


def _reference_doubling() -> dict[str, float]:
    return {name: mean_noise(name, n_hidden=32) / mean_noise(name, n_hidden=16) for name in ("UORO", "KF")}


@exercise("09.4", "predict: UORO and KF when n doubles", _reference_doubling)
def _check_doubling(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or set(answer) != {"UORO", "KF"}:
        return False, 'Give a dict {"UORO": factor, "KF": factor}: noise at n = 32 over noise at n = 16.'
    if not all(_is_number(v) for v in answer.values()):
        return False, "The two factors must be finite numbers."
    messages = []
    low, high = DOUBLING_RANGES["UORO"]
    if not low <= answer["UORO"] <= high:
        messages.append(
            "UORO: V_1 = n − 1 goes from 15 to 31 when n doubles, and UORO's noise stays near a multiple of that floor."
        )
    low, high = DOUBLING_RANGES["KF"]
    if not low <= answer["KF"] <= high:
        messages.append(
            "KF: it stores G_1 = x̂_1 ⊗ D_1 exactly and only merges two products per step; does anything in that grow "
            "with n, relative to ‖G_t‖²?"
        )
    if messages:
        return False, " ".join(messages)
    return True, "A sound prediction; the cells below measure both."


# --- 09.2: OK from r = 2 to r = 4 (a prediction) ---------------------------------------------------------------

# Accepted predictions: more than KF-avg's factor 2, because OK mixes only the tail of a fast-decaying spectrum (at
# r = 2 and r = 4 the top terms of notebook 03's network carry 99% and 99.9%); any factor from 5 up is sound.
OK_DROP_RANGE = (5.0, 1e4)


def _reference_ok_drop() -> float:
    return mean_noise("OK", 2) / mean_noise("OK", 4)


@exercise("09.2", "predict: how much OK's noise drops from r = 2 to r = 4", _reference_ok_drop)
def _check_ok_drop(answer: Any) -> tuple[bool, str]:
    if not _is_number(answer):
        return False, "Give one number: your predicted factor, OK's noise at r = 2 divided by its noise at r = 4."
    low, high = OK_DROP_RANGE
    if low <= answer <= high:
        return True, "A sound prediction; the rank sweep below measures it."
    if 0 < answer < 1:
        return False, "That would be an increase: give the noise at r = 2 divided by the noise at r = 4 (a factor > 1)."
    if answer > high:
        return False, "More than ten thousand? OK still has to mix the smallest values at r = 4."
    return False, (
        "A factor of about 2 is what averaging gives (KF-avg). OK keeps the r largest singular values exactly and "
        "mixes only the tail; how fast does the Kronecker spectrum of G_t fall (notebook 03)?"
    )


# --- 09.3: how many KF chains match OK at r = 2 ---------------------------------------------------------------

_CHAINS_RTOL = 0.1


def _reference_chains() -> int:
    # KF-avg(r) averages r independent KF chains, so its variance is KF's divided by r.
    return math.ceil(mean_noise("KF") / mean_noise("OK", 2))


@exercise("09.3", "KF chains needed to match OK at r = 2", _reference_chains)
def _check_chains(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return False, "Give a whole number of chains r."
    want = _reference_chains()
    if abs(int(answer) - want) <= max(1, round(_CHAINS_RTOL * want)):
        return True, "The next cell runs KF-avg with that many chains."
    if int(answer) <= 8:
        return False, "Far more than the slider goes: KF-avg(r) has variance KF / r. Solve KF / r <= OK(r = 2)."
    return False, "Use KF-avg(r) = KF / r with the 'mean over t' values of KF and of OK at r = 2 in the readout."
