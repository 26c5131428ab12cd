"""Tests of ``dale_glm``'s lag-scan test (``contrast="scan"``): the contrasts' joint
covariance against an explicit sandwich, the combination rule (:func:`scan_test`) against
analytic values, calibration under no coupling, a short-delay link that only the scan
finds, and parameter validation."""

import numpy as np
import pytest
from infer_fixtures import dale_stage1_fit, dense_sandwich_parts, independent
from scipy.stats import kstest, norm

import spikewire as sw
from spikewire.infer._null_families import null_family
from spikewire.infer.dale_glm import CONTRASTS, DaleGLM, null_scale, scan_test
from spikewire.infer.glm import MIN_SCAN_EVENTS, scan_contrasts, scan_pvalue

BW = 0.002


def test_contrast_covariance_equals_an_explicit_sandwich():
    """Each scan contrast's Wald z and the contrasts' correlation against dense numpy
    (bread = penalised Fisher information of the design [X, 1, P_i], meat = Σ_b g_b g_bᵀ
    over 0.1 s blocks, CR1 factor; and the posterior model variance CᵀH⁻¹C) on 8
    bursting units, 12 s; the summed filter's z is unchanged by asking for the scan."""
    st = null_family("bursting", n_units=8, duration=12.0, seed=3)
    prob, x, R, design = dale_stage1_fit(st, BW)
    csum = design.basis.sum(axis=0)
    Ck = scan_contrasts(design.basis)
    k = Ck.shape[1]
    blk = 50
    z_plain = prob.wald(x, [R], csum, robust_bins=blk)
    z_with = prob.wald(x, [R], csum, robust_bins=blk, contrasts=Ck)
    np.testing.assert_array_equal(z_plain, z_with)
    prob.wald(x, [R], csum, robust_bins=blk, floor=False, min_events=0.0, contrasts=Ck)
    rob = prob.scan
    # the contrasts partition the basis functions: their expected events add up to the
    # summed filter's
    np.testing.assert_allclose(rob["events"].sum(axis=2), prob.expected_events, rtol=1e-12)
    prob.wald(x, [R], csum, model="posterior", contrasts=Ck)
    mod = prob.scan
    n = prob.nu
    for i, W, nb, dim, Hinv, M, cr1 in dense_sandwich_parts(prob, x, R, blk):
        for j in range(n):
            if j == i:
                continue
            C = np.zeros((dim, k))
            C[j * nb:(j + 1) * nb] = Ck
            u = W[j * nb:(j + 1) * nb, i] @ Ck
            for got, V in ((rob, cr1 * C.T @ Hinv @ M @ Hinv @ C), (mod, C.T @ Hinv @ C)):
                sd = np.sqrt(np.diag(V))
                # same algebra in another order: agreement to the rounding of a solve
                np.testing.assert_allclose(got["z"][j, i], u / sd, rtol=1e-6)
                np.testing.assert_allclose(got["corr"][j, i], V / np.outer(sd, sd),
                                           rtol=1e-6, atol=1e-9)


def test_scan_test_combines_contrasts_as_stated():
    """Analytic checks of :func:`scan_test` on synthetic z-scores (no fit): independent
    contrasts give Šidák's p-value of the largest |z|, the one-test z is
    ``sign(T) Φ̄⁻¹(p2 / 2)``, a contrast below ``min_events`` is left out, a pair with
    none left keeps the summed z, and each contrast's null scale is its own."""
    rng = np.random.default_rng(0)
    n_pre, n_post, k = 40, 50, 3
    zk = rng.normal(size=(n_pre, n_post, k))
    zk[..., 2] *= 1.5                       # the long lags' null is 1.5× wider
    corr = np.broadcast_to(np.eye(k), (n_pre, n_post, k, k)).copy()
    events = np.full((n_pre, n_post, k), 50.0)
    events[0, :, 1] = 1.0                   # row 0: the middle contrast is left out
    events[1] = 1.0                         # row 1: no contrast: the summed filter
    z_sum = rng.normal(size=(n_pre, n_post))
    tested = np.ones((n_pre, n_post), dtype=bool)
    tested[2, 3] = False
    z, info = scan_test(zk, corr, events, z_sum, tested, estimator="central")
    sc = np.asarray(info["scales"])
    # central fit of 2,000 N(0, σ²) draws: relative sd of the width ≈ 3 %, so 10 %
    assert sc[0] == pytest.approx(1.0, abs=0.1) and sc[1] == pytest.approx(1.0, abs=0.1)
    assert sc[2] == pytest.approx(1.5, rel=0.1)
    assert sc[2] == pytest.approx(null_scale(zk[..., 2], tested & (events[..., 2] >= 10)))
    zs = zk / sc
    # a full row: Šidák over three independent contrasts
    m = np.abs(zs[5]).max(axis=1)
    sidak = 1.0 - (1.0 - 2.0 * norm.sf(m)) ** 3
    np.testing.assert_allclose(info["p2"][5], sidak, rtol=1e-6)
    t = zs[5][np.arange(n_post), np.abs(zs[5]).argmax(axis=1)]
    np.testing.assert_allclose(z[5], np.sign(t) * norm.isf(sidak / 2), rtol=1e-6)
    # row 0: contrasts 0 and 2 only
    m0 = np.abs(zs[0][:, [0, 2]]).max(axis=1)
    np.testing.assert_allclose(info["p2"][0], 1.0 - (1.0 - 2.0 * norm.sf(m0)) ** 2,
                               rtol=1e-6)
    assert set(np.unique(info["which"][0])) <= {0, 2}
    # row 1 and the untested pair: the summed filter's z as it was
    np.testing.assert_array_equal(z[1], z_sum[1])
    assert np.all(info["which"][1] == -1)
    assert z[2, 3] == z_sum[2, 3] and np.isnan(info["p2"][2, 3])
    # without a scale the raw z-scores are scanned
    _, raw = scan_test(zk, corr, events, z_sum, tested, estimator=None)
    assert raw["scales"] == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(raw["p2"][5], scan_pvalue(np.abs(zk[5]).max(axis=1),
                                                         corr[5]), rtol=1e-12)
    assert MIN_SCAN_EVENTS == 10.0


