"""Honest outcomes of a sweep (issue 13): checks before simulating, "not applicable" cells,
locks, stale temporaries, atomic files and code named by a spec."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from sweep_fixtures import tiny_spec, write_tiny

from spikewire.core.seeds import seed_tree
from spikewire.experiments import SpecError, load_results, plan, run_experiment
from spikewire.experiments.grid import CodeNotAllowedError, build_network, observation_kind
from spikewire.experiments.store import ResultStore, RunLockedError

RATES = """
[[observations]]
name = "rates"
steps = [{ step = "smooth", width = 0.01, sampling_rate = 200.0 }]
"""


def _write(tmp_path, text, name="spec.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- checks before anything is simulated -------------------------------------------------
@pytest.mark.parametrize("dt, match", [
    (5e-3, r"experiment\.dt = 0\.005 s is outside every engine's range"),
    (4e-4, r"experiment\.dt = 0\.0004 s does not fit the delays"),  # 3 ms / 0.4 ms = 7.5
    (1e-6, r"experiment\.dt = 1e-06 s is outside"),
    (2e-5, r"experiment\.dt = 2e-05 s is outside the lif engine's range \[3\.33333e-05, "),
])
def test_bad_dt_fails_before_simulating(tmp_path, dt, match):
    text = tiny_spec(seeds=(0,)).replace("dt = 1e-4", f"dt = {dt}")
    out = tmp_path / "out"
    with pytest.raises(SpecError, match=match) as err:
        run_experiment(_write(tmp_path, text), out=out, progress=False, allow_code=True)
    assert "set experiment.dt to a step between" in str(err.value)  # the fix
    assert not out.exists()  # nothing simulated, nothing written


def test_duration_not_a_multiple_of_dt_fails_before_simulating(tmp_path):
    text = tiny_spec(seeds=(0,)).replace("duration = 2.0", "duration = 2.00005")
    with pytest.raises(SpecError, match=r"duration = 2\.00005 s is not a multiple of "
                                        r"experiment\.dt = 0\.0001 s"):
        plan(_write(tmp_path, text), allow_code=True)


def test_bad_builder_value_fails_before_simulating(tmp_path):
    text = tiny_spec(seeds=(0,)).replace("epsilon = 0.2", "epsilon = 1.7")
    with pytest.raises(SpecError, match=r"networks \(toy\): the builder 'brunel' refuses"):
        plan(_write(tmp_path, text), allow_code=True)


def test_bad_method_setting_fails_before_simulating(tmp_path):
    # the method's own check_settings runs at planning time (before: only inside fit, so
    # every job was simulated and then failed)
    text = tiny_spec(seeds=(0,), bin_widths=(1e-3, -2e-3))
    out = tmp_path / "out"
    with pytest.raises(SpecError, match=r"methods\[0\]: lagcorr_test: bin_width must be > 0 s, "
                                        r"got -0\.002"):
        run_experiment(_write(tmp_path, text), out=out, progress=False, allow_code=True)
    assert not out.exists()


# -- "not applicable" --------------------------------------------------------------------
@pytest.mark.parametrize("steps, kind", [
    ([], "spikes"),
    ([{"step": "smooth"}], "rate"),
    ([{"step": "calcium"}], "fluorescence"),
    ([{"step": "calcium"}, {"step": "deconvolve"}], "spikes"),
    ([{"step": "bin", "keep_spikes": False}], "counts"),
    ([{"step": "bin"}], "spikes"),
    ([{"step": "smooth", "keep_spikes": True}], "spikes"),
    ([{"step": "subsample", "fraction": 0.5}, {"step": "quantize"}], "spikes"),
])
def test_observation_kind(steps, kind):
    assert observation_kind(steps) == kind


def test_inapplicable_cells_are_labelled_not_failed_and_never_rerun(tmp_path):
    text = tiny_spec(seeds=(0,), bin_widths=(1e-3,)).replace("[[methods]]", RATES + "\n[[methods]]")
    # the "toy" network is observed only as rates: nothing of it can run
    text = text.replace('params = { tau_ref = 0.0, delay = "none" }',
                        'params = { tau_ref = 0.0, delay = "none" }\nobservations = ["rates"]')
    spec = _write(tmp_path, text)
    _, jobs, _ = plan(spec, allow_code=True)
    na = [j for j in jobs if j.not_applicable]
    assert len(jobs) == 5 and len(na) == 3  # toy x rates, real[J=.5, 1] x rates
    assert all("gives 'rate'" in j.not_applicable for j in na)
    out = tmp_path / "out"
    s = run_experiment(spec, out=out, progress=False, allow_code=True)
    assert (s.n_ok, s.n_failed, s.n_not_applicable) == (2, 0, 3)
    df = load_results(out)
    assert sorted(df["status"]) == ["not applicable"] * 3 + ["ok"] * 2
    assert df.loc[df["status"] == "not applicable", "reason"].str.contains("'rate'").all()
    from spikewire.report import summary_table

    table = summary_table(df)
    assert table["failed"].sum() == 0 and table["not applicable"].sum() == 3
    # only the two networks with an applicable cell were simulated
    sims = sorted((out / "cache" / "sims").glob("*.npz"))
    assert len(sims) == 2
    mtimes = [p.stat().st_mtime_ns for p in sims]
    s2 = run_experiment(spec, out=out, progress=False, allow_code=True)  # retry_failed=True
    assert (s2.n_skipped, s2.n_ok, s2.n_failed, s2.n_not_applicable) == (5, 0, 0, 0)
    assert [p.stat().st_mtime_ns for p in sims] == mtimes
    assert len(list((out / "cache" / "sims").glob("*.npz"))) == 2


def test_method_refusing_at_fit_time_is_not_applicable(tmp_path):
    text = tiny_spec(seeds=(0,), bin_widths=(1e-3,)).replace("fail = false",
                                                             "fail = false, refuse = true")
    s = run_experiment(_write(tmp_path, text), out=tmp_path / "o", progress=False,
                       allow_code=True)
    assert (s.n_ok, s.n_failed, s.n_not_applicable) == (0, 0, 3)
    df = load_results(tmp_path / "o")
    assert df["reason"].str.contains("asked to refuse").all()


def test_failures_carry_their_messages(tmp_path):
    s = run_experiment(write_tiny(tmp_path, seeds=(0,), fail=True), out=tmp_path / "o",
                       progress=False, allow_code=True)
    assert s.n_failed == 6 and len(s.failures) == 6
    assert {f["error_message"] for f in s.failures} == {"asked to fail"}
    assert {f["error_type"] for f in s.failures} == {"RuntimeError"}


# -- code named by the spec ----------------------------------------------------------------
def test_code_builder_is_refused_without_allow_code(tmp_path):
    marker = tmp_path / "ran"
    text = tiny_spec(seeds=(0,)).replace(
        'builder = "brunel"', 'builder = "os:system"').replace(
        "params = { n_neurons = 60, epsilon = 0.2, J = 1.0, eta = 1.2 }",
        f'params = {{ command = "touch {marker}" }}').replace(
        f'plugins = ["{tiny_spec.__globals__["PLUGIN"]}"]', "plugins = []")
    text = text.replace('params = { tau_ref = 0.0, delay = "none" }', "").replace(
        "params = { tau_ref = 2e-3, delay = 3e-3 }", "").replace(
        "vary = { J = [0.5, 1.0] }", "")
    text = text.replace('name = "lagcorr_test"', 'name = "ccg"').replace(
        "settings = { sleep = 0.0, fail = false }", "").replace(
        "vary = { bin_width = [0.001, 0.002] }", "")
    with pytest.raises(CodeNotAllowedError, match=r"base_network\.builder = 'os:system' is not "
                                                  r"a registered network builder.*--allow-code"):
        run_experiment(_write(tmp_path, text), out=tmp_path / "o", progress=False)
    assert not marker.exists()
    assert not (tmp_path / "o").exists()


def test_plugins_are_refused_without_allow_code(tmp_path):
    with pytest.raises(CodeNotAllowedError, match=r"experiment\.plugins = .* imports code"):
        plan(write_tiny(tmp_path))


# -- locks and temporaries -------------------------------------------------------------------
def test_second_run_on_a_folder_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = {"host": "node-7", "pid": 4242, "started": "2026-11-29T10:00:00Z"}
    (out / "run.lock").write_text(json.dumps(holder))
    with pytest.raises(RunLockedError, match=r"host node-7, pid 4242, started "
                                             r"2026-11-29T10:00:00Z"):
        run_experiment(write_tiny(tmp_path, seeds=(0,)), out=out, progress=False,
                       allow_code=True)
    assert not (out / "results").exists()  # the refused run touched nothing
    # a live process on this host holds it too
    (out / "run.lock").write_text(json.dumps(dict(holder, host=socket.gethostname(),
                                                  pid=os.getpid())))
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        run_experiment(write_tiny(tmp_path, seeds=(0,)), out=out, progress=False,
                       allow_code=True)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    pid = _dead_pid()
    (out / "run.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": pid,
                                              "started": "2026-11-29T10:00:00Z"}))
    s = run_experiment(write_tiny(tmp_path, seeds=(0,), bin_widths=(1e-3,)), out=out,
                       progress=False, allow_code=True)
    assert s.n_ok == 3
    assert any("stale lock" in m and f"process {pid}" in m for m in s.messages)
    assert not (out / "run.lock").exists()


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "out"
    sims = out / "cache" / "sims"
    sims.mkdir(parents=True)
    host = socket.gethostname().replace(".", "_")
    dead = sims / f".abc.{host}.{_dead_pid()}.0123.tmp.npz"
    old = sims / ".def.4242.99.tmp.npz"  # an older name without host, two days old
    live = sims / f".ghi.{host}.{os.getpid()}.4567.tmp.npz"
    for p in (dead, old, live):
        p.write_bytes(b"partial")
    two_days = time.time() - 2 * 86400
    os.utime(old, (two_days, two_days))
    s = run_experiment(write_tiny(tmp_path, seeds=(0,), bin_widths=(1e-3,)), out=out,
                       progress=False, allow_code=True)
    assert not dead.exists() and not old.exists() and live.exists()
    assert any("removed 2 stale temporary" in m for m in s.messages)


def test_failed_row_write_keeps_the_old_row_and_leaves_no_temporary(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    store = ResultStore(tmp_path)
    store.prepare(None, {})
    path = store.write_row({"job_id": "j1", "status": "ok", "auc": 0.9})
    before = path.read_bytes()

    def broken(table, where, **kw):
        with open(where, "wb") as f:
            f.write(b"PAR1 trunc")  # a partial file, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="No space left"):
        store.write_row({"job_id": "j1", "status": "ok", "auc": 0.1})
    assert path.read_bytes() == before
    assert not list(store.results_dir.glob(".*"))


# -- the seed tree in a job --------------------------------------------------------------------
def test_job_network_is_drawn_from_the_network_stream():
    net = {"builder": "brunel", "params": {"n_neurons": 60, "epsilon": 0.2}}
    from spikewire.networks import brunel

    a = build_network(net, 3).weights
    b = brunel(60, epsilon=0.2, seed=seed_tree(3)["network"]).weights
    np.testing.assert_array_equal(a.indices, b.indices)
    # a seed fixed in the params wins
    c = build_network({**net, "params": {**net["params"], "seed": 11}}, 3).weights
    d = brunel(60, epsilon=0.2, seed=11).weights
    np.testing.assert_array_equal(c.indices, d.indices)


def test_same_spec_same_bytes_for_a_whole_job(tmp_path):
    # a jittered, subsampled observation exercises every stream of the seed tree
    text = tiny_spec(seeds=(4,), bin_widths=(1e-3,)).replace(
        'name = "all"\nsteps = []',
        'name = "all"\nsteps = [{ step = "subsample", fraction = 0.5 }, '
        '{ step = "jitter", sigma = 2e-4 }]')
    spec = _write(tmp_path, text)
    _, jobs, _ = plan(spec, allow_code=True)
    job = jobs[0]
    from spikewire.core.spiketrains import SpikeTrains
    from spikewire.experiments.job import run_job

    rows, spikes = [], []
    for k in range(2):
        row = run_job(job, tmp_path / f"cache{k}", tmp_path / f"art{k}")
        assert row["status"] == "ok", row.get("error_message")
        rows.append({c: v for c, v in row.items() if not c.startswith("time_")
                     and c not in ("finished_at", "host")})
        spikes.append(SpikeTrains.load(next((tmp_path / f"cache{k}").glob("*.npz"))))
    assert rows[0] == rows[1]
    np.testing.assert_array_equal(spikes[0].times, spikes[1].times)
    np.testing.assert_array_equal(spikes[0].unit_ids, spikes[1].unit_ids)
    with np.load(tmp_path / "art0" / f"{job.job_id}.npz") as a, \
            np.load(tmp_path / "art1" / f"{job.job_id}.npz") as b:
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_registered_izhikevich_builder_runs_without_allow_code(tmp_path):
    text = """
