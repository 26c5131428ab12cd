"""Are per-unit biases needed? A likelihood-ratio test in the observation model of the
low-rank methods (private helper of :mod:`spikewire.infer.lowrank`, issue 14).

Every unit's activity in a rank-R network is ``φ(m_i·z_t + d_i)``, whatever the dynamics
of ``z``. Spike counts of unit i in bin b are Poisson with mean
``scale_b · (rate_offset + rate_gain · tanh(m_i·z_b + d_i))``. Dropping the dynamics and
giving every bin its own latent ``z_b`` gives a nonlinear Poisson factor model, whose
maximum likelihood with the biases ``d`` (H1) and without them (H0: ``d = 0``) is cheap
(alternating Newton steps on the bins' latents and the units' loadings). The
likelihood-ratio statistic ``Λ = 2 (ℓ₁ − ℓ₀)`` is compared with χ² of ``N − R`` degrees
of freedom: under H0 the latents' free mean already absorbs biases in the span of the
loadings (``d = M c`` is ``z → z + c``), so H1 adds ``N − R`` parameters. Biases in that
span are therefore not detected (they do change the dynamics of the RNN model, where
the latent's origin is fixed by the decay ``−z``): the test asks whether the units'
offsets leave a trace outside the low-rank pattern.

Validity (``benchmarks/results/lrbias.md``, ``lrauto.md``): at N = 200–1,000 and about
30 pooled spikes per unit and bin (256 repeats of 10-ms bins at 5–20 Hz) the fits converge
in 5–30 rounds and Λ follows the χ² law (2/40 false alarms at 0.05). At low counts per bin
the per-bin maximum likelihood does not exist (latents and loadings run off to infinity:
a step-function rate fits the Poisson noise better than the smooth tanh; the first
versions' fits "did not converge"). Below ``min_count`` (20) spikes per unit and bin the
test therefore sums consecutive bins of every trial (:func:`pool_bins`, up to whole
trials), where the fits converge; with so few bins per latent the incidental latents
still inflate Λ (d = 0, N = 200: 27/60 false alarms at 0.05 at 0.06 spikes per 10-ms bin,
7/60 at 0.5, 6/60 at 2), which a parametric bootstrap from the H0 fit measures and
divides out (a Bartlett correction, ``n_calibration``): 7/118 false alarms at 0.05 at
0.125–2 spikes per bin (5/39 at 2). A fit that does not converge
still makes the decision "fit", the behaviour without the test, with a warning.
"""

from __future__ import annotations

import warnings

import numpy as np

from spikewire.infer._progress import progress_bar

#: Level of the bias test (``biases="auto"``): biases are fitted when p < this.
BIAS_TEST_LEVEL = 0.05
#: Mean spike count per unit and bin below which the test pools consecutive bins
#: (:func:`pool_bins`; below about this the per-bin maximum likelihood does not exist).
MIN_COUNT = 20.0
#: Draws of the parametric-bootstrap calibration when bins are pooled (``bias_test``).
N_CALIBRATION = 20


def _ll_terms(Y, x, off, gain, scale, axis: int) -> np.ndarray:
    """Poisson log-likelihood (without log y!) summed over ``axis`` of the inputs ``x``."""
    lam = scale * np.maximum(off + gain * np.tanh(x), 1e-9)
    return np.sum(Y * np.log(lam) - lam, axis=axis)


def _newton_ascent(Y, x_of, grad_fisher, theta, off, gain, scale, axis, n_newton=3,
                   max_step=1.0, halvings=6):
    """Damped Newton (Fisher scoring) steps on independent blocks of parameters (rows of
    ``theta``), each step halved until its block's log-likelihood does not fall, so every
    block ascends monotonically (plain steps oscillated by ~0.05 nats at low counts)."""
    for _ in range(int(n_newton)):
        x = x_of(theta)
        ll = _ll_terms(Y, x, off, gain, scale, axis)
        grad, fisher = grad_fisher(x)
        k = theta.shape[1]
        step = np.linalg.solve(fisher + 1e-9 * np.eye(k), grad[..., None])[..., 0]
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        step = step * np.minimum(1.0, max_step / np.maximum(norm, 1e-300))
        t = np.ones((theta.shape[0], 1))
        for _h in range(int(halvings)):
            ll_new = _ll_terms(Y, x_of(theta + t * step), off, gain, scale, axis)
            bad = ll_new < ll
            if not bad.any():
                break
            t[bad] *= 0.5
        t[_ll_terms(Y, x_of(theta + t * step), off, gain, scale, axis) < ll] = 0.0
        theta = theta + t * step
    return theta


