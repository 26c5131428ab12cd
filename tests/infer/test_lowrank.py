"""The ``lowrank`` method (plain LINT fit) on noise-free low-rank networks."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import MissingDependencyError
from spikewire.infer.lowrank import fit_lowrank, pool_trials
from spikewire.networks.lowrank import lowrank_preset
from spikewire.simulate.lowrank import initial_grid, observe_rates, simulate_lowrank

torch = pytest.importorskip("torch")   # the optional extra; CI installs it


pytestmark = pytest.mark.usefixtures("one_thread")   # tests/infer/conftest.py


@pytest.fixture(scope="module")
def limit_cycle():
    net = lowrank_preset("limit_cycle", 60, seed=0)
    return net, simulate_lowrank(net, initial_grid(3, 2.4), 40)


def subspace_cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between the column spaces of A and B."""
    return np.linalg.svd(np.linalg.qr(A)[0].T @ np.linalg.qr(B)[0], compute_uv=False)


def test_fit_recovers_trajectories_and_m_subspace(limit_cycle):
    net, act = limit_cycle
    fit = fit_lowrank(act.activity(), 2, n_restarts=1, n_iter=40, seed=0)
    # noise-free data from the model class: the fit explains ≥ 95 % of the variance (the
    # issue's trajectory target; measured 0.99 at 150 iterations, 0.96 at 20)
    assert fit.r2 >= 0.95
    # the activity determines span(M) (φ⁻¹ of the activity is M z + d): principal angles
    # below ~10° (cos ≥ 0.98); a wrong subspace gives cosines ≈ sqrt(2/60) ≈ 0.2
    assert subspace_cosines(net.m, fit.m).min() >= 0.98
    # canonical basis: MᵀM/N = I
    np.testing.assert_allclose(fit.m.T @ fit.m / 60, np.eye(2), atol=1e-8)
    # J = M Nᵀ/N of rank 2, and the fitted latents reproduce the fitted activity
    assert np.linalg.matrix_rank(fit.weights()) == 2
    np.testing.assert_allclose(fit.activity(), np.tanh(fit.latents @ fit.m.T + fit.d))


def test_method_estimate_contract(limit_cycle):
    net, act = limit_cycle
    rec = observe_rates(act)
    est = sw.infer(rec, "lowrank", n_iter=10, n_restarts=1)
    n = net.n_neurons
    assert est.weights.shape == (n, n) and np.all(np.isfinite(est.weights))
    assert np.all(np.diag(est.weights) == 0) and np.all(np.diag(est.pair_status) == 1)
    m, nn = est.diagnostics["m"], est.diagnostics["n"]
    J = m @ nn.T / n
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_allclose(est.weights[off], J[off])
    assert est.diagnostics["n_chunks"] == 9 and est.diagnostics["chunk_steps"] == 40
    # the gate's surrogate refits do not touch the weights (a stream of their own)
    again = sw.infer(rec, "lowrank", n_iter=10, n_restarts=1, n_surrogates=0)
    np.testing.assert_array_equal(est.weights, again.weights)     # seeded, deterministic


def test_clear_errors(limit_cycle, monkeypatch):
    net, act = limit_cycle
    Y = act.activity()
    with pytest.raises(ValueError, match="larger than the number of units"):
        fit_lowrank(Y[:, :, :3], 4)
    with pytest.raises(ValueError, match="too short for rank"):
        fit_lowrank(Y[:, :2], 2)
    with pytest.raises(ValueError, match="range"):
        fit_lowrank(Y * 2, 2)
    rec = observe_rates(act, rate_offset=10.0, rate_gain=10.0)
    with pytest.raises(ValueError, match="outside φ"):
        sw.infer(rec, "lowrank", rate_offset=5.0, rate_gain=5.0, n_iter=1)
    monkeypatch.setitem(sys.modules, "torch", None)     # torch missing
    with pytest.raises(MissingDependencyError, match=r"pip install 'spikewire\[ml\]'"):
        fit_lowrank(Y, 2)


