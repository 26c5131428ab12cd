"""glm's scan test over 25 ms (issue 12, benchmarks/results/glm25b.md): accuracy, calls and
delay error of glm settings on the cached networks of ``bench_calibration.py networks``.

One fit per family × setting; besides ``bench_delays25.py``'s row (AUC, MCC at the
default decision, calls / true, sign accuracy, delay errors, time) it prints the delay
errors of both ``delay_estimate`` readings of the same fitted filters (the extremum and
the main lobe's centre) and the process CPU time of the fit.

Usage::

    SPIKEWIRE_BENCH_CACHE=/tmp/sw_cache2 python benchmarks/bench_glm_scan.py \\
        --families brunel,brunel_long,izh_random --duration 600 --seed 0 \\
        --methods "glm:window=0.02" glm
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_calibration import parse_method, simulate_cached  # noqa: E402
from bench_delays25 import true_delays  # noqa: E402

import spikewire as sw  # noqa: E402
from spikewire.infer.glm import filter_delays  # noqa: E402
from spikewire.score import score  # noqa: E402


def delay_errors(est, D, detected, estimate):
    """Median |delay − truth| (ms) over all true links and over the detected ones, with
    the fitted filters read by ``estimate``."""
    dg = est.diagnostics
    units = np.asarray(est.units)
    rows = np.searchsorted(units, np.asarray(dg["target_units"]))
    cols = np.searchsorted(units, np.asarray(dg["design_units"]))
    coef = np.asarray(dg["filters"])
    w = est.weights[np.ix_(rows, cols)]
    sub = filter_delays(dg["basis"], coef, w, est.settings["bin_width"],
                        estimate=estimate)
    d = np.full(est.weights.shape, np.nan)
    d[np.ix_(rows, cols)] = sub
    np.fill_diagonal(d, np.nan)
    d[est.pair_status != 0] = np.nan
    link = np.isfinite(D) & np.isfinite(d)
    err = np.abs(d - D)
    det = link & detected
    return (1e3 * np.median(err[link]) if link.any() else np.nan,
            1e3 * np.median(err[det]) if det.any() else np.nan, int(det.sum()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="brunel,brunel_long,izh_random")
    ap.add_argument("--methods", nargs="+", default=["glm:window=0.02", "glm"])
    ap.add_argument("--neurons", type=int, default=1000)
    ap.add_argument("--recorded", type=int, default=100)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("| family | setting | AUC | MCC | calls / true | sign acc. | delay error, all / "
          "detected (ms): extremum | same: lobe centre | same: edge_lobe | n detected | "
          "CPU (s) | wall (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fam in args.families.split(","):
        net, st = simulate_cached(fam, args.neurons, args.duration, args.seed)
        rng = np.random.default_rng(args.seed + 7)
        rec_idx = np.sort(rng.choice(args.neurons, args.recorded, replace=False))
        rec = sw.Recording.from_spikes(st.select(rec_idx), true_index=rec_idx)
        D = true_delays(net, rec_idx)
        np.fill_diagonal(D, np.nan)
        for m in args.methods:
            name, kw = parse_method(m)
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(rec, name, **kw)
            el, cpu = time.perf_counter() - t0, time.process_time() - c0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sc = score(net, est)
            detected = est.adjacency() != 0
            ex = delay_errors(est, D, detected, "extremum")
            ip = delay_errors(est, D, detected, "edge_lobe")
            lc = delay_errors(est, D, detected, "lobe_centre")
            print(f"| {fam} | {m} | {sc['auc']:.3f} | {sc['mcc']:.3f} | "
                  f"{sc['n_detected']} / {sc['n_true']} | {sc['sign_accuracy']:.2f} | "
                  f"{ex[0]:.1f} / {ex[1]:.1f} | {lc[0]:.1f} / {lc[1]:.1f} | "
                  f"{ip[0]:.1f} / {ip[1]:.1f} | {ex[2]} | "
                  f"{cpu:.1f} | {el:.1f} |", flush=True)


if __name__ == "__main__":
    main()
