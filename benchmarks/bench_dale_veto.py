"""Pairwise calls under dale_glm's E/I labels (issue 15, 90 % hidden; dale31.md §5).

Reads the pickles of ``bench_calibration.py study --save DIR`` (``dale_glm``, ``glmcc``,
``ccg`` on the same family) and prints MCC of link existence and calls / true links for
each method's own calls and for ``glmcc`` / ``ccg`` calls whose sign disagrees with
dale_glm's label of the presynaptic unit dropped (a unit dale_glm leaves unlabelled
vetoes nothing), and the accuracy of dale_glm's labels against the true E/I types.

Usage: python benchmarks/bench_dale_veto.py DIR [--families brunel,scale_free_lif]
       [--duration 600]
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
from sklearn.metrics import matthews_corrcoef


def load(folder: Path, family: str, method: str, duration: float) -> dict:
    path = folder / f"study_{family}_T{duration:g}_{method}.pkl"
    if not path.exists():
        raise SystemExit(f"{path} not found: run bench_calibration.py study --methods "
                         f"{method} --families {family} --save {folder} first")
    with open(path, "rb") as fh:
        return pickle.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--families", default="brunel,scale_free_lif")
    ap.add_argument("--duration", type=float, default=600.0)
    args = ap.parse_args()
    folder = Path(args.folder)
    for fam in args.families.split(","):
        dale = load(folder, fam, "dale_glm", args.duration)
        W = dale["weights"]                                   # recorded units, post x pre
        off = ~np.eye(W.shape[0], dtype=bool)
        truth = (W != 0)[off]
        lab = np.asarray(dale["estimate"].cell_type).astype(str)
        label_sign = np.where(lab == "E", 1, np.where(lab == "I", -1, 0))[None, :]
        calls = {"dale_glm": np.asarray(dale["estimate"].adjacency())}
        for m in ("glmcc", "ccg"):
            a = np.asarray(load(folder, fam, m, args.duration)["estimate"].adjacency())
            calls[m] = a
            calls[f"{m} under dale_glm's labels"] = np.where(
                (label_sign == 0) | (np.sign(a) == label_sign), a, 0)
        for name, a in calls.items():
            a = (a != 0)[off]
            print(f"{fam:16s} {name:34s} MCC {matthews_corrcoef(truth, a):.3f}  "
                  f"calls {a.sum()} / {truth.sum()}")
        true_sign = np.where((W > 0).any(axis=0), 1, np.where((W < 0).any(axis=0), -1, 0))
        ok = (true_sign != 0) & (label_sign[0] != 0)
        print(f"{fam:16s} dale_glm labels right: {(label_sign[0][ok] == true_sign[ok]).sum()} "
              f"/ {ok.sum()} (units with outgoing recorded links and a label)")


if __name__ == "__main__":
    main()
