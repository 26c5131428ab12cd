"""The hand-written BPTT of the low-rank fit against autograd on the same expression."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikewire.infer import _lowrank_bptt  # noqa: E402
from spikewire.infer._lowrank_bptt import make_objective  # noqa: E402


def _autograd_loss(Y, E, U, M, Nl, d, z0, B, alpha, observation, r0, g):
    """The expression of fit_lowrank before the hand-written gradient (autograd)."""
    K, T, N = Y.shape
    z, zs = z0, [z0]
    for _ in range(T - 1):
        z = z + alpha * (-z + torch.tanh(z @ M.T + d) @ Nl / N)
        zs.append(z)
    x = torch.stack(zs, 1) @ M.T + d
    pred = torch.tanh(x if B is None else x + (U * B).sum(-1))
    if observation == "gaussian":
        return ((pred - Y) ** 2).mean(), pred
    lam = torch.clamp((r0 + g * pred) * E, min=1e-8)
    return (lam - Y * torch.log(lam)).mean(), pred


@pytest.mark.parametrize("observation", ["gaussian", "poisson", "poisson_clamped"])
@pytest.mark.parametrize("with_inputs", [False, True])
@pytest.mark.parametrize("n_blocks", [1, 3])
def test_hand_written_gradient_equals_autograd(observation, with_inputs, n_blocks,
                                               monkeypatch):
    """Loss and every gradient agree with autograd to 1e-12 relative (float64: the two
    sum the same terms in a different order, so they differ by round-off, ~1e-15 per term
    over ≤ 10⁴ terms). "poisson": the methods' rate map (offset 12.5 ≥ gain 7.5 Hz, the
    clamp never active, skipped; −y log λ evaluated at the nonzero counts only);
    "poisson_clamped": offset 0.5 Hz, so that some rates reach the clamp (λ ≤ 1e-8),
    where both must give no gradient (the dense path). ``n_blocks`` 3: the trials split
    into blocks of 2, 2 and 2 evaluated in three threads."""
    monkeypatch.setattr(_lowrank_bptt, "MIN_BLOCK_TRIALS", 1)
    rng = np.random.default_rng(5)
    K, T, N, R, P = 6, 9, 13, 2, 2
    dt = torch.float64
    M = torch.tensor(rng.standard_normal((N, R)), dtype=dt, requires_grad=True)
    Nl = torch.tensor(2 * rng.standard_normal((N, R)), dtype=dt, requires_grad=True)
    d = torch.tensor(0.3 * rng.standard_normal(N), dtype=dt, requires_grad=True)
    z0 = torch.tensor(rng.standard_normal((K, R)), dtype=dt, requires_grad=True)
    U = torch.tensor(rng.standard_normal((K, T, N, P)), dtype=dt) if with_inputs else None
    B = torch.tensor(0.5 * rng.standard_normal((N, P)), dtype=dt, requires_grad=True) \
        if with_inputs else None
    E = torch.tensor(rng.uniform(0.01, 0.03, (K, 1, 1)), dtype=dt)
    if observation == "gaussian":
        Y = torch.tensor(np.tanh(rng.standard_normal((K, T, N))), dtype=dt)
        r0, g = 10.0, 10.0
    else:
        Y = torch.tensor(rng.poisson(0.2, (K, T, N)), dtype=dt)
        r0, g = (0.5, 10.0) if observation == "poisson_clamped" else (12.5, 7.5)
        observation = "poisson"
    params = [M, Nl, d, z0] + ([B] if with_inputs else [])
    Y[:, 3] = 0.0                     # a step without spikes (no nonzero counts)
    ref, pred = _autograd_loss(Y, E, U, M, Nl, d, z0, B, 0.2, observation, r0, g)
    ref_grads = torch.autograd.grad(ref, params)
    loss = make_objective(torch, Y, E, U, alpha=0.2, observation=observation,
                          rate_offset=r0, rate_gain=g, n_blocks=n_blocks)
    val = loss(M, Nl, d, z0, B)
    grads = torch.autograd.grad(val, params)
    if observation == "poisson":      # rates 0.5 + 10 φ < 0 for φ < −0.05: clamped
        clamped = ((r0 + g * pred) * E <= 1e-8).float().mean().item()
        assert (0.1 < clamped < 0.9) if r0 < g else clamped == 0
    np.testing.assert_allclose(val.item(), ref.item(), rtol=1e-12)
    for name, a, b in zip(["M", "N", "d", "z0", "B"], grads, ref_grads, strict=False):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-14 * abs(
            b).max().item(), err_msg=name)


def test_objective_scales_with_the_upstream_gradient():
    """A loss used inside a larger expression (2·L) gets twice the gradient."""
    rng = np.random.default_rng(1)
    K, T, N, R = 3, 5, 7, 2
    dt = torch.float64
    M = torch.tensor(rng.standard_normal((N, R)), dtype=dt, requires_grad=True)
    Nl = torch.tensor(rng.standard_normal((N, R)), dtype=dt)
    d = torch.zeros(N, dtype=dt)
    z0 = torch.tensor(rng.standard_normal((K, R)), dtype=dt)
    Y = torch.tensor(np.tanh(rng.standard_normal((K, T, N))), dtype=dt)
    loss = make_objective(torch, Y, torch.ones(K, 1, 1, dtype=dt), None, alpha=0.1,
                          observation="gaussian", rate_offset=10.0, rate_gain=10.0)
    g1 = torch.autograd.grad(loss(M, Nl, d, z0), M)[0]
    g2 = torch.autograd.grad(2.0 * loss(M, Nl, d, z0), M)[0]
    np.testing.assert_allclose(g2.numpy(), 2.0 * g1.numpy(), rtol=1e-14)


def test_blocks_follow_the_thread_count_and_leave_the_setting(monkeypatch):
    """``n_blocks=None`` splits the trials into ``torch.get_num_threads()`` blocks of at
    least ``MIN_BLOCK_TRIALS`` (and, here lowered to 100, ``MIN_BLOCK_ELEMENTS``); the
    evaluation runs each block with one torch thread and restores the caller's thread
    count; the value equals the one-block value to round-off."""
    monkeypatch.setattr(_lowrank_bptt, "MIN_BLOCK_ELEMENTS", 100)
    rng = np.random.default_rng(3)
    K, T, N = 70, 6, 9
    dt = torch.float64
    Y = torch.tensor(rng.poisson(0.3, (K, T, N)), dtype=dt)
    E = torch.full((K, 1, 1), 0.01, dtype=dt)
    M = torch.tensor(rng.standard_normal((N, 2)), dtype=dt, requires_grad=True)
    Nl = torch.tensor(rng.standard_normal((N, 2)), dtype=dt, requires_grad=True)
    d = torch.zeros(N, dtype=dt, requires_grad=True)
    z0 = torch.tensor(rng.standard_normal((K, 2)), dtype=dt, requires_grad=True)
    kw = dict(alpha=0.2, observation="poisson", rate_offset=12.5, rate_gain=7.5)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)                  # 70 trials: 2 blocks of ≥ 32
        val = make_objective(torch, Y, E, None, **kw)(M, Nl, d, z0)
        grads = torch.autograd.grad(val, [M, z0])
        assert torch.get_num_threads() == 2
        torch.set_num_threads(3)                  # 70 // 32 = 2 blocks at most
        val3 = make_objective(torch, Y, E, None, **kw)(M, Nl, d, z0)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    one = make_objective(torch, Y, E, None, n_blocks=1, **kw)(M, Nl, d, z0)
    grads1 = torch.autograd.grad(one, [M, z0])
    np.testing.assert_allclose(val.item(), one.item(), rtol=1e-13)
    np.testing.assert_allclose(val3.item(), one.item(), rtol=1e-13)
    for a, b in zip(grads, grads1, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-16)
