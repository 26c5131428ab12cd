"""gnn's rate-stratified link decision at 20 units and its tails (helper "gnn20", issues 12
and 19).

Modes:

``synthetic``
    The rule on synthetic weights of a known law (the law of
    ``tests/infer/test_gnn_rate_null.py``: a cubic in the two log rates plus normal noise
    whose sd grows with the rates, i.e. inside the rule's model) at 20 and 40 units,
    ``--sims`` draws each: the rate at α = 0.05 / 0.01 / 0.001 of each variant (below),
    its sd over draws, and the calibrated df. Numpy only, seconds.

``nulls DIR [DIR ...]``
    Reads the weight matrices that ``bench_calibration.py nullall --methods gnn --weights
    DIR`` saved (``{family}_s{seed}_gnn_w.npy``), re-simulates each recording (the null
    families are seeded) for the units' rates, and applies the rate null's variants to the
    same weights: the normal reference (``normal``), the calibrated t (``t``, the default)
    and the t with ``split_scale`` (``t_split``). Per fit: the rate at α = 0.05 / 0.01
    over the unordered pairs (gnn's weights are symmetric by default), the BH calls at
    5 % over the ordered pairs (what ``adjacency()`` calls), the correlation ``rho_s`` of
    the robust z of two pairs that share a unit (moment estimate from the row sums), and
    the sampling sd of the rate at 0.05 that a *calibrated* test with that correlation
    gives on this fit's design (``--draws`` simulations: unit effects plus pair noise
    with the fit's ``rho_s``, through the same rule). Then per family: the pooled rate
    with its Clopper–Pearson interval (nominal: pairs share units), each fit's rate and
    its z against the calibrated sampling distribution, and the between-fit sd. No
    refit: seconds.

``brunel``
    One gnn fit of gnnnull's connected case (Brunel network, 100 of 400 neurons recorded,
    60 s, ``structure="free"``, ``symmetric=False``, lr 1e-2, ≤ 20 epochs, patience 4;
    ``--seed`` for network and gnn), scored with every decision on the same weights: the
    plain weight null, the rate null with the normal reference, with the t, and with the t
    and ``split_scale``: calls, precision, recall, MCC of the default decision (BH 5 %),
    AUC. ``--save`` keeps weights, rates and the recorded units' true weights (npz).

``planted``
    Power and false discoveries on synthetic weights (the ``synthetic`` law) with 5
    planted symmetric links per draw, each ``k`` noise sd (of its rate class) above or
    below (random sign) its rate class, k = 4, 5, 6; 20 and 40 units, ``--sims`` draws:
    BH at 5 % over the ordered pairs (what ``adjacency()`` calls), recall of the planted
    links, false calls (unordered pairs) and the false-discovery proportion, per variant.

Usage::

    python benchmarks/bench_gnn20.py synthetic [--sims 200]
    python benchmarks/bench_gnn20.py planted [--sims 60]
    python benchmarks/bench_gnn20.py nulls /tmp/gnn20/w20 [--duration 300] [--json OUT]
    python benchmarks/bench_gnn20.py brunel [--seed 1] [--save OUT.npz] [--json OUT]

Results: ``benchmarks/results/gnn20.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from spikewire.infer.gnn import _rate_features, _rate_standardise, _t_scale, rate_null_pvalues

sys.path.insert(0, str(Path(__file__).parent))
from bench_gnnnull import bh_calls, pooled_rate, saved_null_fits  # noqa: E402

#: the rate-null variants compared on the same weights (name: rate_null_pvalues keywords)
VARIANTS = {"normal": {"reference": "normal"}, "t": {},
            "t_split": {"split_scale": True}}


def synthetic_weights(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric weights ``0.02 (x_i + x_j + 4.6)³ + 0.3 e^{0.15 (x_i + x_j)} ε`` with
    ``x = log r``, rates log-uniform over 0.1–20 Hz (test_gnn_rate_null's law)."""
    rng = np.random.default_rng(seed)
    rates = np.exp(rng.uniform(np.log(0.1), np.log(20.0), n))
    s = np.log(rates)[:, None] + np.log(rates)[None, :]
    eps = rng.standard_normal((n, n))
    eps = np.triu(eps, 1) + np.triu(eps, 1).T
    w = 0.02 * (s + 4.6) ** 3 + 0.3 * np.exp(0.15 * s) * eps
    np.fill_diagonal(w, 0.0)
    return w, rates


