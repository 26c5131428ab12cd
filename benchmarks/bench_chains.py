"""Telling a monosynaptic link from a two-step chain by latency and shape (issue 12).

On 20 units of NEST network 3 (``nest_external_network.py``) glmcc's and tspe's false calls
are two-step excitatory chains j → k → i through unrecorded neurons (benchmarks/results/
indirect.md §3). A direct link's cross-correlogram (CCG) peak starts at its axonal delay
and is as sharp as the postsynaptic kernel; a chain's starts at d₁ + d₂ + the
intermediate's spike latency and is smeared by that latency's jitter. This script asks
whether the calls of a method can be split into links and chains by

- ``delay``: the delay the method reports for the pair (glmcc: the delay of highest
  posterior on its grid; ccg / tspe: their own delay estimate);
- ``peak``, ``onset``, ``width``: the lag (ms) of the CCG's largest excess over its
  baseline in 0–25 ms, the first lag before it at which the excess reaches half of the
  peak, and the full width at half maximum (ms), from 0.5 ms bins smoothed over 3 bins
  (:func:`ccg_shape`);

and reports, among the called excitatory pairs, the ROC AUC of each feature for "false
call" against "true link" (AUC > 0.5: larger values mark false calls).

Networks (the truth is the whole network, so every chain is known):

- ``lif_d15``: the calibration families' Brunel-type LIF network (1,000 neurons,
  ``bench_calibration.build_network("brunel")``) with per-synapse delays drawn uniform in
  1–5 ms (as NEST network 3) and exponential synaptic currents ``tau_syn`` = 1 ms
  (network 3's excitatory τ); ``lif_d15_delta``: the same with delta synapses;
- a NEST network npz (``--npz``), 20-unit subsets drawn as ``bench_external20.py`` draws
  them.

Usage (main venv, one thread)::

    NUMBA_NUM_THREADS=1 nice -n 10 python benchmarks/bench_chains.py sim \
        --families lif_d15 --duration 600 --units 100 --methods glmcc ccg tspe \
        --jsonl OUT.jsonl
    NUMBA_NUM_THREADS=1 nice -n 10 python benchmarks/bench_chains.py nest \
        --npz /tmp/chains/mat_s3_epsp1.npz --durations 3600 --methods glmcc tspe \
        --jsonl OUT.jsonl

Simulations are cached under ``$SPIKEWIRE_BENCH_CACHE`` (default
/tmp/spikewire_bench_calibration).
"""
from __future__ import annotations

import argparse
import copy
import json
import time
import warnings

import numpy as np
import scipy.sparse as sp
from bench_calibration import (
    best_mcc,
    build_network,
    fit_scored,
    network_digest,
    ranking_evidence,
    study_recordings,
)

import spikewire as sw
from spikewire.infer._latency import restrict_delays

FEATURES = ("delay", "peak", "onset", "width")

#: delay ranges (s) tried as ``restrict_delays`` on each estimate (same fit)
RANGES = ((0.0005, 0.006), (0.001, 0.006), (0.0, 0.006), (0.0005, 0.005), (0.0005, 0.008))


# ----------------------------------------------------------------- networks
def build(family: str, seed: int = 0):
    """A 1,000-neuron Brunel-type LIF network with delays uniform in 1–5 ms."""
    net, _ = build_network("brunel", 1000, seed)
    rng = np.random.default_rng(seed + 500)
    d = np.round(rng.uniform(1e-3, 5e-3, net.weights.nnz), 4)
    net = net.replace(delays=d)
    if family == "lif_d15_ln":
        # heavy-tailed excitatory PSPs as in NEST network 3 (log-normal, log-sd 0.9, mean
        # kept, at most 8× the mean): strong synapses make two-step chains visible
        w = sp.csc_array(net.weights)
        exc = w.data > 0
        g = rng.lognormal(-0.5 * 0.9 ** 2, 0.9, int(exc.sum()))
        data = w.data.copy()
        data[exc] = data[exc] * np.minimum(g, 8.0)
        net = net.replace(weights=sp.csc_array((data, w.indices, w.indptr), shape=w.shape))
        family = "lif_d15"
    if family == "lif_d15":
        # exponential currents, τ_s = 1 ms; weights and drive × τ_m/τ_s keep each PSP's
        # area (w τ_m for a delta synapse, w' τ_s for an exponential one)
        import dataclasses

        f = net.params.tau_m / 1e-3
        net = net.replace(params=net.params.with_synapse(1e-3), weights=net.weights * f,
                          drive=dataclasses.replace(net.drive,
                                                    weight=net.drive.weight * f))
    elif family != "lif_d15_delta":
        raise ValueError(f"unknown family {family!r}; use lif_d15, lif_d15_ln or "
                         "lif_d15_delta")
    return net


