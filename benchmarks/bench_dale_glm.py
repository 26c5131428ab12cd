"""Dale-constrained GLM (``dale_glm``) against ``glm``, ``glmcc`` and ``ccg`` on the same data.

Data: a Brunel network (``spikewire.networks.brunel``, N neurons, ε = 0.2, g = 5, J = 2 mV,
1.5 ms delays, E ≈ I ≈ 10 Hz), simulated for ``--duration`` s; a random 50 % and 10 % of
the neurons are recorded (50 % / 90 % hidden). A third scenario adds hidden Markov states
(``HiddenStates``: two states, drive gain 1.3 / 0.7, mean dwell 2 s) to the 50 %-hidden
network and fits ``dale_glm`` without and with a measured state proxy
(``spikewire.observe.state_proxy``, noise = 0.5 × the clean signal's sd) as covariate,
with the population covariate off so that the proxy alone carries the state.

Scores (``spikewire.score``): ROC AUC of the evidence, MCC of the detected graph at the
method's default α / correction, sign accuracy of the detected true links, E/I accuracy of
the unit labels, Pearson weight correlation, wall time of the fit.

Usage: python benchmarks/bench_dale_glm.py [--neurons 100] [--duration 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import spikewire as sw
from spikewire.observe.state_proxy import state_proxy
from spikewire.observe.subsample import subsample
from spikewire.simulate import HiddenStates

KEYS = ("auc", "mcc", "sign_accuracy", "ei_accuracy", "weight_corr")


def _fit(rec, net, method, **settings):
    t0 = time.perf_counter()
    est = sw.infer(rec, method, **settings)
    dt = time.perf_counter() - t0
    s = sw.score(net, est)
    row = {k: float(s.get(k, float("nan"))) for k in KEYS}
    row["time_s"] = dt
    if method == "dale_glm":
        row["bits_per_spike"] = float(est.diagnostics["heldout_bits_per_spike"])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--methods", default="dale_glm,glm,glmcc,ccg")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    methods = args.methods.split(",")
    net = sw.networks.brunel(args.neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=3)
    st = sw.simulate(net, args.duration, seed=1)
    rates = st.rates()
    print(f"network N={args.neurons}, {args.duration:g} s, rate E "
          f"{rates[net.is_excitatory].mean():.1f} Hz, I {rates[~net.is_excitatory].mean():.1f} Hz")
    out = {"machine": platform.platform(), "python": platform.python_version(),
           "neurons": args.neurons, "duration_s": args.duration, "results": {}}
    for hidden in (0.5, 0.9):
        rec = subsample(st, fraction=1 - hidden, network=net, seed=2)
        for m in methods:
            row = _fit(rec, net, m)
            out["results"][f"hidden{int(hidden * 100)}/{m}"] = row
            print(f"hidden {hidden:.0%} {m:9s} " + " ".join(f"{k}={v:.3f}"
                                                          for k, v in row.items()))
    # hidden states, without and with the measured proxy
    hs = HiddenStates([1.3, 0.7], duration=args.duration, dwell_times=[2.0, 2.0],
                      n_neurons=args.neurons, seed=4)
    st2 = sw.simulate(net, args.duration, seed=1, modulation=hs)
    rec2 = subsample(st2, fraction=0.5, network=net, seed=2)
    proxy = state_proxy(hs.truth(), rate=100.0, noise=0.5, seed=5)
    for label, kw in [("no proxy", {}), ("proxy", {"covariates": proxy,
                                                   "covariate_rate": 100.0}),
                      ("population", {"population_covariate": True})]:
        settings = {"population_covariate": False, **kw}
        row = _fit(rec2, net, "dale_glm", **settings)
        out["results"][f"states/dale_glm/{label}"] = row
        print(f"states dale_glm {label:10s} " + " ".join(f"{k}={v:.3f}"
                                                       for k, v in row.items()))
    row = _fit(rec2, net, "glm")
    out["results"]["states/glm"] = row
    print("states glm " + " ".join(f"{k}={v:.3f}" for k, v in row.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
