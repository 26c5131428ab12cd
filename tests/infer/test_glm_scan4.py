"""The scan's p-value for four contrasts (issues 15, 12): ``P(max_a |z_a| ≥ m)`` for
``z ~ N(0, R)``, ``R`` 4 × 4, by the same positive-term quadrature as k ≤ 3, one level
deeper; and :func:`scan_contrasts` with four groups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import norm

from spikewire.infer.glm import SCAN_MAX_CONTRASTS, scan_contrasts, scan_pvalue

#: a 4 × 4 correlation of the kind the 4-group scan sees (short / 6 ms / 13 ms / 25 ms:
#: neighbouring groups overlap by one raised cosine), and one with strong, mixed-sign
#: correlations (a stiffer integrand)
R_SCAN = np.array([[1.0, -0.35, 0.05, 0.0],
                   [-0.35, 1.0, -0.3, 0.05],
                   [0.05, -0.3, 1.0, -0.4],
                   [0.0, 0.05, -0.4, 1.0]])
R_MIXED = np.array([[1.0, 0.15, -0.67, 0.43],
                    [0.15, 1.0, 0.12, 0.39],
                    [-0.67, 0.12, 1.0, 0.10],
                    [0.43, 0.39, 0.10, 1.0]])


def _reference(m: float, R: np.ndarray, n_nodes: int = 32) -> float:
    """The positive-term sum of :func:`scan_pvalue`, written out in numpy on a tensor grid
    of Gauss–Legendre nodes (an independent reference for the compiled kernel, k ≤ 4):
    term j integrates ``P(|z_j| ≥ m | e_<j)`` over ``e_1 ∈ [−m, m]`` and, for i ≥ 2, ``e_i``
    over the interval keeping ``|z_i| < m`` (clipped to ±9), against the normal density."""
    L = np.linalg.cholesky(R * (1 - 1e-9) + np.eye(len(R)) * 1e-9)
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    k = len(R)

    def tail(mu, s):
        return ndtr(-(m - mu) / s) + ndtr(-(m + mu) / s)

    total = 2 * ndtr(-m)
    # level 1: e_1 on [−m, m]; points carry (weight, e-vector so far)
    e = (m * x)[:, None]
    wt = m * w * norm.pdf(m * x)
    for j in range(1, k):
        mu = e @ L[j, :j]
        total += float(np.sum(wt * tail(mu, L[j, j])))
        if j == k - 1:
            break
        lo = np.maximum((-m - mu) / L[j, j], -9.0)
        hi = np.maximum(np.minimum((m - mu) / L[j, j], 9.0), lo)
        half, mid = (hi - lo) / 2, (hi + lo) / 2
        ej = mid[:, None] + half[:, None] * x[None, :]
        wt = (wt * half)[:, None] * w[None, :] * norm.pdf(ej)
        e = np.concatenate([np.repeat(e, n_nodes, axis=0), ej.reshape(-1, 1)], axis=1)
        wt = wt.ravel()
    return total


def test_four_contrasts_equal_the_reference_quadrature():
    """The compiled kernel computes the written-out positive-term sum (same nodes): equal
    to rounding (1e-12 relative) for k = 2, 3 and 4, small and large m."""
    for R in (R_SCAN, R_MIXED):
        for k in (2, 3, 4):
            for m in (0.3, 1.5, 3.0, 6.0):
                p = scan_pvalue([m], R[None, :k, :k])[0]
                assert p == pytest.approx(_reference(m, R[:k, :k]), rel=1e-12), (k, m)


def test_four_contrasts_match_monte_carlo():
    """k = 4 against the fraction of 10⁶ draws of max |z|: binomial sd √(p(1 − p)/10⁶) ≤
    5e-4; tolerance 4 sd plus 1e-5 for the quadrature (its error against the reference
    and closed forms is below 1e-9)."""
    rng = np.random.default_rng(23)
    n_draw = 1_000_000
    for R in (R_SCAN, R_MIXED):
        z = rng.standard_normal((n_draw, 4)) @ np.linalg.cholesky(R).T
        mx = np.abs(z).max(axis=1)
        for m in (0.5, 1.5, 2.2, 2.8, 3.5):
            mc = float(np.mean(mx >= m))
            p = scan_pvalue([m], R[None])[0]
            tol = 4 * np.sqrt(mc * (1 - mc) / n_draw) + 1e-5
            assert abs(p - mc) <= tol, (m, p, mc)


def test_four_contrasts_reduce_to_closed_forms_and_to_three():
    """Independent statistics: Šidák's 1 − (1 − 2 Φ̄(m))⁴, also at 1e-18 (the terms are
    added, so the far tail keeps its digits); a 4th statistic independent of three
    correlated ones: 1 − (1 − p₃)(1 − p₁) = p₃ + p₁ − p₃ p₁ with p₁ = 2 Φ̄(m) and p₃ the
    k = 3 value; a 4th equal to the 3rd (correlation 1 − 1e-12): the k = 3 value (the
    4th term's inner integral collapses to a step, resolved to ~1e-3 as for k = 2)."""
    m = np.array([0.0, 0.3, 1.0, 1.96, 3.0, 5.0, 9.0])
    n = m.size
    with np.errstate(divide="ignore"):
        sidak = -np.expm1(4 * np.log1p(-2 * norm.sf(m)))
    np.testing.assert_allclose(scan_pvalue(m, np.broadcast_to(np.eye(4), (n, 4, 4))),
                               sidak, rtol=1e-8)
    R3 = R_MIXED[:3, :3]
    p3 = scan_pvalue(m, np.broadcast_to(R3, (n, 3, 3)))
    p1 = 2 * norm.sf(m)
    R4 = np.eye(4)
    R4[:3, :3] = R3
    np.testing.assert_allclose(scan_pvalue(m, np.broadcast_to(R4, (n, 4, 4))),
                               p3 + p1 - p3 * p1, rtol=1e-8)
    dup = np.eye(4)
    dup[:3, :3] = R3
    dup[3, :3] = dup[:3, 3] = R3[2]
    dup[3, 2] = dup[2, 3] = 1 - 1e-12
    np.testing.assert_allclose(scan_pvalue(m[1:6], np.broadcast_to(dup, (5, 4, 4))),
                               p3[1:6], rtol=5e-3)


def test_scan_pvalue_refuses_five_and_scan_contrasts_split_four():
    """k = 5 is refused with the fix named; four groups of the 5-function basis to the
    window (peaks 1, 3, 6, 13, 25 ms) are 1–3 / 6 / 13 / 25 ms, columns summing to the
    area contrast; four groups of three functions are refused."""
    from spikewire.infer._bases import raised_cosine_log_basis

    assert SCAN_MAX_CONTRASTS == 4
    with pytest.raises(ValueError, match=r"k = 1 to 4.*got k = 5"):
        scan_pvalue([1.0], np.eye(5)[None])
    B = raised_cosine_log_basis(5, 0.025, 0.001, last_peak=0.025)
    C = scan_contrasts(B, 4)
    np.testing.assert_allclose(C.sum(axis=1), B.sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(C > 0, np.repeat(np.eye(4, dtype=bool), [2, 1, 1, 1],
                                                   axis=0))
    np.testing.assert_array_equal(np.argmax(B, axis=0) + 1, [1, 3, 6, 13, 25])
    with pytest.raises(ValueError, match="n_groups"):
        scan_contrasts(B[:, :3], 4)
    with pytest.raises(ValueError, match="n_groups"):
        scan_contrasts(B, 5)