def simulate_cached(family, duration, seed):
    import os
    from pathlib import Path

    cache = Path(os.environ.get("SPIKEWIRE_BENCH_CACHE", "/tmp/spikewire_bench_calibration"))
    cache.mkdir(parents=True, exist_ok=True)
    net = build(family, seed)
    path = cache / f"{family}_n1000_T{duration:g}_s{seed}_{network_digest(net)}.npz"
    if path.exists():
        return net, sw.SpikeTrains.load(path)
    st = sw.simulate(net, duration, seed=seed)
    st.save(path)
    return net, st


def dense_delays(net) -> np.ndarray:
    """Post × pre delays (s) of every synapse (NaN where none)."""
    w = sp.csc_array(net.weights)
    sd = net.synapse_delays()
    if sd is None:      # one time step (0.1 ms in the study's simulations)
        sd = np.full(w.nnz, 1e-4)
    d = sp.csc_array((sd + 1.0, w.indices, w.indptr), shape=w.shape)
    out = d.toarray() - 1.0
    out[out < 0] = np.nan
    return out


# ----------------------------------------------------------------- features
def ccg_shape(times_pre, times_post, *, max_lag=0.025, bin_width=0.0005, base=(0.025, 0.05)):
    """Peak latency, onset and width (ms) of the CCG excess of ``post`` after ``pre``.

    Lags ``t_post − t_pre`` in 0.5 ms bins; baseline: the mean count per bin over
    ``base[0] ≤ |lag| < base[1]``; the excess, smoothed over 3 bins, is searched for its
    maximum in ``[0, max_lag)``. Onset: the first lag before the peak from which the excess
    stays at or above half the peak; width: the full width at half maximum. NaN when the
    excess is nowhere positive.
    """
    tp = np.asarray(times_pre)
    tq = np.asarray(times_post)
    edges = np.arange(-base[1], base[1] + bin_width / 2, bin_width)
    lo = np.searchsorted(tq, tp - base[1])
    hi = np.searchsorted(tq, tp + base[1])
    lags = np.concatenate([tq[a:b] - t for a, b, t in zip(lo, hi, tp, strict=True)]) \
        if tp.size else np.empty(0)
    c, _ = np.histogram(lags, edges)
    centre = 0.5 * (edges[:-1] + edges[1:])
    far = (np.abs(centre) >= base[0]) & (np.abs(centre) < base[1])
    e = c - c[far].mean()
    e = np.convolve(e, np.ones(3) / 3, mode="same")
    sel = np.nonzero((centre >= 0) & (centre < max_lag))[0]
    k = sel[np.argmax(e[sel])]
    h = e[k]
    if not h > 0:
        return np.nan, np.nan, np.nan
    a = k
    while a - 1 >= 0 and e[a - 1] >= h / 2:
        a -= 1
    b = k
    while b + 1 < e.size and e[b + 1] >= h / 2:
        b += 1
    return centre[k] * 1e3, centre[a] * 1e3, (b - a + 1) * bin_width * 1e3


def _auc(x, y):
    """AUC of ``x`` for labels ``y`` (NaN-free entries; ties half)."""
    from scipy.stats import rankdata

    ok = np.isfinite(x)
    x, y = x[ok], np.asarray(y, bool)[ok]
    if y.all() or not y.any():
        return float("nan")
    r = rankdata(x)
    n1 = y.sum()
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (~y).sum()))