def test_scan_pvalues_are_uniform_without_coupling():
    """16 independent 10 Hz Poisson units, 120 s (240 pairs; every contrast expects
    ≳ 50 coincidences, so every pair is scanned): the scan's two-sided p-values (label
    free) are uniform, KS at the 1 % level (a fixed seed: a false failure has chance
    1 %; the 240 p-values share targets, a small dependence), and the fit's one-sided /
    two-sided p-values have a false-positive rate at α = 0.05 within the binomial
    99.9 % band of 240 draws (0.05 ± 3.3 · 0.014, widened to [0.005, 0.105])."""
    st = independent(n=16, T=120.0, rate=10.0, seed=11)
    est = sw.infer(st, "dale_glm", contrast="scan")
    d = est.diagnostics
    off = ~np.eye(16, dtype=bool)
    assert d["contrast"] == "scan"
    assert np.all(d["scan_contrast"][off] >= 0)                 # all pairs scanned
    assert np.all(d["scan_events"][off] >= MIN_SCAN_EVENTS)
    p2 = np.asarray(d["scan_pvalue_two_sided"])[off]
    assert kstest(p2, "uniform").pvalue > 0.01
    fpr = float(np.mean(est.pvalues[off] < 0.05))
    assert 0.005 <= fpr <= 0.105, fpr
    # the scan's one-test z and the p-values agree (one-sided for labelled units)
    z = np.asarray(d["scan_z"])
    lab = np.asarray(d["labelled"])
    sign = np.where(np.asarray(d["label_log_odds"]) >= 0, 1.0, -1.0)
    p = np.where(lab[None, :], norm.sf(sign[None, :] * z), 2 * norm.sf(np.abs(z)))
    np.testing.assert_allclose(est.pvalues[off], np.minimum(p, 1.0)[off], rtol=1e-9)


def _biphasic(seed=4, T=200.0, rate=10.0, n=6):
    """``n`` independent Poisson units at ``rate`` Hz, except that unit 1's log-rate is
    raised by +1.0 for 1–4 ms after each spike of unit 0 and lowered by −0.25 for
    8–23 ms after (16 lags): the summed log-rate filter is 4 · 1.0 − 16 · 0.25 = 0, a
    short-delay excitatory link whose summed filter is ≈ 0 (the long lags' deficit
    cancels the short lags' excess)."""
    rng = np.random.default_rng(seed)
    dt = 0.001
    nbin = int(T / dt)
    trains = [np.flatnonzero(rng.random(nbin) < rate * dt) for _ in range(n)]
    k = np.zeros(24)
    k[1:5] = 1.0
    k[8:24] = -0.25
    drive = np.zeros(nbin + k.size)
    for lag, v in enumerate(k):
        if v:
            drive[trains[0] + lag] += v
    lam = rate * dt * np.exp(drive[:nbin])
    trains[1] = np.flatnonzero(rng.random(nbin) < np.minimum(lam, 1.0))
    times = [(t + rng.random(t.size)) * dt for t in trains]
    return sw.SpikeTrains.from_lists([np.sort(t) for t in times], t_stop=T)


