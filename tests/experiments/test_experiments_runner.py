"""Runners and the result store: rows, caching, error rows, resume, Dask, killed runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sweep_fixtures import tiny_spec, write_tiny

from spikewire.experiments import load_results, query, run_experiment


def _parquets(out: Path) -> list[Path]:
    return sorted((out / "results").glob("*.parquet"))


def test_inprocess_run_rows_cache_and_resume(tmp_path):
    out = tmp_path / "out"
    s = run_experiment(write_tiny(tmp_path), out=out, progress=False, allow_code=True)
    assert (s.n_jobs, s.n_ok, s.n_failed, s.n_skipped) == (12, 12, 0, 0)
    df = load_results(out)
    assert len(df) == 12 and df["job_id"].is_unique
    assert set(df["status"]) == {"ok"}
    # one row = cell factors + scores + timings
    for col in ("network", "observation", "method", "seed", "net.J", "method.bin_width",
                "auc", "time_infer", "time_simulate", "spec"):
        assert col in df.columns
    assert df["auc"].between(0, 1).all()
    # 3 networks x 2 seeds = 6 simulations, each shared by the two methods; none was on
    # disk before this run
    assert len(list((out / "cache" / "sims").glob("*.npz"))) == 6
    assert df.groupby("sim_key").size().tolist() == [2] * 6
    assert not df["sim_cached"].any()
    assert (out / "spec.toml").exists() and (out / "meta.json").exists()
    assert len(list((out / "artifacts").glob("*.npz"))) == 12
    # re-running skips everything
    s2 = run_experiment(write_tiny(tmp_path), out=out, progress=False, allow_code=True)
    assert (s2.n_skipped, s2.n_ok) == (12, 0)
    assert len(load_results(out)) == 12


def test_changing_methods_never_resimulates(tmp_path):
    out = tmp_path / "out"
    run_experiment(write_tiny(tmp_path, bin_widths=(1e-3,)), out=out, progress=False,
                   allow_code=True)
    sims = {p.name: p.stat().st_mtime_ns for p in (out / "cache" / "sims").glob("*.npz")}
    s = run_experiment(write_tiny(tmp_path, bin_widths=(1e-3, 4e-3)), out=out, progress=False,
                       allow_code=True)
    assert (s.n_skipped, s.n_ok) == (6, 6)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "cache" / "sims").glob("*.npz")}
    assert after == sims
    new = load_results(out)
    assert new.loc[new["method.bin_width"] == 4e-3, "sim_cached"].all()


def test_failing_job_becomes_error_row_and_sweep_goes_on(tmp_path):
    text = tiny_spec().replace("[[methods]]", """[[methods]]
name = "lagcorr_test"
label = "broken"
settings = { fail = true }

[[methods]]""", 1)
    p = tmp_path / "spec.toml"
    p.write_text(text)
    out = tmp_path / "out"
    s = run_experiment(p, out=out, progress=False, allow_code=True)
    assert s.n_failed == 6 and s.n_ok == 12
    df = load_results(out)
    bad = df[df["method"] == "broken"]
    assert (bad["status"] == "error").all()
    assert (bad["error_type"] == "RuntimeError").all()
    assert bad["error_message"].str.contains("asked to fail").all()
    assert bad["spec"].str.contains('"fail": true').all()
    # failed jobs are retried on resume (and still fail): no duplicated rows
    s2 = run_experiment(p, out=out, progress=False, allow_code=True)
    assert (s2.n_skipped, s2.n_failed) == (12, 6)
    assert len(load_results(out)) == 18
    s3 = run_experiment(p, out=out, progress=False, retry_failed=False, allow_code=True)
    assert s3.n_skipped == 18


def test_duckdb_query(tmp_path):
    out = tmp_path / "out"
    run_experiment(write_tiny(tmp_path, seeds=(0,)), out=out, progress=False, allow_code=True)
    q = query(out, "select network, count(*) as n, avg(auc) as auc from results "
                   "group by network order by network")
    assert q["network"].tolist() == ["real[J=0.5]", "real[J=1.0]", "toy"]
    assert q["n"].tolist() == [2, 2, 2]
    df = load_results(out)
    np.testing.assert_allclose(q.set_index("network")["auc"].sort_index(),
                               df.groupby("network")["auc"].mean().sort_index())


def test_killed_run_resumes_without_lost_or_duplicated_rows(tmp_path):
    spec = write_tiny(tmp_path, seeds=(0, 1, 2), sleep=0.4)  # 18 jobs, >= 0.4 s each
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "spikewire.cli", "run", str(spec), "--out", str(out),
           "--runner", "inprocess", "--no-progress", "--no-report", "--allow-code"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(_parquets(out) if (out / "results").exists()
                                          else []) < 4:
        time.sleep(0.05)
        if proc.poll() is not None:
            break
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(_parquets(out))
    assert 4 <= partial < 18
    assert json.loads((out / "run.lock").read_text())["pid"] == proc.pid  # left behind
    s = run_experiment(spec, out=out, progress=False, allow_code=True)
    # the dead run's lock is taken over, with a message naming its pid
    assert any("stale lock" in m and str(proc.pid) in m for m in s.messages), s.messages
    assert not (out / "run.lock").exists()  # released at the end
    assert s.n_skipped == partial and s.n_ok == 18 - partial
    df = load_results(out)
    assert len(df) == 18 and df["job_id"].is_unique and set(df["status"]) == {"ok"}
    assert not list((out / "results").glob(".*"))  # no temporaries left behind


@pytest.mark.parametrize("kind", ["slurm", "pbs"])
def test_jobqueue_runner_reports_missing_batch_system(tmp_path, kind):
    # no sbatch/qsub here: starting the cluster must fail loudly rather than hang
    pytest.importorskip("dask_jobqueue")
    import shutil

    if shutil.which("sbatch" if kind == "slurm" else "qsub"):
        pytest.skip("a real batch system is present")
    extra = "jobqueue = { cores = 1, memory = '1GB' }\n"
    p = tmp_path / "spec.toml"
    p.write_text(tiny_spec(runner=kind, seeds=(0,)) + extra)
    with pytest.raises(RuntimeError, match="not on PATH"):
        run_experiment(p, out=tmp_path / "out", progress=False, allow_code=True)