def analyse(est, spikes_by_unit, idx, W, D, label, extra=None):
    """Per called excitatory pair: truth class and features; prints and returns a row."""
    n = idx.size
    off = ~np.eye(n, dtype=bool)
    adj = est.adjacency()
    Wsub = W[np.ix_(idx, idx)]
    Wp = np.maximum(W, 0.0)
    S2 = (Wp @ Wp)[np.ix_(idx, idx)]                       # Σ_k W_ik W_kj, excitatory chains
    # latency of the strongest two-step chain (s): d_ik + d_kj of argmax_k W_ik W_kj
    called = np.argwhere((adj > 0) & off)
    recs = []
    for i, j in called:
        gi, gj = idx[i], idx[j]
        prod = Wp[gi, :] * Wp[:, gj]
        kbest = int(np.argmax(prod))
        chain_lat = (D[gi, kbest] + D[kbest, gj]) * 1e3 if prod[kbest] > 0 else np.nan
        pk, on, wd = ccg_shape(spikes_by_unit[j], spikes_by_unit[i])
        recs.append(dict(true=bool(Wsub[i, j] != 0), exc_true=bool(Wsub[i, j] > 0),
                         true_delay=float(D[gi, gj] * 1e3) if Wsub[i, j] != 0 else np.nan,
                         chain=float(S2[i, j]), chain_latency=chain_lat,
                         delay=float(est.delays[i, j] * 1e3) if est.delays is not None
                         else np.nan, peak=pk, onset=on, width=wd))
    y_false = np.array([not r["true"] for r in recs])
    row = dict(label=label, n_true=int((Wsub[off] != 0).sum()), called_exc=len(recs),
               false=int(y_false.sum()))
    for f in FEATURES:
        x = np.array([r[f] for r in recs], dtype=float)
        row[f"auc_{f}"] = _auc(x, y_false)
        row[f"{f}_true_med"] = float(np.nanmedian(x[~y_false])) if (~y_false).any() else None
        row[f"{f}_false_med"] = float(np.nanmedian(x[y_false])) if y_false.any() else None
    row["chain_latency_false_med"] = float(np.nanmedian(
        [r["chain_latency"] for r in recs if not r["true"]])) if y_false.any() else None
    if extra:
        row.update(extra)
    return row, recs


def cut_rows(recs, label, cuts=(4.0, 5.0, 6.0, 8.0)):
    """Calls kept / false calls kept when dropping calls with delay (or onset) > cut."""
    out = []
    for f in ("delay", "onset", "peak"):
        x = np.array([r[f] for r in recs], dtype=float)
        t = np.array([r["true"] for r in recs])
        for c in cuts:
            keep = ~(x > c)
            out.append(dict(label=label, feature=f, cut_ms=c, true_kept=int((keep & t).sum()),
                            true_all=int(t.sum()), false_kept=int((keep & ~t).sum()),
                            false_all=int((~t).sum())))
    return out


# ----------------------------------------------------------------- runs
def run_sim(families, duration, n_units, methods, seed, jsonl, n_subsets=1):
    for fam in families:
        c0 = time.process_time()
        net, st = simulate_cached(fam, duration, seed)
        print(f"# {fam}: simulated/loaded in {time.process_time() - c0:.1f} s CPU, "
              f"{st.grouped_times.size} spikes", flush=True)
        W = net.dense_weights().astype(float)
        D = dense_delays(net)
        rng = np.random.default_rng(seed + 2026)
        for k in range(n_subsets):
            idx = np.sort(rng.choice(st.n_units, n_units, replace=False))
            sub = st.select(idx).restrict(0.0, duration)
            rec = sw.Recording.from_spikes(sub, true_index=idx)
            spikes = [sub.grouped_times[sub.indptr[u]:sub.indptr[u + 1]]
                      for u in range(n_units)]
            for m in methods:
                _one(rec, m, spikes, idx, W, D, net, f"{fam}/{n_units}u/k{k}/{duration:g}s",
                     jsonl)


