"""Does the matched surrogate of ``spikewire infer --validate`` predict how well a method does?

For recordings from three network families with shared slow co-modulation (LIF Brunel,
Izhikevich, AdEx), each observed as 100 of 400 neurons for 60 s on a 10 kHz grid:

1. the recording's statistics (rates, ISI CV, count correlations, synchrony);
2. the **actual** AUC / precision / recall of each method on the recording, scored against
   the recording's own ground truth;
3. the **predicted** ones from :func:`spikewire.io.validate.validate` with the full match
   (rates, CV, correlations, synchrony) and with the rates-only match of the previous
   version, each over ``--seeds`` surrogate seeds, with their wall times.

Usage: ``nice python benchmarks/bench_validate.py --family brunel`` (one family per run,
each a few minutes on the loaded 2-core machine); ``--out`` writes the JSON record.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from spikewire import Recording, simulate
from spikewire.core.seeds import rng as seeded_rng
from spikewire.io.validate import recording_statistics, validate
from spikewire.networks import adex, brunel, izhikevich
from spikewire.score import score
from spikewire.simulate.comodulation import slow_comodulation

N, N_REC, DURATION, RES = 400, 100, 60.0, 1e-4

#: family -> (builder, shared-gain CV): gains chosen for count correlations of ~0.05-0.3
FAMILIES = {
    "brunel": (lambda: brunel(N, epsilon=0.1, g=5.0, eta=1.2, J=0.5, delay=1.5e-3, seed=21),
               0.05),
    "izhikevich": (lambda: izhikevich(N, out_degree=20, seed=22), 0.6),
    "adex": (lambda: adex(N, seed=23), 0.1),
}


def recording_of(family: str, seed: int = 7):
    build, cv = FAMILIES[family]
    net = build()
    mod = slow_comodulation(DURATION, cv=cv, n_neurons=N, seed=seeded_rng(seed, "inputs"))
    st = simulate(net, DURATION, seed=seed, modulation=mod)
    chosen = np.sort(seeded_rng(seed, "observation").choice(N, N_REC, replace=False))
    obs = st.select(chosen)
    t = np.floor(obs.grouped_times / RES + 1e-9) * RES          # the recording's 10 kHz grid
    from spikewire.core.spiketrains import SpikeTrains

    obs = SpikeTrains(np.minimum(t, np.nextafter(obs.t_stop, 0)), obs.indptr, obs.units,
                      obs.t_start, obs.t_stop)
    return net, Recording(spikes=obs, true_index=chosen, sampling_rate=1 / RES)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", choices=sorted(FAMILIES), required=True)
    ap.add_argument("--methods", default="ccg,tspe")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    methods = args.methods.split(",")
    from spikewire.infer import get_method_class

    t0 = time.perf_counter()
    net, rec = recording_of(args.family)
    t_rec = time.perf_counter() - t0
    stats = recording_statistics(rec.spikes).as_dict()
    actual = {}
    for m in methods:
        est = get_method_class(m)().fit(rec)
        sc = score(net, est)
        actual[m] = {k: float(sc[k]) for k in ("auc", "precision", "recall")}
    out = {"family": args.family, "n": N, "n_recorded": N_REC, "duration": DURATION,
           "simulate_recording_s": t_rec, "recording_stats": stats, "actual": actual}
    for match in ("full", "rates"):
        t0 = time.perf_counter()
        v = validate(rec, methods, n_seeds=args.seeds, hidden_fraction=1 - N_REC / N,
                     match=match, max_duration=DURATION, seed=1)
        out[match] = {"wall_s": time.perf_counter() - t0, "fit_s": v.match["fit_seconds"],
                      "table": v.table.reset_index().to_dict("records"),
                      "statistics": v.statistics.reset_index().to_dict("records"),
                      "warnings": v.warnings,
                      "params": {k: v.match.get(k) for k in ("comod_cv", "private_cv",
                                                             "tau_ref", "j_scale")}}
        print(v.summary(), flush=True)
    print(json.dumps({"actual": actual, "recording": stats}, indent=1))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
