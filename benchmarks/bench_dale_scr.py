"""dale_glm's screened solver: screen statistic, candidates, split (issue 15, dalescr).

Variants of the screened solver on 100 recorded units of a 1,000-neuron Izhikevich
network (:func:`spikewire.networks.izhikevich`, defaults): ``--net-seed 1`` is the
evaluation recording of ``bench_dale_scale.py`` / ``bench_dale_nemos.py`` (cache
``/tmp/dale_cache/nemos_1200.npz``); any other seed simulates a *development* network
(``izhikevich(1000, seed=S)``, simulated with seed S + 1, 100 units recorded at random
with seed S + 2, ``--longest`` s, cached under ``/tmp/dalescr``) on which settings are
chosen without looking at the evaluation network's truth. Each variant runs in this
process after a warm-up fit (numba kernels loaded); CPU time (``time.process_time``)
of each fit. Scores (:func:`spikewire.score`): AUC, E-AUC, I-AUC, best MCC, E/I
accuracy, held-out bits per spike; and, as a diagnostic only, the fraction of true E
and I links among the candidates.

The variants ``nc``, ``q20``, ``q50``, ``r2``, ``cross`` of results/dalescr.md
(non-candidate weights, a quota of negative-z candidates, a second screening round,
cross-fitting) were measured with commit 9828ae0 and then removed from the solver.

Usage: python benchmarks/bench_dale_scr.py --net-seed 11 --duration 120
       --variants base,dev,k60 [--json out.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

VARIANTS = {
    "base": {},
    "dev": {"screen_statistic": "deviance"},
    "k48": {"n_candidates": 48},
    "k60": {"n_candidates": 60},
    "split120": {"screen_split": True, "screen_duration": 120.0},
    "split120+dev": {"screen_split": True, "screen_duration": 120.0,
                     "screen_statistic": "deviance"},
}


def recording(net_seed: int, longest: float):
    import spikewire as sw
    from spikewire.observe.subsample import subsample

    if net_seed == 1:
        cache = "/tmp/dale_cache/nemos_1200.npz"
    else:
        os.makedirs("/tmp/dalescr", exist_ok=True)
        cache = f"/tmp/dalescr/dev_{net_seed}_{int(longest)}.npz"
    if not os.path.exists(cache):
        net = sw.networks.izhikevich(1000, seed=net_seed)
        st = sw.simulate(net, longest, dt=1e-3, seed=net_seed + 1)
        rec = subsample(st, count=100, network=net, seed=net_seed + 2)
        np.savez(cache, times=rec.spikes.times, ids=rec.spikes.unit_ids,
                 units=rec.spikes.units, t_stop=longest)
    z = np.load(cache)
    return sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=float(z["t_stop"]),
                                     units=z["units"], sort=True), z["units"]


def run(net_seed: int, duration: float, longest: float, variants: list[str],
        k: int) -> list[dict]:
    import spikewire as sw

    st_all, units = recording(net_seed, longest)
    st = st_all.restrict(0.0, duration)
    net = sw.networks.izhikevich(1000, seed=net_seed)
    ti = np.asarray(units, dtype=np.int64)
    W = net.dense_weights()[np.ix_(ti, ti)]
    sw.infer(st_all.restrict(0.0, 20.0), "dale_glm", solver="screened", n_candidates=k)
    rows = []
    for v in variants:
        c0 = time.process_time()
        kw = {"n_candidates": k, **VARIANTS[v]}
        est = sw.infer(st, "dale_glm", solver="screened", **kw)
        cpu = time.process_time() - c0
        sc = sw.score((W, net.cell_type[ti]), est)
        d = est.diagnostics
        C = d["candidates"]
        row = {"variant": v, "net_seed": net_seed, "duration_s": duration,
               "n_candidates": kw["n_candidates"], "fit_cpu_s": cpu,
               "heldout_bits_per_spike": float(d["heldout_bits_per_spike"]),
               **{key: float(sc[key]) for key in ("auc", "auc_exc", "auc_inh",
                                                  "mcc_best", "ei_accuracy",
                                                  "ei_labelled")},
               "frac_exc_links_candidates": float(C[W > 0].mean()),
               "frac_inh_links_candidates": float(C[W < 0].mean()),
               "timings": {a: round(b, 2) for a, b in d["timings"].items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--net-seed", type=int, default=11)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--longest", type=float, default=600.0)
    ap.add_argument("--variants", default="base,dev")
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = run(args.net_seed, args.duration, args.longest, args.variants.split(","),
               args.candidates)
    if args.json:
        with open(args.json, "a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
    main()
