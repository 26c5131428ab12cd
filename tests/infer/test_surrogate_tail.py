"""The reference distribution of the shift null's z (partial_corr, te): the surrogates' own
z-values with a fitted Student t tail (spikewire.infer._surrogates.TailReference)."""

import numpy as np
import pytest
from infer_fixtures import lif_motif
from scipy import optimize, stats

import spikewire as sw
from spikewire.infer._null_families import null_family
from spikewire.infer._surrogates import (
    MIN_POOL,
    MIN_USABLE,
    Z_CAP,
    TailReference,
    standardise_by_shift,
    surrogate_test,
    surrogate_z,
    usable_surrogates,
)

TAU = 0.15          # sd of the log scale: kurtosis 3 e^{4 τ²} = 3.28, as the measured z (3.2–3.5)
N_DRAWS = 17_000    # one 40-unit fit: ≈ 11 usable surrogates × 1,560 pairs
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(60)
_GH_W = _GH_W / _GH_W.sum()


def _mixture_sf(y):
    """``P(|Z e^{τ ε}| > y)`` for independent standard normals Z, ε (Gauss–Hermite in ε:
    60 nodes integrate the smooth ``2 Φ(−y e^{−τ ε})`` to far below the tolerances here)."""
    return float(np.sum(_GH_W * 2 * stats.norm.sf(y / np.exp(TAU * _GH_X))))


def test_tail_reference_matches_the_tail_of_a_lognormal_scale_mixture():
    # z = Z · e^{τ ε}: a scale mixture of normals that is NOT a Student t, so the fitted
    # tail is tested off its own model. The reference fixes its scale at the normal 5 %
    # point, so it estimates P(|Y| > z c) with c = q95(|Y|) / 1.96.
    c = optimize.brentq(lambda y: _mixture_sf(y) - 0.05, 1.0, 5.0) / stats.norm.isf(0.025)
    zs = np.array([1.0, 2.5, 3.5, 4.17])
    exact = np.array([_mixture_sf(z * c) for z in zs])
    # sd of log(estimate / exact) for ONE reference of 17,000 draws, measured over 200
    # independent samples (benchmarks/results/ztail.md): 0.014, 0.057, 0.18, 0.34 (mean
    # log-ratio −0.01 … +0.002: no bias worth the name). The mean over 8 samples has sd
    # / sqrt(8); the bound is 3.5 of those sd.
    sd_one = np.array([0.014, 0.057, 0.18, 0.34])
    tol = 3.5 * sd_one / np.sqrt(8)
    logr = np.mean([np.log(TailReference(_draws(seed)).sf(zs) / exact) for seed in range(8)],
                   axis=0)
    assert np.all(np.abs(logr) < tol), (logr, tol)
    # the standard normal (the old reference) misses the far tail by more than 3× that
    # bound: by a factor of 2.3 at 3.5 and 5.4 at 4.17
    normal = 2 * stats.norm.sf(zs)
    assert np.all(np.abs(np.log(normal / exact))[2:] > 3 * tol[2:])


def _draws(seed, n=N_DRAWS):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n) * np.exp(TAU * rng.standard_normal(n))


def test_tail_reference_is_continuous_monotone_and_exact_at_its_anchor():
    ref = TailReference(_draws(1))
    z = np.linspace(0, 8, 2001)
    p = ref.sf(z)
    assert p[0] == 1.0 and np.all(np.diff(p) <= 0) and np.all(p > 0)
    # continuous across the splice point (left and right limits within one draw's 1 / N)
    eps = 1e-9
    assert abs(ref.sf(ref.splice - eps) - ref.sf(ref.splice + eps)) < 1.0 / ref.n
    # the scale is fixed where the normal has its 5 % point
    assert ref.sf(stats.norm.isf(0.025)) == pytest.approx(0.05, abs=1.0 / ref.n)
    assert ref.sf(-3.0) == ref.sf(3.0)
    # beyond the cap the tail has the normal's shape (ratios of p are the normal's)
    assert ref.cap == max(Z_CAP, ref.splice)
    for z in (6.0, 9.0, 20.0):
        assert ref.sf(z) / ref.sf(ref.cap) == pytest.approx(
            stats.norm.sf(z) / stats.norm.sf(ref.cap), rel=1e-9)
    with pytest.raises(ValueError, match="at least 1000 null draws"):
        TailReference(_draws(2, n=MIN_POOL - 1))


@pytest.mark.parametrize("decay", [False, True])
def test_surrogate_z_is_standard_normal_for_gaussian_surrogates(decay):
    # surrogates x_k = a φ_k + sd e_k with e_k iid N(0, 1) and the true sd given: the
    # leave-one-out z is exactly N(0, 1) (x_k is independent of the other K' − 1, and the
    # variance of x_k − φ_k x̄_{−k} / φ̄_{−k} is sd² (1 + φ_k² / ((K' − 1) φ̄²_{−k})))
    rng = np.random.default_rng(3)
    K, m = 20, 30
    shifts = 4 * rng.integers(-5, 6, size=(K, m))
    usable = usable_surrogates(shifts, 4)
    r = np.abs(shifts[:, :, None] - shifts[:, None, :])
    phi = np.exp(-r / 60.0) if decay else np.ones(r.shape)
    a = rng.uniform(-1, 1, (m, m))
    sd = rng.uniform(0.5, 2.0, (m, m))
    sur = a * phi + sd * rng.standard_normal((K, m, m))
    z = surrogate_z(sur, usable, sd, phi if decay else None)
    keep = usable & (usable.sum(axis=0) >= MIN_USABLE)
    v = z[keep]
    assert np.all(np.isfinite(v)) and np.all(np.isnan(z[~keep]))
    # ~6,000 values, correlated within a pair through the shared leave-one-out means:
    # the variance's sampling sd is below 0.03 here; mean within 0.05, variance within 0.1
    assert abs(v.mean()) < 0.05 and abs(v.var() - 1) < 0.1, (v.mean(), v.var())


