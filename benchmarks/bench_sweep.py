"""Sweep overhead and core saturation of spikewire.experiments.

1. Per-job overhead: 100 jobs of a method that does nothing (returns a zero estimate) on
   one cached simulation of a 100-neuron network. Wall time per job = what the framework
   adds (load the cached spikes, rebuild the network for scoring, observe, score, write
   the Parquet row and the artifacts, schedule). In-process and on a 2-worker Dask
   LocalCluster.
2. Saturation: 100 jobs of small networks (N = 200 Brunel, 20 simulations x 5 method
   settings, ~0.5-1 s of real work each) on a 2-worker LocalCluster, against the plain
   serial Python loop a user would otherwise write (the same jobs in-process). Reports
   wall times, speed-up, the parallel efficiency sum(job times) / (wall x workers) and the
   machine's CPU utilisation sampled during the run.

Usage: .venv/bin/python benchmarks/bench_sweep.py [--jobs 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from spikewire.infer import Estimate, InferenceMethod, register

HERE = Path(__file__).resolve()


@register
class _Null(InferenceMethod):
    """Zero estimate (benchmark of the framework's overhead)."""

    name = "null_bench"
    reference = "benchmark only"

    def __init__(self, k: int = 0):
        self.k = k

    def fit(self, recording, pairs=None):
        n = recording.n_units
        return Estimate(weights=np.zeros((n, n)), method=self.name, settings={"k": self.k},
                        units=recording.spikes.units, scores=np.zeros((n, n)))


def _spec(name, *, n_neurons, duration, seeds, methods_toml, jobs_per_sim):
    return f"""
[experiment]
name = "{name}"
duration = {duration}
seeds = {list(seeds)}
plugins = ["{HERE}"]
artifact_units = 50

[[networks]]
name = "net"
builder = "brunel"
params = {{ n_neurons = {n_neurons}, epsilon = 0.1, J = 1.0, eta = 1.2, delay = 3e-3 }}

{methods_toml}
"""


class CpuSampler:
    """Mean machine-wide CPU utilisation (%) between start() and stop()."""

    def __init__(self, interval=0.5):
        import psutil

        self.psutil = psutil
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()

    def start(self):
        self.psutil.cpu_percent(None)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            self.samples.append(self.psutil.cpu_percent(None))

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return float(np.mean(self.samples)) if self.samples else float("nan")


def _client(workers: int):
    """A LocalCluster like the runner's (single-threaded worker processes), started once so
    that cluster start-up is not counted per sweep (it is reported separately)."""
    import logging

    from distributed import Client, LocalCluster

    from spikewire.experiments.runner import _SINGLE_THREAD_ENV

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR,
                           env=_SINGLE_THREAD_ENV)
    client = Client(cluster)
    client.wait_for_workers(workers)
    return client, cluster, time.perf_counter() - t0


def overhead(n_jobs: int, workers: int, tmp: Path, client) -> dict:
    from spikewire.experiments import load_results, parse_spec, run_experiment

    methods = f'[[methods]]\nname = "null_bench"\nvary = {{ k = {list(range(n_jobs))} }}\n'
    spec = parse_spec(_spec("overhead", n_neurons=100, duration=2.0, seeds=[0],
                            methods_toml=methods, jobs_per_sim=n_jobs))
    out = {}
    for runner in ("inprocess", "local"):
        d = tmp / f"overhead-{runner}"
        # warm numba (here and on the workers) and the shared simulation cache, so only the
        # per-job cost is timed
        kw = {"client": client} if runner == "local" else {"runner": "inprocess"}
        cached = spec.model_copy(deep=True)
        cached.experiment.cache_dir = str(tmp / "simcache")
        cached._source, cached._text = spec._source, spec._text
        warm = cached.model_copy(deep=True)
        warm.methods[0].vary = {"k": [-1, -2]}
        run_experiment(warm, out=d / "warm", progress=False, **kw)
        t0 = time.perf_counter()
        run_experiment(cached, out=d / "run", progress=False, **kw)
        wall = time.perf_counter() - t0
        df = load_results(d / "run")
        assert (df["status"] == "ok").all() and len(df) == n_jobs
        out[runner] = {"wall_s": wall, "jobs": n_jobs,
                       "wall_per_job_s": wall / n_jobs,
                       "worker_s_per_job": wall * (1 if runner == "inprocess" else workers)
                       / n_jobs,
                       "mean_job_time_total_s": float(df["time_total"].mean())}
    return out


def saturation(n_jobs: int, workers: int, tmp: Path, client) -> dict:
    from spikewire.experiments import load_results, parse_spec, run_experiment

    n_sims = n_jobs // 5
    methods = '[[methods]]\nname = "ccg"\nvary = { alpha = [0.01, 0.02, 0.03, 0.04, 0.05] }\n'
    spec = parse_spec(_spec("saturation", n_neurons=200, duration=20.0,
                            seeds=list(range(n_sims)), methods_toml=methods, jobs_per_sim=5))
    # warm numba caches in this process and on disk (both runs pay the same compile cost)
    warm = parse_spec(_spec("warm", n_neurons=50, duration=1.0, seeds=[999],
                            methods_toml='[[methods]]\nname = "ccg"\n', jobs_per_sim=1))
    run_experiment(warm, out=tmp / "warm", runner="inprocess", progress=False)
    run_experiment(warm, out=tmp / "warm2", client=client, progress=False)
    out = {}
    for runner in ("inprocess", "local"):
        d = tmp / f"sat-{runner}"
        kw = {"client": client} if runner == "local" else {"runner": "inprocess"}
        cpu = CpuSampler()
        cpu.start()
        t0 = time.perf_counter()
        run_experiment(spec, out=d, progress=False, **kw)
        wall = time.perf_counter() - t0
        util = cpu.stop()
        df = load_results(d)
        assert (df["status"] == "ok").all() and len(df) == n_jobs
        # simulation time is shared by the 5 jobs of a network: count it once
        work = float((df["time_total"] - df["time_simulate"] - df["time_build"]).sum()
                     + df.drop_duplicates("sim_key")[["time_simulate", "time_build"]].sum().sum())
        n_workers = 1 if runner == "inprocess" else workers
        out[runner] = {"wall_s": wall, "jobs": n_jobs, "work_s": work,
                       "efficiency": work / (wall * n_workers), "cpu_util_pct": util}
    out["speedup_local_vs_serial"] = out["inprocess"]["wall_s"] / out["local"]["wall_s"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        client, cluster, startup = _client(args.workers)
        try:
            res = {"machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} "
                              f"cores, Python {platform.python_version()}",
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "load_average_at_start": os.getloadavg(),
                   "cluster_startup_s": startup,
                   "overhead": overhead(args.jobs, args.workers, tmp, client),
                   "saturation": saturation(args.jobs, args.workers, tmp, client)}
            res["load_average_at_end"] = os.getloadavg()
        finally:
            client.close()
            cluster.close()
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
