"""The small-problem rule's decision: BH under the central null against the small-problem
local FDR (session 21, issues 12 and 15; results/glmcc90.md).

Session 20's rule switched a failed small estimate (45–999 distinct tests, share at
p < 0.05 above 0.3, central null departing from N(0, 1)) to Benjamini–Hochberg on p-values
re-referred to Efron's central null; that took glmcc on 10 of 100 Brunel neurons from 49 /
71 calls to 0 although it ranks the pairs almost perfectly. Now such an estimate is decided
by ``fdr.small_local_fdr`` (the same null against a Gaussian kernel density, lfdr < 0.5).

Modes::

    python benchmarks/bench_glmcc90.py synthetic [--seeds 300]
        normal mixtures of 45 / 90 / 190 directed tests: broken nulls with and without
        links (switched estimates only; a calibrated one is never switched, so never
        changed): true / false calls of BH under the fitted null at 0.05 and 0.01,
        lfdr ≤ 0.2 and lfdr < 0.5 (the default), with the sd of the false calls.
    python benchmarks/bench_glmcc90.py hidden DIR [DIR ...]
        the estimates ``bench_dale_glm.py --pickle DIR`` saved (90 % hidden, DIR named
        ``s{seed}``): per method the calls and MCC of the method's own p-values at its
        correction (before session 20), of session 20's decision (BH on the re-referred
        p-values at the method's α) and of the default now, with AUC and best MCC.
    python benchmarks/bench_glmcc90.py nest DIR
        session 19's NEST network 3 fits (``bench_external20.py --save DIR``; 20 units,
        30 / 60 min): glmcc (default) and ``partial_corr:shared_null='off'`` through
        today's ``check_null``: calls / true and MCC, session 20's decision against now.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from spikewire.infer.base import check_null
from spikewire.infer.estimate import Estimate, adjust_pvalues
from spikewire.infer.fdr import (
    SMALL_SIGMA0_RANGE,
    central_null,
    departs_from_theory,
    rereferred_pvalues,
    small_local_fdr,
)


def _mcc(called, link) -> float:
    tp = float(np.sum(called & link))
    fp = float(np.sum(called & ~link))
    fn = float(np.sum(~called & link))
    tn = float(np.sum(~called & ~link))
    d = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / d if d > 0 else 0.0


def synthetic(seeds: int) -> None:
    cases = {"wide N(2.6, 2²), no links": (2.6, 2.0, 0.0, 0.0, 1.0),
             "broken N(0.5, 1.8²), no links": (0.5, 1.8, 0.0, 0.0, 1.0),
             "wide N(2.6, 2²) + 10 % N(7.5, 1.3²)": (2.6, 2.0, 0.1, 7.5, 1.3),
             "broken N(0.5, 1.8²) + 10 % N(4, 1)": (0.5, 1.8, 0.1, 4.0, 1.0),
             "broken N(0.5, 1.8²) + 10 % N(7, 1)": (0.5, 1.8, 0.1, 7.0, 1.0)}
    rules = ["BH 0.05", "BH 0.01", "lfdr ≤ 0.2", "lfdr < 0.5"]
    print("Switched estimates only (share > 0.3 and the central null departs); per "
          "estimate: mean true / false calls (sd of the false calls) [misclassified "
          "pairs]. 'BH a': Benjamini–Hochberg on the re-referred p-values at a (session "
          "20's decision); 'lfdr': fdr.small_local_fdr (now: < 0.5).")
    print()
    print("| m | null | links | switched | " + " | ".join(rules) + " |")
    print("|---|---|---|---|" + "---|" * len(rules))
    for m in (45, 90, 190):
        for name, (mu, sd, share, lmu, lsd) in cases.items():
            n_sw, links = 0, 0
            t = np.zeros(len(rules))
            f = [[] for _ in rules]
            err = np.zeros(len(rules))
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                k = rng.binomial(m, share)
                z = np.r_[rng.normal(lmu, lsd, k), rng.normal(mu, sd, m - k)]
                link = np.arange(m) < k
                p = stats.norm.sf(z)
                if np.mean(p < 0.05) <= 0.3:
                    continue
                try:
                    null = central_null(p, min_tests=45, sigma0_range=SMALL_SIGMA0_RANGE)
                except ValueError:
                    continue
                if not departs_from_theory(null):
                    continue
                n_sw += 1
                links += k
                q = adjust_pvalues(rereferred_pvalues(p, null), "bh")
                lf = small_local_fdr(p, null)
                for i, c in enumerate((q < 0.05, q < 0.01, lf <= 0.2, lf < 0.5)):
                    t[i] += np.sum(c & link)
                    f[i].append(int(np.sum(c & ~link)))
                    err[i] += np.sum(c != link)
            n = max(n_sw, 1)
            cells = [f"{t[i] / n:.2f} / {np.mean(f[i]) if f[i] else 0:.2f} "
                     f"({np.std(f[i]) if f[i] else 0:.1f}) [{err[i] / n:.1f}]"
                     for i in range(len(rules))]
            print(f"| {m} | {name} | {links / n:.1f} | {n_sw / seeds:.2f} | "
                  + " | ".join(cells) + " |")


def _brunel_truth(seed: int, neurons: int = 100) -> np.ndarray:
    """The true post × pre weights of ``bench_dale_glm.py``'s network (rebuilt, not
    simulated)."""
    import spikewire as sw

    net = sw.networks.brunel(neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    return np.asarray(net.dense_weights())


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


def hidden(dirs) -> None:
    import pickle

    print("| run | method | links | share p<0.05 | null δ0, σ0 | own p: calls (true) MCC "
          "| session 20: calls (true) MCC | now: calls (true) MCC | AUC | best MCC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in dirs:
        W_all = _brunel_truth(int(Path(d).name.lstrip("s")))
        for fpath in sorted(Path(d).glob("*.pkl")):
            with open(fpath, "rb") as fh:
                est = pickle.load(fh)
            ti = np.asarray(est.true_index)
            W = W_all[np.ix_(ti, ti)]
            n = est.n_units
            off = ~np.eye(n, dtype=bool)
            link = (W != 0)[off]
            nc = est.diagnostics.get("null_check", {})
            now = _quiet(est.significant)[off]
            if "switched_from" in nc:
                own = _quiet(est.significant, nc["alpha_from"], nc["switched_from"])[off]
                p = np.where(est.pair_status == 0, est.pvalues, np.nan)
                s20 = (np.nan_to_num(_quiet(adjust_pvalues, p, "lfdr"), nan=1.0)
                       < nc["alpha_from"])[off]
            else:
                own = s20 = now
            score = np.nan_to_num(est.scores[off] if est.scores is not None
                                  else -np.log10(est.pvalues[off]), nan=-np.inf)
            auc = _auc(score, link)
            best = max(_mcc(score >= s, link) for s in np.unique(score))
            en = nc.get("empirical_null", {})
            null = f"{en['delta0']:.2f}, {en['sigma0']:.2f}" if en else "—"
            cells = [f"{int(c.sum())} ({int((c & link).sum())}) {_mcc(c, link):.3f}"
                     for c in (own, s20, now)]
            print(f"| {Path(d).name} | {fpath.stem.replace('_', ' ')} | "
                  f"{int(link.sum())} | {nc.get('share_p_below_0.05', float('nan')):.2f} | "
                  f"{null} | " + " | ".join(cells) + f" | {auc:.3f} | {best:.3f} |")


def _auc(score, y) -> float:
    r = stats.rankdata(score)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)) if n1 and n0 else float("nan")


def nest(dirs) -> None:
    print("| fit | method | share p<0.05 | switched | true | session 20: calls (true) MCC "
          "| now: calls (true) MCC |")
    print("|---|---|---|---|---|---|---|")
    tot: dict = {}
    for kind, pattern, corr, alpha, diag in (
            ("glmcc", "*_glmcc.npz", "bh", 0.01, {}),
            ("partial_corr", "*shared_null='off'*.npz", "bonferroni", 0.05,
             {"symmetric": True})):
        for f in sorted(fp for d in dirs for fp in Path(d).glob(pattern)):
            d = np.load(f, allow_pickle=True)
            W = d["W"]
            n = W.shape[0]
            off = ~np.eye(n, dtype=bool)
            est = Estimate(weights=d["weights"], method=kind, settings={},
                           units=np.arange(n), pvalues=d["pvalues"],
                           pair_status=d["pair_status"], correction=corr, alpha=alpha,
                           diagnostics=dict(diag))
            out = _quiet(check_null, est)
            nc = out.diagnostics["null_check"]
            link = (W != 0)[off]
            now = _quiet(out.significant)[off]
            if nc.get("small_problem"):
                p = np.where(out.pair_status == 0, out.pvalues, np.nan)
                s20 = (np.nan_to_num(_quiet(adjust_pvalues, p, "lfdr"), nan=1.0)
                       < alpha)[off]
            else:
                s20 = now
            T = f.stem.split("_T")[1].split("_")[0]
            key = f.stem.split("_epsp1_")[1].split("_T")[0]
            tt = tot.setdefault((kind, T), {"links": 0, "s20": [0, 0, []],
                                            "now": [0, 0, []], "over2": 0})
            tt["links"] += int(link.sum())
            for name, c in (("s20", s20), ("now", now)):
                tt[name][0] += int(c.sum())
                tt[name][1] += int((c & link).sum())
                tt[name][2].append(_mcc(c, link))
            tt["over2"] += int(now.sum() > 2 * link.sum())
            print(f"| {key} T{float(T) / 60:g} | {kind} | {nc['share_p_below_0.05']:.2f} | "
                  f"{bool(nc.get('small_problem'))} | {int(link.sum())} | "
                  f"{int(s20.sum())} ({int((s20 & link).sum())}) {_mcc(s20, link):.3f} | "
                  f"{int(now.sum())} ({int((now & link).sum())}) {_mcc(now, link):.3f} |")
    print()
    for (kind, T), tt in tot.items():
        print(f"{kind}, {float(T) / 60:g} min: session 20 {tt['s20'][0]} ({tt['s20'][1]} "
              f"true), now {tt['now'][0]} ({tt['now'][1]} true) of {tt['links']} links; "
              f"directed MCC median {np.median(tt['s20'][2]):.3f} → "
              f"{np.median(tt['now'][2]):.3f} (mean {np.mean(tt['s20'][2]):.3f} → "
              f"{np.mean(tt['now'][2]):.3f}); subsets above 2x now: {tt['over2']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["synthetic", "hidden", "nest"])
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--seeds", type=int, default=300)
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    if a.mode == "synthetic":
        synthetic(a.seeds)
    elif a.mode == "hidden":
        hidden(a.dirs)
    else:
        nest(a.dirs)
    print(f"\nwall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s")


if __name__ == "__main__":
    main()