def test_poisson_spikes_recover_m_subspace(limit_cycle):
    """From Poisson spikes (rate 50 ± 50 Hz, 10 ms bins, 25 trials × 0.4 s ≈ 500 spikes a
    unit) the Poisson-likelihood fit still finds span(M): measured principal-angle cosines
    0.98/0.99; 0.9 (≈ 25°) leaves room for the spike noise, a random plane gives ≈ 0.2."""
    from spikewire.simulate.lowrank import observe_spikes

    net = limit_cycle[0]
    act = simulate_lowrank(net, initial_grid(5, 2.4), 40)
    rec = observe_spikes(act, rate_offset=50.0, rate_gain=50.0, seed=1)
    est = sw.infer(rec, "lowrank", rate_offset=50.0, rate_gain=50.0, n_iter=30, n_restarts=1,
                   n_surrogates=0)
    assert est.diagnostics["observation"] == "poisson"
    assert est.diagnostics["n_chunks"] == 25
    assert subspace_cosines(net.m, est.diagnostics["m"]).min() >= 0.9


def test_pool_trials_sums_repeats_per_condition():
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.3, (5, 4, 3)).astype(float)
    cond = np.array([2, 0, 2, 1, 2])
    pooled, expo, labels = pool_trials(counts, cond)
    np.testing.assert_array_equal(labels, [0, 1, 2])
    np.testing.assert_array_equal(expo, [1, 1, 3])
    np.testing.assert_array_equal(pooled[0], counts[1])
    np.testing.assert_array_equal(pooled[1], counts[3])
    np.testing.assert_array_equal(pooled[2], counts[0] + counts[2] + counts[4])
    with pytest.raises(ValueError, match="one label per trial"):
        pool_trials(counts, cond[:4])
    with pytest.raises(ValueError, match="shape"):
        pool_trials(counts[0], cond)


def test_exposure_is_the_likelihood_of_pooled_repeats(limit_cycle):
    """Two identical repeats pooled (counts 2Y, exposure 2) give the Poisson objective
    Σ 2λ − 2Y log 2λ = 2 Σ (λ − Y log λ) − const of one repeat: the same gradients up to a
    factor 2, to which Adam is invariant (up to its eps = 1e-8, negligible against these
    gradients), and the same smoothed-rate start; so the fits agree and the losses obey
    loss₂ = 2 loss₁ − 2 log 2 · mean(Y). Adam's eps does act on the smallest gradients:
    measured max |Δm| 2e-6, |Δn| 3e-5 after 15 iterations, i.e. ≈ 2e-6 of the largest
    loading; an exposure left out doubles the rates of the start and moves the loadings by
    O(0.1) of it."""
    net = limit_cycle[0]
    act = simulate_lowrank(net, initial_grid(3, 2.4), 30)
    Y = np.random.default_rng(2).poisson((50.0 + 50.0 * act.activity()) * 0.01).astype(float)
    # denoise_rank=0: the denoised start (tested below) is the same for both in exact
    # arithmetic, but its truncated SVD adds rounding that Adam's eps then spreads (3e-5)
    kw = dict(observation="poisson", rate_offset=50.0, rate_gain=50.0, n_restarts=1,
              n_iter=15, seed=0, denoise_rank=0)
    one = fit_lowrank(Y, 2, **kw)
    pooled, expo, _ = pool_trials(np.concatenate([Y, Y]), np.r_[np.arange(9), np.arange(9)])
    two = fit_lowrank(pooled, 2, exposure=expo, **kw)
    np.testing.assert_array_equal(expo, 2.0)
    for a, b in ((two.m, one.m), (two.n, one.n)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())
    np.testing.assert_allclose(two.loss, 2 * one.loss - 2 * np.log(2) * Y.mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="exposure must be a positive"):
        fit_lowrank(Y, 2, exposure=np.ones(3), **kw)
    with pytest.raises(ValueError, match="exposure must be a positive"):
        fit_lowrank(Y, 2, exposure=0.0, **kw)
    with pytest.raises(ValueError, match="observation='poisson'"):
        fit_lowrank(act.activity(), 2, exposure=2.0, n_iter=1)