def run_synthetic(sims: int) -> list[dict]:
    rows = []
    for n in (20, 40):
        iu = np.triu_indices(n, 1)
        off = ~np.eye(n, dtype=bool)
        for ref, kw in VARIANTS.items():
            f = {a: [] for a in (0.05, 0.01, 0.001)}
            dfs = []
            c0 = time.process_time()
            for seed in range(sims):
                w, r = synthetic_weights(n, seed)
                p, info = rate_null_pvalues(w, r, off, **kw)
                for a in f:
                    f[a].append(float(np.mean(p[iu] < a)))
                dfs.append(info.get("df", math.inf))
            row = {"units": n, "pairs": int(iu[0].size), "reference": ref, "draws": sims,
                   **{f"fpr{a:g}": float(np.mean(v)) for a, v in f.items()},
                   "sd_fpr0.05": float(np.std(f[0.05])),
                   "binomial_sd_0.05": math.sqrt(0.05 * 0.95 / iu[0].size),
                   "df_median": float(np.median(dfs)), "df_min": float(np.min(dfs)),
                   "df_max": float(np.max(dfs)),
                   "cpu_ms_per_call": 1e3 * (time.process_time() - c0) / sims}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def run_planted(sims: int) -> list[dict]:
    from spikewire.infer.estimate import adjust_pvalues

    rows = []
    for n in (20, 40):
        off = ~np.eye(n, dtype=bool)
        iu = np.triu_indices(n, 1)
        for k in (4.0, 5.0, 6.0):
            rec = {v: [] for v in VARIANTS}
            false = dict.fromkeys(VARIANTS, 0)
            true = dict.fromkeys(VARIANTS, 0)
            for seed in range(sims):
                w, r = synthetic_weights(n, seed)
                rng = np.random.default_rng(1000 + seed)
                s = np.log(r)[:, None] + np.log(r)[None, :]
                sd = 0.3 * np.exp(0.15 * s)
                pick = rng.choice(iu[0].size, 5, replace=False)
                pi, pj = iu[0][pick], iu[1][pick]
                w[pi, pj] += rng.choice([-1.0, 1.0], 5) * k * sd[pi, pj]
                w[pj, pi] = w[pi, pj]
                truth = np.zeros((n, n), dtype=bool)
                truth[pi, pj] = truth[pj, pi] = True
                for name, kw in VARIANTS.items():
                    p = rate_null_pvalues(w, r, off, **kw)[0]
                    call = (adjust_pvalues(np.where(off, p, np.nan), "bh") < 0.05) & off
                    rec[name].append(float(np.sum(call & truth) / truth.sum()))
                    false[name] += int(np.sum(call & ~truth)) // 2
                    true[name] += int(np.sum(call & truth)) // 2
            for name in VARIANTS:
                tot = false[name] + true[name]
                row = {"units": n, "k_sd": k, "variant": name, "draws": sims,
                       "recall": float(np.mean(rec[name])), "false_calls": false[name],
                       "fdp": false[name] / tot if tot else 0.0}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def shared_unit_correlation(u: np.ndarray, post: np.ndarray, pre: np.ndarray,
                            n: int) -> float:
    """Correlation of the robust z of two unordered pairs that share one unit: the mean of
    ``u_ij u_ik`` over distinct ``j, k`` (row sums) over the variance of ``u``."""
    m = np.zeros((n, n))
    v = u - u.mean()
    m[post, pre] = v
    m[pre, post] = v
    rs = m.sum(axis=1)
    cross = float(np.sum(rs ** 2) - np.sum(m ** 2))       # sum over i, j != k of u_ij u_ik
    return cross / (n * (n - 1) * (n - 2)) / float(np.mean(v ** 2))


