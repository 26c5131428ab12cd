"""The threshold of ``tails="auto"`` (issue 14): Student-t degrees of freedom of loadings.

Two parts, printed as rows:

1. ``draws``: the maximum-likelihood Student-t degrees of freedom (location 0, unit-scaled
   coordinates, :func:`scipy.stats.t.fit`) of ``--reps`` independent columns of ``n``
   draws from a Gaussian and from Student-t with 8, 5 and 3 degrees of freedom, at n = 200
   and 1,000: the share of columns at or below 20, 10 and 8 degrees of freedom (the share
   that ``tails="auto"`` would map at that threshold);
2. ``fits`` (``--fits GLOB ...``): the same fit on each coordinate of the fitted m of
   cached front-end fits (pickles of :class:`~spikewire.infer.lowrank.LowRankFit`, or
   dicts / tuples holding one, as written by ``bench_lowrank_spikes.py --fit-cache`` and
   ``bench_lowrank_close_heavy.py``).

Usage: python benchmarks/bench_lowrank_tail_threshold.py [--reps 150]
       [--fits '/tmp/lrspk/fit/*ref400*' '/tmp/heavycache/*ref400*']
"""

from __future__ import annotations

import argparse
import glob
import json
import pickle

import numpy as np
from scipy.stats import t as student_t


def dof(x: np.ndarray) -> float:
    z = (x - x.mean()) / x.std()
    return float(student_t.fit(z, floc=0.0)[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=150)
    ap.add_argument("--fits", nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    for n in (200, 1000):
        for nu in (np.inf, 8, 5, 3):
            d = np.array([dof(rng.standard_normal(n) if nu == np.inf
                              else rng.standard_t(nu, n)) for _ in range(args.reps)])
            print(json.dumps({"part": "draws", "n": n, "true_df": str(nu),
                              "reps": args.reps,
                              **{f"share_le_{k}": float(np.mean(d <= k)) for k in (20, 10, 8)}}),
                  flush=True)
    for pattern in args.fits:
        for path in sorted(glob.glob(pattern)):
            with open(path, "rb") as f:
                obj = pickle.load(f)
            fit = obj if hasattr(obj, "m") else (obj["fit"] if isinstance(obj, dict) else obj[0])
            print(json.dumps({"part": "fits", "file": path.rsplit("/", 1)[-1],
                              "df": [round(dof(fit.m[:, j]), 1) for j in range(fit.m.shape[1])]}),
                  flush=True)


if __name__ == "__main__":
    main()
