"""Coupled Poisson GLM speed: spikewire ``glm`` vs nemos ``PopulationGLM`` on the same design.

Data: a simulated coupled Poisson GLM (100 units, 1 ms bins, raised-cosine filters over
20 ms, ~10 % of pairs coupled, refractory history), so the truth is in the model class.
Both tools fit the same design (spikewire's raised-cosine basis; nemos gets it as a dense
matrix), the same ridge strength on all filter coefficients (nemos' strength = ours /
number of training bins, since nemos averages the loss over bins), on the first 80 % of
the bins, and are scored by the Poisson log-likelihood on the last 20 %. Reported: wall
time of each fit, held-out log-likelihood of each (bits per held-out spike above a
homogeneous Poisson model), and the ratio. The spikewire time includes building its
design; the nemos time excludes building the dense design (done once with spikewire).

Usage: python benchmarks/bench_glm.py [--units 100] [--duration 180] [--n-jobs 2]
       [--solver LBFGS] [--json out.json]

``--path`` instead times the default selection path (issue 18) on the same data: the
defaults (early-stopped ridge path + population covariates), the full 6-value path
without covariates (the previous defaults' schedule), and one fixed penalty (the median
of the defaults' choices), each with its link AUC and held-out bits per spike.

``--calibration`` measures the false-positive rate at per-pair α = 0.05 (raw Wald
p-values) on unconnected null families (16 units, 120 s, 240 ordered pairs: slow
log-normal co-modulation, hidden up/down states, independent Poisson; two seeds each
for the first two) and detection on 40 recorded units of a 1,000-neuron Brunel network
(300 s), with and without the population covariates, in one run.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import numpy as np
from numba import njit

import spikewire as sw
from spikewire.infer._bases import raised_cosine_log_basis
from spikewire.infer.glm import GLM, _Block, build_design

DT = 0.001


@njit(cache=True)
def _simulate(rng, bias, kern, n_bins):
    n, _, n_lags = kern.shape
    drive = np.zeros((n_bins + n_lags + 1, n))
    out_t = []
    out_u = []
    for t in range(n_bins):
        for i in range(n):
            c = rng.poisson(math.exp(min(bias[i] + drive[t, i], 3.0)))
            for _ in range(c):
                out_t.append(t)
                out_u.append(i)
            if c:
                for l in range(n_lags):
                    for k in range(n):
                        drive[t + 1 + l, k] += c * kern[i, k, l]
    return np.array(out_t), np.array(out_u)


def make_data(n_units, duration, seed=0):
    rng = np.random.default_rng(seed)
    basis = raised_cosine_log_basis(5, 0.02, DT)
    coef = np.zeros((n_units, n_units, 5))
    for i in range(n_units):
        coef[i, i] = [-3.0, -1.5, -0.4, 0.0, 0.0]
    mask = (rng.random((n_units, n_units)) < 0.1) & ~np.eye(n_units, dtype=bool)
    exc = rng.random(n_units) < 0.8
    shape = np.array([0.2, 0.6, 0.4, 0.15, 0.0])
    for i, j in zip(*np.nonzero(mask), strict=True):
        coef[i, j] = shape * rng.uniform(0.5, 1.5) * (1.0 if exc[j] else -1.5)
    bias = np.log(rng.uniform(3.0, 8.0, n_units) * DT)
    kern = np.ascontiguousarray(np.einsum("lb,ijb->jil", basis, coef))
    n_bins = int(round(duration / DT))
    t, u = _simulate(np.random.default_rng(seed + 1), bias, kern, n_bins)
    st = sw.SpikeTrains.from_times((t + 0.5) * DT, u, t_stop=duration,
                                   units=np.arange(n_units), sort=True)
    return st, coef, mask


def _null_families():
    from scipy.ndimage import gaussian_filter1d

    def modulated(gain_of, n=16, T=120.0, seed=0):
        rng = np.random.default_rng(seed)
        steps = int(round(T / DT))
        gain = gain_of(rng, steps)
        gmax = gain.max()
        trains = []
        for rate in rng.uniform(5.0, 20.0, n):
            t = np.sort(rng.uniform(0, T, rng.poisson(rate * gmax * T)))
            keep = rng.random(t.size) < gain[np.minimum((t / DT).astype(int), steps - 1)] / gmax
            trains.append(t[keep])
        return sw.SpikeTrains.from_lists(trains, t_stop=T,
                                         annotations={"engine": "test", "dt": DT})

    def comod(rng, steps, tau=0.2, depth=0.5):
        x = gaussian_filter1d(rng.standard_normal(steps), tau / DT)
        return np.exp(depth * x / x.std() - depth ** 2 / 2)

    def updown(rng, steps):
        gain = np.empty(steps)
        t, up = 0, 0
        while t < steps:
            dur = int(rng.exponential(0.5 / DT)) + 1
            gain[t:t + dur] = 2.0 if up else 0.3
            t, up = t + dur, 1 - up
        return gain

    return {"co-modulation s0": modulated(comod, seed=0),
            "co-modulation s1": modulated(comod, seed=1),
            "up/down s1": modulated(updown, seed=1),
            "up/down s3": modulated(updown, seed=3),
            "independent": modulated(lambda rng, steps: np.ones(steps), seed=2)}


def calibration_benchmark():
    from spikewire.score import score

    out = {}
    for name, st in _null_families().items():
        for label, kw in (("none", {"population_timescales": None}), ("default", {})):
            est = GLM(**kw).fit(st)
            tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
            fpr = float(np.mean(est.pvalues[tested] < 0.05))
            print(f"{name:18s} covariates={label:8s} pairs={int(tested.sum())} "
                  f"FPR={fpr:.3f}", flush=True)
            out[f"{name} {label}"] = fpr
    n, k = 1000, 40
    net = sw.networks.brunel(n, epsilon=0.1, g=8.0, eta=0.7, J=0.1 * 1000 / 80,
                             tau_ref=2e-3, delay=1.5e-3, seed=3)
    st = sw.simulate(net, 300.0, seed=3)
    sel = np.sort(np.random.default_rng(0).choice(n, k, replace=False))
    sub = st.select(sel)
    n_true = int(np.sum(net.weights[np.ix_(sel, sel)] != 0))
    for label, kw in (("none", {"population_timescales": None}), ("default", {})):
        est = GLM(**kw).fit(sub)
        s = score(net, est)
        row = {key: float(s[key]) for key in ("auc", "mcc", "auc_exc", "auc_inh")}
        row["bh_calls"] = int(np.abs(est.adjacency()).sum())
        print(f"Brunel {k}/{n}, 300 s, {n_true} true links, covariates={label}: {row}",
              flush=True)
        out[f"brunel {label}"] = row
    return out


def path_benchmark(st, mask, n_jobs):
    """Wall time of the default path against the full path and a fixed penalty."""
    from sklearn.metrics import roc_auc_score

    GLM(penalties=[1.0], max_iter=3).fit(st.select(np.arange(10)).restrict(0, 20.0))  # JIT
    off = ~np.eye(st.n_units, dtype=bool)
    out = {}
    runs = [("defaults (early-stopped path, covariates)", {}),
            ("full 6-value path, no covariates (previous defaults)",
             {"early_stopping": False, "population_timescales": None})]
    lam = None
    for label, kw in runs + [("fixed penalty (median default choice)", None)]:
        if kw is None:
            kw = {"penalties": [lam]}
        t0 = time.perf_counter()
        est = GLM(n_jobs=n_jobs, **kw).fit(st)
        el = time.perf_counter() - t0
        if lam is None:
            lam = float(np.median(list(est.diagnostics["chosen_penalty"].values())))
        auc = roc_auc_score(mask[off], np.abs(est.weights[off]))
        n_pen = np.asarray(est.diagnostics["penalty_grid"]).shape[1]
        bits = est.diagnostics["heldout_bits_per_spike"]
        print(f"{label}: {el:.1f} s, {n_pen} penalties fitted, link AUC {auc:.3f}, "
              f"held-out {bits:.4f} bits/spike", flush=True)
        out[label] = {"time_s": el, "n_penalties_fitted": n_pen, "auc": auc,
                      "heldout_bits_per_spike": bits}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--solver", default="LBFGS")
    ap.add_argument("--penalty", type=float, default=None,
                    help="ridge strength (default: the median CV choice of spikewire)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--path", action="store_true", help="time the default selection path")
    ap.add_argument("--calibration", action="store_true",
                    help="false-positive rates on null families and Brunel detection")
    args = ap.parse_args()
    if args.calibration:
        res = calibration_benchmark()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return

    st, coef, mask = make_data(args.units, args.duration)
    print(f"data: {st}")
    if args.path:
        res = path_benchmark(st, mask, args.n_jobs)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return
    res = {"machine": platform.processor() or platform.machine(), "units": args.units,
           "duration_s": args.duration, "n_spikes": st.n_spikes, "n_jobs": args.n_jobs,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    # 1. spikewire's full pipeline (CV over 4 ridge strengths, refit, Wald p-values)
    GLM(penalties=[1.0], max_iter=3).fit(st.select(np.arange(3)).restrict(0, 20.0))  # JIT
    t0 = time.perf_counter()
    est = GLM(n_penalties=4, n_jobs=args.n_jobs).fit(st)
    t_cv = time.perf_counter() - t0
    lam = args.penalty or float(np.median(list(est.diagnostics["chosen_penalty"].values())))
    from sklearn.metrics import roc_auc_score

    off = ~np.eye(args.units, dtype=bool)
    auc = roc_auc_score(mask[off], np.abs(est.weights[off]))
    print(f"spikewire glm, CV pipeline (4 strengths, refit, p-values): {t_cv:.1f} s; "
          f"held-out {est.diagnostics['heldout_bits_per_spike']:.4f} bits/spike; "
          f"link AUC {auc:.3f}; median chosen ridge {lam:.3g}")
    res.update(spikewire_cv_pipeline_s=t_cv, cv_auc=auc, ridge=lam,
               cv_heldout_bits_per_spike=est.diagnostics["heldout_bits_per_spike"])

    # 2. one ridge fit on the training 80 %, both tools, same strength everywhere
    t0 = time.perf_counter()
    design = build_design(st, bin_width=DT, window=0.02, n_basis=5)
    n_train = int(round(design.n_bins * 0.8))
    train = np.zeros(design.n_bins)
    train[:n_train] = 1.0
    val = 1.0 - train
    targets = np.arange(args.units)
    blocks = np.array_split(targets, args.n_jobs)

    def fit_block(tg):
        blk = _Block(design, tg, "l2", lam, None)
        rates = np.diff(design.u_ptr)[tg] / design.n_bins
        b, _, c, ok, nit, _ = blk.fit(np.full(tg.size, lam), train, np.log(rates),
                                      np.zeros((tg.size, 0)),
                                      np.zeros((tg.size, args.units, 5)), max_iter=1000)
        return b, c, nit

    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(args.n_jobs) as pool:
        outs = list(pool.map(fit_block, blocks))
    t_sw = time.perf_counter() - t0
    b_sw = np.concatenate([o[0] for o in outs])
    c_sw = np.concatenate([o[1] for o in outs])
    ll_sw = design.log_likelihood(b_sw, c_sw, targets, rows=val.astype(bool)).sum()

    # homogeneous reference for bits/spike
    y = np.zeros((design.n_bins, args.units))
    for i in targets:
        y[design.u_bins[design.u_ptr[i]:design.u_ptr[i + 1]], i] = design.u_counts[
            design.u_ptr[i]:design.u_ptr[i + 1]]
    from scipy.special import gammaln

    r = y[:n_train].mean(axis=0)
    yv = y[n_train:]
    ll_hom = float(np.sum(yv * np.log(np.maximum(r, 1e-12)) - r - gammaln(yv + 1)))
    n_val_sp = float(yv.sum())

    def bits(ll):
        return (ll - ll_hom) / n_val_sp / math.log(2)

    print(f"spikewire ridge fit on train rows: {t_sw:.1f} s, held-out {bits(ll_sw):.5f} "
          f"bits/spike")

    # 3. nemos PopulationGLM on the dense design
    import jax
    import jax.numpy as jnp
    import nemos as nmo

    X = design.dense().astype(np.float32)
    Xtr, ytr = jnp.asarray(X[:n_train]), jnp.asarray(y[:n_train], dtype=jnp.float32)
    model = nmo.glm.PopulationGLM(regularizer="Ridge", regularizer_strength=lam / n_train,
                                  solver_name=args.solver)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    jax.block_until_ready(model.coef_)
    t_nemos_cold = time.perf_counter() - t0
    # second fit of a fresh model on the same shapes: XLA compilation cached (warm)
    model = nmo.glm.PopulationGLM(regularizer="Ridge", regularizer_strength=lam / n_train,
                                  solver_name=args.solver)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    jax.block_until_ready(model.coef_)
    t_nemos = time.perf_counter() - t0
    print(f"nemos first fit (with XLA compilation): {t_nemos_cold:.1f} s")
    rate = np.asarray(model.predict(jnp.asarray(X[n_train:])), dtype=np.float64)
    ll_nemos = float(np.sum(yv * np.log(np.maximum(rate, 1e-30)) - rate - gammaln(yv + 1)))
    print(f"nemos PopulationGLM ({args.solver}, float32, warm): {t_nemos:.1f} s, "
          f"held-out {bits(ll_nemos):.5f} bits/spike")
    res.update(spikewire_fit_s=t_sw, spikewire_heldout_bits=bits(ll_sw),
               nemos_fit_s=t_nemos, nemos_fit_cold_s=t_nemos_cold,
               nemos_heldout_bits=bits(ll_nemos), nemos_solver=args.solver,
               speedup=t_nemos / t_sw,
               heldout_diff_bits=bits(ll_sw) - bits(ll_nemos))
    print(f"speed-up (same strength, same design): {t_nemos / t_sw:.1f}x; held-out difference "
          f"{bits(ll_sw) - bits(ll_nemos):+.2e} bits/spike")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
