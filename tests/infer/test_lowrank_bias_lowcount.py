"""The bias test at low spike counts per bin: pooled bins and the parametric-bootstrap
(Bartlett) calibration of :func:`spikewire.infer.lowrank.bias_test` (issue 14)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from scipy.stats import binom, chi2

from spikewire.infer.lowrank import bias_test
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank

OFF, GAIN = 12.5, 7.5      # Hz (5–20 Hz), as benchmarks/bench_lrbias.py
REPEATS = 4                # 0.5 spikes per unit and 10-ms bin: far below MIN_COUNT


def _counts(net, seed, repeats=REPEATS):
    phi = simulate_lowrank(net, initial_grid(6, 2.4), 50).activity()
    rng = np.random.default_rng(seed)
    return rng.poisson(repeats * (OFF + GAIN * phi) * net.dt).astype(float)


def _test(Y, **kw):
    kw.setdefault("exposure", REPEATS)
    return bias_test(Y, 2, rate_offset=OFF, rate_gain=GAIN, bin_width=0.01, **kw)


def test_pool_bins_sums_and_exposures():
    """Pooled bins are the sums of ``k`` consecutive bins of a trial (the last group of a
    trial shorter), their exposure repeats × bins summed; k = 1 at or above min_count."""
    B = sys.modules["spikewire.infer._lowrank_bias"]
    Y3 = np.random.default_rng(0).poisson(0.5, size=(3, 7, 4)).astype(float)
    Y3[0, 0, 0] += 5.0                                   # mean count known below
    mean = Y3.mean()
    k_expected = int(np.ceil(2.0 / mean))
    Yp, scale, k = B.pool_bins(Y3, np.array([1.0, 2.0, 3.0]), 2.0)
    assert k == k_expected and 1 < k < 7
    groups = -(-7 // k)
    assert Yp.shape == (3 * groups, 4) and scale.shape == (3 * groups, 1)
    ref = np.stack([np.stack([Y3[t, g * k:(g + 1) * k].sum(0) for g in range(groups)])
                    for t in range(3)]).reshape(-1, 4)
    np.testing.assert_array_equal(Yp, ref)
    lengths = np.array([min(k, 7 - g * k) for g in range(groups)], float)
    np.testing.assert_allclose(scale[:, 0], np.concatenate([e * lengths for e in (1, 2, 3)]))
    assert Yp.sum() == Y3.sum()
    Yq, sq, k1 = B.pool_bins(Y3, 1.0, mean)               # reached already: unchanged
    assert k1 == 1 and np.array_equal(Yq, Y3.reshape(-1, 4)) and np.all(sq == 1.0)


def test_low_counts_converge_and_keep_their_level():
    """d = 0 networks (bistable, N = 60, 10 network seeds) at 0.5 spikes per unit and bin:
    the fits converge (the unpooled per-bin maximum likelihood does not exist there: the
    latents run off to infinity), and the calibrated test's false alarms at 0.05 are at
    most 2 of 10 (P(≥ 3 | 10, 0.05) = 1.2 %), its z values' mean within 3 sd (1/√10) of
    0. Without the calibration the same statistic is inflated at lower counts
    (benchmarks/results/lrauto.md: 27/60 false alarms at 0.06 spikes per bin, N = 200)."""
    assert binom.sf(2, 10, 0.05) < 0.012
    res = []
    for s in range(10):
        Y = _counts(lowrank_preset("bistable", 60, seed=100 + s), s)
        assert Y.mean() < 1.0
        r = _test(Y)
        assert r["converged"] and r["pooled_bins"] > 10 and r["calibration_draws"] == 20
        assert r["calibration_converged"] >= 18 and r["bartlett"] >= 1.0
        assert r["statistic"] == pytest.approx(r["statistic_raw"] / r["bartlett"])
        res.append(r)
    p = np.array([r["p"] for r in res])
    z = np.array([r["z"] for r in res])
    assert np.sum(p < 0.05) <= 2, p
    assert abs(z.mean()) < 3 / np.sqrt(10), z
    assert sum(r["decision"] == "zero" for r in res) == np.sum(p >= 0.05)


def test_low_counts_power():
    """The same loadings with biases d ~ N(0, 0.3²) at 0.5 spikes per bin: "fit" with p
    far below 0.05 (measured 6e-65), the fitted biases' sd outside span(m) about the
    planted one."""
    net = lowrank_preset("bistable", 60, seed=100)
    d = 0.3 * np.random.default_rng(0).standard_normal(60)
    biased = lowrank_network(net.m, net.n, d=d, alpha=net.alpha, dt=net.dt)
    r = _test(_counts(biased, 0))
    assert r["decision"] == "fit" and r["p"] < 1e-10 and r["converged"], r
    assert 0.15 < r["d_sd"] < 0.45, r["d_sd"]


def test_calibration_settings():
    """n_calibration=0 gives the uncalibrated statistic (c = 1); the default calibrates
    only pooled bins; seeds make it reproducible; bad settings raise naming the value."""
    Y = _counts(lowrank_preset("ring", 40, seed=1), 1)
    raw = _test(Y, n_calibration=0)
    assert raw["bartlett"] == 1.0 and raw["calibration_draws"] == 0
    assert raw["statistic"] == raw["statistic_raw"]
    a, b = _test(Y, n_calibration=4, seed=3), _test(Y, n_calibration=4, seed=3)
    assert a["p"] == b["p"] and a["statistic_raw"] == raw["statistic_raw"]
    # min_count=0: never pooled, hence not calibrated by default (and, at these counts,
    # not converged: the maximum likelihood does not exist; decision "fit" with a warning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        un = _test(Y, min_count=0.0, n_rounds=15)
    assert un["pooled_bins"] == 1 and un["calibration_draws"] == 0
    assert not un["converged"] and un["decision"] == "fit"
    assert any("did not converge" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:  # warn=False: the result says it
        warnings.simplefilter("always")
        quiet = _test(Y, min_count=0.0, n_rounds=15, warn=False)
    assert not caught and not quiet["converged"] and quiet["decision"] == "fit"
    assert quiet["p"] == un["p"]
    for kw, msg in (({"min_count": -1.0}, "min_count=-1.0"),
                    ({"n_calibration": 1}, "n_calibration=1"),
                    ({"n_calibration": 2.5}, "n_calibration=2.5"),
                    ({"exposure": np.ones(3)}, "exposure="),
                    ({"exposure": -1.0}, "exposure=-1.0"),
                    ({"decide_only": "yes"}, "decide_only='yes'"),
                    ({"warn": None}, "warn=None")):
        with pytest.raises(ValueError, match=msg):
            _test(Y, **kw)
    with pytest.raises(ValueError, match="bin_width=0"):
        bias_test(Y, 2, rate_offset=OFF, rate_gain=GAIN, bin_width=0)


def test_decide_only_skips_the_calibration_only_where_it_cannot_change_the_decision():
    """``decide_only=True`` (what the low-rank methods use) gives the full test's decision
    on every case: d = 0 networks at 0.5 spikes per bin (uncalibrated p >= 0.05: no
    calibration, p the uncalibrated one, below the calibrated), planted biases (p far
    below 0.05: calibrated, the full test's result exactly), fits stopped before
    convergence (n_rounds=1: "fit" without calibration)."""
    skipped = 0
    for s in range(3):
        Y = _counts(lowrank_preset("bistable", 60, seed=100 + s), s)
        full, fast = _test(Y), _test(Y, decide_only=True)
        assert fast["decision"] == full["decision"]
        assert fast["statistic_raw"] == full["statistic_raw"]
        raw_p = chi2.sf(full["statistic_raw"], full["df"])
        if raw_p >= 0.05:
            skipped += 1
            assert fast["calibration_draws"] == 0 and "uncalibrated p" in \
                fast["calibration_skipped"]
            assert fast["p"] == pytest.approx(raw_p) and fast["p"] <= full["p"]
        else:
            assert fast["p"] == full["p"] and fast["calibration_skipped"] is None
    assert skipped >= 1
    net = lowrank_preset("bistable", 60, seed=100)
    d = 0.3 * np.random.default_rng(0).standard_normal(60)
    Yb = _counts(lowrank_network(net.m, net.n, d=d, alpha=net.alpha, dt=net.dt), 0)
    full, fast = _test(Yb), _test(Yb, decide_only=True)
    assert fast["calibration_draws"] == 20 and fast["calibration_skipped"] is None
    assert fast["p"] == full["p"] and fast["decision"] == full["decision"] == "fit"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full, fast = _test(Yb, n_rounds=1), _test(Yb, n_rounds=1, decide_only=True)
    assert not fast["converged"] and fast["decision"] == full["decision"] == "fit"
    assert fast["calibration_draws"] == 0 and full["calibration_draws"] == 20
    assert "did not converge" in fast["calibration_skipped"]
