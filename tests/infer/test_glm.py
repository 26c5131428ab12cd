"""Coupled Poisson GLM: basis, design, likelihood (independent and nemos), recovery, input."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from infer_fixtures import small_glm_problem
from numba import njit
from scipy.stats import poisson

import spikewire as sw
from spikewire.infer._bases import raised_cosine_log_basis
from spikewire.infer.glm import FORMER_SETTINGS, GLM, MIN_ROBUST_EVENTS, _Block, build_design
from spikewire.networks import from_matrix

DT = 0.001
#: The former defaults (20 ms, 5 functions decaying at the window, the summed filter
#: tested), spelled out: the basis the simulated coupled GLMs below are drawn on (model
#: class), and the single-contrast test whose |w| / |z| is the weight's Wald sd.
FORMER = {k: v for k, v in FORMER_SETTINGS.items() if k != "delay_estimate"}


@njit
def _simulate_glm(rng, bias, kern, n_bins):
    """Coupled Poisson GLM: y_i(t) ~ Poisson(exp(b_i + Σ_j Σ_l kern[j, i, l] y_j(t-1-l)))."""
    n, _, n_lags = kern.shape
    drive = np.zeros((n_bins + n_lags + 1, n))
    y = np.zeros((n_bins, n), dtype=np.int64)
    for t in range(n_bins):
        for i in range(n):
            c = rng.poisson(np.exp(bias[i] + drive[t, i]))
            y[t, i] = c
            if c:
                for l in range(n_lags):
                    for k in range(n):
                        drive[t + 1 + l, k] += c * kern[i, k, l]
    return y


def _to_spikes(y):
    n = y.shape[1]
    times = [np.repeat(np.flatnonzero(y[:, j]), y[y[:, j] > 0, j]) * DT + DT / 2
             for j in range(n)]
    return sw.SpikeTrains.from_lists(times, t_stop=y.shape[0] * DT)


@pytest.fixture(scope="module")
def coupled():
    """4 units, 200 s: history on all, 0→1 excitatory, 2→3 inhibitory, 1→2 excitatory."""
    n = 4
    basis = raised_cosine_log_basis(5, 0.02, DT)
    coef = np.zeros((n, n, 5))
    for i in range(n):
        coef[i, i] = [-2.0, -1.0, -0.3, 0.0, 0.0]
    coef[1, 0] = [0.0, 0.8, 0.6, 0.2, 0.0]
    coef[3, 2] = [0.0, -1.0, -0.8, -0.3, 0.0]
    coef[2, 1] = [0.5, 0.5, 0.0, 0.0, 0.0]
    bias = np.log(np.array([20.0, 15.0, 25.0, 20.0]) * DT)
    kern = np.ascontiguousarray(np.einsum("lb,ijb->jil", basis, coef))  # pre, post, lag
    y = _simulate_glm(np.random.default_rng(7), bias, kern, 200_000)
    return {"y": y, "st": _to_spikes(y), "coef": coef, "bias": bias, "basis": basis}


def test_raised_cosine_basis():
    B = raised_cosine_log_basis(5, 0.02, DT)
    assert B.shape == (20, 5)
    assert np.all(B >= 0) and np.all(B <= 1)
    assert B[0, 0] == 1.0
    # neighbouring functions overlap by half: the sum is 1 between the first and last peak
    peaks = np.argmax(B, axis=0)
    s = B.sum(axis=1)[peaks[0]:peaks[-1] + 1]
    np.testing.assert_allclose(s, 1.0, atol=1e-12)
    assert B[-1, -1] < 1e-3  # the last function decays to 0 at the window end
    with pytest.raises(ValueError, match="first_peak"):
        raised_cosine_log_basis(3, 0.01, DT, first_peak=0.02)


def test_raised_cosine_basis_with_its_last_peak_at_the_window():
    """``last_peak``: peaks evenly spaced in log(t + offset) from the first bin to
    ``last_peak``, the sum flat (1) from the first peak to the last, so a filter can peak
    at any lag up to the window; without it the former basis, unchanged."""
    B = raised_cosine_log_basis(7, 0.025, DT, last_peak=0.025)
    assert B.shape == (25, 7)
    t = DT * np.arange(1, 26)
    phi = np.log(t + DT)
    step = (np.log(0.026) - np.log(0.002)) / 6
    # the peaks (1, 2, 4, 6, 10, 16, 25 ms) and one function against the formula
    np.testing.assert_array_equal(np.argmax(B, axis=0) + 1, [1, 2, 4, 6, 10, 16, 25])
    ref = 0.5 * (1 + np.cos(np.clip((phi - np.log(0.002) - 4 * step) * np.pi / step,
                                    -np.pi, np.pi)))
    np.testing.assert_allclose(B[:, 4], ref, atol=1e-12)
    np.testing.assert_allclose(B.sum(axis=1), 1.0, atol=1e-12)   # up to the window's end
    assert B[-1, -1] == pytest.approx(1.0)
    # the default (no last_peak) keeps the former basis: last function decays at window
    B0 = raised_cosine_log_basis(5, 0.02, DT)
    spacing = (np.log(0.021) - np.log(0.002)) / 5
    phi0 = np.log(DT * np.arange(1, 21) + DT)
    ref0 = 0.5 * (1 + np.cos(np.clip((phi0 - np.log(0.002) - 4 * spacing) * np.pi / spacing,
                                     -np.pi, np.pi)))
    np.testing.assert_allclose(B0[:, 4], ref0, atol=1e-12)
    with pytest.raises(ValueError, match="last_peak"):
        raised_cosine_log_basis(5, 0.02, DT, last_peak=0.03)
    with pytest.raises(ValueError, match="n_basis >= 2"):
        raised_cosine_log_basis(1, 0.02, DT, last_peak=0.02)


def test_design_equals_explicit_construction():
    rng = np.random.default_rng(1)
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 2, 40)) for _ in range(3)],
                                   t_stop=2.0)
    d = build_design(st, bin_width=DT, window=0.01, n_basis=3)
    y = st.binned(DT, sparse=False).astype(float)
    X = np.zeros((d.n_bins, 9))
    for t in range(d.n_bins):
        for j in range(3):
            for b in range(3):
                X[t, 3 * j + b] = sum(y[j, t - l] * d.basis[l - 1, b]
                                      for l in range(1, d.n_lags + 1) if t - l >= 0)
    np.testing.assert_allclose(d.dense(), X, atol=1e-12)


def _small_problem(seed=2):
    return small_glm_problem(seed, bin_width=DT)


def test_loglik_equals_independent_computation():
    st, d, bias, coef = _small_problem()
    X = d.dense()
    y = st.binned(DT, sparse=False)
    ours = d.log_likelihood(bias, coef, [0, 1, 2])
    for i in range(3):
        mu = np.exp(bias[i] + X @ coef[i].ravel())
        ref = poisson.logpmf(y[i], mu).sum()
        assert ours[i] == pytest.approx(ref, rel=1e-12)  # same sums, float64 rounding only


def test_loglik_and_unpenalised_fit_equal_nemos():
    import jax  # nemos and jax come with the dev extra
    import jax.numpy as jnp
    import nemos as nmo

    jax.config.update("jax_enable_x64", True)

    st, d, bias, coef = _small_problem()
    X = d.dense()
    y = st.binned(DT, sparse=False).astype(float)
    ours = d.log_likelihood(bias, coef, [0, 1, 2])
    model = nmo.glm.PopulationGLM()
    model.coef_ = jnp.asarray(coef.reshape(3, -1).T)     # (features, neurons)
    model.intercept_ = jnp.asarray(bias)
    per_bin = np.asarray(model.score(X, y.T, score_type="log-likelihood",
                                     aggregate_sample_scores=lambda v: jnp.mean(v, axis=0)))
    # nemos averages over bins; float64 on both sides
    np.testing.assert_allclose(ours, per_bin * d.n_bins, rtol=1e-10)
    # unpenalised maximum likelihood: our L-BFGS-B on the implicit design vs nemos
    blk = _Block(d, np.arange(3), "l2", 0.0, None)
    b, _, c, ok, _, _ = blk.fit_lbfgs(np.zeros(3), np.ones(d.n_bins),
                                      np.log(np.full(3, 0.02)), np.zeros((3, 0)),
                                      np.zeros((3, 3, 3)), max_iter=2000, tol=1e-14)
    assert ok
    ref = nmo.glm.PopulationGLM(solver_name="LBFGS",
                                solver_kwargs={"tol": 1e-10, "maxiter": 5000})
    ref.fit(X, y.T)
    # both optimise the same strictly convex likelihood to a tight tolerance
    np.testing.assert_allclose(c.reshape(3, -1), np.asarray(ref.coef_).T, atol=2e-4)
    np.testing.assert_allclose(b, np.asarray(ref.intercept_), atol=2e-4)


def test_recovers_filters_of_a_simulated_coupled_glm(coupled):
    # fitted in the model class (the truth's basis) with the summed filter tested, so
    # |w| / |z| is the Wald sd of the summed filter
    est = GLM(penalties=[1e-3], history_penalty=1e-3, **FORMER).fit(coupled["st"])
    B, coef = coupled["basis"], coupled["coef"]
    true_w = coef @ B.sum(axis=0)
    off = ~np.eye(4, dtype=bool)
    sd = np.abs(est.weights) / np.maximum(est.scores, 1e-12)
    z = np.abs(est.weights - true_w)[off] / sd[off]
    # the Wald sd of the summed filter; 4 sd bounds the error of all 12 sums with
    # probability > 0.999 for a consistent estimator (the 1e-3 ridge is negligible)
    assert np.all(z < 4), z
    filt = est.diagnostics["filters"]
    for i, j in ((1, 0), (3, 2), (2, 1)):
        k_hat, k_true = B @ filt[i, j], B @ coef[i, j]
        assert np.corrcoef(k_hat, k_true)[0, 1] > 0.9
    np.testing.assert_allclose(est.diagnostics["intercepts"], coupled["bias"], atol=0.15)
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[3, 2] == -1
    assert est.diagnostics["heldout_bits_per_spike"] > 0
    assert np.isfinite(est.diagnostics["heldout_loglik"])
    assert est.weight_unit.startswith("summed coupling filter")


@pytest.mark.parametrize("penalty", ["l2", "l1", "group"])
def test_penalties_chosen_by_cv_find_the_links(coupled, penalty):
    est = GLM(penalty=penalty, n_penalties=4).fit(coupled["st"])
    adj = est.adjacency()
    assert adj[1, 0] == 1 and adj[3, 2] == -1
    grid = np.asarray(est.diagnostics["penalty_grid"])
    chosen = np.array(list(est.diagnostics["chosen_penalty"].values()))
    assert grid.shape == (4, 4) and np.all(np.isin(chosen, grid))
    assert est.diagnostics["converged"]


def test_dale_given_constrains_signs(coupled):
    ct = ["E", "E", "I", "E"]
    est = GLM(dale="given", cell_type=ct, penalties=[1e-3]).fit(coupled["st"])
    filt = est.diagnostics["filters"]
    for j, t in enumerate(ct):
        for i in range(4):
            if i != j:
                assert np.all(filt[i, j] >= 0) if t == "E" else np.all(filt[i, j] <= 0)
    assert est.adjacency()[3, 2] == -1 and est.adjacency()[1, 0] == 1


def test_lif_known_synapse_found_and_absent_not():
    w = np.zeros((4, 4))
    w[2, 0] = 2.0
    w[3, 1] = -2.0
    net = from_matrix(w, ["E", "I", "E", "E"], delays=0.001,
                      drive=sw.WhiteNoiseDrive(mu=18.0, sigma=4.0))
    st = sw.simulate(net, 100.0, seed=1)
    est = sw.infer(st, method="glm", n_penalties=4)
    # α = 0.01 (BH) keeps the chance of any false positive among the 10 unconnected
    # directed pairs near 10 %; the two synapses have p < 1e-10 here
    adj = est.adjacency(alpha=0.01)
    assert adj[2, 0] == 1 and adj[3, 1] == -1
    unconnected = np.ones((4, 4), dtype=bool)
    unconnected[[2, 3], [0, 1]] = False
    np.fill_diagonal(unconnected, False)
    assert not adj[unconnected].any()


def test_too_few_spikes_and_all_zero_warning():
    rng = np.random.default_rng(4)
    T = 60.0
    trains = [np.sort(rng.uniform(0, T, 600)) for _ in range(3)] + [np.array([1.0, 5.0])]
    st = sw.SpikeTrains.from_lists(trains, t_stop=T)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est = GLM(penalty="l1", penalties=[1e6]).fit(st)
    assert est.unit_status[3] == "too_few_spikes"
    assert np.all(est.pair_status[3, :3] == 3) and np.all(est.pair_status[:3, 3] == 3)
    assert np.all(est.weights == 0)
    assert "every coupling to 0" in est.diagnostics["message"]
    assert any("every coupling to 0" in str(r.message) for r in rec)
    assert np.all(np.isfinite(est.pvalues[est.pair_status == 0]))
    few = sw.SpikeTrains.from_lists([[1.0, 2.0], [3.0]], t_stop=10.0)
    est = GLM().fit(few)
    assert est.pair_status[0, 1] == 3 and est.pair_status[1, 0] == 3
    assert "min_spikes" in est.diagnostics["message"]


@pytest.mark.parametrize("settings, match", [
    ({"penalty": "l3"}, "penalty"),
    ({"bin_width": 0.05}, "must not exceed"),
    ({"alpha": 0.0}, "alpha"),
    ({"penalties": [-1.0]}, "penalties"),
    ({"dale": "given"}, "cell_type"),
    ({"dale": "given", "cell_type": ["E", "X"]}, "cell_type"),
    ({"dale": "maybe"}, "dale"),
    ({"cv": 0}, "cv"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"variance": "hc0"}, "variance"),
    ({"robust_block": 0.01}, "at least the filter window"),
    ({"robust_block": 0.0}, "robust_block"),
    ({"contrast": "peak"}, "contrast"),
    ({"delay_estimate": "mean"}, "delay_estimate"),
    ({"last_peak": 0.05}, "last_peak"),
    ({"last_peak": "window", "n_basis": 1, "contrast": "area"}, "n_basis >= 2"),
    ({"contrast": "scan", "n_basis": 2}, "n_basis >= 3"),
])
def test_bad_settings(settings, match):
    rng = np.random.default_rng(0)
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 20, 200)) for _ in range(2)],
                                   t_stop=20.0)
    with pytest.raises(ValueError, match=match):
        GLM(**settings).fit(st)


def test_bad_input():
    rng = np.random.default_rng(0)
    short = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 0.05, 30))] * 2, t_stop=0.05)
    with pytest.raises(ValueError, match="shorter than"):
        GLM().fit(short)
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 20, 200))] * 2, t_stop=20.0)
    with pytest.raises(ValueError, match="unknown unit"):
        GLM().fit(st, pairs=[(0, 5)])
    with pytest.raises(TypeError):
        GLM().fit([1, 2, 3])


def test_robust_variance_falls_back_to_the_model_on_short_recordings():
    """20 s holds 200 blocks of 0.1 s (robust) but 4 of 5 s: fewer than
    MIN_ROBUST_BLOCKS, so the model variance is used, with a warning."""
    rng = np.random.default_rng(0)
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 20, 200)) for _ in range(2)],
                                   t_stop=20.0)
    assert GLM().fit(st).diagnostics["variance"] == "robust"
    with pytest.warns(RuntimeWarning, match="fewer than 50"):
        est = GLM(robust_block=5.0).fit(st)
    assert est.diagnostics["variance"] == "model"
    model = GLM(variance="model").fit(st)
    np.testing.assert_array_equal(est.pvalues, model.pvalues)


def test_parallel_threads_give_the_same_estimate(coupled):
    a = GLM(penalties=[1e-2], n_jobs=1).fit(coupled["st"])
    b = GLM(penalties=[1e-2], n_jobs=2).fit(coupled["st"])
    # blocks of targets are separable problems; the optimiser stops at the same tolerance
    np.testing.assert_allclose(a.weights, b.weights, atol=5e-3)


def test_dale_estimated_labels_and_kfold_cv(coupled):
    est = GLM(dale="estimate", cv=2, n_penalties=2).fit(coupled["st"])
    labels = est.diagnostics["dale_labels"]
    assert labels[0] == "E" and labels[2] == "I"   # 0→1 excitatory, 2→3 inhibitory
    filt = est.diagnostics["filters"]
    for j, t in enumerate(labels):
        for i in range(4):
            if i != j and t in ("E", "I"):
                assert np.all(filt[i, j] >= 0) if t == "E" else np.all(filt[i, j] <= 0)
    assert np.asarray(est.diagnostics["penalty_grid"]).shape == (4, 2)
    assert est.adjacency()[1, 0] == 1 and est.adjacency()[3, 2] == -1


# ------------------------------------------------------------ population covariates
def test_population_covariates_equal_explicit_kernel():
    from spikewire.infer._bases import population_covariates

    rng = np.random.default_rng(0)
    n, bw, tau, gap = 400, DT, 0.005, 3
    pop = rng.poisson(2.0, n).astype(float)
    bins = np.flatnonzero(pop)
    Z = population_covariates(bins, pop[bins], n, bw, [tau, 0.02], gap=gap)
    # the documented kernel, built as a dense matrix: a^|k| for |k| > gap, row-normalised
    k = np.arange(n)
    lag = np.abs(k[:, None] - k[None, :])
    K = np.exp(-bw / tau) ** lag
    K[lag <= gap] = 0.0
    z = np.log(K @ pop / K.sum(axis=1) + 0.05 * pop.mean())
    np.testing.assert_allclose(Z[:, 0], (z - z.mean()) / z.std(), atol=1e-10)
    assert Z.shape == (n, 2)
    with pytest.raises(ValueError, match="exceed the bin width"):
        population_covariates(bins, pop[bins], n, bw, [bw])


def test_covariate_loss_gradient_and_wald_equal_dense_computation():
    """The implicit-design likelihood with dense covariates Z, its gradient and the Wald
    z (Fisher information of a presynaptic block with intercept and Z profiled out) equal
    the same quantities built from the explicit design matrix."""
    st, d, bias, coef = _small_problem()
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((d.n_bins, 2))
    gamma = rng.normal(0, 0.2, (3, 2))
    blk = _Block(d, np.arange(3), "l2", 0.0, None, covariates=Z)
    rows = np.ones(d.n_bins)
    loss, _, gb, gc, gg = blk.loss_grad(bias, coef, rows, gamma=gamma)
    X = d.dense()
    Y = st.binned(DT, sparse=False).astype(float)
    ref_loss = 0.0
    for i in range(3):
        eta = bias[i] + X @ coef[i].ravel() + Z @ gamma[i]
        mu = np.exp(eta)
        ref_loss += float(np.sum(mu - Y[i] * eta))
        r = mu - Y[i]
        np.testing.assert_allclose(gb[i], r.sum(), rtol=1e-9)
        np.testing.assert_allclose(gc[i].ravel(), X.T @ r, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gg[i], Z.T @ r, rtol=1e-9, atol=1e-9)
    assert loss == pytest.approx(ref_loss, rel=1e-12)   # same sums, rounding only
    # Wald z at λ: sandwich (S + λ)⁻¹ S (S + λ)⁻¹ with S the Schur complement of the block
    # of the tested combination cᵀ w: the summed filter (c = column sums of the basis),
    # equal weights (c = 1), c = √(column sums) and the default, the filter summed with
    # the lag taper τ (c = Bᵀ τ)
    from spikewire.infer.glm import wald_contrast

    lam = np.array([0.0, 0.5, 2.0])
    nb = d.n_basis
    np.testing.assert_allclose(wald_contrast(d.basis, "area") @ coef[0, 1],
                               (d.basis @ coef[0, 1]).sum(), rtol=1e-12)
    tau = raised_cosine_log_basis(5, d.n_lags * DT, DT).sum(axis=1)
    assert tau[0] == 1.0 and tau[-1] < 1e-3       # full weight early, none at the end
    for contrast in ("area", "equal", "sqrt_area", "taper"):
        z, _, _, _, _ = GLM(contrast=contrast)._wald(d, bias, coef, lam, 1, gamma=gamma,
                                                      Z=Z, variance="model")
        c = {"area": d.basis.sum(axis=0), "equal": np.ones(nb),
             "sqrt_area": np.sqrt(d.basis.sum(axis=0)), "taper": d.basis.T @ tau}[contrast]
        for i in range(3):
            mu = np.exp(bias[i] + X @ coef[i].ravel() + Z @ gamma[i])
            A = np.column_stack([np.ones(d.n_bins), Z])
            for j in range(3):
                Xj = X[:, j * nb:(j + 1) * nb]
                H = Xj.T @ (mu[:, None] * Xj)
                C = Xj.T @ (mu[:, None] * A)
                N = A.T @ (mu[:, None] * A)
                S = H - C @ np.linalg.solve(N, C.T)
                v = np.linalg.solve(S + lam[i] * np.eye(nb), c)
                ref = (coef[i, j] @ c) / np.sqrt(v @ S @ v)
                assert z[i, j] == pytest.approx(ref, rel=1e-6)  # 1e-10 trace jitter only


def test_fisher_cross_kernel_equals_the_dense_lagged_sums():
    """``block_fisher_cross`` (the Wald step's one pass over the spikes) gives the sums of
    the explicit lagged design, ``hh[j, l, l'] = Σ_t μ_t y_j[t−1−l] y_j[t−1−l']`` and
    ``hx[j, l, m] = Σ_t y_j[t−1−l] w[t, m]`` with ``μ = w[:, 0]`` (counts above 1, spikes
    closer than the window, a spike in the last bin). Tolerance: both sides add the same
    ~10³ products in a different order (rtol 1e-12)."""
    from spikewire.infer import _glm_kernels as _k

    st, d, _, _ = _small_problem()
    rng = np.random.default_rng(3)
    mu = np.exp(rng.normal(-4, 0.5, (d.n_bins, 2)))
    A = np.column_stack([np.ones(d.n_bins), rng.standard_normal((d.n_bins, 2))])
    u_bins = d.u_bins.copy()
    u_bins[d.u_ptr[1] - 1] = d.n_bins - 1               # unit 0's last spike: last bin
    u_counts = d.u_counts.copy()
    u_counts[::7] = 2.0
    nu, L = d.n_units, d.n_lags
    lagged = np.zeros((nu, d.n_bins, L))                 # lagged[j, t, l] = y_j[t − 1 − l]
    for j in range(nu):
        y = np.zeros(d.n_bins)
        np.add.at(y, u_bins[d.u_ptr[j]:d.u_ptr[j + 1]], u_counts[d.u_ptr[j]:d.u_ptr[j + 1]])
        for lag in range(L):
            lagged[j, lag + 1:, lag] = y[:d.n_bins - lag - 1]
    for k in range(2):
        W = np.ascontiguousarray(mu[:, k:k + 1] * A)
        hh, hx = np.empty((nu, L, L)), np.empty((nu, L, 3))
        _k.block_fisher_cross(d.u_ptr, u_bins, u_counts, W, L, hh, hx)
        ref_hh = np.einsum("jtl,t,jtm->jlm", lagged, W[:, 0], lagged)
        ref_hx = np.einsum("jtl,tm->jlm", lagged, W)
        np.testing.assert_allclose(hh, ref_hh, rtol=1e-12, atol=0)
        np.testing.assert_allclose(hx, ref_hx, rtol=1e-12, atol=0)
        assert np.all(hh.diagonal(axis1=1, axis2=2) > 0)   # not a vacuous comparison


def test_likelihood_pass_does_not_depend_on_the_chunk_size():
    """The passes run over time chunks; 1,024 bins (the default), 4,096 (the former) and
    an odd 37 give the same loss and gradients: per element the spikes' products are
    added in the same order, only the covariate gradient's per-chunk matrix products
    (BLAS) round differently (rtol 1e-12)."""
    from spikewire.infer._bases import population_covariates

    st = _random_coupled(n=6, T=10.0)
    d = build_design(st, window=0.025)
    Z = population_covariates(d.s_bins, d.s_counts, d.n_bins, d.bin_width, (0.01, 0.3),
                              gap=6, two_sided=False)
    rng = np.random.default_rng(4)
    tp = np.arange(6)
    bias = np.log(np.full(6, 0.01))
    gam = rng.normal(0, 0.1, (6, 2))
    coef = rng.normal(0, 0.3, (6, 6, d.n_basis))
    rows = np.ones(d.n_bins)
    rows[3000:5000] = 0.0
    out = [_Block(d, tp, "l2", 1.0, None, covariates=Z, chunk=c).loss_grad(
        bias, coef, rows, gamma=gam) for c in (1024, 4096, 37)]
    for other in out[1:]:
        assert other[0] == pytest.approx(out[0][0], rel=1e-12)
        for a, b in zip(out[0][1:], other[1:], strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_bins", [10, 37, 1000])
def test_robust_wald_variance_equals_explicit_block_sandwich(block_bins, monkeypatch):
    """The cluster-robust (CR1) Wald variance equals the explicit sandwich from the dense
    design: per time block the profiled score g_k = Σ_{t∈k} (x_j(t) − C N⁻¹ a(t)) r_t,
    meat Σ_k g_k g_kᵀ, variance G/(G − 1) vᵀ meat v with v = (S + λ)⁻¹ c. Block lengths:
    the filter length (10 bins, every spike's lags straddle blocks), an odd length with a
    short last block, and one 1,000-bin block per s. The z uses the larger of this and
    the model variance vᵀ S v. Unit 0 also fires in the last bin (a spike with no lag
    inside the recording: it once made the kernel read past the last block)."""
    st, _, bias, coef = _small_problem()
    trains = [np.asarray(st[k]) for k in range(3)]
    trains[0] = np.append(trains[0], st.t_stop - DT / 2)
    st = sw.SpikeTrains.from_lists(trains, t_stop=st.t_stop)
    d = build_design(st, bin_width=DT, window=0.01, n_basis=3)
    assert d.u_bins[d.u_ptr[1] - 1] == d.n_bins - 1
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((d.n_bins, 2))
    gamma = rng.normal(0, 0.2, (3, 2))
    lam = np.array([0.0, 0.5, 2.0])
    targets = np.array([0, 1, 2])
    z, _, vm, vr, vu = GLM(contrast="area")._wald(d, bias, coef, lam, 1, gamma=gamma, Z=Z,
                                                  targets=targets, variance="robust",
                                                  block_bins=block_bins)
    X = d.dense()
    Y = st.binned(DT, sparse=False).astype(float)
    A = np.column_stack([np.ones(d.n_bins), Z])
    # the summed filter is tested (one contrast; the scan's k contrasts:
    # tests/infer/test_glm_scan.py)
    csum = d.basis.sum(axis=0)
    nb = d.n_basis
    blk = np.arange(d.n_bins) // block_bins
    G = blk.max() + 1
    for i in range(3):
        mu = np.exp(bias[i] + X @ coef[i].ravel() + Z @ gamma[i])
        r = Y[i] - mu
        N = A.T @ (mu[:, None] * A)
        for j in range(3):
            Xj = X[:, j * nb:(j + 1) * nb]
            C = Xj.T @ (mu[:, None] * A)
            S = Xj.T @ (mu[:, None] * Xj) - C @ np.linalg.solve(N, C.T)
            xt = Xj - A @ np.linalg.solve(N, C.T)            # profiled design rows
            g = np.zeros((G, nb))
            np.add.at(g, blk, xt * r[:, None])
            v = np.linalg.solve(S + lam[i] * np.eye(nb), csum)
            ref = G / (G - 1) * (v @ (g.T @ g) @ v)
            assert vr[i, j] == pytest.approx(ref, rel=1e-7)   # 1e-10 trace jitter only
            assert vm[i, j] == pytest.approx(v @ S @ v, rel=1e-7)
            # the test uses the larger of the two (the model variance is a floor) where
            # the target expects >= MIN_ROBUST_EVENTS spikes in j's windows
            lagsum = np.convolve(Y[j], np.ones(d.n_lags))[:d.n_bins]
            events = mu[1:] @ lagsum[:-1]                       # Σ_t μ_t Σ_l y_j(t − l)
            used = max(ref, v @ S @ v) if events >= MIN_ROBUST_EVENTS else v @ S @ v
            assert z[i, j] == pytest.approx(coef[i, j] @ csum / np.sqrt(used), rel=1e-7)
            assert vu[i, j] == pytest.approx(used, rel=1e-7)
    # every pair here expects > 10 events; with the threshold above them all, the robust
    # option falls back to the model variance pair by pair
    assert np.any(vr != vm)
    monkeypatch.setattr(sys.modules[GLM.__module__], "MIN_ROBUST_EVENTS", np.inf)
    z2, _, _, _, _ = GLM(contrast="area")._wald(d, bias, coef, lam, 1, gamma=gamma, Z=Z,
                                                targets=targets, variance="robust",
                                                block_bins=block_bins)
    zm, _, _, _, _ = GLM(contrast="area")._wald(d, bias, coef, lam, 1, gamma=gamma, Z=Z,
                                                variance="model")
    np.testing.assert_array_equal(z2, zm)


def _updown(n=16, T=120.0, seed=1, dt=DT):
    """Unconnected Poisson units (5–20 Hz) whose rates all switch between a hidden up
    state (× 2.0) and down state (× 0.3), exponential dwell times of mean 0.5 s."""
    rng = np.random.default_rng(seed)
    steps = int(round(T / dt))
    gain = np.empty(steps)
    t, up = 0, 0
    while t < steps:
        dur = int(rng.exponential(0.5 / dt)) + 1
        gain[t:t + dur] = 2.0 if up else 0.3
        t, up = t + dur, 1 - up
    trains = []
    for rate in rng.uniform(5.0, 20.0, n):
        tt = np.sort(rng.uniform(0, T, rng.poisson(rate * 2.0 * T)))
        keep = rng.random(tt.size) < gain[np.minimum((tt / dt).astype(int), steps - 1)] / 2.0
        trains.append(tt[keep])
    return sw.SpikeTrains.from_lists(trains, t_stop=T, annotations={"engine": "test",
                                                                    "dt": dt})


def test_false_positive_rate_under_hidden_up_down_states():
    """Calibration on a null with shared hidden states (issue 12): with 240 ordered pairs
    a calibrated test gives p < 0.05 for 12 expected (sd 3.4); [0.01, 0.10] (≥ 3 sd either
    side even allowing for pairs sharing units) rejects the anti-conservative model
    without population covariates (FPR 0.92 here) and an over-conservative test (the
    earlier posterior-variance Wald gave 0.000 on independent Poisson)."""
    st = _updown()
    est = GLM().fit(st)
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
    assert tested.sum() == 240
    fpr = float(np.mean(est.pvalues[tested] < 0.05))
    assert 0.01 <= fpr <= 0.10, fpr
    assert est.diagnostics["population_timescales"] == (0.01, 0.3)
    bad = GLM(population_timescales=None).fit(st)
    assert float(np.mean(bad.pvalues[tested] < 0.05)) > 0.5  # the failure being fixed


def test_early_stopping_selects_the_full_path_optimum(coupled):
    a = GLM(n_penalties=6).fit(coupled["st"])
    b = GLM(n_penalties=6, early_stopping=False).fit(coupled["st"])
    # the held-out likelihood along the ridge path is unimodal here: same choice, same fit
    assert a.diagnostics["chosen_penalty"] == b.diagnostics["chosen_penalty"]
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-8)
    assert np.asarray(a.diagnostics["penalty_grid"]).shape[1] <= 6


@pytest.mark.parametrize("family", ["poisson", "heterogeneous", "comodulated", "updown",
                                    "bursting"])
def test_false_positive_rate_on_the_null_families(family):
    """Every null family of issue 12 (20 unconnected units, 120 s; 380 ordered pairs, fewer
    where heterogeneous rates leave units under min_spikes): a calibrated test gives
    p < 0.05 for 5 % of the pairs (sd 0.011 at 380 pairs); [0.01, 0.10] is > 3.5 sd on
    either side. Measured: 0.034, 0.036, 0.063, 0.053, 0.071 (model variance and 30 + 300
    ms covariates: 0.055, 0.036, 0.068, 0.074, 0.076)."""
    from spikewire.infer._null_families import null_family

    st = null_family(family, n_units=20, duration=120.0, seed=0)
    est = GLM().fit(st)
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
    assert tested.sum() >= 250
    fpr = float(np.mean(est.pvalues[tested] < 0.05))
    assert 0.01 <= fpr <= 0.10, fpr


def test_robust_variance_matches_the_model_on_poisson_and_widens_on_bursts():
    """Robust / model variance of the tested pairs (12 unconnected units, 120 s: 132
    pairs, 1,200 blocks of 0.1 s). On independent Poisson trains the model holds, so
    the CR1 meat estimates the same variance: the median ratio is 1 up to noise (the
    per-pair ratio scatters by ~±0.12 (10–90 %) at 3,000 blocks, measured; at 1,200
    blocks ~0.2 per pair, so the median of 132 shared-unit pairs lies within ±0.1 of 1
    with a wide margin). On bursting trains (mean 3 spikes per burst) the clustered
    residuals widen it: measured median 1.44 on 40 units × 300 s; > 1.2 here."""
    from spikewire.infer._null_families import null_family

    med = {}
    for fam in ("poisson", "bursting"):
        st = null_family(fam, n_units=12, duration=120.0, seed=1)
        est = GLM(**FORMER).fit(st)   # the variance ratio of the summed filter
        t = (est.pair_status == 0) & ~np.eye(12, dtype=bool)
        assert est.diagnostics["variance"] == "robust"
        ratio = est.diagnostics["variance_ratio"][t]
        used = est.diagnostics["variance_used_ratio"][t]
        assert np.all(used >= 1.0 - 1e-12)          # the model variance is the floor
        med[fam] = float(np.median(ratio))
    assert 0.9 <= med["poisson"] <= 1.1, med
    assert med["bursting"] > 1.2, med


# ---------------------------------------------------------------- speed (issue 18)
def _random_coupled(n=12, T=60.0, seed=3):
    """n units, ~15 % of pairs coupled (3:1 excitatory:inhibitory), refractory history."""
    rng = np.random.default_rng(seed)
    basis = raised_cosine_log_basis(5, 0.02, DT)
    coef = np.zeros((n, n, 5))
    for i in range(n):
        coef[i, i] = [-2.0, -1.0, -0.3, 0.0, 0.0]
    mask = (rng.random((n, n)) < 0.15) & ~np.eye(n, dtype=bool)
    sign = np.where(rng.random(n) < 0.75, 1.0, -1.5)
    for i, j in zip(*np.nonzero(mask), strict=True):
        coef[i, j] = np.array([0.2, 0.6, 0.4, 0.15, 0.0]) * sign[j]
    bias = np.log(rng.uniform(8.0, 20.0, n) * DT)
    kern = np.ascontiguousarray(np.einsum("lb,ijb->jil", basis, coef))
    y = _simulate_glm(np.random.default_rng(seed + 1), bias, kern, int(T / DT))
    return _to_spikes(y)


def test_null_model_pass_and_skipped_rows_equal_the_full_pass():
    """The null model's history-only pass (every coupling 0) gives the same loss and
    gradients as the full pass with zero couplings, and skipping the chunks whose rows all
    have weight 0 changes nothing (the same sums in the same order: exact equality)."""
    from spikewire.infer._bases import population_covariates

    st = _random_coupled(n=10, T=30.0)
    d = build_design(st)
    Z = population_covariates(d.s_bins, d.s_counts, d.n_bins, d.bin_width, (0.03, 0.3),
                              gap=5, two_sided=False)
    tp = np.array([0, 3, 4, 9])
    blk = _Block(d, tp, "l2", 1.0, None, covariates=Z, chunk=1024)
    rng = np.random.default_rng(0)
    bias = np.log(np.full(tp.size, 0.01))
    gam = rng.normal(0, 0.1, (tp.size, 2))
    coef = np.zeros((tp.size, d.n_units, 5))
    coef[blk.self_mask] = rng.normal(0, 1, (tp.size, 5))
    rows = np.ones(d.n_bins)
    rows[5000:12000] = 0.0      # whole chunks (and two partial ones) without weight
    full = blk.loss_grad(bias, coef, rows, gamma=gam)
    null = blk.loss_grad(bias, coef, rows, gamma=gam, self_only=True)
    for a, b in zip(full[:3] + full[4:], null[:3] + null[4:], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full[3][blk.self_mask], null[3][blk.self_mask])
    assert np.all(null[3][~blk.self_mask] == 0)
    # the skipped rows against the dense design (nothing of them may leak in)
    X = d.dense()
    Y = st.binned(DT, sparse=False).astype(float)
    for r, i in enumerate(tp):
        eta = bias[r] + X @ coef[r].ravel() + Z @ gam[r]
        ref = float(np.sum(rows * (np.exp(eta) - Y[i] * eta)))
        assert full[1][r] == pytest.approx(ref, rel=1e-11)  # summation order only


def test_fast_ridge_path_agrees_with_the_former_solver(monkeypatch):
    """The default path with the fast ridge solver (penalised whitening, one L-BFGS per
    target) selects as the former solver did (scipy L-BFGS-B on all targets, whitening
    without the penalty): the same best held-out likelihood per target, the same penalty
    wherever the choice is not a near-tie, and then the same final weights, up to the
    optimisers' stopping tolerances."""
    import importlib

    glm_mod = importlib.import_module("spikewire.infer.glm")
    st = _random_coupled()
    # the summed filter's test (FORMER), whose |w| / |z| is the weight's Wald sd below
    fast = GLM(**FORMER).fit(st)
    monkeypatch.setattr(glm_mod, "_FAST_RIDGE", False)
    ref = GLM(**FORMER).fit(st)
    df, dr = fast.diagnostics, ref.diagnostics
    assert df["population_timescales"] == (0.01, 0.3)  # covariates in the comparison
    # selection fits stop at a relative reduction 1e-7 of the summed objective (~3e4 nats
    # here), i.e. ~3e-3 nats from the optimum; measured differences are <= 0.01 nats per
    # target. 0.05 nats bounds them and is far below the gaps between penalties that are
    # not ties (0.3-5 nats here)
    path_r = {u: np.asarray(v) for u, v in dr["heldout_loglik_path"].items()}
    path_f = {u: np.asarray(v) for u, v in df["heldout_loglik_path"].items()}
    best_r = np.array([v.max() for v in path_r.values()])
    best_f = np.array([v.max() for v in path_f.values()])
    np.testing.assert_allclose(best_f, best_r, atol=0.05)
    same = []
    for u, v in path_r.items():
        top2 = np.sort(v)[-2:]
        clear = len(v) > 1 and top2[1] - top2[0] > 0.1   # not a near-tie
        if df["chosen_penalty"][u] == dr["chosen_penalty"][u]:
            same.append(u)
        else:
            assert not clear, (u, v, path_f[u])
    assert len(same) >= st.n_units - 2   # at most two near-ties of 12 here
    # final fits at 1e-9 on the same penalty: weights and Wald z agree to a small
    # fraction of the weights' Wald sd (0.05 sd; measured <= 0.02)
    rows = np.isin(st.units, same)
    off = ~np.eye(st.n_units, dtype=bool) & rows[:, None]
    sd = np.abs(ref.weights) / np.maximum(ref.scores, 1e-12)
    assert np.max(np.abs(fast.weights - ref.weights)[off] / sd[off]) < 0.05
    assert np.max(np.abs(fast.scores - ref.scores)[off]) < 0.05


def test_separable_lbfgs_finds_each_rows_minimum():
    """``_lbfgs_rows`` on rows of independent strictly convex problems (quadratics of
    condition number up to 100 plus a softplus term, different per row) reaches every row's
    own minimum, found here by scipy on each row separately; a row whose objective is not
    finite at the start is reported as failed without disturbing the others."""
    from scipy.optimize import minimize

    from spikewire.infer.glm import _lbfgs_rows

    rng = np.random.default_rng(2)
    n, p = 6, 12
    A = []
    for _ in range(n):
        Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
        A.append(Q @ np.diag(np.logspace(0, rng.uniform(0, 2), p)) @ Q.T)
    A = np.array(A)
    b = rng.standard_normal((n, p))

    def f_row(i, x):
        return 0.5 * x @ A[i] @ x - b[i] @ x + np.logaddexp(0, x.sum())

    def g_row(i, x):
        return A[i] @ x - b[i] + 1 / (1 + np.exp(-x.sum()))

    def fun(rows, X):
        f = np.array([f_row(i, x) for i, x in zip(rows, X, strict=True)])
        f[rows == 5] = np.inf           # row 5: not finite anywhere
        return f, np.array([g_row(i, x) for i, x in zip(rows, X, strict=True)])

    X, F, _, ok, _ = _lbfgs_rows(fun, np.zeros((n, p)), ftol=1e-14, gtol=1e-9)
    assert list(ok) == [True] * 5 + [False]
    for i in range(5):
        ref = minimize(lambda x, i=i: f_row(i, x), np.zeros(p), jac=lambda x, i=i: g_row(i, x),
                       method="BFGS", options={"gtol": 1e-10})
        # both stop within ~1e-8 of the minimum; the minimiser then agrees to ~1e-5
        np.testing.assert_allclose(X[i], ref.x, atol=1e-5)
        assert F[i] == pytest.approx(ref.fun, rel=1e-10, abs=1e-10)


def test_delays_of_planted_links_up_to_22_ms_at_the_default():
    # independent Poisson trains (10 units, 10 Hz, 200 s) plus three links: each spike of
    # unit 0 (2, 4) is followed by one of unit 1 (3, 5) after 22 ms (15, 8 ms) + U(0, 1 ms)
    # with probability 0.3. The default (basis peaks at 1, 2, 4, 6, 10, 16 and 25 ms, the
    # scan test) calls all three; the reported delay (the filter's extremum, the lobe
    # centre where the extremum is the window's last peak: filter_delays "edge_lobe") is
    # within 2 ms of the mean delay 22.5 (15.5, 8.5) ms, the resolution the issue asks
    # for (measured 23.2, 16, 10 ms; the extremum alone says 25 ms for the 22 ms link).
    rng = np.random.default_rng(5)
    T, n = 200.0, 10
    trains = [np.sort(rng.uniform(0, T, rng.poisson(10.0 * T))) for _ in range(n)]
    links = ((0, 1, 0.022), (2, 3, 0.015), (4, 5, 0.008))
    for pre, post, d in links:
        src = trains[pre]
        extra = src[rng.random(src.size) < 0.3] + d + rng.uniform(0, 1e-3)
        trains[post] = np.sort(np.r_[trains[post], extra[extra < T]])
    st = sw.SpikeTrains.from_lists(trains, t_stop=T)
    est = sw.infer(st, "glm")
    assert est.diagnostics["population_timescales"] == (0.01, 0.3)   # the full default
    adj = est.adjacency()
    for pre, post, d in links:
        assert adj[post, pre] == 1
        assert abs(est.delays[post, pre] - (d + 5e-4)) <= 2e-3, (d, est.delays[post, pre])
    assert np.abs(adj).sum() <= 4   # at most one false call among 87 unlinked pairs (BH)
    # every tested pair has a delay inside the window; the diagonal is NaN
    off = ~np.eye(n, dtype=bool)
    d = est.delays[off & (est.pair_status == 0)]
    assert np.all((d >= 1e-3) & (d <= 0.025)) and np.all(np.isnan(np.diag(est.delays)))


def test_filter_delays_picks_the_extremum_in_the_weight_sign():
    from spikewire.infer.glm import filter_delays

    basis = np.eye(4)                                 # filter value at lag l = coef[l - 1]
    coef = np.array([[[0.1, 0.5, -0.9, 0.2], [0.0, -0.2, 0.1, -0.4]]])
    w = np.array([[0.3, -0.5]])                       # positive → argmax; negative → argmin
    np.testing.assert_allclose(filter_delays(basis, coef, w, 1e-3), [[2e-3, 4e-3]])
    # the main lobe (filter >= half the extremum, contiguous) is averaged with the filter
    # as weight: (2·1.0 + 3·1.0) / 2 + 1 → 3.5 bins; negative: lags 2, 3 → 1.625 + 1
    # bins (the second lobe at lag 6, −0.9, is not the main one)
    basis = np.eye(6)
    coef = np.array([[[0.0, 0.2, 1.0, 1.0, 0.4, -0.1], [-0.1, -0.6, -1.0, -0.3, 0.2, -0.9]]])
    w = np.array([[2.5, -2.7]])
    np.testing.assert_allclose(filter_delays(basis, coef, w, 1e-3, "lobe_centre"),
                               [[3.5e-3, 2.625e-3]])
    np.testing.assert_allclose(filter_delays(basis, coef, w, 1e-3), [[3e-3, 3e-3]])
    # "edge_lobe": the extremum, except where it is the basis' last peak (lag 6 here):
    # there the lobe centre; the lobe at the edge spans lags 5, 6 (0.8, 1.0): 5.56 bins
    coef_e = np.array([[[0.0, 0.2, 1.0, 1.0, 0.4, -0.1], [0.0, 0.0, 0.1, 0.3, 0.8, 1.0]]])
    w_e = np.array([[2.5, 2.2]])
    np.testing.assert_allclose(filter_delays(basis, coef_e, w_e, 1e-3, "edge_lobe"),
                               [[3e-3, (5 * 0.8 + 6 * 1.0) / 1.8 * 1e-3]])
    # an all-zero filter: the extremum's lag (the first), no division by zero
    assert filter_delays(basis, np.zeros((1, 1, 6)), np.zeros((1, 1)), 1e-3,
                         "lobe_centre")[0, 0] == 1e-3
    with pytest.raises(ValueError, match="estimate"):
        filter_delays(basis, coef, w, 1e-3, "mean")
    with pytest.raises(ValueError, match="edge_lobe"):
        filter_delays(basis, coef, w, 1e-3, "interpolated")
