"""Scale probe (issue 15): dale_glm's screened solver at 1,000 units, per target.

Recording: every neuron of :func:`spikewire.networks.izhikevich` (1,000 neurons, defaults,
seed 1; dt = 1 ms, seed 2), ``--duration`` s (cached under ``--cache``). The screened
solver (:mod:`spikewire.infer._dale_screened`) works target by target, so its cost is
(fixed set-up) + (number of targets) × (cost per target): this runs the set-up and the
three per-target stages (screen, unconstrained fit + Wald step, the two sign-constrained
fits) on ``--targets`` targets drawn at random (seed 0; their candidates are screened
against all 1,000 units), reports CPU time (``time.process_time``) per stage and per
target, and extrapolates to all 1,000 targets. Peak resident memory
(``resource.getrusage``): what the solver holds does not grow with the number of targets
except the (n_units × n_targets) result arrays (8 MB each at 1,000 × 1,000), so the
probe's peak is the full run's up to those. ``--full`` runs ``sw.infer`` on all 1,000
units instead (end to end).

Usage: python benchmarks/bench_dale_probe.py --duration 600 [--targets 40]
       [--full [--n-jobs 2] [--log]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

import spikewire as sw
from spikewire.infer import _dale_screened as scr
from spikewire.infer.dale_glm import DaleGLM, label_units
from spikewire.infer.glm import build_design


def recording(duration: float, cache: str) -> sw.SpikeTrains:
    path = os.path.join(cache, f"izh1000_{int(duration)}.npz")
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        net = sw.networks.izhikevich(1000, seed=1)
        st = sw.simulate(net, duration, dt=1e-3, seed=2)
        np.savez(path, times=st.times, ids=st.unit_ids)
    z = np.load(path)
    return sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=duration, sort=True)


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # KiB -> GiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--targets", type=int, default=40)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/dalescale")
    ap.add_argument("--json", default=None)
    ap.add_argument("--log", action="store_true",
                    help="print the solver's progress (logging, INFO, with times)")
    args = ap.parse_args()
    if args.log:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    st = recording(args.duration, args.cache)
    out = {"duration_s": args.duration, "n_units": st.n_units,
           "n_spikes": int(st.times.size), "rss_after_data_gib": rss_gib()}
    if args.full:
        c0, t0 = time.process_time(), time.perf_counter()
        est = sw.infer(st, "dale_glm", solver="screened", n_jobs=args.n_jobs)
        out.update(mode="full", cpu_s=time.process_time() - c0,
                   wall_s=time.perf_counter() - t0, peak_rss_gib=rss_gib(),
                   heldout_bits_per_spike=est.diagnostics["heldout_bits_per_spike"],
                   timings=est.diagnostics["timings"],
                   iterations=est.diagnostics["iterations"])
        bt = est.diagnostics["heldout_bits_per_spike_target"]
        worst = np.argsort(bt)[:5]
        out["worst_targets_bits"] = dict(zip(worst.tolist(), bt[worst].tolist(), strict=True))
        print(json.dumps(out))
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(out) + "\n")
        return
    m = DaleGLM(solver="screened")
    c0 = time.process_time()
    d = build_design(st, bin_width=0.002, window=m.window, n_basis=m._n_basis_used())
    rng = np.random.default_rng(0)
    tpos = np.sort(rng.choice(st.n_units, args.targets, replace=False))
    sol = scr.ScreenedSolver(m, d, tpos, 0.002)
    sol._population(np.zeros(d.n_bins))          # the population cache (set-up, once)
    out["setup_cpu_s"] = time.process_time() - c0
    out["n_bins"] = int(d.n_bins)
    # warm the compiled kernels on one target outside the timings
    warm = scr.ScreenedSolver(m, d, tpos[:1], 0.002)
    zw, cw, _ = warm.screen()
    o = warm._stage1(0, cw[0])
    warm._stage3(0, cw[0], o["theta"], np.ones(st.n_units), o["H"])
    c0 = time.process_time()
    z, cand, _ = sol.screen()
    out["screen_cpu_s_per_target"] = (time.process_time() - c0) / args.targets
    c0 = time.process_time()
    s1 = [sol._stage1(r, cand[r]) for r in range(args.targets)]
    out["stage1_cpu_s_per_target"] = (time.process_time() - c0) / args.targets
    for r in range(args.targets):
        z[cand[r], r] = s1[r]["z"]
    own = np.zeros_like(z, dtype=bool)
    own[tpos, np.arange(args.targets)] = True
    signs = label_units(np.where(own, 0.0, z), ~own, 0.8, 0.977)["signs"]
    c0 = time.process_time()
    s3 = [sol._stage3(r, cand[r], s1[r]["theta"], signs, s1[r]["H"])
          for r in range(args.targets)]
    out["stage3_cpu_s_per_target"] = (time.process_time() - c0) / args.targets
    per = (out["screen_cpu_s_per_target"] + out["stage1_cpu_s_per_target"]
           + out["stage3_cpu_s_per_target"])
    out["cpu_s_per_target"] = per
    out["extrapolated_cpu_s_1000_targets"] = out["setup_cpu_s"] + 1000 * per
    out["iterations_mean"] = {
        "unconstrained": float(np.mean([o["it"] for o in s1])),
        "train": float(np.mean([o["it"][0] for o in s3])),
        "final": float(np.mean([o["it"][1] for o in s3]))}
    out["peak_rss_gib"] = rss_gib()
    print(json.dumps(out))
    if args.json:
        with open(args.json, "a") as fh:
            fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
