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

Before anything runs, every job is checked (:func:`~spikewire.experiments.grid.expand`);
cells whose method cannot analyse the observation are recorded as "not applicable"
without simulating. A lock file keeps two runs off one result folder.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from spikewire.experiments.grid import Job, expand
from spikewire.experiments.job import (
    NOT_APPLICABLE,
    ensure_simulation,
    error_row,
    not_applicable_row,
    run_job,
)
from spikewire.experiments.spec import ExperimentSpec, SpecError, load_spec, parse_spec
from spikewire.experiments.store import ResultStore, RunLock, remove_stale_temporaries

__all__ = ["run_experiment", "RunSummary", "plan", "with_overrides"]

log = logging.getLogger("spikewire.experiments")

# BLAS/OpenMP pools of workers start with one thread. numba's pool is not limited through
# NUMBA_NUM_THREADS: numba re-reads its environment at every compilation and refuses a value
# that differs from the one its pool started with, which broke first (uncached) compilations
# on workers; each job pins numba to one thread with numba.set_num_threads instead
# (job.pinned_threads).
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                      "OPENBLAS_NUM_THREADS": "1"}


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
    n_not_applicable: int = 0
    #: the jobs of this run that failed: dicts with job_id, network, observation, method,
    #: seed, stage, error_type and error_message
    failures: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        na = f", {self.n_not_applicable} not applicable" if self.n_not_applicable else ""
        return (f"{self.n_jobs} jobs: {self.n_skipped} already done, {self.n_ok} ok, "
                f"{self.n_failed} failed{na} in {self.wall_s:.1f} s ({self.runner}); "
                f"results in {self.out}")


def _as_spec(spec) -> ExperimentSpec:
    if isinstance(spec, ExperimentSpec):
        return spec
    if isinstance(spec, dict):
        return parse_spec(spec)
    return load_spec(spec)


def with_overrides(spec, *, duration: float | None = None,
                   seeds: list[int] | None = None) -> ExperimentSpec:
    """A copy of ``spec`` with every simulated duration set to ``duration`` (s; the
    experiment's and each network's) and/or ``experiment.seeds`` replaced by ``seeds``,
    to size a study without editing its TOML. The copy keeps the spec's source text."""
    spec = _as_spec(spec)
    if duration is None and seeds is None:
        return spec
    data = spec.model_dump()
    if duration is not None:
        data["experiment"]["duration"] = duration
        for net in data["networks"]:
            if net.get("duration") is not None:
                net["duration"] = duration
    if seeds is not None:
        data["experiment"]["seeds"] = list(seeds)
    try:
        new = ExperimentSpec.model_validate(data)
    except Exception as err:  # noqa: BLE001 - pydantic ValidationError
        raise SpecError(f"--duration / --seeds: {err}") from None
    new._source, new._text = spec._source, spec._text
    return new


def plan(spec, out: str | Path | None = None, messages: list[str] | None = None, *,
         allow_code: bool = False, duration: float | None = None,
         seeds: list[int] | None = None):
    """Expand and check ``spec`` (see :func:`run_experiment` for the keywords); return
    ``(spec, jobs, out_dir)`` without simulating or writing anything."""
    spec = with_overrides(spec, duration=duration, seeds=seeds)
    jobs = expand(spec, messages=messages, allow_code=allow_code)
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
                   client=None, allow_code: bool = False, duration: float | None = None,
                   seeds: list[int] | None = None) -> RunSummary:
    """Run every job of ``spec`` that has no finished row in ``out`` yet.

    Every job is validated first (builders, parameters, ``dt`` against delays and
    durations, method settings, methods against the observation's output kind); nothing
    is simulated if any check fails. Cells whose method cannot analyse the observation get
    a "not applicable" row (never retried, never simulated). The result folder is locked
    for the duration of the run.

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
    allow_code : bool, default False
        Run code named by the spec: ``experiment.plugins`` and builders other than the
        registered ones (``"package.module:function"``). A spec file can then execute
        anything with your permissions; pass True only for specs you trust.
    duration : float, optional
        Override every simulated duration (s) of the spec.
    seeds : list of int, optional
        Override ``experiment.seeds``.

    Returns
    -------
    RunSummary
    """
    t0 = time.perf_counter()
    messages: list[str] = []
    spec, jobs, out = plan(spec, out, messages, allow_code=allow_code, duration=duration,
                           seeds=seeds)
    rs = spec.runner
    kind = "address" if address else (runner or rs.kind)
    if client is not None:
        kind = "client"
    valid = ("inprocess", "local", "address", "slurm", "pbs", "client")
    if kind not in valid:
        raise ValueError(f"runner must be one of {valid[:-1]}, got {kind!r}")
    import spikewire

    store = ResultStore(out)
    try:
        store.root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"result folder {str(store.root)!r} is not writable "
                              f"({err.strerror or err}); choose another with --out") from None
    lock = RunLock(store.root)
    with lock:
        messages.extend(lock.messages)
        overrides = {k: v for k, v in (("duration", duration), ("seeds", seeds))
                     if v is not None}
        store.prepare(_spec_text(spec), {"experiment": spec.experiment.name,
                                         "spikewire_version": spikewire.__version__,
                                         "source": spec._source, "n_jobs": len(jobs),
                                         "overrides": overrides})
        store._atomic_write_text(store.root / "jobs.json",
                                 json.dumps([j.job_id for j in jobs]))
        cache_dir = Path(spec.experiment.cache_dir).expanduser() \
            if spec.experiment.cache_dir else store.root / "cache" / "sims"
        cache_dir.mkdir(parents=True, exist_ok=True)
        n_stale = remove_stale_temporaries(cache_dir)
        if n_stale:
            messages.append(f"removed {n_stale} stale temporary file(s) from {cache_dir}")
        done = store.finished(retry_failed)
        todo = [j for j in jobs if j.job_id not in done]
        todo.sort(key=lambda j: j.sim_key)  # jobs of one simulation together
        for m in messages:
            log.warning(m)
        bar = _Progress(len(jobs), len(jobs) - len(todo), enabled=progress)
        try:
            for job in [j for j in todo if j.not_applicable]:
                store.write_row(not_applicable_row(job))
                bar.update(NOT_APPLICABLE)
            todo = [j for j in todo if not j.not_applicable]
            if not todo:
                pass
            elif kind == "inprocess":
                _run_inprocess(todo, store, cache_dir, bar)
            else:
                _run_dask(todo, store, cache_dir, bar, kind=kind, rs=rs, n_workers=n_workers,
                          address=address or rs.address, client=client)
        finally:
            bar.close()
        failures = _failures(store, bar.failed_ids)
    return RunSummary(out=out, n_jobs=len(jobs), n_skipped=len(done & {j.job_id for j in jobs}),
                      n_ok=bar.ok, n_failed=bar.failed, wall_s=time.perf_counter() - t0,
                      runner=kind, messages=messages, n_not_applicable=bar.not_applicable,
                      failures=failures)


