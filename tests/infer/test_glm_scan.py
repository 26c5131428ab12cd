"""glm's scan Wald test (issue 12): the largest |z| of a few lag-group contrasts, its
p-value from their joint normal, the k × k robust covariance behind it."""

from __future__ import annotations

import numpy as np
import pytest
from infer_fixtures import small_glm_problem
from scipy.stats import kstest, norm

from spikewire.infer import _glm_kernels as _k
from spikewire.infer.glm import GLM, MIN_ROBUST_EVENTS, build_design, scan_contrasts, scan_pvalue

DT = 0.001


def _corr(cov):
    d = np.sqrt(np.diag(cov))
    return cov / np.outer(d, d)


#: a 3 × 3 covariance with the sizes and correlations of the Wald contrasts' (short,
#: middle and long lag groups: adjacent groups overlap by one raised cosine)
COV = np.array([[1.0, 0.45, 0.1], [0.45, 2.0, 0.6], [0.1, 0.6, 1.5]])


def test_scan_pvalue_equals_closed_forms():
    """k = 1: 2 Φ̄(m); independent statistics: Šidák's 1 − (1 − 2 Φ̄(m))^k, also in the far
    tail (the terms are added, not subtracted from 1, so 1e-15 keeps its digits); one
    statistic duplicated (correlation 1 − 1e-12) is the single test again."""
    m = np.array([0.0, 0.3, 1.0, 1.96, 3.0, 5.0, 8.0])
    n = m.size
    np.testing.assert_allclose(scan_pvalue(m, np.ones((n, 1, 1))), 2 * norm.sf(m),
                               rtol=1e-12)
    for k in (2, 3):
        with np.errstate(divide="ignore"):             # m = 0: log1p(−1) = −inf, p = 1
            sidak = -np.expm1(k * np.log1p(-2 * norm.sf(m)))
        # quadrature with 32 nodes on a smooth integrand: ~1e-10 relative here
        np.testing.assert_allclose(scan_pvalue(m, np.broadcast_to(np.eye(k), (n, k, k))),
                                   sidak, rtol=1e-8)
    same = np.full((n, 2, 2), 1 - 1e-12)
    same[:, [0, 1], [0, 1]] = 1.0
    # a perfectly correlated pair is one test: the e2 integral collapses to a step that
    # the quadrature resolves to ~1e-3 relative
    np.testing.assert_allclose(scan_pvalue(m[1:6], same[1:6]), 2 * norm.sf(m[1:6]),
                               rtol=5e-3)
    # a matrix a rounding error below semi-definite (three z, two of them one): factors
    bad = np.array([[1.0, 1.0, 0.3], [1.0, 1.0, 0.3 + 1e-7], [0.3, 0.3 + 1e-7, 1.0]])
    assert np.linalg.eigvalsh(bad).min() < 0
    p2 = scan_pvalue([2.0], np.array([[[1.0, 0.3], [0.3, 1.0]]]))[0]
    assert scan_pvalue([2.0], bad[None])[0] == pytest.approx(p2, rel=5e-3)


def test_scan_pvalue_matches_monte_carlo():
    """P(max |z| ≥ m) for z ~ N(0, R) (k = 2 and 3) against the fraction of 10⁶ draws:
    binomial sd √(p(1 − p)/10⁶) ≤ 5e-4; tolerance 4 sd plus 1e-4 for the quadrature."""
    rng = np.random.default_rng(11)
    n_draw = 1_000_000
    for R in (_corr(COV), _corr(COV)[:2, :2], np.array([[1.0, -0.7], [-0.7, 1.0]])):
        k = R.shape[0]
        z = rng.standard_normal((n_draw, k)) @ np.linalg.cholesky(R).T
        mx = np.abs(z).max(axis=1)
        for m in (0.5, 1.5, 2.2, 2.8, 3.5):
            mc = float(np.mean(mx >= m))
            p = scan_pvalue([m], R[None])[0]
            tol = 4 * np.sqrt(mc * (1 - mc) / n_draw) + 1e-4
            assert abs(p - mc) <= tol, (k, m, p, mc)


