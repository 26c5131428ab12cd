"""One job: simulate (cached) → observe → infer → score → one flat result row.

Everything here runs on workers; the functions take and return plain data (dicts, paths)
so Dask can ship them. A job never raises: failures become error rows.

Seeds: a job's integer seed is the root of one ``SeedSequence`` split into named streams
(:func:`spikewire.core.seeds.seed_tree`): ``"network"`` draws the connectivity,
``"inputs"`` the simulation inputs, ``"simulation"`` the drive and initial state,
``child(seed, "observation", k)`` observation step ``k`` and ``"method"`` the method's
surrogates. Each is passed explicitly, so no stage replays another's numbers.

Threads: every stage runs with BLAS/OpenMP pools and numba limited to one thread
(:func:`pinned_threads`), so a job gives the same bytes in-process and on a Dask worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import time
import traceback
import uuid
import warnings
from pathlib import Path

import numpy as np

from spikewire.core.seeds import as_seed_sequence, seed_tree
from spikewire.experiments.grid import Job, build_network, int_seed, load_plugins

__all__ = ["ensure_simulation", "run_job", "sim_path", "observe_spikes", "build_inputs",
           "error_row", "not_applicable_row", "pinned_threads", "temp_name"]

NOT_APPLICABLE = "not applicable"


@contextlib.contextmanager
def pinned_threads(n: int = 1):
    """Limit BLAS/OpenMP thread pools (threadpoolctl) and numba to ``n`` threads inside
    the block: multi-threaded reductions sum in a different order, so results would
    differ in the last bits between a many-threaded process and a one-thread worker."""
    import numba
    from threadpoolctl import threadpool_limits

    old = numba.get_num_threads()
    with threadpool_limits(limits=n):
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        try:
            yield
        finally:
            numba.set_num_threads(old)


def temp_name(path: Path, suffix: str = ".tmp") -> Path:
    """A temporary sibling of ``path`` naming this host and process (so stale temporaries
    of dead processes can be told from those of a live run)."""
    host = socket.gethostname().replace(".", "_")
    return path.with_name(f".{path.stem}.{host}.{os.getpid()}.{uuid.uuid4().hex}{suffix}")


def sim_path(cache_dir: str | Path, sim_key: str) -> Path:
    """Cached spike trains of one simulation."""
    return Path(cache_dir) / f"{sim_key}.npz"


def _atomic_save_spikes(spikes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path, ".tmp.npz")
    try:
        spikes.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_inputs(network, sim: dict, seed) -> dict:
    """Simulation inputs of a network entry via :func:`spikewire.simulate.inputs_from_spec`
    on the job's ``"inputs"`` stream: ``{"modulation", "stimulation", "inputs"}`` (all
    empty without ``inputs``)."""
    if not sim.get("inputs"):
        return {"modulation": None, "stimulation": None, "inputs": []}
    from spikewire.simulate.inputs import inputs_from_spec

    return inputs_from_spec(sim["inputs"], network=network, duration=sim["duration"],
                            seed=seed_tree(seed)["inputs"])


def ensure_simulation(sim: dict, sim_key: str, cache_dir: str | Path,
                      plugins=()) -> dict:
    """Simulate the network of ``sim`` unless ``cache_dir`` already holds the result.

    Returns ``{"path", "cached", "time_simulate", "time_build"}``, or ``{"error": ...}``
    (never raises, so a broken network turns into error rows of its jobs).
    """
    from spikewire.experiments.lowrank import is_lowrank

    if is_lowrank(sim.get("builder")):
        # low-rank rate networks are simulated inside each job (milliseconds): no cache
        return {"path": None, "cached": False, "time_simulate": 0.0, "time_build": 0.0,
                "lowrank": True}
    path = sim_path(cache_dir, sim_key)
    if path.exists():
        return {"path": str(path), "cached": True, "time_simulate": 0.0, "time_build": 0.0}
    try:
        load_plugins(plugins)
        from spikewire.simulate import simulate

        t0 = time.perf_counter()
        with pinned_threads():
            # the spec passed check_code_allowed when the job was planned
            net = build_network({"builder": sim["builder"], "params": sim["params"]},
                                sim["seed"], allow_code=True)
            inputs = build_inputs(net, sim, sim["seed"])
            t1 = time.perf_counter()
            spikes = simulate(net, sim["duration"], dt=sim["dt"],
                              seed=seed_tree(sim["seed"])["simulation"],
                              modulation=inputs["modulation"],
                              stimulation=inputs["stimulation"])
        t2 = time.perf_counter()
        spikes.annotations.update({"sim_key": sim_key, "network_spec": json.dumps(
            sim, sort_keys=True, default=str)})
        _atomic_save_spikes(spikes, path)
        return {"path": str(path), "cached": False, "time_simulate": t2 - t1,
                "time_build": t1 - t0}
    except Exception as err:  # noqa: BLE001 - becomes an error row
        return {"error": True, "error_type": type(err).__name__, "error_message": str(err),
                "error_traceback": traceback.format_exc(limit=20)}


def observe_spikes(spikes, steps: list[dict], seed, network=None, inputs=()):
    """Apply an observation chain with :func:`spikewire.observe.observe` → Recording.

    Step ``k`` draws from ``child(seed, "observation", k)`` (the job's
    ``seed_tree(seed, n_observation_steps=...)["observation.k"]``)."""
    from spikewire.core.recording import Recording
    from spikewire.experiments.grid import resolve_network_refs

    inputs = [x for x in inputs if x is not None]
    if not steps and not inputs:
        return Recording.from_spikes(spikes)
    from spikewire.observe import observe

    return observe(spikes, resolve_network_refs(steps, network), seed=as_seed_sequence(seed),
                   network=network, inputs=inputs)


def _method_kwargs(method: dict, seed) -> dict:
    """The method's settings; a method whose declared settings (``get_params``) include
    ``seed`` gets an int drawn from the job's ``"method"`` stream unless the spec sets it."""
    from spikewire.infer import get_method

    settings = dict(method["settings"])
    if "seed" not in settings and "seed" in get_method(method["name"], **settings).get_params():
        settings["seed"] = int_seed(seed_tree(seed)["method"])
    return settings