def test_denoised_start_from_spikes(limit_cycle):
    """The Poisson start keeps the top 4R components of the smoothed rates before arctanh:
    from spikes at 5–20 Hz (4 pooled repeats, ≈ 0.5 counts a bin) its loadings are closer
    to the truth than the raw start's on every seed (measured: error of the aligned m
    0.060–0.070 against 0.063–0.075 at N = 60, 0.069–0.076 against 0.076–0.084 at
    N = 120, 4 seeds each; one Adam step barely moves them)."""
    net = limit_cycle[0]
    act = simulate_lowrank(net, initial_grid(5, 2.4), 40)

    def m_error(fit):
        A = np.linalg.lstsq(fit.m, net.m, rcond=None)[0]
        return float(np.mean((fit.m @ A - net.m) ** 2))

    kw = dict(observation="poisson", rate_offset=12.5, rate_gain=7.5, exposure=4,
              n_restarts=1, n_iter=1)
    for seed in range(3):
        Y = np.random.default_rng(seed).poisson(
            4 * (12.5 + 7.5 * act.activity()) * 0.01).astype(float)
        raw = fit_lowrank(Y, 2, denoise_rank=0, **kw)
        den = fit_lowrank(Y, 2, **kw)
        assert m_error(den) < m_error(raw)
    with pytest.raises(ValueError, match="denoise_rank"):
        fit_lowrank(Y, 2, denoise_rank=-1, **kw)


def test_lbfgs_refinement_approaches_the_optimum(limit_cycle):
    # noise-free activity from the model class: the optimum of the squared loss is 0 (the
    # true network). 20 Adam iterations stop at 2.9e-3; 20 L-BFGS iterations after them
    # reach 2.1e-4 (measured; from the canonical basis), where Adam needs 40 more (50 Adam
    # iterations in all: 2.7e-4, 60: 1.9e-4). L-BFGS with
    # a strong-Wolfe line search only accepts descent steps, so the refined loss can never
    # be above the Adam loss; the 5x margin leaves room for platform rounding of the path
    _, act = limit_cycle
    adam = fit_lowrank(act.activity(), 2, n_restarts=1, n_iter=20, seed=0)
    refined = fit_lowrank(act.activity(), 2, n_restarts=1, n_iter=20, refine_iter=20, seed=0)
    assert refined.loss < adam.loss / 5
    assert refined.loss < 1e-3
    with pytest.raises(ValueError, match="refine_iter"):
        fit_lowrank(act.activity(), 2, n_iter=1, refine_iter=-1)


def test_lbfgs_starts_from_the_canonical_basis_of_the_adam_fit(limit_cycle, monkeypatch):
    """L-BFGS is not invariant to the latent basis (z → A z, m → A⁻ᵀ m, n → A n leaves the
    loss unchanged but not its quasi-Newton path), and it converges further from the
    canonical basis (heavy_tailed, N = 1,000, 4,608 s of spikes: a lower loss on all four
    networks, ``benchmarks/results/lrcanon44.md``). Each refined start is moved there
    first: the L-BFGS parameters at construction have MᵀM/N = I and the Adam fit's loss
    (the same network; 1e-12 relative for the summation order)."""
    from spikewire.infer._lowrank_bptt import make_objective

    _, act = limit_cycle
    Y = act.activity()
    seen = []

    class Spy(torch.optim.LBFGS):
        def __init__(self, params, **kw):
            params = list(params)
            seen.append([q.detach().clone() for q in params])
            super().__init__(params, **kw)

    monkeypatch.setattr(torch.optim, "LBFGS", Spy)
    fit = fit_lowrank(Y, 2, n_restarts=2, n_iter=20, refine_iter=3, seed=0)
    assert len(seen) == 2                                       # every refined start
    obj = make_objective(torch, torch.as_tensor(Y), torch.ones(Y.shape[0], 1, 1,
                                                               dtype=torch.float64),
                         None, alpha=0.2, observation="gaussian", rate_offset=10.0,
                         rate_gain=10.0)
    for (M, Nl, d, z0), adam in zip(seen, fit.adam_losses, strict=True):
        np.testing.assert_allclose((M.T @ M / Y.shape[-1]).numpy(), np.eye(2), atol=1e-12)
        assert float(obj(M, Nl, d, z0)) == pytest.approx(adam, rel=1e-12)


