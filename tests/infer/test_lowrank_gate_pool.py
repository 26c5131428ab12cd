"""The low-rank gate's refits in worker processes (``n_jobs``; ``_lowrank_gate_pool``)."""

from __future__ import annotations

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import _lowrank_gate_pool as gate_pool

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/infer/conftest.py


def _planted(Ns: int, N: int):
    from test_lowrank_null import _planted_limit_cycle

    return _planted_limit_cycle(Ns, N)


def test_workers_follow_n_jobs_the_size_and_the_device():
    """None: in process below ``MIN_POOL_ELEMENTS`` or off the CPU, else every available
    CPU; never more workers than tasks."""
    cpus = gate_pool.available_cpus()
    big = gate_pool.MIN_POOL_ELEMENTS
    assert gate_pool.n_workers(None, 5, big - 1, "cpu", 64) == 1
    assert gate_pool.n_workers(None, 5, big, "cuda", 64) == 1
    assert gate_pool.n_workers(None, 5, big, "cpu", 64) == min(cpus, 5)
    # None follows this process's torch threads (one in a sweep's workers)
    assert gate_pool.n_workers(None, 5, big, "cpu", 1) == 1
    assert gate_pool.n_workers(None, 5, big, "cpu", 2) == min(cpus, 2)
    assert gate_pool.n_workers(None, 1, big, "cpu", 64) == 1
    assert gate_pool.n_workers(-1, 64, 0, "cpu", 1) == min(cpus, 64)
    assert gate_pool.n_workers(3, 2, 0, "cpu", 1) == 2
    assert gate_pool.n_workers(1, 7, big, "cpu", 64) == 1


def test_gate_in_processes_equals_the_gate_in_process():
    """The planted network of ``test_lowrank_null`` (20 structured units of 28, the gate on
    14): two worker processes give the same gate, loss for loss, as the serial run (each
    call has its own seeds, and at this size one torch thread computes what two do), and
    the estimate's weights do not depend on ``n_jobs``."""
    rec = _planted(20, 28)
    kw = dict(n_iter=40, n_restarts=1, gate_units=14)
    serial = sw.infer(rec, "lowrank", n_jobs=1, **kw)
    pooled = sw.infer(rec, "lowrank", n_jobs=2, **kw)
    a = serial.diagnostics["surrogate_gate"]
    b = pooled.diagnostics["surrogate_gate"]
    assert a["gate_processes"] == 1 and b["gate_processes"] == 2
    for key in ("p", "t", "gain", "loss", "plain_loss", "surrogate_losses", "shift_p",
                "reversal_p", "reversal_forward", "reversal_reversed", "drive_b",
                "gate_units"):
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
    np.testing.assert_array_equal(serial.weights, pooled.weights)
    np.testing.assert_array_equal(serial.pvalues, pooled.pvalues)


def test_spawned_workers_give_the_same_gate(monkeypatch):
    """Where fork is missing (macOS, Windows) the workers are spawned: they get the method
    and the recording by pickling and import spikewire anew, and give the same gate."""
    import multiprocessing as mp

    rec = _planted(6, 8)
    kw = dict(n_iter=20, n_restarts=1, n_surrogates=2, chunk_steps=400)
    serial = sw.infer(rec, "lowrank", n_jobs=1, **kw)
    monkeypatch.setattr(mp, "get_all_start_methods", lambda: ["spawn"])
    spawned = sw.infer(rec, "lowrank", n_jobs=2, **kw)
    a = serial.diagnostics["surrogate_gate"]
    b = spawned.diagnostics["surrogate_gate"]
    assert b["gate_processes"] == 2
    for key in ("p", "loss", "surrogate_losses", "reversal_p", "drive_b"):
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
    assert mp.active_children() == []


def test_warnings_of_the_workers_reach_the_caller():
    """A warning raised inside a worker (here the held-out test's: fewer than 5 chunks)
    is raised again in the calling process, as in a serial run."""
    rec = _planted(6, 8)               # 16 trials of 200 steps: 4 chunks of 800
    kw = dict(n_iter=5, n_restarts=1, chunk_steps=800, trial_steps=800, gate_units=None,
              n_surrogates=2)
    for n_jobs in (1, 2):
        with pytest.warns(UserWarning, match="needs at least 5 chunks"):
            est = sw.infer(rec, "lowrank", n_jobs=n_jobs, **kw)
        g = est.diagnostics["surrogate_gate"]
        assert g["reversal_p"] == 1.0 and not g["passed"]
        assert g["gate_processes"] == n_jobs


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2"])
def test_n_jobs_is_validated(bad):
    rec = _planted(6, 8)
    for method in ("lowrank", "lowrank_flow"):
        with pytest.raises(ValueError, match="n_jobs"):
            sw.infer(rec, method, n_jobs=bad, n_iter=1, n_restarts=1)


def _small_gate_kw():
    return dict(n_iter=5, n_restarts=1, gate_units=None, n_reversals=0, n_jobs=2)


def test_an_error_in_a_worker_is_raised_here_and_the_workers_stop(monkeypatch):
    """An exception inside a gate fit in the worker (a patched call, inherited by the
    forked worker; this process's calls run as usual) reaches the caller with its type
    and message; no worker is left behind."""
    import multiprocessing as mp
    import os

    real, parent = gate_pool.call, os.getpid()

    def failing(method, ctx, kwargs):
        if os.getpid() != parent:
            raise FloatingPointError("boom in a surrogate fit")
        return real(method, ctx, kwargs)

    monkeypatch.setattr(gate_pool, "call", failing)
    rec = _planted(6, 8)
    with pytest.raises(FloatingPointError, match="boom in a surrogate fit"):
        sw.infer(rec, "lowrank", **_small_gate_kw())
    assert mp.active_children() == []


def test_a_worker_that_dies_gives_a_clear_error(monkeypatch):
    """A worker killed mid-task (here it exits, as the OOM killer would end it) does not
    leave the caller waiting: a RuntimeError names the exit code and the fix."""
    import multiprocessing as mp
    import os

    real, parent = gate_pool.call, os.getpid()

    def dying(method, ctx, kwargs):
        if os.getpid() != parent:
            os._exit(3)
        return real(method, ctx, kwargs)

    monkeypatch.setattr(gate_pool, "call", dying)
    rec = _planted(6, 8)
    with pytest.raises(RuntimeError, match=r"exit codes \[3\].*n_jobs=1"):
        sw.infer(rec, "lowrank", **_small_gate_kw())
    assert mp.active_children() == []


def test_a_daemonic_worker_fits_the_gate_itself(monkeypatch):
    """Inside a process pool's or Dask's (daemonic) worker no process may be started:
    the gate runs in the process, with a warning when ``n_jobs`` asked for more."""
    import multiprocessing as mp

    monkeypatch.setattr(mp.current_process(), "daemon", True)
    assert gate_pool.n_workers(None, 5, gate_pool.MIN_POOL_ELEMENTS, "cpu", 8) == 1
    with pytest.warns(UserWarning, match="daemonic worker"):
        assert gate_pool.n_workers(2, 5, 0, "cpu", 8) == 1
