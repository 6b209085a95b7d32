"""Print the relative variance E‖G̃_t − G_t‖²/‖G_t‖² of UORO, KF, KF-avg(r) and OK(r) at a few times.

Usage: python benchmarks/noise_table.py [--n 16] [--T 60] [--samples 100] [--seed 0]

W is fixed (no learning); the network is a gated cell with W ~ N(0, 0.3²) on a random one-hot sequence.
"""

from __future__ import annotations

import argparse

import numpy as np

import okcore
from okcore.noise import variance_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="hidden units")
    parser.add_argument("--T", type=int, default=60, help="sequence length")
    parser.add_argument("--samples", type=int, default=100, help="independent runs per estimator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ranks", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--times", type=int, nargs="+", default=[10, 30, 60])
    args = parser.parse_args()
    table = variance_table(args.n, args.T, args.samples, args.seed, tuple(args.ranks), tuple(args.times))
    print(
        f"okcore {okcore.__version__}, numpy {np.__version__}; n={args.n}, T={args.T}, "
        f"samples={args.samples}, seed={args.seed}"
    )
    header = "| method | " + " | ".join(f"t={t}" for t in args.times) + " |"
    print(header)
    print("|" + "---|" * (len(args.times) + 1))
    for name, values in table.items():
        print(f"| {name} | " + " | ".join(f"{v:.3g}" for v in values) + " |")


if __name__ == "__main__":
    main()