[experiment]
name = "izh"
duration = 0.5
dt = 1e-4
seeds = [0]

[[networks]]
name = "izh"
builder = "izhikevich"
params = { n_neurons = 60, out_degree = 10 }

[[methods]]
name = "partial_corr"

[runner]
kind = "inprocess"
"""
    s = run_experiment(_write(tmp_path, text), out=tmp_path / "o", progress=False)
    assert (s.n_ok, s.n_failed) == (1, 0)
    # a dt the AdEx engine refuses (finer than 0.1 ms needed) fails before simulating
    adex = text.replace('builder = "izhikevich"', 'builder = "adex"').replace(
        "out_degree = 10", "epsilon = 0.2").replace("dt = 1e-4", "dt = 5e-4")
    with pytest.raises(SpecError, match=r"experiment\.dt = 0\.0005 s is outside the adex "
                                        r"engine's range \[1e-05, 0\.0001\] s; set "):
        plan(_write(tmp_path, adex))


def test_rebuilding_a_stored_cell_never_runs_spec_code(tmp_path):
    # what a report does with a result folder it is given: registered builders only
    marker = tmp_path / "ran"
    cell = {"builder": "os:system", "params": {"command": f"touch {marker}"}}
    with pytest.raises(CodeNotAllowedError, match="'os:system' is not registered"):
        build_network(cell, 0)
    assert not marker.exists()


def test_registered_method_with_a_bad_setting_fails_before_simulating(tmp_path):
    # issue 11: a sweep with alpha = 1.5 used to simulate everything and fail as error rows
    text = """
