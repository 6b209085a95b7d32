"""Exercises of notebook 09 (noise explorer): reading the noise of the estimators off the dashboard.

Every answer can be read from the dashboard (the readout's "mean over t" column, which the rank plot shows too) or
computed with :func:`okcore.explorer.noise_curves`; all of them use the relative variance averaged over t = 1..T at
the setting ``SETTING`` (the dashboard's default view), with one control changed where the question says so. The
checkers compare with fresh measurements by :mod:`okcore.explorer`. Numbers read off the readout carry 3 significant
digits, so ratios are accepted within 1 %.
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


# --- 09.4: UORO and KF when n doubles -------------------------------------------------------------------------


def _reference_doubling() -> dict[str, float]:
    return {name: mean_noise(name, n_hidden=32) / mean_noise(name, n_hidden=16) for name in ("UORO", "KF")}


@exercise("09.4", "UORO and KF when n doubles", _reference_doubling)
def _check_doubling(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or set(answer) != {"UORO", "KF"}:
        return False, 'Give a dict {"UORO": ratio, "KF": ratio} of noise at n = 32 over noise at n = 16.'
    if not all(_is_number(v) for v in answer.values()):
        return False, "The two ratios must be finite numbers."
    want = _reference_doubling()
    wrong = [name for name in want if not _close(answer[name], want[name])]
    if not wrong:
        return True, ""
    if all(_close(1.0 / answer[name], want[name]) for name in wrong if answer[name] != 0):
        return False, "Those look inverted: divide the noise at n = 32 by the noise at n = 16."
    return False, f"Not yet right for {', '.join(wrong)}: use the mean over t at n = 16 and at n = 32, r = {RANK}."


# --- 09.2: OK from r = 2 to r = 4 -----------------------------------------------------------------------------


def _reference_ok_drop() -> float:
    return mean_noise("OK", 2) / mean_noise("OK", 4)


@exercise("09.2", "how much OK's noise drops from r = 2 to r = 4", _reference_ok_drop)
def _check_ok_drop(answer: Any) -> tuple[bool, str]:
    if not _is_number(answer):
        return False, "Give one number: OK's noise at r = 2 divided by its noise at r = 4."
    want = _reference_ok_drop()
    if _close(answer, want):
        return True, ""
    if answer != 0 and _close(1.0 / answer, want):
        return False, "That is the inverse: divide the noise at r = 2 by the noise at r = 4 (a factor > 1)."
    if _close(answer, 2.0, 0.2):
        return False, "A factor of about 2 is what averaging would give (KF-avg); OK drops much faster. Measure it."
    return False, "Read the 'mean over t' of OK at r = 2 and at r = 4 and divide."


# --- 09.3: how many KF chains match OK at r = 2 ---------------------------------------------------------------


def _reference_chains() -> int:
    # KF-avg(r) averages r independent KF chains, so its variance is KF's divided by r.
    return math.ceil(mean_noise("KF") / mean_noise("OK", 2))


@exercise("09.3", "KF chains needed to match OK at r = 2", _reference_chains)
def _check_chains(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return False, "Give a whole number of chains r."
    want = _reference_chains()
    if abs(int(answer) - want) <= max(1, round(0.02 * want)):
        return True, f"(The reference is {want}: {want / 2:.3g} times the memory of OK at r = 2.)"
    if int(answer) <= 8:
        return False, "Far more than the slider goes: KF-avg(r) has variance KF / r. Solve KF / r <= OK(r = 2)."
    return False, "Use KF-avg(r) = KF / r with the mean-over-t values of KF and of OK at r = 2."
