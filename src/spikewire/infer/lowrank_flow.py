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
sampling by a 4th-order Runge–Kutta solver. Where the visited latent states leave part of
``E[n | m, d]`` undetermined, the targets need a prior: the plain ridge's minimum-norm
solution or (the method's default) an affine part within each Gaussian population of
``(m, d)`` plus a strongly shrunk unit-specific remainder (:func:`ridge_n_populations`).
Either carries no unidentified residual, so the learned flow of ``n | (m, d)`` is (close
to) ``E[n | m, d]``; with ``residual_sd`` the distribution adds the maximum-entropy
residual for a given second moment, ``N(0, residual_sd² I)`` independent of ``(m, d)``, so
that the joint ``(m, n)`` is a
proper (not surface-concentrated) distribution. Its scale is not identified by the
dynamics and must be supplied.

torch is imported inside the functions only (optional extra ``spikewire[ml]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.infer._params import Boolean, Options
from spikewire.infer._progress import progress_bar
from spikewire.infer.base import FitContext, register
from spikewire.infer.estimate import Estimate
from spikewire.infer.lowrank import (
    GATE_UNITS,
    HALVING,
    REFINE_RESTARTS,
    LowRankFit,
    _LowRankBase,
    _ridge_n,
    import_torch,
)

__all__ = ["FlowMatcher", "LoadingDistribution", "LowRankFlow", "fit_loading_distribution",
           "identifiability_report", "population_features", "refit_gain",
           "ridge_n_populations", "smooth_targets", "tail_coords", "tail_df",
           "TAIL_MAX_DF", "TAIL_MIN_UNITS"]

#: bandwidths (in units of the loadings, the canonical basis) among which
#: :func:`smooth_targets` chooses by leave-one-unit-out error
SMOOTH_BANDWIDTHS = tuple(0.05 * 1.5 ** k for k in range(8))
#: L-BFGS iterations of the significance gate's front-end fits (``gate_refine_iter``; the
#: estimate's own fit keeps ``refine_iter``): the gate compares the data's fit with the
#: surrogates' fitted the same way, so its level does not depend on how far they are
#: refined, and without the refinement each gate fit takes about half the time
#: (``benchmarks/results/lrgate46.md``)
GATE_REFINE_ITER: int | None = 0


def _ot_pairs(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """The permutation ``p`` minimising ``Σ_k |x0[p[k]] − x1[k]|²`` (exact assignment,
    Hungarian/Jonker–Volgenant via :func:`scipy.optimize.linear_sum_assignment`)."""
    from scipy.optimize import linear_sum_assignment

    cost = ((x0[:, None, :] - x1[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    p = np.empty(x1.shape[0], dtype=int)
    p[cols] = rows
    return p


class FlowMatcher:
    """A (conditional) continuous normalizing flow on R^dim trained by flow matching.

    Data (and conditions) are standardised; the velocity field is an MLP
    ``v(x, t[, c])`` with two hidden layers of ``width`` SiLU units. The base (source)
    distribution is N(0, I), or with ``base_df`` independent Student-t coordinates with
    ``base_df`` degrees of freedom scaled to unit variance: a flow with a smooth (Lipschitz)
    velocity field keeps the tail class of its base, so a Gaussian base thins heavy tails
    (Jaini et al. 2020); a Student-t base can keep them. With ``tails`` the flow is
    trained on ``y = T(x)``, a rotation to the most non-Gaussian directions and a
    per-coordinate map onto standard-normal marginals with generalised-Pareto tails
    (:class:`~spikewire.infer._tails.MarginalTails` with ``rotate=True``), and its
    samples are mapped back by ``T⁻¹``: they keep the training data's quantiles and
    tails (the log-density includes ``log |det ∂T/∂x|``).

    Parameters
    ----------
    dim : int
    cond_dim : int, default 0
    width : int, default 64
    seed : int or SeedSequence, default 0
    device : str, default "cpu"
    base_df : float or None, default None
        Degrees of freedom (> 2) of a Student-t base; None: Gaussian.
    tails : None, True or array_like of bool, shape (dim,), default None
        Coordinates mapped through :class:`~spikewire.infer._tails.MarginalTails` (fitted
        in :meth:`train`; True: all); None: none.

    References
    ----------
    Jaini, Kobyzev, Yu & Brubaker (2020) Tails of Lipschitz triangular flows. ICML.
    Tong et al. (2024) Improving and generalizing flow-based generative models with
    minibatch optimal transport. TMLR.
    Pooladian et al. (2023) Multisample flow matching: straightening flows with minibatch
    couplings. ICML.
    """

    def __init__(self, dim: int, cond_dim: int = 0, width: int = 64, seed=0,
                 device: str = "cpu", base_df: float | None = None, tails=None):
        torch = import_torch()
        if base_df is not None and not (np.isfinite(base_df) and base_df > 2):
            raise ValueError(f"base_df={base_df!r} must be a finite number > 2 (a unit-variance "
                             f"Student-t base) or None (Gaussian)")
        self.base_df = None if base_df is None else float(base_df)
        self.dim, self.cond_dim, self.device = int(dim), int(cond_dim), device
        if tails is not None and tails is not True:
            tails = np.asarray(tails)
            if tails.dtype != bool or tails.shape != (self.dim,):
                raise ValueError(f"tails must be None, True or a boolean mask of shape "
                                 f"({self.dim},), got {tails!r}")
        self.tails = tails
        self.marginal = None      # the fitted MarginalTails (train)
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
    def _base_sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.base_df is None:
            return rng.standard_normal((n, self.dim))
        nu = self.base_df
        return rng.standard_t(nu, (n, self.dim)) * np.sqrt((nu - 2) / nu)

    def _base_logpdf(self, y0: np.ndarray) -> np.ndarray:
        if self.base_df is None:
            return -0.5 * (y0 ** 2).sum(1) - 0.5 * self.dim * np.log(2 * np.pi)
        from scipy.stats import t as student_t

        nu = self.base_df
        c = np.sqrt((nu - 2) / nu)
        return (student_t.logpdf(y0 / c, nu) - np.log(c)).sum(1)

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
              lr: float = 2e-3, coupling: str = "independent",
              progress: str | None = None) -> FlowMatcher:
        """Flow matching on samples ``x`` (n, dim) (with conditions ``cond`` (n, cond_dim)).

        Parameters
        ----------
        x : array_like, shape (n, dim)
        cond : array_like, shape (n, cond_dim), optional
        n_iter : int, default 1000
        batch : int, default 256
        lr : float, default 2e-3
            Adam learning rate (cosine-annealed to 0 over ``n_iter``).
        coupling : {"independent", "ot"}, default "independent"
            Pairing of base and data samples in each minibatch: independent draws (the
            conditional OT path of Lipman et al. 2023), or the minibatch optimal-transport
            assignment (squared Euclidean cost, :func:`_ot_pairs`; Tong et al. 2024,
            Pooladian et al. 2023), whose paths cross less, so the regressed velocity
            averages less over crossing paths and draws multimodal data's modes in less.
            Quadstable's (m, d) from spikes (N = 1,000): mean |m| of the samples 0.97 of the
            data's with "independent", 0.98 with "ot"
            (``benchmarks/results/lrquad2.md`` §4). Unconditional flows only.
        progress : str or None, default None
            Label of a progress bar over the iterations; None: none.

        Raises
        ------
        FloatingPointError
            If the loss becomes non-finite (lower ``lr``).
        """
        torch = import_torch()
        if coupling not in ("independent", "ot"):
            raise ValueError(f"coupling={coupling!r} must be 'independent' or 'ot'")
        if coupling == "ot" and self.cond_dim:
            raise ValueError("coupling='ot' pairs base and data samples across the batch, "
                             "which ignores the conditions: use coupling='independent' for a "
                             "conditional flow")
        x = np.asarray(x, dtype=float).reshape(-1, self.dim)
        if not np.all(np.isfinite(x)):
            raise ValueError("flow-matching data contain non-finite values")
        if self.tails is not None:
            from spikewire.infer._tails import MarginalTails

            self.marginal = MarginalTails(x, coords=None if self.tails is True
                                          else self.tails, rotate=True)
            x = self.marginal.forward(x)[0]
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
        what = f"flow over {self.dim} coordinate{'s' * (self.dim > 1)}" + \
            (f" given {self.cond_dim}" if self.cond_dim else "")
        bar = progress_bar(progress, n_iter, what)
        for it in range(int(n_iter)):
            idx = torch.as_tensor(self._rng.integers(0, n, b), device=self.device)
            x1 = X1[idx]
            x0n = self._base_sample(self._rng, b)
            if coupling == "ot":
                x0n = x0n[_ot_pairs(x0n, X1[idx].cpu().numpy())]
            x0 = torch.as_tensor(x0n, device=self.device)
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
            bar.update()
        bar.close()
        return self

    def sample(self, n: int, cond=None, *, n_steps: int = 32, seed=0) -> np.ndarray:
        """``n`` samples by integrating the velocity from t = 0 to 1 (RK4, ``n_steps``)."""
        torch = import_torch()
        rng = np.random.default_rng(seed)
        x = torch.as_tensor(self._base_sample(rng, int(n)), device=self.device)
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
        x = x.cpu().numpy() * self.sd + self.mu
        return x if self.marginal is None else self.marginal.inverse(x)

    def log_prob(self, x, cond=None, *, n_steps: int = 32) -> np.ndarray:
        """Log-density of ``x`` (n, dim): integrate back from t = 1 to 0 with the exact
        divergence (RK4), ``log p(x) = log N(x₀) − ∫ div v dt − Σ log sd`` (plus
        ``log |det ∂T/∂x|`` with ``tails``)."""
        torch = import_torch()
        x = np.asarray(x, dtype=float).reshape(-1, self.dim)
        logdet_t = np.zeros(x.shape[0])
        if self.marginal is not None:
            x, logdet_t = self.marginal.forward(x)
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
        log0 = self._base_logpdf(y.cpu().numpy())
        return log0 + logdet.cpu().numpy() - np.log(self.sd).sum() + logdet_t


def _seq(seed) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


@dataclass
class LoadingDistribution:
    """A learned distribution of per-unit loadings ``(m, d, n)``: ``p(m, d) p(n | m, d)``.

    ``n | (m, d)`` is the conditional flow (trained on ridge targets: close to the
    identified ``E[n | m, d]``) plus, when ``residual_sd`` is set, an independent residual
    ``N(0, residual_sd² I)``: the maximum-entropy distribution of the unidentified part
    ``n − E[n | m, d]`` given its second moment ``E|n − E[n|m, d]|² = R · residual_sd²``
    (the dynamics fix the conditional mean but not this moment, which must be supplied;
    see :func:`fit_loading_distribution`). Loadings are in the fit's canonical latent basis
    (``cov(m) = I``), where an isotropic residual is unchanged by rotations of the basis.

    Attributes
    ----------
    flow_md : FlowMatcher
        Flow over ``(m, d)`` (dimension R + 1), or over ``m`` alone (dimension R) when
        ``zero_bias``.
    flow_n : FlowMatcher
        Conditional flow over ``n`` given ``(m, d)``.
    rank : int
    residual_sd : float or None, default None
        Standard deviation of the residual per latent dimension (None or 0: none).
    zero_bias : bool, default False
        The front end held the biases at 0 (``biases="zero"``): every sampled unit has
        ``d = 0`` and :meth:`log_prob` is the density of ``m`` (and ``n``) given ``d = 0``.
    """

    flow_md: FlowMatcher
    flow_n: FlowMatcher
    rank: int
    residual_sd: float | None = None
    zero_bias: bool = False

    def _sample_md(self, size: int, seed) -> np.ndarray:
        md = self.flow_md.sample(size, seed=seed)
        return np.column_stack([md, np.zeros(size)]) if self.zero_bias else md

    def _residual(self, shape, seed) -> np.ndarray:
        return float(self.residual_sd) * np.random.default_rng(seed).standard_normal(shape)

    def sample(self, size: int, *, seed=0) -> dict:
        """``size`` units' loadings: dict with ``m`` (size, R), ``d`` (size,), ``n`` (the
        residual included)."""
        s1, s2, s3 = _seq(seed).spawn(3)
        md = self._sample_md(size, s1)
        n = self.flow_n.sample(size, cond=md, seed=s2)
        if self.residual_sd:
            n = n + self._residual(n.shape, s3)
        return {"m": md[:, :self.rank], "d": md[:, self.rank], "n": n}

    def conditional_n(self, m, d, *, n_samples: int = 16, seed=0,
                      residual: bool = True) -> np.ndarray:
        """Samples of ``n | (m, d)`` for given units: shape (n_samples, n_units, R).

        ``residual=False`` leaves the residual out: samples of the identified part only,
        whose mean is the posterior mean of ``n`` (the residual's mean is 0; averaging its
        draws would only add Monte Carlo noise of variance ``residual_sd² / n_samples``).
        """
        md = np.column_stack([np.asarray(m, dtype=float), np.asarray(d, dtype=float)])
        u = md.shape[0]
        add = bool(residual and self.residual_sd)
        s_flow, s_res = _seq(seed).spawn(2) if add else (seed, None)
        out = self.flow_n.sample(n_samples * u, cond=np.tile(md, (n_samples, 1)), seed=s_flow)
        out = out.reshape(n_samples, u, self.rank)
        return out + self._residual(out.shape, s_res) if add else out

    def log_prob(self, m, d, n, *, n_mc: int = 64, seed=0) -> np.ndarray:
        """``log p(m, d) + log p(n | m, d)`` per unit (natural log, per unit of loading).

        With a residual, ``p(n | m, d)`` is the conditional flow's density convolved with
        ``N(0, residual_sd² I)``, estimated by ``log mean_k N(n − μ_k; 0, residual_sd² I)``
        over ``n_mc`` draws ``μ_k`` of the flow (biased low by Jensen's inequality, by less
        as ``n_mc`` grows).
        """
        md = np.column_stack([np.asarray(m, dtype=float), np.asarray(d, dtype=float)])
        lp_md = self.flow_md.log_prob(md[:, :self.rank] if self.zero_bias else md)
        if not self.residual_sd:
            return lp_md + self.flow_n.log_prob(n, cond=md)
        from scipy.special import logsumexp

        n = np.asarray(n, dtype=float).reshape(md.shape[0], self.rank)
        mu = self.conditional_n(md[:, :self.rank], md[:, self.rank], n_samples=int(n_mc),
                                seed=seed, residual=False)
        s2 = float(self.residual_sd) ** 2
        logk = (-0.5 * ((n[None] - mu) ** 2).sum(-1) / s2
                - 0.5 * self.rank * np.log(2 * np.pi * s2))
        return lp_md + logsumexp(logk, axis=0) - np.log(int(n_mc))


#: priors of the targets of ``n`` (:func:`fit_loading_distribution`'s ``n_prior``)
N_PRIORS = ("ridge", "populations")
#: largest number of Gaussian populations :func:`population_features` considers
MAX_POPULATIONS = 6
#: ``n_prior="populations"``: the unit-specific remainder's ridge relative to the
#: population part's
RESIDUAL_RIDGE_FACTOR = 10.0


def population_features(x, max_components: int = MAX_POPULATIONS, seed=0
                        ) -> tuple[np.ndarray, int]:
    """Features of per-unit loadings under a Gaussian-mixture population model.

    A Gaussian mixture over the units' loadings ``x`` (e.g. ``m`` or ``(m, d)``), its
    number of components ``K`` (1 … ``max_components``) chosen by BIC
    (:class:`sklearn.mixture.GaussianMixture`, full covariances, 3 initialisations); the
    features are each component's responsibility ``p_k(x_i)`` and ``p_k(x_i) · x_i``. A
    function linear in them is, within each population, affine in ``x``: the form
    ``E[n | m]`` takes in networks whose loadings are jointly Gaussian within each of K
    populations (Beiran, Dubreuil, Valente, Mastrogiuseppe & Ostojic 2021), smoothly
    blended between populations where they overlap.

    Parameters
    ----------
    x : ndarray, shape (N, p)
        Per-unit loadings.
    max_components : int, default 6
    seed : int, default 0
        Seed of the mixture's initialisation.

    Returns
    -------
    features : ndarray, shape (N, K (1 + p))
    n_components : int
        ``K``.
    """
    from sklearn.mixture import GaussianMixture

    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite (N, p) array of per-unit loadings with N >= 2, "
                         f"got shape {np.shape(x)}")
    if not isinstance(max_components, int | np.integer) or max_components < 1:
        raise ValueError(f"max_components={max_components!r} must be an integer >= 1")
    best = None
    # at least 2 (p + 1) units per component; one component whatever the count
    k_max = max(1, min(int(max_components), x.shape[0] // (2 * (x.shape[1] + 1))))
    for k in range(1, k_max + 1):
        g = GaussianMixture(k, covariance_type="full", n_init=3,
                            random_state=int(seed)).fit(x)
        bic = g.bic(x)
        if best is None or bic < best[0]:
            best = (bic, g)
    g = best[1]
    resp = g.predict_proba(x)
    feats = np.hstack([resp, *(resp[:, [k]] * x for k in range(g.n_components))])
    return feats, int(g.n_components)


def ridge_n_populations(phi, y, ridge: float, features,
                        residual_factor: float = RESIDUAL_RIDGE_FACTOR) -> np.ndarray:
    """Targets of ``n`` as a population part plus a unit-specific remainder.

    ``n = F b + r`` minimising ``‖y − Φ n / S‖² + λ ‖F b / S‖² + c λ ‖r / S‖²`` with
    ``λ = ridge · tr(ΦᵀΦ)/S`` (the plain ridge's, :func:`~spikewire.infer.lowrank._ridge_n`)
    and ``c = residual_factor``: the field the population features ``F``
    (:func:`population_features`) explain is shrunk like the plain ridge's, what only a
    unit-specific ``r`` explains ``c`` times more. Where the latent states a recording
    visits leave part of ``E[n | m, d]`` undetermined (a ring's trajectories collapse onto
    the ring), the plain ridge fills it with whatever combination of the activity patterns
    its solution happens to be built from; this prior fills it with the populations'
    affine form. Solved in the sample space when there are fewer samples than units.

    Parameters
    ----------
    phi : ndarray, shape (n_samples, S)
        Activities of the S units at the visited latent states.
    y : ndarray, shape (n_samples, R)
        The latent update's targets.
    ridge : float
    features : ndarray, shape (S, q)
    residual_factor : float, default 10

    Returns
    -------
    ndarray, shape (S, R)
    """
    phi, y = np.asarray(phi, dtype=float), np.asarray(y, dtype=float)
    F = np.asarray(features, dtype=float)
    if phi.ndim != 2 or y.ndim != 2 or y.shape[0] != phi.shape[0] \
            or F.ndim != 2 or F.shape[0] != phi.shape[1]:
        raise ValueError(f"phi (n_samples, S), y (n_samples, R) and features (S, q) must "
                         f"agree, got shapes {np.shape(phi)}, {np.shape(y)}, "
                         f"{np.shape(features)}")
    if not (np.isfinite(ridge) and ridge > 0 and np.isfinite(residual_factor)
            and residual_factor > 0):
        raise ValueError(f"ridge={ridge!r} and residual_factor={residual_factor!r} must be "
                         f"finite and > 0")
    S = phi.shape[1]
    lam = ridge * float(np.einsum("ij,ij->", phi, phi)) / S + 1e-12
    lam_r = residual_factor * lam
    X = phi @ F / S
    pen_b = lam * (F.T @ F) / S ** 2
    if phi.shape[0] < S:        # profile r out: b by generalised least squares
        Mi = phi @ phi.T + lam_r * np.eye(phi.shape[0])
        MX, My = np.linalg.solve(Mi, X), np.linalg.solve(Mi, y)
        b = np.linalg.solve(lam_r * X.T @ MX + pen_b, lam_r * X.T @ My)
        r = S * (phi.T @ (My - MX @ b))
    else:
        D = np.hstack([phi, X])
        P = np.zeros((D.shape[1], D.shape[1]))
        P[:S, :S] = lam_r * np.eye(S)
        P[S:, S:] = pen_b
        theta = np.linalg.solve(D.T @ D + P, D.T @ y)
        r, b = S * theta[:S], theta[S:]
    return F @ b + r


def smooth_targets(x, t, bandwidths=SMOOTH_BANDWIDTHS, *, block: int = 1024
                   ) -> tuple[np.ndarray, float, np.ndarray]:
    """Nadaraya–Watson smoothing of per-unit targets over the units' features.

    ``t̂_i = Σ_j w_ij t_j / Σ_j w_ij`` with the Gaussian kernel ``w_ij = exp(−|x_i − x_j|²
    / 2h²)``; the bandwidth ``h`` is the one among ``bandwidths`` with the smallest
    leave-one-unit-out squared error ``mean_i |t_i − Σ_{j≠i} w_ij t_j / Σ_{j≠i} w_ij|²``
    (data only). The targets of ``n`` (:func:`fit_loading_distribution`) are
    ``E[n | m, d]`` plus a part specific to each unit (the fitted field's error turned into
    ``n`` by the ridge, and what remains of the unidentified residual); the part that
    varies smoothly with ``(m, d)`` is what the dynamics identify, and the held-out unit's
    error is smallest where the smoother keeps it and averages the unit-specific part out.

    Parameters
    ----------
    x : array_like, shape (N, k)
        Features, e.g. ``(m, d)`` in the canonical basis (same units: inputs of φ).
    t : array_like, shape (N, R)
        Targets.
    bandwidths : sequence of float, default :data:`SMOOTH_BANDWIDTHS`
        Candidate bandwidths ``h > 0``, in the units of ``x``.
    block : int, default 1024
        Rows of the kernel computed at a time (memory ``block × N``).

    Returns
    -------
    smoothed : ndarray, shape (N, R)
    bandwidth : float
        The chosen ``h``.
    cv : ndarray, shape (len(bandwidths),)
        Leave-one-out mean squared error of each bandwidth.
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    if x.ndim != 2 or t.ndim != 2 or x.shape[0] != t.shape[0] or x.shape[0] < 2:
        raise ValueError(f"x and t must be 2-D with the same number (>= 2) of rows, got "
                         f"shapes {x.shape} and {t.shape}")
    h = np.asarray(bandwidths, dtype=float)
    if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError(f"bandwidths={bandwidths!r} must be finite numbers > 0")
    N = x.shape[0]
    sq = (x ** 2).sum(1)

    def rows(i0, hh, loo):
        i1 = min(N, i0 + block)
        D2 = np.maximum(sq[i0:i1, None] + sq[None] - 2 * x[i0:i1] @ x.T, 0.0)
        if loo:
            D2[np.arange(i1 - i0), np.arange(i0, i1)] = np.inf
        # relative to each row's nearest unit: no underflow of all weights
        W = np.exp(-(D2 - D2.min(1, keepdims=True)) / (2 * hh * hh))
        return W @ t / W.sum(1, keepdims=True)

    cv = np.array([
        float(np.mean((np.vstack([rows(i, hh, True) for i in range(0, N, block)]) - t) ** 2))
        for hh in h])
    best = float(h[int(np.argmin(cv))])
    return np.vstack([rows(i, best, False) for i in range(0, N, block)]), best, cv


def refit_gain(phi, y, t) -> tuple[np.ndarray, np.ndarray]:
    """Refit an ``R × R`` gain of per-unit targets of ``n`` to the latent update.

    ``G = argmin ‖y − Φ t G / N‖²`` (least squares; ``N`` = units, the columns of ``Φ``)
    and the targets ``t G``. The field of targets ``t`` is ``Φ t / N``; a smoother
    (:func:`smooth_targets`) averages each unit's target with its neighbours', which
    flattens ``E[n | m, d]`` where it curves and so shrinks the field's gain (ring preset
    from spikes, N = 1,000: the fitted units' ring radius 0.908 with the ridge targets,
    0.876 smoothed, 0.912 smoothed and refitted, against the data network's 0.9155;
    ``benchmarks/results/lrring20.md``). ``G`` has ``R²`` numbers fitted to every latent
    update, so it restores the gain without putting back the unit-specific noise the
    smoother removed (a rescale of the targets' variance to the raw targets' would).

    Parameters
    ----------
    phi : array_like, shape (S, N)
        Activities ``φ(m_i·z_s + d_i)`` of the ``N`` units at the ``S`` latent states.
    y : array_like, shape (S, R)
        Latent updates at those states (:meth:`LowRankFit.update_targets`).
    t : array_like, shape (N, R)
        Targets of ``n`` (dimensionless, the fit's latent basis).

    Returns
    -------
    targets : ndarray, shape (N, R)
        ``t G``.
    gain : ndarray, shape (R, R)
    """
    phi = np.asarray(phi, dtype=float)
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    if (phi.ndim != 2 or y.ndim != 2 or t.ndim != 2 or phi.shape[0] != y.shape[0]
            or phi.shape[1] != t.shape[0] or y.shape[1] != t.shape[1]):
        raise ValueError(f"phi (S, N), y (S, R) and t (N, R) must agree, got shapes "
                         f"{phi.shape}, {y.shape} and {t.shape}")
    f = phi @ t / phi.shape[1]
    if phi.shape[0] < t.shape[1] or np.linalg.matrix_rank(f) < t.shape[1]:
        raise ValueError(f"the field of t (shape {f.shape}) has rank below R = "
                         f"{t.shape[1]}: the gain is not determined (more latent states or "
                         f"non-degenerate targets are needed)")
    G = np.linalg.lstsq(f, y, rcond=None)[0]
    return t @ G, G


def tail_df(x, *, max_df: float = 20.0, min_df: float = 2.5,
            trim: float | None = None) -> float | None:
    """Degrees of freedom of a Student-t fitted (maximum likelihood, location 0) to the
    standardised, pooled coordinates of ``x`` (n, dim): the base of a tail-adaptive flow.

    Returns None (a Gaussian base) when the fit gives more than ``max_df`` (light tails:
    a t with 20 degrees of freedom is within 1 % of a Gaussian in sd), else the estimate
    clipped below at ``min_df`` (the unit-variance base needs > 2).

    A heavy tail must not rest on a handful of units: the fit is repeated without the
    ``floor(trim · size)`` pooled values farthest from 0 (default :data:`TAIL_TRIM`,
    0.5 %), and the tail counts as heavy only when that fit, too, gives at most
    ``max_df``; the degrees of freedom returned are the full sample's (trimming thins a
    true power-law tail). The front end overestimates ``|m|`` of a few saturated units
    (bistable seed 1, from spikes: 6 of 1,000 fitted units beyond 5 sd, each 1.3–2.6
    away from its true loading), which alone took a Gaussian preset's coordinate to
    8.5 degrees of freedom (59.3 without its 5 most extreme values; heavy_tailed's
    coordinates 2.7–4.6 stay at 2.9–5.7; ``benchmarks/results/lrtrim45.md``).
    ``trim=0``: no check.
    """
    from scipy.stats import t as student_t

    trim = TAIL_TRIM if trim is None else trim
    if not (isinstance(trim, int | float | np.floating) and 0 <= trim < 0.1):
        raise ValueError(f"trim={trim!r} must be a share in [0, 0.1) of the most extreme "
                         f"values left out of the second fit (default {TAIL_TRIM}; 0: none)")
    x = np.asarray(x, dtype=float)
    z = ((x - x.mean(0)) / (x.std(0) + 1e-12)).ravel()

    def heavy_df(v):
        df = student_t.fit(v, floc=0.0)[0]
        return None if not np.isfinite(df) or df > max_df else float(df)

    df = heavy_df(z)
    k = int(np.floor(float(trim) * z.size))
    # the location is held at 0, so the likelihood depends on |z| alone
    if df is not None and k > 0 and heavy_df(np.sort(np.abs(z))[:-k]) is None:
        return None
    return None if df is None else max(df, min_df)


#: share of the most extreme pooled values :func:`tail_df` leaves out of its second fit
#: (a heavy tail must also show without them). Raw samples of 1,000 (150 draws each),
#: flagged at 10 degrees of freedom with / without the check: Gaussian 0 / 0 %, Student-t
#: with 8 / 5 / 3 degrees of freedom 77 → 13 %, 100 → 88 %, 100 → 100 %
#: (``benchmarks/results/lrtrim45.md``)
TAIL_TRIM = 0.005

#: values of ``tails`` (:func:`fit_loading_distribution`, :class:`LowRankFlow`)
TAILS = ("off", "gpd", "auto")

#: ``tails="auto"`` maps a coordinate of m whose Student-t fit has at most this many
#: degrees of freedom. Fitted m of the Gaussian presets from spikes (N = 1,000, 8 fits,
#: 16 coordinates) reached 14.3 and 18.5 (flagged at 20, not at 10); since the canonical
#: start of L-BFGS (session 44) one reaches 8.5 (bistable seed 1, six outlying units:
#: not flagged with :func:`tail_df`'s outlier check, :data:`TAIL_TRIM`); heavy_tailed's
#: (4 fits) 2.7–5.6. Raw samples of 1,000 (150 draws each): a Gaussian is flagged in 2.7 % at 20,
#: 0 % at 10; Student-t with 8 / 5 / 3 degrees of freedom in 76 / 100 / 100 % at 10
#: (``benchmarks/results/lrtime38.md``).
TAIL_MAX_DF = 10.0
#: ``tails="auto"`` maps nothing for fewer units than this (the generalised-Pareto tail
#: fits of :class:`~spikewire.infer._tails.MarginalTails` need 10 per tail at 10 %)
TAIL_MIN_UNITS = 100


def tail_coords(m, tails: str = "auto", max_df: float = TAIL_MAX_DF) -> np.ndarray | None:
    """Coordinates of the loadings ``m`` (n, R) that the ``(m, d)`` flow maps through
    :class:`~spikewire.infer._tails.MarginalTails` for a ``tails`` setting.

    ``"off"``: none; ``"gpd"``: all; ``"auto"``: those whose own Student-t fit
    (:func:`tail_df`) has at most ``max_df`` degrees of freedom (heavy tails; default
    :data:`TAIL_MAX_DF`, 10), none when there are fewer than :data:`TAIL_MIN_UNITS`
    (100) units (the map's generalised-Pareto fits need 10 units in each tail, 10 % of
    them; a tail index is not estimable from fewer). Returns a boolean mask of shape (R,),
    or None when no coordinate is mapped. The biases ``d`` are never mapped: the fitted
    ``d`` of every Gaussian preset look heavy-tailed (Student-t fits with 3–13 degrees of freedom,
    N = 1,000 from spikes, where the truth is ``d = 0``; ``benchmarks/results/lrtail.md``).
    """
    if tails not in TAILS:
        raise ValueError(f"tails={tails!r} must be one of {TAILS} (the (m, d) flow's "
                         f"tail-preserving marginal map: never, always, or per coordinate "
                         f"with heavy tails)")
    x = np.asarray(m, dtype=float)
    if tails == "off":
        return None
    if tails == "gpd":
        return np.ones(x.shape[1], dtype=bool)
    if x.shape[0] < TAIL_MIN_UNITS:
        return None
    mask = np.array([x[:, j].std() > 0 and tail_df(x[:, [j]], max_df=max_df) is not None
                     for j in range(x.shape[1])])
    return mask if mask.any() else None


def fit_loading_distribution(fit: LowRankFit, *, n_iter: int = 3000, n_draws: int = 4,
                             ridge: float = 1.0, population: int = 1000,
                             burn_in: int | None = None, width: int = 64,
                             residual_sd: float | None = None, base_df="auto",
                             targets_from: str = "flow", coupling: str = "independent",
                             smooth: bool = False, smooth_gain: bool = True, seed=0,
                             device: str = "cpu", tails: str = "off",
                             n_prior: str = "ridge", progress: str | None = None
                             ) -> tuple[LoadingDistribution, dict]:
    """Steps (2)–(3) of the method on a front-end fit (see the module docstring).

    Parameters
    ----------
    fit : LowRankFit
    n_iter : int, default 3000
        Flow-matching iterations of each flow. The multimodal quadstable m-distribution
        needs them: flow MSE(n, E[n|m]) 0.185 after 800, 0.086 after 2000 (N = 1000,
        measured; the flow fills the valleys between modes when under-trained); with the
        current front end 0.109 after 2000 and 0.087 after 3000, which brings its
        normalised distance under the 0.07 target (benchmarks/results/lowrank3.md §4).
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

    residual_sd : float or None, default None
        Standard deviation (per latent dimension, canonical basis) of the maximum-entropy
        residual ``n − E[n | m, d]`` added to every sample of ``n`` (see
        :class:`LoadingDistribution`); None: no residual, ``n | (m, d)`` is then nearly
        deterministic. The dynamics do not determine it: on the fitted units the residual's
        projection onto the visited activity patterns is swamped by the error of the
        learned conditional mean (quadstable, N = 400: estimates 11–14 against the true
        0.95, measured in ``benchmarks/results/lowrank3.md``), so it is a stated
        assumption, e.g. from measured weight variances.

    base_df : "auto", float or None, default "auto"
        Base of the flow over ``(m, d)`` (see :class:`FlowMatcher`): "auto" fits a Student-t
        to the fitted m (:func:`tail_df`) and uses it when its degrees of freedom are ≤ 20
        (heavy tails), else a Gaussian; a number: that Student-t; None: Gaussian. Where
        ``tails`` maps coordinates onto normal marginals, "auto" is the Gaussian base.
    tails : {"off", "gpd", "auto"}, default "off"
        Tail-preserving marginal map of the flow over ``(m, d)`` (:func:`tail_coords`,
        :class:`~spikewire.infer._tails.MarginalTails`): every mapped coordinate is
        rank-Gaussianised (its empirical quantiles, generalised-Pareto tails beyond the
        extremes) before flow matching and mapped back after sampling. ``"off"``: none;
        ``"gpd"``: every coordinate
        of ``m``; ``"auto"``: the coordinates of ``m`` whose Student-t fit has ≤ 10
        degrees of freedom (:func:`tail_coords`). ``d`` is never mapped. The map
        first rotates m to its most non-Gaussian directions (ICA): a flow keeps the
        marginal tails of the fitted m in their canonical basis but spreads the extremes
        over all directions, which thins the tails along the true axes.
        heavy_tailed from spikes (N = 1,000, 4,608 s; ``benchmarks/results/lrtail.md``):
        Hill index of |m| (true basis) of 20,000 samples of the (m, d) flow against the
        fitted units' +12.7 … +22.8 % with "off", −1.0 … +2.5 % with "auto" (3,000
        iterations, independent coupling; 4 front ends × 3 flow seeds); through this
        function +5.0 / +5.9 % (two data seeds; "off" +11.6 / +19.9 %) and the distance
        0.220 → 0.153, 0.253 → 0.204; with ``coupling="ot"`` and 6,000 iterations only
        +8.6 / +8.9 % (from +10.5 / +15.9 %). Not the default: the held-out R² of
        networks sampled from the flow fell (≥ 0.95 in 11 of 20 against 16 of 20).
    targets_from : {"flow", "units"}, default "flow"
        Population whose activities are the regressors of the ridge targets of ``n``:
        ``"flow"``: ``n_draws`` populations of ``population`` units drawn from the (m, d)
        flow; ``"units"``: the fitted units themselves (one population; ``n_draws`` and
        ``population`` unused). The fitted latent update is exactly the field of the
        fitted units, ``(1/N) Σ_i n_i φ(m_i·z + d_i)``; a population drawn from the flow
        differs from them by the flow's error, an error in the regressors that the ridge
        turns into an error of ``n``.
    coupling : {"independent", "ot"}, default "independent"
        Minibatch coupling of the flow over ``(m, d)`` (see :meth:`FlowMatcher.train`;
        the conditional flow for ``n`` always pairs independently).
    smooth : bool, default False
        Smooth the ridge targets of ``n`` over ``(m, d)`` before the conditional flow is
        trained on them (:func:`smooth_targets`: Gaussian kernel, bandwidth by
        leave-one-unit-out error; one bandwidth per population). Step 3's ridge turns the
        fitted field's error into a part of each unit's target that does not vary smoothly
        with ``(m, d)``; the smoother removes some of it. Quadstable from spikes (N = 1,000,
        4,608 s, ``targets_from="units"``, ridge 1; ``benchmarks/results/lrquad3.md``):
        MSE(targets, E[n|m]) 0.103 → 0.097 (fit with 150 L-BFGS iterations), 0.100 →
        0.094 (400), 0.111 → 0.105 (150, a second data seed); bistable 0.024 → 0.025,
        limit cycle 0.095 → 0.093, ring 0.057 → 0.053; the chosen bandwidth was 0.11 in
        every case. Cost: well under a second at N = 1,000 (the kernel is N × N).
    smooth_gain : bool, default True
        With ``smooth``: refit an ``R × R`` gain of the smoothed targets to the latent
        update (:func:`refit_gain`). The smoother shrinks the field's gain, and the ring
        with it (fitted units' ring radius 0.876 smoothed against 0.9155 in the data
        network; 0.912 with the gain refitted, ``benchmarks/results/lrring20.md``); the
        gain changes the targets' MSE against ``E[n|m]`` by less than 0.002. False: the
        smoothing alone (session 18's ``smooth=True``). Unused without ``smooth``.
    n_prior : {"ridge", "populations"}, default "ridge"
        Prior of step 3's targets of ``n`` where the visited latent states leave
        ``E[n | m, d]`` undetermined. ``"ridge"``: the minimum-norm solution
        (:func:`~spikewire.infer.lowrank._ridge_n`), built from the visited activity
        patterns themselves; ``"populations"``: a part affine in ``(m, d)`` within each of
        the Gaussian populations :func:`population_features` finds (BIC), shrunk like the
        plain ridge, plus a unit-specific remainder shrunk ``RESIDUAL_RIDGE_FACTOR`` (10)
        times more (:func:`ridge_n_populations`). On a ring the trials collapse onto the
        ring within the burn-in, and the plain ridge's targets then depend on which
        states the fit happens to visit: N = 1,000, 4,608 s of spikes, d = 0, MSE of the
        raw targets against ``E[n | m]`` 0.279 with a 400-iteration L-BFGS front end
        against 0.051 with Adam alone, on the same data; 0.009 and 0.011 with
        ``"populations"`` (``benchmarks/results/lrprior37.md``).
    progress : str or None, default None
        Label of progress bars over the two flows' iterations; None: none.

    Returns
    -------
    distribution : LoadingDistribution
    info : dict
        Final flow-matching losses, the R² of the ridge regressions of the latent update
        and the ``base_df`` used.
    """
    if not isinstance(smooth, bool | np.bool_):
        raise ValueError(f"smooth={smooth!r} must be True or False (smooth the targets of n "
                         f"over (m, d))")
    if not isinstance(smooth_gain, bool | np.bool_):
        raise ValueError(f"smooth_gain={smooth_gain!r} must be True or False (refit the gain "
                         f"of the smoothed targets of n)")
    if coupling not in ("independent", "ot"):
        raise ValueError(f"coupling={coupling!r} must be 'independent' or 'ot' (minibatch "
                         f"optimal-transport pairing of the (m, d) flow)")
    if targets_from not in ("flow", "units"):
        raise ValueError(f"targets_from={targets_from!r} must be 'flow' (populations drawn "
                         f"from the (m, d) flow) or 'units' (the fitted units)")
    if n_prior not in N_PRIORS:
        raise ValueError(f"n_prior={n_prior!r} must be one of {N_PRIORS} (the prior of the "
                         f"targets of n)")
    if residual_sd is not None and not (isinstance(residual_sd, int | float | np.floating)
                                        and np.isfinite(residual_sd) and residual_sd >= 0):
        raise ValueError(f"residual_sd={residual_sd!r} must be a finite number >= 0 (or None: "
                         f"no residual)")
    ss = np.random.SeedSequence(seed) if not isinstance(seed, np.random.SeedSequence) else seed
    s_md, s_n, s_draw = ss.spawn(3)
    R = fit.rank
    N = max(fit.n_neurons, int(population))
    md = np.column_stack([fit.m, fit.d])
    # biases held at 0 by the front end: the flow is over m alone and samples d = 0
    zero_bias = getattr(fit, "biases", "fit") == "zero"
    coords = tail_coords(fit.m, tails)
    if coords is not None and not zero_bias:
        coords = np.append(coords, False)          # d is never mapped
    if isinstance(base_df, str):
        if base_df != "auto":
            raise ValueError(f"base_df={base_df!r} must be 'auto', a number > 2 or None")
        base_df = None if coords is not None else tail_df(fit.m)
    flow_md = FlowMatcher(R if zero_bias else R + 1, 0, width, s_md, device,
                          base_df=base_df, tails=coords).train(
        md[:, :R] if zero_bias else md, n_iter=n_iter, coupling=coupling, progress=progress)
    steps = fit.latents.shape[1]
    if burn_in is None:
        burn_in = min(10, steps // 4)
    z, y = fit.update_targets(burn_in)
    feats, targets, r2, bw, gains, n_pops = [], [], [], [], [], []
    pop_seed = int(s_draw.generate_state(1)[0])
    draw = LoadingDistribution(flow_md, flow_md, R, None, zero_bias)._sample_md
    pops = [md] if targets_from == "units" else [draw(N, s)
                                             for s in s_draw.spawn(int(n_draws))]
    for smp in pops:
        phi = np.tanh(z @ smp[:, :R].T + smp[:, R])
        if n_prior == "populations":
            pf, k_pop = population_features(smp[:, :R] if zero_bias else smp, seed=pop_seed)
            n_hat = ridge_n_populations(phi, y, ridge, pf)
            n_pops.append(k_pop)
        else:
            n_hat = _ridge_n(phi, y, ridge)
        pred = phi @ n_hat / phi.shape[1]
        r2.append(float(1 - ((y - pred) ** 2).sum() / ((y - y.mean(0)) ** 2).sum()))
        if smooth:
            n_hat, h, _ = smooth_targets(smp, n_hat)
            bw.append(h)
            if smooth_gain:
                n_hat, G = refit_gain(phi, y, n_hat)
                gains.append(G.tolist())
        feats.append(smp)
        targets.append(n_hat)
    flow_n = FlowMatcher(R, R + 1, width, s_n, device).train(
        np.vstack(targets), cond=np.vstack(feats), n_iter=n_iter, progress=progress)
    info = {"flow_md_loss": float(np.mean(flow_md.losses[-50:])),
            "flow_n_loss": float(np.mean(flow_n.losses[-50:])), "ridge_r2": r2,
            "burn_in": int(burn_in), "base_df": base_df,
            "targets_from": targets_from, "coupling": coupling, "smooth": bool(smooth),
            "smooth_bandwidths": bw, "smooth_gain": bool(smooth and smooth_gain),
            "smooth_gains": gains, "n_prior": n_prior, "n_populations": n_pops}
    info["zero_bias"] = bool(zero_bias)
    info["tails"] = tails
    info["tail_coords"] = None if coords is None else coords.tolist()
    info["tail_shapes"] = (None if flow_md.marginal is None
                           else flow_md.marginal.shapes.tolist())
    return LoadingDistribution(flow_md, flow_n, R, residual_sd, zero_bias), info


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
    ``distribution`` (:class:`LoadingDistribution`: ``sample``, ``log_prob``). The default
    decision (``adjacency()``) is ``lowrank``'s: a gate (front-end fits with a shared-drive
    input; a shift test — held-out chunks with their units traded, ``shift_test`` — and a
    reversal test, both at 0.05), then the weights that stand out of their bulk
    (Bonferroni 0.05).

    Defaults and cost: since session 37 the front end runs 400 L-BFGS iterations after
    Adam (``refine_iter=400``) and the targets of ``n`` take the population prior
    (``n_prior="populations"``), on session 36's flow settings (``targets_from="units",
    coupling="ot", smooth=True, flow_iter=6000``). At N = 1,000 units (4,608 s of spikes,
    one thread, ``n_restarts=1``, no gate, ``biases="auto"`` deciding ``"zero"``) a
    front-end fit costs 122–125 CPU-s against 52–56 s with Adam alone, and every restart
    and every gate fit pays it; the flows 42–50 s. Against session 36's defaults on the
    same recordings (``benchmarks/results/lrprior37.md``): the distance is lower on all
    8 preset recordings (quadstable 0.102 → 0.090 and 0.132 → 0.087, bistable 0.030 →
    0.018 and 0.075 → 0.024, limit cycle 0.072 → 0.019 and 0.081 → 0.020, ring 0.049 →
    0.017 and 0.066 → 0.022; network seeds 0 and 1) and on heavy_tailed — not tuned on —
    in the mean of 4 networks (0.141 → 0.135; one network worse, 0.122 → 0.163);
    networks of 10,000 units sampled from the flow match the data network's fixed points
    more often (quadstable seed 1 4/5 against 0/5, bistable seed 1 3/5 against 1/5,
    heavy_tailed's radii 15/80 against 2/80) and heavy_tailed's Hill index of m moves
    from +24–38 % to +13–19 % of the truth's; but the ring check against the data network
    passes 3/5 against 5/5 on seed 0, and bistable seed 1's held-out R² ≥ 0.95 in 2/5
    against 4/5. With the plain ridge (``n_prior="ridge"``) the L-BFGS front end had
    broken the seed-1 ring network (0.066 → 0.279; see ``n_prior``). The gate adds
    1 + ``n_reversals`` front-end fits (with ``shift_test="refit"`` also
    ``n_surrogates``), each with ``gate_refine_iter`` (default 0: Adam alone).

    Parameters
    ----------
    rank, alpha, bin_width, trial_steps, chunk_steps, rate_offset, rate_gain, n_restarts,
    n_iter, lr, min_spikes, seed, device
        As for ``lowrank`` (the front end).
    refine_restarts : int or None, default 1
        As for ``lowrank``: L-BFGS only on the restarts lowest after Adam (None: all, the
        default before session 40).
    refine_iter : int, default 400
        L-BFGS iterations after Adam in the estimate's front-end fit (the gate's fits:
        ``gate_refine_iter``), as for ``lowrank``; 0 before session 37. Adam stops short
        of the likelihood's optimum on large spike recordings (N = 1,000, 4,608 s, the
        six preset networks: the fit's Poisson loss 0.0006–0.0049 per bin above the true
        rates' after 300 Adam iterations, 0.00005–0.0008 after 400 more of L-BFGS).
        N = 1,000, 4,608 s of spikes (``benchmarks/results/lrquad2.md`` §5): with 150
        and ``targets_from="units"`` the networks sampled from the flow pass the
        ring check against the data network 3/3 (Adam alone 2/3) at +45 % of the fit's
        CPU time. With ``n_prior="populations"`` against Adam alone (same recordings,
        ``benchmarks/results/lrprior37.md``): quadstable 0.085 → 0.090 and 0.150 → 0.087,
        bistable 0.022 → 0.018, limit cycle 0.030 → 0.019, ring 0.023 → 0.017 and 0.032 →
        0.022, heavy_tailed mean 0.135 both (fixed-point radii 15/80 against 2/80).
    flow_iter : int, default 6000
        Flow-matching iterations of each flow (3,000 before session 36; the OT coupling
        needs the longer run, ``benchmarks/results/lrquad2.md`` §4).
    n_draws : int, default 4
        Populations drawn for the ridge targets of ``n``.
    ridge : float, default 1.0
        Ridge strength of the targets of n (relative to tr(ΦᵀΦ)/N).
    targets_from : {"flow", "units"}, default "units"
        Regressors of the ridge targets of n: populations drawn from the (m, d) flow, or
        the fitted units themselves (see :func:`fit_loading_distribution`; ``"flow"``
        before session 36).
    coupling : {"independent", "ot"}, default "ot"
        Minibatch pairing of base and data samples in the flow over ``(m, d)`` (see
        :meth:`FlowMatcher.train`; the conditional flow for ``n`` pairs independently).
        ``"ot"`` (the exact assignment within each batch of 256) straightens the paths,
        so the flow draws multimodal m-distributions' modes in less: quadstable from
        spikes (N = 1,000), fixed points of sampled networks 8 % inside the data
        network's with "independent", 4–7 % with "ot" (6,000 iterations: 2/3 within
        5 %); its distance 0.075 → 0.073 (``benchmarks/results/lrquad2.md`` §4–5). Cost:
        the (m, d) flow's CPU time ×4 (25 s against 6 s at 3,000 iterations).
        ``"independent"`` before session 36.
    smooth : bool, default True
        Smooth the ridge targets of ``n`` over ``(m, d)`` (Gaussian kernel, bandwidth by
        leave-one-unit-out error; see :func:`fit_loading_distribution`) before the
        conditional flow learns them. With ``refine_iter=400``, ``targets_from="units"``,
        ``coupling="ot"`` and ``flow_iter=6000`` it brings quadstable from spikes (N =
        1,000, 4,608 s) to 0.067 and 0.066 on two data seeds (target 0.07; without it and
        with 150 L-BFGS iterations 0.072 and 0.078), but to 0.071 on the four-preset
        confusion matrix's diagonal (other subsamples for its Sinkhorn term), and the
        sampled rings shrink (check against the data network 3/3 → 1/3;
        ``benchmarks/results/lrquad3.md``). The shrinkage is the smoother's (it flattens
        ``E[n|m, d]``; the fitted units' ring radius 0.876 against the data network's
        0.9155); ``smooth_gain`` (default) undoes it: with it the sampled rings' median
        radius is 0.89–0.93 and the ring check against the data network passes 4/5 and
        5/5 on two data seeds (without it 3/5 on seed 0), the distances unchanged
        (``benchmarks/results/lrring20.md``). ``False`` before session 36.
    smooth_gain : bool, default True
        With ``smooth``: refit an ``R × R`` gain of the smoothed targets to the fitted
        latent update (:func:`refit_gain`; see :func:`fit_loading_distribution`). False:
        session 18's smoothing alone.
    tails : {"off", "gpd", "auto"}, default "auto"
        Tail-preserving marginal map of the flow over ``(m, d)`` (see
        :func:`fit_loading_distribution`): off, every coordinate of ``m``, or those with
        heavy tails (Student-t fit, ≤ 10 degrees of freedom; :func:`tail_coords`).
        heavy_tailed from spikes (N = 1,000, 4,608 s, four networks, these defaults
        otherwise): "auto" brings the Hill index of |m| of the flow's samples to +13.6 /
        +9.8 / +3.9 / −0.6 % of the truth (with "off" +12 … +20 %), the mean distance
        from 0.135 to 0.130 and the sampled networks' held-out R² ≥ 0.95 from 66/80 to
        74/80 (``benchmarks/results/lrprior37.md``). On the four Gaussian presets (two
        networks each) no coordinate is flagged, so their estimates are those of "off"
        (``benchmarks/results/lrtime38.md``). Default "off" before session 38. Since
        the front end's L-BFGS starts from the canonical basis (``fit_lowrank``'s
        ``refine_iter``), the same four networks give +5.4 / +5.5 / +7.8 / +5.9 % of
        each network's own units (+9.3 / +6.9 / +2.8 / −4.4 % of the distribution's)
        and distances 0.045 / 0.097 / 0.037 / 0.101 (``benchmarks/results/lrcanon44.md``).
    burn_in : int or None, default None
        Samples dropped from the start of every chunk for the targets of n (None:
        ``min(10, chunk // 4)``; see :func:`fit_loading_distribution`).
    n_weight_samples : int, default 4
    residual_sd : float or None, default None
        Standard deviation of the maximum-entropy residual ``n − E[n|m, d]`` in the
        distribution and the weight samples (see :func:`fit_loading_distribution`; the
        dynamics do not determine it). None: none.
    n_surrogates : int, default 3
        Shift-surrogate refits of the front end for the default decision (with
        ``shift_test="refit"``, or where the held-out reversal test does not run), as for
        ``lowrank`` (0, or >= 2; the flows are not refitted: the gate compares the front
        end's loss, and the posterior-mean weights are then ranked as outliers of their
        bulk). See :class:`spikewire.infer.lowrank.LowRankRNN` for the decision.
    n_reversals : int, default 3
        Front-end fits of the gate's reversal test (held-out folds or reversal
        surrogates), as for ``lowrank`` (0: the shift test alone, or >= 2).
    reversal_test : {"heldout", "surrogates"}, default "heldout"
        The gate's reversal test, as for ``lowrank``.
    gate_restarts : int or None, default 1
        Restarts of each of the gate's front-end fits, as for ``lowrank`` (None:
        ``n_restarts``).
    gate_units : int or None, default 100
        The gate's front-end fits use this many of the usable units, drawn at random, as
        for ``lowrank`` (None: all).
    n_jobs : int or None, default None
        Processes for the gate's front-end fits, this one included, as for ``lowrank``
        (None: one per torch thread on recordings of at least 10⁶ samples × gate units,
        else 1; ``-1``: every available CPU; 1: every fit in this process). The workers
        run beside the flows.
    drive_timescale : float or None, default 0.1
        Sd (s) of the shared-drive input of the gate's front-end fits, as for ``lowrank``
        (> 0; None: no input).
    min_gain : float, default 0.01
        Smallest relative loss improvement on the surrogates for the gate, as for
        ``lowrank``.
    biases : {"auto", "fit", "zero"}, default "auto"
        The units' biases ``d`` in every front-end fit, as for ``lowrank``
        (:class:`~spikewire.infer.lowrank.LowRankRNN`, whose docstring gives the test
        :func:`~spikewire.infer.lowrank.bias_test` behind ``"auto"`` and its measured
        false alarms and power): ``"fit"`` fitted, ``"zero"`` held at 0, ``"auto"``
        decided per fit from its recording's counts; recorded in
        ``diagnostics["biases"]``. On the ring preset (N = 1,000, session 20's flow
        options) the decision "zero" lifts the sampled networks' pass rate against the
        truth from 57 % / 64 % to 93 % / 97 % (benchmarks/results/lrbias.md). The
        default since session 23 (benchmarks/results/lrauto.md: other presets within
        noise of "fit", heavy_tailed's distance +7.5 % / +1.5 % on two network seeds;
        "fit" on the null families' recordings, whose units differ in baseline rate).
        With ``d`` held at 0 the flow over ``(m, d)`` is a flow over ``m`` and every
        sampled unit has ``d = 0`` (:class:`LoadingDistribution`).
    n_prior : {"ridge", "populations"}, default "populations"
        Prior of the targets of ``n`` where the visited latent states leave
        ``E[n | m, d]`` undetermined (see :func:`fit_loading_distribution`): the plain
        ridge's minimum-norm solution (the only one before session 37), or a
        Gaussian-population part (affine in ``(m, d)`` within each population, BIC's
        number of populations) plus a unit-specific remainder shrunk 10× more. The same
        recordings with the ridge and with the populations, Adam-only front end: quadstable
        0.102 → 0.085 and 0.132 → 0.150, bistable 0.030 → 0.022, limit cycle 0.072 →
        0.030, ring 0.049 → 0.023 and 0.066 → 0.032, heavy_tailed mean 0.141 → 0.135; with
        400 L-BFGS iterations: quadstable 0.104 → 0.090 and 0.095 → 0.087, bistable 0.032 →
        0.018, limit cycle 0.088 → 0.019, ring 0.059 → 0.017 and 0.279 → 0.022, heavy_tailed
        0.154 → 0.163 and 0.170 → 0.167 (seeds 0, 1) (``benchmarks/results/lrprior37.md``).
    halving : bool or "estimate", default True
        Successive halving of the starts of the front-end fits, as for ``lowrank`` (the
        worse half stops after each third of ``n_iter``; the same fit whenever the winner
        leads at both checkpoints, as on every preset measured). True: the estimate's fit
        and the gate's fits; ``"estimate"``: the estimate's fit only; False: none.
    progress : bool, default False
        Progress bars (tqdm, on stderr) of each stage as for ``lowrank`` (bias test, Adam
        restarts, L-BFGS, the significance gate's fits) and of the two flows' training.
        Worth it from a few hundred units: at N = 1,000 and 400 s of spikes the call
        takes 13–18 min on two cores (``benchmarks/results/lrgate46.md``).
    gate_refine_iter : int or None, default 0
        L-BFGS iterations of the significance gate's front-end fits (the data's drive
        fit, the shift surrogates, the held-out folds), as for ``lowrank`` (None:
        ``refine_iter``, the setting before session 46). The gate compares fits made
        the same way, so its level does not depend on this; without the refinement a
        gate fit takes about half the time (the gate alone 399 → 234 s, the whole call
        897 → 755 s at the issue protocol's size). Decisions with 0 and 400, N = 1,000:
        the same on all six recordings measured (quadstable 400 s p 2.9e-4 / 4.7e-4
        and 100 s 4.1e-4 / 2.5e-4, ring 100 s 1e-4 / 1e-4: open; limit cycle and two
        heavy_tailed networks, 400 s: closed with both), and closed on 20 / 20 null
        recordings (five families × 4 seeds, 20 units × 120 s;
        ``benchmarks/results/lrgate46.md``).
    shift_test : {"auto", "refit", "heldout"}, default "auto"
        The gate's test of structure between units, as for ``lowrank``: shift surrogates
        fitted from scratch, or the held-out folds' chunks scored in pairs with about half
        their units traded (no surrogate fits; ``"auto"``: this one wherever the held-out
        reversal test runs). With it the gate opens on the limit cycle's recordings
        (N = 1,000, 400 s; closed with ``"refit"``), stays open on quadstable, bistable
        and ring, closed on heavy_tailed (``min_gain``) and on 52 null recordings
        (``benchmarks/results/lr48.md``).

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
        "residual_sd": [_LowRankBase.base_constraints["rate_offset"][0], None],
        "targets_from": [Options(("flow", "units"))],
        "coupling": [Options(("independent", "ot"))],
        "smooth": [Boolean()],
        "smooth_gain": [Boolean()],
        "tails": [Options(TAILS)],
        "n_prior": [Options(N_PRIORS)],
    }

    def __init__(self, rank: int = 2, alpha: float = 0.2, bin_width: float | None = None,
                 trial_steps: int | None = None, chunk_steps: int = 100,
                 rate_offset: float | None = None, rate_gain: float | None = None,
                 n_restarts: int = 3,
                 n_iter: int = 300, lr: float = 0.01, min_spikes: int = 1, seed=0,
                 device: str = "cpu", flow_iter: int = 6000, n_draws: int = 4,
                 ridge: float = 1.0, burn_in: int | None = None,
                 n_weight_samples: int = 4, residual_sd: float | None = None,
                 n_surrogates: int = 3, n_reversals: int = 3,
                 gate_restarts: int | None = 1, drive_timescale: float | None = 0.1,
                 min_gain: float = 0.01, targets_from: str = "units", tails: str = "auto",
                 reversal_test: str = "heldout", refine_iter: int = 400,
                 coupling: str = "ot", smooth: bool = True,
                 smooth_gain: bool = True, biases: str = "auto",
                 n_prior: str = "populations",
                 refine_restarts: int | None = REFINE_RESTARTS,
                 gate_units: int | None = GATE_UNITS, n_jobs: int | None = None,
                 halving: bool | str = HALVING, progress: bool = False,
                 gate_refine_iter: int | None = GATE_REFINE_ITER,
                 shift_test: str = "auto"):
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
        self.residual_sd = residual_sd
        self.n_surrogates = n_surrogates
        self.n_reversals = n_reversals
        self.gate_restarts = gate_restarts
        self.drive_timescale = drive_timescale
        self.min_gain = min_gain
        self.targets_from = targets_from
        self.reversal_test = reversal_test
        self.refine_iter = refine_iter
        self.refine_restarts = refine_restarts
        self.gate_units = gate_units
        self.n_jobs = n_jobs
        self.coupling = coupling
        self.tails = tails
        self.smooth = smooth
        self.smooth_gain = smooth_gain
        self.biases = biases
        self.n_prior = n_prior
        self.halving = halving
        self.progress = progress
        self.gate_refine_iter = gate_refine_iter
        self.shift_test = shift_test

    def _posterior_weights(self, fit: LowRankFit, ss: np.random.SeedSequence):
        """Flows on a front-end fit and the posterior-mean weights ``m_i·E[n_j|m_j, d_j]/N``."""
        s_flow, s_post = ss.spawn(2)
        dist, finfo = fit_loading_distribution(fit, n_iter=self.flow_iter,
                                               n_draws=self.n_draws, ridge=self.ridge,
                                               burn_in=self.burn_in,
                                               residual_sd=self.residual_sd,
                                               targets_from=self.targets_from,
                                               coupling=self.coupling,
                                               smooth=self.smooth,
                                               smooth_gain=self.smooth_gain,
                                               seed=s_flow, device=self.device,
                                               tails=self.tails, n_prior=self.n_prior,
                                               progress=self.name if self.progress else None)
        # the posterior mean leaves the zero-mean residual out (exact mean, no MC noise)
        n_post = dist.conditional_n(fit.m, fit.d, n_samples=max(16, self.n_weight_samples),
                                    seed=s_post, residual=False)
        return fit.m @ n_post.mean(0).T / fit.n_neurons, dist, finfo, n_post, s_post

    def _fit(self, ctx: FitContext) -> Estimate:
        fit, ok, info = self._front_end(ctx, halving=bool(self.halving),
                                        progress=self.progress)
        # the gate's fits run beside the flows and the posterior weights
        with self._gate_started(ctx) as gate:
            ss = self.seed if isinstance(self.seed, np.random.SeedSequence) \
                else np.random.SeedSequence(self.seed)
            J_mean, dist, finfo, n_post, s_post = self._posterior_weights(fit, ss)
            N = fit.n_neurons
            W = self._embed(J_mean, ok, ctx)
            n_draws = dist.conditional_n(fit.m, fit.d, n_samples=self.n_weight_samples,
                                         seed=s_post)
            samples = np.stack([self._embed(fit.m @ n_draws[k].T / N, ok, ctx)
                                for k in range(self.n_weight_samples)])
            info.update(finfo)
            info.update(m=fit.m, n_plain=fit.n, n_posterior_mean=n_post.mean(0), d=fit.d,
                        fitted_units=ctx.units[ok].tolist(), weight_samples=samples,
                        distribution=dist)
            fields = self._decide(ctx, J_mean, ok, fit.loss, gate)
        if "surrogate_gate" in fields:
            info["surrogate_gate"] = fields.pop("surrogate_gate")
        return ctx.estimate(self, weights=W, weight_unit="dimensionless (J = M Nᵀ/N)",
                            diagnostics=info, **fields)
