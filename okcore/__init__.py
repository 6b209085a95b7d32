"""okcore: real-time recurrent learning and its unbiased approximations, in numpy.

Notation and shapes follow the workbook: x̂_t = [x_t; h_{t-1}; 1] of length K, weights W of shape (K, k),
state h_t of size n, influence matrix G_t = ∂h_t/∂W of shape (n, K, k), with a leading batch axis B.
"""

from okcore.approx import KFRTRL, OK, RFLO, UORO, KFAverage, NoisyExact, SnAp1, TruncatedOK
from okcore.bptt import bptt, truncated_bptt, unroll
from okcore.cells import GatedCell, Step, TanhCell
from okcore.estimator import Estimator, KroneckerSumEstimator
from okcore.readout import Readout
from okcore.rtrl import ExactRTRL

__version__ = "0.1.0"

__all__ = [
    "Estimator",
    "KFAverage",
    "KFRTRL",
    "OK",
    "UORO",
    "NoisyExact",
    "RFLO",
    "SnAp1",
    "TruncatedOK",
    "ExactRTRL",
    "GatedCell",
    "KroneckerSumEstimator",
    "Readout",
    "Step",
    "TanhCell",
    "bptt",
    "truncated_bptt",
    "unroll",
    "__version__",
]
