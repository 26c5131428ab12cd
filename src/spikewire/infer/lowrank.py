"""Plain low-rank RNN fit (LINT, Valente et al. 2022): the ``lowrank`` method.

The model is the low-rank rate network of :mod:`spikewire.networks.lowrank`,

    z_{t+1} = z_t + α (−z_t + (1/N) Σ_i n_i φ(m_i·z_t + d_i)),   activity_i = φ(m_i·z_t + d_i),

fitted by backpropagation through time (Adam) to the observed activity, with restarts; the
latent initial condition of every trial (or chunk of a long trial) is a free parameter. Rate
signals (Hz) are mapped to φ by ``(rate − rate_offset) / rate_gain`` and fitted by least
squares; spike trains are binned and fitted by the Poisson likelihood of the rate
``rate_offset + rate_gain · φ``. The fit is returned in a canonical latent basis (the
loadings are identified only up to an invertible map of the latent space: ``M → M A⁻¹``,
``N → N Aᵀ``, ``z → A z`` leave the dynamics unchanged): ``MᵀM / N = I`` and latents along
their principal axes.

torch is imported inside the functions only (optional extra ``spikewire[ml]``).
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from spikewire.infer import _lowrank_gate_pool as gate_pool
from spikewire.infer._lowrank_bias import BIAS_TEST_LEVEL, bias_test
from spikewire.infer._lowrank_bptt import make_objective
from spikewire.infer._params import Boolean, Interval, Options, SeedLike
from spikewire.infer._progress import progress_bar
from spikewire.infer.base import FitContext, InferenceMethod, MissingDependencyError, register
from spikewire.infer.estimate import Estimate

#: Results of :func:`bias_test` by counts (``biases="auto"``; see ``_biases``).
_BIAS_CACHE: dict = {}

__all__ = ["LowRankFit", "LowRankRNN", "fit_lowrank", "pool_trials", "recording_activity",
           "import_torch", "reverse_chunks", "shared_drive", "shift_offsets",
           "surrogate_gate", "weight_outlier_pvalues", "chunk_losses",
           "heldout_reversal_test", "swap_chunk_units", "sign_flip_test", "bias_test",
           "BIAS_TEST_LEVEL"]

#: Default ``refine_restarts`` of the ``lowrank`` and ``lowrank_flow`` methods (see
#: :func:`fit_lowrank`).
REFINE_RESTARTS: int | None = 1

#: Default ``halving`` of the ``lowrank`` and ``lowrank_flow`` methods: successive halving
#: of the starts of the estimate's front-end fit and of the gate's fits
#: (:func:`fit_lowrank`; ``"estimate"``: the estimate's fit only).
HALVING: bool = True

#: Clip of the activity before arctanh in the PCA start of :func:`fit_lowrank`.
_INIT_CLIP = 0.9999

_INSTALL = "pip install 'spikewire[ml]'   (torch==2.13.0; CPU wheels: add --index-url " \
           "https://download.pytorch.org/whl/cpu)"


def import_torch():
    """Import torch or raise :class:`MissingDependencyError` with the install command."""
    try:
        import torch
    except ImportError as err:
        raise MissingDependencyError(f"the low-rank methods need torch, which is not "
                                     f"installed; install it with `{_INSTALL}`") from err
    return torch


@dataclass
class LowRankFit:
    """A fitted low-rank network (canonical latent basis, see the module docstring).

    Attributes
    ----------
    m, n : ndarray, shape (N, R)
        Output and input loadings.
    d : ndarray, shape (N,)
        Biases.
    latents : ndarray, shape (n_trials, n_steps, R)
        Fitted latent trajectories (rolled out from the fitted initial conditions).
    alpha : float
        Δt/τ used in the fit.
    loss : float
        Final loss of the best restart (mean squared error in φ units, or mean Poisson
        negative log-likelihood per bin).
    r2 : float
        Fraction of the variance of the (for spikes: smoothed) activity explained by the
        rolled-out activity.
    restart_losses : list of float
        Final loss of every restart.
    observation : {"gaussian", "poisson"}
    b : ndarray, shape (N,) or (N, P), or None
        Weights of the input covariate (``fit_lowrank(inputs=...)``); None: no input.
        :meth:`activity` and :meth:`update_targets` leave the input out.
    biases : {"fit", "zero"}, default "fit"
        Whether ``d`` was fitted or held at 0 (``fit_lowrank(biases=...)``).
    adam_losses : list of float
        Loss of every restart after its Adam iterations, before any L-BFGS refinement
        (``fit_lowrank(refine_restarts=...)`` refines the lowest).
    """

    m: np.ndarray
    n: np.ndarray
    d: np.ndarray
    latents: np.ndarray
    alpha: float
    loss: float
    r2: float
    restart_losses: list = field(default_factory=list)
    observation: str = "gaussian"
    b: np.ndarray | None = None
    biases: str = "fit"
    adam_losses: list = field(default_factory=list)

    @property
    def n_neurons(self) -> int:
        return int(self.m.shape[0])

    @property
    def rank(self) -> int:
        return int(self.m.shape[1])

    def weights(self) -> np.ndarray:
        """``J = M Nᵀ / N`` (post × pre)."""
        return self.m @ self.n.T / self.n_neurons

    def activity(self) -> np.ndarray:
        """Fitted activity φ(m·z + d), shape (n_trials, n_steps, N)."""
        return np.tanh(self.latents @ self.m.T + self.d)

    def update_targets(self, burn_in: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Latents ``z_t`` and the regression targets ``z_t + (z_{t+1} − z_t)/α``, which equal
        ``(1/N) Σ_i n_i φ(m_i·z_t + d_i)`` under the model. Shapes (n_samples, R).

        Parameters
        ----------
        burn_in : int, default 0
            Samples dropped from the start of every trial (chunk). The fitted initial
            latents are the least constrained part of a fit: trials that start far out
            saturate φ, so their first steps fix z (and the fitted vector field there)
            poorly (on the ring preset the first step's latent error was 0.28 against
            0.02–0.04 later, measured).
        """
        if not isinstance(burn_in, int | np.integer) or burn_in < 0:
            raise ValueError(f"burn_in={burn_in!r} must be an integer >= 0")
        if burn_in > self.latents.shape[1] - 2:
            raise ValueError(f"burn_in={burn_in} leaves no latent update in trials of "
                             f"{self.latents.shape[1]} steps; use burn_in <= "
                             f"{self.latents.shape[1] - 2}")
        z = self.latents[:, int(burn_in):]
        y = z[:, :-1] + (z[:, 1:] - z[:, :-1]) / self.alpha
        return z[:, :-1].reshape(-1, self.rank), y.reshape(-1, self.rank)


