"""The Dask runner: same rows as in-process, and a worker killed mid-job loses nothing."""

import numpy as np
from sweep_fixtures import tiny_spec, write_tiny

from spikewire.experiments import load_results, run_experiment


def test_dask_local_cluster_gives_the_same_bytes(tmp_path):
    """Same spec, same bytes in-process and on a Dask worker: jobs pin BLAS and numba to one
    thread (before, the in-process run used multi-threaded OpenBLAS and te's weights
    differed by 1 ulp from the worker's)."""
    a, b = tmp_path / "a", tmp_path / "b"
    text = tiny_spec(seeds=(0,), bin_widths=(1e-3,)) + """
[[methods]]
name = "te"
"""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    run_experiment(spec, out=a, progress=False, allow_code=True)
    s = run_experiment(spec, out=b, runner="local", n_workers=1, progress=False,
                       allow_code=True)
    assert s.runner == "local" and s.n_ok == 6
    da = load_results(a).set_index("job_id").sort_index()
    db = load_results(b).set_index("job_id").sort_index()
    assert list(da.index) == list(db.index)
    volatile = {c for c in da.columns if c.startswith("time_")} | {"finished_at", "host",
                                                                   "sim_cached"}
    for col in sorted(set(da.columns) - volatile):
        assert da[col].equals(db[col]), col  # exact, NaN-aware
    for job_id in da.index:
        with np.load(a / "artifacts" / f"{job_id}.npz") as fa, \
                np.load(b / "artifacts" / f"{job_id}.npz") as fb:
            assert sorted(fa.files) == sorted(fb.files)
            for key in fa.files:
                np.testing.assert_array_equal(fa[key], fb[key], err_msg=f"{job_id} {key}")


def test_killed_worker_is_replaced_and_no_row_is_lost(tmp_path):
    marker = tmp_path / "crashed"
    text = tiny_spec(seeds=(0,)).replace("sleep = 0.0", f'sleep = 0.0, crash_once = "{marker}"')
    p = tmp_path / "spec.toml"
    p.write_text(text)
    s = run_experiment(p, out=tmp_path / "out", runner="local", n_workers=2, progress=False,
                       allow_code=True)
    assert marker.exists()  # one worker process really died mid-job
    df = load_results(tmp_path / "out")
    # Dask re-ran the lost task on a fresh worker: every row present once, all ok
    assert s.n_ok == 6 and len(df) == 6 and df["job_id"].is_unique
    assert set(df["status"]) == {"ok"}


def test_any_scheduler_address(tmp_path):
    # a scheduler started elsewhere (here: in this process); the spec is unchanged
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        s = run_experiment(write_tiny(tmp_path, seeds=(0,)), out=tmp_path / "out",
                           address=cluster.scheduler_address, progress=False, allow_code=True)
    assert s.runner == "address" and s.n_ok == 6
    assert len(load_results(tmp_path / "out")) == 6


def test_local_runner_runs_each_methods_first_job_alone(tmp_path):
    """On the local runner a method's other jobs start only after its first job ended (its
    compiled kernels are cached once instead of by every worker at once); no job is lost."""
    p = tmp_path / "spec.toml"
    p.write_text(tiny_spec(seeds=(0,), sleep=0.4))
    s = run_experiment(p, out=tmp_path / "out", runner="local", n_workers=2, progress=False,
                       allow_code=True)
    assert s.n_ok == 6
    df = load_results(tmp_path / "out")
    start = df["finished_at"] - (df["time_total"] - df["time_simulate"] - df["time_build"])
    first = df["finished_at"].idxmin()
    others = start.drop(index=first)
    # every other job started after the first one finished (0.4 s of sleep each: the
    # two workers would otherwise have started two jobs together)
    assert (others >= df["finished_at"][first] - 0.05).all()


def test_pilot_waves_hold_back_all_but_each_methods_first_job():
    from types import SimpleNamespace

    from spikewire.experiments.runner import _pilot_waves

    jobs = [SimpleNamespace(method={"name": m}, i=i)
            for i, m in enumerate(["glmcc", "ccg", "glmcc", "te", "ccg", "glmcc"])]
    first, held = _pilot_waves(jobs)
    assert [j.i for j in first] == [0, 1, 3]
    assert {k: [j.i for j in v] for k, v in held.items()} == {"glmcc": [2, 5], "ccg": [4],
                                                              "te": []}