def test_scan_pvalue_is_uniform_under_the_gaussian_null():
    """20,000 draws of the three contrasts' z from N(0, COV), standardised by the known
    variances and referred to their correlation: the scan p-values are uniform (KS
    p > 0.001; this seed: see the assertion message). The same maxima read as one test,
    2 Φ̄(max |z|), are far from uniform (anti-conservative: the multiple comparison the
    scan pays), and Bonferroni's 3 · 2 Φ̄ bounds every p from above."""
    rng = np.random.default_rng(3)
    n = 20_000
    w = rng.standard_normal((n, 3)) @ np.linalg.cholesky(COV).T
    z = w / np.sqrt(np.diag(COV))
    m = np.abs(z).max(axis=1)
    R = np.broadcast_to(_corr(COV), (n, 3, 3))
    p = scan_pvalue(m, R)
    ks = kstest(p, "uniform")
    assert ks.pvalue > 1e-3, ks
    # at α = 0.05: 1,000 expected (sd 31); the naive reading calls ~2.6× as many
    assert abs(np.mean(p < 0.05) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)
    assert np.mean(2 * norm.sf(m) < 0.05) > 0.1
    # Bonferroni is an upper bound of every draw's p (here close: 0.0455 called at 0.05)
    assert np.all(np.minimum(1, 6 * norm.sf(m)) >= p - 1e-12)


def test_scan_pvalue_and_contrasts_refuse_bad_input():
    with pytest.raises(ValueError, match="k = 1 to 4"):
        scan_pvalue([1.0], np.eye(5)[None])
    with pytest.raises(ValueError, match="shape"):
        scan_pvalue([1.0, 2.0], np.eye(2)[None])
    with pytest.raises(ValueError, match="unit diagonal"):
        scan_pvalue([1.0], 2 * np.eye(2)[None])
    with pytest.raises(ValueError, match="n_groups"):
        scan_contrasts(np.ones((10, 2)), 3)


def test_scan_contrasts_split_the_summed_filter_by_lag_group():
    from spikewire.infer._bases import raised_cosine_log_basis

    B = raised_cosine_log_basis(7, 0.025, DT, last_peak=0.025)
    C = scan_contrasts(B)
    assert C.shape == (7, 3)
    np.testing.assert_allclose(C.sum(axis=1), B.sum(axis=0), rtol=1e-12)
    # groups: functions 1–3 (peaks 1, 2, 4 ms), 4–5 (6, 10 ms), 6–7 (16, 25 ms)
    np.testing.assert_array_equal(C > 0, np.repeat(np.eye(3, dtype=bool), [3, 2, 2], axis=0))


def _small_problem(seed=2):
    return small_glm_problem(seed, bin_width=DT)


