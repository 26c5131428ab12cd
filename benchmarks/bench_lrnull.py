"""The low-rank methods' default decision on connected networks (issue 12, helper lrnull).

A rank-2 preset network (:func:`spikewire.networks.lowrank.lowrank_preset`) on ``Ns`` of
``N`` units; the other ``N − Ns`` units have ``m = n = 0`` (constant rate, no coupling), so
the true J is nonzero exactly on the ``Ns × Ns`` block. The structured units' ``n`` is
scaled by ``N / Ns`` so that the latent dynamics are the preset's. Poisson spikes at
``rate_offset + rate_gain · φ`` Hz in 10-ms bins, ``grid²`` trials of ``steps`` bins from a
grid of initial latents. ``Ns = N``: the dense preset itself (every pair a link, so AUC and
MCC are undefined; the calls are reported).

Per case: the gate (p, t, time), the default calls (in the block / all), and AUC, MCC at the
default decision of today (gate, then robust z with Bonferroni 0.05) against the decision
before (main f32c216: the weights' robust z, BH at α = 0.2, which was the model's Δt/τ);
the weights are the same (checked: identical with ``n_surrogates=0``).

``--gate-null FAMILIES --null-seeds S``: instead, the gate's calibration on small fits to
null families (:mod:`spikewire.infer._null_families`; 12 units, 40 s, ``n_iter=40``, one
restart, seeds 0 … S−1): the gate p-values and the default calls of every fit.

Both tests of the gate are recorded (helper lrgate): the shift test (``shift_p``) and the
reversal test (``reversal_p``, ``--n-reversals K``; 0: the shift test alone), and the gate's
p, the larger of the two; null runs also record every fit's losses. ``--reversal-test
heldout|surrogates`` picks the reversal test (helper lrgate2; default: the methods').

``--drive-timescale X``, ``--min-gain G``: the method settings ``drive_timescale`` (s;
``none``: the gate without the shared-drive inputs) and ``min_gain``; ``--drive-timescale
none --min-gain 0`` is the decision of lrnull.md. Default: the methods' defaults.

Usage: nice python benchmarks/bench_lrnull.py [--cases limit_cycle:30:40 ring:30:40 ...]
       [--methods lowrank lowrank_flow] [--n-iter 150] [--restarts 1] [--jsonl out.jsonl]
       nice python benchmarks/bench_lrnull.py --gate-null poisson,bursting --null-seeds 40
           [--seed0 S] [--n-reversals K] [--min-gain 0]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

import spikewire as sw
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.simulate.lowrank import initial_grid, observe_spikes, simulate_lowrank


def planted(preset, Ns, N, *, grid=5, steps=200, rate_offset=20.0, rate_gain=20.0, seed=0):
    s = lowrank_preset(preset, Ns, seed=seed)
    m = np.vstack([s.m, np.zeros((N - Ns, 2))])
    n = np.vstack([s.n * N / Ns, np.zeros((N - Ns, 2))])
    net = lowrank_network(m, n)
    act = simulate_lowrank(net, initial_grid(grid, 2.4), steps)
    return net, observe_spikes(act, rate_offset=rate_offset, rate_gain=rate_gain, seed=seed + 1)


def run(case, method, kw, seed):
    preset, Ns, N = case.split(":")
    Ns, N = int(Ns), int(N)
    net, rec = planted(preset, Ns, N, seed=seed)
    W = net.weights()
    np.fill_diagonal(W, 0.0)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = sw.infer(rec, method, seed=seed, **kw)
    el = time.perf_counter() - t0
    off = ~np.eye(N, dtype=bool)
    block = np.zeros((N, N), dtype=bool)
    block[:Ns, :Ns] = True
    block &= off
    adj = est.adjacency()
    g = est.diagnostics.get("surrogate_gate", {})
    out = {"case": case, "method": method, "seed": seed, "kw": kw, "time_s": el,
           "gate_p": g.get("p"), "gate_t": g.get("t"), "gate_time_s": g.get("time_s"),
           "gate_gain": g.get("gain"), "gate_passed": g.get("passed"),
           "gate_loss": g.get("loss"), "gate_plain_loss": g.get("plain_loss"),
           "gate_surrogate_losses": g.get("surrogate_losses"),
           "gate_shift_p": g.get("shift_p"), "gate_reversal_p": g.get("reversal_p"),
           "gate_reversal_t": g.get("reversal_t"), "gate_reversal_gain": g.get("reversal_gain"),
           "gate_reversal_losses": g.get("reversal_losses"),
           "gate_reversal_test": g.get("reversal_test"),
           "calls": int((adj[off] != 0).sum()), "calls_in_block": int((adj[block] != 0).sum()),
           "block_pairs": int(block.sum()), "pairs": int(off.sum()),
           "null_check": est.diagnostics.get("null_check"),
           "warnings": sorted({str(w.message)[:160] for w in caught})}
    after = sw.score(W, est)
    est.pvalues = None        # the decision before: robust z of the weights, BH at 0.2
    before = sw.score(W, est, alpha=0.2, correction="bh")
    for tag, sc in (("after", after), ("before", before)):
        for k in ("auc", "mcc", "mcc_best", "n_detected", "precision", "recall"):
            out[f"{tag}_{k}"] = sc[k]
    return out


def gate_null(families, n_seeds, extra=None, jsonl="", seed0=0):
    from scipy.stats import kstest

    from spikewire.infer._null_families import null_family

    for fam in families:
        ps, calls, gains, shift_p, rev_p, rev_gains, times = [], [], [], [], [], [], []
        rev_t = []
        losses = []
        t0 = time.perf_counter()
        for seed in range(seed0, seed0 + n_seeds):
            st = null_family(fam, n_units=12, duration=40, seed=seed)
            t1 = time.perf_counter()
            est = sw.infer(st, "lowrank", seed=seed, n_iter=40, n_restarts=1, **(extra or {}))
            times.append(time.perf_counter() - t1)
            off = ~np.eye(12, dtype=bool)
            g = est.diagnostics["surrogate_gate"]
            ps.append(g["p"])
            gains.append(float(np.mean(g["surrogate_losses"]) / g["loss"] - 1.0))
            shift_p.append(g.get("shift_p", g["p"]))
            rev_p.append(g.get("reversal_p", float("nan")))
            rev_gains.append(g.get("reversal_gain", float("nan")))
            rev_t.append(g.get("reversal_t", float("nan")))
            calls.append(int((est.adjacency()[off] != 0).sum()))
            losses.append([g["loss"], g["surrogate_losses"], g.get("reversal_losses")])
        line = json.dumps({"family": fam, "kw": extra or {}, "seeds": [seed0, seed0 + n_seeds],
                           "gate_p": [round(p, 4) for p in ps], "calls": calls,
                           "shift_p": [round(p, 4) for p in shift_p],
                           "reversal_p": [round(p, 4) for p in rev_p],
                           "rel_gain": [round(x, 5) for x in gains],
                           "reversal_gain": [round(x, 5) for x in rev_gains],
                           "reversal_t": [round(x, 3) for x in rev_t],
                           "gate_open": int(np.sum(np.array(ps) < 0.05)),
                           "shift_open": int(np.sum(np.array(shift_p) < 0.05)),
                           "reversal_open": int(np.sum(np.array(rev_p) < 0.05)),
                           "fits_with_calls": int(np.sum(np.array(calls) > 0)),
                           "ks": list(kstest(ps, "uniform")),
                           "fit_time_s": [round(x, 2) for x in times],
                           "losses": losses,
                           "time_s": time.perf_counter() - t0})
        print(line, flush=True)
        if jsonl:
            with open(jsonl, "a") as fh:
                fh.write(line + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", default=["limit_cycle:30:40", "ring:30:40",
                                                   "bistable:30:40"])
    ap.add_argument("--methods", nargs="+", default=["lowrank", "lowrank_flow"])
    ap.add_argument("--n-iter", type=int, default=150)
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--jsonl", default="")
    ap.add_argument("--gate-null", default="")
    ap.add_argument("--null-seeds", type=int, default=10)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--n-reversals", type=int, default=None)
    ap.add_argument("--reversal-test", default=None, choices=["heldout", "surrogates"])
    ap.add_argument("--drive-timescale", default="")
    ap.add_argument("--min-gain", type=float, default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    extra = {} if not a.drive_timescale else {
        "drive_timescale": None if a.drive_timescale == "none" else float(a.drive_timescale)}
    if a.min_gain is not None:
        extra["min_gain"] = a.min_gain
    if a.n_reversals is not None:
        extra["n_reversals"] = a.n_reversals
    if a.reversal_test is not None:
        extra["reversal_test"] = a.reversal_test
    if a.gate_null:
        gate_null(a.gate_null.split(","), a.null_seeds, extra, a.jsonl, a.seed0)
        return
    kw = {"n_iter": a.n_iter, "n_restarts": a.restarts, **extra}
    for case in a.cases:
        for method in a.methods:
            for seed in map(int, a.seeds.split(",")):
                rec = run(case, method, kw, seed)
                line = json.dumps(rec, default=float)
                print(line, flush=True)
                if a.jsonl:
                    with open(a.jsonl, "a") as fh:
                        fh.write(line + "\n")


if __name__ == "__main__":
    main()