def test_scan_detects_a_short_delay_link_the_summed_filter_misses():
    """The biphasic link of :func:`_biphasic`: the summed-filter test does not reject
    (p > 0.05) while the scan does, strongly (p < 1e-6), on its short-lag contrast; with
    the labels from the summed filter (``label_from="area"``) both fits report the same
    summed-filter weight and labels (the contrast changes only the tests). Measured:
    area p = 0.87, scan p = 2e-33."""
    st = _biphasic()
    fits = {c: sw.infer(st, "dale_glm", contrast=c, label_from="area")
            for c in ("area", "scan")}
    p_area, p_scan = fits["area"].pvalues[1, 0], fits["scan"].pvalues[1, 0]
    assert p_area > 0.05, p_area
    assert p_scan < 1e-6, p_scan
    assert fits["scan"].diagnostics["scan_contrast"][1, 0] == 0          # short lags
    np.testing.assert_allclose(fits["scan"].weights, fits["area"].weights)
    np.testing.assert_array_equal(fits["scan"].cell_type, fits["area"].cell_type)
    assert "scan_z" not in fits["area"].diagnostics
    assert fits["area"].diagnostics["contrast"] == "area"


def test_labels_from_the_scan_see_a_link_the_summed_filter_cancels():
    """The biphasic link of :func:`_biphasic` is unit 0's only link: its summed filter
    (≈ 0) carries no type evidence, so labels from the summed filter leave unit 0
    unlabelled (the sum ``Σ z|z|`` of five null pairs and one ≈ 0 one), while the
    default labels, from the scan's test z (``label_from="auto"`` → ``"scan"``), see the
    short-lag excess (its scan p < 1e-6) and label it E. The tests, scan z-scores included,
    do not depend on the labels' statistic: the two-sided p-values agree exactly."""
    st = _biphasic()
    by_area = sw.infer(st, "dale_glm", label_from="area")
    by_scan = sw.infer(st, "dale_glm")
    assert DaleGLM()._label_from_used() == "scan"
    assert by_area.cell_type[0] == "?"
    assert by_scan.cell_type[0] == "E"
    assert by_scan.pvalues[1, 0] < 1e-6
    np.testing.assert_array_equal(by_scan.diagnostics["scan_pvalue_two_sided"],
                                  by_area.diagnostics["scan_pvalue_two_sided"])


def test_scan_parameter_validation():
    st = independent(n=4, T=20.0, rate=10.0, seed=1)
    assert CONTRASTS == ("auto", "area", "scan")
    # the default: the scan on the full solver, the summed filter where it cannot scan
    assert DaleGLM().contrast == "auto"
    assert DaleGLM()._contrast_used() == "scan"
    assert DaleGLM(n_basis=2)._contrast_used() == "area"
    assert DaleGLM(empirical_null=True)._contrast_used() == "area"
    assert DaleGLM(contrast="area")._contrast_used() == "area"
    assert DaleGLM()._use_screened(10_000)          # auto keeps the screened solver
    assert sw.infer(st, "dale_glm").diagnostics["contrast"] == "scan"   # a full fit
    with pytest.raises(ValueError, match="contrast"):
        sw.infer(st, "dale_glm", contrast="sum")
    with pytest.raises(ValueError, match="n_basis >= 3"):
        sw.infer(st, "dale_glm", contrast="scan", n_basis=2)
    with pytest.raises(ValueError, match="empirical_null"):
        sw.infer(st, "dale_glm", contrast="scan", empirical_null=True)
    with pytest.raises(ValueError, match="screened"):
        sw.infer(st, "dale_glm", contrast="scan", solver="screened")
    # the labels' statistic: the scan's where the tests are the scan
    assert DaleGLM(contrast="area")._label_from_used() == "area"
    assert DaleGLM(contrast="scan", label_from="area")._label_from_used() == "area"
    with pytest.raises(ValueError, match="label_from"):
        sw.infer(st, "dale_glm", label_from="sum")
    with pytest.raises(ValueError, match="label_from='scan'"):
        sw.infer(st, "dale_glm", label_from="scan", contrast="area")
    with pytest.raises(ValueError, match="screened"):
        sw.infer(st, "dale_glm", label_from="scan", solver="screened")
    # auto picks the full solver for the scan, whatever the size
    assert not DaleGLM(contrast="scan")._use_screened(10_000)
    z = np.zeros((3, 4))
    zk = np.zeros((3, 4, 3))
    corr = np.broadcast_to(np.eye(3), (3, 4, 3, 3))
    ok = np.ones((3, 4), bool)
    with pytest.raises(ValueError, match="one shape"):
        scan_test(zk, corr, zk, np.zeros((3, 5)), ok)
    with pytest.raises(ValueError, match="corr"):
        scan_test(zk, corr[..., :2], zk, z, ok)
    with pytest.raises(ValueError, match="min_events"):
        scan_test(zk, corr, zk, z, ok, min_events=-1)
    with pytest.raises(ValueError, match="estimator"):
        scan_test(zk, corr, zk, z, ok, estimator="mad")
