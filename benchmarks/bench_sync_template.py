"""glmcc's synchrony term shaped by the population: ``sync_tau="population"`` against the
default exponential term (issues 12 and 15; benchmarks/results/sync33.md).

Per recording and synchrony term — ``exponential`` (2 ms, the default until 2026-12-03),
``population`` (the template alone) and ``default`` (the grid ``(0.002, "population")``
with its margin) — MCC of link existence at the default decision, AUC (all, E, I),
calls / true links, the called inhibitory links fitted with J > 0, and the default's
pick with each candidate's gain over the 2 ms term in nats per 1,000 coincidences (the
template's over the best width in session 33's records).

- ``fast``: ``brunel(1000, epsilon=0.1, g=5, eta=0.6, J=2)`` (~41 Hz, a population
  rhythm of 1.5 ms period), 60 recorded, 60 / 300 s, seeds 3 and 4, spike times at
  0.1 ms; bins of 1 and 0.5 ms.
- ``brunel``: networks glmcc was not tuned on, 100 of 1,000 recorded, 120 s at 0.1 ms:
  ``si_fast`` (g = 6, eta = 4, J = 0.5 mV, 1.5 ms delays; ~110 Hz), the README quick
  start's network (g = 5, eta = 2, J = 0.5 mV, 3 ms delays) and the same with Brunel's
  1.5 ms delays (~70 Hz), each stored at 1 kHz and at 0.1 ms.
- ``study``: the built-in study ``calibration``'s six families (100 of 1,000, 600 s,
  1 kHz; simulations cached as in ``bench_calibration.py``).
- ``demo``: ``make demo``'s spike networks (a), (c), (d), seeds 0 and 1 (100 of 2,000,
  240 s at 0.1 ms), through the study machinery.

Usage: python benchmarks/bench_sync_template.py fast
       python benchmarks/bench_sync_template.py brunel
       python benchmarks/bench_sync_template.py study
       python benchmarks/bench_sync_template.py demo
       ... --terms default,grid_2_8_population --bins 0.001   (session 34: an 8 ms width
       added to the default grid; benchmarks/results/sync34.md)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import matthews_corrcoef

import spikewire as sw
from spikewire.observe import observe, quantize, subsample

SETTINGS = {"exponential": {"sync_tau": 0.002}, "population": {"sync_tau": "population"},
            "default": {}, "exponential_8ms": {"sync_tau": 0.008},
            "grid_2_8_population": {"sync_tau": (0.002, 0.008, "population")}}
TERMS = ["exponential", "population", "default"]  # the ones run (--terms)
BINS = [0.001, 0.0005]  # bins of the 0.1 ms recordings (--bins)


def existence_mcc(W: np.ndarray, adj: np.ndarray) -> float:
    off = ~np.eye(W.shape[0], dtype=bool)
    return float(matthews_corrcoef((W != 0)[off], (adj != 0)[off]))


def rows(label: str, net, rec, extra: dict) -> None:
    W = net.dense_weights()[np.ix_(rec.true_index, rec.true_index)]
    for name in TERMS:
        kw = SETTINGS[name]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = sw.infer(rec, "glmcc", **kw, **extra)
            sc = sw.score(net, est)
        adj = est.adjacency()
        inh = (W < 0) & (adj != 0)
        gains = est.diagnostics.get("sync_gain_per_1000", {})
        gain = "" if not gains else "(" + ", ".join(
            f"{k} {v:+.3f}" for k, v in list(gains.items())[1:]) + ")"
        chose = est.diagnostics.get("sync_tau_s", "")
        print(f"| {label} | {extra.get('bin_width', 'auto')} | {name} "
              f"| {existence_mcc(W, adj):.3f} | {sc['auc']:.3f} | {sc['auc_exc']:.3f} "
              f"| {sc['auc_inh']:.3f} | {sc['n_detected']} / {sc['n_true']} "
              f"| {(inh & (adj > 0)).sum()} / {inh.sum()} | {chose} {gain} "
              f"| {time.perf_counter() - t0:.1f} |", flush=True)


def header() -> None:
    print("| recording | bin (s) | sync term | MCC | AUC | E-AUC | I-AUC | calls / true "
          "| called I links with J > 0 | default's pick (gains per 1,000) | s |")
    print("|---" * 11 + "|")


def run_fast() -> None:
    header()
    for T in (60.0, 300.0):
        for seed in (3, 4):
            net = sw.networks.brunel(1000, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=seed)
            rec = subsample(sw.simulate(net, T, seed=1), count=60, network=net, seed=2)
            for bw in BINS:
                rows(f"fast {T:g} s, seed {seed}", net, rec, {"bin_width": bw})


BRUNEL = {
    "si_fast": dict(g=6.0, eta=4.0, J=0.5, delay=1.5e-3),
    "quick start (3 ms)": dict(g=5.0, eta=2.0, J=0.5, delay=3e-3),
    "quick start, 1.5 ms": dict(g=5.0, eta=2.0, J=0.5, delay=1.5e-3),
}


def run_brunel() -> None:
    header()
    for name, kw in BRUNEL.items():
        net = sw.networks.brunel(1000, seed=0, **kw)
        spikes = sw.simulate(net, 120.0, dt=1e-4, seed=1)
        for stored in ("1 kHz", "0.1 ms"):
            if name == "si_fast" and stored == "1 kHz":
                continue
            steps = [subsample(count=100)] + (
                [quantize(sampling_rate=1_000)] if stored == "1 kHz" else [])
            rec = observe(spikes, steps, seed=2, network=net)
            for bw in ((0.001,) if stored == "1 kHz" else BINS):
                rows(f"{name}, {stored}", net, rec, {"bin_width": bw})


def run_study() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_calibration import study_recordings

    header()
    fams = ["brunel", "brunel_states", "izh_random", "izh_scale_free", "adex",
            "scale_free_lif"]
    for fam, net, rec, _ in study_recordings(fams, 600.0):
        rows(fam, net, rec, {})


def run_demo() -> None:
    """The demo's spike networks (`make demo`'s spec ``demo``: (a), (c), (d), seeds 0–1)
    through the study machinery; simulations cached in ``$SPIKEWIRE_BENCH_CACHE/demo``."""
    import os

    from spikewire.experiments import load_spec
    from spikewire.experiments.grid import build_network as build_study_network
    from spikewire.experiments.grid import expand
    from spikewire.experiments.job import build_inputs, ensure_simulation, observe_spikes

    cache = Path(os.environ.get("SPIKEWIRE_BENCH_CACHE",
                                "/tmp/spikewire_bench_calibration")) / "demo"
    cache.mkdir(parents=True, exist_ok=True)
    header()
    seen = set()
    for job in expand(load_spec("demo"), check=False):
        key = (job.network["name"], job.seed)
        if (job.network["name"] not in ("a_toy", "c_delay", "d_realistic") or key in seen
                or job.observation["name"] != "spikes"):
            continue
        seen.add(key)
        sim = ensure_simulation(job.sim_spec(), job.sim_key, cache, job.plugins)
        net = build_study_network(job.network, job.seed, allow_code=True)
        inputs = build_inputs(net, job.sim_spec(), job.seed)["inputs"]
        rec = observe_spikes(sw.SpikeTrains.load(sim["path"]), job.observation["steps"],
                             job.seed, net, inputs)
        rows(f"demo {key[0]}, seed {key[1]}", net, rec, {})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("fast", "brunel", "study", "demo"))
    ap.add_argument("--terms", default=",".join(TERMS),
                    help=f"synchrony settings to run, of {sorted(SETTINGS)}")
    ap.add_argument("--bins", default="0.001,0.0005",
                    help="bin widths (s) for the 0.1 ms recordings")
    a = ap.parse_args()
    TERMS[:] = a.terms.split(",")
    BINS[:] = [float(b) for b in a.bins.split(",")]
    {"fast": run_fast, "brunel": run_brunel, "study": run_study, "demo": run_demo}[a.mode]()


if __name__ == "__main__":
    main()
