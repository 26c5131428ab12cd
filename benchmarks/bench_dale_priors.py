"""Prior quality (issue 15): dale_glm accuracy against the quality of its priors.

Data: the recording of ``tests/infer/test_dale_glm.py`` (Brunel N = 200, ε = 0.1, g = 5,
J = 2 mV, η = 0.6, 60 s, 20 random units recorded: 90 % hidden); true connection
probability 0.1 for every type pair.

Priors: connection probability (``prior``) correct (0.1), 2× low (0.05), wrong types
(EE, II 0.9; EI, IE 0.001); weight magnitude (``weight_scale``): "correct" = the RMS summed
filter of true links per (pre type, post type) measured by the unconstrained stage of
dale_glm on an independent 180 s simulation, 40 random neurons recorded (the oracle scale
in the method's own unit), 2× low, 2× high, and wrong types (E and I presynaptic scales
swapped). Each at ``prior_strength`` 1, 10 and ``"cv"`` (chosen by held-out likelihood).

Usage: python benchmarks/bench_dale_priors.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import spikewire as sw
from spikewire.observe.subsample import subsample

KEYS = ("auc", "mcc", "sign_accuracy", "ei_accuracy", "weight_corr")
TYPES = [("E", "E"), ("E", "I"), ("I", "E"), ("I", "I")]


def oracle_scales(net) -> dict:
    """RMS summed filter of the true links per type pair, unconstrained fit, 180 s."""
    st = sw.simulate(net, 180.0, seed=11)
    rec = subsample(st, count=40, network=net, seed=5)
    est = sw.infer(rec, "dale_glm")
    w = est.diagnostics["unconstrained_weights"]            # (post, pre) over fitted units
    ti = rec.true_index
    W = net.dense_weights()[np.ix_(ti, ti)]
    ct = np.asarray(net.cell_type)[ti]
    out = {}
    for pre, post in TYPES:
        sel = (W != 0) & (ct[None, :] == pre) & (ct[:, None] == post)
        out[(pre, post)] = float(np.sqrt(np.mean(w[sel] ** 2)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    net = sw.networks.brunel(200, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=3)
    st = sw.simulate(net, 60.0, seed=1)
    rec = subsample(st, count=20, network=net, seed=2)
    scales = oracle_scales(net)
    print("oracle scales", scales, flush=True)
    p_ok = dict.fromkeys(TYPES, 0.1)
    p_low = dict.fromkeys(TYPES, 0.05)
    p_wrong = {("E", "E"): 0.9, ("E", "I"): 0.001, ("I", "E"): 0.001, ("I", "I"): 0.9}
    swap = {("E", "E"): scales[("I", "E")], ("E", "I"): scales[("I", "I")],
            ("I", "E"): scales[("E", "E")], ("I", "I"): scales[("E", "I")]}
    rows = [("none", {}),
            ("p correct", {"prior": p_ok}), ("p 2x low", {"prior": p_low}),
            ("p wrong types", {"prior": p_wrong}),
            ("scale correct", {"weight_scale": scales}),
            ("scale 2x low", {"weight_scale": {k: v / 2 for k, v in scales.items()}}),
            ("scale 2x high", {"weight_scale": {k: v * 2 for k, v in scales.items()}}),
            ("scale wrong types", {"weight_scale": swap}),
            ("p + scale correct", {"prior": p_ok, "weight_scale": scales})]
    out = {"scales": {f"{a}{b}": v for (a, b), v in scales.items()}, "rows": {}}
    for label, kw in rows:
        for strength in ([1.0] if not kw else [1.0, 10.0, "cv"]):
            t0 = time.perf_counter()
            est = sw.infer(rec, "dale_glm", prior_strength=strength, **kw)
            s = sw.score(net, est)
            row = {k: float(s[k]) for k in KEYS}
            row["bits"] = float(est.diagnostics["heldout_bits_per_spike"])
            row["time_s"] = time.perf_counter() - t0
            cvd = est.diagnostics.get("prior_strength_cv")
            row["strength"] = cvd["chosen"] if cvd else strength
            out["rows"][f"{label} / {strength}"] = row
            print(f"{label:18s} {strength!s:4s} " + " ".join(
                f"{k}={v:.3f}" for k, v in row.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
