"""The earlier Sinkhorn estimator, averaged: K' draws of (400 flow samples, 400 true units).

lrquad3's figures used one draw of 400 random flow samples against 400 random units of the
true network; its draw-to-draw noise (±0.004–0.008) was as large as the differences it
measured, and its expectation carries the finite-sample floor of 400-point clouds. This
averages that estimator over ``--draws`` independent subsamples (seeded; flow samples drawn
from the K draws of N that ``bench_lowrank_spikes.py --save-draws`` stored) and reports the
mean and its standard error on the diagonal, next to the all-units estimator (the same
files); with ``--floor``, the floor itself: the same estimator between 400 true units and
400 units of another network drawn from the same distribution (seeds 1000 + j), the
finite-sample bias of 400-point clouds.

Usage: python benchmarks/bench_lowrank_quad4_sub400.py DIR [--draws 16] [--out s.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import sinkhorn_divergence

PRESETS = ["quadstable", "bistable", "limit_cycle", "ring"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("draws_dir")
    ap.add_argument("--draws", type=int, default=16)
    ap.add_argument("--k", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=256)
    ap.add_argument("--counts-seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--presets", nargs="+", default=PRESETS, choices=PRESETS)
    ap.add_argument("--floor", action="store_true",
                    help="also the floor: 400 true units against 400 of another network")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = {"args": vars(args), "presets": {}}
    for p in args.presets:
        f = Path(args.draws_dir) / f"{p}_r{args.repeats}_c{args.counts_seed}.npz"
        if not f.exists():
            print(p, "missing", f)
            continue
        z = np.load(f)
        pool = z["m_draws"].reshape(-1, z["m_draws"].shape[-1])
        truth = lowrank_preset(p, args.n, seed=args.seed).m
        rs = np.random.default_rng(12)
        vals = np.array([sinkhorn_divergence(pool[rs.choice(len(pool), args.k, replace=False)],
                                             truth[rs.choice(len(truth), args.k,
                                                             replace=False)])
                         for _ in range(args.draws)])
        r = {"sub_mean": float(vals.mean()),
             "sub_se": float(vals.std(ddof=1) / np.sqrt(vals.size)),
             "sub_sd_one_draw": float(vals.std(ddof=1)),
             "all_units": float(z["flow_sinkhorn"])}
        if args.floor:
            fl = np.array([sinkhorn_divergence(
                truth[rs.choice(len(truth), args.k, replace=False)],
                lowrank_preset(p, args.n, seed=1000 + j).m[rs.choice(args.n, args.k,
                                                                     replace=False)])
                for j in range(args.draws)])
            r.update(floor_mean=float(fl.mean()),
                     floor_se=float(fl.std(ddof=1) / np.sqrt(fl.size)))
        out["presets"][p] = r
        print(p, json.dumps(r), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