def test_poisson_latents_are_the_per_bin_maximum_likelihood():
    # counts equal to their expectations: the Poisson score Σ_i (Y_i/λ_i − 1) ∂λ_i/∂z
    # vanishes exactly at the true latent, and with m of full column rank the likelihood
    # has a unique maximum there, so Fisher scoring from a start off by ~1 must return it
    # (to solver precision; 20 damped steps converge quadratically near the optimum)
    from spikewire.infer.lowrank import _poisson_latents

    rng = np.random.default_rng(3)
    m, d = rng.standard_normal((200, 2)), 0.3 * rng.standard_normal(200)
    z_true = rng.uniform(-1.5, 1.5, (3, 5, 2))
    scale = np.array([0.01, 0.02, 0.05])                      # bin × exposure, s
    Y = scale[:, None, None] * (10.0 + 8.0 * np.tanh(z_true @ m.T + d))
    z_start = z_true + rng.uniform(-1, 1, z_true.shape)
    z = _poisson_latents(Y, m, d, z_start, scale, 10.0, 8.0)
    np.testing.assert_allclose(z, z_true, atol=1e-6)


def test_poisson_start_is_one_more_restart(limit_cycle):
    # spikes: the per-bin maximum-likelihood start runs after the n_restarts PCA starts and
    # the fit keeps the restart of lowest loss; poisson_start=False leaves n_restarts fits
    _, act = limit_cycle
    counts = np.random.default_rng(0).poisson(
        (10 + 10 * act.activity()) * 0.01 * 20).astype(float)
    kw = dict(observation="poisson", exposure=20, n_restarts=1, n_iter=30, seed=0)
    both = fit_lowrank(counts, 2, **kw)
    one = fit_lowrank(counts, 2, poisson_start=False, **kw)
    assert len(both.restart_losses) == 2 and len(one.restart_losses) == 1
    assert both.loss == min(both.restart_losses)
    assert one.restart_losses[0] == both.restart_losses[0]   # the PCA start is unchanged


def _spy_refine_iter(monkeypatch) -> list:
    """Patch the low-rank module's ``fit_lowrank`` to record each call's ``refine_iter``
    (in call order) and run the real fit; returns the record."""
    lr = sys.modules["spikewire.infer.lowrank"]   # (spikewire.infer is also a function)
    seen = []
    real = lr.fit_lowrank

    def spy(*a, **k):
        seen.append(k.get("refine_iter"))
        return real(*a, **k)

    monkeypatch.setattr(lr, "fit_lowrank", spy)
    return seen


def test_refine_iter_reaches_every_front_end_fit(limit_cycle, monkeypatch):
    """``refine_iter`` on the method: the estimate's fit is the refined one (its loss below
    the Adam-only loss by the margin of test_lbfgs_refinement_approaches_the_optimum,
    which fits the same activity; measured 1.9e-4 against 3.4e-3), and the gate's fits (shift
    surrogates, held-out folds) get the same refinement, so data and surrogates are fitted
    alike. Bad values raise."""
    net, act = limit_cycle
    rec = observe_rates(act)
    kw = dict(n_iter=20, n_restarts=1, n_surrogates=0)
    adam = sw.infer(rec, "lowrank", **kw)
    refined = sw.infer(rec, "lowrank", refine_iter=20, **kw)
    assert refined.diagnostics["loss"] < adam.diagnostics["loss"] / 5
    # every fit of the gate: the data's drive fit, 2 shift surrogates, 2 held-out folds
    with monkeypatch.context() as patch:
        seen = _spy_refine_iter(patch)
        sw.infer(rec, "lowrank", n_iter=2, n_restarts=1, n_surrogates=2, n_reversals=2,
                 refine_iter=3, shift_test="refit")
    assert len(seen) == 6 and set(seen) == {3}, seen
    for bad in (-1, 1.5, "150"):
        with pytest.raises(ValueError, match="refine_iter"):
            sw.infer(rec, "lowrank", refine_iter=bad, n_iter=1)
        with pytest.raises(ValueError, match="refine_iter"):
            sw.infer(rec, "lowrank_flow", refine_iter=bad, n_iter=1, flow_iter=1)


