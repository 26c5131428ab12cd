"""Benchmark of the low-rank methods (issue 14): plain LINT fit vs the flow.

For each preset (N units, noise-free rates from a grid of initial conditions) it fits the
plain low-rank RNN and the loading distribution, expresses both in the true latent basis
(least-squares alignment ``M_fit A ≈ M_true`` of the same units; then ``n_true = n_fit A⁻ᵀ``
and ``z_true = z_fit A⁻ᵀ``) and reports Kim et al.'s distance Sinkhorn(m_inferred, m_true)
+ MSE(n, E_true[n|m]), the confusion matrix of the flow's distributions against every
preset's truth (normalised by its maximum), trajectory R², the dynamics of networks sampled
from the flow against the true network's (:func:`spikewire.score.lowrank.dynamics_signature`:
end-state radius, limit-cycle period) and times.

Usage: nice python benchmarks/bench_lowrank.py [--n 1000] [--grid 6] [--steps 50]
       [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from spikewire.infer.lowrank import fit_lowrank
from spikewire.infer.lowrank_flow import fit_loading_distribution
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.score.lowrank import (
    align_latent_basis,
    dynamics_signature,
    sinkhorn_divergence,
    sinkhorn_matrix,
    true_conditional_mean,
)
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank

PRESETS = ["quadstable", "bistable", "limit_cycle", "ring"]


def _sub(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    return x if x.shape[0] <= k else x[rng.choice(x.shape[0], k, replace=False)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--grid", type=int, default=6)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--flow-iters", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ridge", type=float, default=None,
                    help="ridge of the n targets (default: the method's)")
    ap.add_argument("--burn-in", type=int, default=None,
                    help="samples dropped per trial for the n targets (default: the method's)")
    ap.add_argument("--max-points", type=int, default=400,
                    help="points per cloud in the Sinkhorn divergence")
    ap.add_argument("--n-nets", type=int, default=10,
                    help="networks sampled from each flow for the dynamics check")
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS),
                    help="presets to run (the confusion matrix is over these only)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    presets = list(args.presets)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    truths = {p: lowrank_preset(p, args.n, seed=0) for p in presets}
    z_dyn = initial_grid(4, 2.4)
    out: dict = {"args": vars(args), "presets": {}}
    m_flow, m_units, n_post = {}, {}, {}
    for p in presets:
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
        m_units[p] = fit.m @ A
        n_plain = fit.n @ Ainv_t
        n_post[p] = dist.conditional_n(fit.m, fit.d, n_samples=16, seed=2).mean(0) @ Ainv_t
        m_flow[p] = dist.sample(max(1000, args.max_points), seed=3)["m"] @ A
        E = true_conditional_mean(net, m_units[p])
        plain_sk = sinkhorn_divergence(_sub(m_units[p], args.max_points, rng),
                                       _sub(net.m, args.max_points, rng))
        # dynamics: the true network and networks of N units sampled from the flow, from
        # the same initial latents (mapped into the fitted basis: z_fit = z_true Aᵀ)
        sig_true = dynamics_signature(net, z_dyn, n_steps=600, settle=300)
        sigs = []
        for k in range(args.n_nets):
            s = dist.sample(args.n, seed=100 + k)
            sampled = lowrank_network(s["m"], s["n"], d=s["d"], alpha=fit.alpha)
            sigs.append(dynamics_signature(sampled, z_dyn @ A.T, n_steps=600, settle=300))
        # reference spread: fresh networks of N units drawn from the *true* distribution
        ref = [dynamics_signature(lowrank_preset(p, args.n, seed=200 + k), z_dyn, n_steps=600,
                                  settle=300) for k in range(args.n_nets)]
        rad_ref = np.array([g["radius"] for g in ref])
        per_ref = np.array([g["period_s"] for g in ref])
        rad = np.array([g["radius"] for g in sigs])
        per = np.array([g["period_s"] for g in sigs])
        rad_ok = np.abs(rad / sig_true["radius"] - 1) <= 0.05
        res = {"r2_plain": fit.r2, "t_fit_s": t_fit, "t_flow_s": t_flow,
               "plain_sinkhorn": plain_sk,
               "plain_mse_n": float(np.mean((n_plain - E) ** 2)),
               "flow_mse_n": float(np.mean((n_post[p] - E) ** 2)),
               "mse_true_n_vs_E": float(np.mean((net.n - true_conditional_mean(
                   net, net.m)) ** 2)),
               "ridge_r2": info["ridge_r2"], "burn_in": info["burn_in"],
               "radius_true": sig_true["radius"], "radius_sampled": rad.tolist(),
               "frac_radius_within_5pct": float(rad_ok.mean()),
               "radius_true_resampled": rad_ref.tolist(),
               "frac_true_resampled_radius_within_5pct": float(np.mean(
                   np.abs(rad_ref / sig_true["radius"] - 1) <= 0.05)),
               "n_fixed_points_true": sig_true["n_fixed_points"],
               "n_fixed_points_sampled": [g["n_fixed_points"] for g in sigs],
               "period_true_s": sig_true["period_s"], "period_sampled_s": per.tolist()}
        if np.isfinite(sig_true["period_s"]):
            res["frac_period_within_5pct"] = float(np.mean(
                np.abs(per / sig_true["period_s"] - 1) <= 0.05))
            res["period_true_resampled_s"] = per_ref.tolist()
        out["presets"][p] = res
        print(p, json.dumps(res, default=float), flush=True)
    t0 = time.perf_counter()
    S = sinkhorn_matrix([_sub(m_flow[p], args.max_points, rng) for p in presets],
                        [_sub(truths[q].m, args.max_points, rng) for q in presets])
    mse = np.array([[np.mean((n_post[p] - true_conditional_mean(truths[q], m_units[p])) ** 2)
                     for q in presets] for p in presets])
    conf = S + mse
    out.update(sinkhorn=S.tolist(), mse_n=mse.tolist(), confusion_raw=conf.tolist(),
               confusion=(conf / conf.max()).tolist(),
               t_sinkhorn_s=time.perf_counter() - t0)
    print("Sinkhorn (rows: flow of, cols: truth of):\n", np.array2string(S, precision=3))
    print("MSE n:\n", np.array2string(mse, precision=3))
    print("confusion / max (max", round(float(conf.max()), 3), "):\n",
          np.array2string(conf / conf.max(), precision=3))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