def _derivs(Y, x, off, gain, scale):
    a = np.tanh(x)
    rate = np.maximum(off + gain * a, 1e-9)
    g1 = gain * (1 - a ** 2)
    return (Y / (scale * rate) - 1.0) * scale * g1, scale * g1 ** 2 / rate   # (bins, N)


def _unit_newton(Y, Z1, m, d, fit_bias: bool, off, gain, scale):
    """Newton steps on every unit's loadings ``(m_i[, d_i])``, the bins' latents fixed.
    ``Z1``: latents with a column of ones appended (bins, R+1)."""
    R = m.shape[1]
    X = Z1[:, :R + 1] if fit_bias else Z1[:, :R]
    theta = np.column_stack([m, d]) if fit_bias else m

    def x_of(th):
        return X @ th.T if fit_bias else X @ th.T + d

    def grad_fisher(x):
        w, h = _derivs(Y, x, off, gain, scale)
        return w.T @ X, np.einsum("bi,br,bs->irs", h, X, X)

    theta = _newton_ascent(Y, x_of, grad_fisher, theta, off, gain, scale, axis=0)
    return (theta[:, :R], theta[:, R]) if fit_bias else (theta, d)


def _loglik(Y, z, m, d, off, gain, scale) -> float:
    return float(_ll_terms(Y, z @ m.T + d, off, gain, scale, axis=None))


def _factor_fit(Y, z, m, d, fit_bias: bool, off, gain, scale, n_rounds: int, tol: float):
    """Alternate per-bin latents and per-unit loadings to the factor model's maximum
    likelihood (each round: Newton steps on the latents, then on the loadings; both
    monotone, so the log-likelihood never falls)."""
    ll_old = _loglik(Y, z, m, d, off, gain, scale)
    rounds = 0
    while rounds < int(n_rounds):
        rounds += 1
        z = _bin_latents(Y, z, m, d, off, gain, scale)
        Z1 = np.column_stack([z, np.ones(z.shape[0])])
        m, d = _unit_newton(Y, Z1, m, d, fit_bias, off, gain, scale)
        ll = _loglik(Y, z, m, d, off, gain, scale)
        done = abs(ll - ll_old) < tol
        ll_old = ll
        if done:
            break
    return z, m, d, ll_old, rounds


def _bin_latents(Y, z, m, d, off, gain, scale):
    """Newton steps on every bin's latent, the loadings fixed."""
    def x_of(zz):
        return zz @ m.T + d

    def grad_fisher(x):
        w, h = _derivs(Y, x, off, gain, scale)
        return w @ m, np.einsum("bi,ir,is->brs", h, m, m)

    return _newton_ascent(Y, x_of, grad_fisher, z, off, gain, scale, axis=1)


