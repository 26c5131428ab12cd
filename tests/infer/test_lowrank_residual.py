"""The maximum-entropy residual of ``lowrank_flow``'s loading distribution (issue 14):
``n | (m, d)`` = the conditional flow (≈ E[n | m, d]) + N(0, residual_sd² I)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import true_conditional_mean


@pytest.fixture
def ring_like(one_thread):
    """Flows trained on m ~ N(0, I), d ~ N(0, 0.1²), n = 1.6 m (no residual in the data,
    as the method's ridge targets)."""
    from spikewire.infer.lowrank_flow import FlowMatcher

    rng = np.random.default_rng(0)
    m = rng.standard_normal((2000, 2))
    d = 0.1 * rng.standard_normal(2000)
    md = np.column_stack([m, d])
    flow_md = FlowMatcher(3, seed=1).train(md, n_iter=500)
    flow_n = FlowMatcher(2, 3, seed=2).train(1.6 * m, cond=md, n_iter=500)
    return flow_md, flow_n


def test_residual_samples_and_density(ring_like):
    from spikewire.infer.lowrank_flow import LoadingDistribution

    flow_md, flow_n = ring_like
    plain = LoadingDistribution(flow_md, flow_n, 2)
    res = LoadingDistribution(flow_md, flow_n, 2, residual_sd=0.7)
    s0, s1 = plain.sample(3000, seed=3), res.sample(3000, seed=3)
    # same (m, d) and flow draws (the residual has its own stream), n differs by it
    np.testing.assert_array_equal(s0["m"], s1["m"])
    e0, e1 = s0["n"] - 1.6 * s0["m"], s1["n"] - 1.6 * s1["m"]
    # the flow alone is close to deterministic (its spread after 500 iterations: sd 0.28,
    # measured); the residual adds variance 0.49: 3000 × 2 draws give it to ±4 % (1 sd;
    # measured 0.503)
    assert e0.std() < 0.35
    np.testing.assert_allclose((s1["n"] - s0["n"]).var(), 0.49, rtol=0.08)
    np.testing.assert_allclose((s1["n"] - s0["n"]).mean(0), 0.0, atol=0.05)
    assert e1.var() > 0.45
    # posterior mean: residual=False samples are the flow's; residual=True adds N(0, 0.49)
    m, d = s0["m"][:200], s0["d"][:200]
    post = res.conditional_n(m, d, n_samples=8, seed=4, residual=False)
    draws = res.conditional_n(m, d, n_samples=8, seed=4)
    spread = (post - post.mean(0)).std()                  # the flow's own: 0.26 measured
    assert spread < 0.35
    # independent residual: variances add (measured 0.756 against √(0.49 + 0.066) = 0.746)
    np.testing.assert_allclose((draws - post.mean(0)).std(), np.sqrt(0.49 + spread ** 2),
                               rtol=0.05)
    # density: log p(n | m, d) is the flow's spread (0.28) convolved with N(0, 0.49 I):
    # within 0.1 nats of log N(n − 1.6 m; 0, 0.49 I) on average (measured 0.033; the
    # flow's variance alone accounts for 0.02)
    n = 1.6 * m + 0.7 * np.random.default_rng(5).standard_normal(m.shape)
    cond = res.log_prob(m, d, n) - flow_md.log_prob(np.column_stack([m, d]))
    ref = multivariate_normal(np.zeros(2), 0.49 * np.eye(2)).logpdf(n - 1.6 * m)
    assert abs(cond.mean() - ref.mean()) < 0.1


def test_residual_sd_is_validated(one_thread):
    import spikewire as sw
    from spikewire.infer.lowrank import fit_lowrank
    from spikewire.infer.lowrank_flow import fit_loading_distribution
    from spikewire.simulate.lowrank import initial_grid, observe_rates, simulate_lowrank

    net = lowrank_preset("ring", 20, seed=0)
    act = simulate_lowrank(net, initial_grid(2, 2.4), 12)
    fit = fit_lowrank(act.activity(), 2, n_restarts=1, n_iter=1)
    for bad in (-0.1, float("nan"), "1"):
        with pytest.raises(ValueError, match="residual_sd"):
            fit_loading_distribution(fit, n_iter=1, residual_sd=bad)
    with pytest.raises(ValueError, match="residual_sd"):
        sw.infer(observe_rates(act), "lowrank_flow", residual_sd=-1.0, n_iter=1,
                 n_restarts=1, flow_iter=1)


def _heldout(train, test, ks):
    return np.array([GaussianMixture(k, covariance_type="full", n_init=2, random_state=0,
                                     reg_covar=1e-6).fit(train).score(test) for k in ks])


def test_maxent_residual_restores_the_mixture_peak():
    """Why the residual matters for the mixture structure (quadstable, k = 4): the
    identified part (m, E[n|m]) lies on a 2-D surface in 4-D, so held-out GMM
    log-likelihood keeps rising with k (what the flow without residual gave,
    benchmarks/results/lowrank2.md); adding the maximum-entropy residual N(0, σ² I) with
    σ = 1 (the preset's) gives the truth's curve, flat from k = 4 on."""
    ks = np.arange(2, 7)
    a, b = lowrank_preset("quadstable", 1000, seed=0), lowrank_preset("quadstable", 1000,
                                                                        seed=1)
    mu_a, mu_b = true_conditional_mean(a, a.m), true_conditional_mean(b, b.m)
    rng = np.random.default_rng(2)
    ident = _heldout(np.hstack([a.m, mu_a]), np.hstack([b.m, mu_b]), ks)
    maxent = _heldout(np.hstack([a.m, mu_a + rng.standard_normal(mu_a.shape)]),
                      np.hstack([b.m, mu_b + rng.standard_normal(mu_b.shape)]), ks)
    # ks = 2 … 6. Identified part: k = 6 beats k = 4 by > 1 nat per point (measured 1.95;
    # it keeps rising to k = 8, benchmarks/results/lowrank2.md)
    assert ident[4] - ident[2] > 1.0
    # with the residual: k = 4 gains > 0.15 nats over k = 2 (measured 0.28) and k = 5, 6
    # gain less than 0.03 over k = 4 (measured −0.002; the truth's curve: +0.29, then
    # within 0.02, benchmarks/results/lowrank2.md)
    assert maxent[2] - maxent[0] > 0.15
    assert maxent[3:].max() - maxent[2] < 0.03
