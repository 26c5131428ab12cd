"""te and glm scanning delays up to 25 ms (issue 12): accuracy, calls, delay error, time.

Runs each method on the cached networks of ``bench_calibration.py networks`` (1,000
neurons, 100 recorded, ``--duration`` s, seed 0; ``SPIKEWIRE_BENCH_CACHE`` holds them)
at its former default (``te:n_lags=3``, ``glm:window=0.02``) and at today's (``te``,
``glm``) in the same run, and prints one Markdown row per fit: AUC, MCC at the default
decision, calls / true links, sign accuracy, the delay error (median |estimate − truth|
on all true links of the recorded units, and on the detected true links) and the fit time.

Usage::

    SPIKEWIRE_BENCH_CACHE=/tmp/sw_cache2 python benchmarks/bench_delays25.py \\
        --families brunel,brunel_long,izh_random --duration 600 \\
        --methods "te:n_lags=3" te "glm:window=0.02" glm
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

import spikewire as sw  # noqa: E402
from spikewire.score import score  # noqa: E402


def true_delays(net, rec_idx):
    """Dense post × pre true delays (s) of the recorded units (NaN where no synapse)."""
    import scipy.sparse as sp

    w = net.weights
    d = net.synapse_delays()
    dm = sp.csr_array(sp.csc_array((np.asarray(d, float), w.indices, w.indptr),
                                   shape=w.shape))
    sub = dm[rec_idx][:, rec_idx].toarray()
    has = (net.weights.tocsr()[rec_idx][:, rec_idx] != 0).toarray()
    return np.where(has, sub, np.nan)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="brunel,brunel_long,izh_random")
    ap.add_argument("--methods", nargs="+", default=["te:n_lags=3", "te", "glm:window=0.02",
                                                      "glm"])
    ap.add_argument("--neurons", type=int, default=1000)
    ap.add_argument("--recorded", type=int, default=100)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("| family | method | AUC | MCC | calls / true | sign acc. | median abs delay error, "
          "all true links (ms) | same, detected true links (ms) | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fam in args.families.split(","):
        net, st = simulate_cached(fam, args.neurons, args.duration, args.seed)
        rng = np.random.default_rng(args.seed + 7)
        rec_idx = np.sort(rng.choice(args.neurons, args.recorded, replace=False))
        rec = sw.Recording.from_spikes(st.select(rec_idx), true_index=rec_idx)
        D = true_delays(net, rec_idx)
        np.fill_diagonal(D, np.nan)
        for m in args.methods:
            name, kw = parse_method(m)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(rec, name, **kw)
                el = time.perf_counter() - t0
                sc = score(net, est)
            link = np.isfinite(D)
            if est.delays is not None:
                err = np.abs(est.delays - D)[link & np.isfinite(est.delays)]
                med_all = f"{1e3 * np.median(err):.1f} (n={err.size})"
            else:
                med_all = "—"
            med_det = (f"{1e3 * sc['delay_median_error']:.1f} (n={sc['n_delays']})"
                       if sc["n_delays"] else "—")
            print(f"| {fam} | {m} | {sc['auc']:.3f} | {sc['mcc']:.3f} | "
                  f"{sc['n_detected']} / {sc['n_true']} | {sc['sign_accuracy']:.2f} | "
                  f"{med_all} | {med_det} | {el:.1f} |", flush=True)


if __name__ == "__main__":
    main()