def _ridge_n(phi: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """``n`` (S, R) minimising ‖y − Φ n / S‖² + λ‖n/S‖², λ = ridge · tr(ΦᵀΦ)/S."""
    S = phi.shape[1]
    G = phi.T @ phi
    lam = ridge * np.trace(G) / S + 1e-12
    if phi.shape[0] < S:     # dual form: fewer samples than units
        a = np.linalg.solve(phi @ phi.T + lam * np.eye(phi.shape[0]), y)
        return S * (phi.T @ a)
    return S * np.linalg.solve(G + lam * np.eye(S), phi.T @ y)


def _poisson_latents(Y, m, d, z, scale, rate_offset, rate_gain, n_newton: int = 20,
                     max_step: float = 1.0):
    """Per-bin maximum-likelihood latents under a Poisson observation with fixed loadings.

    Counts ``Y[k, t, i] ~ Poisson(scale[k] · (rate_offset + rate_gain · tanh(m_i·z + d_i)))``
    are independent given the latent ``z[k, t]`` (R numbers per bin), so each bin's latent
    is a small concave-in-practice problem solved by damped Newton steps (Fisher scoring),
    started from ``z``. Returns an array shaped like ``z``.
    """
    K, T, R = z.shape
    z = z.reshape(-1, R).copy()
    Yf = Y.reshape(-1, Y.shape[-1])
    sc = np.repeat(np.asarray(scale, dtype=float), T)[:, None]
    for _ in range(int(n_newton)):
        a = np.tanh(z @ m.T + d)
        rate = np.maximum(rate_offset + rate_gain * a, 1e-9)
        lam = sc * rate
        g1 = rate_gain * (1 - a ** 2)                       # d rate / d (m·z)
        w = (Yf / lam - 1.0) * sc * g1                      # d loglik / d (m·z)
        grad = w @ m                                        # (bins, R)
        fisher = np.einsum("bi,ir,is->brs", sc * g1 ** 2 / rate, m, m)
        step = np.linalg.solve(fisher + 1e-9 * np.eye(R), grad[..., None])[..., 0]
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        z += step * np.minimum(1.0, max_step / np.maximum(norm, 1e-300))
        if norm.max() < 1e-8:
            break
    return z.reshape(K, T, R)


def _canonical(m, n, z):
    """Basis with MᵀM/N = I and latents along their principal axes."""
    N = m.shape[0]
    C = m.T @ m / N
    evals, evecs = np.linalg.eigh(C)
    if evals.min() <= 1e-12 * max(evals.max(), 1e-300):
        return m, n, z
    W = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    Winv = evecs @ np.diag(1 / np.sqrt(evals)) @ evecs.T
    m, n, z = m @ Winv, n @ W, z @ W
    flat = z.reshape(-1, z.shape[-1])
    _, _, Vt = np.linalg.svd(flat - flat.mean(0), full_matrices=False)
    Q = Vt.T
    # fix the sign of each axis (largest-|m| entry positive) for reproducible output
    mq = m @ Q
    Q = Q * np.sign(mq[np.argmax(np.abs(mq), axis=0), np.arange(Q.shape[1])] + 1e-300)
    return m @ Q, n @ Q, z @ Q


def _check_shapes(Y: np.ndarray, rank: int) -> None:
    if Y.ndim != 3:
        raise ValueError(f"activity must have shape (n_trials, n_steps, n_units), got {Y.shape}")
    K, T, N = Y.shape
    if not isinstance(rank, int | np.integer) or rank < 1:
        raise ValueError(f"rank={rank!r} must be an integer >= 1")
    if rank > N:
        raise ValueError(f"rank={rank} is larger than the number of units ({N}); a rank-R "
                         f"network needs at least R units: use rank <= {N}")
    if T < rank + 1:
        raise ValueError(f"trials of {T} steps are too short for rank={rank}: each trial "
                         f"(or chunk) needs at least rank + 1 = {rank + 1} samples; use longer "
                         f"trials, larger chunk_steps or a smaller rank")
    if not np.all(np.isfinite(Y)):
        raise ValueError("activity contains non-finite values")


def fit_lowrank(activity, rank: int = 2, *, alpha: float = 0.2, observation: str = "gaussian",
                rate_offset: float = 10.0, rate_gain: float = 10.0, bin_width: float = 0.01,
                exposure=1.0, denoise_rank: int | None = None, n_restarts: int = 3,
                poisson_start: bool = True,
                n_iter: int = 300, lr: float = 0.01, refine_iter: int = 0,
                refine_restarts: int | None = None, halving: bool = False, seed=0,
                device: str = "cpu", inputs=None, biases: str = "fit",
                progress: str | None = None) -> LowRankFit:
    """Fit a rank-``rank`` RNN to activity by BPTT with restarts (LINT).

    Parameters
    ----------
    activity : ndarray, shape (n_trials, n_steps, N)
        ``observation="gaussian"``: activities φ ∈ (−1, 1); ``"poisson"``: spike counts per
        bin of ``bin_width`` s.
    rank : int, default 2
    alpha : float, default 0.2
        Δt/τ of the model (one sample = Δt).
    observation : {"gaussian", "poisson"}
    rate_offset, rate_gain : float, default 10, 10
        Rate map of the Poisson observation, Hz.
    bin_width : float, default 0.01
        Bin of the counts in s (Poisson only).
    exposure : float or array_like of shape (n_trials,), default 1
        Poisson only: trials of repeated conditions pooled by :func:`pool_trials`, i.e. the
        counts of trial k are the sums over ``exposure[k]`` repeats that start from the same
        initial latent. The expected count is then ``exposure · bin_width · rate``; for the
        deterministic model this is exactly the likelihood of the separate repeats with one
        shared initial latent (the summed counts are sufficient), so the cost of the fit does
        not grow with the number of repeats.
    denoise_rank : int or None, default None
        Poisson only: the PCA start takes arctanh of the smoothed rates, which from spikes
        are noisy (a few counts per smoothing window) and, clipped, biased. The activity of
        a rank-R network lies close to a low-dimensional subspace over units and the
        Poisson noise does not, so the start keeps only the top ``denoise_rank``
        principal components of the smoothed rate estimate; None: ``4 · rank``; 0: off.
        N = 200, 288 s of spikes at 5–20 Hz, 300 iterations: final Poisson loss lower on
        all of quadstable, bistable and ring, fitted-m error 0.026/0.019/0.013 → 0.022/
        0.014/0.009 (``benchmarks/results/lowrank5.md``).
    n_restarts : int, default 3
        Restart 0 starts from PCA of the activity with ``n`` from the ridge regression of the
        latent update; the others perturb that start (noise of sd 0.5 on every loading).
    poisson_start : bool, default True
        Poisson only: one more restart (after the ``n_restarts``) from the per-bin
        maximum-likelihood latents under the PCA start's loadings (damped Fisher scoring
        per bin; ``n`` from the ridge regression of their update), the restart with the
        lowest final loss kept. The PCA start smooths the rates in time (2 bins), which
        flattens the trials' first, fastest steps and slows the start's dynamics; ring,
        N = 1,000, 4,608 s of spikes: fitted initial latents at 0.70 of the true radius and
        the fitted relaxation to the ring 37 % slower than the truth's, Poisson loss per
        bin 0.0040 above the true rates' (smoothed start) against 0.0014 (this start;
        initial radius 0.93 of the truth's). On quadstable the smoothed start won
        (``benchmarks/results/lrring.md``).
    n_iter : int, default 300
        Adam iterations per restart (full batch).
    lr : float, default 0.01
        Adam learning rate.
    refine_iter : int, default 0
        L-BFGS iterations (strong-Wolfe line search, full batch) after Adam in every
        restart; 0: none. Adam stops short of the likelihood's optimum on large spike
        recordings: ring, N = 1,000, 4,608 s of spikes, 300 Adam iterations: Poisson loss
        per bin 0.0040 above that of the true network's rates (7,000 nats in all), fitted
        initial latents at 0.70 of the true radius and the ring's radius 6 % short;
        150 L-BFGS iterations (30 s) closed 85 % of that gap (radii 0.86 and 0.996 of the
        truth's; ``benchmarks/results/lrring.md``). Each refined start is first moved to
        the canonical latent basis (the same network and loss): L-BFGS, unlike Newton's
        method, depends on the basis and converges further in this one (heavy_tailed,
        N = 1,000, 4,608 s of spikes, four networks: loss per bin 0.5–1.3e-3 above the
        true network's before, −0.07–0.24e-3 after; the fitted loadings' Hill tail index
        6.6–11.5 % above that of the network's own units before, 4.3–7.6 % after; the
        loss is lower on eight Gaussian-preset recordings too;
        ``benchmarks/results/lrcanon44.md``).
    refine_restarts : int or None, default None
        L-BFGS refines only this many restarts, those with the lowest loss after Adam
        (``LowRankFit.adam_losses``); the others keep their Adam result. None: every
        restart. With 1 the refinement costs one restart's instead of all.
    halving : bool, default False
        Successive halving of the starts' Adam iterations (from 3 iterations and 2
        starts on): after each third of ``n_iter`` only the better half of the starts
        still running (rounded up; by the loss of their last step, ties in start order)
        go on; the others stop there (their ``adam_losses`` entry is that loss) and can
        neither be refined nor win.
        Four starts take 4 + 2 + 1 thirds of ``n_iter`` instead of 12: 42 % fewer Adam
        evaluations. A start that goes on follows exactly the path it has without
        halving (every start has its own optimiser), so the fit is the one without
        halving whenever the final winner is still among the better half at both
        checkpoints (``benchmarks/results/lrtime42.md``).
    seed : int or SeedSequence, default 0
    device : {"cpu", "cuda"}
    inputs : array_like, shape (n_trials, n_steps, N) or (n_trials, n_steps, N, P), optional
        Per-unit input covariates ``u_i(t)`` (dimensionless; e.g. :func:`shared_drive`)
        entering every unit's input with fitted weights ``b_i``: the unit's activity is
        ``φ(m_i·z_t + b_i·u_i(t) + d_i)`` in the observation; the latent update keeps
        ``φ(m_i·z_t + d_i)``. (Fed into the latent update, a leave-one-out input of unit j
        would carry unit i's own smoothed spikes back to unit i through the latent.)
        ``b`` starts at the least-squares regression of the start's arctanh
        target on ``u``, which is removed before the PCA start. None (default): no input,
        the fit is exactly the one without this argument.
    biases : {"fit", "zero"}, default "fit"
        ``"fit"``: the biases ``d`` are fitted; ``"zero"``: held at 0 (the field
        ``(1/N) Σ n_i φ(m_i·z)`` is then odd, ``F(−z) = −F(z)``, as in every preset of
        :mod:`spikewire.networks.lowrank`). :func:`bias_test` decides between them from
        spike counts (the methods' ``biases="auto"``).
    progress : str or None, default None
        Label of progress bars over the Adam steps (all restarts) and the L-BFGS loss
        evaluations (at most ``refine_iter`` · 5/4 per refined restart, torch's default
        ``max_eval``); None: none.

    Returns
    -------
    LowRankFit
        ``b`` holds the fitted input weights, shape (N,) or (N, P) like ``inputs`` (None
        without ``inputs``).

    Raises
    ------
    ValueError
        Rank larger than the number of units, trials too short for the rank, activities
        outside (−1, 1) for the Gaussian observation.
    FloatingPointError
        If the loss becomes non-finite (lower ``lr``).
    MissingDependencyError
        If torch is not installed.
    """
    torch = import_torch()
    Y = np.asarray(activity, dtype=float)
    _check_shapes(Y, rank)
    if observation not in ("gaussian", "poisson"):
        raise ValueError(f"observation={observation!r} must be 'gaussian' or 'poisson'")
    if biases not in ("fit", "zero"):
        raise ValueError(f"biases={biases!r} must be 'fit' (fitted biases d) or 'zero' "
                         f"(d = 0); decide with bias_test")
    K, T, N = Y.shape
    expo = np.broadcast_to(np.asarray(exposure, dtype=float), (K,)) if np.ndim(exposure) == 0 \
        else np.asarray(exposure, dtype=float)
    if expo.shape != (K,) or not np.all(np.isfinite(expo)) or np.any(expo <= 0):
        raise ValueError(f"exposure must be a positive number or {K} positive numbers (one "
                         f"per trial: the repeats pooled into it), got {exposure!r}")
    if not isinstance(refine_iter, int | np.integer) or refine_iter < 0:
        raise ValueError(f"refine_iter={refine_iter!r} must be an integer >= 0 (L-BFGS "
                         f"iterations after Adam; 0: none)")
    if not isinstance(halving, bool | np.bool_):
        raise ValueError(f"halving={halving!r} must be True or False")
    if refine_restarts is not None and not (isinstance(refine_restarts, int | np.integer)
                                            and refine_restarts >= 1):
        raise ValueError(f"refine_restarts={refine_restarts!r} must be an integer >= 1 (the "
                         f"restarts with the lowest loss after Adam that L-BFGS refines) "
                         f"or None (all)")
    if observation == "gaussian" and np.any(expo != 1):
        raise ValueError("exposure applies to spike counts (observation='poisson') only; "
                         "average repeated rate trials instead")
    if observation == "gaussian":
        if np.any(np.abs(Y) >= 1):
            raise ValueError(f"activities must lie in φ = tanh's range (−1, 1); the largest "
                             f"|φ| is {np.abs(Y).max():.3g}: check the rate map (rate_offset, "
                             f"rate_gain)")
        target = init_target = Y
    else:
        if np.any(Y < 0):
            raise ValueError("spike counts must be >= 0")
        from scipy.ndimage import gaussian_filter1d

        rate = gaussian_filter1d(Y / (bin_width * expo[:, None, None]), 2.0, axis=1,
                                 mode="nearest")
        lin = (rate - rate_offset) / rate_gain
        target = np.clip(lin, -0.95, 0.95)
        k = 4 * rank if denoise_rank is None else int(denoise_rank)
        if k < 0:
            raise ValueError(f"denoise_rank={denoise_rank!r} must be >= 0 (0: no denoising)")
        if 0 < k < min(N, K * T):
            # top k components of the (unbiased, unclipped) rate estimate, then the clip
            flat = lin.reshape(-1, N)
            mu = flat.mean(0)
            U_, s_, Vt_ = np.linalg.svd(flat - mu, full_matrices=False)
            den = (U_[:, :k] * s_[:k]) @ Vt_[:k] + mu
            init_target = np.clip(den, -0.95, 0.95).reshape(K, T, N)
        else:
            init_target = target
    # ---- PCA + ridge start: arctanh(φ) = m·z + d is linear in z, so PCA of it is exact
    # for noise-free activity; the clip bounds it for saturated units. At 0.995 (arctanh
    # 3.0) it compressed the largest loadings of the heavy-tailed preset (Hill index of
    # the fitted m 2.88 against the true 2.54); at 0.9999 (arctanh 4.95): 2.64 (N = 1000,
    # benchmarks/results/lowrank3.md)
    X = np.arctanh(np.clip(init_target, -_INIT_CLIP, _INIT_CLIP)).reshape(-1, N)
    U_in = b0 = None
    if inputs is not None:
        U_in = np.asarray(inputs, dtype=float)
        if U_in.ndim == 3:
            U_in = U_in[..., None]
        if U_in.shape[:3] != Y.shape or U_in.ndim != 4 or not np.all(np.isfinite(U_in)):
            raise ValueError(f"inputs must be finite with the activity's shape {Y.shape} "
                             f"(one covariate per trial, step and unit), optionally with a "
                             f"last axis of P covariates, got shape {np.shape(inputs)}")
        P = U_in.shape[3]
        uf = U_in.reshape(-1, N, P)
        uc = uf - uf.mean(0)
        Xc = X - X.mean(0)
        b0 = np.zeros((N, P))
        for i in range(N):        # least squares of the arctanh target on unit i's inputs
            b0[i] = np.linalg.lstsq(uc[:, i], Xc[:, i], rcond=None)[0]
        X = X - np.einsum("snp,np->sn", uf, b0)
    # with biases="zero" the latents' mean takes up the mean of the arctanh target
    d0 = X.mean(0) if biases == "fit" else np.zeros(N)
    U, s, Vt = np.linalg.svd(X - d0, full_matrices=False)
    scale = np.sqrt(X.shape[0])
    m0 = Vt[:rank].T * s[:rank] / scale
    z_all = (U[:, :rank] * scale).reshape(K, T, rank)

    def start_n(z_all):
        phi = np.tanh(z_all[:, :-1].reshape(-1, rank) @ m0.T + d0)
        y = (z_all[:, :-1] + (z_all[:, 1:] - z_all[:, :-1]) / alpha).reshape(-1, rank)
        return _ridge_n(phi, y, 1e-3)

    n0 = start_n(z_all)
    starts = [(n0, z_all[:, 0])] * int(n_restarts)
    if observation == "poisson" and poisson_start:
        # the smoothed start's latents are biased at the trials' ends (the smoothing pads
        # a fast transient with its first value) and its dynamics slowed; per-bin maximum-
        # likelihood latents under the start's loadings are not (but noisier)
        z_ml = _poisson_latents(Y, m0, d0, z_all, expo * bin_width, rate_offset, rate_gain)
        starts.append((start_n(z_ml), z_ml[:, 0]))
    ss = np.random.SeedSequence(seed) if not isinstance(seed, np.random.SeedSequence) else seed
    rng = np.random.default_rng(ss)
    dtype = torch.float64 if device == "cpu" else torch.float32
    tY = torch.as_tensor(Y, dtype=dtype, device=device)
    tT = torch.as_tensor(target, dtype=dtype, device=device)
    tE = torch.as_tensor(expo[:, None, None] * bin_width, dtype=dtype, device=device)
    tU = None if U_in is None else torch.as_tensor(U_in, dtype=dtype, device=device)
    var_tot = float(((target - target.mean(axis=(0, 1))) ** 2).sum())
    # loss and gradient by the hand-written BPTT (the rollout below, differentiated;
    # 5.6x faster than autograd at K = 400, T = 100, N = 1,000: benchmarks/results/lrtime38.md)
    objective = make_objective(torch, tY, tE, tU, alpha=alpha, observation=observation,
                               rate_offset=rate_offset, rate_gain=rate_gain)

    def rollout(M, Nl, d, z0, B):
        z, zs = z0, [z0]
        for _ in range(T - 1):
            z = z + alpha * (-z + torch.tanh(z @ M.T + d) @ Nl / N)
            zs.append(z)
        Z = torch.stack(zs, 1)
        x = Z @ M.T + d
        return Z, torch.tanh(x if B is None else x + (tU * B).sum(-1))

    def loss_fn(pred):
        if observation == "gaussian":
            return ((pred - tY) ** 2).mean()
        lam = torch.clamp((rate_offset + rate_gain * pred) * tE, min=1e-8)
        return (lam - tY * torch.log(lam)).mean()

    runs = []
    for r, (n_start, z_start) in enumerate(starts):
        noise = 0.0 if r == 0 or r == int(n_restarts) else 0.5
        init = [m0 + noise * rng.standard_normal(m0.shape),
                n_start + noise * rng.standard_normal(n_start.shape), d0, z_start]
        if tU is not None:
            init.append(b0)
        params = [torch.tensor(a, dtype=dtype, device=device,
                               requires_grad=biases == "fit" or j != 2)
                  for j, a in enumerate(init)]
        M, Nl, d, z0 = params[:4]
        B = params[4] if tU is not None else None
        params = [q for q in params if q.requires_grad]
        opt = torch.optim.Adam(params, lr=lr)

        def backward(where, fix, r=r, M=M, Nl=Nl, d=d, z0=z0, B=B):
            val = objective(M, Nl, d, z0, B)
            if not torch.isfinite(val):
                raise FloatingPointError(f"lowrank: the loss became non-finite {where} of "
                                         f"restart {r}; {fix} or check the data for outliers")
            val.backward()
            return val

        runs.append((params, (M, Nl, d, z0, B), backward, opt))
    # Adam, start after start; with halving in thirds of n_iter, the worse half of the
    # starts stopping after each of the first two
    n_iter = int(n_iter)
    ends = [n_iter * k // 3 for k in (1, 2, 3)] if halving and len(runs) > 1 and n_iter >= 3 \
        else [n_iter]
    spans = list(zip([0] + ends[:-1], ends, strict=True))
    running = [-(-len(runs) // 2 ** k) for k in range(len(spans))]   # starts per span
    alive, last = list(range(len(runs))), [np.inf] * len(runs)
    adam_losses: list = [None] * len(runs)
    bar = progress_bar(progress, sum((e - b) * c for (b, e), c in zip(spans, running,
                                                                       strict=True)),
                       f"Adam, {len(starts)} start{'s' * (len(starts) > 1)}"
                       + (" (successive halving)" if len(spans) > 1 else ""))
    for k, (begin, end) in enumerate(spans):
        for r in alive:
            _, _, backward, opt = runs[r]
            for it in range(begin, end):
                opt.zero_grad()
                val = backward(f"at iteration {it}", f"lower lr (now {lr})")
                opt.step()
                bar.update()
            last[r] = float(val.detach())
        if k < len(spans) - 1:      # halve: the better half by the last step's loss
            ranked = sorted(alive, key=lambda r: (np.nan_to_num(last[r], nan=np.inf), r))
            keep = -(-len(alive) // 2)
            for r in ranked[keep:]:
                adam_losses[r] = last[r]
            alive = sorted(ranked[:keep])
    bar.close()
    for r in alive:
        _, (M, Nl, d, z0, B), _, _ = runs[r]
        with torch.no_grad():
            adam_losses[r] = float(objective(M, Nl, d, z0, B))
    if refine_restarts is None:
        refined = alive
    else:       # the restarts with the lowest loss after Adam (stable order on ties)
        refined = sorted(alive, key=lambda r: (np.nan_to_num(adam_losses[r], nan=np.inf),
                                               r))[:int(refine_restarts)]
    if refine_iter:
        bar = progress_bar(progress, len(refined) * (int(refine_iter) * 5 // 4),
                           "L-BFGS evaluations (at most)")
        for r in sorted(int(k) for k in refined):
            params, (M, Nl, d, z0, B), backward, _ = runs[r]
            # the same network in the canonical latent basis: the loss is unchanged, but
            # L-BFGS (unlike Newton) depends on the basis and converges further in this one
            with torch.no_grad():
                Zr, _ = rollout(M, Nl, d, z0, B)
                mc, nc, zc = _canonical(*(q.detach().cpu().numpy() for q in (M, Nl, Zr)))
                for q, v in ((M, mc), (Nl, nc), (z0, zc[:, 0])):
                    q.copy_(torch.as_tensor(v, dtype=q.dtype, device=q.device))
            lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=int(refine_iter),
                                      history_size=20, line_search_fn="strong_wolfe",
                                      tolerance_grad=1e-12, tolerance_change=1e-15)

            def closure(lbfgs=lbfgs, backward=backward):
                lbfgs.zero_grad()
                bar.update()
                return backward("in the L-BFGS refinement", "use refine_iter=0")

            lbfgs.step(closure)
        bar.close()
    best, losses = None, []
    for r, (_, (M, Nl, d, z0, B), _, _) in enumerate(runs):
        with torch.no_grad():
            Z, pred = rollout(M, Nl, d, z0, B)
            final = float(loss_fn(pred))
        if not np.isfinite(final):
            raise FloatingPointError(f"lowrank: non-finite final loss in restart {r}; lower "
                                     f"lr (now {lr})")
        losses.append(final)
        if r in alive and (best is None or final < best[0]):
            best = (final, M.detach().cpu().numpy(), Nl.detach().cpu().numpy(),
                    d.detach().cpu().numpy(), Z.cpu().numpy(), float(((pred - tT) ** 2).sum()),
                    None if B is None else B.detach().cpu().numpy().squeeze(-1)
                    if np.ndim(inputs) == 3 else B.detach().cpu().numpy())
    final, m, n, d, Z, ss_res, b = best
    m, n, Z = _canonical(m, n, Z)
    r2 = 1.0 - ss_res / var_tot if var_tot > 0 else float("nan")
    return LowRankFit(m=m, n=n, d=d, latents=Z, alpha=float(alpha), loss=final, r2=float(r2),
                      restart_losses=losses, observation=observation, b=b, biases=biases,
                      adam_losses=adam_losses)


def pool_trials(counts, conditions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum the spike counts of trials that repeat the same condition (initial latent).

    For a deterministic low-rank network, repeats of one initial condition share their
    rates, so their summed counts are a sufficient statistic of the Poisson likelihood:
    ``fit_lowrank(pooled, observation="poisson", exposure=exposure)`` fits the same model
    as the separate repeats with one initial latent per condition, at the cost of one
    trial per condition.

    Parameters
    ----------
    counts : array_like, shape (n_trials, n_steps, N)
        Spike counts per bin, trials in any order.
    conditions : array_like, shape (n_trials,)
        Condition label of every trial (any hashable numbers).

    Returns
    -------
    pooled : ndarray, shape (n_conditions, n_steps, N)
        Summed counts, conditions in sorted label order.
    exposure : ndarray, shape (n_conditions,)
        Repeats pooled into each condition.
    labels : ndarray, shape (n_conditions,)
        The sorted condition labels.
    """
    Y = np.asarray(counts, dtype=float)
    c = np.asarray(conditions)
    if Y.ndim != 3:
        raise ValueError(f"counts must have shape (n_trials, n_steps, N), got {Y.shape}")
    if c.shape != (Y.shape[0],):
        raise ValueError(f"conditions must have one label per trial ({Y.shape[0]}), got "
                         f"shape {c.shape}")
    labels, inverse = np.unique(c, return_inverse=True)
    pooled = np.zeros((labels.size,) + Y.shape[1:])
    np.add.at(pooled, inverse, Y)
    return pooled, np.bincount(inverse, minlength=labels.size).astype(float), labels


def _zscore_rows(u: np.ndarray, scale: float) -> np.ndarray:
    u = u - u.mean(1, keepdims=True)
    sd = u.std(1, keepdims=True)
    return np.divide(u, sd, out=np.zeros_like(u), where=sd > 1e-12 * (1.0 + scale))


#: Smoothing sds of the shared-drive inputs relative to ``drive_timescale``.
DRIVE_SCALES = (1.0 / 3.0, 1.0, 4.0)


def shared_drive(X, step: float, timescale: float) -> np.ndarray:
    """Leave-one-out population covariates of every unit: the shared-drive inputs.

    ``v_i^σ(t)`` is the mean of the *other* units' series smoothed by a Gaussian of sd σ
    (two-sided, edges reflected). The inputs of unit ``i`` are four z-scored series (per
    unit; all zero when constant or for a single unit): ``v_i`` at σ = ``timescale``/3,
    ``timescale`` and 4·``timescale`` (:data:`DRIVE_SCALES`: fast transitions of shared
    states, and slow drives with less counting noise) and the square of the middle one
    (a multiplicative drive, ``exp(βu)``, is not linear in φ). Leaving unit ``i`` out keeps
    its own spikes from predicting themselves. A drive shared by the units is what a
    low-rank RNN without input can only explain as recurrent structure; for low-rank
    networks with centred loadings the population mean carries little of the latent, so
    the inputs do not take over the recurrent structure (``benchmarks/results/lrcomod.md``).

    Parameters
    ----------
    X : array_like, shape (n_units, n_samples)
        Binned counts or activities, one row per unit.
    step : float
        Sample step in s (> 0).
    timescale : float
        The middle smoothing sd in s (> 0).

    Returns
    -------
    ndarray, shape (n_units, n_samples, 4)
    """
    from scipy.ndimage import gaussian_filter1d

    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] < 1:
        raise ValueError(f"shared_drive needs X of shape (n_units, n_samples), got {X.shape}")
    if not (np.isfinite(step) and step > 0 and np.isfinite(timescale) and timescale > 0):
        raise ValueError(f"shared_drive needs step > 0 and timescale > 0 (s), got "
                         f"{step!r} and {timescale!r}")
    n = X.shape[0]
    if n < 2:
        return np.zeros(X.shape + (len(DRIVE_SCALES) + 1,))
    loo = (X.sum(0)[None, :] - X) / (n - 1)
    scale = float(np.abs(loo).max())
    v = [_zscore_rows(gaussian_filter1d(loo, k * timescale / step, axis=1, mode="reflect"),
                      scale) for k in DRIVE_SCALES]
    v.insert(2, _zscore_rows(v[1] ** 2, 1.0))
    return np.stack(v, -1)


def recording_activity(rec, *, trial_steps, chunk_steps, bin_width, rate_offset, rate_gain,
                       units_ok=None, surrogate_rng=None, drive_timescale=None
                       ) -> tuple[np.ndarray, str, float, np.ndarray | None]:
    """Cut a recording into trials (and chunks) for :func:`fit_lowrank`.

    Parameters
    ----------
    surrogate_rng : numpy.random.Generator, optional
        Given: a shift surrogate, every (kept) unit's binned series circularly shifted by
        its own offset (:func:`shift_offsets`) before the cut. None: the recording as it is.
    drive_timescale : float or None, default None
        Given (s): also the shared-drive inputs :func:`shared_drive` of the recording, cut
        the same way (a last axis of 4 inputs); in a shift surrogate unit ``i``'s inputs
        are computed *before* the shift and shifted with the unit, so each unit keeps its
        relation to the shared drive and loses only its alignment with the other units.

    Returns
    -------
    activity : ndarray, shape (n_chunks, steps, n_units)
        φ (rate signals) or counts (spikes).
    observation : {"gaussian", "poisson"}
    step : float
        Sample step in s.
    inputs : ndarray, shape (n_chunks, steps, n_units, 4), or None
        The shared-drive inputs (None without ``drive_timescale``).
    """
    from spikewire.simulate.lowrank import rates_to_activity

    if rec.spikes is not None:
        X = rec.spikes.binned(bin_width)
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
        obs, step = "poisson", float(bin_width)
    else:
        X = rates_to_activity(rec.signals, rate_offset, rate_gain)
        obs, step = "gaussian", 1.0 / float(rec.signal_rate)
    if units_ok is not None:
        X = X[np.asarray(units_ok)]
    U = None if drive_timescale is None else shared_drive(X, step, float(drive_timescale))
    if surrogate_rng is not None:
        shifts = shift_offsets(X.shape[0], X.shape[1], surrogate_rng)
        X = np.stack([np.roll(x, int(k)) for x, k in zip(X, shifts, strict=True)])
        if U is not None:
            U = np.stack([np.roll(x, int(k), axis=0) for x, k in zip(U, shifts, strict=True)])
    if trial_steps is None:
        trial_steps = next((h["trial_steps"] for h in reversed(rec.history)
                            if isinstance(h, dict) and "trial_steps" in h), X.shape[1])
    trial_steps = int(trial_steps)
    n_trials = X.shape[1] // trial_steps
    if n_trials < 1:
        raise ValueError(f"trial_steps={trial_steps} is longer than the recording "
                         f"({X.shape[1]} samples); use trial_steps <= {X.shape[1]}")
    c = min(int(chunk_steps), trial_steps)
    per = trial_steps // c

    def cut(A):      # (units, samples, ...) -> (chunks, steps, units, ...)
        rest = A.shape[2:]
        A = A[:, :n_trials * trial_steps].reshape((A.shape[0], n_trials, trial_steps) + rest)
        A = np.moveaxis(A, 0, 2)
        return A[:, :per * c].reshape((n_trials * per, c, A.shape[2]) + rest)

    return cut(X), obs, step, None if U is None else cut(U)


def shift_offsets(n_units: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Circular offsets (samples) of a shift surrogate: unit ``i`` is shifted by
    ``⌊(π_i + u) · T / n⌋`` with π a random permutation of ``0 … n−1`` and one ``u ~ U(0, 1)``.

    Any two units are then moved against each other by at least ``⌊T / n⌋ − 1`` samples
    (T = ``n_samples``, n = ``n_units``), far beyond the model's time constant in any
    recording the fit can use (20 units, 60 s in 10-ms bins: ≥ 299 samples = 3 s against
    τ = 50 ms), so every interaction between units is broken while each unit keeps its
    rate, its autocorrelation and its spike count.
    """
    if n_units < 1 or n_samples < 1:
        raise ValueError(f"shift_offsets needs n_units >= 1 and n_samples >= 1, got "
                         f"{n_units}, {n_samples}")
    pos = (rng.permutation(n_units) + rng.random()) * (n_samples / n_units)
    return np.floor(pos).astype(np.int64) % n_samples


def reverse_chunks(activity, inputs, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """A reversal surrogate: half the chunks, drawn at random, reversed in time (all units
    and their inputs together).

    The low-rank fit treats chunks as independent (a free initial latent each), so within
    a chunk it sees the direction of time. If the recording is a stationary process whose
    law is invariant under time reversal (independent Poisson or renewal units, units
    modulated by a shared Gaussian or two-state Markov drive: the null families), reversing
    chunks does not change the law of what the fit sees (up to the chunks' edges), so the
    data and its reversal surrogates are close to exchangeable: the data shares half its
    chunks' directions with every surrogate, as two surrogates do on average. The
    relaxation of low-rank dynamics from initial states to their attractors is not
    reversible, so the fit explains the data better than its surrogates. Exactly half
    (⌊C/2⌋ or ⌈C/2⌉ at random for an odd number C of chunks): a random number of reversed
    chunks would spread the surrogates' losses and cost power.

    Parameters
    ----------
    activity : array_like, shape (n_chunks, n_steps, n_units)
    inputs : array_like, shape (n_chunks, n_steps, n_units, ...), or None
        Reversed with the activity (the shared-drive inputs are symmetric smoothings, so a
        reversed chunk's inputs are those of the reversed series up to the chunk's edges).
    rng : numpy.random.Generator

    Returns
    -------
    activity, inputs : ndarray (inputs None when None)
    reversed : ndarray of bool, shape (n_chunks,)
        The chunks that were reversed.
    """
    Y = np.array(activity, dtype=float)
    if Y.ndim != 3:
        raise ValueError(f"reverse_chunks needs activity of shape (n_chunks, n_steps, "
                         f"n_units), got {Y.shape}")
    C = Y.shape[0]
    k = C // 2 + int(C % 2 == 1 and rng.random() < 0.5)
    mask = np.zeros(C, dtype=bool)
    mask[rng.permutation(C)[:k]] = True
    Y[mask] = Y[mask, ::-1]
    U = _chunk_inputs(inputs, Y.shape, "reverse_chunks")
    if U is not None:
        U[mask] = U[mask, ::-1]
    return Y, U, mask


def _chunk_inputs(inputs, shape: tuple, name: str) -> np.ndarray | None:
    """A float copy of chunked inputs (None stays None) whose first three axes must be the
    activity's ``shape``; ``name`` is the caller named in the error."""
    if inputs is None:
        return None
    U = np.array(inputs, dtype=float)
    if U.shape[:3] != shape:
        raise ValueError(f"{name} needs inputs with the activity's first three axes "
                         f"{shape}, got {U.shape}")
    return U


def chunk_losses(fit: LowRankFit, activity, inputs=None, *, observation: str = "gaussian",
                 rate_offset: float = 10.0, rate_gain: float = 10.0, bin_width: float = 0.01,
                 n_iter: int = 60, lr: float = 0.05, device: str = "cpu") -> np.ndarray:
    """Loss of a fitted low-rank model on every chunk of new activity, each chunk with its
    own best initial latent (the loadings, biases and input weights of ``fit`` fixed).

    The initial latent of chunk c is chosen among candidate states — 64 of the fit's own
    latent states (evenly spaced over its chunks and steps) and 0 — by the loss of the
    rollout from each, then refined by ``n_iter`` Adam steps (learning rate ``lr``) on
    that chunk's loss alone. Every chunk is treated by the same deterministic procedure,
    independently of the others, so two chunks that are equal in law (a chunk and its
    time reversal, for a reversible process) have losses equal in law: the basis of
    :func:`heldout_reversal_test`.

    Parameters
    ----------
    fit : LowRankFit
        A fit of :func:`fit_lowrank` (with ``inputs`` if it was fitted with them).
    activity : array_like, shape (n_chunks, n_steps, N)
        Activities φ (``observation="gaussian"``) or spike counts per bin (``"poisson"``)
        of the fit's N units.
    inputs : array_like, shape (n_chunks, n_steps, N[, P]), optional
        The units' input covariates; required if and only if the fit has input weights.
    observation, rate_offset, rate_gain, bin_width
        As for :func:`fit_lowrank` (rate map in Hz, bin in s).
    n_iter : int, default 60
        Adam steps on the initial latents (0: the best candidate only).
    lr : float, default 0.05
    device : {"cpu", "cuda"}

    Returns
    -------
    ndarray, shape (n_chunks,)
        Mean loss per bin and unit of every chunk (the units of ``fit.loss``: Poisson
        negative log-likelihood without the ``log y!`` term, or squared error).
    """
    torch = import_torch()
    Y = np.ascontiguousarray(activity, dtype=float)
    if Y.ndim != 3 or Y.shape[2] != fit.n_neurons or Y.shape[1] < 1 or Y.shape[0] < 1:
        raise ValueError(f"chunk_losses needs activity of shape (n_chunks, n_steps, "
                         f"{fit.n_neurons}) for this fit, got {Y.shape}")
    if observation not in ("gaussian", "poisson"):
        raise ValueError(f"observation={observation!r} must be 'gaussian' or 'poisson'")
    if not isinstance(n_iter, int | np.integer) or n_iter < 0:
        raise ValueError(f"n_iter={n_iter!r} must be an integer >= 0")
    if (inputs is None) != (fit.b is None):
        raise ValueError("chunk_losses needs inputs exactly when the fit has input weights "
                         f"(fit.b is {'None' if fit.b is None else 'set'}, inputs "
                         f"{'None' if inputs is None else 'given'})")
    C, T, N = Y.shape
    dtype = torch.float64 if device == "cpu" else torch.float32
    tY = torch.as_tensor(Y, dtype=dtype, device=device)
    M = torch.as_tensor(fit.m, dtype=dtype, device=device)
    Nl = torch.as_tensor(fit.n, dtype=dtype, device=device)
    d = torch.as_tensor(fit.d, dtype=dtype, device=device)
    drive = 0.0
    if inputs is not None:
        U = np.ascontiguousarray(inputs, dtype=float)
        B = np.asarray(fit.b, dtype=float)
        if U.ndim == 3:
            U = U[..., None]
        B = B.reshape(N, -1)
        if U.shape != Y.shape + (B.shape[1],):
            raise ValueError(f"inputs must have shape {Y.shape + (B.shape[1],)} (the fit's "
                             f"{B.shape[1]} input weights per unit), got {np.shape(inputs)}")
        drive = torch.as_tensor(np.einsum("ctnp,np->ctn", U, B), dtype=dtype, device=device)
    alpha = fit.alpha

    def elementwise(z0, Yt, drv):            # z0 (k, R) -> loss per chunk (k,)
        z, xs = z0, []
        for _ in range(T):
            xs.append(z @ M.T + d)
            z = z + alpha * (-z + torch.tanh(xs[-1]) @ Nl / N)
        pred = torch.tanh(torch.stack(xs, 1) + drv)
        if observation == "gaussian":
            return ((pred - Yt) ** 2).mean((1, 2))
        lam = torch.clamp((rate_offset + rate_gain * pred) * bin_width, min=1e-8)
        return (lam - Yt * torch.log(lam)).mean((1, 2))

    states = fit.latents.reshape(-1, fit.rank)
    idx = np.unique(np.linspace(0, states.shape[0] - 1, 64).round().astype(int))
    cand = torch.as_tensor(np.vstack([states[idx], np.zeros((1, fit.rank))]), dtype=dtype,
                           device=device)
    k = cand.shape[0]
    with torch.no_grad():                    # every candidate from every chunk, one
        # candidate at a time (all at once held k copies of the counts: 7 GB at 133
        # chunks of 100 × 1,000)
        L0 = torch.stack([elementwise(cand[j].expand(C, -1), tY, drive) for j in range(k)],
                         1)
        best = torch.argmin(L0, 1)
    z0 = cand[best].clone().requires_grad_(True)
    opt = torch.optim.Adam([z0], lr=lr)
    # Σ_c (chunk c's mean loss) = C × the mean over all chunks (equal chunk lengths): the
    # fit's hand-written BPTT, with the drive as one input of weight 1
    objective = make_objective(
        torch, tY, torch.full((C, 1, 1), float(bin_width), dtype=dtype, device=device),
        None if isinstance(drive, float) else drive[..., None], alpha=alpha,
        observation=observation, rate_offset=rate_offset, rate_gain=rate_gain)
    ones = None if isinstance(drive, float) else torch.ones((N, 1), dtype=dtype,
                                                             device=device)
    for _ in range(int(n_iter)):
        opt.zero_grad()
        loss = C * objective(M, Nl, d, z0, ones)   # chunks separate: Adam is per entry
        if not torch.isfinite(loss):
            raise FloatingPointError(f"chunk_losses: non-finite loss; lower lr (now {lr})")
        loss.backward()
        opt.step()
    with torch.no_grad():
        return elementwise(z0, tY, drive).cpu().numpy()


def sign_flip_test(diffs, rng: np.random.Generator, n_flips: int = 9999
                   ) -> tuple[float, float]:
    """One-sided sign-flip (randomisation) test that paired differences have a positive
    mean: p = (1 + #{flips with mean ≥ observed}) / (1 + ``n_flips``), the flips drawn
    from ``rng``. Exact (up to Monte Carlo) when the differences are independent and each
    symmetric about 0. Also returns the one-sample t statistic (mean / (sd / √n); inf when
    all are equal and positive)."""
    x = np.asarray(diffs, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"sign_flip_test needs at least 2 finite differences, got {x.size}")
    if not isinstance(n_flips, int | np.integer) or n_flips < 1:
        raise ValueError(f"n_flips={n_flips!r} must be an integer >= 1")
    obs = x.mean()
    thr = x.sum() - 1e-9 * np.abs(x).sum()         # ties (the identity flip) count
    count = 0
    for start in range(0, int(n_flips), 2000):      # blocks: bounded memory
        k = min(2000, int(n_flips) - start)
        signs = rng.integers(0, 2, (k, x.size)) * 2 - 1
        count += int(np.sum(signs @ x >= thr))
    sd = x.std(ddof=1)
    t = obs / (sd / np.sqrt(x.size)) if sd > 0 else (np.inf if obs > 0 else
                                                     (-np.inf if obs < 0 else 0.0))
    return (1 + count) / (1 + int(n_flips)), float(t)


def swap_chunk_units(activity, inputs, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Chunks whose units are moved against each other, pair by pair: the chunks are
    paired at random (one left over when their number is odd, as it is), and within each
    pair every unit, with probability 1/2 and independently of the others, trades its
    series (and its inputs) with its series in the other chunk.

    Each unit keeps its own series in their time order; the two halves of the units of a
    pair no longer share a chunk. If the units are independent and the chunks
    independent and equal in law, the moved pair is equal in law to the pair as recorded,
    and the same trade undoes it, so the pair's summed loss under a model fitted without
    it is as likely to rise as to fall (the basis of the held-out shift test of
    :func:`heldout_reversal_test`).

    Parameters
    ----------
    activity : array_like, shape (n_chunks, n_steps, n_units)
    inputs : array_like, shape (n_chunks, n_steps, n_units, ...), or None
    rng : numpy.random.Generator

    Returns
    -------
    activity, inputs : ndarray (inputs None when None)
    pairs : ndarray of int, shape (n_chunks // 2, 2)
        The paired chunks.
    """
    Y = np.array(activity, dtype=float)
    if Y.ndim != 3 or Y.shape[0] < 2:
        raise ValueError(f"swap_chunk_units needs activity of shape (n_chunks >= 2, "
                         f"n_steps, n_units), got {np.shape(activity)}")
    C, _, N = Y.shape
    pairs = rng.permutation(C)[:2 * (C // 2)].reshape(-1, 2)
    trade = rng.random((pairs.shape[0], N)) < 0.5              # (pairs, units)
    U = _chunk_inputs(inputs, Y.shape, "swap_chunk_units")
    for (a, b), t in zip(pairs, trade, strict=True):
        for A in (Y,) if U is None else (Y, U):
            A[a, :, t], A[b, :, t] = A[b, :, t].copy(), A[a, :, t].copy()
    return Y, U, pairs


def heldout_reversal_test(activity, inputs, fit_fn, loss_fn, n_folds: int,
                          rng: np.random.Generator, n_flips: int = 9999,
                          shift: bool = False) -> dict:
    """Cross-fitted paired test that a model fitted forward in time predicts held-out
    chunks better forward than reversed: "are the dynamics irreversible?"

    The chunks are dealt at random into ``n_folds`` folds of (nearly) equal size. For each
    fold, the model is fitted on the other folds' chunks (``fit_fn``), and every held-out
    chunk c is scored as it is and reversed in time, all units and their inputs together
    (``loss_fn``: the same procedure for both, e.g. :func:`chunk_losses`). The paired
    difference ``D_c = loss(reversed c) − loss(c)`` removes everything the two share
    (the chunk's counts, its rates, a shared drive and its residual); only the direction
    of time is left. If the chunks are independent and each reversible in law (stationary
    Poisson, renewal or bursty units; units modulated by a stationary Gaussian or
    two-state Markov drive), a chunk held out of the fit and its reversal are exchangeable
    given the fit, so each ``D_c`` is symmetric about 0 and the sign-flip test
    (:func:`sign_flip_test`) of the chunks of one fold is exact; the folds' fits share
    chunks, so the pooled test over all chunks is exact only approximately (measured:
    ``benchmarks/results/lrgate2.md``). The relaxation of low-rank dynamics from an
    initial state onto an attractor (a fixed point, a ring, a cycle) is not reversible: a
    fitted model cannot leave an attractor, so a reversed relaxation costs loss in every
    chunk that holds one, while chunks on a continuous attractor add differences near 0.

    Parameters
    ----------
    activity : array_like, shape (n_chunks, n_steps, N)
    inputs : array_like, shape (n_chunks, n_steps, N, ...), or None
    fit_fn : callable
        ``fit_fn(activity, inputs, fold)`` fits the model to the training chunks.
    loss_fn : callable
        ``loss_fn(model, activity, inputs)`` returns one loss per chunk, shape (n_chunks,).
    n_folds : int
        Folds (>= 2, and at most n_chunks / 2: every fold holds at least 2 chunks).
    rng : numpy.random.Generator
        Draws the folds and the sign flips.
    n_flips : int, default 9999
    shift : bool, default False
        Also the held-out *shift* test, from the same fits: every fold's held-out chunks
        paired, and each pair scored once more with about half its units traded between
        its two chunks (:func:`swap_chunk_units`: each unit keeps its own series and
        their time order), and the sign-flip test of the pairs' differences ``D = loss(a')
        + loss(b') − loss(a) − loss(b)``: "does the fit use how the units line up in
        time?" If the units are independent and the chunks independent and equal in law,
        each ``D`` is symmetric about 0 given the fold's fit (fitted without the pair, it
        cannot have learnt their alignment; the same trade undoes the move), and the
        pairs of a fold share no chunk; as for the reversal test, the folds' fits share
        chunks, so the pooled test is exact only approximately. Unlike shift surrogates
        fitted from scratch it needs no fit of its own, and its null is the spread of many
        pairs' differences, not of a few fits' losses. Its draws come from a child of
        ``rng`` (:meth:`numpy.random.Generator.spawn`), so the reversal test's folds and
        flips are those without it.

    Returns
    -------
    dict
        ``p`` (one-sided), ``t`` (one-sample t of the differences), ``forward`` and
        ``reversed`` (losses per chunk), ``folds`` (fold of every chunk), ``gain`` (mean
        reversed loss / mean forward loss − 1); with ``shift`` also ``shift_p``,
        ``shift_t``, ``shifted`` (each chunk's loss after the trade; NaN for a fold's
        unpaired chunk), ``shift_pairs`` (how many pairs) and ``shift_gain`` (mean
        traded loss / mean loss of the same chunks − 1).
    """
    Y = np.asarray(activity, dtype=float)
    if Y.ndim != 3:
        raise ValueError(f"heldout_reversal_test needs activity of shape (n_chunks, "
                         f"n_steps, n_units), got {Y.shape}")
    C = Y.shape[0]
    if not isinstance(n_folds, int | np.integer) or n_folds < 2 or 2 * n_folds > C:
        raise ValueError(f"n_reversals={n_folds!r} folds of the held-out reversal test must "
                         f"be an integer >= 2 and at most half the number of chunks ({C}): "
                         f"lower n_reversals, shorten chunk_steps or record longer")
    U = None if inputs is None else np.asarray(inputs, dtype=float)
    if U is not None and U.shape[:3] != Y.shape:
        raise ValueError(f"heldout_reversal_test needs inputs with the activity's first "
                         f"three axes {Y.shape}, got {U.shape}")
    shift_rng = rng.spawn(1)[0] if shift else None
    folds = rng.permutation(C) % int(n_folds)
    fwd, rev, moved = np.empty(C), np.empty(C), np.full(C, np.nan)
    diffs = []
    for f in range(int(n_folds)):
        test = folds == f
        model = fit_fn(Y[~test], None if U is None else U[~test], f)
        k = int(test.sum())
        Yt = np.concatenate([Y[test], Y[test][:, ::-1]])
        Ut = None if U is None else np.concatenate([U[test], U[test][:, ::-1]])
        L = np.asarray(loss_fn(model, Yt, Ut), dtype=float)
        if L.shape != (2 * k,):
            raise ValueError(f"loss_fn must return one loss per chunk ({2 * k}), got shape "
                             f"{L.shape}")
        fwd[test], rev[test] = L[:k], L[k:]
        if shift and k >= 2:
            Ys, Us, pairs = swap_chunk_units(Y[test], None if U is None else U[test],
                                             shift_rng)
            Lm = np.asarray(loss_fn(model, Ys[pairs.ravel()],
                                    None if Us is None else Us[pairs.ravel()]),
                            dtype=float).reshape(pairs.shape)
            idx = np.flatnonzero(test)
            moved[idx[pairs]] = Lm
            diffs.append(Lm.sum(1) - fwd[idx[pairs]].sum(1))
    p, t = sign_flip_test(rev - fwd, rng, n_flips)
    gain = float(rev.mean() / fwd.mean() - 1.0) if fwd.mean() > 0 else float("nan")
    out = {"p": float(p), "t": float(t), "forward": fwd, "reversed": rev, "folds": folds,
           "gain": gain}
    if shift:
        D = np.concatenate(diffs) if diffs else np.empty(0)
        if D.size >= 2:
            ps, ts = sign_flip_test(D, shift_rng, n_flips)
        else:                                  # fewer than 2 pairs: no test
            ps, ts = 1.0, float("nan")
        paired = np.isfinite(moved)
        base = fwd[paired].mean() if paired.any() else 0.0
        out.update(shift_p=float(ps), shift_t=float(ts), shifted=moved,
                   shift_pairs=int(D.size),
                   shift_gain=float(moved[paired].mean() / base - 1.0) if base > 0
                   else float("nan"))
    return out


#: Default decision of the low-rank methods: Bonferroni at 0.05 over the tested pairs (the
#: p-values of the entries of one low-rank product depend on each other arbitrarily, which
#: Bonferroni allows and Benjamini–Hochberg does not).
DECISION_LEVEL = 0.05
DECISION_CORRECTION = "bonferroni"
#: Spawn keys of the shift and reversal surrogates' random streams below the user's seed.
_SURROGATE_KEY = 1000
_REVERSAL_KEY = 1001
_HELDOUT_KEY = 1002
_GATE_UNITS_KEY = 1003
#: Default ``gate_units`` of ``lowrank`` and ``lowrank_flow``: the gate's fits use at most
#: this many of the usable units (see the ``gate_units`` parameter).
GATE_UNITS: int | None = 100
#: ``shift_test="auto"`` takes the held-out shift test only where the held-out folds hold
#: at least this many pairs of chunks (its sign flips' smallest p-value is 2⁻ᵖᵃⁱʳˢ: 0.031
#: at 5); fewer: the refitted shift surrogates.
MIN_SHIFT_PAIRS = 5

def surrogate_gate(loss, null_losses) -> tuple[float, float]:
    """One-sided test that a fit explains the data better than fits to shift surrogates.

    The fit's loss ``L`` (mean Poisson negative log-likelihood per bin, or mean squared
    error) is compared with the losses ``L_1 … L_K`` of the same fit on ``K`` shift
    surrogates by the prediction interval of a new normal draw: ``t = (mean L_k − L) /
    (s · sqrt(1 + 1/K))``, ``s`` the sample sd of the ``L_k``, p = P(T_{K−1} ≥ t). If the
    units do not interact, the data and the surrogates have the same distribution (the
    surrogate keeps every unit's series and moves the units against each other), so ``L``
    and the ``L_k`` are exchangeable; a loss is a mean over thousands of bins, hence close
    to normal, and p is then uniform (exact for normal losses).

    Parameters
    ----------
    loss : float
    null_losses : array_like, shape (K,), K >= 2

    Returns
    -------
    p : float
        One-sided p-value (small: the fit explains the data better than any surrogate's).
    t : float
        The statistic (inf when the surrogate losses are all equal and above ``loss``).
    """
    from scipy.stats import t as student_t

    x = np.asarray(null_losses, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)) or not np.isfinite(loss):
        raise ValueError(f"surrogate_gate needs a finite loss and at least 2 finite "
                         f"surrogate losses, got {loss!r} and {x.size}: use n_surrogates >= 2")
    k = x.size
    diff = float(x.mean() - loss)
    sd = float(x.std(ddof=1)) * np.sqrt(1.0 + 1.0 / k)
    if sd == 0.0:
        t = np.inf if diff > 0 else (-np.inf if diff < 0 else 0.0)
    else:
        t = diff / sd
    p = float(student_t.sf(t, k - 1)) if np.isfinite(t) else float(t < 0)
    return p, float(t)


def weight_outlier_pvalues(J: np.ndarray) -> np.ndarray:
    """Two-sided p-values of the off-diagonal entries of ``J`` as outliers of the bulk:
    ``z = (J − median) / (1.4826 · MAD)`` over them, ``p = 2 Φ(−|z|)`` (NaN on the
    diagonal; all 1 when the MAD is 0)."""
    from scipy.special import ndtr

    off = ~np.eye(J.shape[0], dtype=bool)
    w = J[off]
    med = float(np.median(w))
    scale = 1.4826 * float(np.median(np.abs(w - med)))
    p = np.full(J.shape, np.nan)
    p[off] = 2.0 * ndtr(-np.abs(w - med) / scale) if scale > 0 else 1.0
    return p


class _LowRankBase(InferenceMethod):
    """Settings and preamble shared by ``lowrank`` and ``lowrank_flow``."""

    in_all = False  # BPTT fit: named explicitly in sweeps

    input_kinds = frozenset({"spikes", "rate"})
    requires = ("torch",)
    bin_settings = {"bin_width": 0.01}
    base_constraints = {
        "rank": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, 1, closed="right")],
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "trial_steps": [Interval("int", 2, None), None],
        "chunk_steps": [Interval("int", 2, None)],
        "rate_offset": [Interval("real", 0, None), None],
        "rate_gain": [Interval("real", 0, None, closed="neither"), None],
        "n_restarts": [Interval("int", 1, None)],
        "n_iter": [Interval("int", 1, None)],
        "refine_iter": [Interval("int", 0, None)],
        "refine_restarts": [Interval("int", 1, None), None],
        "gate_refine_iter": [Interval("int", 0, None), None],
        "lr": [Interval("real", 0, None, closed="neither")],
        "min_spikes": [Interval("int", 0, None)],
        "seed": [SeedLike()],
        "device": [Options(("cpu", "cuda"))],
        "n_surrogates": [Interval("int", 0, None)],
        "n_reversals": [Interval("int", 0, None)],
        "reversal_test": [Options(("heldout", "surrogates"))],
        "shift_test": [Options(("auto", "refit", "heldout"))],
        "gate_restarts": [Interval("int", 1, None), None],
        "gate_units": [Interval("int", 2, None), None],
        "n_jobs": [Interval("int", -1, -1), Interval("int", 1, None), None],
        "drive_timescale": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "min_gain": [Interval("real", 0, 1, closed="left")],
        "biases": [Options(("auto", "fit", "zero"))],
        "halving": [Boolean(), Options({"estimate"})],
        "progress": [Boolean()],
    }

    def _validate_params(self) -> None:
        super()._validate_params()
        from spikewire.infer.trained import _device_available

        if self.n_surrogates == 1:
            raise ValueError(f"{self.name}: n_surrogates={self.n_surrogates!r} must be 0 (no "
                             f"test) or >= 2 (the gate needs the spread of the surrogate "
                             f"losses)")
        if self.n_reversals == 1:
            raise ValueError(f"{self.name}: n_reversals={self.n_reversals!r} must be 0 (no "
                             f"reversal test) or >= 2 (held-out folds, or reversal "
                             f"surrogates whose losses' spread the test needs)")
        if self.shift_test == "heldout" and (self.reversal_test != "heldout"
                                             or self.n_reversals < 2):
            raise ValueError(f"{self.name}: shift_test='heldout' is computed from the held-out "
                             f"reversal test's fits, which reversal_test="
                             f"{self.reversal_test!r}, n_reversals={self.n_reversals!r} do "
                             f"not run; use reversal_test='heldout' with n_reversals >= 2, or "
                             f"shift_test='refit'")
        if self.gate_units is not None and self.gate_units < self.rank:
            raise ValueError(f"{self.name}: gate_units={self.gate_units!r} is smaller than "
                             f"rank={self.rank!r}; use gate_units >= rank, or None (the "
                             f"gate on every usable unit)")
        if not _device_available(self.device, self.requires):
            raise ValueError(f"{self.name}: device={self.device!r} is not available: torch "
                             f"reports no CUDA device; use device='cpu'")
        if (self.rate_offset is not None and self.rate_gain is not None
                and self.rate_offset < self.rate_gain):
            raise ValueError(f"{self.name}: rate_offset={self.rate_offset!r} must be >= "
                             f"rate_gain={self.rate_gain!r} (rate = offset + gain·φ must be "
                             f">= 0 Hz)")

    def _rate_map(self, rec) -> tuple[float, float]:
        """The rate map: the settings, or (None) the one a low-rank simulation recorded in
        the recording's history (steps ``"lowrank_rates"``/``"lowrank_spikes"``), else 10 Hz,
        10 Hz."""
        recorded = next((h for h in reversed(rec.history) if isinstance(h, dict)
                         and str(h.get("step", "")).startswith("lowrank")
                         and "rate_offset" in h), {})
        off = self.rate_offset if self.rate_offset is not None \
            else float(recorded.get("rate_offset", 10.0))
        gain = self.rate_gain if self.rate_gain is not None \
            else float(recorded.get("rate_gain", 10.0))
        if off < gain:
            raise ValueError(f"{self.name}: rate_offset={off!r} must be >= rate_gain={gain!r} "
                             f"(rate = offset + gain·φ must be >= 0 Hz)")
        return off, gain

    def _front_end(self, ctx: FitContext, *, seed=None, surrogate_rng=None,
                   reversal_rng=None, heldout_rng=None, drive: bool = False,
                   n_restarts: int | None = None, units_ok: np.ndarray | None = None,
                   halving: bool = False, progress: bool = False, gate: bool = False):
        """The plain fit on the recording (``surrogate_rng`` None) or on a shift surrogate
        of it; ``reversal_rng``: on a reversal surrogate (:func:`reverse_chunks`);
        ``heldout_rng``: instead, the held-out reversal test on the recording (its result,
        :meth:`_heldout_reversal`);
        ``seed`` None: the method's seed; ``drive``: with the shared-drive input of time
        scale ``drive_timescale`` (:func:`shared_drive`); ``n_restarts`` None: the
        method's; ``units_ok`` None: the usable units ``ctx.unit_ok``, else this mask (the
        gate's subset, ``gate_units``); ``halving``: successive halving of the starts
        (:func:`fit_lowrank`; per the setting ``halving``); ``progress``: progress
        bars of the bias test and the fit; ``gate``: a fit of the significance gate
        (its bias test's outcome goes to the gate's diagnostics, not to a warning)."""
        units_ok = ctx.unit_ok if units_ok is None else units_ok
        ok = np.flatnonzero(units_ok)
        rate_offset, rate_gain = self._rate_map(ctx.recording)
        Y, obs, step, U = recording_activity(
            ctx.recording, trial_steps=self.trial_steps, chunk_steps=self.chunk_steps,
            bin_width=ctx.settings["bin_width"], rate_offset=rate_offset,
            rate_gain=rate_gain, units_ok=units_ok, surrogate_rng=surrogate_rng,
            drive_timescale=self.drive_timescale if drive else None)
        if reversal_rng is not None:
            Y, U, _ = reverse_chunks(Y, U, reversal_rng)
        if ok.size < self.rank:
            raise ValueError(f"{self.name}: rank={self.rank} is larger than the number of "
                             f"usable units ({ok.size}); use rank <= {ok.size} or lower "
                             f"min_spikes")
        label = f"{self.name} front end" if progress else None
        biases, bias_info = self._biases(Y, obs, step, rate_offset, rate_gain, label,
                                         quiet=gate)
        if heldout_rng is not None:
            res = self._heldout_reversal(Y, U, obs, step, rate_offset, rate_gain,
                                         heldout_rng, seed, biases, halving)
            return {**res, "biases": bias_info}
        fit = fit_lowrank(Y, self.rank, alpha=self.alpha, observation=obs,
                          rate_offset=rate_offset, rate_gain=rate_gain,
                          bin_width=step, n_iter=self.n_iter,
                          refine_iter=self._refine_iter(gate),
                          refine_restarts=self.refine_restarts, halving=halving,
                          n_restarts=self.n_restarts if n_restarts is None else n_restarts,
                          lr=self.lr, seed=self.seed if seed is None else seed,
                          device=self.device, inputs=U, biases=biases, progress=label)
        info = {"observation": obs, "sample_step_s": step, "n_chunks": int(Y.shape[0]),
                "rate_offset": rate_offset, "rate_gain": rate_gain,
                "chunk_steps": int(Y.shape[1]), "loss": fit.loss, "r2": fit.r2,
                "restart_losses": fit.restart_losses, "adam_losses": fit.adam_losses,
                "biases": bias_info}
        return fit, ok, info

    def _shift_test(self, ctx: FitContext, units_ok: np.ndarray | None) -> str:
        """The gate's structure test: ``shift_test``, with ``"auto"`` the held-out one
        wherever the held-out reversal test runs (``reversal_test="heldout"``,
        ``n_reversals >= 2``) on chunks enough for :data:`MIN_SHIFT_PAIRS` pairs in its
        folds (the sign flips' smallest p-value is 2⁻ᵖᵃⁱʳˢ), else the refitted shift
        surrogates."""
        if self.shift_test != "auto":
            return self.shift_test
        if self.reversal_test != "heldout" or self.n_reversals < 2:
            return "refit"
        rate_offset, rate_gain = self._rate_map(ctx.recording)
        Y = recording_activity(ctx.recording, trial_steps=self.trial_steps,
                               chunk_steps=self.chunk_steps,
                               bin_width=ctx.settings["bin_width"], rate_offset=rate_offset,
                               rate_gain=rate_gain,
                               units_ok=ctx.unit_ok if units_ok is None else units_ok)[0]
        C = int(Y.shape[0])
        folds = min(int(self.n_reversals), C // 2)
        pairs = sum((C // folds + (f < C % folds)) // 2 for f in range(folds)) if folds else 0
        return "heldout" if pairs >= MIN_SHIFT_PAIRS else "refit"

    def _refine_iter(self, gate: bool) -> int:
        """L-BFGS iterations of a front-end fit: ``refine_iter`` for the estimate's fit,
        ``gate_refine_iter`` (None: ``refine_iter``) for the gate's."""
        if gate and self.gate_refine_iter is not None:
            return int(self.gate_refine_iter)
        return int(self.refine_iter)

    def _biases(self, Y, obs, step, rate_offset, rate_gain,
                progress: str | None = None, quiet: bool = False) -> tuple[str, dict]:
        """The biases of a front-end fit: the setting ``"fit"`` / ``"zero"``, or for
        ``"auto"`` the decision of :func:`bias_test` on these counts (rate signals are not
        tested: ``"fit"``; ``progress``: its bar's label). Returns it and the diagnostics
        entry ``biases``. A test whose factor-model fits did not converge decides "fit"
        (as without the test); that is said by a warning naming this method's settings
        (``bias_test``'s own names settings a user of the method cannot reach), except
        with ``quiet`` (the gate's fits: their outcomes are counted in its diagnostics)."""
        setting = getattr(self, "biases", "auto")
        if setting != "auto":
            return setting, {"setting": setting, "used": setting}
        if obs != "poisson":
            return "fit", {"setting": "auto", "used": "fit",
                           "test": "not run: rate signals (the test needs spike counts)"}
        # the estimate's fit, the held-out test and the drive fit see the same counts:
        # test them once (the last few results, keyed by the counts and the rate map)
        key = (hashlib.sha1(np.ascontiguousarray(Y, dtype=float).tobytes()).hexdigest(),
               Y.shape, int(self.rank), float(rate_offset), float(rate_gain), float(step))
        res = _BIAS_CACHE.get(key)
        if res is None:
            # non-convergence is said below, in this method's terms; the calibration
            # runs only where it can change the decision
            res = bias_test(Y, self.rank, rate_offset=rate_offset, rate_gain=rate_gain,
                            bin_width=step, progress=progress, warn=False, decide_only=True)
            _BIAS_CACHE[key] = res
            while len(_BIAS_CACHE) > 8:
                _BIAS_CACHE.pop(next(iter(_BIAS_CACHE)))
        if not res.get("converged", True) and not quiet:
            warnings.warn(f"{self.name}: biases='auto' could not test the units' biases: the "
                          f"bias test's factor-model fits did not converge on these counts "
                          f"({res['pooled_bins']} bins pooled, {res['mean_count']:.1f} spikes "
                          f"per unit and pooled bin, rounds {res['rounds']}), so the biases "
                          f"are fitted, as with biases='fit'. Set biases='fit' to skip the "
                          f"test, or biases='zero' if the units are known to have no offsets",
                          stacklevel=4)
        return res["decision"], {"setting": "auto", "used": res["decision"], "test": dict(res)}

    def _heldout_reversal(self, Y, U, obs, step, rate_offset, rate_gain, rng, seed,
                          biases: str = "fit", halving: bool = False) -> dict:
        """:func:`heldout_reversal_test` with ``n_reversals`` folds (fewer, down to 2,
        when there are fewer than 2 chunks per fold): the gate's fit (``gate_restarts``,
        the same inputs) on the other folds, :func:`chunk_losses` on the held-out chunks
        forward and reversed. With fewer than 5 chunks the sign-flip test cannot reach
        0.05 (its smallest p is 2⁻ᶜ), so the test is not run: p = 1 (the gate stays
        closed) and a warning says what to change."""
        C = int(Y.shape[0])
        if C < 5:
            warnings.warn(f"{self.name}: the held-out reversal test needs at least 5 chunks "
                          f"(its smallest p-value is 2^-chunks), the recording has {C} of "
                          f"{Y.shape[1]} samples: the gate stays closed; use a smaller "
                          f"chunk_steps, a longer recording or reversal_test='surrogates'",
                          stacklevel=4)
            return {"p": 1.0, "t": float("nan"), "gain": float("nan"),
                    "forward": np.empty(0), "reversed": np.empty(0), "n_folds": 0}
        folds = min(int(self.n_reversals), C // 2)
        fold_seeds = np.random.SeedSequence(seed).spawn(folds) \
            if not isinstance(seed, np.random.SeedSequence) else seed.spawn(folds)

        def fit_fn(Yf, Uf, fold):
            return fit_lowrank(Yf, self.rank, alpha=self.alpha, observation=obs,
                               rate_offset=rate_offset, rate_gain=rate_gain, bin_width=step,
                               n_iter=self.n_iter, refine_iter=self._refine_iter(True),
                               refine_restarts=self.refine_restarts,
                               n_restarts=self.gate_restarts or
                               self.n_restarts, lr=self.lr, seed=fold_seeds[fold],
                               device=self.device, inputs=Uf, biases=biases,
                               halving=halving)

        def loss_fn(fit, Yt, Ut):
            return chunk_losses(fit, Yt, Ut, observation=obs, rate_offset=rate_offset,
                                rate_gain=rate_gain, bin_width=step, device=self.device)

        res = heldout_reversal_test(Y, U, fit_fn, loss_fn, folds, rng, shift=True)
        res["n_folds"] = folds
        return res

    @contextlib.contextmanager
    def _gate_started(self, ctx: FitContext):
        """Start the gate's fits (:meth:`_start_gate`) for the body of ``with``, which runs
        with the torch threads the gate's workers leave (after the estimate's front-end
        fit, which gains twice from a second thread at N = 1,000: it keeps every thread);
        yields the gate (None without one) for :meth:`_decide`. Stops the workers and
        restores the threads on the way out, errors included."""
        gate = self._start_gate(ctx)
        if gate is None:
            yield None
            return
        torch = import_torch()
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(gate["run"].threads(threads))
            yield gate
        finally:
            torch.set_num_threads(threads)
            gate["run"].close()

    def _start_gate(self, ctx: FitContext) -> dict | None:
        """Plan the gate's fits and start them (:class:`_lowrank_gate_pool.GateRun`:
        worker processes per ``n_jobs`` begin at once; the rest run in :meth:`_decide`).
        None without a gate (``n_surrogates=0``) or with fewer usable units than the rank
        (the estimate's fit raises). The plan: ``n_surrogates`` refits on shift
        surrogates; a reversal test with ``n_reversals`` fits (``reversal_test``: held-out
        folds or reversal surrogates); with ``drive_timescale`` every gate fit has the
        shared-drive input, and the data's loss is that of the drive fit; with
        ``gate_units`` every gate fit, the data's included, is on the same random subset
        of units."""
        import time

        ok = np.flatnonzero(ctx.unit_ok)
        if not self.n_surrogates or ok.size < self.rank:
            return None
        t0 = time.perf_counter()
        base = self.seed if isinstance(self.seed, np.random.SeedSequence) \
            else np.random.SeedSequence(self.seed)

        def stream(key):
            # streams of their own (children 1000–1003 of the seed, which spawn() never
            # reaches in the fit itself), so the estimate's weights are those without
            # the test
            return np.random.SeedSequence(base.entropy,
                                          spawn_key=tuple(base.spawn_key) + (key,))

        drive = self.drive_timescale is not None
        extra = {}
        gate_ok = self._gate_units_mask(ctx, ok, stream(_GATE_UNITS_KEY))
        if gate_ok is not None:
            extra["gate_units"] = ctx.units[gate_ok].tolist()
        # the gate's calls (keyword arguments of _front_end; random streams as seed
        # sequences), grouped in tasks: the data's fit and the held-out test bin the same
        # counts and share a task (and its bias test), the longest, so it goes first
        # with halving=True the gate's fits halve their starts too (data and surrogates
        # alike); "estimate": only the estimate's fit does
        halving = self.halving is True or self.halving is np.True_
        fit_kw = {"drive": drive, "n_restarts": self.gate_restarts, "units_ok": gate_ok,
                  "halving": halving, "gate": True}
        first = []
        if drive or gate_ok is not None:
            first.append(dict(fit_kw))
        heldout = bool(self.n_reversals) and self.reversal_test == "heldout"
        if heldout:
            s_rng, s_fit = stream(_HELDOUT_KEY).spawn(2)
            first.append({"drive": drive, "seed": s_fit, "units_ok": gate_ok,
                          "heldout_rng": s_rng, "halving": halving, "gate": True})

        def surrogate_calls(key, count, rng_name):
            # one gate fit per surrogate: its own (surrogate, fit) seed pair from `key`
            calls = []
            for child in stream(key).spawn(int(count)):
                s_sur, s_fit = child.spawn(2)
                calls.append({**fit_kw, "seed": s_fit, rng_name: s_sur})
            return calls

        shift_test = self._shift_test(ctx, gate_ok)
        shift = [] if shift_test == "heldout" else \
            surrogate_calls(_SURROGATE_KEY, self.n_surrogates, "surrogate_rng")
        rev = [] if heldout or not self.n_reversals else \
            surrogate_calls(_REVERSAL_KEY, self.n_reversals, "reversal_rng")
        tasks = ([first] if first else []) + [[c] for c in shift + rev]
        rec = ctx.recording
        step = ctx.settings["bin_width"] if rec.spikes is not None else 1.0 / rec.signal_rate
        elements = int(rec.duration / step) * (ok.size if gate_ok is None
                                               else int(np.count_nonzero(gate_ok)))
        # n_jobs counts this process too: the workers are the others
        workers = gate_pool.n_workers(self.n_jobs, len(tasks) + 1, elements, self.device,
                                      import_torch().get_num_threads()) - 1
        return {"run": gate_pool.GateRun(self, ctx, tasks, workers), "t0": t0,
                "extra": extra, "first": bool(first), "heldout": heldout,
                "n_shift": len(shift), "drive": drive, "shift_test": shift_test}

    def _decide(self, ctx: FitContext, J_ok: np.ndarray, ok: np.ndarray,
                loss: float, gate: dict | None) -> dict:
        """The default decision (see the class docstrings): the gate started by
        :meth:`_start_gate` — two tests that must both pass (an intersection–union test
        at ``DECISION_LEVEL``): the fit's loss against the shift surrogates'
        (:func:`surrogate_gate`) and the reversal test — and the effect size ``min_gain``
        on the shift surrogates; then the weights that stand out of the fit's own bulk
        (:func:`weight_outlier_pvalues`). Returns the ``Estimate`` fields (``pvalues``,
        ``scores``, ``alpha``, ``correction``) and the diagnostics ``surrogate_gate``."""
        import time

        fields = {"alpha": DECISION_LEVEL, "correction": DECISION_CORRECTION,
                  "scores": self._embed(np.abs(J_ok), ok, ctx)}
        if gate is None:
            return fields
        t_wait = time.perf_counter()
        results = gate["run"].results(self.name if self.progress else None)
        extra = dict(gate["extra"], gate_processes=gate["run"].workers + 1,
                     wait_s=time.perf_counter() - t_wait)
        firsts = results.pop(0) if gate["first"] else []
        if gate["first"] and (gate["drive"] or "gate_units" in extra):
            data = firsts[0]
            extra["plain_loss"] = float(loss)
            loss = data["loss"]
            if gate["drive"]:
                extra.update(drive_timescale_s=float(self.drive_timescale),
                             drive_b=data["b"])
        n_shift = gate["n_shift"]
        # the gate's own bias tests (biases="auto"): one decision per gate fit, in the
        # order data / held-out test, shift surrogates, reversal surrogates; those whose
        # factor-model fits did not converge decided "fit" (counted, not warned about)
        tests = [r["biases"] for r in list(firsts) + [t[0] for t in results]
                 if "biases" in r]
        extra.update(bias_decisions=[b["used"] for b in tests],
                     bias_unconverged=sum(1 for b in tests
                                          if isinstance(b.get("test"), dict)
                                          and not b["test"].get("converged", True)))
        null = [r[0]["loss"] for r in results[:n_shift]]
        res = firsts[-1] if gate["heldout"] else None     # the held-out folds' result
        if n_shift:
            p_shift, t = surrogate_gate(loss, null)
            gain = float(np.mean(null) / loss - 1.0) if loss > 0 else float("inf")
        else:                                  # shift_test="heldout": from the folds
            p_shift, t = res.get("shift_p", 1.0), res.get("shift_t", float("nan"))
            gain = res.get("shift_gain", float("nan"))
            gain = gain if np.isfinite(gain) else 0.0
        p_gate = p_shift
        if res is not None:
            p_rev = res["p"]
            p_gate = max(p_shift, p_rev)       # both must pass: intersection–union test
            extra.update(shift_p=p_shift, reversal_p=p_rev, reversal_t=res["t"],
                         reversal_gain=res["gain"], reversal_test="heldout",
                         reversal_forward=res["forward"], reversal_reversed=res["reversed"],
                         reversal_folds=res["n_folds"], n_reversals=int(self.n_reversals),
                         shift_test=gate["shift_test"])
            if "shift_p" in res:               # the held-out shift test, always reported
                extra.update(heldout_shift_p=res["shift_p"], heldout_shift_t=res["shift_t"],
                             heldout_shift_gain=res["shift_gain"],
                             heldout_shift_pairs=res["shift_pairs"],
                             heldout_shifted=res["shifted"])
        elif self.n_reversals:
            rev = [r[0]["loss"] for r in results[n_shift:]]
            p_rev, t_rev = surrogate_gate(loss, rev)
            p_gate = max(p_shift, p_rev)       # both must pass: intersection–union test
            extra.update(shift_p=p_shift, reversal_p=p_rev, reversal_t=t_rev,
                         reversal_losses=[float(x) for x in rev], reversal_test="surrogates",
                         reversal_gain=float(np.mean(rev) / loss - 1.0) if loss > 0
                         else float("inf"), n_reversals=int(self.n_reversals))
        passed = p_gate < DECISION_LEVEL and gain >= self.min_gain
        P = np.full((ctx.n, ctx.n), np.nan)
        P[np.ix_(ok, ok)] = weight_outlier_pvalues(J_ok) if passed else 1.0
        P[ctx.pair_status != 0] = np.nan
        fields.update(pvalues=P, surrogate_gate={
            "p": p_gate, "t": t, "gain": gain, "passed": bool(passed), "loss": float(loss),
            "surrogate_losses": [float(x) for x in null],
            "n_surrogates": int(self.n_surrogates),
            "time_s": time.perf_counter() - gate["t0"],
            **extra})
        return fields

    def _gate_units_mask(self, ctx: FitContext, ok: np.ndarray,
                         ss: np.random.SeedSequence) -> np.ndarray | None:
        """The mask of the gate's units: ``gate_units`` of the usable units ``ok`` drawn
        without replacement from ``ss`` (None: all of them, when ``gate_units`` is None or
        not smaller than their number)."""
        k = self.gate_units
        if k is None or ok.size <= k:
            return None
        pick = np.random.default_rng(ss).choice(ok, size=int(k), replace=False)
        mask = np.zeros(ctx.n, dtype=bool)
        mask[pick] = True
        return mask

    @staticmethod
    def _embed(J_ok: np.ndarray, ok: np.ndarray, ctx: FitContext) -> np.ndarray:
        W = np.zeros((ctx.n, ctx.n))
        W[np.ix_(ok, ok)] = J_ok
        W[ctx.pair_status != 0] = 0.0      # diagonal and pairs not estimated
        return W


@register
class LowRankRNN(_LowRankBase):
    """Plain low-rank RNN fit by BPTT with restarts (LINT); J = M Nᵀ/N and the loadings.

    Fits the model of :mod:`spikewire.infer.lowrank` to rate signals (Gaussian loss on
    ``φ = (rate − rate_offset)/rate_gain``) or binned spikes (Poisson loss). The weights are
    ``J_ij = m_i·n_j / N`` over the units with at least ``min_spikes`` spikes (the diagonal,
    self-coupling ``m_i·n_i/N``, is left out of ``weights`` as for every method; it is in
    the loadings). ``J`` is a dense low-rank estimate, and only part of it is identified by
    the dynamics (see :func:`spikewire.infer.lowrank_flow.identifiability_report`): the
    ``n`` loadings carry a residual that no activity constrains, which this plain fit
    returns as if it were structure.

    Default decision (``adjacency()``; issue 12). A rank-R fit to units that do not
    interact still returns a dense J whose entries are heavy-tailed (sums of products of
    loadings), so no threshold on J alone is a test. The decision has two stages:

    1. *Gate*: the fit with shared-drive inputs (:func:`shared_drive`: every unit's input
       gets ``b_i·u_i(t)``, ``u_i`` the other units' mean smoothed over ``drive_timescale``
       / 3, ``drive_timescale`` and 4 ``drive_timescale``, and the square of the middle
       one) on the data is compared with the same fit on two kinds of surrogate, each by
       a one-sided t prediction test at 0.05 (:func:`surrogate_gate`), and **both** must
       pass (an intersection–union test: its level is 0.05 if either test is calibrated):

       a. a *shift* test (``shift_test``; by default the held-out one below, from the
          reversal test's fold fits: pairs of held-out chunks with about half the units
          traded between them, :func:`swap_chunk_units`), or
          ``n_surrogates`` *shift* surrogates (every unit's binned series circularly
          shifted by its own offset, at least ``T / n_units`` apart: :func:`shift_offsets`,
          and its input ``u_i`` shifted with it), which keep each unit's rate,
          autocorrelation and relation to the shared drive and break every other
          alignment between units: is there structure beyond single units? Exact for
          units that do not interact at all; on units co-modulated by a shared drive it
          is not calibrated (the inputs capture the drive only up to counting noise and
          the latent takes up the rest, which the surrogates lack: 13 % and 30 % of small
          *comodulated* / *updown* nulls passed, ``benchmarks/results/lrcomod.md``).
       b. a *reversal* test, which keeps every alignment between units, the shared
          drive and its residual, and changes only the direction of time: are the
          dynamics irreversible? Shared drives that are stationary Gaussian or Markov
          processes with two states, and independent Poisson, renewal or bursty units are
          reversible, so on them this test is calibrated; the relaxation of low-rank
          dynamics from initial states to their attractors is not. A shared drive with an
          irreversible time course (fast rise, slow decay) passes it; a stationary
          low-rank network whose noise-driven fluctuations are reversible fails it.
          ``reversal_test="heldout"`` (default; :func:`heldout_reversal_test`): the
          chunks are dealt into ``n_reversals`` folds, the gate's fit on the other folds
          scores every held-out chunk forward and reversed in time, each with its own
          best initial latent (:func:`chunk_losses`), and a sign-flip test asks whether
          the paired differences are positive. Pairing within chunks keeps the power
          where only part of each trial is irreversible: the planted ring of
          ``benchmarks/bench_lrnull.py`` (fast relaxation onto a continuous attractor,
          where it then sits) passes it (``benchmarks/results/lrgate2.md``).
          ``"surrogates"``: the fit on the data against the same fit on ``n_reversals``
          reversal surrogates (half the chunks, at random, reversed in time:
          :func:`reverse_chunks`) by the t prediction test, the test of
          ``benchmarks/results/lrgate.md``, which loses the ring (reversal surrogates
          0.26 % worse, p 0.14). ``n_reversals=0`` restores the shift test alone, which
          is not calibrated under shared drive.

       The gate also requires an effect size: the shift surrogates' mean loss at least
       ``min_gain`` (relative) above the fit's (a threshold on the size of the structure;
       ``min_gain=0``: the two tests alone). If the gate does not pass, every p-value is
       1 and nothing is called.
    2. Otherwise the p-values are those of the weights as outliers of the fit's own bulk
       (:func:`weight_outlier_pvalues`: median/MAD robust z), with Bonferroni at 0.05
       (``est.correction``, ``est.alpha``; the entries of one low-rank product depend on
       each other arbitrarily, which Bonferroni allows). This stage ranks pairs within a
       structure the gate has found; it is not calibrated per pair.

    Without the drive input (``drive_timescale=None``) the shift surrogates cannot tell a
    shared input from recurrent structure: units co-modulated by a common slow drive pass
    the shift test (``benchmarks/results/lrnull.md``); the reversal test is indifferent to
    the input (it keeps the drive). The weights, ``scores = |J|`` (the ranking) and the
    loadings are those of the plain fit without input in either case (the drive fit is
    used by the gate only, one more fit). ``diagnostics["surrogate_gate"]`` holds the
    gate's ``p`` (the larger of the two tests' p-values, ``shift_p`` and
    ``reversal_p``), the shift test's ``t`` and ``surrogate_losses``, the reversal test's
    ``reversal_test``, ``reversal_t`` and ``reversal_losses`` (surrogates) or
    ``reversal_forward`` and ``reversal_reversed`` (held out: the chunks' losses), the
    held-out shift test whenever the reversal test is held out (``shift_test``:
    ``heldout_shift_p``, ``heldout_shift_t``, ``heldout_shift_gain``,
    ``heldout_shift_pairs`` and ``heldout_shifted``, the traded chunks' losses), the
    gains on both (``gain``, ``reversal_gain``), the fit's ``loss`` (the drive fit's;
    ``plain_loss``), the drive weights ``drive_b``, the time, and the gate fits' own
    bias tests (``biases="auto"``: ``bias_decisions``, one per gate call — the data's
    fit, the held-out test, each surrogate's fit — and
    ``bias_unconverged``, how many of them did not converge and so fitted the biases, as
    without the test; on the issue's protocol at least 2 of the 4 tests, on 100-unit
    subsets at 12.5 spikes per unit and trial, ``benchmarks/results/lrtime43.md``). The
    estimate's ``alpha`` is this decision level, not the model's Δt/τ.

    Parameters
    ----------
    rank : int, default 2
    alpha : float, default 0.2
        Δt/τ of the model (Δt = one sample).
    bin_width : float or None, default None (automatic: 10 ms)
        Bin of the spike counts in s (spike recordings).
    trial_steps : int or None, default None
        Samples per trial; None: the ``trial_steps`` recorded in the recording's history
        (low-rank simulations), else one trial.
    chunk_steps : int, default 100
        Trials are cut into chunks of this many samples, each with its own fitted initial
        latent (shorter BPTT; the tail shorter than a chunk is dropped).
    rate_offset, rate_gain : float or None, default None
        Rate map ``rate = rate_offset + rate_gain·φ`` (Hz); None: the map a low-rank
        simulation recorded in the recording's history (``"lowrank_rates"``), else 10 Hz.
    n_restarts : int, default 3
    n_iter : int, default 300
        Adam iterations per restart.
    refine_iter : int, default 0
        L-BFGS iterations after Adam in every restart of every front-end fit
        (:func:`fit_lowrank`'s ``refine_iter``): the estimate's fit, and the gate's fits
        too unless ``gate_refine_iter`` sets them apart (data and surrogates are fitted
        the same way either way, so the gate keeps its level). 0: Adam alone. Adam stops
        short of the Poisson likelihood's optimum on long spike recordings; N = 1,000,
        4,608 s of spikes at 5–20 Hz, 300 Adam iterations (``benchmarks/results/lrquad2.md``):
        150 iterations cost the fit +45 % CPU (84–88 s against 59–62 s) and bring the
        fitted network's ring radius to 0.9153 against the data network's 0.9155 (Adam
        alone: 0.877) and the fitted loadings' error on the ring 6× down (0.0099 →
        0.0016); quadstable's and bistable's distances are unchanged, limit cycle's
        rises within its target (0.048 → 0.062 with ``lowrank_flow``'s
        ``targets_from="units"``). On quadstable 150 iterations leave the loss above the
        true rates' (+5e-5 and +2.2e-4 per bin on two data seeds), 400 bring it below
        (−2.2e-4, −1.4e-4) at 130 s CPU for the fit (``benchmarks/results/lrquad3.md``).
    refine_restarts : int or None, default 1
        L-BFGS refines only this many restarts of every front-end fit, those lowest after
        Adam (:func:`fit_lowrank`); None: all (the default before session 40). On five
        presets (N = 1,000, 100 s of spikes) the restart best after Adam was best after
        L-BFGS in 5 / 5 fits, so 1 returns the same network with ≈ 45 % fewer loss
        evaluations (``benchmarks/results/lrtime38.md``); on the five null families
        (20 units, 120 s) the gate stays closed with it, at p-values within 0.01 of
        those with every restart refined (``lrtime40.md``).
    lr : float, default 0.01
    min_spikes : int, default 1
        Units with fewer spikes (or signal integral) are left out.
    seed : int or SeedSequence, default 0
    device : {"cpu", "cuda"}, default "cpu"
    n_surrogates : int, default 3
        Shift-surrogate refits of the gate (0, or >= 2; used with ``shift_test="refit"``,
        which ``"auto"`` picks where the held-out reversal test does not run); each
        costs one more fit (20
        units, 60 s of spikes: 24 s for the fit, 90 s for three surrogates under load,
        lrnull.md). 0: no gate at all (nor reversal test) and no p-values;
        ``adjacency()`` then tests the weights' robust z alone, which calls pairs of
        unconnected units (heavy tails).
    n_reversals : int, default 3
        Fits of the gate's reversal test (0, or >= 2): folds of the held-out test (each
        fit on the other folds; fewer, down to 2, if there are fewer than 2 chunks per
        fold; with fewer than 5 chunks the test is not run and the gate stays closed,
        with a warning) or reversal surrogates. 0: the shift test alone (the gate of
        ``benchmarks/results/lrcomod.md``).
    reversal_test : {"heldout", "surrogates"}, default "heldout"
        The reversal test of the gate (see the decision above).
    gate_restarts : int or None, default 1
        Restarts of each of the gate's fits (the drive fit on the data and every
        surrogate; data and surrogates are fitted alike, so the tests keep their level
        whatever it is); the estimate's weights come from the plain fit with
        ``n_restarts``. None: ``n_restarts``. With the default ``n_restarts=3`` the gate's
        seven fits then cost about what lrcomod's four fits with three restarts did.
    gate_units : int or None, default 100
        Units of the gate's fits (>= ``rank``): when more units are usable, the gate's
        fits — the data's fit with the drive input (or, with ``drive_timescale=None``, a
        plain fit with ``gate_restarts``) and every surrogate and held-out fold — all use
        the same ``gate_units`` of them, drawn without replacement from the seed's own
        stream (``diagnostics["surrogate_gate"]["gate_units"]`` lists them). Data and
        surrogates then stay fitted alike, so the tests keep their level; the estimate's
        weights still come from the fit on every usable unit. Each gate fit costs about
        ``gate_units / N`` of a full one without inputs (time is linear in the units;
        the gate's drive inputs double it); times in ``benchmarks/results/lrtime40.md``.
        None: every usable unit.
    n_jobs : int or None, default None
        Processes for the gate's fits, this one included: the workers start once the
        estimate's front-end fit is done, with one torch thread each (the data's drive
        fit and the held-out test are one task, every surrogate another). None: one per
        torch thread of this process (``torch.get_num_threads()``: the cores unless
        ``torch.set_num_threads`` or ``OMP_NUM_THREADS`` say fewer; one in a sweep's
        workers) when the gate's recording has at least 10⁶ samples × units
        (``_lowrank_gate_pool.MIN_POOL_ELEMENTS``; e.g. 100 units × 100 s at 10 ms) and
        the fits run on the CPU, else 1; ``-1``: every available CPU; 1: every fit in this
        process. The decision is the same up to floating-point round-off (the threads
        change the order of sums); times in ``benchmarks/results/lrtime41.md``. Without
        fork (macOS, Windows) workers are spawned and a script needs the
        ``if __name__ == "__main__":`` guard.
    drive_timescale : float or None, default 0.1
        Middle sd (s) of the Gaussian smoothings of the shared-drive inputs of the gate's
        fits (:func:`shared_drive`; > 0). None: the gate fits have no input (the decision of
        ``lrnull.md``, which passes on co-modulated units; one fit fewer).
    min_gain : float, default 0.01
        Smallest relative improvement of the fit's loss on the surrogates' mean
        (``mean L_k / L − 1`` over the shift surrogates, in [0, 1)) for the gate to
        pass, besides its two t tests at 0.05 (see the decision above). 0: the tests
        alone.
    biases : {"auto", "fit", "zero"}, default "auto"
        The units' biases ``d`` in every front-end fit: ``"fit"`` fitted; ``"zero"`` held at
        0 (the latent field is then odd, ``F(−z) = −F(z)``, as in every low-rank preset);
        ``"auto"`` decided from the counts of each fit's recording (the estimate's, and
        every gate fit's on its own surrogate; the held-out reversal test's folds share
        the decision on the whole recording) by :func:`bias_test`: a likelihood-ratio
        test in the observation model (per-bin latents, per-unit loadings, with and
        without ``d``; χ² with N − R degrees of freedom, ``"fit"`` when p < 0.05; 10–20 s
        CPU at N = 1,000 and 1,800 bins). Below 20 spikes per unit and bin the test pools
        consecutive bins (up to whole chunks) and calibrates Λ by a 20-draw parametric
        bootstrap (0.3–6 s CPU at N = 20–200), only where it can change the decision
        (``bias_test(decide_only=True)``: not when the fits did not converge, nor when the
        uncalibrated p is already ≥ 0.05). A test whose fits did not converge decides
        ``"fit"``; for the estimate's fit a warning says so, the gate's fits count theirs
        in ``surrogate_gate``. Rate signals are not tested (``"fit"``).
        The decision and its evidence are ``diagnostics["biases"]``. Measured
        (``benchmarks/results/lrbias.md``, ``lrauto.md``): false alarms 2/40 at 0.05 on
        d = 0 networks (N = 200, 30 spikes per bin) and 7/118 at 0.125–2 spikes per bin
        (pooled and calibrated; 5/39 at 2 spikes; 40/180 without the calibration); biases of sd 0.01
        detected at N = 1,000 (z = 21), sd 0.1 at N = 200 and 0.125 spikes per bin
        (z = 2.5–5.7, 3 of 3 networks; sd 0.03: 2 of 3); the five null families (20
        units × 120 s): "fit" on every recording (their units' baseline rates differ).
        On the ring preset (N = 1,000, 4,608 s of spikes, session 20's flow options) the
        decision "zero" lifts the sampled networks' pass rate against the truth from
        57 % / 64 % to 93 % / 97 % (lrclose's rules A / B). The default since session
        23: on the other presets' data (N = 1,000, 30 spikes per bin, two data seeds;
        decision "zero" on all) the pass rates are at or above those of "fit" and the
        distances within the presets' seed-to-seed spread (bistable −6 % / +9 %,
        quadstable +0.2 % / −1.3 %, heavy_tailed +7.5 % / +1.5 %: the MSE of n, with
        the Sinkhorn term and fixed points as good or better), and the null families'
        gate stays closed (``benchmarks/results/lrauto.md``).
    halving : bool or "estimate", default True
        Successive halving of the starts of the front-end fits (:func:`fit_lowrank`):
        after each third of ``n_iter`` the worse half of the starts stops, so 4 starts
        cost 7 instead of 12 thirds of Adam. The fit is the one without halving whenever
        its winner leads the others at both checkpoints: on four preset recordings
        (N = 1,000, 100 s of spikes) the winner led from the 25th of 300 iterations on,
        and the issue's protocol (400 s) gives the same estimate; Adam stage 1.67×
        faster (``benchmarks/results/lrtime42.md``). True: the estimate's fit and every
        fit of the gate (2 starts each with the defaults: 4 instead of 6 thirds; data
        and surrogates are fitted alike, so the tests keep their level); ``"estimate"``:
        the estimate's fit only, the gate's fits run every start to the end; False: no
        fit is halved. The gate's p equals the one without halving its fits on the planted
        limit cycle and the five null families (no call on any); on the issue's protocol
        (quadstable, N = 1,000, 400 s) it moves from 1e-4 to 3.4e-4, still passed, the
        estimate unchanged, and the call takes 14.8 instead of 15.8 min on two cores
        (``benchmarks/results/lrtime43.md``).
    progress : bool, default False
        Progress bars (tqdm, on stderr) of each stage of the call: the bias test's fits,
        the Adam steps of the starts (the restarts and the Poisson start), the L-BFGS
        evaluations and the significance gate's fits (those the worker processes of
        ``n_jobs`` finish are counted as they arrive). Worth it from a few hundred units,
        where a call takes minutes.
    gate_refine_iter : int or None, default None
        L-BFGS iterations of the gate's fits (the data's drive fit, every surrogate and
        held-out fold; >= 0). None: ``refine_iter``. The gate compares fits made the
        same way, so any value keeps its level; what the refinement can buy the gate is
        power, and on the six preset recordings measured with ``lowrank_flow`` (whose
        default is 0) it changed no decision (``benchmarks/results/lrgate46.md``).
    shift_test : {"auto", "refit", "heldout"}, default "auto"
        The gate's test of structure between units (a. above). ``"refit"``:
        ``n_surrogates`` shift surrogates, each fitted from scratch, against the data's fit
        by the t prediction test (:func:`surrogate_gate`). ``"heldout"``: no surrogate
        fits; the held-out reversal test's fold fits (``reversal_test="heldout"``,
        ``n_reversals >= 2``) also score their held-out chunks in pairs with about half
        the units traded between the two chunks (:func:`swap_chunk_units`), and a
        sign-flip test asks whether the pairs' losses rise (:func:`heldout_reversal_test`,
        ``shift=True``); ``min_gain`` then applies to that test's gain (mean traded loss
        / mean loss − 1). ``"auto"`` (since session 48; ``"refit"`` before): the held-out
        test wherever the held-out reversal test runs on chunks enough for 5 pairs
        (:data:`MIN_SHIFT_PAIRS`), else the refitted surrogates.
        Either way ``diagnostics["surrogate_gate"]`` reports the held-out shift test when
        the reversal test is held out. Measured with ``lowrank_flow``'s gate
        (``benchmarks/results/lr48.md``), N = 1,000, 400 s of spikes: the limit cycle's
        gate opens on both networks (held-out p 1e-4, gain 1.47 / 1.68 %; the refitted
        surrogates' losses are bimodal there, p 0.23 / 0.14: closed); quadstable,
        bistable and ring stay open (gains 3.5, 1.07, 1.28 % on network 0); heavy_tailed
        stays closed on ``min_gain`` (0.61 / 0.54 %). Null families (no connections):
        the gate closed on all 52 recordings (five families, 20 units × 120 s, 8 seeds;
        four families, 40 units × 300 s, 3 seeds); the held-out test alone below 0.05 on
        8 of 40 small recordings (6 of 8 *bursting*: a unit traded with its drive input
        leaves the input's relation to the units it was computed from, so with
        ``drive_timescale`` the test is not exact) and 1 of 12 larger ones, where the
        refitted surrogates were below 0.05 on 3 of 12 (the three *updown*). The gate
        costs 1 + ``n_reversals`` fits instead of 1 + ``n_surrogates`` + ``n_reversals``.

    References
    ----------
    Valente A, Pillow JW, Ostojic S (2022) Extracting computational mechanisms from neural
    data using low-rank RNNs. NeurIPS 35.
    """

    name = "lowrank"
    reference = "Valente, Pillow & Ostojic 2022, NeurIPS (LINT)"
    settings_constraints = dict(_LowRankBase.base_constraints)

    def __init__(self, rank: int = 2, alpha: float = 0.2, bin_width: float | None = None,
                 trial_steps: int | None = None, chunk_steps: int = 100,
                 rate_offset: float | None = None, rate_gain: float | None = None,
                 n_restarts: int = 3,
                 n_iter: int = 300, lr: float = 0.01, min_spikes: int = 1, seed=0,
                 device: str = "cpu", n_surrogates: int = 3, n_reversals: int = 3,
                 gate_restarts: int | None = 1, drive_timescale: float | None = 0.1,
                 min_gain: float = 0.01, reversal_test: str = "heldout",
                 refine_iter: int = 0, biases: str = "auto",
                 refine_restarts: int | None = REFINE_RESTARTS,
                 gate_units: int | None = GATE_UNITS, n_jobs: int | None = None,
                 halving: bool | str = HALVING, progress: bool = False,
                 gate_refine_iter: int | None = None,
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
        self.n_surrogates = n_surrogates
        self.n_reversals = n_reversals
        self.gate_restarts = gate_restarts
        self.drive_timescale = drive_timescale
        self.min_gain = min_gain
        self.reversal_test = reversal_test
        self.refine_iter = refine_iter
        self.refine_restarts = refine_restarts
        self.gate_units = gate_units
        self.n_jobs = n_jobs
        self.biases = biases
        self.halving = halving
        self.progress = progress
        self.gate_refine_iter = gate_refine_iter
        self.shift_test = shift_test

    def _fit(self, ctx: FitContext) -> Estimate:
        fit, ok, info = self._front_end(ctx, halving=bool(self.halving),
                                        progress=self.progress)
        J = fit.weights()
        W = self._embed(J, ok, ctx)
        info.update(m=fit.m, n=fit.n, d=fit.d, fitted_units=ctx.units[ok].tolist())
        with self._gate_started(ctx) as gate:
            fields = self._decide(ctx, J, ok, fit.loss, gate)
        if "surrogate_gate" in fields:
            info["surrogate_gate"] = fields.pop("surrogate_gate")
        return ctx.estimate(self, weights=W, weight_unit="dimensionless (J = M Nᵀ/N)",
                            diagnostics=info, **fields)
