"""Dale's law imposed on a method's calls (``glmcc(dale=True)``, or
:func:`spikewire.infer.withdraw_against_dale` on any estimate; issue 15, dale32.md).

Measures MCC of link existence (recorded units, default decision) without and with the
withdrawal — each presynaptic unit labelled by the majority sign of its calls, the
minority calls withdrawn — where it was not tuned. The withdrawal runs on the fitted
estimate (for glmcc identical to fitting with ``dale=True``: the option runs it last).

- ``fast [--methods glmcc ccg te tspe]``: a fast synchronous Brunel network,
  ``brunel(1000, epsilon=0.1, g=5, eta=0.6, J=2)`` (~41 Hz), 60 units recorded,
  ``--durations`` s, ``--seeds``; per fit both MCCs, the calls withdrawn, the true links
  among them, and how many of the true inhibitory links the method calls with a
  positive weight.
- ``study DIR [--methods ...]``: re-decides the pickles of ``bench_calibration.py study
  --save DIR`` (``study_{family}_T600_{method}.pkl``) for the six study families.
- ``small DIR``: re-decides ``bench_dale90.py``'s pickled glmcc / ccg fits (10 of 100
  Brunel neurons, 120 s; ``DIR/s{seed}_{method}.pkl``).

Usage: python benchmarks/bench_dale_withdraw.py fast [--seeds 3 4] [--durations 60 300]
       python benchmarks/bench_dale_withdraw.py study /tmp/study --methods ccg te tspe
       python benchmarks/bench_dale_withdraw.py small /tmp/dpk [--seeds 3 4 ... 20]
"""

from __future__ import annotations

import argparse
import copy
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import matthews_corrcoef

import spikewire as sw
from spikewire.infer.labels import withdraw_against_dale
from spikewire.observe.subsample import subsample


def existence_mcc(W: np.ndarray, adj: np.ndarray) -> float:
    off = ~np.eye(W.shape[0], dtype=bool)
    return float(matthews_corrcoef((W != 0)[off], (adj != 0)[off]))


def run_fast(seeds, durations, methods) -> None:
    print("| duration (s) | seed | method | MCC without | MCC with | calls | withdrawn (true) "
          "| true I links called with a positive weight |")
    print("|---|---|---|---|---|---|---|---|")
    for T in durations:
        for seed in seeds:
            net = sw.networks.brunel(1000, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=seed)
            rec = subsample(sw.simulate(net, T, seed=1), count=60, network=net, seed=2)
            W = net.dense_weights()[np.ix_(rec.true_index, rec.true_index)]
            for m in methods:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = sw.infer(rec, m)
                    a0 = est.adjacency()
                    a1 = withdraw_against_dale(est).adjacency()
                gone = (a0 != 0) & (a1 == 0)
                inh = (W < 0) & (a0 != 0)
                print(f"| {T:g} | {seed} | {m} | {existence_mcc(W, a0):.3f} "
                      f"| {existence_mcc(W, a1):.3f} | {(a0 != 0).sum()} → {(a1 != 0).sum()} "
                      f"| {gone.sum()} ({(gone & (W != 0)).sum()}) "
                      f"| {(inh & (a0 > 0)).sum()} / {inh.sum()} |")


FAMILIES = ("brunel", "brunel_states", "izh_random", "izh_scale_free", "adex",
            "scale_free_lif")


def run_study(folder: Path, methods) -> None:
    import pickle

    print("| method | " + " | ".join(FAMILIES) + " |")
    print("|---" * (len(FAMILIES) + 1) + "|")
    for m in methods:
        cells = []
        for fam in FAMILIES:
            path = folder / f"study_{fam}_T600_{m}.pkl"
            if not path.exists():
                cells.append("—")
                continue
            with open(path, "rb") as fh:
                d = pickle.load(fh)
            W, est = d["weights"], d["estimate"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a0 = est.adjacency()
                a1 = withdraw_against_dale(est).adjacency()
            cells.append(f"{existence_mcc(W, a0):.3f} → {existence_mcc(W, a1):.3f}")
        print(f"| {m} | " + " | ".join(cells) + " |")


def run_small(folder: Path, seeds) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_dale90 as b90

    rows = {"glmcc": [], "ccg": []}
    for seed in seeds:
        net = b90.network(seed)
        for m in rows:
            path = folder / f"s{seed}_{m}.pkl"
            if not path.exists():
                continue
            est = b90.load_fit(path)
            W = net.dense_weights()[np.ix_(est.true_index, est.true_index)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                after = withdraw_against_dale(copy.deepcopy(est)).adjacency()
            rows[m].append((existence_mcc(W, est.adjacency()), existence_mcc(W, after)))
            print(f"seed {seed:3d} {m:6s} MCC {rows[m][-1][0]:.3f} → {rows[m][-1][1]:.3f}")
    for m, r in rows.items():
        if r:
            r = np.asarray(r)
            print(f"{m}: {len(r)} networks, mean MCC {r[:, 0].mean():.3f} → {r[:, 1].mean():.3f}"
                  f"; lower on {int((r[:, 1] < r[:, 0] - 1e-12).sum())}, higher on "
                  f"{int((r[:, 1] > r[:, 0] + 1e-12).sum())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("fast", "study", "small"))
    ap.add_argument("folder", nargs="?")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--durations", type=float, nargs="+", default=[60.0, 300.0])
    ap.add_argument("--methods", nargs="+", default=None)
    args = ap.parse_args()
    if args.mode == "fast":
        run_fast(args.seeds or [3, 4], args.durations, args.methods or ["glmcc"])
    elif args.mode == "study":
        if not args.folder:
            raise SystemExit("study needs the folder of bench_calibration.py study --save")
        run_study(Path(args.folder), args.methods or ["glmcc", "ccg", "te", "tspe"])
    else:
        if not args.folder:
            raise SystemExit("small needs the folder of bench_dale90.py's pickled fits")
        run_small(Path(args.folder), args.seeds or list(range(3, 21)))


if __name__ == "__main__":
    main()
