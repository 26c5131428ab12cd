"""The flow options against the defaults on a preset they were not tuned on (issue 14,
helper lrclose, session 21).

``heavy_tailed`` (Student-t m, ν = 3, ring-like C = 1.6 I) at N = 1,000 from Poisson spikes
exactly as ``bench_lowrank_spikes.py`` draws them (5–20 Hz, 10-ms bins, 6 × 6 grid of
initial latents on [−2.4, 2.4]², 50 steps, 256 repeats pooled = 4,608 s; front end 300 Adam
iterations, 1 restart), three settings of the front end + flows:

- ``defaults``: ``refine_iter=0``, ``targets_from="flow"``, ``coupling="independent"``,
  ``smooth=False``, 3,000 flow iterations (LowRankFlow's defaults from session 18 to 35);
- ``options``: ``refine_iter=400``, ``targets_from="units"``, ``coupling="ot"``,
  ``smooth=True`` (gain refit on), 6,000 flow iterations (session 20's setting).
- ``flow_options``: the flows of ``options`` on the Adam-only front end (``refine_iter=0``),
  LowRankFlow's defaults since session 36 (``benchmarks/results/lrdefaults36.md``);
- ``populations`` / ``populations_refine``: ``flow_options`` / ``options`` with
  ``n_prior="populations"`` (session 37, ``benchmarks/results/lrprior37.md``);
  ``populations_refine_tails`` adds ``tails="auto"``.

Scores (true latent basis, :func:`align_latent_basis` on the fitted units): distance
Sinkhorn(m) (mean of K = 4 draws of 1,000 flow samples against the 1,000 true units) +
MSE(n_post, E_true[n|m]) at the fitted units; held-out trajectory R² (16 initial latents off
the grid, 100 steps) of the plain fit and of 5 networks of 10,000 units sampled from the
flow; their dynamics against the data network (ring manifold check with the ring preset's
calibrated tolerances, stable fixed points); Hill tail index of |m| (top 10 %, pooled
coordinates) of the flow's samples (1,000 and 20,000), the fitted units and the truth.

Usage: python benchmarks/bench_lowrank_close_heavy.py SEED [SEED ...] --out r.json
       [--fit-cache DIR] [--ring-ref /tmp/lrring/refcache/ref_ring_s10000_k5_r40.pkl | none]
       [--samples K] [--settings defaults,options,flow_options] [--biases fit|zero]
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
from bench_lowrank_spikes import (
    GAIN,
    OFFSET,
    dynamics_summary,
    heldout_r2,
    matches,
)

from spikewire.infer.lowrank import fit_lowrank
from spikewire.infer.lowrank_flow import fit_loading_distribution
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.score.lowrank import (
    align_latent_basis,
    hill_tail_index,
    sinkhorn_mean,
    true_conditional_mean,
)
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank

SETTINGS = {
    "defaults": dict(refine_iter=0, targets_from="flow", coupling="independent",
                     smooth=False, n_iter=3000),
    "options": dict(refine_iter=400, targets_from="units", coupling="ot", smooth=True,
                    n_iter=6000),
    # the flow's options on the Adam-only front end (session 36)
    "flow_options": dict(refine_iter=0, targets_from="units", coupling="ot", smooth=True,
                         n_iter=6000),
    # session 37: the population prior of the targets of n, without and with L-BFGS
    "populations": dict(refine_iter=0, targets_from="units", coupling="ot", smooth=True,
                        n_iter=6000, n_prior="populations"),
    "populations_refine": dict(refine_iter=400, targets_from="units", coupling="ot",
                               smooth=True, n_iter=6000, n_prior="populations"),
    # LowRankFlow's defaults since session 37 with the tail-preserving map of the m flow
    "populations_refine_tails": dict(refine_iter=400, targets_from="units", coupling="ot",
                                     smooth=True, n_iter=6000, n_prior="populations",
                                     tails="auto"),
}
REPEATS, GRID, STEPS = 256, 6, 50


def reference_dynamics(net, ring_tol: dict):
    """The data network's dynamics the sampled networks are judged against: the start
    grid, its dynamics summary, the reference for ``matches``, 16 held-out initial
    conditions (seed 7) and the true activity from them (100 steps)."""
    starts = initial_grid(9, 3.0)
    g_net = dynamics_summary(net, "ring", starts, np.eye(2))
    ref_net = {"n_stable_fp": g_net["n_stable_fp"], "fp_radii": g_net["fp_radii"],
               "period_s": g_net["period_s"], "ring_radius": g_net["ring"]["radius_median"],
               "ring_tol": ring_tol}
    z_ho = np.random.default_rng(7).uniform(-2.4, 2.4, (16, 2))
    a_true = simulate_lowrank(net, z_ho, 100).activity()
    return starts, g_net, ref_net, z_ho, a_true


def run_seed(seed: int, args, ring_tol: dict) -> dict:
    net = lowrank_preset("heavy_tailed", 1000, seed=seed)
    phi = simulate_lowrank(net, initial_grid(GRID, 2.4), STEPS).activity()
    counts = np.random.default_rng(seed).poisson(
        REPEATS * (OFFSET + GAIN * phi) * net.dt).astype(float)
    starts, g_net, ref_net, z_ho, a_true = reference_dynamics(net, ring_tol)
    out = {"seed": seed, "network": {k: v for k, v in g_net.items()},
           "hill_m_truth_units": hill_tail_index(net.m),
           "hill_m_truth_100k": hill_tail_index(
               lowrank_preset("heavy_tailed", 100_000, seed=1000 + seed).m),
           "n_spikes": int(counts.sum())}
    for name in args.settings.split(","):
        st = SETTINGS[name]
        c0 = time.process_time()
        cache = None if args.fit_cache is None else Path(args.fit_cache) / (
            f"heavy_n1000_r{REPEATS}_i300_ref{st['refine_iter']}_s{seed}"
            f"{'' if args.biases == 'fit' else '_' + args.biases}.pkl")
        if cache is not None and cache.exists():
            with open(cache, "rb") as fh:
                fit = pickle.load(fh)
        else:
            fit = fit_lowrank(counts, 2, observation="poisson", rate_offset=OFFSET,
                              rate_gain=GAIN, bin_width=net.dt, exposure=REPEATS,
                              n_restarts=1, n_iter=300, refine_iter=st["refine_iter"], seed=0,
                              biases=args.biases)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                with open(cache, "wb") as fh:
                    pickle.dump(fit, fh)
        c_fit = time.process_time() - c0
        dist, info = fit_loading_distribution(fit, n_iter=st["n_iter"],
                                              targets_from=st["targets_from"],
                                              coupling=st["coupling"], smooth=st["smooth"],
                                              n_prior=st.get("n_prior", "ridge"),
                                              tails=st.get("tails", "off"), seed=1)
        c_flow = time.process_time() - c0 - c_fit
        A = align_latent_basis(fit.m, net.m)
        Ait = np.linalg.inv(A).T
        m_u = fit.m @ A
        E = true_conditional_mean(net, m_u)
        n_post = dist.conditional_n(fit.m, fit.d, n_samples=16, seed=2).mean(0) @ Ait
        draws = [dist.sample(1000, seed=3 + k)["m"] @ A for k in range(4)]
        sk, sk_se = sinkhorn_mean(draws, net.m)
        mse = float(np.mean((n_post - E) ** 2))
        m20k = dist.sample(20_000, seed=50)["m"] @ A
        fitted = lowrank_network(fit.m, fit.n, d=fit.d, alpha=fit.alpha)
        res = {"cpu_fit_s": c_fit, "cpu_flow_s": c_flow, "fit_loss": fit.loss,
               "flow_sinkhorn": sk, "flow_sinkhorn_se": sk_se, "flow_mse_n": mse,
               "flow_total": sk + mse,
               "plain_mse_n": float(np.mean((fit.n @ Ait - E) ** 2)),
               "heldout_r2_plain": heldout_r2(
                   a_true, simulate_lowrank(fitted, z_ho @ A.T, 100).activity()),
               "hill_m_fitted_units": hill_tail_index(m_u),
               "hill_m_flow_1000": hill_tail_index(draws[0]),
               "hill_m_flow_20000": hill_tail_index(m20k),
               "tail_df": info.get("tail_df"), "smooth_gains": info.get("smooth_gains")}
        sampled = []
        for k in range(args.samples):
            s = dist.sample(10_000, seed=100 + k)
            sn = lowrank_network(s["m"], s["n"], d=s["d"], alpha=fit.alpha)
            zs = simulate_lowrank(sn, z_ho @ A.T, 100).latents @ Ait
            g = matches(dynamics_summary(sn, "ring", starts @ A.T, A.T), "ring", ref_net)
            g = matches(g, "quadstable", ref_net)        # fixed points: count and radii
            g["heldout_r2"] = heldout_r2(a_true, net.activity(zs))
            g["fp_count_ok"] = g["n_stable_fp"] == ref_net["n_stable_fp"]
            sampled.append(g)
        res["sampled"] = sampled
        for key in ("ring_ok", "ring_ok_strict", "fp_ok", "fp_count_ok"):
            res["frac_" + key] = float(np.mean([g[key] for g in sampled]))
        res["frac_heldout_r2_ge_0.95"] = float(np.mean([g["heldout_r2"] >= 0.95
                                                        for g in sampled]))
        res["cpu_total_s"] = time.process_time() - c0
        out[name] = res
        with open(args.out + ".partial", "w") as fh:
            json.dump(out, fh, default=lambda x: x.tolist() if hasattr(x, "tolist")
                      else float(x))
        print(json.dumps({"seed": seed, "setting": name, **{
            k: v for k, v in res.items() if k != "sampled"}}, default=float), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fit-cache", default=None)
    ap.add_argument("--ring-ref", default="/tmp/lrring/refcache/ref_ring_s10000_k5_r40.pkl",
                    help="pickle holding the ring check's calibrated tolerances, or 'none' "
                         "(ring_ok then uses the strict check's tolerances)")
    ap.add_argument("--samples", type=int, default=5,
                    help="networks of 10,000 units sampled from each flow (default 5)")
    ap.add_argument("--biases", default="fit", choices=("fit", "zero"),
                    help="the front end's biases d (the methods' default 'auto' decides "
                         "'zero' on this preset's counts: lrauto.md)")
    ap.add_argument("--settings", default="defaults,options",
                    help="comma-separated names from SETTINGS")
    args = ap.parse_args()
    unknown = set(args.settings.split(",")) - set(SETTINGS)
    if unknown:
        ap.error(f"--settings {args.settings}: unknown {sorted(unknown)}; choose from "
                 f"{', '.join(SETTINGS)}")
    if args.ring_ref == "none":
        ring_tol = None
    else:
        with open(args.ring_ref, "rb") as fh:
            ring_tol = pickle.load(fh)["ring_tol"]
    res = [run_seed(s, args, ring_tol) for s in args.seeds]
    with open(args.out, "w") as fh:
        json.dump(res, fh, default=lambda x: x.tolist() if hasattr(x, "tolist") else float(x),
                  indent=1)


if __name__ == "__main__":
    main()