def pool_bins(counts, exposure, min_count: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Sum ``k`` consecutive bins of every trial so that the mean count per unit and pooled
    bin reaches ``min_count`` (``k = ceil(min_count / mean count)``, at most the trial's
    length; ``k = 1`` when it is reached already). A trial's last group may be shorter
    (its exposure is its length).

    Returns
    -------
    Y : ndarray, shape (n_pooled_bins, N)
    scale : ndarray, shape (n_pooled_bins, 1)
        Exposure of every pooled bin in units of ``bin_width`` (repeats × bins summed).
    k : int
    """
    Y3 = np.asarray(counts, dtype=float)
    K, T, N = Y3.shape
    expo = np.broadcast_to(np.asarray(exposure, dtype=float), (K,))
    mean = float(Y3.mean())
    k = T if mean <= 0 else int(min(T, max(1, np.ceil(min_count / mean))))
    starts = np.arange(0, T, k)
    Y = np.add.reduceat(Y3, starts, axis=1)                 # (K, groups, N)
    lengths = np.diff(np.append(starts, T)).astype(float)  # bins per group
    scale = (expo[:, None] * lengths[None, :]).reshape(-1, 1)
    return Y.reshape(-1, N), scale, k


def bias_test(counts, rank: int, *, rate_offset: float, rate_gain: float, bin_width: float,
              exposure=1.0, m_start=None, n_rounds: int = 100, tol: float = 0.05,
              min_count: float = MIN_COUNT, n_calibration: int | None = None,
              seed: int = 0, level: float = BIAS_TEST_LEVEL,
              progress: str | None = None, warn: bool = True,
              decide_only: bool = False) -> dict:
    """Likelihood-ratio test that the units' biases ``d`` are all 0 (module docstring).

    Parameters
    ----------
    counts : ndarray, shape (n_trials, n_steps, N)
        Spike counts per bin (pooled trials allowed: ``exposure``).
    rank : int
    rate_offset, rate_gain : float
        Rate map ``rate = rate_offset + rate_gain · tanh(·)``, Hz.
    bin_width : float
        Bin width, s.
    exposure : float or array_like of shape (n_trials,), default 1
        Repeats pooled into every trial (as for :func:`fit_lowrank`).
    m_start : ndarray, shape (N, rank), optional
        Starting loadings (e.g. the PCA start of :func:`fit_lowrank`); None: the top
        ``rank`` principal axes of ``arctanh`` of the clipped smoothed rates.
    n_rounds : int, default 100
        Largest number of alternating rounds per fit.
    tol : float, default 0.05
        Convergence: absolute change of the log-likelihood in a round, nats. The
        statistic's null sd is √(2(N − R)): 12 nats at N = 80, 45 at N = 1,000; near the
        optimum the alternating steps oscillate by a few hundredths of a nat (measured:
        ring, N = 80; the statistic moved by 0.3 between tol 0.001 and 0.02).
    min_count : float, default 20
        Smallest mean spike count per unit and bin at which the test runs on the bins as
        they are; below it consecutive bins of every trial are summed (:func:`pool_bins`,
        their latent taken as one). Below about 10 spikes per bin the per-bin latents and
        loadings of the factor model run off to infinity (the maximum likelihood does not
        exist: a step-function rate fits Poisson noise better than the smooth tanh), so
        the fits never converge (measured: quadstable, N = 200, 2 spikes per bin: after
        140 rounds max |z| 420 and still growing).
    n_calibration : int or None, default None
        Draws of a parametric bootstrap that calibrates Λ (a Bartlett correction): counts
        simulated from the H0 fit (its latents and loadings, d = 0), both fits repeated on
        each, and Λ divided by ``c = max(mean(Λ*) / df, 1)`` before the χ² comparison. With few
        spikes per bin the per-bin latents are incidental parameters whose estimation
        error inflates Λ (measured on d = 0 data, N = 200, 0.1–2 spikes per bin pooled to
        6–20: z up to +7 uncorrected, dispersion of the counts about the fit 0.96–1.01, so
        not a misfit). None: :data:`N_CALIBRATION` draws when bins are pooled (the mean
        count is below ``min_count``), none otherwise (at ≥ 20 spikes per bin the χ² law
        held: 2/40 false alarms at 0.05, ``lrbias.md``); 0: never.
    seed : int, default 0
        Seed of the calibration's counts (``numpy.random.default_rng``).
    level : float, default 0.05
        Decision level: ``"fit"`` when p < level, else ``"zero"``.
    progress : str or None, default None
        Label of a progress bar over the pairs of factor-model fits (the data's and the
        calibration draws'); None: none.
    warn : bool, default True
        Warn when the fits do not converge (``converged`` in the result says it either
        way; the low-rank methods pass False and say it in their own settings' terms).
    decide_only : bool, default False
        Run the calibration only where it can change the decision: not when the data's
        fits did not converge (the decision is "fit" then) nor when the uncalibrated p
        is at or above ``level`` (the correction only deflates Λ, so the calibrated p is
        at least as large: "zero"). The decision is the one of the full test, by
        construction; ``p``, ``statistic`` and ``z`` of a skipped calibration are the
        uncalibrated ones (a lower bound of the calibrated p), and
        ``calibration_skipped`` says why. The low-rank methods pass True: on the issue
        protocol's gate subsets the calibration is most of an unconverged or "zero"
        test's CPU time (``benchmarks/results/lrtime43.md``).

    Returns
    -------
    dict
        ``decision`` ("fit" when p < level or when a fit did not converge within
        ``n_rounds``, else "zero"), ``p``, ``pooled_bins`` (k of :func:`pool_bins`),
        ``mean_count`` (per unit and pooled bin), ``converged``, ``statistic`` (Λ, nats ×2), ``df``
        (N − R), ``z`` ((Λ − df)/√(2 df)), ``loglik_zero``, ``loglik_fit``,
        ``rounds`` (of the two fits), ``d_sd`` (sd of the fitted biases under H1, their
        part outside the span of the loadings), ``level``, ``bartlett`` (c; 1 without
        calibration), ``statistic_raw`` / ``z_raw`` (Λ before the correction; ``statistic``
        and ``z`` are after it), ``calibration_draws`` and ``calibration_converged``
        (draws whose two fits converged), ``calibration_skipped`` (None, or why
        ``decide_only`` skipped the calibration).
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.stats import chi2

    Y3 = np.asarray(counts, dtype=float)
    if Y3.ndim != 3 or not np.all(np.isfinite(Y3)) or np.any(Y3 < 0):
        raise ValueError(f"bias_test needs finite spike counts >= 0 of shape (n_trials, "
                         f"n_steps, n_units), got shape {Y3.shape}")
    K, T, N = Y3.shape
    if not isinstance(rank, int | np.integer) or not 1 <= rank < N:
        raise ValueError(f"rank={rank!r} must be an integer in [1, {N - 1}] (the bias test "
                         f"needs more units than the rank)")
    if not (0 < level < 1):
        raise ValueError(f"level={level!r} must lie in (0, 1)")
    for name, flag in (("warn", warn), ("decide_only", decide_only)):
        if not isinstance(flag, bool | np.bool_):
            raise ValueError(f"{name}={flag!r} must be True or False")
    if not (np.isfinite(min_count) and min_count >= 0):
        raise ValueError(f"min_count={min_count!r} must be a finite count >= 0 (spikes per "
                         f"unit and bin; 0: never pool bins)")
    if n_calibration is not None and (not isinstance(n_calibration, int | np.integer)
                                      or n_calibration < 0 or n_calibration == 1):
        raise ValueError(f"n_calibration={n_calibration!r} must be None, 0 or an integer "
                         f">= 2 (draws of the parametric bootstrap)")
    if not (np.isfinite(bin_width) and bin_width > 0):
        raise ValueError(f"bin_width={bin_width!r} must be a positive time in s")
    expo = np.asarray(exposure, dtype=float)
    if expo.ndim > 1 or (expo.ndim == 1 and expo.size != K) or not np.all(expo > 0) \
            or not np.all(np.isfinite(expo)):
        raise ValueError(f"exposure={exposure!r} must be a positive number or one per trial "
                         f"({K})")
    expo = np.broadcast_to(expo, (K,))
    off, gain = float(rate_offset), float(rate_gain)
    Yp, scale_bins, k = pool_bins(Y3, expo, min_count)
    Tp = Yp.shape[0] // K
    scale = scale_bins * float(bin_width)                            # (pooled bins, 1)
    Y = Yp
    # start: PCA of arctanh of the smoothed, clipped rates (as fit_lowrank's start)
    rate = (Yp / scale).reshape(K, Tp, N)
    if 2.0 / k >= 0.5:                         # 2 original bins, in pooled bins
        rate = gaussian_filter1d(rate, 2.0 / k, axis=1, mode="nearest")
    X = np.arctanh(np.clip((rate - off) / gain, -0.95, 0.95)).reshape(-1, N)
    mu = X.mean(0)
    U, s, Vt = np.linalg.svd(X - mu, full_matrices=False)
    sc = np.sqrt(X.shape[0])
    m0 = Vt[:rank].T * s[:rank] / sc if m_start is None else np.asarray(m_start, float)
    z0 = U[:, :rank] * sc
    B = (N_CALIBRATION if k > 1 else 0) if n_calibration is None else int(n_calibration)
    bar = progress_bar(progress, 1 + B, "bias test, pairs of factor-model fits")
    # H0 first (d = 0), then H1 started from H0's optimum: ℓ₁ ≥ ℓ₀ by construction
    z_0, m_0, d_0, ll0, r0 = _factor_fit(Y, z0, m0.copy(), np.zeros(N), False, off, gain,
                                         scale, n_rounds, tol)
    z_1, m_1, d_1, ll1, r1 = _factor_fit(Y, z_0, m_0.copy(), np.zeros(N), True, off, gain,
                                         scale, n_rounds, tol)
    bar.update()
    lam_raw = max(2.0 * (ll1 - ll0), 0.0)
    df = N - rank
    converged = max(r0, r1) < int(n_rounds)
    skipped = None
    if decide_only and B:
        if not converged:
            skipped = "the data's fits did not converge: the decision is 'fit' either way"
        elif chi2.sf(lam_raw, df) >= level:
            skipped = ("uncalibrated p >= level: the calibration only raises p, the "
                       "decision is 'zero' either way")
        if skipped is not None:
            B = 0
            bar.total = 1
            bar.refresh()
    lam_star, conv_star = [], 0
    rng = np.random.default_rng(seed)
    mu0 = scale * np.maximum(off + gain * np.tanh(z_0 @ m_0.T), 1e-9)
    for _ in range(B):
        Ys = rng.poisson(mu0).astype(float)
        zs0, ms0, _d, ls0, rs0 = _factor_fit(Ys, z_0, m_0.copy(), np.zeros(N), False, off,
                                             gain, scale, n_rounds, tol)
        _z, _m, _d, ls1, rs1 = _factor_fit(Ys, zs0, ms0.copy(), np.zeros(N), True, off,
                                           gain, scale, n_rounds, tol)
        lam_star.append(max(2.0 * (ls1 - ls0), 0.0))
        conv_star += int(max(rs0, rs1) < int(n_rounds))
        bar.update()
    bar.close()
    # never above 1 (a correction only deflates Λ: conservative; the draws' mean has a
    # relative sd of about 1/√(B df / 2), 2 % at B = 20, df = 198)
    c = max(float(np.mean(lam_star)) / df, 1.0) if B else 1.0
    lam = lam_raw / c
    p = float(chi2.sf(lam, df))
    if not converged and warn:
        warnings.warn(f"bias_test: the factor model's fits did not converge in "
                      f"n_rounds={n_rounds} rounds (rounds {r0}, {r1}; {k} bins pooled, "
                      f"{Y.mean():.1f} spikes per unit and pooled bin); the test is not "
                      f"valid then and the decision is 'fit' (fitted biases, as without the "
                      f"test); a larger n_rounds or min_count may converge",
                      stacklevel=2)
    # the fitted biases' part outside the span of the loadings (the part H0 cannot absorb)
    Q, _ = np.linalg.qr(m_1)
    d_out = d_1 - Q @ (Q.T @ d_1)
    return {"decision": "fit" if (p < level or not converged) else "zero", "p": p,
            "converged": bool(converged), "statistic": float(lam),
            "df": int(df), "z": float((lam - df) / np.sqrt(2.0 * df)),
            "statistic_raw": float(lam_raw), "z_raw": float((lam_raw - df) / np.sqrt(2.0 * df)),
            "bartlett": c, "calibration_draws": B, "calibration_converged": conv_star,
            "calibration_skipped": skipped,
            "loglik_zero": ll0, "loglik_fit": ll1, "rounds": [int(r0), int(r1)],
            "d_sd": float(d_out.std()), "level": float(level), "pooled_bins": int(k),
            "mean_count": float(Y.mean())}
