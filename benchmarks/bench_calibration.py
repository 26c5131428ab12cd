"""Calibration benchmark: false-positive rates of every method on null families.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_calibration.py null \
        [--methods ccg,tspe,...] [--units 40 --duration 300 --seeds 1] [--qq out.png]

Each family (``spikewire.infer._null_families``) has no connections at all, so every
pair called at per-pair level α (``correction="none"``) is a false positive. Printed per
method × family: the false-positive rate at α = 0.05 and 0.01, the number of tested pairs,
the Kolmogorov–Smirnov distance of the p-values from uniform, and what BH (5 %) and the
empirical-null lfdr (0.05) call. ``--qq`` writes p-value QQ plots (−log10 expected vs
observed) of every method × family into one figure.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import spikewire as sw
from spikewire.infer._null_families import FAMILIES, null_family


def run_null(methods, families, n_units, duration, seeds, qq):
    rows, pv = [], {}
    for fam in families:
        for seed in range(seeds):
            st = null_family(fam, n_units=n_units, duration=duration, seed=seed)
            for m in methods:
                name, _, opts = m.partition(":")
                kw = {}
                for o in filter(None, opts.split(";")):
                    k, v = o.split("=")
                    kw[k] = eval(v)  # benchmark-only convenience: literal settings
                t0 = time.perf_counter()
                est = sw.infer(st, name, **kw)
                el = time.perf_counter() - t0
                tested = est.pair_status == 0
                p = est.pvalues[tested]
                pv.setdefault((m, fam), []).append(p)
                try:
                    lf = int(est.significant(0.05, "lfdr").sum())
                except ValueError:
                    lf = -1
                rows.append((m, fam, seed, p.size, np.mean(p < 0.05), np.mean(p < 0.01),
                             _ks(p), int(est.significant(0.05, "bh").sum()), lf, el))
                print("| " + " | ".join(_fmt(x) for x in rows[-1]) + " |", flush=True)
    if qq:
        _qq(pv, methods, families, qq)
    return rows


def _ks(p):
    p = np.sort(p)
    n = p.size
    return float(np.max(np.maximum(np.arange(1, n + 1) / n - p, p - np.arange(n) / n)))


def _fmt(x):
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _qq(pv, methods, families, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(3.2 * len(families), 3.2),
                             sharey=True)
    for ax, fam in zip(np.atleast_1d(axes), families, strict=True):
        for m in methods:
            p = np.sort(np.concatenate(pv[(m, fam)]))
            e = (np.arange(1, p.size + 1) - 0.5) / p.size
            ax.plot(-np.log10(e), -np.log10(np.maximum(p, 1e-300)), ".", ms=2, label=m)
        lim = -np.log10(0.5 / p.size)
        ax.plot([0, lim], [0, lim], "k--", lw=0.8)
        ax.set_title(fam)
        ax.set_xlabel("expected −log10 p (uniform)")
        ax.set_ylim(0, 8)
    np.atleast_1d(axes)[0].set_ylabel("observed −log10 p")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["null"])
    ap.add_argument("--methods", default="ccg,tspe")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--qq", default="")
    a = ap.parse_args()
    print("| method | family | seed | pairs | FPR@0.05 | FPR@0.01 | KS | BH calls | lfdr calls "
          "| time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    run_null(a.methods.split(","), a.families.split(","), a.units, a.duration, a.seeds, a.qq)


if __name__ == "__main__":
    main()
