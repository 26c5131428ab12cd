"""Thin evidence (issue 15): every method on 5 min of 100 of 1,000 AdEx neurons.

Data: :func:`spikewire.networks.adex` defaults (1,000 conductance-based adaptive
exponential IF neurons, 800 E / 200 I, ε = 0.1, log-normal weights with CV 1, delays
uniform in 1–10 ms, E ≈ 3 Hz), with the external drive multiplied by a slow shared
log-normal gain (:func:`spikewire.simulate.comodulation.slow_comodulation`, τ = 0.2 s,
CV 0.5), simulated at dt = 0.1 ms for ``--duration`` s (default 300); 100 neurons recorded
at random. The simulation is cached in ``--cache`` (npz) so that method runs can be split.

Every method at its defaults, plus ``dale_glm`` variants; scores from
``spikewire.score``: AUC, E-AUC, I-AUC, MCC, sign accuracy, E/I accuracy, time.

Usage: python benchmarks/bench_dale_thin.py [--duration 300] [--methods ccg,glm,...]
       [--cache /tmp/dale_cache/thin.npz] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import spikewire as sw
from spikewire.observe.subsample import subsample
from spikewire.simulate.comodulation import slow_comodulation

KEYS = ("auc", "auc_exc", "auc_inh", "mcc", "sign_accuracy", "ei_accuracy", "ei_labelled",
        "weight_corr")

VARIANTS = {
    "dale_glm": {},
    "dale_glm/no-pop": {"population_covariate": False},
    "dale_glm/all-labelled": {"min_label_confidence": 0.5},
    "dale_glm/en": {"empirical_null": True},
    "dale_glm/en-all-labelled": {"empirical_null": True, "min_label_confidence": 0.5},
    "dale_glm/en-w12": {"empirical_null": True, "window": 0.012, "n_basis": 3},
    "dale_glm/cv-prior": {"prior": {("E", "E"): 0.1, ("E", "I"): 0.1, ("I", "E"): 0.1,
                                    ("I", "I"): 0.1}, "prior_strength": "cv"},
}


def data(duration: float, cache: str):
    net = sw.networks.adex(1000, seed=1)
    if os.path.exists(cache):
        z = np.load(cache)
        st = sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=float(z["t_stop"]),
                                       units=np.arange(1000), sort=True,
                                       annotations={"engine": "adex", "dt": 1e-4})
    else:
        mod = slow_comodulation(duration, tau=0.2, cv=0.5, n_neurons=1000, seed=3)
        t0 = time.perf_counter()
        st = sw.simulate(net, duration, dt=1e-4, seed=2, modulation=mod)
        print(f"simulated {duration:g} s in {time.perf_counter() - t0:.0f} s")
        np.savez(cache, times=st.times, ids=st.unit_ids, t_stop=st.t_stop)
    rec = subsample(st, count=100, network=net, seed=0)
    return net, st, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--methods", default="ccg,glm,glmcc,tspe,dale_glm")
    ap.add_argument("--cache", default="/tmp/dale_cache/thin.npz")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    net, st, rec = data(args.duration, args.cache)
    rates = st.rates()
    print(f"E {rates[net.is_excitatory].mean():.2f} Hz, I {rates[~net.is_excitatory].mean():.2f}"
          f" Hz; recorded {rec.n_units}, spikes {rec.spikes.times.size}")
    out = {}
    for m in args.methods.split(","):
        method, settings = m.split("/")[0], VARIANTS.get(m, {})
        t0 = time.perf_counter()
        est = sw.infer(rec, method, **settings)
        dt = time.perf_counter() - t0
        s = sw.score(net, est)
        row = {k: float(s.get(k, float("nan"))) for k in KEYS}
        row["time_s"] = dt
        if method == "dale_glm":
            row["bits_per_spike"] = float(est.diagnostics["heldout_bits_per_spike"])
            if "prior_strength_cv" in est.diagnostics:
                row["prior_strength"] = est.diagnostics["prior_strength_cv"]["chosen"]
        out[m] = row
        print(f"{m:18s} " + " ".join(f"{k}={v:.3f}" for k, v in row.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
