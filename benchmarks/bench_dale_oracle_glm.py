"""Thin evidence (issue 15): an explaining-away oracle that knows every true input.

Data: the recording of ``bench_dale_thin.py`` (AdEx, 100 of 1,000 neurons, 300 s,
co-modulated drive; cached simulation in ``--cache``, which holds all 1,000 neurons).

For each recorded postsynaptic unit ``i`` the oracle fits a Poisson GLM of its spike
counts (``--bin`` s bins) on regressors that no method has:

- one regressor per **true presynaptic neuron** of ``i`` among all 1,000 (recorded or
  not; ``--recorded-only``: among the 100 recorded only), its spikes delayed by the
  true delay and filtered by the postsynaptic response shape (conductance of τ_syn =
  5 ms for E, 10 ms for I, through a membrane of ``--tau-m`` ms), with a free coefficient each;
- the **true log co-modulation gain** (the drive's shared slow signal);
- the unit's own history (3 exponential traces, 5 / 50 / 200 ms: refractoriness and
  adaptation) and an intercept.

Each recorded candidate ``j`` is then tested in that model: a true input by the Wald z
of its coefficient, a non-input by the score test of adding its regressor with a delay
drawn uniformly from 1–10 ms (seeded; the delay its synapse would have had). Both are
N(0, 1) under "no effect" given the model; the score is ``s_j z`` with the true sign.
AUC over the recorded ordered pairs by ``s_j z``, E-AUC by ``z`` (true E links against all
non-links), I-AUC by ``−z``, as in ``spikewire.score`` for an estimate carrying the true
signs. The remaining input of each neuron (its independent Poisson drive) is the noise.

Usage: python benchmarks/bench_dale_oracle_glm.py [--tau-m 3] [--posts 100] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from scipy.signal import fftconvolve
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from bench_dale_thin import data  # noqa: E402

from spikewire.simulate.comodulation import slow_comodulation  # noqa: E402

RES = 1e-3      # s, resolution of the filtered traces (delays rounded to it)


def psp(tau_s: float, tau_m: float, length: float = 0.08) -> np.ndarray:
    t = (np.arange(int(round(length / RES))) + 0.5) * RES
    k = np.exp(-t / tau_m) - np.exp(-t / tau_s) if tau_m != tau_s else t * np.exp(-t / tau_s)
    return k / k.max()


def fit_poisson(X, y, n_iter=25):
    """Newton–Raphson with step halving for a Poisson GLM (log link); ridge 1e-6."""
    p = X.shape[1]
    beta = np.zeros(p)
    beta[0] = np.log(max(y.mean(), 1e-8))
    eta = X @ beta
    ll = float(y @ eta - np.exp(eta).sum())
    for _ in range(n_iter):
        mu = np.exp(eta)
        g = X.T @ (y - mu)
        H = (X * mu[:, None]).T @ X + 1e-6 * np.eye(p)
        step = np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-4:
            nb = beta + t * step
            ne = X @ nb
            nll = float(y @ ne - np.exp(np.minimum(ne, 30)).sum())
            if nll >= ll - 1e-9:
                break
            t /= 2
        beta, eta, dl, ll = nb, ne, nll - ll, nll
        if abs(dl) < 1e-6 * max(abs(ll), 1.0):
            break
    mu = np.exp(eta)
    H = (X * mu[:, None]).T @ X + 1e-6 * np.eye(p)
    return beta, mu, H


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", default="/tmp/dale_cache/thin.npz")
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--bin", type=float, default=0.002)
    ap.add_argument("--tau-m", type=float, default=3.0, help="membrane time constant, ms")
    ap.add_argument("--posts", type=int, default=100, help="recorded targets fitted")
    ap.add_argument("--no-gain", action="store_true", help="leave out the true gain")
    ap.add_argument("--recorded-only", action="store_true",
                    help="true inputs only among the recorded units (no hidden ones)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--save-z", default=None, help="npz file for z (pre, post) and truth")
    args = ap.parse_args()
    net, st, rec = data(args.duration, args.cache)
    T = float(st.t_stop)
    ti = np.asarray(rec.true_index)
    n = ti.size
    N = net.n_neurons
    Wfull = net.weights.tocsr()                                 # post × pre
    Dfull = net.weights.copy()
    Dfull.data = np.asarray(net.delays, dtype=float)
    Dfull = Dfull.tocsr()
    is_exc_all = net.cell_type == "E"
    n_res = int(round(T / RES))
    step = int(round(args.bin / RES))
    n_bins = n_res // step
    # filtered traces of every neuron at RES (float32), undelayed
    t0 = time.perf_counter()
    kE, kI = psp(0.005, args.tau_m * 1e-3), psp(0.010, args.tau_m * 1e-3)
    idx = np.minimum((st.times / RES).astype(np.int64), n_res - 1)
    pos = np.searchsorted(st.units, st.unit_ids)
    traces = np.zeros((N, n_res), dtype=np.float32)
    np.add.at(traces, (pos, idx), 1.0)
    for k in range(N):
        traces[k] = fftconvolve(traces[k], kE if is_exc_all[k] else kI)[:n_res]
    print(f"traces {time.perf_counter() - t0:.0f} s", flush=True)

    def regressor(k, d_s):
        """Trace of neuron k delayed by d_s seconds, averaged into the fit's bins."""
        sh = int(round(d_s / RES))
        v = np.zeros(n_res, dtype=np.float64)
        v[sh:] = traces[k, :n_res - sh]
        return v[:n_bins * step].reshape(n_bins, step).mean(1)

    mod = slow_comodulation(T, tau=0.2, cv=0.5, n_neurons=N, seed=3)
    gain = np.log(mod.values[:int(round(T * mod.rate)), 0])
    gt = (np.arange(n_bins) + 0.5) * args.bin
    gain_b = np.interp(gt, np.arange(gain.size) / mod.rate, gain)
    rng = np.random.default_rng(0)
    z = np.zeros((n, n))                                         # (pre, post)
    t0 = time.perf_counter()
    for r, i in enumerate(ti[:args.posts]):
        y = np.zeros(n_bins)
        own = st.times[st.unit_ids == st.units[i]]
        b = np.minimum((own / args.bin).astype(np.int64), n_bins - 1)
        np.add.at(y, b, 1.0)
        row = Wfull[[i], :]
        pres, dl = row.indices, Dfull[[i], :].toarray().ravel()[row.indices]
        if args.recorded_only:
            keep = np.isin(pres, ti)
            pres, dl = pres[keep], dl[keep]
        cols = [np.ones(n_bins)]
        if not args.no_gain:
            cols.append(gain_b - gain_b.mean())
        for tau in (0.005, 0.05, 0.2):                            # own history
            kern = np.exp(-(np.arange(1, int(5 * tau / args.bin) + 1)) * args.bin / tau)
            h = np.convolve(y, kern)[:n_bins]
            h = np.concatenate([[0.0], h[:-1]])
            cols.append(h)
        nuis = len(cols)
        for k, d in zip(pres, dl, strict=True):
            cols.append(regressor(k, d))
        X = np.stack(cols, axis=1)
        sd = X[:, 1:].std(0)
        X[:, 1:] = (X[:, 1:] - X[:, 1:].mean(0)) / np.where(sd > 0, sd, 1.0)
        beta, mu, H = fit_poisson(X, y)
        Hinv = np.linalg.inv(H)
        where = {int(k): nuis + q for q, k in enumerate(pres)}
        Xmu = X * mu[:, None]
        for c, j in enumerate(ti):
            if j == i:
                continue
            if int(j) in where:
                q = where[int(j)]
                z[c, r] = beta[q] / np.sqrt(Hinv[q, q])
            else:
                x = regressor(j, rng.integers(1, 11) * 1e-3)
                x = (x - x.mean()) / (x.std() or 1.0)
                u = float(x @ (y - mu))
                hx = Xmu.T @ x
                info = float((x * mu) @ x - hx @ Hinv @ hx)
                z[c, r] = u / np.sqrt(info) if info > 0 else 0.0
        if r % 10 == 0:
            print(f"post {r}: {pres.size} inputs, {time.perf_counter() - t0:.0f} s",
                  flush=True)
    m = args.posts
    W = Wfull[ti][:, ti].toarray()                              # post × pre
    Wz = W.T[:, :m]                                             # (pre, post) like z
    zz = z[:, :m]
    off = ~(ti[:, None] == ti[None, :m])
    s = np.where(net.cell_type[ti] == "E", 1.0, -1.0)[:, None]
    y = Wz[off]
    link = y != 0
    sc, zv = (s * zz)[off], zz[off]
    out = {"posts": m, "tau_m_ms": args.tau_m, "bin_s": args.bin, "gain": not args.no_gain,
           "recorded_only": bool(args.recorded_only),
           "n_links": int(link.sum()), "n_pairs": int(off.sum()),
           "auc": float(roc_auc_score(link, sc)),
           "auc_exc": float(roc_auc_score(y[y >= 0] > 0, zv[y >= 0])),
           "auc_inh": float(roc_auc_score(y[y <= 0] < 0, -zv[y <= 0])),
           "mean_z_E_links": float(zv[y > 0].mean()), "mean_z_I_links": float(zv[y < 0].mean()),
           "mean_z_nonlinks": float(zv[~link].mean()), "sd_z_nonlinks": float(zv[~link].std()),
           "time_s": time.perf_counter() - t0}
    print(json.dumps(out))
    if args.save_z:
        np.savez(args.save_z, z=zz, w=Wz, cell_type=net.cell_type[ti].astype(str))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
