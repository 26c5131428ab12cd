"""Presynaptic centring (glm's and glmcc's ``presynaptic_centre``,
:func:`centre_presynaptic`): a hub's background of inflated z-values, the never-raise
property, a global null, and the option in a fit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import spikewire as sw
from spikewire.infer import base
from spikewire.infer.glm import GLM, centre_presynaptic
from spikewire.infer.glmcc import GLMCC

N = 100  # the calibration study's recorded units


def _z_to_p(z):
    return stats.norm.sf(z)


def _hub_matrix(seed, n_hubs=5, background=3.0, n_links=200):
    """Post × pre z-values: N(0, 1) null pairs; ``n_hubs`` presynaptic hubs whose every
    pair is raised by ``background`` (two-step paths through unrecorded neurons), each
    with 4 direct targets 8 above its background; ``n_links`` other links at N(7, 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, (N, N))
    link = np.zeros((N, N), bool)
    hubs = np.arange(n_hubs)
    z[:, hubs] += background
    for h in hubs:
        tgt = rng.choice(np.setdiff1d(np.arange(N), [h]), 4, replace=False)
        z[tgt, h] += 8.0
        link[tgt, h] = True
    free = np.argwhere(~link & ~np.eye(N, dtype=bool))
    free = free[free[:, 1] >= n_hubs]
    pick = free[rng.choice(free.shape[0], n_links, replace=False)]
    z[pick[:, 0], pick[:, 1]] = rng.normal(7.0, 1.0, n_links)
    link[pick[:, 0], pick[:, 1]] = True
    p = _z_to_p(z)
    np.fill_diagonal(p, np.nan)
    tested = ~np.eye(N, dtype=bool)
    return p, tested, link, hubs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_hubs_background_is_removed_and_its_direct_targets_kept(seed):
    p, tested, link, hubs = _hub_matrix(seed)
    q, scores, shift = centre_presynaptic(p, tested)
    hub_null = tested & ~link
    hub_null[:, len(hubs):] = False
    # raw: a null pair of a hub is N(3, 1), P(z > 1.645) = 0.91
    assert np.mean(p[hub_null] < 0.05) > 0.8
    # centred: the shift is the column median's excess, 3 up to the median's sd
    # (1.25 / sqrt(99) ≈ 0.13) and the 4 links' pull (≈ +0.05); 0.4 is 3 sd
    assert np.all(np.abs(shift[hubs] - 3.0) < 0.4)
    # the hubs' 475 null pairs are N(0, 1) again up to that error: the per-pair rate at
    # α = 0.05 lies in [0.5α, 1.5α] (binomial sd 0.01 plus the shift error's ±0.02)
    assert 0.025 <= np.mean(q[hub_null] < 0.05) <= 0.075
    # the hubs' direct targets (z ≈ N(8, 1) after the shift; Bonferroni over 9,900 pairs
    # is z > 4.42, 3.6 sd below: P(any of 20 misses) ≈ 0.3 %) pass Bonferroni
    hub_links = link.copy()
    hub_links[:, len(hubs):] = False
    assert np.all(q[hub_links] < 0.05 / tested.sum())
    # the scores are glm's two-sided single-test |z| of the shifted p-values
    np.testing.assert_allclose(scores[tested], stats.norm.isf(q[tested] / 2), rtol=1e-12)


def test_centring_never_lowers_a_pvalue_and_leaves_quiet_units_alone():
    p, tested, _, _ = _hub_matrix(5)
    q, _, shift = centre_presynaptic(p, tested)
    assert np.all(shift >= 0)
    ok = tested & np.isfinite(p)
    assert np.all(q[ok] >= p[ok] - 1e-15)
    z = stats.norm.isf(p)
    med = np.median(z[ok])
    col_med = np.array([np.median(z[ok[:, j], j]) for j in range(N)])
    quiet = col_med <= med
    assert quiet.sum() > 30
    np.testing.assert_array_equal(q[:, quiet], p[:, quiet])
    np.testing.assert_array_equal(shift[quiet], 0.0)


