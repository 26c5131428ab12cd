"""Reduced ring benchmark (issue 19): gnn vs glm, ccg, partial_corr, te on a ring attractor.

Reduced from the paper's protocol so that it runs in minutes on a shared 2-core CPU: a
smaller ring (``--n``, default 50 neurons: two bumps of the σ ≈ 7 profile instead of four),
a shorter recording (``--duration`` s instead of 8 min) and 2 ms bins (the paper: 0.1 ms).
Scores: the relative profile error Δ and the plain full-matrix error
(:func:`spikewire.score.ring.profile_error`), and gnn's held-out bits/spike. Writes a
profile figure (inferred profile vs truth, every method) next to ``--out``.

Usage::

    nice python benchmarks/bench_ring.py --n 50 --duration 10 --spiking lnp \\
        --out benchmarks/results/gnn_ring_profiles.png
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import spikewire as sw
from spikewire.networks.ring import ring_attractor, single_bump_ring
from spikewire.score.ring import profile_error
from spikewire.simulate.ring import simulate_ring

METHODS = ["gnn", "glm", "ccg", "partial_corr", "te"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--spiking", default="lnp", choices=["lnp", "threshold"])
    ap.add_argument("--variant", default="ring", choices=["ring", "single_bump"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--out", default="benchmarks/results/gnn_ring_profiles.png")
    args = ap.parse_args(argv)
    build = ring_attractor if args.variant == "ring" else single_bump_ring
    net = build(n=args.n, spiking=args.spiking)
    t = time.perf_counter()
    st = simulate_ring(net, args.duration, seed=args.seed)
    rows = {"simulate": {"time_s": time.perf_counter() - t, "spikes": int(st.times.size)}}
    print(json.dumps(rows["simulate"]), flush=True)
    profiles = {}
    for m in args.methods.split(","):
        settings = {"bin_width": 2e-3}
        if m == "gnn":
            settings.update(max_epochs=args.epochs, lr=args.lr, seed=args.seed)
        t = time.perf_counter()
        est = sw.infer(st, m, **settings)
        el = time.perf_counter() - t
        pe = profile_error(est, net)
        row = {"delta": pe["delta"], "delta_full": pe["delta_full"], "time_s": el,
               "bits_per_spike": est.diagnostics.get("test_bits_per_spike")}
        w = pe["profile"][1:]
        peak = np.max(np.abs(w)) or 1.0
        row["profile_corr"] = float(np.corrcoef(w, pe["true_profile"][1:])[0, 1])
        row["max_positive_over_peak"] = float(np.max(w) / peak)
        rows[m] = row
        profiles[m] = pe["profile"]
        print(m, json.dumps(row), flush=True)
    true = profile_error(net.weights, net)["true_profile"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        k = np.arange(args.n)
        d = np.where(k <= args.n // 2, k, k - args.n)
        order = np.argsort(d)
        fig, axes = plt.subplots(1, len(profiles), figsize=(2.6 * len(profiles), 2.4),
                                 sharey=True)
        for ax, (m, prof) in zip(np.atleast_1d(axes), profiles.items(), strict=True):
            ax.plot(d[order], true[order], "k-", lw=1.5, label="true")
            ax.plot(d[order], prof[order], "r.-", ms=3, lw=0.8, label=m)
            ax.set_title(f"{m}: Δ={rows[m]['delta']:.2f}", fontsize=8)
            ax.set_xlabel("ring offset", fontsize=8)
            ax.tick_params(labelsize=6)
        np.atleast_1d(axes)[0].legend(fontsize=6)
        fig.suptitle(f"{args.variant} n={args.n} {args.spiking} {args.duration:g} s, profiles "
                     "scaled by the L1-optimal c", fontsize=8)
        fig.tight_layout()
        fig.savefig(args.out, dpi=80)
    except ImportError:
        print("matplotlib missing: no figure")
    return rows


if __name__ == "__main__":
    main()
