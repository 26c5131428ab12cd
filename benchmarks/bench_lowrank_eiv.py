"""Step 3's targets from spikes (issue 14): errors in the regressors or in the field?

Reads the front-end fits that ``bench_lowrank_spikes.py --fit-cache DIR`` stored (N = 1,000,
``--repeats`` repeats of the 6 × 6 grid) and, per preset, on the fitted units' own
activities (``targets_from="units"``):

1. **Errors in the variables.** The regressors of step 3 are ``φ(m̂_i·z + d̂_i)`` with
   estimated loadings. Their noise: the inverse Fisher information of each unit's
   ``(m_i, d_i)`` in the Poisson observation given the fitted latents (data only), compared
   with the actual squared error of the fitted loadings in the true basis (truth, as a
   check of the estimate). Its effect: the expected noise Gram ``D = E[δΦᵀδΦ]`` (diagonal
   over units; first order in the loading noise) against the ridge's ``λ = ridge ·
   tr(ΦᵀΦ)/N``, and the targets with the corrected normal equations ``(ΦᵀΦ − D + λI) n =
   N Φᵀy`` and with SIMEX (refits at added noise 0.5, 1, 2 × the estimated covariance, 6
   draws each, quadratic extrapolation to −1).
2. **Errors in the field.** The same ridge with the *true* vector field (evaluated at the
   fitted latents, mapped into the fitted basis) as the target, and on the true units:
   which of the two (units, field) carries the target error.
3. **Dynamics of the fitted units with the targets as n** (data network of 1,000 units):
   stable fixed points' radii (quadstable, bistable), period (limit cycle), ring radius.
4. ``--selfcheck``: the corrected normal equations and SIMEX on an analytic linear
   errors-in-variables problem (slope attenuated by var/(var + σ²)).

MSE is against E_true[n|m] at the fitted units (true basis), as the bench's ``flow_mse_n``.

Usage: nice python benchmarks/bench_lowrank_eiv.py DIR [--presets ...] [--refine 0]
       [--out r.json] [--selfcheck]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lowrank_spikes import GAIN, OFFSET, radius, ring_manifold, stable_fixed_points  # noqa: E402

from spikewire.infer.lowrank import _ridge_n  # noqa: E402
from spikewire.networks.lowrank import lowrank_network, lowrank_preset  # noqa: E402
from spikewire.score.lowrank import (  # noqa: E402
    align_latent_basis,
    dynamics_signature,
    true_conditional_mean,
)
from spikewire.simulate.lowrank import initial_grid  # noqa: E402

RIDGES = [0.3, 1.0, 3.0]


def fisher_cov(fit, exposure: float) -> np.ndarray:
    """Inverse Fisher information of each unit's (m_i, d_i) (shape (N, R+1, R+1)) for
    counts ~ Poisson(exposure · (OFFSET + GAIN φ(m_i·z_t + d_i))) at the fitted latents."""
    Z = fit.latents.reshape(-1, fit.rank)
    X = np.column_stack([Z, np.ones(len(Z))])
    a = np.tanh(Z @ fit.m.T + fit.d)
    w = exposure * (GAIN * (1 - a ** 2)) ** 2 / (OFFSET + GAIN * a)
    return np.linalg.inv(np.einsum("tn,tr,ts->nrs", w, X, X))


def corrected_ridge(phi, y, ridge, D) -> np.ndarray:
    """Ridge targets with the expected noise Gram ``diag(D)`` removed from ΦᵀΦ."""
    S = phi.shape[1]
    G = phi.T @ phi
    lam = ridge * np.trace(G) / S
    return S * np.linalg.solve(G - np.diag(D) + lam * np.eye(S), phi.T @ y)


def simex(targets_at, levels=(0.5, 1.0, 2.0), n_draws=6, seed=0) -> np.ndarray:
    """SIMEX: ``targets_at(k, rng)`` = targets with added noise of k × the estimated
    covariance; the mean over draws at each level, quadratic in k, extrapolated to k = −1."""
    rng = np.random.default_rng(seed)
    ks = [0.0, *levels]
    means = [targets_at(0.0, rng)]
    for k in levels:
        means.append(np.mean([targets_at(k, rng) for _ in range(n_draws)], axis=0))
    shape = means[0].shape
    coef = np.polyfit(np.array(ks), np.array(means).reshape(len(ks), -1), 2)
    return (coef[0] - coef[1] + coef[2]).reshape(shape)


def selfcheck() -> dict:
    """Linear errors in variables: y = x β + e, observed w = x + u, var x = 1, var u = σ².
    OLS on w is attenuated by 1/(1 + σ²); the corrected normal equations and SIMEX
    (quadratic, so approximate) recover β."""
    rng = np.random.default_rng(0)
    n, beta, s2 = 200_000, 2.0, 0.25
    x = rng.standard_normal(n)
    y = beta * x + 0.1 * rng.standard_normal(n)
    w = x + np.sqrt(s2) * rng.standard_normal(n)
    ols = float(w @ y / (w @ w))
    corr = float(w @ y / (w @ w - n * s2))
    sx = float(simex(lambda k, r: np.array([(wk := w + np.sqrt(k * s2) * r.standard_normal(n))
                                            @ y / (wk @ wk)]), n_draws=2)[0])
    return {"beta": beta, "ols": ols, "ols_expected": beta / (1 + s2), "corrected": corr,
            "simex_quadratic": sx}


def dyn(m, n, d, alpha, p, T):
    nw = lowrank_network(m, n, d=d, alpha=alpha)
    if p == "ring":
        return round(ring_manifold(nw, initial_grid(6, 2.4) @ T)["radius_median"], 4)
    if p == "limit_cycle":
        return round(dynamics_signature(nw, initial_grid(4, 2.4) @ T, n_steps=600,
                                        settle=300)["period_s"], 4)
    return sorted(round(radius(nw, z), 3) for z in stable_fixed_points(nw, initial_grid(9, 3.0)
                                                                       @ T))


def run(fit, net, exposure) -> dict:
    A = align_latent_basis(fit.m, net.m)
    Ait = np.linalg.inv(A).T
    R, S = fit.rank, fit.n_neurons
    Sig = fisher_cov(fit, exposure)
    m_true_fit_basis = net.m @ np.linalg.inv(A)
    err = np.column_stack([fit.m - m_true_fit_basis, fit.d - net.d])
    row = {"fisher_var_m_d": np.mean(np.diagonal(Sig, axis1=1, axis2=2), 0).tolist(),
           "actual_sq_err_m_d": np.mean(err ** 2, 0).tolist()}
    z, y = fit.update_targets(min(10, fit.latents.shape[1] // 4))
    phi = np.tanh(z @ fit.m.T + fit.d)
    X = np.column_stack([z, np.ones(len(z))])
    D = np.einsum("ti,tr,irs,ts->i", (1 - phi ** 2) ** 2, X, Sig, X)
    row["noise_gram_over_mean_eig"] = float(D.mean() / (np.trace(phi.T @ phi) / S))
    E = true_conditional_mean(net, fit.m @ A)
    zt = z @ np.linalg.inv(A.T)
    f_true = np.tanh(zt @ net.m.T + net.d) @ net.n / S            # true basis
    y_true = f_true @ A.T                                           # fitted basis
    row["field_err_rel"] = float(np.mean((y - y_true) ** 2) / np.var(y_true))
    phi_t = np.tanh(zt @ net.m.T + net.d)
    E_t = true_conditional_mean(net, net.m)
    L = np.linalg.cholesky(Sig)

    def mse(n):
        return round(float(np.mean((n @ Ait - E) ** 2)), 4)

    p = net.spec["preset"]
    row["plain_fit"] = {"mse": mse(fit.n), "dyn": dyn(fit.m, fit.n, fit.d, fit.alpha, p, A.T)}
    row["data_network_dyn"] = dyn(net.m, net.n, net.d, net.alpha, p, np.eye(2))
    for r in RIDGES:
        n0 = _ridge_n(phi, y, r)
        n_eiv = corrected_ridge(phi, y, r, D)

        def at(k, rng, r=r):
            if k == 0:
                return _ridge_n(phi, y, r)
            e = np.einsum("irs,is->ir", L, rng.standard_normal((S, R + 1))) * np.sqrt(k)
            return _ridge_n(np.tanh(z @ (fit.m + e[:, :R]).T + fit.d + e[:, R]), y, r)

        n_sx = simex(at)
        n_tf = _ridge_n(phi, y_true, r)
        row[f"ridge_{r}"] = {
            "mse": mse(n0), "dyn": dyn(fit.m, n0, fit.d, fit.alpha, p, A.T),
            "eiv_mse": mse(n_eiv), "eiv_dyn": dyn(fit.m, n_eiv, fit.d, fit.alpha, p, A.T),
            "simex_mse": mse(n_sx), "simex_dyn": dyn(fit.m, n_sx, fit.d, fit.alpha, p, A.T),
            "true_field_mse": mse(n_tf),
            "true_field_dyn": dyn(fit.m, n_tf, fit.d, fit.alpha, p, A.T),
            "true_units_fit_field_mse": round(float(np.mean(
                (_ridge_n(phi_t, y @ np.linalg.inv(A.T), r) - E_t) ** 2)), 4),
            "true_units_true_field_mse": round(float(np.mean(
                (_ridge_n(phi_t, f_true, r) - E_t) ** 2)), 4)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cache", nargs="?", help="--fit-cache folder of bench_lowrank_spikes.py")
    ap.add_argument("--repeats", type=int, default=256)
    ap.add_argument("--refine", type=int, default=0, help="the cached fits' refine_iter")
    ap.add_argument("--presets", nargs="+",
                    default=["quadstable", "bistable", "limit_cycle", "ring"])
    ap.add_argument("--selfcheck", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    res = {}
    if args.selfcheck:
        res["selfcheck"] = selfcheck()
        print("selfcheck", json.dumps(res["selfcheck"]), flush=True)
    for p in args.presets if args.cache else []:
        path = Path(args.cache) / (f"{p}_n1000_r{args.repeats}_i300_ref{args.refine}"
                                   f"_denNone_s0_g6_t50.pkl")
        with open(path, "rb") as fh:
            fit = pickle.load(fh)[0]
        res[p] = run(fit, lowrank_preset(p, fit.n_neurons, seed=0), args.repeats * 0.01)
        print(p, json.dumps(res[p]), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