[experiment]
name = "bad_alpha"
duration = 1.0
seeds = [0]

[[networks]]
name = "n"
builder = "brunel"
params = { n_neurons = 50 }

[[methods]]
name = "ccg"
settings = { alpha = 1.5 }

[runner]
kind = "inprocess"
"""
    out = tmp_path / "o"
    with pytest.raises(SpecError, match=r"methods\[0\]: ccg: setting alpha=1\.5 is not valid; "
                                        r"alpha must be a finite number in \(0, 1\)"):
        run_experiment(_write(tmp_path, text), out=out, progress=False)
    assert not out.exists()


def test_every_public_network_builder_is_registered():
    """Every public function of spikewire.networks that returns a Network can be named in a
    spec (binary networks excepted: the runner does not simulate them), with the right
    seed flag."""
    import inspect

    import spikewire.networks as nets
    from spikewire.experiments import BUILDERS

    public = {name: getattr(nets, name) for name in nets.__all__
              if inspect.isfunction(getattr(nets, name))
              and inspect.signature(getattr(nets, name)).return_annotation == "Network"}
    assert set(public) == set(BUILDERS)
    for name, fn in public.items():
        assert BUILDERS[name] == (name, "seed" in inspect.signature(fn).parameters), name


def test_method_warnings_are_kept_in_the_results_table(tmp_path):
    # 0.6 s of a 60-neuron network at ~50 Hz (~30 spikes per unit, ~0.8 expected
    # coincidences per 0.5 ms bin) is too short for ccg's test over its 25 ms window: the
    # method warns, and each ccg row keeps that warning; rows of a method that does not
    # warn get an empty string
    text = tiny_spec(seeds=(0,), bin_widths=(1e-3,)).replace(
        "[runner]", '[[methods]]\nname = "ccg"\n\n[runner]').replace(
        "duration = 2.0", "duration = 0.6")
    s = run_experiment(_write(tmp_path, text), out=tmp_path / "o", progress=False,
                       allow_code=True)
    assert s.n_failed == 0 and s.n_ok == 6
    df = load_results(tmp_path / "o")
    ccg = df[df["method"] == "ccg"]
    assert len(ccg) == 3
    assert ccg["warnings"].str.contains("UserWarning: ccg:").all()
    assert ccg["warnings"].str.contains("recording of about").all()
    assert (df.loc[df["method"] == "lagcorr_test", "warnings"] == "").all()
