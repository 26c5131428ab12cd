"""Step 3's ridge (issue 14): target error against data-only criteria, on cached fits.

Reads the front-end fits that ``bench_lowrank_spikes.py --fit-cache DIR`` stored, trains the
(m, d) flow as ``fit_loading_distribution`` does (seed 1), and for relative ridges 0.03–30
reports, averaged over 4 drawn populations of 1,000 units:

- ``flow``: MSE of the ridge targets n̂ (populations drawn from the flow) against
  E_true[n|m] in the true basis; ``units``: the same on the fitted units' own activities
  (``targets_from="units"``); ``gain``: ``flow`` after a least-squares R × R gain refit;
- data-only criteria: GCV and the log evidence (marginal likelihood, noise variance
  profiled) of the ridge regression of the latent update on φ(·), and the cross-population
  field error (the dual solution's kernel function n(m, d) applied to a fresh population of
  1,000 or 10,000 units drawn from the flow).

Usage: nice python benchmarks/bench_lowrank_ridge.py DIR [--repeats 256] [--presets ...]
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
import torch

from spikewire.infer.lowrank import _ridge_n
from spikewire.infer.lowrank_flow import FlowMatcher, tail_df
from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import align_latent_basis, true_conditional_mean

RIDGES = [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def gcv(phi, y, lam) -> float:
    U, s, _ = np.linalg.svd(phi, full_matrices=False)
    h = s ** 2 / (s ** 2 + lam)
    n = phi.shape[0]
    return float(n * ((y - U @ (h[:, None] * (U.T @ y))) ** 2).sum() / (n - h.sum()) ** 2)


def log_evidence(phi, y, lam) -> float:
    """y ~ N(0, σ² (Φ Φᵀ / λ + I)) per column, σ² at its maximum-likelihood value."""
    U, s, _ = np.linalg.svd(phi, full_matrices=True)
    n = phi.shape[0]
    ev = np.zeros(n)
    ev[:s.size] = s ** 2 / lam
    c = U.T @ y
    s2 = np.mean(c ** 2 / (1 + ev)[:, None], axis=0)
    return float(np.sum(-0.5 * (np.log1p(ev).sum() + n * np.log(s2) + n)))


def run(fit, net, pops=(1000, 10_000)) -> dict:
    R = fit.rank
    s_md, _, s_draw = np.random.SeedSequence(1).spawn(3)
    flow = FlowMatcher(R + 1, 0, 64, s_md, "cpu", base_df=tail_df(fit.m)).train(
        np.column_stack([fit.m, fit.d]), n_iter=3000)
    A = align_latent_basis(fit.m, net.m)
    Ait = np.linalg.inv(A).T
    z, y = fit.update_targets(min(10, fit.latents.shape[1] // 4))
    phi_u = np.tanh(z @ fit.m.T + fit.d)
    E_u = true_conditional_mean(net, fit.m @ A)
    out = {str(r): {} for r in RIDGES}
    for k, s in enumerate(s_draw.spawn(4)):
        smp = flow.sample(1000, seed=s)
        phi = np.tanh(z @ smp[:, :R].T + smp[:, R])
        S = phi.shape[1]
        E = true_conditional_mean(net, smp[:, :R] @ A)
        fresh = {p: flow.sample(p, seed=np.random.SeedSequence([7, p, k])) for p in pops}
        for r in RIDGES:
            row = out[str(r)]
            lam = r * np.trace(phi.T @ phi) / S + 1e-12
            nh = _ridge_n(phi, y, r)
            gain = np.linalg.lstsq(phi @ nh / S, y, rcond=None)[0]
            vals = {"flow": np.mean((nh @ Ait - E) ** 2),
                    "gain": np.mean((nh @ gain @ Ait - E) ** 2),
                    "gcv": gcv(phi, y, lam), "log_evidence": log_evidence(phi, y, lam)}
            a = np.linalg.solve(phi @ phi.T + lam * np.eye(phi.shape[0]), y)
            for p, sm in fresh.items():
                phi2 = np.tanh(z @ sm[:, :R].T + sm[:, R])
                vals[f"xpop_{p}"] = np.mean((y - phi2 @ (S * (phi2.T @ a)) / p) ** 2)
            if k == 0:
                vals["units"] = np.mean((_ridge_n(phi_u, y, r) @ Ait - E_u) ** 2)
            for key, v in vals.items():
                row.setdefault(key, []).append(float(v))
    return {r: {key: float(np.mean(v)) for key, v in row.items()} for r, row in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache", help="--fit-cache folder of bench_lowrank_spikes.py")
    ap.add_argument("--repeats", type=int, default=256)
    ap.add_argument("--presets", nargs="+",
                    default=["quadstable", "bistable", "limit_cycle", "ring"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    res = {}
    for p in args.presets:
        path = Path(args.cache) / (f"{p}_n1000_r{args.repeats}_i300_ref0_denNone_s0_g6_t50"
                                   f".pkl")
        with open(path, "rb") as fh:
            fit = pickle.load(fh)[0]
        res[p] = run(fit, lowrank_preset(p, fit.n_neurons, seed=0))
        for r, row in res[p].items():
            print(p, r, json.dumps({k: round(v, 6) for k, v in row.items()}), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
