"""Reduced benchmark of the low-rank methods (issue 14): plain LINT fit vs the flow.

For each preset (N units, noise-free rates from a grid of initial conditions) it fits the
plain low-rank RNN and the loading distribution, expresses both in the true latent basis
(least-squares alignment of the fitted m to the true m of the same units) and reports
Kim et al.'s distance Sinkhorn(m_inferred, m_true) + MSE(n, E_true[n|m]), the confusion
matrix of the flow's distributions against every preset's truth, trajectory R² and times.

Usage: nice python benchmarks/bench_lowrank.py [--n 200] [--grid 6] [--steps 50]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from spikewire.infer.lowrank import fit_lowrank
from spikewire.infer.lowrank_flow import fit_loading_distribution, identifiability_report
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.score.lowrank import align_latent_basis, loading_distance, true_conditional_mean
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank

PRESETS = ["quadstable", "bistable", "limit_cycle", "ring"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--grid", type=int, default=6)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--flow-iters", type=int, default=800)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ridge", type=float, default=None,
                    help="ridge of the n targets (default: the method's)")
    ap.add_argument("--burn-in", type=int, default=None,
                    help="samples dropped per trial for the n targets (default: the method's)")
    ap.add_argument("--max-points", type=int, default=300,
                    help="points per cloud in the Sinkhorn divergence")
    ap.add_argument("--presets", default=",".join(PRESETS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    truths = {p: lowrank_preset(p, args.n, seed=0) for p in PRESETS}
    out, conf = {}, np.zeros((len(PRESETS), len(PRESETS)))
    for i, p in enumerate(PRESETS):
        if p not in args.presets.split(","):
            continue
        net = truths[p]
        act = simulate_lowrank(net, initial_grid(args.grid, 2.4), args.steps)
        t0 = time.perf_counter()
        fit = fit_lowrank(act.activity(), 2, n_restarts=1, n_iter=args.iters, seed=0)
        t_fit = time.perf_counter() - t0
        kw = {k: v for k, v in (("ridge", args.ridge), ("burn_in", args.burn_in))
              if v is not None}
        dist, info = fit_loading_distribution(fit, n_iter=args.flow_iters, seed=1, **kw)
        t_flow = time.perf_counter() - t0 - t_fit
        A = align_latent_basis(fit.m, net.m)
        Ainv_t = np.linalg.inv(A).T
        m_units = fit.m @ A
        n_plain = fit.n @ Ainv_t
        n_post = dist.conditional_n(fit.m, fit.d, n_samples=16, seed=2).mean(0) @ Ainv_t
        smp = dist.sample(1000, seed=3)
        m_flow = smp["m"] @ A
        plain = loading_distance(net, m_units, m_units, n_plain, max_points=args.max_points)
        flow = loading_distance(net, m_flow, m_units, n_post, max_points=args.max_points)
        for j, q in enumerate(PRESETS):
            conf[i, j] = loading_distance(truths[q], m_flow, m_units, n_post,
                                          max_points=args.max_points)["total"]
        # dynamics of a network sampled from the flow (1000 units), in the fitted basis
        s2 = dist.sample(1000, seed=4)
        sampled = lowrank_network(s2["m"], s2["n"], d=s2["d"], alpha=fit.alpha)
        z_end = simulate_lowrank(sampled, initial_grid(4, 2.4) @ np.linalg.inv(A), 300
                                 ).latents[:, -1] @ A
        z_true = simulate_lowrank(net, initial_grid(4, 2.4), 300).latents[:, -1]
        rep = identifiability_report(net.m, net.n)
        out[p] = {"r2_plain": fit.r2, "t_fit_s": t_fit, "t_flow_s": t_flow,
                  "plain": plain, "flow": flow, "ridge_r2": info["ridge_r2"],
                  "radius_end_sampled": float(np.median(np.linalg.norm(z_end, axis=1))),
                  "radius_end_true": float(np.median(np.linalg.norm(z_true, axis=1))),
                  "true_residual_fraction": rep["unidentified"][
                      "residual_variance_fraction"].tolist(),
                  "mse_true_n_vs_E": float(np.mean((net.n - true_conditional_mean(
                      net, net.m)) ** 2))}
        print(p, json.dumps(out[p], default=float), flush=True)
    conf_n = conf / conf.max()
    print("confusion (rows: inferred from, cols: truth of), normalised by max:")
    print(PRESETS)
    print(np.array2string(conf_n, precision=2))
    print("raw max", conf.max())


if __name__ == "__main__":
    main()
