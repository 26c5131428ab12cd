"""glmcc's synchrony term shaped by the population (``sync_tau="population"``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.stats import chi2

import spikewire as sw
from spikewire.infer.glmcc import (
    DEFAULT_DELAYS,
    GLMCC,
    SYNC_TEMPLATE_MARGIN,
    SYNC_TEMPLATE_MIN_PAIRS,
    population_sync_template,
)

DELTA = 0.001
LAGS = DELTA * (np.arange(101) - 50)            # centred 1 ms lattice bins, −50 … 50 ms
# a fast shared rhythm a smooth a(t) cannot follow (3 ms period, ±0.5 in log rate,
# damped over ~15 ms) on a broad synchrony peak
SHARED = (0.5 * np.cos(2 * np.pi * LAGS / 0.003) * np.exp(-np.abs(LAGS) / 0.015)
          + 0.3 * np.exp(-np.abs(LAGS) / 0.010))


def _detrended(g):
    return g - uniform_filter1d(g, 5, mode="nearest")


def test_template_is_the_shared_shape_without_its_slow_part():
    # 200 pairs, each with its own level and its own slow drift, share the fast rhythm:
    # the template is log of the mean normalised correlogram less its 5 ms running mean,
    # so it must match the rhythm's detrended log-shape to within the Poisson noise
    # (≈ 1/sqrt(200 pairs × 400 counts) ≈ 0.004 per bin; 0.02 allows the log of the
    # mean of ratios against the mean of logs, a second-order difference)
    rng = np.random.default_rng(0)
    levels = rng.uniform(200, 600, 200)
    drift = rng.normal(0, 0.1, 200)[:, None] * LAGS[None, :] / 0.05
    counts = rng.poisson(levels[:, None] * np.exp(SHARED[None, :] + drift))
    g = population_sync_template(counts, DELTA)
    assert g.shape == (101,)
    np.testing.assert_allclose(g, g[::-1])                  # symmetric in the lag
    want = _detrended(np.log(np.exp(SHARED) / np.exp(SHARED).mean()))
    inner = slice(5, -5)                                     # away from the edges' filter
    assert np.max(np.abs(g[inner] - want[inner])) < 0.02
    assert np.corrcoef(g, want)[0, 1] > 0.99
    # no coincidence anywhere: a flat template, not NaN
    np.testing.assert_array_equal(population_sync_template(np.zeros((5, 101)), DELTA), 0.0)


def test_inhibitory_link_under_a_fast_rhythm_keeps_its_sign():
    # Lattice correlograms sharing the fast rhythm above; in a third of the pairs the unit
    # at lag > 0 is inhibited for one bin at +2 ms (−0.6 in log rate), the situation of a
    # fast synchronous Brunel network where the default exponential synchrony term fits
    # inhibitory links with J > 0 (benchmarks/results/sync33.md). With the population's
    # template every linked pair must be found with a negative J at its delay, and pairs
    # without a link must stay near the test's level.
    rng = np.random.default_rng(3)
    n_link, n_free = 30, 60
    base = 400.0 * np.exp(SHARED)
    link = base * np.where(np.isclose(LAGS, 0.002), np.exp(-0.6), 1.0)
    counts = np.vstack([rng.poisson(np.tile(link, (n_link, 1))),
                        rng.poisson(np.tile(base, (n_free, 1)))])
    zeros = np.zeros((counts.shape[0], len(DEFAULT_DELAYS)))
    out, _ = GLMCC(sync_tau="population").fit_statistics(counts, zeros, zeros, lattice=True)
    assert np.all(out[:, 8] == 1.0)
    n_d = len(DEFAULT_DELAYS)
    p_fwd = np.minimum(1, n_d * chi2.sf(np.maximum(2 * (out[:, 7] - out[:, 9]), 0), 1))
    p_rev = np.minimum(1, n_d * chi2.sf(np.maximum(2 * (out[:, 7] - out[:, 10]), 0), 1))
    linked = slice(0, n_link)
    assert np.all(out[linked, 0] < 0) and np.mean(p_fwd[linked] < 0.01) >= 0.9
    # the one-bin dip at the 2 ms lag: delay 2 ms, or 1.5 ms (the 1 ms kernel from 1.5 ms
    # covers the same lattice bin)
    d = np.asarray(DEFAULT_DELAYS)[out[linked, 6].astype(int)]
    assert np.all((d >= 0.0015) & (d <= 0.002))
    # unlinked pairs and reverse directions: ≤ 10 % at α = 0.01 (chance and the LR
    # test's approximations, as in test_glmcc's synchrony test)
    assert np.mean(p_fwd[n_link:] < 0.01) <= 0.1 and np.mean(p_rev < 0.01) <= 0.1


def _poisson_units(n, duration=120.0, seed=0):
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0, duration, rng.poisson(10 * duration))) for _ in range(n)]
    return sw.SpikeTrains.from_lists(trains, t_stop=duration)


def test_population_needs_enough_pairs_and_a_grid_drops_it():
    few = _poisson_units(5)                                  # 10 pairs < 45
    assert SYNC_TEMPLATE_MIN_PAIRS == 45
    with pytest.raises(ValueError, match="at least 45"):
        GLMCC(sync_tau="population").fit(few)
    grid = GLMCC(sync_tau=(0.002, "population")).fit(few)
    assert "sync_population_skipped" in grid.diagnostics
    single = GLMCC(sync_tau=0.002).fit(few)
    np.testing.assert_array_equal(grid.pvalues, single.pvalues)


def test_grid_takes_the_template_only_past_its_margin():
    # the template replaces the best width only where its summed log posterior is higher
    # by more than SYNC_TEMPLATE_MARGIN nats per 1,000 coincidences; the result equals the
    # single fit with the chosen term
    st = _poisson_units(12, duration=200.0, seed=4)         # 66 pairs
    grid = GLMCC(sync_tau=(0.002, "population")).fit(st)
    sums = grid.diagnostics["sync_tau_log_posterior"]
    assert set(sums) == {"0.002", "population"}
    per_1000 = grid.diagnostics["sync_template_gain_per_1000"]
    n_coinc = grid.diagnostics["coincidences_per_pair_median"] * 66
    # the rate of gain is the difference of the sums per 1,000 coincidences (the median
    # pair's count stands in for the mean here: equal rates, so within 10 %)
    assert per_1000 == pytest.approx(1e3 * (sums["population"] - sums["0.002"]) / n_coinc,
                                     rel=0.1, abs=1e-3)
    chosen = grid.diagnostics["sync_tau_s"]
    assert chosen == ("population" if per_1000 > SYNC_TEMPLATE_MARGIN else 0.002)
    single = GLMCC(sync_tau=chosen).fit(st)
    np.testing.assert_array_equal(grid.pvalues, single.pvalues)
    assert ("sync_template" in grid.diagnostics) == (chosen == "population")
    # independent units: no call either way
    assert not grid.adjacency().any()


@pytest.mark.parametrize("gain_8ms, gain_template, share, expect", [
    (3.0, 2.5, 0.6, "population"),   # 3.0 − 1.0 < 2.5 − 0.05
    (3.0, 1.5, 0.6, 0.008),          # 3.0 − 1.0 > 1.5 − 0.05
    (3.0, 1.5, None, 0.008),         # no share given: no gate
    (3.0, 1.5, 0.3, "population"),   # the 2 ms null holds: no wider width
    (3.0, 0.04, 0.12, 0.002),
    (0.9, 0.04, 0.6, 0.002),         # neither clears its margin: the reference
    (0.9, 0.06, 0.6, "population"),  # the template clears its own, the width does not
    (-2.0, -1.0, 0.9, 0.002),
])
def test_grid_of_widths_and_template_takes_the_largest_gain_past_its_margin(
        gain_8ms, gain_template, share, expect):
    # every candidate's summed log posterior against the narrowest width's, per 1,000
    # coincidences, less its margin (SYNC_WIDTH_MARGIN for a wider width,
    # SYNC_TEMPLATE_MARGIN for the template); the largest positive one wins; a wider
    # width only where the narrowest leaves more than 30 % of tests at p < 0.05
    from spikewire.infer.glmcc import SYNC_WIDTH_MARGIN

    assert (SYNC_WIDTH_MARGIN, SYNC_TEMPLATE_MARGIN) == (1.0, 0.05)
    counts = np.full((50, 100), 40.0)                       # 200,000 coincidences
    base = np.zeros((50, 11))
    base[:, 8] = 1.0
    base[:, 7] = -1e4
    outs = []
    for gain in (0.0, gain_8ms, gain_template):
        o = base.copy()
        o[:, 7] += gain * counts.sum() / 1e3 / 50            # the summed gain, spread evenly
        outs.append(o)
    k, diag = GLMCC._choose_sync([0.002, 0.008, "population"], outs, counts, share)
    assert [0.002, 0.008, "population"][k] == expect == diag["sync_tau_s"]
    assert diag["sync_gain_per_1000"]["0.008"] == pytest.approx(gain_8ms)
    assert diag["sync_gain_per_1000"]["population"] == pytest.approx(gain_template)
    assert diag["sync_template_gain_per_1000"] == pytest.approx(
        gain_template - max(0.0, gain_8ms))


@pytest.mark.parametrize("bad", ["populations", ("population", -0.002), (), ["x"]])
def test_bad_sync_tau_is_refused(bad):
    with pytest.raises(ValueError, match="sync_tau"):
        GLMCC(sync_tau=bad).fit(_poisson_units(10))


def test_a_given_template_of_the_wrong_length_is_refused():
    zeros = np.zeros((3, len(DEFAULT_DELAYS)))
    counts = np.ones((3, 101))
    with pytest.raises(ValueError, match="one value per bin"):
        GLMCC(sync_tau="population").fit_statistics(counts, zeros, zeros, lattice=True,
                                                    sync_template=np.zeros(100))


def test_null_fit_without_convergence_is_a_failed_fit_not_a_nan_pvalue():
    # the LR test's null fits (J⁺ = 0 / J⁻ = 0) can fail to converge where the full fit
    # did: the direction gets status fit_failed (5), never a NaN p-value (which Estimate
    # refuses as unexplained)
    method = GLMCC()
    out = np.zeros((1, 11))
    out[0, [0, 1]] = 0.3, -0.2            # J⁺, J⁻
    out[0, [2, 3]] = 0.01                 # variances
    out[0, [4, 5]] = 5000.0               # c̄ (1/s): plenty of evidence
    out[0, 7], out[0, 8] = -10.0, 1.0     # log posterior, converged
    out[0, 9], out[0, 10] = -12.0, np.nan  # the J⁻ = 0 null fit failed
    status = np.zeros((2, 2), dtype=int)
    np.fill_diagonal(status, 1)
    weights, pvals, scores, dmat = (np.zeros((2, 2)), np.full((2, 2), np.nan),
                                    np.full((2, 2), np.nan), np.full((2, 2), np.nan))
    method._fill(out, np.array([0]), np.array([1]), np.array([0.001]), np.array([0.001]),
                 np.array([0.001]), status, weights, pvals, scores, dmat)
    assert status[1, 0] == 0 and np.isfinite(pvals[1, 0])      # 0 → 1 (J⁺): fitted
    assert status[0, 1] == 5 and np.isnan(pvals[0, 1])         # 1 → 0 (J⁻): failed


def test_shared_fast_rhythm_takes_the_template_and_calls_nothing():
    # 12 unconnected units whose rates share a 250 Hz rhythm (±80 %; 4 ms period, faster
    # than the smooth a(t) of 1 ms bins follows): the grid must pick the template, by far
    # more than its margin, and call no link
    rng = np.random.default_rng(11)
    T, r0, n = 120.0, 15.0, 12
    trains = []
    for _ in range(n):
        cand = np.sort(rng.uniform(0, T, rng.poisson(2 * r0 * T)))
        keep = rng.random(cand.size) < 0.5 * (1 + 0.8 * np.cos(2 * np.pi * cand / 0.004))
        trains.append(cand[keep])
    st = sw.SpikeTrains.from_lists(trains, t_stop=T)
    grid = GLMCC(sync_tau=(0.002, "population"), bin_width=0.0005).fit(st)
    assert grid.diagnostics["sync_tau_s"] == "population"
    assert grid.diagnostics["sync_template_gain_per_1000"] > 10 * SYNC_TEMPLATE_MARGIN
    assert not grid.adjacency().any()
    # its p-values hold (the exponential term alone leaves 26 % of these pairs at
    # p < 0.05); 0.1 allows the binomial spread over 132 directed pairs (sd 0.019)
    p = grid.pvalues[grid.pair_status == 0]
    assert np.mean(p < 0.05) <= 0.1


def test_large_recordings_choose_on_a_spread_of_pairs_then_fit_once():
    # 46 units (1,035 pairs > SYNC_CHOICE_PAIRS): the grid is decided on an even spread of
    # pairs, then every pair fitted once with the chosen term: the estimate equals the
    # single-term fit, and the choice's diagnostics say how many pairs decided it
    from spikewire.infer.glmcc import SYNC_CHOICE_PAIRS

    st = _poisson_units(46, duration=60.0, seed=7)
    grid = GLMCC(sync_tau=(0.002, "population")).fit(st)
    assert 46 * 45 // 2 > SYNC_CHOICE_PAIRS
    assert 0 < grid.diagnostics["sync_choice_pairs"] <= SYNC_CHOICE_PAIRS
    chosen = grid.diagnostics["sync_tau_s"]
    single = GLMCC(sync_tau=chosen).fit(st)
    np.testing.assert_array_equal(grid.pvalues, single.pvalues)
    np.testing.assert_array_equal(grid.weights, single.weights)
