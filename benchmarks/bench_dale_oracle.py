"""Thin evidence (issue 15): how far can any pairwise statistic get? An oracle upper bound.

Data: the recording of ``bench_dale_thin.py`` (AdEx, 100 of 1,000 neurons, 300 s,
co-modulated drive; cached simulation in ``--cache``).

The oracle is an ideal pairwise observer that is *told* what no method knows:

- the presynaptic unit's true type (E or I), so the sign of every would-be link;
- the true delay of every link (for a pair without a synapse, a delay drawn from the same
  uniform 1–10 ms distribution, seeded: the delay its synapse would have had, which is
  independent of everything else);
- the shape of the postsynaptic response: a conductance of time constant τ_syn (5 ms E,
  10 ms I, the AdEx presets) filtered by a membrane time constant τ_m, starting at the
  delay; τ_m and the kernel's form are chosen *on the truth* (the best of a small grid),
  which makes the bound optimistic.

Statistic per ordered pair (j → i): the cross-correlogram ``c(τ)`` of i's spikes around
j's (1 ms bins, ±100 ms), its jitter expectation ``b = c ∗ box(±J)`` (interval-jitter
null of Amarasingham et al. 2012; J in ms from ``--jitter``), and the matched filter
``z = Σ k(τ − d)(c − b) / √(Σ k² b)``; the score is ``s_j z`` with the true sign s_j.
AUC over all recorded ordered pairs by ``s_j z``; E-AUC (true E links against every
non-link) by ``z``, I-AUC by ``−z`` (the conventions of ``spikewire.score`` for an
estimate whose weights carry the true signs). Also on the first 1/4 and 1/2 of the
recording, to show how the bound grows with the recording length.

Usage: python benchmarks/bench_dale_oracle.py [--cache /tmp/dale_cache/thin.npz]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from numba import njit
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from bench_dale_thin import data  # noqa: E402

MAXLAG = 100     # ms


@njit(cache=True)
def _ccg(t_ms, u, n, maxlag):
    """c[j, i, maxlag + k] = #(spikes of i at t_j + k ms), k in [−maxlag, maxlag]."""
    out = np.zeros((n, n, 2 * maxlag + 1))
    m = t_ms.size
    lo = 0
    for a in range(m):
        while t_ms[lo] < t_ms[a] - maxlag:
            lo += 1
        b = lo
        while b < m and t_ms[b] <= t_ms[a] + maxlag:
            if b != a:
                out[u[a], u[b], t_ms[b] - t_ms[a] + maxlag] += 1.0
            b += 1
    return out


def kernel(kind: str, tau_s: float, tau_m: float, length: int = 60) -> np.ndarray:
    """Postsynaptic response shape on 1 ms lags 0..length−1 (unit peak)."""
    t = np.arange(length) + 0.5
    if kind == "psp":
        k = (np.exp(-t / tau_m) - np.exp(-t / tau_s)) if tau_m != tau_s else t * np.exp(-t / tau_s)
    elif kind == "box":
        k = (t < tau_m).astype(float)
    else:                                  # "exp": the conductance alone
        k = np.exp(-t / tau_s)
    return k / k.max()


def oracle_z(c, delays_ms, is_exc, kind, tau_m, jitter):
    """Matched-filter z (n pre, n post) with the jitter-corrected baseline."""
    n, _, nl = c.shape
    box = np.ones(2 * jitter + 1) / (2 * jitter + 1)
    b = np.apply_along_axis(lambda v: np.convolve(v, box, mode="same"), 2, c)
    z = np.zeros((n, n))
    ks = {True: kernel(kind, 5.0, tau_m), False: kernel(kind, 10.0, tau_m)}
    for j in range(n):
        k0 = ks[bool(is_exc[j])]
        for i in range(n):
            if i == j:
                continue
            d = int(delays_ms[j, i])
            k = np.zeros(nl)
            seg = k0[: max(nl - (MAXLAG + d), 0)]
            k[MAXLAG + d: MAXLAG + d + seg.size] = seg
            num = float(k @ (c[j, i] - b[j, i]))
            den = float(np.sqrt((k * k) @ b[j, i]))
            z[j, i] = num / den if den > 0 else 0.0
    return z


def aucs(z, W, is_exc):
    """AUC, E-AUC, I-AUC as spikewire.score does for weights signed by the true type."""
    n = W.shape[0]
    off = ~np.eye(n, dtype=bool)
    s = np.where(is_exc, 1.0, -1.0)[:, None]            # (pre, 1)
    y = W.T[off]                                         # (pre, post) like z
    score = (s * z)[off]
    zz = z[off]
    link = y != 0
    return {"auc": float(roc_auc_score(link, score)),
            "auc_exc": float(roc_auc_score(y[y >= 0] > 0, zz[y >= 0])),
            "auc_inh": float(roc_auc_score(y[y <= 0] < 0, -zz[y <= 0])),
            "mean_z_links_E": float(zz[y > 0].mean()), "mean_z_links_I": float(zz[y < 0].mean()),
            "sd_z_nonlinks": float(zz[~link].std()), "mean_z_nonlinks": float(zz[~link].mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", default="/tmp/dale_cache/thin.npz")
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--jitter", default="10,25")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    net, st, rec = data(args.duration, args.cache)
    ti = np.asarray(rec.true_index)
    n = ti.size
    W = net.weights.tocsr()[ti][:, ti].toarray()            # post × pre
    D = net.weights.copy()
    D.data = np.asarray(net.delays, dtype=float)
    D = D.tocsr()[ti][:, ti].toarray()                     # post × pre, s (0: no synapse)
    is_exc = net.cell_type[ti] == "E"
    rng = np.random.default_rng(0)
    delays_ms = np.rint(rng.uniform(1.0, 10.0, size=(n, n))).astype(int)   # (pre, post)
    true_d = np.rint(D.T * 1e3).astype(int)
    delays_ms = np.where(W.T != 0, true_d, delays_ms)
    sp = rec.spikes
    pos = np.searchsorted(sp.units, sp.unit_ids)
    print(f"{n} units, {int((W != 0).sum())} true links "
          f"({int((W > 0).sum())} E, {int((W < 0).sum())} I), {sp.times.size} spikes")
    out = {"grid": []}
    for frac in (1.0, 0.5, 0.25):
        tmax = sp.t_stop * frac
        keep = sp.times < tmax
        t_ms = np.floor(sp.times[keep] * 1e3).astype(np.int64)
        order = np.argsort(t_ms, kind="stable")
        c = _ccg(t_ms[order], pos[keep][order].astype(np.int64), n, MAXLAG)
        best = None
        for jit in (int(x) for x in args.jitter.split(",")):
            for kind, tm in (("psp", 3.0), ("psp", 10.0), ("psp", 20.0), ("exp", 0.0),
                             ("box", 5.0), ("box", 10.0), ("box", 20.0)):
                if frac < 1.0 and best is not None and (jit, kind, tm) != best[1]:
                    continue
                r = aucs(oracle_z(c, delays_ms, is_exc, kind, tm, jit), W, is_exc)
                r.update(duration_s=float(tmax), jitter_ms=jit, kernel=kind, tau_m_ms=tm)
                print(json.dumps(r), flush=True)
                out["grid"].append(r)
                if frac == 1.0 and (best is None or r["auc"] > best[0]):
                    best = (r["auc"], (jit, kind, tm))
        if frac == 1.0:
            out["best"] = best[1]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
