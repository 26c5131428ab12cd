"""Where does ``dale_glm`` lose to ``glm`` with hidden neurons? One-ingredient swaps (issue 15).

Data: ``bench_dale_glm.py``'s Brunel network (N = 100, ε = 0.2, g = 5, J = 2 mV, η = 0.6,
1.5 ms delays), simulated for ``--duration`` s (simulation seed 1), a random 50 %
recorded (subsample seed 2); ``--states`` adds its two hidden Markov states (gain
1.3 / 0.7, dwell 2 s, seed 4). The recording is cached in ``--cache`` so that every
variant is fitted on the same spikes.

Each variant is ``NAME=METHOD:JSON`` (settings passed to ``spikewire.infer``), e.g.
``default=dale_glm:{}``, ``bin1=dale_glm:{"bin_width": 0.001}``, ``glm=glm:{}``. A row
per variant: AUC (E / I), MCC at the method's default decision, the best MCC of any
threshold on its ranking, calls / true links, E/I accuracy (labelled units), the
CPU time of the fit (``time.process_time``) and its wall time. Rows are appended to
``--jsonl``.

Usage::

    python benchmarks/bench_dalebest.py --seed 3 --variants 'default=dale_glm:{}' \
        'glm=glm:{}' --jsonl out.jsonl [--states] [--duration 120] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import spikewire as sw
from spikewire.observe.subsample import subsample
from spikewire.simulate import HiddenStates

KEYS = ("auc", "auc_exc", "auc_inh", "mcc", "mcc_best", "n_detected", "n_true",
        "sign_accuracy", "ei_accuracy", "ei_labelled")


def recording(neurons: int, duration: float, seed: int, states: bool, cache: Path):
    """The network and its 50 %-recorded spikes (cached as a pickle in ``cache``)."""
    net = sw.networks.brunel(neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    tag = f"brunel{neurons}_s{seed}_{duration:g}s_{'states' if states else 'plain'}.pkl"
    path = cache / tag
    if path.exists():
        with open(path, "rb") as fh:
            return net, pickle.load(fh)
    if states:
        hs = HiddenStates([1.3, 0.7], duration=duration, dwell_times=[2.0, 2.0],
                          n_neurons=neurons, seed=4)
        st = sw.simulate(net, duration, seed=1, modulation=hs)
    else:
        st = sw.simulate(net, duration, seed=1)
    rec = subsample(st, fraction=0.5, network=net, seed=2)
    cache.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(rec, fh)
    return net, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--states", action="store_true")
    ap.add_argument("--variants", nargs="+", required=True)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--cache", default="/tmp/dalebest/cache")
    ap.add_argument("--pickle", default=None, help="folder for the pickled estimates")
    args = ap.parse_args()
    net, rec = recording(args.neurons, args.duration, args.seed, args.states,
                         Path(args.cache))
    for spec in args.variants:
        name, _, rest = spec.partition("=")
        method, _, js = rest.partition(":")
        settings = json.loads(js or "{}")
        c0, w0 = time.process_time(), time.perf_counter()
        est = sw.infer(rec, method, **settings)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        s = sw.score(net, est)
        row = {"seed": args.seed, "states": args.states, "variant": name,
               "method": method, "settings": settings,
               **{k: float(s.get(k, float("nan"))) for k in KEYS},
               "cpu_s": cpu, "wall_s": wall}
        if method == "dale_glm":
            d = est.diagnostics
            row["contrast"] = d.get("contrast")
            row["null_scale"] = float(d.get("null_scale", float("nan")))
            if "scan_null_scales" in d:
                row["scan_null_scales"] = [float(x) for x in d["scan_null_scales"]]
        with open(args.jsonl, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if args.pickle:
            Path(args.pickle).mkdir(parents=True, exist_ok=True)
            with open(Path(args.pickle) / f"s{args.seed}_{'st' if args.states else 'h50'}"
                      f"_{name}.pkl", "wb") as fh:
                pickle.dump(est, fh)
        print(" ".join(f"{k}={row[k]:.3f}" if isinstance(row[k], float) else f"{k}={row[k]}"
                       for k in ("variant", "auc", "auc_exc", "mcc", "mcc_best",
                                 "n_detected", "n_true", "ei_accuracy", "cpu_s", "wall_s")),
              flush=True)


if __name__ == "__main__":
    main()
