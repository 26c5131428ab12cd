"""Re-label saved ``dale_glm`` fits offline with other E/I label rules (issue 15).

The labels only choose each presynaptic unit's test direction: the tests (the scan's z
after its null scales, ``diagnostics["scan_z"]``) do not depend on them, so re-labelling
a saved scan fit gives the p-values and scores a refit would give (``dale_glm._place``'s
rule); only the sign-constrained weights, which the ranking does not use, would differ
(so ``auc_exc``, signed by the weights, is not comparable here).

Rules: ``former`` (the fit as saved), ``area`` (summed-filter z, unscaled),
``scan_unscaled`` (the scan's z before its null scales), ``scan_test`` (the scan's test
z), ``confirm`` (``label_from="scan"``: the scan test z's direction, confirmed by the
summed filter's, :func:`spikewire.infer.dale_glm.confirm_labels`). Truth: ``brunel``
(bench_dale_glm.py's network, N = 100, ``--seed``) or a ``bench_calibration.py`` family
(1,000 neurons, the recorded units drawn as ``networks`` draws them).

Usage::

    python benchmarks/bench_dale_relabel.py --truth brunel --seed 3 FIT.pkl [FIT.pkl ...]
    python benchmarks/bench_dale_relabel.py --truth izh_random --seed 0 FIT.pkl
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import norm

import spikewire as sw
from spikewire.infer.dale_glm import confirm_labels, label_units, scan_test

KEYS = ("auc", "mcc", "mcc_best", "n_detected", "n_true", "ei_accuracy", "ei_labelled")
RULES = ("area", "scan_unscaled", "scan_test", "confirm")


def relabel(est, rule: str, excitatory_fraction: float = 0.8,
            min_confidence: float | None = None):
    """A copy of the saved scan fit ``est`` with labels, p-values, scores and cell types
    redone under ``rule``."""
    est = copy.deepcopy(est)
    d = est.diagnostics
    c = float(norm.cdf(2.0)) if min_confidence is None else min_confidence
    tested = (est.pair_status == 0).T                           # (pre, post)
    zu = np.nan_to_num(np.asarray(d["wald_z_unconstrained"]).T)
    zt = np.asarray(d["scan_z"]).T                               # the test z
    area = label_units(np.where(tested, zu, 0.0), tested, excitatory_fraction, c)
    if rule == "area":
        li = area
    elif rule == "scan_unscaled":
        zk = np.moveaxis(d["scan_z_contrasts"], 0, 1)
        zl, _ = scan_test(zk, np.moveaxis(d["scan_corr"], 0, 1),
                          np.moveaxis(d["scan_events"], 0, 1), zu, tested, estimator=None)
        li = label_units(np.where(tested, zl, 0.0), tested, excitatory_fraction, c)
    elif rule == "scan_test":
        li = label_units(np.where(tested, zt, 0.0), tested, excitatory_fraction, c)
    elif rule == "confirm":
        li = confirm_labels(label_units(np.where(tested, zt, 0.0), tested,
                                        excitatory_fraction, c), area, c)
    else:
        raise ValueError(f"unknown rule {rule!r}; one of {RULES}")
    s = np.asarray(li["signs"])
    z = zt.T                                                     # (post, pre)
    free = s == 0
    p2 = np.minimum(2.0 * norm.sf(np.abs(z)), 1.0)
    pv = np.where(free[None, :], p2, norm.sf(s[None, :] * z))
    sc = np.where(free[None, :], norm.isf(np.clip(p2, 1e-300, 1 - 1e-12)), s[None, :] * z)
    ok = est.pair_status == 0
    est.pvalues = np.where(ok, pv, est.pvalues)
    est.scores = np.where(ok, sc, est.scores)
    est.cell_type = np.asarray(li["labels"]).astype(object)
    return est


def truth(kind: str, seed: int):
    """The network the fit was made on."""
    if kind == "brunel":
        return sw.networks.brunel(100, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_calibration import build_network

    return build_network(kind, 1000, seed)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("fits", nargs="+", help="pickled Estimate (or networks --save dict)")
    ap.add_argument("--truth", default="brunel")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--rules", default=",".join(RULES))
    args = ap.parse_args()
    net = truth(args.truth, args.seed)
    for path in args.fits:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        est = obj["estimate"] if isinstance(obj, dict) else obj
        if est.true_index is None:      # bench_calibration networks: its draw of units
            rng = np.random.default_rng(args.seed + 7)
            est.true_index = np.sort(rng.choice(1000, est.n_units, replace=False))
        rows = [("former", est)] + [(r, relabel(est, r)) for r in args.rules.split(",")]
        for name, e in rows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = sw.score(net, e)
            print(f"{Path(path).name} {name:14s} " + " ".join(
                f"{k}={s[k]:.3f}" if isinstance(s[k], float) else f"{k}={s[k]}"
                for k in KEYS), flush=True)


if __name__ == "__main__":
    main()