def test_on_a_global_null_the_per_pair_rate_stays_in_band():
    # no hub, no link: every column median is the global one up to its sd 0.13; only
    # the ≈ 2.3 % of units whose median lies more than 2 sd above it are shifted (by
    # ≥ 0.25), so the rate at α = 0.05 barely falls (2–3 units and −0.001 in
    # each of these seeds); over 9,900 pairs (binomial sd 0.002) it must stay inside
    # [0.5α, 1.5α] and never exceed α by more than 3 sd (centring only raises p-values)
    rates = []
    for seed in range(3):
        z = np.random.default_rng(10 + seed).normal(0.0, 1.0, (N, N))
        p = _z_to_p(z)
        np.fill_diagonal(p, np.nan)
        q, _, _ = centre_presynaptic(p, ~np.eye(N, dtype=bool))
        rates.append(np.nanmean(q < 0.05))
    assert all(0.025 <= r <= 0.056 for r in rates)


def test_units_with_too_few_tested_targets_are_not_shifted():
    p, tested, _, hubs = _hub_matrix(3)
    tested = tested.copy()
    tested[10:, hubs[0]] = False       # hub 0 keeps 9 tested targets (< 10)
    _, _, shift = centre_presynaptic(p, tested)
    assert shift[hubs[0]] == 0.0 and shift[hubs[1]] > 2.0


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        centre_presynaptic(np.full((3, 4), 0.5), np.ones((3, 4), bool))
    with pytest.raises(ValueError, match="one shape"):
        centre_presynaptic(np.full((3, 3), 0.5), np.ones((4, 4), bool))
    for method in (GLM, GLMCC):
        with pytest.raises(ValueError, match="presynaptic_centre"):
            method(presynaptic_centre="yes").fit(
                sw.SpikeTrains.from_lists([np.arange(100) * 0.1] * 2, t_stop=10.0))


def _hub_recording(duration: float, seed: int = 4) -> sw.SpikeTrains:
    """12 Poisson units at 8 Hz (11 tested targets each); unit 0 (10 Hz) is a weak hub:
    each of its spikes adds, with probability 0.1, one spike 2–20 ms later to each other
    unit, so its whole column of z-values sits above the rest."""
    rng = np.random.default_rng(seed)
    hub = np.sort(rng.uniform(0, duration, int(10 * duration)))
    trains = [hub]
    for _ in range(11):
        own = rng.uniform(0, duration, int(8 * duration))
        follow = hub[rng.random(hub.size) < 0.1]
        follow = follow + rng.uniform(0.002, 0.020, follow.size)
        trains.append(np.sort(np.concatenate([own, follow[follow < duration]])))
    return sw.SpikeTrains.from_lists(trains, t_stop=duration)


# glmcc needs more coincidences per pair (c̄ · 4 ms above min_coincidences), hence 300 s
@pytest.mark.parametrize("method, duration", [(GLM, 60.0), (GLMCC, 300.0)])
def test_the_option_centres_the_fits_own_pvalues_after_the_null_check(monkeypatch, method,
                                                                      duration):
    st = _hub_recording(duration)
    seen = []
    check = base.check_null

    def spy(est):
        seen.append(est.pvalues.copy())
        return check(est)

    monkeypatch.setattr(base, "check_null", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = method(presynaptic_centre=False).fit(st)
        est = method(presynaptic_centre=True).fit(st)
    # the null check judged the Wald p-values before the centring
    np.testing.assert_array_equal(seen[1], plain.pvalues)
    np.testing.assert_array_equal(est.diagnostics["pvalues_uncentred"], plain.pvalues)
    q, scores, shift = centre_presynaptic(plain.pvalues, plain.pair_status == 0)
    np.testing.assert_array_equal(est.pvalues, q)
    np.testing.assert_array_equal(est.scores, scores)
    np.testing.assert_array_equal(est.diagnostics["presynaptic_shift"], shift)
    assert shift[0] > 0      # the hub's column median lies above the global one
