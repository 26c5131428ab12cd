"""Loss and hand-written gradient of the low-rank RNN fit (:func:`fit_lowrank`'s hot loop).

The objective of :func:`spikewire.infer.lowrank.fit_lowrank` is the mean, over trials k,
steps t and units i, of an elementwise loss of the unit's read-out activity

    z_{t+1} = (1 − α) z_t + (α/N) tanh(z_t Mᵀ + d) N_l,
    φ_t = tanh(z_t Mᵀ + d + u_t),      u_t = Σ_p U_t[..., p] B[:, p] (0 without inputs),

``(φ − Y)²`` (Gaussian) or ``λ − Y log λ`` with ``λ = max((r₀ + g φ) E_k, 1e-8)``
(Poisson). Autograd through the rollout and the read-out keeps about a dozen tensors of
shape (K, T, N) (320 MB each at K = 400, T = 100, N = 1,000 in float64) and streams them
through memory several times per evaluation. Here the forward pass keeps only the latents
(K, T, R) and the backward pass (backpropagation through time, written out below)
recomputes each step's (K, N) slab, which stays in cache; the read-out at step t shares
the rollout's ``tanh`` when there are no inputs. The gradients are those of autograd on
the same expression (checked in ``tests/infer/test_lowrank_bptt.py`` to 1e-12 relative);
the time per evaluation is in ``benchmarks/results/lrtime38.md``.

Backward pass, with ``a_t = z_t Mᵀ + d``, ``h_t = tanh(a_t)``, ``δx_t = ∂L/∂x_t`` of the
read-out at step t::

    g_{T−1} = δx_{T−1} M
    for t = T−2 … 0:
        δa_t = (α/N) (g_{t+1} N_lᵀ) ⊙ (1 − h_t²) + δx_t
        ∂L/∂N_l += (α/N) h_tᵀ g_{t+1};   ∂L/∂M += δa_tᵀ z_t;   ∂L/∂d += Σ_k δa_t
        g_t = (1 − α) g_{t+1} + δa_t M
    ∂L/∂z_0 = g_0;   ∂L/∂B[:, p] = Σ_{k,t} δx_t ⊙ U_t[..., p]
"""

from __future__ import annotations

#: Poisson rates are clamped below at this expected count (as ``torch.clamp`` in the
#: autograd expression: no gradient where the clamp is active).
_MIN_LAMBDA = 1e-8


