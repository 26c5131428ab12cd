"""dale_glm's screened solver against its full solver (issue 15): accuracy and cost.

Data: the recording of ``bench_dale_nemos.py`` (:func:`spikewire.networks.izhikevich`,
1,000 neurons, defaults, seed 1; dt = 1 ms, seed 2; 100 neurons recorded at random, seed
0; cached in ``--cache``), first ``--duration`` s. Each solver runs in a fresh process
(``resource.getrusage``: CPU time and peak RSS of the fit's process), at dale_glm's
defaults but for ``solver`` (and ``n_candidates`` for the screened one). Scores
(:func:`spikewire.score`) against the true weights among the recorded neurons: AUC,
E-AUC / I-AUC, MCC at the default decision and the best MCC, E/I label accuracy, and
dale_glm's own held-out bits per spike; and the agreement of the two solvers' Wald z
(correlation, on candidate and non-candidate pairs).

``--null``: calibration of the screened solver on the five null families
(:func:`spikewire.infer._null_families.null_family`, no connections: every call is
false): per family, ``--screens`` value (``screen_duration``, s; with
``screen_split=True``, which splits where the recording is ≥ 4 × that) and
``--statistics`` value (``screen_statistic``), the per-pair
false-positive rate at α = 0.05 over all pairs, over the candidate pairs and over the
others, the KS distance of the p-values from uniform, BH (5 %) calls, and whether the
screen was split from the tests (``diagnostics["screen_split"]``).

Usage: python benchmarks/bench_dale_scale.py --duration 120 [--solvers full,screened]
       [--candidates 40] [--json out.jsonl]
       python benchmarks/bench_dale_scale.py --null --units 40 --duration 300
       --candidates 10 --screens 300,60 [--json out.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

CACHE = "/tmp/dale_cache/nemos_1200.npz"


def worker(solver: str, duration: float, k: int, cache: str, out_npz: str) -> dict:
    import spikewire as sw

    z = np.load(cache)
    st = sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=float(z["t_stop"]),
                                   units=z["units"], sort=True).restrict(0.0, duration)
    c0, t0 = time.process_time(), time.perf_counter()
    est = sw.infer(st, "dale_glm", solver=solver, n_candidates=k)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    net = sw.networks.izhikevich(1000, seed=1)
    ti = np.asarray(z["units"], dtype=np.int64)
    W = net.dense_weights()[np.ix_(ti, ti)]
    sc = sw.score((W, net.cell_type[ti]), est)
    keys = ["auc", "auc_exc", "auc_inh", "mcc", "mcc_best", "n_detected", "n_true",
            "ei_accuracy", "ei_labelled", "sign_accuracy"]
    d = est.diagnostics
    np.savez(out_npz, z=d["wald_z_unconstrained"],
             cand=d.get("candidates", np.ones_like(est.weights, dtype=bool)))
    return {"solver": solver, "n_candidates": k if solver == "screened" else None,
            "duration_s": duration, "n_spikes": int(st.times.size), "fit_cpu_s": cpu,
            "fit_wall_s": wall,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "heldout_bits_per_spike": float(d["heldout_bits_per_spike"]),
            **{k_: float(sc[k_]) for k_ in keys}}


def _ks(p: np.ndarray) -> float:
    p = np.sort(p)
    n = p.size
    return float(np.max(np.maximum(np.arange(1, n + 1) / n - p, p - np.arange(n) / n)))


def null_rows(n_units: int, duration: float, k: int, screens: list[float],
              seed: int = 0, statistics: tuple[str, ...] = ("score",)) -> list[dict]:
    """The screened solver on the null families (see the module docstring)."""
    import spikewire as sw
    from spikewire.infer._null_families import FAMILIES, null_family

    rows = []
    runs = [(sd, stat) for sd in screens for stat in statistics]
    for fam in FAMILIES:
        st = null_family(fam, n_units=n_units, duration=duration, seed=seed)
        for sd, stat in runs:
            c0 = time.process_time()
            est = sw.infer(st, "dale_glm", solver="screened", n_candidates=k,
                           screen_duration=sd, screen_split=True, screen_statistic=stat)
            d = est.diagnostics
            off = ~np.eye(st.n_units, dtype=bool)
            tested = (est.pair_status == 0) & off
            cand = d["candidates"] & tested
            p = est.pvalues
            rows.append({"family": fam, "screen_duration_s": sd, "statistic": stat,
                         "split": bool(d["screen_split"]), "n_pairs": int(tested.sum()),
                         "n_candidates": int(cand.sum()),
                         "fpr": float(np.mean(p[tested] < 0.05)),
                         "fpr_candidates": float(np.mean(p[cand] < 0.05)),
                         "fpr_others": float(np.mean(p[tested & ~cand] < 0.05)),
                         "ks": _ks(p[tested]), "bh_calls": int(est.significant(
                             0.05, "bh").sum()), "null_scale": float(d["null_scale"]),
                         "cpu_s": time.process_time() - c0})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--solvers", default="full,screened")
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--cache", default=CACHE)
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", nargs=2, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--null", action="store_true")
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--screens", default="300,60")
    ap.add_argument("--statistics", default="score",
                    help="screen_statistic values, comma-separated (score,deviance)")
    args = ap.parse_args()
    if args.null:
        rows = null_rows(args.units, args.duration, args.candidates,
                         [float(x) for x in args.screens.split(",") if x],
                         statistics=tuple(args.statistics.split(",")))
        if args.json:
            with open(args.json, "a") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rows)
        return
    tag = f"/tmp/dale_scale_{int(args.duration)}_{{}}.npz"
    if args.worker:
        row = worker(args.worker[0], args.duration, args.candidates, args.cache,
                     tag.format(args.worker[1]))
        print(json.dumps(row))
        return
    rows = []
    for solver in args.solvers.split(","):
        name = f"{solver}{args.candidates if solver == 'screened' else ''}"
        p = subprocess.run([sys.executable, __file__, "--duration", str(args.duration),
                            "--candidates", str(args.candidates), "--cache", args.cache,
                            "--worker", solver, name], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(p.stderr[-3000:])
        row = json.loads(p.stdout.strip().splitlines()[-1])
        row["load_after"] = os.getloadavg()
        rows.append((name, row))
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    names = [n for n, _ in rows]
    if "full" in names:
        zf = np.load(tag.format("full"))["z"]
        off = ~np.eye(zf.shape[0], dtype=bool)
        for n in names:
            if n == "full":
                continue
            f = np.load(tag.format(n))
            zs, c = f["z"], f["cand"] & off
            nc = ~f["cand"] & off
            agree = {"solver": n, "z_corr_candidates": float(np.corrcoef(zs[c], zf[c])[0, 1]),
                     "z_mae_candidates": float(np.mean(np.abs(zs[c] - zf[c]))),
                     "z_corr_noncandidates": float(np.corrcoef(zs[nc], zf[nc])[0, 1])
                     if nc.any() else None,
                     "frac_full_abs_z_gt4_in_candidates": float(
                         np.mean(c[off & (np.abs(zf) > 4)]))}
            print(json.dumps(agree), flush=True)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(agree) + "\n")


if __name__ == "__main__":
    main()
