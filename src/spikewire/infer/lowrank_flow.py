"""The distribution of connectivity that the dynamics require: the ``lowrank_flow`` method
(after Kim, Pereira-Obilinovic, Wang, Shea-Brown & Sümbül 2026, arXiv 2603.26506), and the
identifiability report.

Identifiability. In a low-rank network the activity is ``φ(M z + d)``, so the dynamics fix
the distribution of ``(m, d)`` up to an invertible map of the latent space. The loadings
``n`` enter only through ``(1/N) Σ_i n_i φ(m_i·z + d_i)``: the component of each column of
``N`` (a vector over units) orthogonal to every activity pattern ``φ(M z + d)`` the network
visits changes nothing. For N → ∞ the visible part is ``E[n | m, d]``; the residual
``n − E[n | m, d]`` is not identified, and a plain fit returns an arbitrary one.
:func:`identifiability_report` splits given loadings into the two parts.

The method: (1) a plain low-rank fit (:func:`spikewire.infer.lowrank.fit_lowrank`) as front
end; (2) a continuous normalizing flow over ``(m, d)`` trained by flow matching on the
fitted loadings (conditional optimal-transport path ``x_t = (1 − t) x₀ + t x₁``, loss
``‖v(x_t, t) − (x₁ − x₀)‖²``, ``x₀ ~ N(0, I)``); (3) a conditional flow for ``n | (m, d)``
trained on targets from the dynamics: sample a population of ``(m, d)`` from the first flow,
regress the fitted latent update on its activities and solve the ridge for ``n`` (leaving
out the first ``burn_in`` samples of every chunk, where the fitted vector field is least
constrained); (4)
sampling by a 4th-order Runge–Kutta solver. The ridge's minimum-norm solution carries no
unidentified residual, so the learned ``n | (m, d)`` is (close to) ``E[n | m, d]``: the
maximally unbiased choice the paper argues for.

torch is imported inside the functions only (optional extra ``spikewire[ml]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.infer.base import FitContext, register
from spikewire.infer.estimate import Estimate
from spikewire.infer.lowrank import LowRankFit, _LowRankBase, _ridge_n, import_torch

__all__ = ["FlowMatcher", "LoadingDistribution", "LowRankFlow", "fit_loading_distribution",
           "identifiability_report"]


class FlowMatcher:
    """A (conditional) continuous normalizing flow on R^dim trained by flow matching.

    Data (and conditions) are standardised; the velocity field is an MLP
    ``v(x, t[, c])`` with two hidden layers of ``width`` SiLU units.

    Parameters
    ----------
    dim : int
    cond_dim : int, default 0
    width : int, default 64
    seed : int or SeedSequence, default 0
    device : str, default "cpu"
    """

    def __init__(self, dim: int, cond_dim: int = 0, width: int = 64, seed=0,
                 device: str = "cpu"):
        torch = import_torch()
        self.dim, self.cond_dim, self.device = int(dim), int(cond_dim), device
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._rng = np.random.default_rng(ss)
        gen = torch.Generator().manual_seed(int(self._rng.integers(2 ** 31)))
        layers = [torch.nn.Linear(dim + cond_dim + 1, width), torch.nn.SiLU(),
                  torch.nn.Linear(width, width), torch.nn.SiLU(),
                  torch.nn.Linear(width, dim)]
        self.net = torch.nn.Sequential(*layers).double()
        with torch.no_grad():   # seeded initialisation (not torch's global generator)
            for p in self.net.parameters():
                bound = 1.0 / np.sqrt(p.shape[-1] if p.ndim > 1 else width)
                p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float64) * 2 - 1)
                        * bound)
        self.net.to(device)
        self.mu = np.zeros(dim)
        self.sd = np.ones(dim)
        self.cmu = np.zeros(cond_dim)
        self.csd = np.ones(cond_dim)
        self.losses: list[float] = []

    # ---------------------------------------------------------------- internals
    def _v(self, x, t, c):
        torch = import_torch()
        tt = torch.full((x.shape[0], 1), float(t), dtype=x.dtype, device=x.device)
        inp = [x, tt] if c is None else [x, c, tt]
        return self.net(torch.cat(inp, dim=1))

    def _tc(self, cond, n):
        torch = import_torch()
        if self.cond_dim == 0:
            return None
        c = (np.asarray(cond, dtype=float).reshape(n, self.cond_dim) - self.cmu) / self.csd
        return torch.as_tensor(c, dtype=torch.float64, device=self.device)

    # ---------------------------------------------------------------- API
    def train(self, x, cond=None, *, n_iter: int = 1000, batch: int = 256,
              lr: float = 2e-3) -> FlowMatcher:
        """Flow matching on samples ``x`` (n, dim) (with conditions ``cond`` (n, cond_dim)).

        Raises
        ------
        FloatingPointError
            If the loss becomes non-finite (lower ``lr``).
        """
        torch = import_torch()
        x = np.asarray(x, dtype=float).reshape(-1, self.dim)
        if not np.all(np.isfinite(x)):
            raise ValueError("flow-matching data contain non-finite values")
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-8
        X1 = torch.as_tensor((x - self.mu) / self.sd, dtype=torch.float64, device=self.device)
        C = None
        if self.cond_dim:
            c = np.asarray(cond, dtype=float).reshape(x.shape[0], self.cond_dim)
            self.cmu, self.csd = c.mean(0), c.std(0) + 1e-8
            C = self._tc(c, x.shape[0])
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, int(n_iter)))
        n = x.shape[0]
        b = min(int(batch), n)
        for it in range(int(n_iter)):
            idx = torch.as_tensor(self._rng.integers(0, n, b), device=self.device)
            x1 = X1[idx]
            x0 = torch.as_tensor(self._rng.standard_normal((b, self.dim)), device=self.device)
            t = torch.as_tensor(self._rng.random((b, 1)), device=self.device)
            xt = (1 - t) * x0 + t * x1
            inp = [xt, t] if C is None else [xt, C[idx], t]
            loss = ((self.net(torch.cat(inp, 1)) - (x1 - x0)) ** 2).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"flow matching: non-finite loss at iteration {it}; "
                                         f"lower lr (now {lr})")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            self.losses.append(float(loss.detach()))
        return self

    def sample(self, n: int, cond=None, *, n_steps: int = 32, seed=0) -> np.ndarray:
        """``n`` samples by integrating the velocity from t = 0 to 1 (RK4, ``n_steps``)."""
        torch = import_torch()
        rng = np.random.default_rng(seed)
        x = torch.as_tensor(rng.standard_normal((int(n), self.dim)), device=self.device)
        c = self._tc(cond, int(n)) if cond is not None else None
        if self.cond_dim and c is None:
            raise ValueError("this flow is conditional: pass cond of shape (n, cond_dim)")
        h = 1.0 / n_steps
        with torch.no_grad():
            for k in range(n_steps):
                t = k * h
                k1 = self._v(x, t, c)
                k2 = self._v(x + h / 2 * k1, t + h / 2, c)
                k3 = self._v(x + h / 2 * k2, t + h / 2, c)
                k4 = self._v(x + h * k3, t + h, c)
                x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x.cpu().numpy() * self.sd + self.mu

    def log_prob(self, x, cond=None, *, n_steps: int = 32) -> np.ndarray:
        """Log-density of ``x`` (n, dim): integrate back from t = 1 to 0 with the exact
        divergence (RK4), ``log p(x) = log N(x₀) − ∫ div v dt − Σ log sd``."""
        torch = import_torch()
        x = np.asarray(x, dtype=float).reshape(-1, self.dim)
        n = x.shape[0]
        c = self._tc(cond, n) if cond is not None else None
        y = torch.as_tensor((x - self.mu) / self.sd, device=self.device)

        def f(y, t):
            with torch.enable_grad():
                y = y.detach().requires_grad_(True)
                v = self._v(y, t, c)
                div = sum(torch.autograd.grad(v[:, i].sum(), y, retain_graph=True)[0][:, i]
                          for i in range(self.dim))
            return v.detach(), div.detach()

        h = -1.0 / n_steps
        logdet = torch.zeros(n, dtype=torch.float64, device=self.device)
        for k in range(n_steps):
            t = 1.0 + k * h
            v1, d1 = f(y, t)
            v2, d2 = f(y + h / 2 * v1, t + h / 2)
            v3, d3 = f(y + h / 2 * v2, t + h / 2)
            v4, d4 = f(y + h * v3, t + h)
            y = y + h / 6 * (v1 + 2 * v2 + 2 * v3 + v4)
            logdet = logdet + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)   # = −∫₀¹ div dt
        y0 = y.cpu().numpy()
        log0 = -0.5 * (y0 ** 2).sum(1) - 0.5 * self.dim * np.log(2 * np.pi)
        return log0 + logdet.cpu().numpy() - np.log(self.sd).sum()


@dataclass
class LoadingDistribution:
    """A learned distribution of per-unit loadings ``(m, d, n)``: ``p(m, d) p(n | m, d)``.

    Attributes
    ----------
    flow_md : FlowMatcher
        Flow over ``(m, d)`` (dimension R + 1).
    flow_n : FlowMatcher
        Conditional flow over ``n`` given ``(m, d)``.
    rank : int
    """

    flow_md: FlowMatcher
    flow_n: FlowMatcher
    rank: int

    def sample(self, size: int, *, seed=0) -> dict:
        """``size`` units' loadings: dict with ``m`` (size, R), ``d`` (size,), ``n``."""
        ss = np.random.SeedSequence(seed) if not isinstance(seed, np.random.SeedSequence) \
            else seed
        s1, s2 = ss.spawn(2)
        md = self.flow_md.sample(size, seed=s1)
        n = self.flow_n.sample(size, cond=md, seed=s2)
        return {"m": md[:, :self.rank], "d": md[:, self.rank], "n": n}

    def conditional_n(self, m, d, *, n_samples: int = 16, seed=0) -> np.ndarray:
        """Samples of ``n | (m, d)`` for given units: shape (n_samples, n_units, R)."""
        md = np.column_stack([np.asarray(m, dtype=float), np.asarray(d, dtype=float)])
        u = md.shape[0]
        out = self.flow_n.sample(n_samples * u, cond=np.tile(md, (n_samples, 1)), seed=seed)
        return out.reshape(n_samples, u, self.rank)

    def log_prob(self, m, d, n) -> np.ndarray:
        """``log p(m, d) + log p(n | m, d)`` per unit (natural log, per unit of loading)."""
        md = np.column_stack([np.asarray(m, dtype=float), np.asarray(d, dtype=float)])
        return self.flow_md.log_prob(md) + self.flow_n.log_prob(n, cond=md)


