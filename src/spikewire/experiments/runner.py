"""Run a spec: expand, check, then execute jobs in-process or on a Dask cluster.

Runners
-------
``inprocess``
    Jobs one after another in this process (tests, debugging, ``pdb``).
``local`` (default)
    A ``dask.distributed.LocalCluster`` of single-threaded worker processes.
``address``
    An existing Dask scheduler (``tcp://host:8786``); workers must see the result folder.
``slurm`` / ``pbs``
    A batch cluster started through ``dask-jobqueue`` (``pip install 'spikewire[dask]'``);
    ``runner.jobqueue`` holds ``SLURMCluster`` / ``PBSCluster`` keyword arguments.

Each distinct simulation is one Dask task (cached on disk by its hash); the jobs that use
it depend on it, so methods and observations never re-simulate. Workers write their rows
themselves (atomically), so results survive the loss of the client.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from spikewire.experiments.grid import Job, expand
from spikewire.experiments.job import ensure_simulation, error_row, run_job
from spikewire.experiments.spec import ExperimentSpec, load_spec, parse_spec
from spikewire.experiments.store import ResultStore

__all__ = ["run_experiment", "RunSummary", "plan"]

log = logging.getLogger("spikewire.experiments")

_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                      "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


@dataclass
class RunSummary:
    """What a run did."""

    out: Path
    n_jobs: int
    n_skipped: int
    n_ok: int
    n_failed: int
    wall_s: float
    runner: str
    messages: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.n_jobs} jobs: {self.n_skipped} already done, {self.n_ok} ok, "
                f"{self.n_failed} failed in {self.wall_s:.1f} s ({self.runner}); results in "
                f"{self.out}")


def _as_spec(spec) -> ExperimentSpec:
    if isinstance(spec, ExperimentSpec):
        return spec
    if isinstance(spec, dict):
        return parse_spec(spec)
    return load_spec(spec)


def plan(spec, out: str | Path | None = None, messages: list[str] | None = None):
    """Expand and check ``spec``; return ``(spec, jobs, out_dir)`` without running anything."""
    spec = _as_spec(spec)
    jobs = expand(spec, messages=messages)
    out = Path(out or spec.experiment.output or Path("spikewire-results") / spec.experiment.name)
    return spec, jobs, out


def _spec_text(spec: ExperimentSpec) -> str:
    if spec._text:
        return spec._text
    # dict-built spec: save its JSON form (valid input for parse_spec)
    return "# generated from a dict spec; JSON form below\n# " + json.dumps(
        spec.model_dump(), default=str).replace("\n", "\n# ") + "\n"


def run_experiment(spec, *, out: str | Path | None = None, runner: str | None = None,
                   n_workers: int | None = None, address: str | None = None,
                   retry_failed: bool = True, progress: bool = True,
                   client=None) -> RunSummary:
    """Run every job of ``spec`` that has no finished row in ``out`` yet.

    Parameters
    ----------
    spec : ExperimentSpec, dict, path or built-in study name
    out : path, optional
        Result folder (default: ``experiment.output`` or ``spikewire-results/<name>``).
    runner : {"inprocess", "local", "address", "slurm", "pbs"}, optional
        Overrides ``runner.kind`` of the spec.
    n_workers : int, optional
        Workers of the local cluster (default: the spec's, else the number of cores).
    address : str, optional
        Scheduler address (implies ``runner="address"``).
    retry_failed : bool, default True
        Re-run jobs whose stored row is an error row.
    progress : bool, default True
        Show a progress bar (done / failed / remaining, ETA).
    client : dask.distributed.Client, optional
        Use this client instead of starting a cluster.

    Returns
    -------
    RunSummary
    """
    t0 = time.perf_counter()
    messages: list[str] = []
    spec, jobs, out = plan(spec, out, messages)
    rs = spec.runner
    kind = "address" if address else (runner or rs.kind)
    if client is not None:
        kind = "client"
    valid = ("inprocess", "local", "address", "slurm", "pbs", "client")
    if kind not in valid:
        raise ValueError(f"runner must be one of {valid[:-1]}, got {kind!r}")
    import spikewire

    store = ResultStore(out)
    store.prepare(_spec_text(spec), {"experiment": spec.experiment.name,
                                     "spikewire_version": spikewire.__version__,
                                     "source": spec._source, "n_jobs": len(jobs)})
    store._atomic_write_text(store.root / "jobs.json",
                             json.dumps([j.job_id for j in jobs]))
    cache_dir = Path(spec.experiment.cache_dir).expanduser() if spec.experiment.cache_dir \
        else store.root / "cache" / "sims"
    cache_dir.mkdir(parents=True, exist_ok=True)
    done = store.finished(retry_failed)
    todo = [j for j in jobs if j.job_id not in done]
    todo.sort(key=lambda j: j.sim_key)  # jobs of one simulation together
    for m in messages:
        log.warning(m)
    bar = _Progress(len(jobs), len(jobs) - len(todo), enabled=progress)
    try:
        if not todo:
            pass
        elif kind == "inprocess":
            _run_inprocess(todo, store, cache_dir, bar)
        else:
            _run_dask(todo, store, cache_dir, bar, kind=kind, rs=rs, n_workers=n_workers,
                      address=address or rs.address, client=client)
    finally:
        bar.close()
    return RunSummary(out=out, n_jobs=len(jobs), n_skipped=len(jobs) - len(todo),
                      n_ok=bar.ok, n_failed=bar.failed, wall_s=time.perf_counter() - t0,
                      runner=kind, messages=messages)


class _Progress:
    def __init__(self, total: int, skipped: int, enabled: bool):
        self.ok = 0
        self.failed = 0
        self.total = total
        self.skipped = skipped
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total - skipped, unit="job", dynamic_ncols=True,
                            desc=f"jobs ({skipped} already done)" if skipped else "jobs")
            self._postfix()

    def _postfix(self):
        if self.bar is not None:
            remaining = self.total - self.skipped - self.ok - self.failed
            self.bar.set_postfix(done=self.ok, failed=self.failed, remaining=remaining,
                                 refresh=False)

    def update(self, status: str) -> None:
        if status == "ok":
            self.ok += 1
        else:
            self.failed += 1
        if self.bar is not None:
            self._postfix()
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _run_inprocess(todo: list[Job], store: ResultStore, cache_dir: Path, bar) -> None:
    sims: dict[str, dict] = {}
    for job in todo:
        if job.sim_key not in sims:
            sims = {job.sim_key: ensure_simulation(job.sim_spec(), job.sim_key, cache_dir,
                                                   job.plugins)}
        row = run_job(job, cache_dir, store.artifacts_dir, sims[job.sim_key])
        store.write_row(row)
        bar.update(row["status"])


def run_and_store(job: dict, cache_dir: str, root: str, sim: dict) -> tuple[str, str]:
    """Worker-side task: run one job and write its row; returns (job_id, status)."""
    store = ResultStore(root)
    row = run_job(job, cache_dir, store.artifacts_dir, sim)
    store.write_row(row)
    return row["job_id"], row["status"]


def _make_client(kind: str, rs, n_workers: int | None, address: str | None):
    """Start (or connect to) the Dask cluster; returns (client, cluster or None)."""
    from distributed import Client, LocalCluster

    if kind == "local":
        n = n_workers or rs.n_workers or os.cpu_count() or 1
        kw = dict(n_workers=n, threads_per_worker=rs.threads_per_worker, processes=True,
                  dashboard_address=":0", silence_logs=logging.ERROR, env=_SINGLE_THREAD_ENV)
        if rs.memory_limit:
            kw["memory_limit"] = rs.memory_limit
        cluster = LocalCluster(**kw)
        return Client(cluster), cluster
    if kind == "address":
        if not address:
            raise ValueError("the 'address' runner needs a scheduler address "
                             "(--address tcp://host:8786 or runner.address)")
        client = Client(address, timeout="30s")
        try:
            client.wait_for_workers(1, timeout=rs.start_timeout)
        except Exception as err:  # noqa: BLE001
            client.close()
            raise RuntimeError(f"the scheduler at {address} has no workers after "
                               f"{rs.start_timeout:g} s ({err})") from None
        return client, None
    try:
        import dask_jobqueue
    except ImportError:
        raise ImportError(f"runner {kind!r} needs dask-jobqueue: pip install "
                          "'spikewire[dask]'") from None
    import shutil

    submit = "sbatch" if kind == "slurm" else "qsub"
    if shutil.which(submit) is None:
        raise RuntimeError(f"runner {kind!r} submits batch jobs with `{submit}`, which is not on "
                           "PATH here; run from a login node of the cluster or use "
                           "--runner local")
    cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
    cluster = cls(**rs.jobqueue)
    cluster.scale(jobs=rs.n_jobs)
    client = Client(cluster)
    try:
        client.wait_for_workers(1, timeout=rs.start_timeout)
    except Exception as err:  # noqa: BLE001 - TimeoutError type differs across versions
        client.close()
        cluster.close()
        raise RuntimeError(f"no {kind} worker started within {rs.start_timeout:g} s "
                           f"(runner.start_timeout); check the queue ({err})") from None
    return client, cluster


def _run_dask(todo: list[Job], store: ResultStore, cache_dir: Path, bar, *, kind, rs,
              n_workers, address, client=None) -> None:
    from distributed import as_completed

    own = client is None
    cluster = None
    if own:
        client, cluster = _make_client(kind, rs, n_workers, address)
    try:
        sim_futs = {}
        futs = {}
        for job in todo:
            if job.sim_key not in sim_futs:
                sim_futs[job.sim_key] = client.submit(
                    ensure_simulation, job.sim_spec(), job.sim_key, str(cache_dir), job.plugins,
                    key=f"sim-{job.sim_key}-{time.monotonic_ns()}", pure=False, priority=10)
            f = client.submit(run_and_store, job.cell(), str(cache_dir), str(store.root),
                              sim_futs[job.sim_key], key=f"job-{job.job_id}-{time.monotonic_ns()}",
                              pure=False)
            futs[f] = job
        for fut in as_completed(list(futs)):
            job = futs[fut]
            try:
                _, status = fut.result()
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker: record, go on
                row = error_row(job, type(err).__name__, str(err), stage="worker")
                store.write_row(row)
                status = "error"
            bar.update(status)
            del futs[fut]
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