def test_score_cov_kernel_equals_the_single_combination_kernel():
    """``block_score_cov`` with three combinations: its diagonal is ``block_score_var``
    of each combination, and its off-diagonal ``(V(a + b) − V(a) − V(b)) / 2`` (the same
    products grouped by spike; rtol 1e-10 for the regrouping and the polarisation's
    cancellation); a zero third combination gives zero rows."""
    st, d, _, _ = _small_problem()
    rng = np.random.default_rng(4)
    resid = rng.normal(0, 1, d.n_bins)
    bb = 50
    G = -(-d.n_bins // bb)
    q = rng.normal(0, 1, (G, 2))
    kv = np.zeros((d.n_units, d.n_lags, 3))
    kv[..., :2] = rng.normal(0, 1, (d.n_units, d.n_lags, 2))
    kq = np.zeros((d.n_units, 3, 2))
    kq[:, :2] = rng.normal(0, 1, (d.n_units, 2, 2))
    out = np.empty((d.n_units, 3, 3))
    _k.block_score_cov(d.u_ptr, d.u_bins, d.u_counts, resid, kv, kq, q, bb, out)

    def one(kv1, kq1):
        o = np.empty(d.n_units)
        _k.block_score_var(d.u_ptr, d.u_bins, d.u_counts, resid, np.ascontiguousarray(kv1),
                           np.ascontiguousarray(kq1), q, bb, o)
        return o

    va, vb = one(kv[..., 0], kq[:, 0]), one(kv[..., 1], kq[:, 1])
    vab = one(kv[..., 0] + kv[..., 1], kq[:, 0] + kq[:, 1])
    np.testing.assert_allclose(out[:, 0, 0], va, rtol=1e-10)
    np.testing.assert_allclose(out[:, 1, 1], vb, rtol=1e-10)
    np.testing.assert_allclose(out[:, 0, 1], (vab - va - vb) / 2, rtol=1e-10, atol=1e-9)
    np.testing.assert_array_equal(out[:, 0, 1], out[:, 1, 0])
    np.testing.assert_array_equal(out[:, 2], 0.0)


@pytest.mark.parametrize("variance", ["model", "robust"])
def test_scan_wald_equals_explicit_joint_computation(variance, monkeypatch):
    """The scan's z and p from the dense design: per pair the k = 3 contrasts' joint
    covariance (model: Vᵀ S V with V = (S + λ)⁻¹ C; robust: the CR1 block sandwich, raised
    to at least the model's by adding the positive part of their difference), the
    largest |z| over the contrasts whose lags expect at least MIN_SCAN_EVENTS target
    spikes, the joint-normal p-value of :func:`scan_pvalue` over those, the single test
    of the contrasts' sum where none is left, and the reported z (the one-test z with
    that p, in the sign of the largest). Floors: 0 (every contrast scanned), the median
    of the pairs' expected events (mixed subsets) and infinity (all single tests)."""
    import sys

    st, _, bias, coef = _small_problem()
    d = build_design(st, bin_width=DT, window=0.012, n_basis=3, last_peak=0.012)
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((d.n_bins, 2))
    gamma = rng.normal(0, 0.2, (3, 2))
    lam = np.array([0.0, 0.5, 2.0])
    targets = np.array([0, 1, 2])
    bb = 100
    mod = sys.modules[GLM.__module__]
    # the robust variance everywhere (no pair is left at the model's for few events)
    monkeypatch.setattr(mod, "MIN_ROBUST_EVENTS", 0.0)
    assert MIN_ROBUST_EVENTS > 0
    X = d.dense()
    Y = st.binned(DT, sparse=False).astype(float)
    A = np.column_stack([np.ones(d.n_bins), Z])
    Cm = scan_contrasts(d.basis)
    nb = d.n_basis
    blk = np.arange(d.n_bins) // bb
    G = blk.max() + 1
    ref = {}
    for i in range(3):
        mu = np.exp(bias[i] + X @ coef[i].ravel() + Z @ gamma[i])
        N = A.T @ (mu[:, None] * A)
        for j in range(3):
            Xj = X[:, j * nb:(j + 1) * nb]
            C = Xj.T @ (mu[:, None] * A)
            S = Xj.T @ (mu[:, None] * Xj) - C @ np.linalg.solve(N, C.T)
            V = np.linalg.solve(S + lam[i] * np.eye(nb), Cm)
            cov = V.T @ S @ V
            cr = np.nan
            if variance == "robust":
                xt = Xj - A @ np.linalg.solve(N, C.T)
                g = np.zeros((G, nb))
                np.add.at(g, blk, xt * (Y[i] - mu)[:, None])
                crm = G / (G - 1) * V.T @ (g.T @ g) @ V
                cr = crm[0, 0]
                ev, U = np.linalg.eigh(crm - cov)
                used = cov + U @ np.diag(np.maximum(ev, 0)) @ U.T
                assert np.all(np.diag(used) >= np.diag(crm) - 1e-12)
                assert np.all(np.diag(used) >= np.diag(cov) - 1e-12)
            else:
                used = cov
            # expected target spikes in each contrast's lags: Σ_t μ_t Σ_l s_g(l) y_j(t−l)
            share = d.basis @ (Cm != 0)
            lagged = np.stack([np.r_[np.zeros(l + 1), Y[j][:d.n_bins - l - 1]]
                               for l in range(d.n_lags)], axis=1)   # y_j(t − 1 − l)
            events = mu @ lagged @ share
            ref[i, j] = (cov[0, 0], cr, used, coef[i, j] @ Cm, events)
    all_events = np.array([r[4] for r in ref.values()]).ravel()
    for floor in (0.0, float(np.median(all_events)), np.inf):
        monkeypatch.setattr(mod, "MIN_SCAN_EVENTS", floor)
        z, p, vm, vr, vu = GLM(contrast="scan")._wald(d, bias, coef, lam, 1, gamma=gamma,
                                                       Z=Z, targets=targets,
                                                       variance=variance, block_bins=bb)
        for (i, j), (cm, cr, used, w, events) in ref.items():
            assert vm[i, j] == pytest.approx(cm, rel=1e-7)     # 1e-10 trace jitter only
            if variance == "robust":
                assert vr[i, j] == pytest.approx(cr, rel=1e-7)
            assert vu[i, j] == pytest.approx(used[0, 0], rel=1e-7)
            keep = np.flatnonzero(events >= floor)
            if keep.size:
                zk = w[keep] / np.sqrt(np.diag(used)[keep])
                a = np.argmax(np.abs(zk))
                zbest = zk[a]
                pref = scan_pvalue([abs(zbest)], _corr(used[np.ix_(keep, keep)])[None])[0]
            else:
                zbest = w.sum() / np.sqrt(used.sum())
                pref = 2 * norm.sf(abs(zbest))
            assert p[i, j] == pytest.approx(pref, rel=1e-6), (floor, i, j)
            assert z[i, j] == pytest.approx(np.sign(zbest) * norm.isf(pref / 2), rel=1e-6)
        if 0 < floor < np.inf:   # the median floor mixes subsets of the contrasts
            assert 0 < np.mean(all_events >= floor) < 1
