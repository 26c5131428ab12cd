"""Heavy-tailed loadings through ``lowrank_flow`` (issue 14, helper lrtail, session 23).

Modes (results in ``benchmarks/results/lrtail.md``):

- ``heavy SEED SETTING TAILS``: heavy_tailed (Student-t m, ν = 3), N = 1,000, front end
  from 4,608 s of Poisson spikes exactly as ``bench_lowrank_close_heavy.py`` (its cached
  fits, ``--fit-cache``), flows with SETTING (``defaults`` / ``options``, as there) and
  ``tails`` = TAILS; scores as there (distance, held-out R², fixed points of 5 sampled
  10,000-unit networks against the data network) plus the Hill index of |m| (top 10 %,
  pooled coordinates) of the flow's samples and of the fitted units, in the fit's
  canonical basis (the flow's own fidelity) and in the true basis (against the truth).
- ``gauss``: the four Gaussian presets' cached front ends (N = 1,000, spikes, session 20,
  ``/tmp/lrring/fitcache``): which m coordinates ``tails="auto"`` maps, and the m-part of
  the distance (Sinkhorn of 4 × 1,000 samples of the (m, d) flow against the true units)
  with ``tails`` off and ``"gpd"`` (3,000 iterations, independent coupling).
- ``flowonly``: the (m, d) flow alone (3,000 iterations, independent coupling, the base
  as ``fit_loading_distribution`` picks it) on the four cached heavy_tailed front ends
  (seeds 0, 1; Adam alone and + 400 L-BFGS), ``tails`` off and ``"auto"``, 3 flow seeds
  each: Hill index of 20,000 samples against the fitted units' (true and canonical basis),
  i.e. the flow's own loss of tails with its training noise.
- ``synthetic``: the marginal map alone on Student-t (ν = 3) samples of 1,000 × 2: Hill of
  200,000 values drawn through ``T⁻¹`` against the sample's own (8 seeds, knot variants).
- ``frontend``: the front end's loss of tails: Hill of the fitted units (true basis)
  from noise-free rates, noisy rates (sd 0.1, clipped as ``rate_noise``) and spikes,
  300 Adam ± 400 L-BFGS (fits from ``/tmp/lrtail/fits``, made by ``--make-fits``), the
  per-unit ratio |m_fit|/|m_true| by decile of |m_true|, and the Cramér–Rao bound of the
  scale of each unit's m from spikes (the information of the counts about ``|m_i|``).

Usage: python benchmarks/bench_lrtail.py heavy 0 defaults auto --out r.json
       [--fit-cache /tmp/lrclose/fitcache]
       python benchmarks/bench_lrtail.py gauss --out g.json
       python benchmarks/bench_lrtail.py flowonly --out f.json
       python benchmarks/bench_lrtail.py synthetic
       python benchmarks/bench_lrtail.py frontend SEED [--make-fits] --out f.json
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
from bench_lowrank_close_heavy import (  # lrclose's settings
    GRID,
    REPEATS,
    SETTINGS,
    STEPS,
    reference_dynamics,
)

from spikewire.infer.lowrank_flow import FlowMatcher, fit_loading_distribution, tail_coords
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.score.lowrank import (
    align_latent_basis,
    hill_tail_index,
    sinkhorn_mean,
    true_conditional_mean,
)
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank


def _dump(obj, path):
    with open(path, "w") as fh:
        json.dump(obj, fh, default=lambda x: x.tolist() if hasattr(x, "tolist") else float(x),
                  indent=1)


def run_heavy(args) -> dict:
    from bench_lowrank_spikes import GAIN, OFFSET, dynamics_summary, heldout_r2, matches

    seed, st = args.seed, SETTINGS[args.setting]
    with open(args.ring_ref, "rb") as fh:
        ring_tol = pickle.load(fh)["ring_tol"]
    net = lowrank_preset("heavy_tailed", 1000, seed=seed)
    cache = Path(args.fit_cache) / f"heavy_n1000_r{REPEATS}_i300_ref{st['refine_iter']}_s{seed}.pkl"
    if not cache.exists():
        raise SystemExit(f"{cache} missing: run bench_lowrank_close_heavy.py with --fit-cache")
    with open(cache, "rb") as fh:
        fit = pickle.load(fh)
    assert OFFSET and GAIN
    starts, g_net, ref_net, z_ho, a_true = reference_dynamics(net, ring_tol)
    c0 = time.process_time()
    dist, info = fit_loading_distribution(fit, n_iter=st["n_iter"],
                                          targets_from=st["targets_from"],
                                          coupling=st["coupling"], smooth=st["smooth"],
                                          tails=args.tails, seed=1)
    c_flow = time.process_time() - c0
    A = align_latent_basis(fit.m, net.m)
    Ait = np.linalg.inv(A).T
    m_u = fit.m @ A
    E = true_conditional_mean(net, m_u)
    n_post = dist.conditional_n(fit.m, fit.d, n_samples=16, seed=2).mean(0) @ Ait
    raw = [dist.sample(1000, seed=3 + k)["m"] for k in range(4)]
    draws = [r @ A for r in raw]
    sk, sk_se = sinkhorn_mean(draws, net.m)
    mse = float(np.mean((n_post - E) ** 2))
    m20k_raw = dist.sample(20_000, seed=50)["m"]
    out = {"seed": seed, "setting": args.setting, "tails": args.tails, "cpu_flow_s": c_flow,
           "flow_sinkhorn": sk, "flow_sinkhorn_se": sk_se, "flow_mse_n": mse,
           "flow_total": sk + mse,
           "hill_truth_units": hill_tail_index(net.m),
           "hill_fitted_true_basis": hill_tail_index(m_u),
           "hill_flow1000_true_basis": [hill_tail_index(d) for d in draws],
           "hill_flow20000_true_basis": hill_tail_index(m20k_raw @ A),
           "hill_fitted_canonical": hill_tail_index(fit.m),
           "hill_flow1000_canonical": [hill_tail_index(r) for r in raw],
           "hill_flow20000_canonical": hill_tail_index(m20k_raw),
           "tail_coords": info.get("tail_coords"), "tail_shapes": info.get("tail_shapes"),
           "base_df": info.get("base_df")}
    sampled = []
    for k in range(5):
        s = dist.sample(10_000, seed=100 + k)
        sn = lowrank_network(s["m"], s["n"], d=s["d"], alpha=fit.alpha)
        zs = simulate_lowrank(sn, z_ho @ A.T, 100).latents @ Ait
        g = matches(dynamics_summary(sn, "ring", starts @ A.T, A.T), "ring", ref_net)
        g = matches(g, "quadstable", ref_net)
        g["heldout_r2"] = heldout_r2(a_true, net.activity(zs))
        g["fp_count_ok"] = g["n_stable_fp"] == ref_net["n_stable_fp"]
        sampled.append({k2: g[k2] for k2 in ("n_stable_fp", "fp_radii", "fp_ok", "fp_count_ok",
                                             "heldout_r2")})
    out["sampled"] = sampled
    out["data_network"] = {"n_stable_fp": g_net["n_stable_fp"], "fp_radii": g_net["fp_radii"]}
    for key in ("fp_ok", "fp_count_ok"):
        out["frac_" + key] = float(np.mean([g[key] for g in sampled]))
    out["frac_heldout_r2_ge_0.95"] = float(np.mean([g["heldout_r2"] >= 0.95 for g in sampled]))
    out["cpu_total_s"] = time.process_time() - c0
    return out


def run_gauss(args) -> dict:
    res = {}
    for preset in ("quadstable", "bistable", "limit_cycle", "ring"):
        for c in ("", "_c1"):
            f = Path(args.gauss_cache) / f"{preset}_n1000_r256_i300_ref400_denNone_s0_g6_t50{c}.pkl"
            with open(f, "rb") as fh:
                fit = pickle.load(fh)
            fit = fit[0] if isinstance(fit, tuple) else fit
            net = lowrank_preset(preset, 1000, seed=0)
            A = align_latent_basis(fit.m, net.m)
            md = np.column_stack([fit.m, fit.d])
            row = {"auto_coords": None if tail_coords(fit.m, "auto") is None
                   else tail_coords(fit.m, "auto").tolist()}
            for tails in ("off", "gpd"):
                c0 = time.process_time()
                fm = FlowMatcher(3, 0, 64, 1, tails=None if tails == "off"
                                 else np.array([True, True, False])).train(md, n_iter=3000)
                draws = [fm.sample(1000, seed=3 + k)[:, :2] @ A for k in range(4)]
                sk, se = sinkhorn_mean(draws, net.m)
                row[tails] = {"sinkhorn_m": sk, "se": se, "cpu_s": time.process_time() - c0}
            res[preset + (c or "_c0")] = row
            print(preset, c, json.dumps(row, default=float), flush=True)
    return res


def run_flowonly(args) -> dict:
    from spikewire.infer.lowrank_flow import tail_df

    res = []
    for seed in (0, 1):
        net = lowrank_preset("heavy_tailed", 1000, seed=seed)
        for ref in (0, 400):
            with open(Path(args.fit_cache) / f"heavy_n1000_r{REPEATS}_i300_ref{ref}_s{seed}.pkl",
                      "rb") as fh:
                fit = pickle.load(fh)
            A = align_latent_basis(fit.m, net.m)
            md = np.column_stack([fit.m, fit.d])
            for tails in ("off", "auto"):
                coords = tail_coords(fit.m, tails)
                for rep in range(3):
                    c0 = time.process_time()
                    fm = FlowMatcher(3, 0, 64, 100 + rep,
                                     base_df=None if coords is not None else tail_df(fit.m),
                                     tails=None if coords is None else np.append(coords, False)
                                     ).train(md, n_iter=3000)
                    m = fm.sample(20_000, seed=50)[:, :2]
                    row = {"seed": seed, "ref": ref, "tails": tails, "rep": rep,
                           "hill_fitted_true": hill_tail_index(fit.m @ A),
                           "hill_flow_true": hill_tail_index(m @ A),
                           "hill_fitted_canonical": hill_tail_index(fit.m),
                           "hill_flow_canonical": hill_tail_index(m),
                           "cpu_s": time.process_time() - c0}
                    res.append(row)
                    print(json.dumps(row), flush=True)
    return res


def run_synthetic(args) -> dict:
    from spikewire.infer._tails import MarginalTails

    rng = np.random.default_rng(0)
    ys = rng.standard_normal((100_000, 2))
    res = {}
    for label, kw in (("hazen_all_knots", {}), ("hazen_256_knots", {"n_knots": 256})):
        rel = []
        for seed in range(8):
            x = np.random.default_rng(seed).standard_t(3, (1000, 2))
            T = MarginalTails(x, **kw)
            rel.append(hill_tail_index(T.inverse(ys)) / hill_tail_index(x) - 1)
        res[label] = rel
        print(label, np.round(np.array(rel) * 100, 1), "mean %", np.mean(rel) * 100)
    return res


def _crlb_scale(net, counts_rate_scale, grid, steps):
    """Relative Cramér–Rao sd of the scale s of each unit's m (m_i → s m_i, s = 1) from
    Poisson counts with mean ``counts_rate_scale · (OFFSET + GAIN φ)`` at the true latents."""
    from bench_lowrank_spikes import GAIN, OFFSET

    sim = simulate_lowrank(net, initial_grid(grid, 2.4), steps)
    z = sim.latents.reshape(-1, 2)
    u = z @ net.m.T + (0 if net.d is None else net.d)
    phi = np.tanh(u)
    dlam = counts_rate_scale * GAIN * (1 - phi ** 2) * u        # ∂λ/∂s at s = 1
    lam = counts_rate_scale * (OFFSET + GAIN * phi)
    info = (dlam ** 2 / lam).sum(0)
    return 1.0 / np.sqrt(info), np.abs(u).mean(0), (np.abs(phi) > 0.95).mean(0)


def run_frontend(args) -> dict:
    from bench_lowrank_spikes import GAIN, OFFSET

    assert OFFSET and GAIN
    seed = args.seed
    net = lowrank_preset("heavy_tailed", 1000, seed=seed)
    fits = {}
    if args.make_fits:
        from spikewire.infer.lowrank import fit_lowrank

        phi = simulate_lowrank(net, initial_grid(GRID, 2.4), STEPS).activity()
        noisy = np.clip(phi + 0.1 * np.random.default_rng(seed).standard_normal(phi.shape),
                        -0.999, 0.999)
        for obs, act in (("rates", phi), ("noisy", noisy)):
            for ref in (0, 400):
                f = Path(args.fits_dir) / f"heavy_{obs}_ref{ref}_s{seed}.pkl"
                if not f.exists():
                    fit = fit_lowrank(act, 2, n_restarts=1, n_iter=300, refine_iter=ref,
                                      seed=0)
                    with open(f, "wb") as fh:
                        pickle.dump(fit, fh)
    for obs in ("rates", "noisy"):
        for ref in (0, 400):
            f = Path(args.fits_dir) / f"heavy_{obs}_ref{ref}_s{seed}.pkl"
            if f.exists():
                with open(f, "rb") as fh:
                    fits[f"{obs}_ref{ref}"] = pickle.load(fh)
    for ref in (0, 400):
        f = Path(args.fit_cache) / f"heavy_n1000_r{REPEATS}_i300_ref{ref}_s{seed}.pkl"
        if f.exists():
            with open(f, "rb") as fh:
                fits[f"spikes_ref{ref}"] = pickle.load(fh)
    abs_m = np.linalg.norm(net.m, axis=1)
    dec = np.quantile(abs_m, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(dec, abs_m, side="right") - 1, 0, 9)
    rel_sd, mean_abs_u, frac_sat = _crlb_scale(net, REPEATS * net.dt, GRID, STEPS)
    out = {"seed": seed, "hill_truth_units": hill_tail_index(net.m),
           "hill_truth_100k": hill_tail_index(lowrank_preset("heavy_tailed", 100_000,
                                                             seed=1000 + seed).m),
           "crlb_rel_sd_scale_by_decile": [float(np.median(rel_sd[bins == b]))
                                           for b in range(10)],
           "frac_saturated_by_decile": [float(np.mean(frac_sat[bins == b]))
                                        for b in range(10)],
           "fits": {}}
    for name, fit in fits.items():
        A = align_latent_basis(fit.m, net.m)
        m_u = fit.m @ A
        ratio = np.linalg.norm(m_u, axis=1) / abs_m
        # the whole-map gain: least squares of m_u on m (a global shrink or stretch)
        G = np.linalg.lstsq(net.m, m_u, rcond=None)[0]
        out["fits"][name] = {
            "loss": fit.loss, "hill_fitted": hill_tail_index(m_u),
            "median_ratio_by_decile": [float(np.median(ratio[bins == b])) for b in range(10)],
            "global_gain_eigs": np.linalg.eigvals(G).real.tolist(),
            "rmse_m": float(np.sqrt(np.mean((m_u - net.m) ** 2)))}
        print(name, json.dumps(out["fits"][name], default=float), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("heavy", "gauss", "flowonly", "synthetic", "frontend"))
    ap.add_argument("seed", type=int, nargs="?", default=0)
    ap.add_argument("setting", nargs="?", default="defaults", choices=tuple(SETTINGS))
    ap.add_argument("tails", nargs="?", default="auto", choices=("off", "gpd", "auto"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--fit-cache", default="/tmp/lrclose/fitcache")
    ap.add_argument("--gauss-cache", default="/tmp/lrring/fitcache")
    ap.add_argument("--fits-dir", default="/tmp/lrtail/fits")
    ap.add_argument("--make-fits", action="store_true")
    ap.add_argument("--ring-ref", default="/tmp/lrring/refcache/ref_ring_s10000_k5_r40.pkl")
    args = ap.parse_args()
    res = {"heavy": run_heavy, "gauss": run_gauss, "flowonly": run_flowonly,
           "synthetic": run_synthetic,
           "frontend": run_frontend}[args.mode](args)
    if args.mode == "heavy":
        print(json.dumps({k: v for k, v in res.items() if k != "sampled"}, default=float))
    if args.out:
        _dump(res, args.out)


if __name__ == "__main__":
    main()
