"""The bias test and the ``biases`` option of the low-rank methods (issue 14)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer.lowrank import bias_test, fit_lowrank
from spikewire.infer.lowrank_flow import fit_loading_distribution
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.simulate.lowrank import initial_grid, observe_spikes, simulate_lowrank

torch = pytest.importorskip("torch")   # the optional extra; CI installs it

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/infer/conftest.py

OFF, GAIN = 12.5, 7.5      # Hz (5–20 Hz), as benchmarks/bench_lrbias.py


def _counts(net, seed, repeats=64):
    phi = simulate_lowrank(net, initial_grid(6, 2.4), 50).activity()
    rng = np.random.default_rng(seed)
    return rng.poisson(repeats * (OFF + GAIN * phi) * net.dt).astype(float)


@pytest.fixture(scope="module")
def ring():
    return lowrank_preset("ring", 80, seed=3)


def test_bias_test_zero_without_biases_fit_with_them(ring):
    """Counts of a d = 0 network: Λ is a χ² draw with N − R = 78 degrees of freedom, so its
    z = (Λ − df)/√(2 df) is within ±3 (a null draw leaves that band with probability
    < 0.3 %; benchmarks/results/lrbias.md measures the false-alarm rate on many); the
    decision is "zero". The same loadings with d ~ N(0, 0.3²): the test's p is far below
    0.05 (measured < 1e-100) and the decision "fit"."""
    # 8 spikes per unit and bin: min_count=5 keeps the bins as they are (uncalibrated χ²,
    # as measured in lrbias.md; pooling and its calibration: test_lowrank_bias_lowcount.py)
    kw = dict(rate_offset=OFF, rate_gain=GAIN, bin_width=ring.dt, exposure=64, min_count=5.0)
    null = bias_test(_counts(ring, 1), 2, **kw)
    assert null["df"] == 78
    assert abs(null["z"]) < 3 and null["decision"] == "zero" and null["p"] >= 0.05, null
    assert null["loglik_fit"] >= null["loglik_zero"]          # H1 starts at H0's optimum
    d = 0.3 * np.random.default_rng(0).standard_normal(80)
    biased = lowrank_network(ring.m, ring.n, d=d, alpha=ring.alpha, dt=ring.dt)
    alt = bias_test(_counts(biased, 1), 2, **kw)
    assert alt["decision"] == "fit" and alt["p"] < 1e-10, alt
    # the fitted biases' part outside span(m) has about the planted sd
    assert 0.2 < alt["d_sd"] < 0.4, alt["d_sd"]


def test_bias_test_errors(ring):
    Y = _counts(ring, 0)
    kw = dict(rate_offset=OFF, rate_gain=GAIN, bin_width=ring.dt)
    with pytest.raises(ValueError, match="spike counts"):
        bias_test(-Y, 2, **kw)
    with pytest.raises(ValueError, match="rank=80"):
        bias_test(Y, 80, **kw)
    with pytest.raises(ValueError, match="level=1.5"):
        bias_test(Y, 2, level=1.5, **kw)


def test_fit_lowrank_zero_biases(ring):
    act = simulate_lowrank(ring, initial_grid(3, 2.4), 30).activity()
    fit = fit_lowrank(act, 2, n_restarts=1, n_iter=20, refine_iter=5, biases="zero")
    assert fit.biases == "zero" and np.all(fit.d == 0.0)
    free = fit_lowrank(act, 2, n_restarts=1, n_iter=20, biases="fit")
    assert free.biases == "fit" and np.any(free.d != 0.0)
    with pytest.raises(ValueError, match=r"biases='yes'.*'fit'.*'zero'"):
        fit_lowrank(act, 2, biases="yes")
    # the flow of a zero-bias fit samples d = 0 and is a flow over m (dimension R)
    dist, info = fit_loading_distribution(fit, n_iter=5, targets_from="flow", n_draws=1,
                                          population=80)
    s = dist.sample(50, seed=1)
    assert info["zero_bias"] and np.all(s["d"] == 0.0) and s["m"].shape == (50, 2)
    assert dist.flow_md.dim == 2
    assert np.all(np.isfinite(dist.log_prob(s["m"], s["d"], s["n"])))


def test_method_biases_option(ring, monkeypatch):
    """``biases="auto"`` runs the bias test on the counts of every front-end fit (the
    estimate's and each gate fit's) and fits with its decision, recorded in the
    diagnostics (the test is replaced by a stub that says "zero": the plumbing is tested
    here, the test itself above); "fit"/"zero" are passed through untested; a bad value
    raises naming it and the choices."""
    lr = sys.modules["spikewire.infer.lowrank"]
    act = simulate_lowrank(ring, initial_grid(5, 2.4), 40)
    rec = observe_spikes(act, rate_offset=50.0, rate_gain=50.0, seed=1)
    kw = dict(rate_offset=50.0, rate_gain=50.0, n_iter=3, n_restarts=1)
    seen, tested = [], []
    real = lr.fit_lowrank

    def spy(*a, **k):
        seen.append(k.get("biases"))
        return real(*a, **k)

    def stub(Y, rank, **k):
        tested.append((Y.shape, rank, k["rate_offset"], k["rate_gain"], k["bin_width"]))
        return {"decision": "zero", "p": 0.5}

    monkeypatch.setattr(lr, "fit_lowrank", spy)
    monkeypatch.setattr(lr, "bias_test", stub)
    monkeypatch.setattr(lr, "_BIAS_CACHE", {})
    est = sw.infer(rec, "lowrank", biases="auto", n_surrogates=2, n_reversals=2,
                   shift_test="refit", **kw)
    b = est.diagnostics["biases"]
    assert b == {"setting": "auto", "used": "zero", "test": {"decision": "zero", "p": 0.5}}
    assert np.all(est.diagnostics["d"] == 0.0)
    # the estimate's fit, the drive fit, 2 shift surrogates, the held-out test (its 2
    # folds share one decision): 6 fits, all with d = 0; the counts of the estimate's
    # fit, the drive fit and the held-out test are the same (25 chunks × 40 bins × 80
    # units) and tested once, each shift surrogate's on its own: 3 tests
    assert len(tested) == 3 and seen == ["zero"] * 6, (tested, seen)
    assert tested[0] == ((25, 40, 80), 2, 50.0, 50.0, 0.01)
    seen.clear()
    tested.clear()
    est = sw.infer(rec, "lowrank_flow", biases="fit", n_surrogates=0, flow_iter=3, **kw)
    assert seen == ["fit"] and not tested
    assert est.diagnostics["biases"] == {"setting": "fit", "used": "fit"}
    monkeypatch.setattr(lr, "fit_lowrank", real)
    for method, extra in (("lowrank", {}), ("lowrank_flow", {"flow_iter": 1})):
        with pytest.raises(ValueError, match=r"biases.*'maybe'"):
            sw.infer(rec, method, biases="maybe", n_iter=1, **extra)


def test_unconverged_bias_test_warns_in_the_methods_terms(ring, monkeypatch):
    """A bias test whose factor-model fits do not converge (forced here: the real test
    with ``n_rounds=1``) decides "fit". For the estimate's fit one warning says so in the
    method's terms (``biases='fit'`` / ``'zero'``, settings the user can reach; the
    test's own warning names ``n_rounds`` and ``min_count``, which the methods do not
    expose); the gate's fits do not warn but are counted in ``surrogate_gate``: the drive
    fit and the held-out test (the estimate's counts: the same cached test) and the two
    shift surrogates, 4 decisions, all "fit", all unconverged."""
    import functools
    import warnings

    lr = sys.modules["spikewire.infer.lowrank"]
    monkeypatch.setattr(lr, "bias_test", functools.partial(bias_test, n_rounds=1))
    monkeypatch.setattr(lr, "_BIAS_CACHE", {})
    act = simulate_lowrank(ring, initial_grid(5, 2.4), 40)
    rec = observe_spikes(act, rate_offset=50.0, rate_gain=50.0, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = sw.infer(rec, "lowrank", biases="auto", n_surrogates=2, n_reversals=2,
                       rate_offset=50.0, rate_gain=50.0, n_iter=3, n_restarts=1,
                       gate_units=None, n_jobs=1, shift_test="refit")
    texts = [str(w.message) for w in caught]
    ours = [t for t in texts if "biases='auto' could not test" in t]
    assert len(ours) == 1 and "biases='fit'" in ours[0] and "biases='zero'" in ours[0]
    assert not any("n_rounds" in t for t in texts), texts
    b = est.diagnostics["biases"]
    assert b["used"] == "fit" and not b["test"]["converged"]
    g = est.diagnostics["surrogate_gate"]
    assert g["bias_decisions"] == ["fit"] * 4 and g["bias_unconverged"] == 4