def _score(network, estimate) -> dict:
    try:
        from spikewire.score import score
    except ImportError:
        return _fallback_score(network, estimate)
    return score(network, estimate)


def _fallback_score(network, estimate) -> dict:
    """Existence AUC / AP between observed units (used only while spikewire.score is absent)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    idx = np.asarray(estimate.true_index)
    w = network.dense_weights()[np.ix_(idx, idx)]
    off = ~np.eye(len(idx), dtype=bool)
    truth = (w != 0)[off]
    s = np.abs(np.asarray(estimate.scores if estimate.scores is not None
                          else estimate.weights))[off]
    out = {"n_true_links": int(truth.sum())}
    if 0 < truth.sum() < truth.size:
        out["auc"] = float(roc_auc_score(truth, s))
        out["average_precision"] = float(average_precision_score(truth, s))
    return out


def _flatten_scores(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten_scores(v, key + "."))
        elif isinstance(v, (bool, np.bool_)):
            out[key] = bool(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[key] = float(v)
        elif isinstance(v, str):
            out[key] = v
        elif v is None:
            out[key] = float("nan")
    return out


def _base_row(job: Job) -> dict:
    row = {"job_id": job.job_id, "experiment": job.experiment,
           "network": job.network["name"], "network_family": job.network["family"],
           "observation": job.observation["name"], "method": job.method["label"],
           "method_name": job.method["name"], "seed": int(job.seed), "sim_key": job.sim_key}
    for k, v in job.factors.items():
        row[k] = v if isinstance(v, (int, float, str, bool)) else json.dumps(v)
    row["spec"] = json.dumps(job.cell(), sort_keys=True, default=str)
    return row


def _fit_method(job, recording):
    """The job's method fitted to ``recording`` (its ``true_index`` the recording's when
    the method left it unset), and the warnings it raised.

    The warnings (recording too short, null check, ...) go into the row's "warnings"
    column, where the results table keeps them per job, instead of scrolling past on the
    console of a worker. ``NotApplicableError`` propagates to the caller.
    """
    from spikewire.infer import get_method

    method = get_method(job.method["name"], **_method_kwargs(job.method, job.seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimate = method.fit(recording)
    if getattr(estimate, "true_index", None) is None:
        estimate.true_index = recording.true_index
    return estimate, caught


def _warning_text(caught) -> str:
    """The distinct messages of recorded warnings, in order, as one string (≤ 2,000 chars)."""
    seen: dict[str, None] = {}
    for w in caught:
        seen.setdefault(f"{w.category.__name__}: {w.message}", None)
    return " | ".join(seen)[:2000]


def not_applicable_row(job: Job, reason: str | None = None) -> dict:
    """The row of a cell whose method cannot analyse its observation (nothing was run)."""
    row = _base_row(job)
    row.update(status=NOT_APPLICABLE, reason=str(reason or job.not_applicable)[:2000],
               host=platform.node(), finished_at=time.time())
    return row


def error_row(job: Job, error_type: str, message: str, tb: str = "", **extra) -> dict:
    """The row written for a job that failed."""
    row = _base_row(job)
    row.update(status="error", error_type=error_type, error_message=str(message)[:2000],
               error_traceback=str(tb)[-4000:], host=platform.node(), finished_at=time.time(),
               **extra)
    return row


def _save_artifacts(path: Path, network, recording, estimate, n_max: int) -> None:
    """Small arrays the report needs: estimate vs truth for up to ``n_max`` observed units."""
    idx = np.asarray(estimate.true_index if estimate.true_index is not None
                     else recording.true_index)
    k = min(len(idx), n_max)
    sel = idx[:k]
    dense = network.weights[sel][:, sel]
    dense = dense.toarray() if hasattr(dense, "toarray") else np.asarray(dense)
    arrays = {"true_index": sel, "true_weights": dense.astype(np.float32),
              "est_weights": np.asarray(estimate.weights)[:k, :k].astype(np.float32),
              "true_cell_type": np.asarray(network.cell_type)[sel].astype("U1")}
    for name in ("pvalues", "scores"):
        v = getattr(estimate, name, None)
        if v is not None:
            arrays[f"est_{name}"] = np.asarray(v, dtype=np.float32)[:k, :k]
    ct = getattr(estimate, "cell_type", None)
    if ct is not None:
        arrays["est_cell_type"] = np.asarray(ct).astype(str)[:k]
    try:
        adj = estimate.adjacency()
        arrays["est_adjacency"] = np.asarray(adj, dtype=np.int8)[:k, :k]
    except Exception:  # noqa: BLE001 - optional for the report
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path, ".tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_job(job: Job | dict, cache_dir: str | Path, artifacts_dir: str | Path | None = None,
            sim: dict | None = None) -> dict:
    """Run one cell and return its result row (an error row if anything fails)."""
    t_start = time.perf_counter()
    if isinstance(job, dict):
        job = Job(**job)
    if job.not_applicable:
        return not_applicable_row(job)
    with pinned_threads():
        return _run_job(job, cache_dir, artifacts_dir, sim, t_start)


def _run_job(job: Job, cache_dir, artifacts_dir, sim, t_start) -> dict:
    from spikewire.experiments.lowrank import is_lowrank
    from spikewire.infer import NotApplicableError

    if is_lowrank(job.network["builder"]):
        return _run_lowrank_job(job, t_start)
    stage = "simulate"
    try:
        load_plugins(job.plugins)
        if sim is None:
            sim = ensure_simulation(job.sim_spec(), job.sim_key, cache_dir, job.plugins)
        if sim.get("error"):
            return error_row(job, sim["error_type"], sim["error_message"],
                             sim.get("error_traceback", ""), stage=stage,
                             time_total=time.perf_counter() - t_start)
        from spikewire.core.spiketrains import SpikeTrains

        t0 = time.perf_counter()
        spikes = SpikeTrains.load(sim["path"])
        network = build_network(job.network, job.seed, allow_code=True)
        inputs = build_inputs(network, job.sim_spec(), job.seed)["inputs"]
        t1 = time.perf_counter()
        stage = "observe"
        recording = observe_spikes(spikes, job.observation["steps"], job.seed, network, inputs)
        t2 = time.perf_counter()
        stage = "infer"
        try:
            estimate, caught = _fit_method(job, recording)
        except NotApplicableError as err:
            return not_applicable_row(job, f"{type(err).__name__}: {err}")
        t3 = time.perf_counter()
        stage = "score"
        scores = _flatten_scores(_score(network, estimate))
        t4 = time.perf_counter()
        stage = "artifacts"
        if artifacts_dir is not None and job.artifact_units > 0:
            _save_artifacts(Path(artifacts_dir) / f"{job.job_id}.npz", network, recording,
                            estimate, job.artifact_units)
        t5 = time.perf_counter()
    except Exception as err:  # noqa: BLE001 - a failing job becomes an error row
        return error_row(job, type(err).__name__, str(err), traceback.format_exc(limit=20),
                         stage=stage, time_total=time.perf_counter() - t_start)
    row = _base_row(job)
    obs_spikes = recording.spikes
    row.update(
        status="ok", n_neurons=int(network.n_neurons), n_observed=int(recording.n_units),
        n_spikes=int(spikes.n_spikes),
        rate_mean=float(spikes.n_spikes / max(spikes.n_units, 1) / spikes.duration),
        n_spikes_observed=int(obs_spikes.n_spikes) if obs_spikes is not None else -1,
        sim_cached=bool(sim.get("cached", False)),
        time_simulate=float(sim.get("time_simulate", 0.0)),
        time_build=float(sim.get("time_build", 0.0)),
        time_load=t1 - t0, time_observe=t2 - t1, time_infer=t3 - t2, time_score=t4 - t3,
        time_artifacts=t5 - t4, host=platform.node(), finished_at=time.time())
    for k, v in scores.items():
        row[k if k not in row else f"score.{k}"] = v
    row["warnings"] = _warning_text(caught)
    row["time_total"] = time.perf_counter() - t_start + row["time_simulate"] + row["time_build"]
    return row


def _run_lowrank_job(job: Job, t_start) -> dict:
    """A job on a low-rank rate network (:mod:`spikewire.experiments.lowrank`): build,
    simulate its trials, observe, infer, score with
    :func:`spikewire.score.lowrank.score_lowrank`; no cached simulation, no artifacts."""
    from spikewire.experiments.lowrank import simulate_and_observe
    from spikewire.infer import NotApplicableError
    from spikewire.score.lowrank import score_lowrank

    stage = "build"
    try:
        t0 = time.perf_counter()
        network = build_network(job.network, job.seed)
        t1 = time.perf_counter()
        stage = "simulate"
        recording = simulate_and_observe(network, job.network, job.observation["steps"],
                                         job.seed)
        t2 = time.perf_counter()
        stage = "infer"
        try:
            estimate, caught = _fit_method(job, recording)
        except NotApplicableError as err:
            return not_applicable_row(job, f"{type(err).__name__}: {err}")
        t3 = time.perf_counter()
        stage = "score"
        scores = _flatten_scores(score_lowrank(network, estimate,
                                               seed=int_seed(seed_tree(job.seed)["method"])))
        t4 = time.perf_counter()
    except Exception as err:  # noqa: BLE001 - a failing job becomes an error row
        return error_row(job, type(err).__name__, str(err), traceback.format_exc(limit=20),
                         stage=stage, time_total=time.perf_counter() - t_start)
    row = _base_row(job)
    st = recording.spikes
    n_spikes = int(st.n_spikes) if st is not None else -1
    row.update(
        status="ok", n_neurons=int(network.n_neurons), n_observed=int(recording.n_units),
        n_spikes=n_spikes,
        rate_mean=(float(n_spikes / max(st.n_units, 1) / st.duration) if st is not None
                   else float(np.mean(recording.signals))),
        n_spikes_observed=n_spikes, sim_cached=False, time_simulate=t2 - t1,
        time_build=t1 - t0, time_load=0.0, time_observe=0.0, time_infer=t3 - t2,
        time_score=t4 - t3, time_artifacts=0.0, host=platform.node(), finished_at=time.time())
    for k, v in scores.items():
        row[k if k not in row else f"score.{k}"] = v
    row["warnings"] = _warning_text(caught)
    row["time_total"] = time.perf_counter() - t_start
    return row