def test_gate_refine_iter_sets_the_gates_fits_apart(limit_cycle, monkeypatch):
    """``gate_refine_iter``: the gate's fits (the data's drive fit, the shift surrogates,
    the held-out folds) get that many L-BFGS iterations, the estimate's fit keeps
    ``refine_iter``; None gives the gate ``refine_iter`` (``lowrank``'s default), and
    ``lowrank_flow``'s default leaves the gate's fits unrefined. Bad values raise."""
    _, act = limit_cycle
    rec = observe_rates(act)
    kw = dict(n_iter=2, n_restarts=1, n_surrogates=2, n_reversals=2, refine_iter=3,
              shift_test="refit")
    with monkeypatch.context() as patch:
        seen = _spy_refine_iter(patch)
        sw.infer(rec, "lowrank", gate_refine_iter=1, **kw)
        # the estimate's fit first, then the gate's five (data, 2 folds, 2 surrogates)
        assert seen == [3, 1, 1, 1, 1, 1], seen
        seen.clear()
        sw.infer(rec, "lowrank", gate_refine_iter=None, **kw)
        assert seen == [3] * 6, seen
        seen.clear()
        sw.infer(rec, "lowrank_flow", flow_iter=1, **kw)
        assert seen == [3, 0, 0, 0, 0, 0], seen
    for bad in (-1, 1.5, "0"):
        with pytest.raises(ValueError, match="gate_refine_iter"):
            sw.infer(rec, "lowrank", gate_refine_iter=bad, n_iter=1)
        with pytest.raises(ValueError, match="gate_refine_iter"):
            sw.infer(rec, "lowrank_flow", gate_refine_iter=bad, n_iter=1, flow_iter=1)


def test_refine_restarts_refines_only_the_best_after_adam(limit_cycle):
    """``refine_restarts=1``: L-BFGS runs on the restart of lowest Adam loss only; the
    others keep their Adam result (final loss = Adam loss up to the summation order of
    the two loss evaluations, 1e-12 relative), the refined one can only go down (strong-
    Wolfe steps are descent steps). Here the unperturbed restart leads after Adam
    (2.9e-3 against 0.15 and 0.11, measured) and after L-BFGS (2.5e-4 against 0.073 and
    0.078), so both settings return the same network, bit for bit."""
    _, act = limit_cycle
    kw = dict(n_restarts=3, n_iter=20, refine_iter=15, seed=0)
    one = fit_lowrank(act.activity(), 2, refine_restarts=1, **kw)
    every = fit_lowrank(act.activity(), 2, **kw)
    np.testing.assert_array_equal(one.adam_losses, every.adam_losses)
    k = int(np.argmin(one.adam_losses))
    others = [r for r in range(3) if r != k]
    np.testing.assert_allclose(np.asarray(one.restart_losses)[others],
                               np.asarray(one.adam_losses)[others], rtol=1e-12)
    assert one.restart_losses[k] < one.adam_losses[k]
    assert one.restart_losses[k] == every.restart_losses[k]
    assert int(np.argmin(every.restart_losses)) == k
    np.testing.assert_array_equal(one.m, every.m)
    with pytest.raises(ValueError, match="refine_restarts"):
        fit_lowrank(act.activity(), 2, n_iter=1, refine_restarts=0)


