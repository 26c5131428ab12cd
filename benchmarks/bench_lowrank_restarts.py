"""Which restart of the low-rank front end wins, after Adam and after L-BFGS (issue 14 speed).

``fit_lowrank`` runs Adam from every start (``n_restarts`` PCA starts, the first
unperturbed, plus the Poisson maximum-likelihood start) and then L-BFGS on each; the
restart with the lowest final loss is kept. If the restart that is best after Adam is
also best after L-BFGS, refining only that one (``refine_restarts=1``) returns the same
estimate at a fraction of the cost. This runs the ``lowrank`` method's front end
(``refine_iter=400``, no gate: ``n_surrogates=0``) on preset networks' Poisson spikes
(:func:`spikewire.experiments.lowrank.simulate_and_observe`, rates 5–20 Hz, trials of
``--trial-steps`` samples of 10 ms) and prints, per fit, the restarts' losses after Adam
and after L-BFGS and whether the two orders agree on the winner.

Usage: python benchmarks/bench_lowrank_restarts.py [--presets quadstable bistable
       limit_cycle ring heavy_tailed] [--n 300] [--duration 100] [--seeds 0 1]
       [--out rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+",
                    default=["quadstable", "bistable", "limit_cycle", "ring", "heavy_tailed"])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--duration", type=float, default=100.0, help="s of recording")
    ap.add_argument("--trial-steps", type=int, default=100)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--refine-iter", type=int, default=400)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from bench_lowrank_flow_time import preset_recording

    from spikewire.infer import infer

    for preset in args.presets:
        for seed in args.seeds:
            rec = preset_recording(preset, args.n, args.duration, args.trial_steps, seed)
            t0 = time.perf_counter()
            est = infer(rec, method="lowrank", refine_iter=args.refine_iter,
                        n_surrogates=0)
            fe = est.diagnostics
            adam = np.asarray(fe["adam_losses"])
            final = np.asarray(fe["restart_losses"])
            row = {"preset": preset, "seed": seed, "n": args.n, "duration_s": args.duration,
                   "refine_iter": args.refine_iter,
                   "adam_losses": adam.tolist(), "final_losses": final.tolist(),
                   "best_after_adam": int(np.argmin(adam)),
                   "best_after_lbfgs": int(np.argmin(final)),
                   "same_winner": bool(np.argmin(adam) == np.argmin(final)),
                   "final_gap_of_adam_winner": float(final[np.argmin(adam)] - final.min()),
                   "wall_s": round(time.perf_counter() - t0, 1),
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
