"""Approximations of RTRL. Unbiased: UORO, KF-RTRL, KF-avg (r averaged KF chains) and OK. Biased, deterministic:
TruncatedOK (OK's rank-r truncation), SnAp1 and RFLO. Controlled: NoisyExact (exact RTRL plus noise of a set size).

All share the :class:`okcore.estimator.Estimator` interface (``reset``, ``update``, ``influence``,
``gradient``); the unbiased ones draw their randomness only as ±1 signs from ``rng`` (a Generator, an integer seed
or a sign source).
"""

from okcore.approx.kf import KFRTRL, KFAverage, kf_step_variance
from okcore.approx.noisy import NoisyExact
from okcore.approx.ok import OK
from okcore.approx.rflo import RFLO
from okcore.approx.snap import SnAp1
from okcore.approx.truncated_ok import TruncatedOK
from okcore.approx.uoro import UORO

__all__ = ["KFAverage", "KFRTRL", "OK", "UORO", "NoisyExact", "RFLO", "SnAp1", "TruncatedOK", "kf_step_variance"]
