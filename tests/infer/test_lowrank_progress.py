"""Progress bars of the low-rank methods (``progress=True``): each stage shows one, and
the bars change nothing in the estimate."""

from __future__ import annotations

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer._params import InvalidSettingError

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/infer/conftest.py


def _planted(Ns: int, N: int):
    from test_lowrank_null import _planted_limit_cycle

    return _planted_limit_cycle(Ns, N)


def test_lowrank_shows_each_stage_and_returns_the_same_estimate(capsys, monkeypatch):
    """The bias test, the Adam restarts and the gate's fits (one worker process and this
    one) each get a bar on stderr; stdout stays clean; weights, p-values and the gate's
    p equal those without bars."""
    import sys

    # a test run earlier in this process may have tested these counts (the same planted
    # recording): start from an empty cache, or the bias test shows no bar
    monkeypatch.setattr(sys.modules["spikewire.infer.lowrank"], "_BIAS_CACHE", {})
    rec = _planted(20, 28)
    kw = dict(n_iter=30, n_restarts=2, gate_units=14, n_jobs=2)
    # with bars first: the bias test's result is remembered for the same counts
    shown = sw.infer(rec, "lowrank", progress=True, **kw)
    out = capsys.readouterr()
    quiet = sw.infer(rec, "lowrank", **kw)
    assert capsys.readouterr().err == ""
    assert out.out == ""
    starts = len(shown.diagnostics["restart_losses"])       # the restarts and the Poisson start
    for label in ("lowrank front end: bias test, pairs of factor-model fits",
                  f"lowrank front end: Adam, {starts} starts",
                  "lowrank: significance gate, fits done (1 worker process and this one)"):
        assert label in out.err, label
    # the bar counts the gate's tasks: the data's drive fit with the held-out test, and
    # one per refitted shift surrogate (none with the default held-out shift test: tqdm
    # shows "0/1" when it opens; "0/4" with shift_test="refit")
    n_tasks = len(shown.diagnostics["surrogate_gate"]["surrogate_losses"]) + 1
    assert n_tasks == 1
    assert f"0/{n_tasks}" in out.err
    np.testing.assert_array_equal(quiet.weights, shown.weights)
    np.testing.assert_array_equal(quiet.pvalues, shown.pvalues)
    assert quiet.diagnostics["surrogate_gate"]["p"] == shown.diagnostics["surrogate_gate"]["p"]


def test_lowrank_flow_shows_the_flows_and_the_refinement(capsys):
    """``lowrank_flow`` adds the L-BFGS refinement's and both flows' bars (the flow over
    (m, d) or m, and the conditional flow of n given them), and the same estimate."""
    rec = _planted(12, 12)
    kw = dict(n_iter=10, n_restarts=1, refine_iter=5, flow_iter=30, n_surrogates=0,
              biases="zero")
    quiet = sw.infer(rec, "lowrank_flow", **kw)
    capsys.readouterr()
    shown = sw.infer(rec, "lowrank_flow", progress=True, **kw)
    err = capsys.readouterr().err
    starts = len(shown.diagnostics["restart_losses"])
    for label in (f"lowrank_flow front end: Adam, {starts} start",
                  "lowrank_flow front end: L-BFGS evaluations (at most)",
                  "lowrank_flow: flow over 2 coordinates",
                  "lowrank_flow: flow over 2 coordinates given 3"):
        assert label in err, label
    assert "0/30" in err
    assert "significance gate" not in err and "bias test" not in err
    np.testing.assert_array_equal(quiet.weights, shown.weights)


@pytest.mark.parametrize("method", ["lowrank", "lowrank_flow"])
def test_progress_must_be_a_boolean(method):
    rec = _planted(6, 6)
    with pytest.raises(InvalidSettingError, match="progress"):
        sw.infer(rec, method, progress="yes")