def _one(rec, m, spikes, idx, W, D, truth, label, jsonl):
    from spikewire.score import score

    est, sc, _, cpu = fit_scored(rec, m, truth)
    off = ~np.eye(idx.size, dtype=bool)
    link = (W[np.ix_(idx, idx)] != 0)[off]
    extra = dict(method=m, mcc=sc["mcc"], called=int(sc["n_detected"]),
                 true_links=int(link.sum()), mcc_best=best_mcc(link, ranking_evidence(est)[off]),
                 cpu_s=cpu)
    if est.delays is not None:
        for r in RANGES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                e2 = restrict_delays(copy.deepcopy(est), r)
                s2 = score(truth, e2)
            extra[f"after_{r[0] * 1e3:g}_{r[1] * 1e3:g}"] = dict(
                mcc=s2["mcc"], called=int(s2["n_detected"]),
                mcc_best=best_mcc(link, ranking_evidence(e2)[off]),
                withdrawn_called=e2.diagnostics["delay_range"]["n_withdrawn_called"],
                newly_called=e2.diagnostics["delay_range"]["n_newly_called"],
                held_back=e2.diagnostics["delay_range"]["n_held_back"])
    row, recs = analyse(est, spikes, idx, W, D, label, extra)
    print(json.dumps(row), flush=True)
    for r in cut_rows(recs, f"{label}/{m}"):
        print("   ", json.dumps(r), flush=True)
    if jsonl:
        with open(jsonl, "a") as fh:
            fh.write(json.dumps(dict(row=row, calls=recs)) + "\n")
    return est


def run_nest(path, durations, n_subsets, methods, jsonl, only=()):
    from bench_external20 import load_network, recording

    net = load_network(path)
    D = np.load(path)["delay_post_pre_ms"] * 1e-3
    D = np.where(net["W"] != 0, D, np.nan)
    n = net["is_exc"].size
    truth = (net["W"], np.where(net["is_exc"], "E", "I"))
    rng = np.random.default_rng(2026)
    subsets = [np.sort(rng.choice(n, 20, replace=False)) for _ in range(n_subsets)]
    for k, idx in enumerate(subsets):
        if only and k not in only:
            continue
        for T in durations:
            rec = recording(net, idx, T)
            st = rec.spikes
            spikes = [st.grouped_times[st.indptr[u]:st.indptr[u + 1]] for u in range(20)]
            for m in methods:
                _one(rec, m, spikes, idx, net["W"], D, truth, f"nest/k{k}/{T:g}s", jsonl)


#: the known delay range (s) of each family of the built-in study ``calibration`` and of
#: NEST network 3, turned into ``delay_range`` by the rule fixed on network 3's subset 0:
#: (shortest − 0.5 ms, longest + 1 ms) — glmcc's fitted delay of a link sat at the true
#: delay to 1 ms after it (the PSP's rise), never more than 0.5 ms before it
STUDY_DELAYS = {"brunel": (1.5e-3, 1.5e-3), "brunel_states": (1.5e-3, 1.5e-3),
                "izh_random": (1e-3, 20e-3), "izh_scale_free": (1e-3, 20e-3),
                "adex": (1e-3, 10e-3), "scale_free_lif": (1e-3, 5e-3)}


def prior_range(shortest, longest):
    """``delay_range`` (s) for axonal delays known to lie in [shortest, longest] (s)."""
    return (max(shortest - 5e-4, 0.0), longest + 1e-3)


def run_study(families, methods, duration, jsonl):
    """The built-in study ``calibration``'s networks (100 of 1,000 units, 1 kHz stamps;
    simulations cached as ``bench_calibration.py study`` caches them): each method fitted
    once, scored at its default and after ``restrict_delays`` with the family's prior
    range (:data:`STUDY_DELAYS`, :func:`prior_range`) and the features of its calls."""
    global RANGES
    for fam, net, rec, _ in study_recordings(families, duration):
        idx = np.asarray(rec.true_index)
        st = rec.spikes
        spikes = [st.grouped_times[st.indptr[u]:st.indptr[u + 1]] for u in range(idx.size)]
        W = net.dense_weights().astype(float)
        D = dense_delays(net)
        RANGES = (prior_range(*STUDY_DELAYS[fam]),)
        for m in methods:
            _one(rec, m, spikes, idx, W, D, net, f"study/{fam}/{duration:g}s", jsonl)


