"""Stitching (issue 15): three sessions of 100 units each out of 300, overlapping by 30.

Data: a Brunel network (``spikewire.networks.brunel``, N = 300, ε = 0.1, g = 5, J = 2 mV,
η = 0.6, 1.5 ms delays, seed 3). The neurons are put in a random order (seed 0) and
session k records positions ``70 k .. 70 k + 99`` of that order (A ∩ B and B ∩ C: 30 units
each; 240 of the 300 neurons recorded in some session, 60 never). Every session is its
own simulation of the network (seed 10 + k) of ``--duration`` s.

Fits: ``DaleGLM().fit_sessions([A, B, C])`` (stitched) against ``dale_glm`` on each session
alone, whose z-scores of a pair recorded in two sessions are combined by Stouffer's sum
(z₁ + z₂)/√2 (the weights by their mean). Scores per pair class: pairs recorded together in
one session, pairs recorded together in two sessions (both units in one overlap), and pairs
never recorded together (no evidence by design: only the presynaptic label predicts a
sign). AUC of |score| per class (for both fits; ``spikewire.score`` ranks the signed
score instead, reported for the stitched estimate over all tested pairs), sign accuracy
of the true links, E/I accuracy of the labels of units in one session vs in two.

``--neurons/--units/--overlap`` scale the layout down (same proportions: 120 / 40 / 12).

Usage: python benchmarks/bench_dale_stitch.py [--duration 60] [--neurons 300] [--units 100]
       [--overlap 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from sklearn.metrics import roc_auc_score

import spikewire as sw
from spikewire.infer.dale_glm import DaleGLM
from spikewire.observe.subsample import subsample


def sessions(duration: float, cache: str, n: int = 300, units: int = 100, overlap: int = 30):
    net = sw.networks.brunel(n, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=3)
    order = np.random.default_rng(0).permutation(n)
    step = units - overlap
    recs = []
    for k in range(3):
        path = f"{cache}/stitch_{n}_{duration:g}_{k}.npz" if n != 300 else (
            f"{cache}/stitch_{duration:g}_{k}.npz")
        if os.path.exists(path):
            z = np.load(path)
            st = sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=duration,
                                           units=np.arange(n), sort=True,
                                           annotations={"engine": "lif", "dt": 1e-4})
        else:
            st = sw.simulate(net, duration, seed=10 + k)
            np.savez(path, times=st.times, ids=st.unit_ids)
        recs.append(subsample(st, neurons=np.sort(order[step * k:step * k + units]),
                              network=net))
    return net, recs


def pair_scores(W, ct, units, score, weight, together, n_tog, labels):
    """AUC / sign accuracy per pair class over the (post, pre) pairs among ``units``."""
    Wt = W[np.ix_(units, units)]
    off = ~np.eye(units.size, dtype=bool)
    out = {}
    for name, cls in [("one session", (n_tog == 1) & off), ("two sessions", (n_tog == 2) & off)]:
        y = Wt[cls] != 0
        ev = np.abs(score[cls])
        out[name] = {"n_pairs": int(cls.sum()), "n_links": int(y.sum()),
                     "auc": float(roc_auc_score(y, ev)) if 0 < y.sum() < y.size else None,
                     "sign_acc": float(np.mean(np.sign(weight[cls][y]) == np.sign(Wt[cls][y])))}
    never = ~together & off
    y = Wt[never] != 0
    pre_sign = np.where(np.asarray(labels) == "E", 1, -1)[None, :].repeat(units.size, 0)
    out["never together"] = {"n_pairs": int(never.sum()), "n_links": int(y.sum()),
                             "sign_from_label_acc": float(np.mean(
                                 pre_sign[never][y] == np.sign(Wt[never][y])))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--neurons", type=int, default=300)
    ap.add_argument("--units", type=int, default=100, help="units per session")
    ap.add_argument("--overlap", type=int, default=30)
    ap.add_argument("--cache", default="/tmp/dale_cache")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    net, recs = sessions(args.duration, args.cache, args.neurons, args.units, args.overlap)
    W = net.dense_weights()
    ct = np.asarray(net.cell_type)
    for k, r in enumerate(recs):
        rates = r.spikes.rates()
        print(f"session {k}: {r.n_units} units, mean rate {rates.mean():.1f} Hz")
    t0 = time.perf_counter()
    est = DaleGLM().fit_sessions(recs)
    t_st = time.perf_counter() - t0
    units = est.true_index
    together = est.diagnostics["recorded_together"]
    n_tog = est.diagnostics["sessions_together"]
    sc = np.nan_to_num(est.scores, nan=0.0)
    res = {"stitched": pair_scores(W, ct, units, sc, est.weights, together, n_tog,
                                   est.cell_type)}
    res["stitched"]["time_s"] = t_st
    n_in = np.zeros(units.size, dtype=int)
    for r in recs:
        n_in[np.searchsorted(units, r.true_index)] += 1
    res["stitched"]["ei_acc_one_session"] = float(np.mean(
        est.cell_type[n_in == 1] == ct[units[n_in == 1]]))
    res["stitched"]["ei_acc_two_sessions"] = float(np.mean(
        est.cell_type[n_in == 2] == ct[units[n_in == 2]]))
    # separate fits, combined
    z = np.zeros((units.size, units.size))
    w = np.zeros_like(z)
    votes = np.zeros(units.size)
    t0 = time.perf_counter()
    for r in recs:
        e = sw.infer(r, "dale_glm")
        pos = np.searchsorted(units, r.true_index)
        z[np.ix_(pos, pos)] += np.nan_to_num(e.scores, nan=0.0)
        w[np.ix_(pos, pos)] += e.weights
        votes[pos] += np.where(e.cell_type == "E", 1.0, -1.0) * e.cell_type_confidence
    t_sep = time.perf_counter() - t0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(n_tog > 0, z / np.sqrt(np.maximum(n_tog, 1)), 0.0)
        w = np.where(n_tog > 0, w / np.maximum(n_tog, 1), 0.0)
    lab = np.where(votes >= 0, "E", "I")
    res["separate"] = pair_scores(W, ct, units, z, w, together, n_tog, lab)
    res["separate"]["time_s"] = t_sep
    res["separate"]["ei_acc_one_session"] = float(np.mean(lab[n_in == 1] == ct[units[n_in == 1]]))
    res["separate"]["ei_acc_two_sessions"] = float(np.mean(
        lab[n_in == 2] == ct[units[n_in == 2]]))
    s = sw.score(net, est)
    res["stitched"]["score_all_tested"] = {k: float(s[k]) for k in ("auc", "mcc", "ei_accuracy")}
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
