"""GLMCC on a recurrent LIF network: the README quick-start recording, several settings.

The recording: 100 of 1,000 Brunel LIF neurons (g = 5, η = 2, J = 0.5 mV, delta synapses,
3 ms delay), 120 s simulated at 0.1 ms and stored at 1 kHz (as in README.md). Per setting:
AUC (all, E, I), MCC and links called at the default threshold, sign accuracy, the chosen
delays of the true links, and the fit time; ``ccg`` at its defaults for reference, timed
in the same run. The simulation is cached in ``$SPIKEWIRE_BENCH_CACHE``
(default /tmp/spikewire_bench_glmcc).

Usage: python benchmarks/bench_glmcc_recurrent.py ["tau=0.004;sync_tau=None" ...]
(each argument: ``;``-separated literal settings of glmcc; default: a fixed list).
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import spikewire as sw
from spikewire.observe import observe, quantize, subsample

SETTINGS = ["tau=0.004;sync_tau=None", "tau=0.004", "tau=(0.001,0.002,0.004)", "",
            "correction='lfdr'"]


def recording():
    cache = Path(os.environ.get("SPIKEWIRE_BENCH_CACHE", "/tmp/spikewire_bench_glmcc"))
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "quickstart.pkl"
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    net = sw.networks.brunel(1_000, g=5.0, eta=2.0, J=0.5, delay=3e-3, seed=0)
    spikes = sw.simulate(net, duration=120.0, dt=1e-4, seed=1)
    rec = observe(spikes, [subsample(count=100), quantize(sampling_rate=1_000)], seed=2,
                  network=net)
    with open(path, "wb") as fh:
        pickle.dump((net, rec), fh)
    return net, rec


def row(label, net, est, elapsed):
    s = sw.score(net, est)
    truth = net.dense_weights()[np.ix_(est.true_index, est.true_index)] != 0
    d = est.delays[truth & np.isfinite(est.delays)] * 1e3
    share3 = np.mean(np.isclose(d, 3.0)) if d.size else np.nan
    return (f"| {label} | {s['auc']:.3f} | {s['auc_exc']:.3f} | {s['auc_inh']:.3f} | "
            f"{s['mcc']:.3f} | {s['n_detected']} / {s['n_true']} | "
            f"{s['sign_accuracy_all']:.3f} | {share3:.2f} | {elapsed:.1f} |")


def main(argv):
    net, rec = recording()
    print("| method | AUC | AUC E | AUC I | MCC (default) | called / true | sign acc. (all) "
          "| true links at 3 ms | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est = sw.infer(rec, "ccg")
        print(row("ccg", net, est, time.perf_counter() - t0), flush=True)
        for opts in argv or SETTINGS:
            kw = {}
            for o in filter(None, opts.split(";")):
                k, v = o.split("=", 1)
                kw[k] = eval(v)  # benchmark-only convenience: literal settings
            t0 = time.perf_counter()
            est = sw.infer(rec, "glmcc", **kw)
            print(row(f"glmcc {opts or '(defaults)'}", net, est, time.perf_counter() - t0),
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
