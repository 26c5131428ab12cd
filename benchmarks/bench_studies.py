"""Size and run time of every built-in study (in-process runner, one process).

Full-size runs of the big studies take too long on a shared 2-core machine, so each study
can be run reduced (``--duration`` s of activity, ``--seeds`` seeds) and its full-size time
extrapolated: simulation and inference both scale about linearly with the recorded time
(spike counts) and with the number of seeds, so

    full ≈ reduced · (full duration / reduced duration) · (full seeds / reduced seeds)

(an overestimate of the fixed costs: numba compilation, network building and scoring do not
grow with duration). Wall and CPU times are both recorded: on a loaded machine the wall time
is inflated by other jobs, the CPU time (user + system of this process) is not.

Usage::

    python benchmarks/bench_studies.py --duration 60 --seeds 1 --out /tmp/studies \\
        realism hidden ... > benchmarks/results/studies.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from spikewire.experiments import list_studies, load_spec, plan, run_experiment

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="*", default=None)
    ap.add_argument("--duration", type=float, default=None, help="s of activity (reduced)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (reduced)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/spikewire-bench-studies"))
    args = ap.parse_args()
    for name in args.studies or list(list_studies()):
        spec = load_spec(name)
        full = spec.model_dump()
        _, jobs_full, _ = plan(spec)
        d = full["experiment"]
        red = json.loads(json.dumps(full))
        if args.duration:
            red["experiment"]["duration"] = args.duration
            for net in red["networks"]:
                net["duration"] = None
        if args.seeds:
            red["experiment"]["seeds"] = d["seeds"][:args.seeds]
        red["runner"]["kind"] = "inprocess"
        t0, c0 = time.perf_counter(), _cpu()
        summary = run_experiment(red, out=args.out / name, runner="inprocess", progress=False)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        from spikewire.experiments import load_results

        df = load_results(args.out / name)
        scale = (d["duration"] / red["experiment"]["duration"]) * (
            len(d["seeds"]) / len(red["experiment"]["seeds"]))
        rec = {"study": name, "jobs_full": len(jobs_full),
               "sims_full": len({j.sim_key for j in jobs_full}),
               "duration_full_s": d["duration"], "seeds_full": len(d["seeds"]),
               "duration_run_s": red["experiment"]["duration"],
               "seeds_run": len(red["experiment"]["seeds"]), "jobs_run": len(df),
               "ok": int((df["status"] == "ok").sum()), "wall_s": wall, "cpu_s": cpu,
               "time_simulate_s": float(df.drop_duplicates("sim_key")["time_simulate"].sum()),
               "time_infer_s": float(df["time_infer"].sum()),
               "cpu_full_extrapolated_s": cpu * scale, "summary": str(summary)}
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