def table(paths):
    """Pooled over the fits of each (network, duration, method): false / called
    excitatory, ROC AUC of each feature for false calls among them, medians of the
    features of true links and false calls, and MCC at the default → after each delay
    range (median over fits; called / true links summed)."""
    groups: dict = {}
    for path in paths:
        for line in open(path):
            d = json.loads(line)
            r = d["row"]
            parts = r["label"].split("/")
            key = ("/".join(p for p in parts if not p.startswith("k")), r["method"])
            groups.setdefault(key, []).append(d)
    print("| network | method | fits | false / called E | " +
          " | ".join(f"AUC {f}" for f in FEATURES) +
          " | delay ms true / false (median) | onset ms true / false | chain latency of "
          "false calls (Σ delays, median ms) |")
    print("|---" * (8 + len(FEATURES)) + "|")
    for (net, m), ds in groups.items():
        calls = [c for d in ds for c in d["calls"]]
        y = np.array([not c["true"] for c in calls])

        def med(f, sel, calls=calls):
            x = np.array([c[f] for c in calls], dtype=float)[sel]
            return f"{np.nanmedian(x):.1f}" if np.isfinite(x).any() else "—"

        aucs = " | ".join(f"{_auc(np.array([c[f] for c in calls], dtype=float), y):.2f}"
                          for f in FEATURES)
        print(f"| {net} | {m} | {len(ds)} | {int(y.sum())} / {y.size} | {aucs} | "
              f"{med('delay', ~y)} / {med('delay', y)} | {med('onset', ~y)} / "
              f"{med('onset', y)} | {med('chain_latency', y)} |")
    print()
    print("| network | method | range (ms) | MCC default → after (median [min–max]) | "
          "best MCC → after (median) | called / true → called after (sum) | calls "
          "withdrawn | held back (lfdr refit) |")
    print("|---|---|---|---|---|---|---|---|")
    for (net, m), ds in groups.items():
        rows = [d["row"] for d in ds]
        for k in [k for k in rows[0] if k.startswith("after_")]:
            a = [r[k] for r in rows]

            def mr(x):
                return f"{np.median(x):.3f} [{min(x):.2f}–{max(x):.2f}]"

            print(f"| {net} | {m} | {k[6:].replace('_', '–')} | {mr([r['mcc'] for r in rows])}"
                  f" → {mr([x['mcc'] for x in a])} | "
                  f"{np.median([r['mcc_best'] for r in rows]):.3f} → "
                  f"{np.median([x['mcc_best'] for x in a]):.3f} | "
                  f"{sum(r['called'] for r in rows)} / {sum(r['true_links'] for r in rows)} → "
                  f"{sum(x['called'] for x in a)} | {sum(x['withdrawn_called'] for x in a)} | "
                  f"{_held(a)} |")


def _held(a):
    """Pairs held back, summed ("—" for rows written before it was recorded)."""
    return sum(x["held_back"] for x in a) if all("held_back" in x for x in a) else "—"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("sim", "nest", "study", "table"))
    ap.add_argument("jsonls", nargs="*", help="for `table`: JSONL files of earlier runs")
    ap.add_argument("--families", default="lif_d15")
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--subsets", type=int, default=1)
    ap.add_argument("--subset-list", default="")
    ap.add_argument("--npz", default="/tmp/chains/mat_s3_epsp1.npz")
    ap.add_argument("--durations", default="3600")
    ap.add_argument("--methods", nargs="+", default=["glmcc"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jsonl", default="")
    a = ap.parse_args()
    if a.what == "table":
        table(a.jsonls)
    elif a.what == "study":
        run_study(a.families.split(","), a.methods, a.duration, a.jsonl)
    elif a.what == "sim":
        run_sim(a.families.split(","), a.duration, a.units, a.methods, a.seed, a.jsonl,
                a.subsets)
    else:
        run_nest(a.npz, [float(x) for x in a.durations.split(",")], a.subsets or 5,
                 a.methods, a.jsonl, [int(x) for x in a.subset_list.split(",") if x])


if __name__ == "__main__":
    main()
