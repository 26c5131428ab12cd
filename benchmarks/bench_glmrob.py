"""glm's Wald variance: cluster-robust (default) against the model (Poisson) variance.

``speed``: the coupled Poisson GLM of ``bench_glm.py`` (``--units`` units, ``--duration``
s, ~10 % of pairs coupled), fitted by the former defaults (``variance="model"``,
covariates 30 and 300 ms), ``GLM(variance="model")`` and ``GLM()`` (robust) in turn in
one process (after a JIT warm-up), ``--rounds`` times each; prints each wall time, the
median ratios, the link AUC by ``|z|`` of each and the share of pairs whose robust
variance exceeds the model's.

``ratio``: on a null family (``--family``), the robust / model variance ratio of the
tested pairs (median, 10 % / 90 % quantiles) and the false-positive rate at 0.05 with
each variance, from one robust fit (the model z is ``z_robust · sqrt(used / model)``,
exact: same coefficients).

Usage::

    PYTHONPATH=src python benchmarks/bench_glmrob.py speed --units 40 --duration 600
    PYTHONPATH=src python benchmarks/bench_glmrob.py ratio --family bursting --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def speed(a):
    from bench_glm import make_data
    from sklearn.metrics import roc_auc_score

    from spikewire.infer.glm import GLM

    st, _, mask = make_data(a.units, a.duration, seed=a.seed)
    off = ~np.eye(st.n_units, dtype=bool)
    GLM(penalties=[1.0], max_iter=3).fit(st.select(np.arange(10)).restrict(0, 20.0))  # JIT
    configs = {"before": {"variance": "model", "population_timescales": (0.03, 0.3)},
               "model": {"variance": "model"}, "robust": {}}
    times = {k: [] for k in configs}
    auc = {}
    for _ in range(a.rounds):
        for v, kw in configs.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = GLM(**kw).fit(st)
            times[v].append(time.perf_counter() - t0)
            auc[v] = roc_auc_score(mask[off], np.nan_to_num(est.scores)[off])
            ratio = est.diagnostics["variance_ratio"]
    for v in times:
        print(f"{v}: wall {', '.join(f'{t:.1f}' for t in times[v])} s; AUC by |z| {auc[v]:.4f}")
    r = np.median(times["robust"]) / np.median(times["model"])
    print(f"robust / model wall time (medians): {r:.3f}")
    r = np.median(times["robust"]) / np.median(times["before"])
    print(f"robust (today's default) / before (model variance, 30 + 300 ms covariates): "
          f"{r:.3f}")
    rr = ratio[off & np.isfinite(ratio)]
    print(f"variance ratio robust/model: median {np.median(rr):.3f}, share > 1 "
          f"{np.mean(rr > 1):.3f}")


def ratio(a):
    from scipy.stats import norm

    import spikewire as sw
    from spikewire.infer._null_families import null_family

    st = null_family(a.family, n_units=a.units, duration=a.duration, seed=a.seed)
    n = st.n_units
    est = sw.infer(st, "glm")
    t = (est.pair_status == 0) & np.isfinite(est.pvalues) & ~np.eye(n, dtype=bool)
    rr = est.diagnostics["variance_ratio"][t]
    z = norm.isf(est.pvalues[t] / 2)
    zm = z * np.sqrt(est.diagnostics["variance_used_ratio"][t])   # the model variance's z
    print(f"{a.family} seed {a.seed}: ratio median {np.median(rr):.3f} "
          f"[q10 {np.quantile(rr, 0.1):.3f}, q90 {np.quantile(rr, 0.9):.3f}]; "
          f"FPR robust {np.mean(z > norm.isf(0.025)):.3f}, model "
          f"{np.mean(zm > norm.isf(0.025)):.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["speed", "ratio"])
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--family", default="bursting")
    a = ap.parse_args()
    speed(a) if a.mode == "speed" else ratio(a)
