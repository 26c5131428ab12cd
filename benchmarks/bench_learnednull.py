"""gnn's decision on the null families, re-evaluated from saved weights (learnednull).

gnn's default decision tests each pair's weight against the weights' own empirical null
(:meth:`spikewire.infer.estimate.Estimate.weight_null_pvalues`: median / MAD robust z,
two-sided normal p). This script reads the weight matrices that
``bench_calibration.py nullall --methods gnn --weights DIR`` saved and reports, per
family × seed, the rate at α = 0.05 / 0.01 of that rule and of candidate rules that first
remove the units' structure from the weights (:func:`residual_pvalues`), over the
unordered pairs (gnn's weights are symmetric by default). No refit: the rules are
functions of the saved weights, so this costs seconds.

Usage::

    python benchmarks/bench_learnednull.py WEIGHTS_DIR [--rules raw k0 k1 k2]

Results: ``benchmarks/results/learnednull.md``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.special import ndtr


def raw_pvalues(w: np.ndarray) -> np.ndarray:
    """gnn's default: robust z of the off-diagonal weights, two-sided normal p (n, n)."""
    n = w.shape[0]
    off = ~np.eye(n, dtype=bool)
    x = w[off]
    med = np.median(x)
    scale = 1.4826 * np.median(np.abs(x - med))
    p = np.ones((n, n))
    p[off] = 2.0 * ndtr(-np.abs(x - med) / scale)
    return p


def residual_pvalues(w: np.ndarray, n_components: int) -> np.ndarray:
    """A candidate rule (not adopted): robust z of the weights' pair-specific part.

    (1) double centring ``e_ij = w_ij − r_i − c_j + m`` (the units' main effects); (2) the
    ``n_components`` leading singular components of ``e`` removed, found on ``e`` clipped
    at 3 robust sd (so that one strong pair does not become a component); (3) each unit's
    MAD scale divided out, ``e_ij / √(s_i s_j)``; then the robust z and two-sided normal p.
    """
    n = w.shape[0]
    t = ~np.eye(n, dtype=bool)
    m = np.where(t, w, 0.0)
    r, c = m.sum(1) / (n - 1), m.sum(0) / (n - 1)
    e = np.where(t, w - r[:, None] - c[None, :] + m.sum() / t.sum(), 0.0)
    if n_components:
        med = np.median(e[t])
        lim = 3.0 * 1.4826 * np.median(np.abs(e[t] - med))
        u, sv, vt = np.linalg.svd(np.where(t, np.clip(e, med - lim, med + lim), 0.0))
        e = np.where(t, e - (u[:, :n_components] * sv[:n_components]) @ vt[:n_components], 0.0)
    a = np.abs(np.where(t, e, np.nan))
    s = 1.4826 * np.nanmedian(np.concatenate([a, a.T], axis=1), axis=1)
    x = (e / np.sqrt(s[:, None] * s[None, :]))[t]
    med = np.median(x)
    p = np.ones((n, n))
    p[t] = 2.0 * ndtr(-np.abs(x - med) / (1.4826 * np.median(np.abs(x - med))))
    return p


RULES = {"raw": raw_pvalues,
         "k0": lambda w: residual_pvalues(w, 0),
         "k1": lambda w: residual_pvalues(w, 1),
         "k2": lambda w: residual_pvalues(w, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", help="folder of {family}_s{seed}_gnn_w.npy files")
    ap.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    a = ap.parse_args()
    files = sorted(Path(a.weights).glob("*_w.npy"))
    print("| file | rule | FPR@0.05 | FPR@0.01 | KS | main effects' share of var(w) |")
    print("|---|---|---|---|---|---|")
    pooled: dict = {}
    for f in files:
        w = np.load(f)
        n = w.shape[0]
        iu = np.triu_indices(n, 1)
        sym = bool(np.allclose(w, w.T))
        idx = iu if sym else np.nonzero(~np.eye(n, dtype=bool))
        t = ~np.eye(n, dtype=bool)
        m = np.where(t, w, 0.0)
        r, c = m.sum(1) / (n - 1), m.sum(0) / (n - 1)
        dc = w - r[:, None] - c[None, :] + m.sum() / t.sum()
        share = 1.0 - np.var(dc[t]) / np.var(w[t])
        fam = re.sub(r"_s\d+_.*", "", f.name)
        for rule in a.rules:
            p = RULES[rule](w)[idx]
            pooled.setdefault((fam, rule), []).append(p)
            print(f"| {f.name[:-6]} | {rule} | {np.mean(p < 0.05):.3f} | {np.mean(p < 0.01):.3f} | "
                  f"{stats.kstest(p, 'uniform').statistic:.3f} | {share:.3f} |")
    print("\n| family | rule | fits | pooled FPR@0.05 | in [0.025, 0.075] |")
    print("|---|---|---|---|---|")
    for (fam, rule), ps in pooled.items():
        rate = float(np.mean(np.concatenate(ps) < 0.05))
        ok = "yes" if 0.025 <= rate <= 0.075 else "**no**"
        print(f"| {fam} | {rule} | {len(ps)} | {rate:.3f} | {ok} |")


if __name__ == "__main__":
    main()