def fit_loading_distribution(fit: LowRankFit, *, n_iter: int = 2000, n_draws: int = 4,
                             ridge: float = 1.0, population: int = 1000,
                             burn_in: int | None = None, width: int = 64,
                             seed=0, device: str = "cpu") -> tuple[LoadingDistribution, dict]:
    """Steps (2)–(3) of the method on a front-end fit (see the module docstring).

    Parameters
    ----------
    fit : LowRankFit
    n_iter : int, default 2000
        Flow-matching iterations of each flow. The multimodal quadstable m-distribution
        needs them: flow MSE(n, E[n|m]) 0.185 after 800, 0.086 after 2000 (N = 1000,
        measured; the flow fills the valleys between modes when under-trained).
    n_draws : int, default 4
        Populations of N units drawn from the (m, d) flow to build ridge targets for n.
    ridge : float, default 1.0
        Ridge strength relative to ``tr(ΦᵀΦ)/N``. Reduced benchmark (N = 200, burn-in 10):
        MSE(n, E[n|m]) of the flow 0.09–0.21 at 1.0, 0.10–0.27 at 0.3 over the four presets
        (``benchmarks/results/lowrank2.md``).
    population : int, default 1000
        Units per drawn population (at least the fit's N): the ridge solution approaches
        ``E[n | m, d]`` as the population grows (its finite-population noise inflates Var n:
        measured +45 % at 60 units, +2 % at 1000 on the ring preset).
    burn_in : int or None, default None
        Samples dropped from the start of every fitted trial (chunk) before the ridge
        targets are built (see :meth:`LowRankFit.update_targets`); None: ``min(10, steps //
        4)``. The fitted vector field is least reliable there, and the ridge turns its
        errors into large spurious ``n`` (ring preset, N = 200, ridge 0.1: MSE(n̂, E[n|m]) 3.6 with
        every sample, 0.4 without the first 10 of 50, measured).

    Returns
    -------
    distribution : LoadingDistribution
    info : dict
        Final flow-matching losses and the R² of the ridge regressions of the latent update.
    """
    ss = np.random.SeedSequence(seed) if not isinstance(seed, np.random.SeedSequence) else seed
    s_md, s_n, s_draw = ss.spawn(3)
    R = fit.rank
    N = max(fit.n_neurons, int(population))
    md = np.column_stack([fit.m, fit.d])
    flow_md = FlowMatcher(R + 1, 0, width, s_md, device).train(md, n_iter=n_iter)
    steps = fit.latents.shape[1]
    if burn_in is None:
        burn_in = min(10, steps // 4)
    z, y = fit.update_targets(burn_in)
    feats, targets, r2 = [], [], []
    for s in s_draw.spawn(int(n_draws)):
        smp = flow_md.sample(N, seed=s)
        phi = np.tanh(z @ smp[:, :R].T + smp[:, R])
        n_hat = _ridge_n(phi, y, ridge)
        pred = phi @ n_hat / N
        r2.append(float(1 - ((y - pred) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()))
        feats.append(smp)
        targets.append(n_hat)
    flow_n = FlowMatcher(R, R + 1, width, s_n, device).train(
        np.vstack(targets), cond=np.vstack(feats), n_iter=n_iter)
    info = {"flow_md_loss": float(np.mean(flow_md.losses[-50:])),
            "flow_n_loss": float(np.mean(flow_n.losses[-50:])), "ridge_r2": r2,
            "burn_in": int(burn_in)}
    return LoadingDistribution(flow_md, flow_n, R), info


def identifiability_report(m, n, d=None, latents=None, *, rtol: float = 1e-3) -> dict:
    """Split loadings into the part the dynamics identify and the part they do not.

    The dynamics see ``n`` only through ``Φᵀ n`` with ``Φ[i, t] = φ(m_i·z_t + d_i)`` over
    the latent states ``z_t`` the network visits; the orthogonal projection of ``n``'s
    columns onto span(Φ) (over units) is identified (→ ``E[n | m, d]`` as N → ∞), the rest
    is not.

    Parameters
    ----------
    m, n : ndarray, shape (N, R)
    d : ndarray, shape (N,), optional (default 0)
    latents : ndarray, shape (n_states, R), optional
        Visited latent states (e.g. a fit's trajectories); default: a 15^R grid on
        ``[−3, 3]^R`` (R ≤ 3).
    rtol : float, default 1e-3
        Singular values of Φ below ``rtol · max`` count as zero: directions of ``n`` whose
        effect on the latent update is below that fraction of the strongest one count as
        unidentified. (For finite N and noise-free activity over the whole latent plane the
        functions φ(m_i·z) are linearly independent, so an exact cut-off would call almost
        everything identified; the N → ∞ split is ``E[n|m, d]`` versus the residual.)

    Returns
    -------
    dict
        ``identified``: ``n_identified`` (N, R), ``m_covariance_eigenvalues`` (of cov(m) in
        the canonical basis: all 1 by construction, plus the raw eigenvalues),
        ``overlap_eigenvalues`` (eigenvalues of ``(1/N) n_idᵀ m (mᵀm/N)⁻¹``, invariant under
        changes of latent basis); ``unidentified``: ``n_residual`` (N, R),
        ``residual_variance_fraction`` (per latent dimension), ``residual_kurtosis``.
    """
    m = np.atleast_2d(np.asarray(m, dtype=float))
    n = np.atleast_2d(np.asarray(n, dtype=float))
    N, R = m.shape
    if n.shape != (N, R):
        raise ValueError(f"n must have the shape of m {(N, R)}, got {n.shape}")
    d = np.zeros(N) if d is None else np.asarray(d, dtype=float).reshape(N)
    if latents is None:
        if R > 3:
            raise ValueError(f"pass latents (visited states) for rank {R} > 3")
        axis = np.linspace(-3, 3, 15)
        latents = np.stack([g.ravel() for g in np.meshgrid(*([axis] * R), indexing="ij")], 1)
    latents = np.asarray(latents, dtype=float).reshape(-1, R)
    phi = np.tanh(latents @ m.T + d).T                        # (N, n_states)
    U, s, _ = np.linalg.svd(phi, full_matrices=False)
    U = U[:, s > rtol * s.max()]
    n_id = U @ (U.T @ n)
    resid = n - n_id
    Cm = m.T @ m / N
    overlap = np.linalg.solve(Cm, (n_id.T @ m / N).T).T
    var_n = n.var(0)
    r = resid - resid.mean(0)
    kurt = np.where(r.var(0) > 0, (r ** 4).mean(0) / np.maximum(r.var(0), 1e-300) ** 2, np.nan)
    return {
        "identified": {"n_identified": n_id, "m_covariance_eigenvalues": np.linalg.eigvalsh(Cm),
                       "overlap_eigenvalues": np.sort_complex(np.linalg.eigvals(overlap)),
                       "n_states": int(latents.shape[0]), "rank_of_activity": int(U.shape[1])},
        "unidentified": {"n_residual": resid,
                         "residual_variance_fraction": np.where(var_n > 0,
                                                                resid.var(0) / var_n, 0.0),
                         "residual_kurtosis": kurt},
    }


@register
class LowRankFlow(_LowRankBase):
    """Distribution of low-rank connectivity the dynamics require (flow matching).

    A plain low-rank fit (settings as for ``lowrank``) as front end, then a flow over the
    per-unit ``(m, d)`` and a conditional flow for ``n | (m, d)`` trained on ridge targets
    from the fitted latent dynamics (see :mod:`spikewire.infer.lowrank_flow`). ``weights``
    is the posterior-mean ``J_ij = m_i·E[n_j | m_j, d_j] / N`` over the fitted units;
    ``diagnostics`` hold ``weight_samples`` (``n_weight_samples`` draws of J with ``n``
    sampled from the conditional flow), the loadings and the learned
    ``distribution`` (:class:`LoadingDistribution`: ``sample``, ``log_prob``).

    Parameters
    ----------
    rank, alpha, bin_width, trial_steps, chunk_steps, rate_offset, rate_gain, n_restarts,
    n_iter, lr, min_spikes, seed, device
        As for ``lowrank`` (the front end).
    flow_iter : int, default 2000
        Flow-matching iterations of each flow.
    n_draws : int, default 4
        Populations drawn for the ridge targets of ``n``.
    ridge : float, default 1.0
        Ridge strength of the targets of n (relative to tr(ΦᵀΦ)/N).
    burn_in : int or None, default None
        Samples dropped from the start of every chunk for the targets of n (None:
        ``min(10, chunk // 4)``; see :func:`fit_loading_distribution`).
    n_weight_samples : int, default 4

    References
    ----------
    Kim, Pereira-Obilinovic, Wang, Shea-Brown & Sümbül (2026) Identifying connectivity
    distributions from neural dynamics using flows. arXiv 2603.26506 (ICML 2026).
    Lipman et al. (2023) Flow matching for generative modeling. ICLR.
    """

    name = "lowrank_flow"
    reference = "Kim et al. 2026, arXiv 2603.26506 (ICML); Lipman et al. 2023, ICLR"
    settings_constraints = {
        **_LowRankBase.base_constraints,
        "flow_iter": [_LowRankBase.base_constraints["n_iter"][0]],
        "n_draws": [_LowRankBase.base_constraints["n_restarts"][0]],
        "ridge": [_LowRankBase.base_constraints["lr"][0]],
        "burn_in": [_LowRankBase.base_constraints["min_spikes"][0], None],
        "n_weight_samples": [_LowRankBase.base_constraints["n_restarts"][0]],
    }

    def __init__(self, rank: int = 2, alpha: float = 0.2, bin_width: float | None = None,
                 trial_steps: int | None = None, chunk_steps: int = 100,
                 rate_offset: float = 10.0, rate_gain: float = 10.0, n_restarts: int = 3,
                 n_iter: int = 300, lr: float = 0.01, min_spikes: int = 1, seed=0,
                 device: str = "cpu", flow_iter: int = 2000, n_draws: int = 4,
                 ridge: float = 1.0, burn_in: int | None = None,
                 n_weight_samples: int = 4):
        self.rank = rank
        self.alpha = alpha
        self.bin_width = bin_width
        self.trial_steps = trial_steps
        self.chunk_steps = chunk_steps
        self.rate_offset = rate_offset
        self.rate_gain = rate_gain
        self.n_restarts = n_restarts
        self.n_iter = n_iter
        self.lr = lr
        self.min_spikes = min_spikes
        self.seed = seed
        self.device = device
        self.flow_iter = flow_iter
        self.n_draws = n_draws
        self.ridge = ridge
        self.burn_in = burn_in
        self.n_weight_samples = n_weight_samples

    def _fit(self, ctx: FitContext) -> Estimate:
        fit, ok, info = self._front_end(ctx)
        ss = self.seed if isinstance(self.seed, np.random.SeedSequence) \
            else np.random.SeedSequence(self.seed)
        s_flow, s_post = ss.spawn(2)
        dist, finfo = fit_loading_distribution(fit, n_iter=self.flow_iter,
                                               n_draws=self.n_draws, ridge=self.ridge,
                                               burn_in=self.burn_in,
                                               seed=s_flow, device=self.device)
        n_post = dist.conditional_n(fit.m, fit.d, n_samples=max(16, self.n_weight_samples),
                                    seed=s_post)
        N = fit.n_neurons
        J_mean = fit.m @ n_post.mean(0).T / N
        W = self._embed(J_mean, ok, ctx)
        samples = np.stack([self._embed(fit.m @ n_post[k].T / N, ok, ctx)
                            for k in range(self.n_weight_samples)])
        info.update(finfo)
        info.update(m=fit.m, n_plain=fit.n, n_posterior_mean=n_post.mean(0), d=fit.d,
                    fitted_units=ctx.units[ok].tolist(), weight_samples=samples,
                    distribution=dist)
        return ctx.estimate(self, weights=W, weight_unit="dimensionless (J = M Nᵀ/N)",
                            diagnostics=info)
