"""Diagnostic for the ring's failures against the truth at N = 1,000 (issue 14, helper
lrclose): the same 100 networks of 1,000 units sampled from the ring's flow (counts seed 0,
session 20's options; seeds 300–399), with the sampled biases d and with d set to 0 (every
preset has d = 0, so the true field is odd and a true network's end states come in ± pairs:
largest gap ≤ 180°), judged by the rules of ``bench_lowrank_close_truthN.py judge``.
Setting d = 0 uses the truth's knowledge; it isolates the cause, it is not a method.

Usage: python benchmarks/bench_lowrank_close_ring_d0.py JUDGE_DIR [FIT_CACHE]
"""

import json
import pickle
import sys
from pathlib import Path

import numpy as np
from bench_lowrank_close_truthN import KEY, _clean, passes
from bench_lowrank_spikes import dynamics_summary

from spikewire.infer.lowrank_flow import fit_loading_distribution
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.score.lowrank import align_latent_basis
from spikewire.simulate.lowrank import initial_grid


def main() -> None:
    judge = json.loads((Path(sys.argv[1]) / "judge.json").read_text())["ring"]
    cache = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/lrring/fitcache")
    with open(cache / KEY.format("ring", ""), "rb") as fh:
        fit = pickle.load(fh)[0]
    dist, _ = fit_loading_distribution(fit, n_iter=6000, targets_from="units",
                                       coupling="ot", smooth=True, seed=1)
    A = align_latent_basis(fit.m, lowrank_preset("ring", 1000, seed=0).m)
    rows: dict[str, list] = {"d": [], "d0": []}
    for k in range(100):
        s = dist.sample(1000, seed=300 + k)
        for key, d in (("d", s["d"]), ("d0", np.zeros_like(s["d"]))):
            sn = lowrank_network(s["m"], s["n"], d=d, alpha=fit.alpha)
            rows[key].append(_clean(dynamics_summary(sn, "ring", initial_grid(9, 3.0) @ A.T,
                                                     A.T)))
    for key, r in rows.items():
        gaps = np.array([g["ring"]["max_gap_deg"] for g in r])
        rates = {n: float(np.mean([passes(g, "ring", judge["rule_" + n]["rule"]) for g in r]))
                 for n in ("A", "B", "A0", "B0")}
        print(key, rates, "gap > 180°:", float(np.mean(gaps > 180.0)), "gap 50/95/100 %:",
              np.round(np.quantile(gaps, [0.5, 0.95, 1.0]), 1).tolist())


if __name__ == "__main__":
    main()
