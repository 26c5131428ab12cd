"""End-to-end time of ``lowrank_flow`` at its defaults, N = 1,000, rank 2 (issue 14's speed row).

Issue 14 asks that N = 1,000, R = 2 "trains on this 2-core CPU in under 20 minutes". This
times what a user runs: ``spikewire.infer.infer(recording, method="lowrank_flow")`` with
every setting at its default (front end with restarts and L-BFGS refinement, the surrogate
and held-out reversal gate, both flows, the posterior weights), on a preset network's
trials recorded through the same observation code the built-in study ``lowrank`` uses
(:func:`spikewire.experiments.lowrank.simulate_and_observe`): trials of ``--trial-steps``
samples of 10 ms from initial latents uniform on [−2.4, 2.4]², read out as rates of
5–20 Hz, and either kept as rates or drawn as Poisson spikes in 10-ms bins. The issue's
protocol (20 × 20 initial conditions × 100 steps) is 400 trials, i.e. 400 s of
recording, the default ``--duration``.

Reports per run: wall time, process CPU time (user + system of this process and its
children), peak resident memory, the number of torch threads, the gate's decision and time,
and the estimate's scores against the preset (:func:`spikewire.score.lowrank.score_lowrank`:
Kim et al.'s distance ``lr_distance`` and its two terms), so that a faster setting can be
checked to give the same network.

Usage: python benchmarks/bench_lowrank_flow_time.py [--presets quadstable heavy_tailed]
       [--observations spikes rates] [--duration 400] [--out r.jsonl]
       [--settings '{"gate_units": null}']   (method settings other than the defaults)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import warnings

import numpy as np


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def preset_recording(preset: str, n: int, duration: float, trial_steps: int, seed: int,
                     observation: str = "spikes"):
    """A preset network's trials (initial latents uniform on [−2.4, 2.4]², rates 5–20 Hz)
    recorded as the built-in study ``lowrank`` does: rates, or Poisson spikes in 10-ms
    bins."""
    from spikewire.experiments.lowrank import simulate_and_observe
    from spikewire.networks.lowrank import lowrank_preset

    entry_inputs = [{"input": "initial_latents", "trial_steps": trial_steps,
                     "extent": 2.4, "rate_offset": 12.5, "rate_gain": 7.5}]
    steps = [{"step": "subsample", "fraction": 1.0}]
    if observation == "spikes":
        steps.append({"step": "lowrank_spikes"})
    return simulate_and_observe(lowrank_preset(preset, n, seed=seed),
                                {"duration": duration, "inputs": entry_inputs}, steps, seed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["quadstable", "heavy_tailed"])
    ap.add_argument("--observations", nargs="+", default=["spikes"],
                    choices=["spikes", "rates"])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=400.0, help="s of recording")
    ap.add_argument("--trial-steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--settings", default="{}", help="JSON object of method settings")
    args = ap.parse_args()

    import torch

    from spikewire.infer import infer
    from spikewire.networks.lowrank import lowrank_preset
    from spikewire.score.lowrank import score_lowrank

    settings = json.loads(args.settings)

    for preset in args.presets:
        for obs in args.observations:
            rec = preset_recording(preset, args.n, args.duration, args.trial_steps,
                                   args.seed, obs)
            c0, t0 = _cpu_s(), time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:   # what a user sees
                warnings.simplefilter("always")
                est = infer(rec, method="lowrank_flow", **settings)
            wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
            gate = est.diagnostics.get("surrogate_gate", {})
            scores = score_lowrank(lowrank_preset(preset, args.n, seed=args.seed), est)
            row = {"preset": preset, "observation": obs, "n": args.n,
                   "duration_s": args.duration, "trial_steps": args.trial_steps,
                   "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                   "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                         / 2 ** 20, 2),
                   "torch_threads": torch.get_num_threads(), "cores": os.cpu_count(),
                   "settings": settings,
                   "gate": {k: gate.get(k) for k in ("p", "shift_p", "reversal_p", "gain",
                                                     "passed", "time_s", "bias_decisions",
                                                     "bias_unconverged") if k in gate},
                   "biases": est.diagnostics.get("biases", {}).get("used"),
                   "warnings": [str(w.message)[:160] for w in caught],
                   "gate_units": len(gate.get("gate_units", [])) or None,
                   "n_called": int(np.sum(est.adjacency() != 0)),
                   "scores": {k: round(float(v), 4) for k, v in scores.items()},
                   "machine": platform.processor() or platform.machine(),
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