def _failures(store: ResultStore, job_ids: list[str]) -> list[dict]:
    """The stored error rows of ``job_ids`` (what a user needs to see of each failure)."""
    import pyarrow.parquet as pq

    keys = ("job_id", "network", "observation", "method", "seed", "stage", "error_type",
            "error_message")
    out = []
    for jid in job_ids:
        try:
            row = pq.read_table(store.row_path(jid)).to_pylist()[0]
        except Exception:  # noqa: BLE001 - a missing row is reported as such
            row = {"job_id": jid, "error_type": "unknown",
                   "error_message": "no result row was written"}
        out.append({k: row.get(k) for k in keys})
    return out


class _Progress:
    def __init__(self, total: int, skipped: int, enabled: bool):
        self.ok = 0
        self.failed = 0
        self.not_applicable = 0
        self.failed_ids: list[str] = []
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
            remaining = (self.total - self.skipped - self.ok - self.failed
                         - self.not_applicable)
            self.bar.set_postfix(done=self.ok, failed=self.failed,
                                 not_applicable=self.not_applicable, remaining=remaining,
                                 refresh=False)

    def update(self, status: str, job_id: str | None = None) -> None:
        if status == "ok":
            self.ok += 1
        elif status == NOT_APPLICABLE:
            self.not_applicable += 1
        else:
            self.failed += 1
            if job_id is not None:
                self.failed_ids.append(job_id)
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
        bar.update(row["status"], job.job_id)


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


def _pilot_waves(todo: list[Job]) -> tuple[list[Job], dict[str, list[Job]]]:
    """Split ``todo`` into a first wave (each method's first job, in ``todo``'s order) and,
    per method name, the jobs held back until that method's first job has ended."""
    first: list[Job] = []
    held: dict[str, list[Job]] = {}
    for job in todo:
        name = str(job.method.get("name"))
        if name in held:
            held[name].append(job)
        else:
            held[name] = []
            first.append(job)
    return first, held


def _run_dask(todo: list[Job], store: ResultStore, cache_dir: Path, bar, *, kind, rs,
              n_workers, address, client=None) -> None:
    """Run ``todo`` on Dask: one task per distinct simulation, one per job depending on it.

    On the ``local`` runner each method's first job runs alone before the method's other
    jobs are submitted (its numba kernels are compiled and cached once, by that worker,
    while the others run other methods' jobs: two workers compiling glmcc's kernels at
    once cost the demo ≈ 30 s of a core). The rest are released when it ends, whatever
    its status. Other runners submit everything at once (many workers: waiting would
    idle them).
    """
    from distributed import as_completed

    own = client is None
    cluster = None
    if own:
        client, cluster = _make_client(kind, rs, n_workers, address)
    try:
        sim_futs = {}
        for job in todo:  # every simulation now: held jobs must not delay them
            if job.sim_key not in sim_futs:
                sim_futs[job.sim_key] = client.submit(
                    ensure_simulation, job.sim_spec(), job.sim_key, str(cache_dir), job.plugins,
                    key=f"sim-{job.sim_key}-{time.monotonic_ns()}", pure=False, priority=10)
        if kind == "local":
            first, held = _pilot_waves(todo)
        else:
            first, held = todo, {}
        futs = {}

        def submit(job: Job):
            f = client.submit(run_and_store, job.cell(), str(cache_dir), str(store.root),
                              sim_futs[job.sim_key], key=f"job-{job.job_id}-{time.monotonic_ns()}",
                              pure=False)
            futs[f] = job
            return f

        pending = as_completed([submit(job) for job in first])
        for fut in pending:
            job = futs.pop(fut)
            try:
                _, status = fut.result()
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker: record, go on
                row = error_row(job, type(err).__name__, str(err), stage="worker")
                store.write_row(row)
                status = "error"
            bar.update(status, job.job_id)
            for later in held.pop(str(job.method.get("name")), ()):
                pending.add(submit(later))
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
