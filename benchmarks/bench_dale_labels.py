"""Label fallback and empirical null of ``dale_glm`` on the thin-evidence data (issue 15).

The E/I labels, p-values and scores of ``dale_glm`` depend only on its stage-1
(unconstrained) Wald z-scores and on the label settings (``min_label_confidence``,
``empirical_null``); the sign-constrained refit changes the weights only. This script runs
stage 1 once per fit setting (cached as npz in ``--cache-dir``), then builds, for every label
setting, the labels (:func:`~spikewire.infer.dale_glm.label_units`), p-values and scores
exactly as ``DaleGLM._place`` does, and scores them with :func:`spikewire.score`: AUC and
E/I accuracy are those of the full method; the weights are the stage-1 summed filters
clipped to the label's sign (an approximation of the refit), so E-/I-AUC (which rank by the
weights' signs) are close to the method's (within 0.006 on ``--brunel``) and MCC and weight
correlation are not reported. It also prints the z-score shift of each (pre, post) type
pair that explains the mislabelling.

Data: :mod:`bench_dale_thin` (AdEx 1,000, 100 recorded, 300 s, co-modulated; cached).

Usage: python benchmarks/bench_dale_labels.py [--fit '{"window": 0.012}'] [--tag w12]
       [--gain-noise 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from scipy.stats import norm

import spikewire as sw
from spikewire.infer.dale_glm import DaleGLM, _Problem, empirical_null, label_units
from spikewire.infer.estimate import Estimate
from spikewire.simulate.comodulation import slow_comodulation

sys.path.insert(0, os.path.dirname(__file__))
import bench_dale_thin  # noqa: E402

THRESHOLDS = (0.5, 0.841, 0.933, 0.977, 0.994, 0.9987)   # Φ(0, 1, 1.5, 2, 2.5, 3)


def stage1(rec, settings: dict, path: str, covariates=None):
    """Stage 1 of dale_glm on ``rec``: Wald z (pre × post) and summed filters, cached."""
    if os.path.exists(path):
        z = np.load(path)
        return z["z"], z["wsum"], z["active"]
    m = DaleGLM(**settings)
    sp = rec.spikes
    bw = m.resolve_bins(rec)[0]["bin_width"]
    active = np.flatnonzero(np.asarray(sp.counts()) >= m.min_spikes)
    tpos = np.arange(active.size)
    t0 = time.perf_counter()
    sess, R, _, design = m._session(sp, active, tpos, tpos, tpos, bw, covariates, True)
    nc = sess.C.shape[1]
    prob = _Problem([sess], [R], active.size, tpos, design.n_basis, nc, sess.P is not None,
                    float(m.ridge), float(m.history_ridge))
    csum = design.basis.sum(0)
    x0 = prob.pack(np.log(prob.rate)[None], np.zeros((prob.F, prob.nt)),
                   np.zeros((nc, prob.nt)), np.zeros(prob.nt))
    x1, ok, it, msg = prob.fit(x0, [R], max_iter=m.max_iter)
    z = prob.wald(x1, [R], csum)
    W = prob.unpack(x1)[1]
    wsum = np.einsum("jbi,b->ij", W.reshape(prob.nu, prob.nb, prob.nt), csum)  # post × pre
    print(f"stage 1 ({settings}): {time.perf_counter() - t0:.0f} s, {it} iterations, {msg}")
    np.savez(path, z=z, wsum=wsum, active=active)
    return z, wsum, active


def estimate(rec, z, wsum, active, en: bool, min_conf: float) -> Estimate:
    """The labels, p-values and scores ``dale_glm`` returns for these z-scores."""
    n = active.size
    tested = ~np.eye(n, dtype=bool)
    if en:
        z = empirical_null(z, tested)[0]
    lab = label_units(z, tested, 0.8, min_conf)
    signs = lab["signs"]
    free = signs == 0
    sz = (signs[:, None] * z).T
    pv = norm.sf(sz)
    pv2 = np.minimum(2.0 * norm.sf(np.abs(z.T)), 1.0)
    pv = np.where(free[None, :], pv2, pv)
    sz = np.where(free[None, :], norm.isf(np.clip(pv2, 1e-300, 1 - 1e-12)), sz)
    w = np.where(free[None, :], wsum, np.where(signs[None, :] > 0, np.maximum(wsum, 0),
                                               np.minimum(wsum, 0)))
    np.fill_diagonal(w, 0.0)
    np.fill_diagonal(pv, np.nan)
    np.fill_diagonal(sz, np.nan)
    status = np.zeros((n, n), dtype=np.int8)
    np.fill_diagonal(status, 1)
    return Estimate(weights=w, method="dale_glm", settings={}, units=rec.spikes.units[active],
                    pvalues=pv, scores=sz, pair_status=status,
                    cell_type=np.asarray(lab["labels"]).astype(str),
                    cell_type_confidence=lab["confidence"],
                    true_index=np.asarray(rec.true_index)[active])


def brunel_check() -> dict:
    """The full method (``sw.infer``) at three label settings on the 20-unit Brunel recording
    of ``tests/infer/test_dale_glm.py``, against :func:`estimate` built from the same fit's
    stage-1 z-scores: AUC, E-/I-AUC and E/I accuracy must agree (a check of this script)."""
    from spikewire.observe.subsample import subsample

    net = sw.networks.brunel(200, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=3)
    rec = subsample(sw.simulate(net, 60.0, seed=1), count=20, network=net, seed=2)
    out = {}
    for en, c in ((False, 0.5), (False, 0.977), (True, 0.977)):
        t0 = time.perf_counter()
        est = sw.infer(rec, "dale_glm", empirical_null=en, min_label_confidence=c)
        wall = time.perf_counter() - t0
        s = sw.score(net, est)
        d = est.diagnostics
        off = np.arange(20)
        re = sw.score(net, estimate(rec, d["wald_z_unconstrained"].T,
                                    d["unconstrained_weights"], off, en, c))
        key = f"brunel20/en={int(en)}/conf={c}"
        out[key] = {k: float(s[k]) for k in ("auc", "auc_exc", "auc_inh", "mcc", "ei_accuracy",
                                              "ei_labelled", "weight_corr")}
        out[key]["time_s"] = wall
        out[key]["bits_per_spike"] = float(d["heldout_bits_per_spike"])
        print(f"{key:28s} " + " ".join(f"{k} {v:.3f}" for k, v in out[key].items()))
        print(f"{'':28s} offline: AUC {re['auc']:.3f} E-AUC {re['auc_exc']:.3f} I-AUC "
              f"{re['auc_inh']:.3f} E/I {re['ei_accuracy']:.3f} of {re['ei_labelled']:.2f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fit", default="{}", help="dale_glm fit settings (JSON)")
    ap.add_argument("--tag", default="default")
    ap.add_argument("--cache", default="/tmp/dale_cache/thin.npz")
    ap.add_argument("--cache-dir", default="/tmp/dale_cache")
    ap.add_argument("--gain-noise", type=float, default=None,
                    help="add the co-modulation's log gain, plus white noise of this sd "
                         "relative to its own, as a measured state covariate")
    ap.add_argument("--json", default=None)
    ap.add_argument("--brunel", action="store_true",
                    help="run the full-method check on the 20-unit Brunel recording instead")
    args = ap.parse_args()
    if args.brunel:
        out = brunel_check()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return
    net, _, rec = bench_dale_thin.data(300.0, args.cache)
    fit = json.loads(args.fit)
    cov = None
    if args.gain_noise is not None:
        mod = slow_comodulation(300.0, tau=0.2, cv=0.5, n_neurons=1000, seed=3)
        g = np.log(mod.values[:int(round(300.0 * mod.rate)), 0])
        rng = np.random.default_rng(7)
        cov = g + args.gain_noise * g.std() * rng.standard_normal(g.size)
        fit["covariate_rate"] = mod.rate
    z, wsum, active = stage1(rec, fit,
                             os.path.join(args.cache_dir, f"labels_stage1_{args.tag}.npz"), cov)
    ct = net.cell_type[np.asarray(rec.true_index)[active]]
    W = net.dense_weights()[np.ix_(rec.true_index, rec.true_index)][np.ix_(active, active)]
    zp = z.T
    off = ~np.eye(active.size, dtype=bool)
    print("mean (sd) Wald z of non-links / links by (pre, post) type:")
    for pre in "EI":
        for post in "EI":
            sel = off & (ct[None, :] == pre) & (ct[:, None] == post)
            nl, lk = sel & (W == 0), sel & (W != 0)
            print(f"  {pre}->{post}: non-links {zp[nl].mean():+.2f} ({zp[nl].std():.2f}), "
                  f"links {zp[lk].mean():+.2f} ({zp[lk].std():.2f}), n = {nl.sum()}/{lk.sum()}")
    out = {}
    for en in (False, True):
        for c in THRESHOLDS:
            s = sw.score(net, estimate(rec, z, wsum, active, en, c))
            lab = s["ei_labelled"]
            key = f"{args.tag}/en={int(en)}/conf={c}"
            out[key] = {k: float(s[k]) for k in ("auc", "auc_exc", "auc_inh", "ei_accuracy",
                                                  "ei_labelled")}
            print(f"{key:28s} AUC {s['auc']:.3f} E-AUC {s['auc_exc']:.3f} I-AUC "
                  f"{s['auc_inh']:.3f}  E/I acc {s['ei_accuracy']:.3f} of {lab:.2f} labelled")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
