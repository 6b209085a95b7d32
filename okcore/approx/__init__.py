"""Unbiased approximations of RTRL: UORO, KF-RTRL, KF-avg (r averaged KF chains) and OK.

All share the :class:`okcore.estimator.Estimator` interface (``reset``, ``update``, ``influence``,
``gradient``) and draw their randomness only as ±1 signs from ``rng`` (a Generator, an integer seed or a sign source).
"""

from okcore.approx.kf import KFRTRL, KFAverage, kf_step_variance
from okcore.approx.ok import OK
from okcore.approx.uoro import UORO

__all__ = ["KFAverage", "KFRTRL", "OK", "UORO", "kf_step_variance"]