def test_halving_runs_the_better_half_and_keeps_the_winners_path(limit_cycle, monkeypatch):
    """``halving=True`` with 4 starts and 30 Adam iterations: 4 + 2 + 1 thirds of 10
    iterations (70 gradient evaluations instead of 120, counted); the start that runs to
    the end follows the same path as without halving, so where it is the winner without
    halving (the unperturbed start leads from the first third here) the fit is the same,
    bit for bit. A stopped start keeps its loss at the stop and cannot win."""
    lowrank = sys.modules["spikewire.infer.lowrank"]
    made = lowrank.make_objective
    grads = []

    def counting(*a, **k):
        f = made(*a, **k)

        def g(*p):
            grads.append(torch.is_grad_enabled())
            return f(*p)
        return g

    monkeypatch.setattr(lowrank, "make_objective", counting)
    _, act = limit_cycle
    kw = dict(n_restarts=4, n_iter=30, seed=0)
    every = fit_lowrank(act.activity(), 2, **kw)
    assert sum(grads) == 120
    grads.clear()
    halved = fit_lowrank(act.activity(), 2, halving=True, **kw)
    assert sum(grads) == 70
    k = int(np.argmin(every.restart_losses))
    assert halved.adam_losses[k] == every.adam_losses[k]
    assert halved.restart_losses[k] == every.restart_losses[k]
    np.testing.assert_array_equal(halved.m, every.m)
    np.testing.assert_array_equal(halved.latents, every.latents)
    # the stopped starts' Adam losses are from their stops, above the winner's path
    stopped = [r for r in range(4) if r != k]
    assert all(halved.adam_losses[r] > halved.adam_losses[k] for r in stopped)
    assert all(halved.adam_losses[r] >= every.adam_losses[r] for r in stopped)
    with pytest.raises(ValueError, match="halving"):
        sw.infer(observe_rates(act), "lowrank", halving="yes")
    with pytest.raises(ValueError, match="halving"):
        sw.infer(observe_rates(act), "lowrank_flow", halving="gate")
    with pytest.raises(ValueError, match="halving"):
        fit_lowrank(act.activity(), 2, n_iter=1, halving="yes")
    # the methods halve the estimate's starts by default: the same estimate here
    rec = observe_rates(act)
    mkw = dict(n_iter=30, n_restarts=3, n_surrogates=0)
    on = sw.infer(rec, "lowrank", **mkw)
    off = sw.infer(rec, "lowrank", halving=False, **mkw)
    np.testing.assert_array_equal(on.weights, off.weights)
    assert on.diagnostics["adam_losses"] != off.diagnostics["adam_losses"]
    # halving="estimate" halves the estimate's fit only: of the whole call's gradient
    # evaluations it saves exactly the estimate's 4 × 15 − (4 + 2 + 1) × 5 = 25; the
    # default (True) halves the gate's seven fits too (the data's drive fit, three shift
    # surrogates, three held-out folds; from spikes two starts each, gate_restarts=1 and
    # the Poisson start): 2 × 15 − (2 + 1 + 1) × 5 = 10 fewer each
    from test_lowrank_null import _planted_limit_cycle

    spikes = _planted_limit_cycle(12, 16)
    gkw = dict(n_iter=15, n_restarts=3, gate_units=None, n_jobs=1, shift_test="refit")
    counts, gates = {}, {}
    for setting in (True, "estimate", False):
        grads.clear()
        gates[setting] = sw.infer(spikes, "lowrank", halving=setting,
                                  **gkw).diagnostics["surrogate_gate"]
        counts[setting] = sum(grads)
    assert counts[False] - counts["estimate"] == 25
    assert counts["estimate"] - counts[True] == 7 * 10
    # the gate's winners lead at both checkpoints here: the same test either way
    assert gates[True]["p"] == gates["estimate"]["p"] == gates[False]["p"]
    # one start: nothing to halve
    one = dict(kw, n_restarts=1)
    np.testing.assert_array_equal(fit_lowrank(act.activity(), 2, halving=True, **one).m,
                                  fit_lowrank(act.activity(), 2, **one).m)
