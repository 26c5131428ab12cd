"""gnn's link decision: the rate-stratified weight null against the plain weight null
(helper "gnnnull", issues 12 and 19).

Two modes:

``nulls DIR [DIR ...]``
    Reads the weight matrices that ``bench_calibration.py nullall --methods gnn --weights
    DIR`` saved (``{family}_s{seed}_gnn_w.npy``), re-simulates each recording (the null
    families are seeded: :func:`spikewire.infer._null_families.null_family`) for the units'
    rates and applies both decisions to the same weights: the plain weight null
    (:meth:`~spikewire.infer.estimate.Estimate.weight_null_pvalues`, gnn's decision before
    this change, ``weight_null="weights"``) and the rate-stratified null
    (:func:`spikewire.infer.gnn.rate_null_pvalues`, ``weight_null="rates"``). Per family ×
    seed and pooled: the rate at per-pair α = 0.05 / 0.01 over the unordered pairs (gnn's
    weights are symmetric by default) and the BH calls at 5 % over the ordered pairs (what
    ``adjacency()`` calls). No refit: seconds.

``networks``
    Connected networks: the single-bump LNP ring (N = 50, 60 s, ``bench_ring.py``'s
    default gnn budget) and a Brunel network, 100 of 400 neurons recorded, 60 s, gnn with
    ``structure="free"`` as in ``benchmarks/results/gnn5.md``. One fit each; the weights are
    scored with both decisions (the same fit: only the p-values differ): AUC, Δ (ring),
    MCC of the default decision, best MCC, calls.

``screen FAMILY SEED``
    The candidates that were screened and not adopted, on one null recording (``--units``,
    ``--duration``; the screening used 20 × 120 s): gnn at defaults, then (H) the trained
    model applied to ``--heldout`` shift surrogates of the held-out block (the last
    ``validation_fraction + test_fraction``; every unit's binned series circularly shifted
    by its own offset, :func:`spikewire.infer.lowrank.shift_offsets`), a per-pair t of the
    held-out w against them, raw (``H``) or after each fit's robust standardisation
    (``Hstd``); (B) gnn refitted (same seed) on ``--refits`` shift surrogates of the whole
    recording, each fit robustly standardised and sign-aligned with the original, compared
    with a pooled sd (``B_sd``) or a per-pair t (``Bt``). Prints each rule's rate at 0.05 and
    its BH calls (unordered pairs).

Usage::

    python benchmarks/bench_gnnnull.py nulls /tmp/learnednull/w [--duration 300]
    python benchmarks/bench_gnnnull.py networks [--json OUT.json] [--seed 1] [--which ring,brunel]
    python benchmarks/bench_gnnnull.py screen heterogeneous 0 --units 20 --duration 120

Results: ``benchmarks/results/gnnnull.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from spikewire.infer._null_families import null_family
from spikewire.infer.estimate import adjust_pvalues
from spikewire.infer.gnn import rate_null_pvalues


def plain_pvalues(w: np.ndarray) -> np.ndarray:
    """The plain weight null on the off-diagonal pairs (median / MAD robust z, normal p)."""
    from scipy.special import ndtr

    n = w.shape[0]
    off = ~np.eye(n, dtype=bool)
    med = np.median(w[off])
    p = np.full((n, n), np.nan)
    p[off] = 2.0 * ndtr(-np.abs(w[off] - med) / (1.4826 * np.median(np.abs(w[off] - med))))
    return p


def bh_calls(p: np.ndarray, alpha: float = 0.05) -> int:
    """BH calls at ``alpha`` over the ordered off-diagonal pairs."""
    off = ~np.eye(p.shape[0], dtype=bool)
    return int((adjust_pvalues(np.where(off, p, np.nan), "bh")[off] < alpha).sum())


def clopper_pearson(k: int, m: int) -> tuple[float, float]:
    lo = 0.0 if k == 0 else stats.beta.ppf(0.025, k, m - k + 1)
    hi = 1.0 if k == m else stats.beta.ppf(0.975, k + 1, m - k)
    return float(lo), float(hi)


def pooled_rate(sel) -> tuple[float, float, float, int]:
    """Pooled FPR at 0.05 of the fit rows ``sel`` (their ``k05`` / ``pairs`` summed), its
    Clopper–Pearson 95 % interval, and the pooled number of pairs."""
    k = sum(r["k05"] for r in sel)
    m = sum(r["pairs"] for r in sel)
    lo, hi = clopper_pearson(k, m)
    return k / m, lo, hi, m


def saved_null_fits(folders, duration: float):
    """Yield ``(family, seed, w, rates, off, iu)`` for every saved gnn weight matrix
    ``<family>_s<seed>_gnn_w.npy`` in ``folders``, with the firing rates (Hz) of the
    null-family recording it was fitted on (re-simulated, seeded)."""
    for folder in folders:
        for f in sorted(Path(folder).glob("*_s*_gnn_w.npy")):
            fam, seed = re.match(r"(\w+?)_s(\d+)_gnn_w", f.name).groups()
            w = np.load(f)
            n = w.shape[0]
            st = null_family(fam, n_units=n, duration=duration, seed=int(seed))
            rates = np.diff(st.indptr) / duration
            yield fam, int(seed), w, rates, ~np.eye(n, dtype=bool), np.triu_indices(n, 1)


def run_nulls(folders, duration: float) -> list[dict]:
    rows = []
    for fam, seed, w, rates, off, iu in saved_null_fits(folders, duration):
        n = w.shape[0]
        for rule, p in (("weights", plain_pvalues(w)),
                        ("rates", rate_null_pvalues(w, rates, off,
                                                    min_rate=0.5 / duration)[0])):
            q = p[iu]
            rows.append({"family": fam, "seed": int(seed), "rule": rule, "units": n,
                         "pairs": int(q.size), "k05": int((q < 0.05).sum()),
                         "k01": int((q < 0.01).sum()), "fpr05": float(np.mean(q < 0.05)),
                         "fpr01": float(np.mean(q < 0.01)), "bh_calls": bh_calls(p)})
            print(json.dumps(rows[-1]), flush=True)
    print("\n| family | rule | fits | pooled FPR@0.05 [95 % CI] | per seed | in [0.025, 0.075] "
          "| FPR@0.01 | BH calls per fit (ordered pairs) |")
    print("|---|---|---|---|---|---|---|---|")
    for fam in sorted({r["family"] for r in rows}):
        for rule in ("weights", "rates"):
            sel = sorted((r for r in rows if r["family"] == fam and r["rule"] == rule),
                         key=lambda r: r["seed"])
            rate, lo, hi, m = pooled_rate(sel)
            print(f"| {fam} | {rule} | {len(sel)} | {rate:.3f} [{lo:.3f}–{hi:.3f}] | "
                  + " / ".join(f"{r['fpr05']:.3f}" for r in sel)
                  + f" | {'yes' if 0.025 <= rate <= 0.075 else '**no**'} | "
                  f"{sum(r['k01'] for r in sel) / m:.3f} | "
                  + "/".join(str(r["bh_calls"]) for r in sel) + " |")
    return rows


def run_networks(out: str, seed: int = 1, which: str = "ring,brunel") -> dict:
    from argparse import Namespace

    import spikewire as sw
    from spikewire.score import score

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_ring import simulate_variant

    cases = {
        "single_bump ring (N = 50, 60 s)": (
            Namespace(npz=None, variant="single_bump", n=50, spiking="lnp",
                      input_amplitude=0.0, duration=60.0, seed=seed, hide=0.0),
            {"bin_width": 2e-3, "max_epochs": 10, "lr": 2e-3, "seed": seed}),
        "brunel 100 of 400 (60 s), structure='free'": (
            Namespace(npz=None, variant="brunel", n=400, spiking="lnp",
                      input_amplitude=0.0, duration=60.0, seed=seed, hide=0.75),
            {"bin_width": 2e-3, "max_epochs": 20, "lr": 1e-2, "seed": seed, "patience": 4,
             "symmetric": False, "structure": "free"}),
    }
    rows = {}
    for label, (args, settings) in cases.items():
        if label.split()[0].replace("single_bump", "ring") not in which.split(","):
            continue
        net, rec, keep = simulate_variant(args)
        t, c = time.perf_counter(), time.process_time()
        est = sw.infer(rec, "gnn", **settings)
        el, cpu = time.perf_counter() - t, time.process_time() - c
        plain = dataclasses.replace(est, pvalues=None)   # the same weights, plain null
        row = {"cpu_s": cpu, "time_s": el, "weight_null": est.diagnostics.get("weight_null")}
        for rule, e in (("rates", est), ("weights", plain)):
            s = score(net, e)
            off = ~np.eye(e.n_units, dtype=bool)
            row[rule] = {k: s.get(k) for k in ("auc", "mcc", "mcc_best", "precision",
                                               "recall", "ring_delta", "n_true")}
            row[rule]["calls"] = int((e.adjacency()[off] != 0).sum())
        row["true_links"] = s.get("n_true")
        row["pairs"] = int(keep.size * (keep.size - 1))
        rows[label] = row
        print(label, json.dumps(row, default=str), flush=True)
    if out:
        Path(out).write_text(json.dumps(rows, indent=1, default=str))
    return rows


def _rz(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    return (x - med) / (1.4826 * np.median(np.abs(x - med)))


def _t_p(obs: np.ndarray, sur: np.ndarray) -> np.ndarray:
    """Two-sided p of a per-pair t of ``obs`` against K surrogate rows (K − 1 df)."""
    k = sur.shape[0]
    t = (obs - sur.mean(0)) / (sur.std(0, ddof=1) * np.sqrt(1 + 1 / k))
    return 2 * stats.t.sf(np.abs(t), k - 1)


def run_screen(family: str, seed: int, n: int, duration: float, n_heldout: int,
               n_refits: int) -> dict:
    import torch
    from scipy.special import ndtr

    from spikewire.core.spiketrains import SpikeTrains
    from spikewire.infer.gnn import GNN
    from spikewire.infer.lowrank import shift_offsets

    bw = 2e-3
    st = null_family(family, n_units=n, duration=duration, seed=seed)
    rng = np.random.default_rng([seed, 99])
    c0 = time.process_time()
    m = GNN(seed=0)
    est = m.fit(st)
    cpu_fit = time.process_time() - c0
    iu = np.triu_indices(n, 1)
    w0 = est.weights[iu]
    rates = np.diff(st.indptr) / duration
    geo = m._geometry(bw)
    counts = np.asarray(st.binned(bw, sparse=False), dtype=np.float32)
    train_end, _ = m._split(counts.shape[1], geo["chunk_bins"])
    block = counts[:, train_end:]

    def heldout_w(x):
        ch = m._chunks(x, 0, x.shape[1], geo["chunk_bins"], geo["context_bins"])
        return m._mean_structure(m.model_, torch.from_numpy(ch))[0, :n, :n].double().numpy()[iu]

    h0 = heldout_w(block)
    hs = np.array([heldout_w(np.stack([np.roll(r, int(o)) for r, o in
                                       zip(block, shift_offsets(n, block.shape[1], rng),
                                           strict=True)]))
                   for _ in range(n_heldout)])
    refits = []
    c1 = time.process_time()
    for _ in range(n_refits):
        off = shift_offsets(n, counts.shape[1], rng) * bw
        times, ids = [], []
        for k in range(n):
            t = np.sort(np.mod(st.train(k) - st.t_start + off[k], duration))
            times.append(t)
            ids.append(np.full(t.size, k))
        sur = SpikeTrains.from_times(np.concatenate(times), np.concatenate(ids), t_start=0.0,
                                     t_stop=duration, units=np.arange(n))
        refits.append(GNN(seed=0).fit(sur).weights[iu])
    cpu_refits = time.process_time() - c1
    p = {"weights": 2 * ndtr(-np.abs(_rz(w0))),
         "rates": rate_null_pvalues(est.weights, rates, ~np.eye(n, dtype=bool),
                                    min_rate=0.5 / duration)[0][iu],
         "H": _t_p(h0, hs), "Hstd": _t_p(_rz(h0), np.array([_rz(h) for h in hs]))}
    if n_refits >= 2:
        z0 = _rz(w0)
        zs = np.array([_rz(w) for w in refits])
        zs = np.array([z if np.corrcoef(z, z0)[0, 1] >= 0 else -z for z in zs])
        k = zs.shape[0]
        dev = (zs - zs.mean(0)) * np.sqrt(k / (k - 1))
        p["B_sd"] = 2 * ndtr(-np.abs(z0 - zs.mean(0)) / (dev.std() * np.sqrt(1 + 1 / k)))
        p["Bt"] = _t_p(z0, zs)
    row = {"family": family, "seed": seed, "units": n, "duration": duration,
           "cpu_fit": cpu_fit, "cpu_refits": cpu_refits, "heldout": n_heldout,
           "refits": n_refits}
    for rule, q in p.items():
        pm = np.full((n, n), np.nan)
        pm[iu] = q
        pm.T[iu] = q
        row[rule] = {"fpr05": float(np.mean(q < 0.05)), "bh_calls": bh_calls(pm) // 2}
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["nulls", "networks", "screen"])
    ap.add_argument("folders", nargs="*", help="nulls: weight folders; screen: FAMILY SEED")
    ap.add_argument("--units", type=int, default=20)
    ap.add_argument("--heldout", type=int, default=20)
    ap.add_argument("--refits", type=int, default=5)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--json", default="")
    ap.add_argument("--seed", type=int, default=1, help="networks: network and gnn seed")
    ap.add_argument("--which", default="ring,brunel", help="networks: ring and/or brunel")
    a = ap.parse_args(argv)
    if a.mode == "nulls":
        run_nulls(a.folders, a.duration)
    elif a.mode == "screen":
        run_screen(a.folders[0], int(a.folders[1]), a.units, a.duration, a.heldout,
                   a.refits)
    else:
        run_networks(a.json, a.seed, a.which)


if __name__ == "__main__":
    main()