def test_small_fits_keep_the_normal_reference_and_bad_reference_is_refused():
    # one window of 3 lags (te's former default): the window's z on N(0, 1)
    est = sw.infer(lif_motif(duration=60.0), "te", n_lags=3)
    ref = est.diagnostics["null_reference"]
    assert ref["kind"] == "normal" and ref["n_draws"] < MIN_POOL     # 4 units: ~130 draws
    # the 25 ms scan (11 windows): Šidák over the windows on N(0, 1)
    ref = sw.infer(lif_motif(duration=60.0), "te").diagnostics["null_reference"]
    assert ref["kind"] == "sidak_normal" and ref["n_draws"] < MIN_POOL
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="reference must be"):
        surrogate_test(np.zeros((3, 3)), rng.standard_normal((8, 3, 3)),
                       rng.integers(-4, 5, (8, 3)), 1, reference="t")


@pytest.mark.filterwarnings("ignore:.*chance coincidences")   # short-recording warning
@pytest.mark.parametrize("method, seed, kw", [("te", 2, {"n_lags": 3}),
                                              ("partial_corr", 1, {})])
def test_far_tail_on_null_data_is_consistent_with_bonferroni(method, seed, kw):
    # Heterogeneous null family (rates 0.1–20 Hz, no links), 40 units, 300 s: the two fits
    # where the normal reference had its smallest Bonferroni-adjusted p (0.0033 for te,
    # 0.0029 for partial_corr; benchmarks/results/ztail.md). With calibrated p-values
    # P(min_pairs p · n < 0.01) ≤ 0.01 (Bonferroni's inequality), so a fit below 0.01 is
    # evidence against the reference at the 1 % level.
    # (te with its former single window of 3 lags: the reference tested here)
    st = null_family("heterogeneous", n_units=40, duration=300.0, seed=seed)
    est = sw.infer(st, method, **kw)
    off = ~np.eye(40, dtype=bool)
    tested = (est.pair_status == 0) & off
    n = int(tested.sum())
    assert est.diagnostics["null_reference"]["kind"] == "surrogate"
    assert np.nanmin(est.pvalues[tested]) * n >= 0.01
    assert not est.adjacency()[off].any()          # the default (Bonferroni 0.05) calls none
    # the same z referred to N(0, 1) (the old reference) fails the bound on these data
    cal = tested & est.diagnostics["calibrated"]
    z = est.diagnostics["null_z"][cal]
    assert 2 * stats.norm.sf(np.abs(z).max()) * n < 0.01


@pytest.mark.filterwarnings("ignore:.*chance coincidences")   # short-recording warning
def test_far_tail_of_te_delay_scan_on_null_data_is_consistent_with_bonferroni():
    # te's default scan (11 windows over 26 ms, the maximum |z| referred to the
    # surrogates' maximum) on the same null data: the same Bonferroni bound on its
    # smallest p-value, and no call at the default
    st = null_family("heterogeneous", n_units=40, duration=300.0, seed=2)
    est = sw.infer(st, "te")
    off = ~np.eye(40, dtype=bool)
    tested = (est.pair_status == 0) & off
    assert est.diagnostics["null_reference"]["kind"] == "max_surrogate"
    assert np.nanmin(est.pvalues[tested]) * int(tested.sum()) >= 0.01
    assert not est.adjacency()[off].any()


def test_standardise_by_shift_masked_agrees_with_standardise_by_shift():
    from spikewire.infer._surrogates import standardise_by_shift_masked

    rng = np.random.default_rng(4)
    r = rng.choice([10.0, 20.0, 30.0, 40.0], size=(30, 20))
    z = rng.standard_normal(r.shape) * (1 + r / 40) + r / 20
    z[rng.random(r.shape) < 0.1] = np.nan
    into = np.ones(r.shape, dtype=bool)
    out = standardise_by_shift_masked(z, r, into)
    flat = standardise_by_shift(z[np.isfinite(z)], r[np.isfinite(z)])
    # same values (the flat version concatenates shift by shift in increasing order)
    expect = np.concatenate([out[(r == rv) & np.isfinite(out)] for rv in (20.0, 30.0, 40.0)])
    np.testing.assert_allclose(expect, flat)
    assert np.all(np.isnan(out[r == 10.0]))        # the shortest shift is left out


def test_standardise_by_shift_centres_and_scales_each_shift_and_drops_the_shortest():
    rng = np.random.default_rng(5)
    # three shifts with their own centre and scale (as on an oscillating network)
    parts = [(1, 2.0, 3.0, 4000), (2, -1.0, 0.5, 3000), (3, 0.3, 1.5, 2000), (4, 0.0, 1.0, 20)]
    z = np.concatenate([mu + sd * rng.standard_normal(n) for _, mu, sd, n in parts])
    r = np.concatenate([np.full(n, rv) for rv, _, _, n in parts])
    out = standardise_by_shift(z, r)
    # shortest shift (r = 1) left out, and r = 4 (fewer than MIN_PER_SHIFT values)
    assert out.size == 3000 + 2000
    for part in (out[:3000], out[3000:]):
        # median 0 and MAD scale 1 by construction, within rounding
        assert abs(np.median(part)) < 1e-12
        assert 1.4826 * np.median(np.abs(part)) == pytest.approx(1.0, rel=1e-9)
    # with fewer than three shifts nothing is dropped
    keep = r <= 2
    assert standardise_by_shift(z[keep], r[keep]).size == 7000
