"""Sinkhorn divergence and the loading-distribution distance."""

from __future__ import annotations

import numpy as np
import pytest

from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import (
    align_latent_basis,
    dynamics_signature,
    loading_distance,
    sinkhorn_divergence,
    sinkhorn_matrix,
    true_conditional_mean,
)


def test_sinkhorn_translation_and_identity():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((150, 2))
    assert sinkhorn_divergence(x, x) == pytest.approx(0.0, abs=1e-9)
    v = np.array([0.7, -0.4])
    # a translation adds only separable and linear terms to the cost: S = |v|²/2 exactly
    # converged iterations (measured 2.6e-4 off after 2000 iterations at blur 0.05; the
    # default 300 iterations after ε-scaling are 0.5 % off, see the docstring)
    assert sinkhorn_divergence(x, x + v, n_iter=2000) == pytest.approx(0.5 * v @ v, rel=1e-3)
    assert sinkhorn_divergence(x, x + v) == pytest.approx(0.5 * v @ v, rel=0.01)
    y = rng.standard_normal((120, 2)) * 1.5
    s = sinkhorn_divergence(x, y)
    assert s > 0 and s == pytest.approx(sinkhorn_divergence(y, x), rel=1e-4)


def test_sinkhorn_small_blur_matches_exact_assignment():
    """As blur → 0 the divergence tends to the exact OT cost, which for equal-size uniform
    clouds is an assignment problem (scipy's Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 2)), rng.standard_normal((40, 2)) + 0.5
    C = 0.5 * ((x[:, None] - y[None]) ** 2).sum(-1)
    r, c = linear_sum_assignment(C)
    exact = C[r, c].mean()
    # blur 0.02: entropic bias O(ε log n) on each term, largely cancelled by the debiasing;
    # 2 % covers it (measured < 0.5 %)
    assert sinkhorn_divergence(x, y, blur=0.02, n_iter=20000) == pytest.approx(exact, rel=0.02)


def test_loading_distance_of_the_truth_is_small():
    net = lowrank_preset("ring", 1000, seed=0)
    other = lowrank_preset("ring", 1000, seed=1)
    # rotate a fit's basis arbitrarily and align it back
    Q = np.array([[0.0, -1.0], [1.0, 0.0]])
    A = align_latent_basis(net.m @ Q, net.m)
    np.testing.assert_allclose(net.m @ Q @ A, net.m, atol=1e-10)
    ideal = loading_distance(net, other.m, net.m, true_conditional_mean(net, net.m),
                             max_points=200)
    assert ideal["mse_n"] == pytest.approx(0.0, abs=1e-12)
    # two independent 200-point samples of N(0, I): Sinkhorn 0.05–0.075 over 3 seeds
    # (finite samples); a cloud shifted by (1, 1) is at ≈ |v|²/2 = 1 on top of that
    assert ideal["sinkhorn"] < 0.15
    assert loading_distance(net, other.m + 1.0, net.m, net.n, max_points=200)["sinkhorn"] > 0.8
    plain = loading_distance(net, net.m[:200], net.m, net.n, max_points=200)
    # the true n carries the unidentified residual: MSE = Var(n − Cm) = 4 − 1.6² = 1.44
    assert plain["mse_n"] == pytest.approx(1.44, rel=0.1)
    # the ring's E[n|m] scored against the limit cycle's: (C_ring − C_lc) m has per-dim
    # variance 0.8² = 0.64 (1000 units: relative sd ≈ 5 %)
    lc = lowrank_preset("limit_cycle", 1000, seed=2)
    assert loading_distance(lc, net.m[:100], net.m, true_conditional_mean(net, net.m),
                            max_points=100)["mse_n"] == pytest.approx(0.64, rel=0.1)


def test_sinkhorn_matrix_equals_pairwise_divergences():
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((60, 2)), rng.standard_normal((50, 2)) + 0.5]
    ys = [rng.standard_normal((40, 2)) * 1.3, rng.standard_normal((70, 2)), xs[0]]
    S = sinkhorn_matrix(xs, ys)
    want = np.array([[sinkhorn_divergence(x, y) for y in ys] for x in xs])
    # the same deterministic iterations in the same order: equal up to rounding
    np.testing.assert_allclose(S, want, rtol=1e-10, atol=1e-12)
    assert S[0, 2] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="same dimension"):
        sinkhorn_matrix(xs, [rng.standard_normal((5, 3))])


def test_dynamics_signature_matches_mean_field():
    """Ring radius and limit-cycle period of networks whose m are whitened Gaussian samples
    and n = C m exactly (cov(n, m) = C without sampling error), against the N → ∞ values:
    ring: 1.6 ⟨φ'⟩(ρ²) = 1; limit cycle of the discrete map z → (1 − α) z + α g C z: the
    gain g on the cycle makes the eigenvalue (1 − α) + α g (1.6 ± 0.8i) unit-modulus, and
    the period is 2π / arg(eigenvalue) steps."""
    from scipy.optimize import brentq

    from spikewire.networks.lowrank import gain_average, lowrank_network
    from spikewire.simulate.lowrank import initial_grid

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 2))
    x -= x.mean(0)
    m = x @ np.linalg.inv(np.linalg.cholesky(x.T @ x / len(x))).T
    z0 = initial_grid(2, 2.4)     # the four corners (not the origin, a fixed point)
    ring = dynamics_signature(lowrank_network(m, 1.6 * m), z0, n_steps=300, settle=150)
    rho = np.sqrt(brentq(lambda D: 1.6 * gain_average(D) - 1, 1e-6, 20))
    # finite N enters only through ⟨φ'⟩'s sampling error, O(1/√N) ≈ 2 %; measured 0.06 %
    # at N = 20,000, so 2 % here
    assert ring["radius"] == pytest.approx(rho, rel=0.02)
    assert ring["oscillating"] == 0.0 and np.isnan(ring["period_s"])
    C = np.array([[1.6, -0.8], [0.8, 1.6]])
    lc = dynamics_signature(lowrank_network(m, m @ C.T), z0, n_steps=300, settle=150)
    a = 0.2
    # |(1 − a) + a g (1.6 + 0.8i)|² = 1  →  0.8 a² g² + 2 (1 − a) 1.6 a g − (1 − (1 − a)²) = 0
    qa, qb, qc = (1.6 ** 2 + 0.8 ** 2) * a ** 2, 2 * (1 - a) * 1.6 * a, -(1 - (1 - a) ** 2)
    g = (-qb + np.sqrt(qb ** 2 - 4 * qa * qc)) / (2 * qa)
    period = 2 * np.pi / np.arctan2(0.8 * a * g, 1 - a + 1.6 * a * g) * 0.01
    assert lc["oscillating"] == 1.0
    # measured 0.002 % off at N = 20,000 (0.6427 s against 4π τ = 0.628 s in continuous
    # time: the 2 % the discretisation makes is resolved), so 1 % here
    assert lc["period_s"] == pytest.approx(period, rel=0.01)
    assert lc["radius"] == pytest.approx(np.sqrt(brentq(lambda D: gain_average(D) - g,
                                                        1e-6, 20)), rel=0.02)
    quad = dynamics_signature(lowrank_preset("quadstable", 400, seed=0), initial_grid(4, 2.4))
    assert quad["n_fixed_points"] == 4 and quad["oscillating"] == 0.0
    with pytest.raises(ValueError, match="settle"):
        dynamics_signature(lowrank_network(m, 1.6 * m), z0, n_steps=100, settle=99)