def calibrated_sd(post: np.ndarray, pre: np.ndarray, rates: np.ndarray, rho: float, df: float,
                  draws: int, seed: int, duration: float) -> tuple[float, float]:
    """Mean and sd of the rate at 0.05 of a calibrated test on this design: robust z of
    ``√(ρ/2)(a_i + a_j) + √(1 − ρ) ε_ij`` (unit effects a, pair noise ε, all standard
    normal: pairs sharing a unit correlate ρ) through the rule with reference t(df)."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    n = rates.size
    lr = np.log(np.maximum(rates, 0.5 / duration))
    X = _rate_features(lr[post], lr[pre], True)
    rho = min(max(rho, 0.0), 0.99)
    out = []
    for _ in range(draws):
        a = rng.standard_normal(n)
        x = math.sqrt(rho / 2) * (a[post] + a[pre]) + math.sqrt(1 - rho) * rng.standard_normal(
            post.size)
        z = (x - np.median(x)) / (1.4826 * np.median(np.abs(x - np.median(x))))
        u = _rate_standardise(z, X, 2.5, 5)
        p = (2.0 * stats.t.sf(np.abs(u) / _t_scale(df), df) if math.isfinite(df)
             else 2.0 * stats.norm.sf(np.abs(u)))
        out.append(float(np.mean(p < 0.05)))
    return float(np.mean(out)), float(np.std(out))


def run_nulls(folders, duration: float, draws: int, out: str = "") -> list[dict]:
    rows = []
    for fam, seed, w, rates, off, iu in saved_null_fits(folders, duration):
        n = w.shape[0]
        for ref, kw in VARIANTS.items():
            p, info = rate_null_pvalues(w, rates, off, min_rate=0.5 / duration, **kw)
            q = p[iu]
            row = {"family": fam, "seed": int(seed), "reference": ref, "units": n,
                   "pairs": int(q.size), "k05": int((q < 0.05).sum()),
                   "k01": int((q < 0.01).sum()), "fpr05": float(np.mean(q < 0.05)),
                   "fpr01": float(np.mean(q < 0.01)),
                   "fpr001": float(np.mean(q < 0.001)), "bh_calls": bh_calls(p),
                   "df": info.get("df")}
            if ref == "t":
                # the fit's robust z (the rule's u) for the shared-unit correlation
                x = w[iu]
                z = (x - np.median(x)) / (1.4826 * np.median(np.abs(x - np.median(x))))
                lr = np.log(np.maximum(rates, 0.5 / duration))
                u = _rate_standardise(z, _rate_features(lr[iu[0]], lr[iu[1]], True),
                                      2.5, 5)
                rho = shared_unit_correlation(u, iu[0], iu[1], n)
                mu, sd = calibrated_sd(iu[0], iu[1], rates, rho, info["df"], draws,
                                       int(seed), duration)
                row.update(rho_s=rho, cal_mean05=mu, cal_sd05=sd,
                           z05=(row["fpr05"] - 0.05) / sd if sd > 0 else math.nan)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if out:
        Path(out).write_text(json.dumps(rows, indent=1))
    print("\n| family | reference | fits | pooled FPR@0.05 [95 % CI] | per seed | between-fit sd "
          "| calibrated sd (ρ_s) | in [0.025, 0.075] | FPR@0.01 | FPR@0.001 | BH calls per fit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fam in sorted({r["family"] for r in rows}):
        for ref in VARIANTS:
            sel = sorted((r for r in rows if r["family"] == fam and r["reference"] == ref),
                         key=lambda r: r["seed"])
            rate, lo, hi, m = pooled_rate(sel)
            f05 = [r["fpr05"] for r in sel]
            cal = ""
            if ref == "t":
                cal = (f"{np.mean([r['cal_sd05'] for r in sel]):.3f} "
                       f"({np.mean([r['rho_s'] for r in sel]):.3f})")
            print(f"| {fam} | {ref} | {len(sel)} | {rate:.3f} [{lo:.3f}–{hi:.3f}] | "
                  + " / ".join(f"{x:.3f}" for x in f05)
                  + f" | {np.std(f05, ddof=1) if len(f05) > 1 else math.nan:.3f} | {cal} | "
                  f"{'yes' if 0.025 <= rate <= 0.075 else '**no**'} | "
                  f"{sum(r['k01'] for r in sel) / m:.3f} | "
                  f"{np.mean([r['fpr001'] for r in sel]):.4f} | "
                  + "/".join(str(r["bh_calls"]) for r in sel) + " |")
    for ref in VARIANTS:
        sel = [r for r in rows if r["reference"] == ref]
        if not sel:
            continue
        fams = sorted({r["family"] for r in sel})
        # pooled within-family between-fit variance of the rate at 0.05
        ss = sum(np.sum((np.array(v) - np.mean(v)) ** 2) for v in
                 ([r["fpr05"] for r in sel if r["family"] == fam] for fam in fams))
        dof = len(sel) - len(fams)
        allk = sum(r["k05"] for r in sel)
        allm = sum(r["pairs"] for r in sel)
        print(f"{ref}: all families pooled FPR@0.05 {allk / allm:.4f}, @0.01 "
              f"{sum(r['k01'] for r in sel) / allm:.4f}; within-family between-fit sd "
              f"{math.sqrt(ss / dof) if dof > 0 else math.nan:.4f} ({dof} df)")
    return rows


def run_brunel(seed: int, save: str = "", out: str = "") -> dict:
    import dataclasses
    from argparse import Namespace

    from bench_ring import simulate_variant

    import spikewire as sw
    from spikewire.score import score

    args = Namespace(npz=None, variant="brunel", n=400, spiking="lnp", input_amplitude=0.0,
                     duration=60.0, seed=seed, hide=0.75)
    settings = {"bin_width": 2e-3, "max_epochs": 20, "lr": 1e-2, "seed": seed, "patience": 4,
                "symmetric": False, "structure": "free"}
    net, rec, keep = simulate_variant(args)
    t, c = time.perf_counter(), time.process_time()
    est = sw.infer(rec, "gnn", **settings)
    row = {"seed": seed, "cpu_s": time.process_time() - c, "time_s": time.perf_counter() - t,
           "pairs": int(keep.size * (keep.size - 1))}
    counts = np.asarray(rec.spikes.binned(2e-3, sparse=False))
    duration = counts.shape[1] * 2e-3
    rates = counts.sum(axis=1) / duration
    off = ~np.eye(est.n_units, dtype=bool)
    tested = (est.pair_status == 0) & off
    cands = {"plain": None}
    for name, kw in VARIANTS.items():
        p, info = rate_null_pvalues(est.weights, rates, tested, symmetric=False,
                                    min_rate=0.5 / duration, **kw)
        cands[name] = p
        row[f"{name}_info"] = info
    for name, p in cands.items():
        e = dataclasses.replace(est, pvalues=p)
        sc = score(net, e)
        row[name] = {k: sc.get(k) for k in ("auc", "mcc", "mcc_best", "precision", "recall",
                                             "n_true")}
        row[name]["calls"] = int((e.adjacency()[off] != 0).sum())
    if save:
        np.savez(save, weights=est.weights, rates=rates, keep=keep, tested=tested)
    print(json.dumps(row, default=str), flush=True)
    if out:
        Path(out).write_text(json.dumps(row, indent=1, default=str))
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["synthetic", "planted", "nulls", "brunel"])
    ap.add_argument("folders", nargs="*", help="nulls: weight folders")
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--sims", type=int, default=200, help="synthetic: draws per size")
    ap.add_argument("--draws", type=int, default=200,
                    help="nulls: draws of the calibrated sampling distribution per fit")
    ap.add_argument("--json", default="")
    ap.add_argument("--seed", type=int, default=1, help="brunel: network and gnn seed")
    ap.add_argument("--save", default="", help="brunel: npz of weights, rates, truth")
    a = ap.parse_args(argv)
    if a.mode in ("synthetic", "planted"):
        rows = (run_synthetic if a.mode == "synthetic" else run_planted)(a.sims)
        if a.json:
            Path(a.json).write_text(json.dumps(rows, indent=1))
    elif a.mode == "nulls":
        run_nulls(a.folders, a.duration, a.draws, a.json)
    else:
        run_brunel(a.seed, a.save, a.json)


if __name__ == "__main__":
    main()
