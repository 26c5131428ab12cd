"""Loss and hand-written gradient of the low-rank RNN fit (:func:`fit_lowrank`'s hot loop).

The objective of :func:`spikewire.infer.lowrank.fit_lowrank` is the mean, over trials k,
steps t and units i, of an elementwise loss of the unit's read-out activity

    z_{t+1} = (1 − α) z_t + (α/N) tanh(z_t Mᵀ + d) N_l,
    φ_t = tanh(z_t Mᵀ + d + u_t),      u_t = Σ_p U_t[..., p] B[:, p] (0 without inputs),

``(φ − Y)²`` (Gaussian) or ``λ − Y log λ`` with ``λ = max((r₀ + g φ) E_k, 1e-8)``
(Poisson). Autograd through the rollout and the read-out keeps about a dozen tensors of
shape (K, T, N) (320 MB each at K = 400, T = 100, N = 1,000 in float64) and streams them
through memory several times per evaluation. Here the forward pass keeps only the latents
(K, T, R) (with inputs also the read-out φ, whose drive would cost more to recompute) and
the backward pass (backpropagation through time, written out below) recomputes each
step's (K, N) slab, which stays in cache; the read-out at step t shares the rollout's
``tanh`` when there are no inputs. The gradients are those of autograd on the same
expression (checked in ``tests/infer/test_lowrank_bptt.py`` to 1e-12 relative); the time
per evaluation is in ``benchmarks/results/lrtime38.md`` and ``lrtime40.md``.

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

from concurrent.futures import ThreadPoolExecutor

#: Poisson rates are clamped below at this expected count (as ``torch.clamp`` in the
#: autograd expression: no gradient where the clamp is active).
_MIN_LAMBDA = 1e-8
#: Fewest trials, and fewest elements (trials × units), per block of
#: :func:`make_objective`'s parallel evaluation: below about 10⁵ elements per slab the
#: Python overhead of each step's operations dominates and two threads contend for the
#: interpreter (400 × 100 × 200: 0.79× the time of one block with two torch threads;
#: 400 × 100 × 1,000: 1.21×; ``benchmarks/results/lrtime40.md``).
MIN_BLOCK_TRIALS = 32
MIN_BLOCK_ELEMENTS = 100_000


def make_objective(torch, Y, E, U, *, alpha: float, observation: str, rate_offset: float,
                   rate_gain: float, n_blocks: int | None = None):
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
    n_blocks : int or None, default None
        The trials are independent given the parameters, so the evaluation is split into
        this many blocks of trials, run side by side in threads, each with one torch
        thread (the gradients are summed in a fixed order: the result does not depend on
        the timing). None: ``torch.get_num_threads()`` blocks on the CPU, fewer where a
        block would have under :data:`MIN_BLOCK_TRIALS` trials or
        :data:`MIN_BLOCK_ELEMENTS` trials × units; one on a GPU. Always at most
        ``K // MIN_BLOCK_TRIALS`` (at least one).
    """
    K, T, N = Y.shape
    count = float(K * T * N)
    if n_blocks is None:
        n_blocks = 1 if Y.device.type != "cpu" else min(torch.get_num_threads(),
                                                        K * N // MIN_BLOCK_ELEMENTS)
    n_blocks = max(1, min(int(n_blocks), K // MIN_BLOCK_TRIALS))
    bounds = [K * b // n_blocks for b in range(n_blocks + 1)]
    blocks = [_Block(torch, Y[lo:hi], E[lo:hi], None if U is None else U[lo:hi],
                     alpha=alpha, observation=observation, rate_offset=rate_offset,
                     rate_gain=rate_gain, count=count)
              for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    pool = ThreadPoolExecutor(max_workers=n_blocks) if n_blocks > 1 else None

    def run(task):
        """``task(b)`` for every block, in threads of one torch thread each when there
        are several blocks; the results in block order."""
        if pool is None:
            return [task(0)]
        threads = torch.get_num_threads()

        def one(b):
            torch.set_num_threads(1)
            with torch.no_grad():          # grad mode is per thread
                return task(b)

        try:
            return list(pool.map(one, range(n_blocks)))
        finally:
            torch.set_num_threads(threads)

    class _Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, M, Nl, d, z0, B):
            with torch.no_grad():
                outs = run(lambda b: blocks[b].forward(M, Nl, d, z0[bounds[b]:bounds[b + 1]],
                                                       B))
            ctx.save_for_backward(M, Nl, d, B if B is not None else z0.new_zeros(0))
            ctx.has_inputs = B is not None
            ctx.states = [state for _, state in outs]
            total = outs[0][0]
            for part, _ in outs[1:]:
                total = total + part
            return total / count

        @staticmethod
        def backward(ctx, grad):
            M, Nl, d, B = ctx.saved_tensors
            B = B if ctx.has_inputs else None
            # chunk_losses fits z0 alone: skip the loadings' gradients nobody asked for
            need = ctx.needs_input_grad[:3]
            states = ctx.states
            with torch.no_grad():
                outs = run(lambda b: blocks[b].backward(M, Nl, d, B, states[b], need))
                gM, gN, gd, _, gB = outs[0]
                for oM, oN, od, _, oB in outs[1:]:
                    gM, gN, gd = gM + oM, gN + oN, gd + od
                    gB = None if gB is None else gB + oB
                gz0 = torch.cat([o[3] for o in outs], 0)
            ctx.states = None
            return (grad * gM, grad * gN, grad * gd, grad * gz0,
                    None if gB is None else grad * gB)

    def loss(M, Nl, d, z0, B=None):
        return _Loss.apply(M, Nl, d, z0, B)

    return loss


class _Block:
    """Forward and backward pass over one block of trials (the sums are not divided by
    the objective's ``count`` of elements, except the gradients, which are of the mean)."""

    def __init__(self, torch, Y, E, U, *, alpha, observation, rate_offset, rate_gain,
                 count):
        K, T, N = Y.shape
        self.torch, self.K, self.T, self.N = torch, K, T, N
        self.a, self.count = float(alpha), count
        self.rate_offset, self.rate_gain = float(rate_offset), float(rate_gain)
        self.poisson = observation == "poisson"
        Ek = E.reshape(K, 1)
        self.Ek = Ek
        # inputs as (T, P, K, N): every covariate's slab of a step is contiguous, so the
        # drive Σ_p U[..., p] B[:, p] and its gradient are plain (K, N) operations (an
        # einsum over the (K, N, P) layout took 40 % of a fit with inputs)
        self.Ut = None if U is None else U.permute(1, 3, 0, 2).contiguous()
        # rates r₀ + g φ ≥ r₀ − g: with r₀ − g above the clamp (every rate map the methods
        # accept has r₀ ≥ g) the clamp is never active and its mask is skipped
        self.clamp_free = (not self.poisson
                           or (rate_offset - rate_gain) * float(Ek.min()) > _MIN_LAMBDA)
        self.Eg = Ek * (rate_gain / count)                   # ∂λ/∂φ / count, (K, 1)
        self.sparse = self.poisson and self.clamp_free
        Yt = Y.transpose(0, 1)                               # (T, K, N): a slab per step
        if self.sparse:
            # spike counts are mostly 0 (0.05–0.2 spikes per 10-ms bin at 5–20 Hz): the
            # term −y log λ and its gradient −g E y/λ are evaluated at the nonzero counts
            # only, and Σ λ = Σ_k E_k (N r₀ + g Σ_n φ_kn) needs no elementwise λ
            flat = [Yt[t].reshape(-1) for t in range(T)]
            self.nz_index = [torch.nonzero(f).reshape(-1) for f in flat]
            self.nz_count = [f.index_select(0, i) for f, i in zip(flat, self.nz_index,
                                                                  strict=True)]
            self.nz_exposure = [Ek.reshape(-1).index_select(
                0, torch.div(i, N, rounding_mode="floor")) for i in self.nz_index]
            self.Ek_flat = Ek.reshape(-1)
            self.rate_floor = float(N * rate_offset) * self.Ek_flat.sum()
            self.Yt = None
        else:
            self.Yt = Yt.contiguous()

    def nz_rates(self, phi, t):
        """λ at step t's nonzero counts (a vector)."""
        return (phi.reshape(-1).index_select(0, self.nz_index[t]).mul_(self.rate_gain)
                .add_(self.rate_offset).mul_(self.nz_exposure[t]))

    def loss_sum(self, phi, t):
        """Sum of the elementwise loss of the read-out activity φ (K, N) at step t."""
        torch = self.torch
        if self.sparse:
            total = self.rate_floor + self.rate_gain * torch.dot(self.Ek_flat, phi.sum(1))
            return total - torch.dot(self.nz_count[t], self.nz_rates(phi, t).log_())
        if self.poisson:
            lam = phi.mul(self.rate_gain).add_(self.rate_offset).mul_(self.Ek)
            lam.clamp_(min=_MIN_LAMBDA)
            return lam.sum() - torch.dot(self.Yt[t].reshape(-1), lam.log_().reshape(-1))
        diff = (phi - self.Yt[t]).reshape(-1)
        return torch.dot(diff, diff)

    def readout_grad(self, phi, one_minus_phi2, t):
        """∂(mean loss)/∂x of the read-out x = artanh φ (K, N) at step t (a new tensor;
        ``one_minus_phi2`` is 1 − φ²)."""
        torch = self.torch
        if self.sparse:
            # g E (1 − y/λ)(1 − φ²) / count: Eg (1 − φ²) everywhere, and at y > 0 the
            # term − g E y (1 − φ²) / (λ count)
            idx = self.nz_index[t]
            corr = torch.div(self.nz_count[t], self.nz_rates(phi, t)).mul_(
                self.nz_exposure[t]).mul_(one_minus_phi2.reshape(-1).index_select(
                    0, idx)).mul_(-self.rate_gain / self.count)
            dx = one_minus_phi2 * self.Eg
            dx.view(-1).index_add_(0, idx, corr)
            return dx
        y = self.Yt[t]
        if self.poisson:
            lam = phi.mul(self.rate_gain).add_(self.rate_offset).mul_(self.Ek)
            if self.clamp_free:
                dphi = torch.div(y, lam).neg_().add_(1.0).mul_(self.Eg)
            else:
                live = lam >= _MIN_LAMBDA
                dphi = torch.div(y, lam.clamp_(min=_MIN_LAMBDA)).neg_().add_(1.0).mul_(
                    self.Eg)
                dphi.mul_(live)
        else:
            dphi = (phi - y).mul_(2.0 / self.count)
        return dphi.mul_(one_minus_phi2)

    def drive(self, B, t):
        """The inputs' drive Σ_p U_t[..., p] B[:, p] at step t, (K, N)."""
        return (self.Ut[t] * B.T.unsqueeze(1)).sum(0)

    @staticmethod
    def one_minus_sq(x):
        return (x * x).neg_().add_(1.0)

    def forward(self, M, Nl, d, z0, B):
        """The block's summed loss and the state its backward pass needs: the latents
        (T, K, R) and, with inputs, the read-out φ (T, K, N) (recomputing the drive in
        the backward pass costs more than keeping φ)."""
        torch, T, N, a = self.torch, self.T, self.N, self.a
        z, zs, total = z0, [z0], z0.new_zeros(())
        Phi = None if B is None else M.new_empty((T, self.K, N))
        for t in range(T):
            pre = torch.addmm(d, z, M.T)
            if B is None:
                h = phi = pre.tanh_()
            else:
                phi = torch.tanh(pre + self.drive(B, t), out=Phi[t])
                h = pre.tanh_()
            total = total + self.loss_sum(phi, t)
            if t < T - 1:
                z = torch.addmm(z, h, Nl, beta=1.0 - a, alpha=a / N)
                zs.append(z)
        return total, (torch.stack(zs, 0), Phi)

    def backward(self, M, Nl, d, B, state, need):
        """Gradients of the objective's mean loss from this block: (M, N_l, d, the
        block's z0, B or None)."""
        torch, T, N, a = self.torch, self.T, self.N, self.a
        Z, Phi = state
        need_m, need_n, need_d = need
        gM, gN, gd = torch.zeros_like(M), torch.zeros_like(Nl), torch.zeros_like(d)
        gB = None if B is None else torch.zeros_like(B)
        g = None
        for t in range(T - 1, -1, -1):
            zt = Z[t]
            h = torch.addmm(d, zt, M.T).tanh_()
            omh = self.one_minus_sq(h)
            if B is None:
                dx = self.readout_grad(h, omh, t)
            else:
                phi = Phi[t]
                dx = self.readout_grad(phi, self.one_minus_sq(phi), t)
                gB += (self.Ut[t] * dx).sum(1).T
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
        return gM, gN, gd, g, gB
