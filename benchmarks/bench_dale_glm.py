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
the unit labels, Pearson weight correlation, wall and CPU time (``time.process_time``) of
the fit.

Each row also carries the decision (``n_detected`` calls against ``n_true`` links,
``mcc_best``: the best MCC of any threshold on the method's own ranking, and
``calibration_gap = mcc_best − mcc``), the E/I accuracy split by true type, the fraction of
units labelled, and for ``dale_glm`` the empirical-null scale it divided its z-scores by
and ``ei_accuracy_all``: the likelier type (``p_excitatory ≥ 0.5``) of every recorded unit,
confident or not, against the truth.

``--dale JSON`` adds settings to every ``dale_glm`` fit (e.g. ``'{"contrast": "scan"}'``,
benchmarks/results/dalescan.md); ``--states-variants`` picks the hidden-state rows of
``dale_glm`` (comma-separated among ``no proxy``, ``proxy``, ``population``).

``--hidden ""`` skips the hidden-neuron rows; ``--cache DIR`` reads the hidden-state
recording from bench_dalebest.py's cache (the same spikes) instead of simulating it.

Usage: python benchmarks/bench_dale_glm.py [--neurons 100] [--duration 120] [--seed 3]
       [--json out.json] [--pickle DIR] [--dale JSON] [--states-variants LIST]
       [--hidden LIST] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import time
from pathlib import Path

import numpy as np

import spikewire as sw
from spikewire.observe.state_proxy import state_proxy
from spikewire.observe.subsample import subsample
from spikewire.simulate import HiddenStates

KEYS = ("auc", "mcc", "mcc_best", "calibration_gap", "n_detected", "n_true",
        "sign_accuracy", "ei_accuracy", "ei_accuracy_E", "ei_accuracy_I", "ei_labelled",
        "weight_corr")
SHOW = ("auc", "mcc", "mcc_best", "n_detected", "n_true", "ei_accuracy", "ei_labelled",
        "ei_accuracy_all", "null_scale", "time_s", "cpu_s")


def ei_accuracy_all(net, est) -> float:
    """Fraction of all recorded units whose likelier type (``p_excitatory ≥ 0.5``) is true."""
    pe = est.diagnostics["p_excitatory"]
    truth = np.asarray(net.is_excitatory)[np.asarray(est.true_index)]
    guess = np.array([pe[int(u)] >= 0.5 for u in np.asarray(est.units)])
    return float(np.mean(guess == truth))


def _fit(rec, net, method, pickle_to=None, **settings):
    t0, c0 = time.perf_counter(), time.process_time()
    est = sw.infer(rec, method, **settings)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = sw.score(net, est)
    row = {k: float(s.get(k, float("nan"))) for k in KEYS}
    row["time_s"] = dt
    row["cpu_s"] = cpu
    if method == "dale_glm":
        row["bits_per_spike"] = float(est.diagnostics["heldout_bits_per_spike"])
        row["null_scale"] = float(est.diagnostics["null_scale"])
        row["ei_accuracy_all"] = ei_accuracy_all(net, est)
    if pickle_to is not None:
        with open(pickle_to, "wb") as fh:
            pickle.dump(est, fh)
    return row


def _show(prefix, row):
    print(prefix + " " + " ".join(f"{k}={row[k]:.3f}" for k in SHOW if k in row),
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--methods", default="dale_glm,glm,glmcc,ccg")
    ap.add_argument("--seed", type=int, default=3, help="network seed (dale.md: 3)")
    ap.add_argument("--hidden", default="0.5,0.9", help="hidden fractions")
    ap.add_argument("--no-states", action="store_true", help="skip the hidden-state rows")
    ap.add_argument("--json", default=None)
    ap.add_argument("--pickle", default=None, help="folder for the pickled estimates")
    ap.add_argument("--dale", default="{}", help="JSON settings added to every dale_glm fit")
    ap.add_argument("--states-variants", default="no proxy,proxy,population",
                    help="dale_glm's hidden-state rows (no proxy, proxy, population)")
    ap.add_argument("--cache", default=None,
                    help="folder of cached recordings (bench_dalebest.py's pickles, e.g. "
                         "/tmp/dalebest/cache): the hidden-state recording is read from "
                         "(or written to) brunel{N}_s{seed}_{duration}s_states.pkl there")
    args = ap.parse_args()
    dale_extra = json.loads(args.dale)
    variants = [v.strip() for v in args.states_variants.split(",") if v.strip()]
    methods = args.methods.split(",")
    pdir = None
    if args.pickle:
        pdir = Path(args.pickle)
        pdir.mkdir(parents=True, exist_ok=True)

    def dest(name):
        return None if pdir is None else pdir / f"{name.replace('/', '_')}.pkl"

    net = sw.networks.brunel(args.neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0,
                             seed=args.seed)
    hiddens = [float(h) for h in args.hidden.split(",") if h.strip()]
    out = {"machine": platform.platform(), "python": platform.python_version(),
           "dale_settings": dale_extra, "neurons": args.neurons,
           "duration_s": args.duration, "seed": args.seed,
           "results": {}}
    if hiddens:
        st = sw.simulate(net, args.duration, seed=1)
        rates = st.rates()
        print(f"network N={args.neurons}, {args.duration:g} s, rate E "
              f"{rates[net.is_excitatory].mean():.1f} Hz, "
              f"I {rates[~net.is_excitatory].mean():.1f} Hz")
    for hidden in hiddens:
        rec = subsample(st, fraction=1 - hidden, network=net, seed=2)
        for m in methods:
            name = f"hidden{int(round(hidden * 100))}/{m}"
            row = _fit(rec, net, m, pickle_to=dest(name),
                       **(dale_extra if m == "dale_glm" else {}))
            out["results"][name] = row
            _show(f"hidden {hidden:.0%} {m:9s}", row)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(out, fh, indent=1)
    if args.no_states:
        return
    # hidden states, without and with the measured proxy
    hs = HiddenStates([1.3, 0.7], duration=args.duration, dwell_times=[2.0, 2.0],
                      n_neurons=args.neurons, seed=4)
    cached = (None if args.cache is None else
              Path(args.cache) / f"brunel{args.neurons}_s{args.seed}_{args.duration:g}s_states.pkl")
    if cached is not None and cached.exists():
        with open(cached, "rb") as fh:
            rec2 = pickle.load(fh)
    else:
        st2 = sw.simulate(net, args.duration, seed=1, modulation=hs)
        rec2 = subsample(st2, fraction=0.5, network=net, seed=2)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with open(cached, "wb") as fh:
                pickle.dump(rec2, fh)
    proxy = state_proxy(hs.truth(), rate=100.0, noise=0.5, seed=5)
    for label, kw in [("no proxy", {}), ("proxy", {"covariates": proxy,
                                                   "covariate_rate": 100.0}),
                      ("population", {"population_covariate": True})]:
        if label not in variants or "dale_glm" not in methods:
            continue
        settings = {"population_covariate": False, **kw, **dale_extra}
        name = f"states/dale_glm/{label}"
        row = _fit(rec2, net, "dale_glm", pickle_to=dest(name), **settings)
        out["results"][name] = row
        _show(f"states dale_glm {label:10s}", row)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(out, fh, indent=1)
    for m in [m for m in methods if m != "dale_glm"]:
        row = _fit(rec2, net, m, pickle_to=dest(f"states/{m}"))
        out["results"][f"states/{m}"] = row
        _show(f"states {m}", row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