def make_objective(torch, Y, E, U, *, alpha: float, observation: str, rate_offset: float,
                   rate_gain: float):
    """Return ``loss(M, Nl, d, z0, B)``: the fit's mean loss as a differentiable torch
    scalar whose backward pass is the hand-written BPTT of this module.

    Parameters
    ----------
    torch : module
    Y : torch.Tensor, shape (K, T, N)
        Observed activity (Gaussian) or spike counts (Poisson).
    E : torch.Tensor, shape (K, 1, 1)
        Poisson only: exposure × bin width per trial, s (ignored for Gaussian).
    U : torch.Tensor of shape (K, T, N, P) or None
        Input covariates of the read-out.
    alpha : float
        Δt/τ.
    observation : {"gaussian", "poisson"}
    rate_offset, rate_gain : float
        Rate map of the Poisson observation, Hz.
    """
    K, T, N = Y.shape
    Ek = E.reshape(K, 1)
    # inputs as (T, P, K, N): every covariate's slab of a step is contiguous, so the
    # drive Σ_p U[..., p] B[:, p] and its gradient are plain (K, N) operations (an einsum
    # over the (K, N, P) layout took 40 % of a fit with inputs)
    Ut = None if U is None else U.permute(1, 3, 0, 2).contiguous()
    count = float(K * T * N)
    poisson = observation == "poisson"
    a = float(alpha)

    # rates r₀ + g φ ≥ r₀ − g: with r₀ − g above the clamp (every rate map the methods
    # accept has r₀ ≥ g) the clamp is never active and its mask is skipped
    clamp_free = not poisson or (rate_offset - rate_gain) * float(Ek.min()) > _MIN_LAMBDA
    Eg = Ek * (rate_gain / count)                            # ∂λ/∂φ / count, (K, 1)
    sparse = poisson and clamp_free
    # (T, K, N): one slab per step (the sparse path keeps the nonzero counts only)
    Yt = Y.transpose(0, 1) if sparse else Y.transpose(0, 1).contiguous()
    if sparse:
        # spike counts are mostly 0 (0.05–0.2 spikes per 10-ms bin at 5–20 Hz): the term
        # −y log λ and its gradient −g E y/λ are evaluated at the nonzero counts only,
        # and Σ λ = Σ_k E_k (N r₀ + g Σ_n φ_kn) needs no elementwise λ
        flat = [Yt[t].reshape(-1) for t in range(T)]
        nz_index = [torch.nonzero(flat[t]).reshape(-1) for t in range(T)]
        nz_count = [flat[t].index_select(0, nz_index[t]) for t in range(T)]
        nz_exposure = [Ek.reshape(-1).index_select(0, torch.div(nz_index[t], N,
                                                                rounding_mode="floor"))
                       for t in range(T)]
        Ek_flat = Ek.reshape(-1)
        rate_floor = float(N * rate_offset) * Ek_flat.sum()
        del flat, Yt

    def nz_rates(phi, t):
        """λ at step t's nonzero counts (a vector)."""
        return (phi.reshape(-1).index_select(0, nz_index[t]).mul_(rate_gain)
                .add_(rate_offset).mul_(nz_exposure[t]))

    def loss_sum(phi, t):
        """Sum of the elementwise loss of the read-out activity φ (K, N) at step t."""
        if sparse:
            total = rate_floor + rate_gain * torch.dot(Ek_flat, phi.sum(1))
            return total - torch.dot(nz_count[t], nz_rates(phi, t).log_())
        y = Yt[t].reshape(-1)
        if poisson:
            lam = phi.mul(rate_gain).add_(rate_offset).mul_(Ek)
            lam.clamp_(min=_MIN_LAMBDA)
            total = lam.sum()
            return total - torch.dot(y, lam.log_().reshape(-1))
        diff = (phi - Yt[t]).reshape(-1)
        return torch.dot(diff, diff)

    def readout_grad(phi, one_minus_phi2, t):
        """∂(mean loss)/∂x of the read-out x = artanh φ (K, N) at step t (a new tensor;
        ``one_minus_phi2`` is 1 − φ²)."""
        if sparse:
            # g E (1 − y/λ)(1 − φ²) / count: Eg (1 − φ²) everywhere, and at y > 0 the
            # term − g E y (1 − φ²) / (λ count)
            idx = nz_index[t]
            corr = torch.div(nz_count[t], nz_rates(phi, t)).mul_(nz_exposure[t]).mul_(
                one_minus_phi2.reshape(-1).index_select(0, idx)).mul_(-rate_gain / count)
            dx = one_minus_phi2 * Eg
            dx.view(-1).index_add_(0, idx, corr)
            return dx
        y = Yt[t]
        if poisson:
            lam = phi.mul(rate_gain).add_(rate_offset).mul_(Ek)
            if clamp_free:
                dphi = torch.div(y, lam).neg_().add_(1.0).mul_(Eg)
            else:
                live = lam >= _MIN_LAMBDA
                dphi = torch.div(y, lam.clamp_(min=_MIN_LAMBDA)).neg_().add_(1.0).mul_(Eg)
                dphi.mul_(live)
        else:
            dphi = (phi - y).mul_(2.0 / count)
        return dphi.mul_(one_minus_phi2)

    def drive(B, t):
        """The inputs' drive Σ_p U_t[..., p] B[:, p] at step t, (K, N)."""
        return (Ut[t] * B.T.unsqueeze(1)).sum(0)

    def one_minus_sq(x):
        return (x * x).neg_().add_(1.0)

    class _Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, M, Nl, d, z0, B):
            with torch.no_grad():
                z, zs, total = z0, [z0], z0.new_zeros(())
                # with inputs the read-out φ (K, T, N) is kept for the backward pass:
                # recomputing the drive there costs more than storing φ
                Phi = None if B is None else M.new_empty((T, K, N))
                for t in range(T):
                    pre = torch.addmm(d, z, M.T)
                    if B is None:
                        h = phi = pre.tanh_()
                    else:
                        phi = torch.tanh(pre + drive(B, t), out=Phi[t])
                        h = pre.tanh_()
                    total = total + loss_sum(phi, t)
                    if t < T - 1:
                        z = torch.addmm(z, h, Nl, beta=1.0 - a, alpha=a / N)
                        zs.append(z)
            ctx.save_for_backward(M, Nl, d, torch.stack(zs, 0),
                                  B if B is not None else z0.new_zeros(0))
            ctx.has_inputs = B is not None
            ctx.phi = Phi
            return total / count

        @staticmethod
        def backward(ctx, grad):
            M, Nl, d, Z, B = ctx.saved_tensors
            B = B if ctx.has_inputs else None
            # chunk_losses fits z0 alone: skip the loadings' gradients nobody asked for
            need_m, need_n, need_d = ctx.needs_input_grad[:3]
            with torch.no_grad():
                gM, gN, gd = torch.zeros_like(M), torch.zeros_like(Nl), torch.zeros_like(d)
                gB = None if B is None else torch.zeros_like(B)
                g = None
                for t in range(T - 1, -1, -1):
                    zt = Z[t]
                    h = torch.addmm(d, zt, M.T).tanh_()
                    omh = one_minus_sq(h)
                    if B is None:
                        dx = readout_grad(h, omh, t)
                    else:
                        phi = ctx.phi[t]
                        dx = readout_grad(phi, one_minus_sq(phi), t)
                        gB += (Ut[t] * dx).sum(1).T
                    if g is None:               # t = T − 1: the read-out only
                        da = dx
                    else:
                        if need_n:
                            gN.addmm_(h.T, g, alpha=a / N)
                        da = torch.mm(g, Nl.T).mul_(omh).mul_(a / N).add_(dx)
                    if need_m:
                        gM.addmm_(da.T, zt)
                    if need_d:
                        gd += da.sum(0)
                    g = da @ M if g is None else torch.addmm(g, da, M, beta=1.0 - a)
            ctx.phi = None
            return (grad * gM, grad * gN, grad * gd, grad * g,
                    None if gB is None else grad * gB)

    def loss(M, Nl, d, z0, B=None):
        return _Loss.apply(M, Nl, d, z0, B)

    return loss
