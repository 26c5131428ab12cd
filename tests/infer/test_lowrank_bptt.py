"""The hand-written BPTT of the low-rank fit against autograd on the same expression."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

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
def test_hand_written_gradient_equals_autograd(observation, with_inputs):
    """Loss and every gradient agree with autograd to 1e-12 relative (float64: the two
    sum the same terms in a different order, so they differ by round-off, ~1e-15 per term
    over ≤ 10⁴ terms). "poisson": the methods' rate map (offset 12.5 ≥ gain 7.5 Hz, the
    clamp never active, skipped; −y log λ evaluated at the nonzero counts only);
    "poisson_clamped": offset 0.5 Hz, so that some rates reach the clamp (λ ≤ 1e-8),
    where both must give no gradient (the dense path)."""
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
                          rate_offset=r0, rate_gain=g)
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
