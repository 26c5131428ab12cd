"""Scores of inferred low-rank loading distributions: a debiased Sinkhorn divergence between
point clouds and the distance used by Kim et al. (2026): Sinkhorn(m_inferred, m_true) +
MSE(n_inferred, E_true[n | m])."""

from __future__ import annotations

import numpy as np

__all__ = ["sinkhorn_divergence", "sinkhorn_matrix", "sinkhorn_mean", "align_latent_basis",
           "true_conditional_mean", "loading_distance", "dynamics_signature", "hill_tail_index",
           "score_lowrank"]


def _lse(a, axis):
    """``log Σ exp(a)`` along ``axis`` (max-shifted; the value of scipy's ``logsumexp`` to
    rounding, about 3× faster on 1,000 × 1,000 arrays: no masking of infinities, which the
    finite cost matrices here never have)."""
    mx = a.max(axis=axis, keepdims=True)
    return np.log(np.exp(a - mx).sum(axis=axis)) + np.squeeze(mx, axis=axis)


def _ot_eps(x, y, eps, n_iter, tol):
    """Entropic OT value ⟨a, f⟩ + ⟨b, g⟩ (uniform weights, cost |x − y|²/2), log domain."""
    C = 0.5 * ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    la, lb = -np.log(x.shape[0]), -np.log(y.shape[0])
    f, g = np.zeros(x.shape[0]), np.zeros(y.shape[0])
    # ε-scaling (as geomloss): anneal from the squared diameter down to ε, halving the blur
    # each stage, then iterate at ε until the potentials settle
    e = max(float(C.max()), eps)
    schedule = []
    while e > eps:
        schedule.append(e)
        e /= 4.0
    for e in [*schedule, *([eps] * int(n_iter))]:
        # symmetric (averaged) updates, as geomloss: faster and stable at small ε
        f_new = 0.5 * (f - e * _lse(lb + (g[None, :] - C) / e, axis=1))
        g_new = 0.5 * (g - e * _lse(la + (f[:, None] - C) / e, axis=0))
        done = e == eps and max(np.abs(f_new - f).max(), np.abs(g_new - g).max()) < tol
        f, g = f_new, g_new
        if done:
            break
    # a last full (non-averaged) update makes the value the dual objective at convergence
    f = -eps * _lse(lb + (g[None, :] - C) / eps, axis=1)
    g = -eps * _lse(la + (f[:, None] - C) / eps, axis=0)
    return float(f.mean() + g.mean())


def sinkhorn_divergence(x, y, *, blur: float = 0.05, n_iter: int = 300,
                        tol: float = 1e-7) -> float:
    """Debiased Sinkhorn divergence ``S(x, y) = OT_ε(x, y) − ½OT_ε(x, x) − ½OT_ε(y, y)``.

    The conventions of geomloss ``SamplesLoss("sinkhorn", p=2, blur=blur)``: uniform
    weights, cost ``|x − y|²/2``, ``ε = blur²``. ``S`` is ≥ 0, 0 for equal clouds, and
    ``|v|²/2`` between a cloud and its translate by ``v``. With the default 300 iterations
    after ε-scaling the value is approximate: on unit-scale clouds of ~150 points it was
    within 0.5 % (translation) to 3 % (different clouds) of the converged value (measured);
    raise ``n_iter`` for more.

    Parameters
    ----------
    x : ndarray, shape (n, D)
    y : ndarray, shape (k, D)
    blur : float, default 0.05
        Entropic blur (same units as the points).
    n_iter : int, default 300
        Maximum Sinkhorn iterations at the final blur after ε-scaling (log domain).
    tol : float, default 1e-7
        Stop when the potentials change by less than this.
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape} and {y.shape}")
    if not blur > 0:
        raise ValueError(f"blur={blur!r} must be > 0")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("point clouds contain non-finite values")
    eps = float(blur) ** 2
    return (_ot_eps(x, y, eps, n_iter, tol) - 0.5 * _ot_eps(x, x, eps, n_iter, tol)
            - 0.5 * _ot_eps(y, y, eps, n_iter, tol))


def sinkhorn_matrix(xs, ys, *, blur: float = 0.05, n_iter: int = 300,
                    tol: float = 1e-7) -> np.ndarray:
    """Debiased Sinkhorn divergences between every cloud of ``xs`` and every cloud of ``ys``.

    Equal to ``[[sinkhorn_divergence(x, y) for y in ys] for x in xs]`` (same conventions),
    but each cloud's self-term ``OT_ε(x, x)`` is computed once: ``len(xs)·len(ys)`` cross
    terms plus ``len(xs) + len(ys)`` self terms instead of three problems per pair.

    Parameters
    ----------
    xs, ys : sequence of ndarray, each of shape (n_k, D)
    blur, n_iter, tol
        As for :func:`sinkhorn_divergence`.

    Returns
    -------
    ndarray, shape (len(xs), len(ys))
    """
    xs = [np.atleast_2d(np.asarray(x, dtype=float)) for x in xs]
    ys = [np.atleast_2d(np.asarray(y, dtype=float)) for y in ys]
    if not xs or not ys:
        raise ValueError("xs and ys must each hold at least one point cloud")
    dims = {c.shape[1] for c in xs + ys}
    if len(dims) != 1:
        raise ValueError(f"all clouds must have the same dimension, got dimensions "
                         f"{sorted(dims)}")
    if not blur > 0:
        raise ValueError(f"blur={blur!r} must be > 0")
    if not all(np.all(np.isfinite(c)) for c in xs + ys):
        raise ValueError("point clouds contain non-finite values")
    eps = float(blur) ** 2
    sx = [_ot_eps(x, x, eps, n_iter, tol) for x in xs]
    sy = [_ot_eps(y, y, eps, n_iter, tol) for y in ys]
    out = np.empty((len(xs), len(ys)))
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            out[i, j] = _ot_eps(x, y, eps, n_iter, tol) - 0.5 * sx[i] - 0.5 * sy[j]
    return out


def sinkhorn_mean(xs, y, *, blur: float = 0.05, n_iter: int = 300,
                  tol: float = 1e-7) -> tuple[float, float]:
    """Mean and standard error of the debiased Sinkhorn divergence between K independent
    draws of one distribution and a fixed cloud.

    ``S_k = sinkhorn_divergence(xs[k], y)`` (same conventions); returns ``(mean_k S_k,
    sd_k S_k / √K)`` (sample sd, ``ddof=1``). The estimator used by the low-rank benchmark
    for the m-distribution term: ``y`` all N units of the true network, ``xs`` K draws of
    ≥ N samples from the inferred distribution. The standard error is the Monte-Carlo
    error of the draws of ``xs`` given ``y``; a finite cloud also biases ``S`` upwards
    (by ``E S`` between two samples of one distribution, smaller for larger clouds), which
    the standard error does not include. ``y``'s self-term is computed once.

    Parameters
    ----------
    xs : sequence of ndarray, each of shape (n_k, D)
        K ≥ 2 independent draws (for one draw the standard error is undefined).
    y : ndarray, shape (m, D)
    blur, n_iter, tol
        As for :func:`sinkhorn_divergence` (``blur`` in the points' units).

    Returns
    -------
    mean : float
        Mean divergence over the draws (units of squared ``blur``: cost ``|x − y|²/2``).
    se : float
        Its standard error ``sd / √K``.
    """
    if isinstance(xs, np.ndarray) and xs.ndim == 2:
        raise ValueError("xs must be a sequence of K >= 2 point clouds, got one array of "
                         f"shape {xs.shape}; pass [cloud_1, ..., cloud_K]")
    if len(xs) < 2:
        raise ValueError(f"xs holds {len(xs)} cloud(s); pass K >= 2 independent draws "
                         "(the standard error needs two)")
    vals = sinkhorn_matrix(xs, [y], blur=blur, n_iter=n_iter, tol=tol)[:, 0]
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(vals.size))


def align_latent_basis(m_fit, m_true) -> np.ndarray:
    """The invertible ``A`` (R, R) minimising ``‖M_fit A − M_true‖`` (least squares over the
    same units): ``M_fit A`` and ``N_fit A⁻ᵀ`` express a fit in the true latent basis."""
    A, *_ = np.linalg.lstsq(np.asarray(m_fit, dtype=float), np.asarray(m_true, dtype=float),
                            rcond=None)
    return A


def true_conditional_mean(network, m) -> np.ndarray:
    """``E[n | m]`` of a preset's loading distribution at the points ``m`` (n_points, R).

    Gaussian presets and ``heavy_tailed``: ``C m`` (zero means, ``cov(m) = I``); quadstable:
    the mixture's posterior-weighted component means of n.
    """
    spec = network.spec
    m = np.atleast_2d(np.asarray(m, dtype=float))
    if "C" in spec:
        return m @ np.asarray(spec["C"]).T
    if "mu_m" in spec:
        s2 = float(np.asarray(spec["cov_within"])[0, 0])
        logw = -((m[:, None, :] - spec["mu_m"][None]) ** 2).sum(-1) / (2 * s2)
        w = np.exp(logw - logw.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        return w @ spec["mu_n"]
    raise ValueError(f"network {network.name!r} has no known loading distribution (preset "
                     f"networks only)")


def loading_distance(network, m_samples, m_units, n_units, *, blur: float = 0.05,
                     max_points: int = 1000, seed=0) -> dict:
    """Kim et al.'s distance between an inferred loading distribution and a preset's.

    Parameters
    ----------
    network : LowRankNetwork
        The true preset (its ``spec`` gives ``E[n | m]``).
    m_samples : ndarray, shape (k, R)
        Samples of the inferred m-distribution, in the true latent basis.
    m_units, n_units : ndarray, shape (u, R)
        Inferred m and n of units (true basis), compared with ``E_true[n | m_units]``.
    max_points : int, default 1000
        Both clouds are subsampled to at most this many points (the O(n²) Sinkhorn).

    Returns
    -------
    dict
        ``sinkhorn`` (m-distributions), ``mse_n`` (mean over units and dims of
        ``(n − E_true[n|m])²``) and ``total`` (their sum).
    """
    rng = np.random.default_rng(seed)
    mt = network.m
    ms = np.asarray(m_samples, dtype=float)
    if mt.shape[0] > max_points:
        mt = mt[rng.choice(mt.shape[0], max_points, replace=False)]
    if ms.shape[0] > max_points:
        ms = ms[rng.choice(ms.shape[0], max_points, replace=False)]
    sk = sinkhorn_divergence(ms, mt, blur=blur)
    mse = float(np.mean((np.asarray(n_units) - true_conditional_mean(network, m_units)) ** 2))
    return {"sinkhorn": sk, "mse_n": mse, "total": sk + mse}


def dynamics_signature(network, z0, *, n_steps: int = 400, settle: int = 200,
                       tol: float = 0.05) -> dict:
    """Basis-free summary of a low-rank network's attractors: where trials from ``z0`` end
    up, and the period if they oscillate.

    The latent basis of a fitted or sampled network is arbitrary; the unit inputs
    ``x_i = m_i·z`` are not. The *radius* of a state is ``√(mean_i (m_i·z)²)`` (for
    ``cov(m) = I`` it is ``|z|``), so signatures of networks in different bases compare.

    Parameters
    ----------
    network : LowRankNetwork
    z0 : ndarray, shape (n_trials, R)
        Initial latents in the network's own basis.
    n_steps : int, default 400
        Steps simulated (Δt = ``network.dt``).
    settle : int, default 200
        Steps discarded before the attractor is measured (must be < ``n_steps − 2``).
    tol : float, default 0.05
        Relative tolerance: a trial is static if its radius varies by less than ``tol``
        of its mean over the measured steps, and two static end states are the same fixed
        point if their input patterns differ by less than ``tol`` times the radius (rms over
        units).

    Returns
    -------
    dict
        ``radius`` (median end-state radius over trials, dimensionless), ``radii`` (per
        trial), ``oscillating`` (fraction of trials that keep oscillating: at least two
        upward crossings of their mean by the input projection on the leading axis of
        cov(m), with a swing above ``tol`` of the radius), ``period_s`` (median period in s
        over oscillating trials, from those crossings; NaN if none), ``n_fixed_points``
        (distinct end states of the other trials, excluding the origin, radius below
        ``tol``; on a ring attractor, where finite-N trials end anywhere on the ring, this
        counts end points, not isolated fixed points).
    """
    from spikewire.simulate.lowrank import simulate_lowrank

    if not isinstance(settle, int | np.integer) or not 0 <= settle < n_steps - 2:
        raise ValueError(f"settle={settle!r} must be an integer in [0, n_steps − 2) with "
                         f"n_steps={n_steps}")
    if not tol > 0:
        raise ValueError(f"tol={tol!r} must be > 0")
    z = simulate_lowrank(network, z0, int(n_steps)).latents[:, settle:]     # (K, T, R)
    m = network.m
    G = m.T @ m / m.shape[0]                         # radius² = zᵀ G z
    r = np.sqrt(np.einsum("ktr,rs,kts->kt", z, G, z))
    radii = r[:, -1]
    # a trial oscillates if its input pattern swings by more than tol of its radius and
    # crosses its mean upwards at least twice in the window (a drift along a ring, or a
    # monotone approach to a fixed point, does neither)
    w = np.linalg.eigh(G)[1][:, -1]
    moved = np.zeros(z.shape[0], dtype=bool)
    periods = []
    for k in range(z.shape[0]):
        x = z[k] @ w
        x = x - x.mean()
        up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
        if up.size >= 2 and np.ptp(x) > tol * max(radii[k], 1e-12):
            moved[k] = True
            frac = up + x[up] / (x[up] - x[up + 1])      # linear interpolation
            periods.append(np.mean(np.diff(frac)) * network.dt)
    period = float(np.median(periods)) if periods else np.nan
    ends = z[~moved & (radii > tol), -1]
    centres: list[np.ndarray] = []
    for e in ends:
        re = np.sqrt(e @ G @ e)
        if not any(np.sqrt((e - c) @ G @ (e - c)) < tol * re for c in centres):
            centres.append(e)
    return {"radius": float(np.median(radii)), "radii": radii,
            "oscillating": float(moved.mean()), "period_s": period,
            "n_fixed_points": len(centres)}


def hill_tail_index(x, frac: float = 0.1) -> float:
    """Hill estimator of the tail index of ``|x|`` from its top ``frac`` order statistics
    (all entries pooled). For a Student-t with ν degrees of freedom it tends to ν as the
    sample grows, with a low bias at finite ``frac`` (ν = 3, frac 0.1: 2.46 on 200,000
    values, measured); its relative sd is about ``1/√(frac · size)``.

    Parameters
    ----------
    x : array_like
    frac : float, default 0.1
        Fraction of the largest magnitudes used (in (0, 0.5]).
    """
    if not 0 < frac <= 0.5:
        raise ValueError(f"frac={frac!r} must be in (0, 0.5]")
    a = np.sort(np.abs(np.asarray(x, dtype=float).ravel()))[::-1]
    k = max(int(frac * a.size), 2)
    if a.size <= k or a[k] <= 0:
        raise ValueError(f"hill_tail_index needs more than {k} non-zero values, got {a.size}")
    return float(1.0 / np.mean(np.log(a[:k] / a[k])))


def score_lowrank(network, estimate, *, max_points: int = 400, seed=0) -> dict:
    """Scores of a ``lowrank`` or ``lowrank_flow`` estimate against a low-rank preset.

    The fitted loadings (``estimate.diagnostics``: ``m``, ``n`` or ``n_posterior_mean``,
    ``fitted_units``, and for the flow its ``distribution``) are brought into the true
    latent basis by :func:`align_latent_basis` on the fitted units.

    Parameters
    ----------
    network : LowRankNetwork
        The true preset network (its ``spec`` gives ``E[n | m]``).
    estimate : Estimate
        With ``true_index`` (observed unit → true unit).
    max_points : int, default 400
        Points per cloud of the Sinkhorn divergence (its sampling floor between two
        independent 400-point samples of N(0, I) is 0.02–0.03).
    seed : int, default 0
        Seeds the subsampling and the flow's samples.

    Returns
    -------
    dict
        ``lr_sinkhorn_m`` (inferred m-distribution vs the true units' m: the flow's samples,
        or the plain fit's units), ``lr_mse_n`` (mean of ``(n − E_true[n|m])²`` at the
        fitted units: the flow's posterior mean, or the plain fit's n), ``lr_distance`` (their
        sum, Kim et al.'s distance), ``lr_r2`` (front-end fit's R² of the activity),
        ``lr_weight_corr`` and ``lr_weight_corr_identified`` (Pearson correlation of the
        estimated J with the true J and with its identified part ``m E[n|m]ᵀ/N`` over
        observed off-diagonal pairs), ``lr_tail_m`` / ``lr_tail_m_true`` (Hill tail index of
        the inferred m-distribution: N flow samples, or the plain fit's units / of the true
        m of the fitted units), ``lr_tail_n`` / ``lr_tail_n_true`` (the same for the inferred
        n at the fitted units, without the flow's residual) and ``lr_n_units``.
    """
    from spikewire.core.lowrank import LowRankNetwork

    if not isinstance(network, LowRankNetwork):
        raise TypeError(f"network must be a LowRankNetwork, got {type(network).__name__}")
    diag = estimate.diagnostics
    if "m" not in diag or "fitted_units" not in diag:
        raise ValueError(f"estimate of method {estimate.method!r} has no fitted loadings "
                         f"(diagnostics 'm' and 'fitted_units'): score_lowrank scores the "
                         f"lowrank and lowrank_flow methods")
    rng = np.random.default_rng(seed)
    pos = np.asarray(diag["fitted_units"], dtype=int)
    idx = np.asarray(estimate.true_index)[pos]
    m_fit = np.asarray(diag["m"], dtype=float)
    n_fit = np.asarray(diag.get("n_posterior_mean", diag.get("n")), dtype=float)
    A = align_latent_basis(m_fit, network.m[idx])
    Ait = np.linalg.inv(A).T
    m_u, n_u = m_fit @ A, n_fit @ Ait
    dist = diag.get("distribution")
    m_all = (dist.sample(max(max_points, network.n_neurons), seed=seed)["m"] @ A
             if dist is not None else m_u)
    m_s = m_all
    mt = network.m
    if m_s.shape[0] > max_points:
        m_s = m_s[rng.choice(m_s.shape[0], max_points, replace=False)]
    if mt.shape[0] > max_points:
        mt = mt[rng.choice(mt.shape[0], max_points, replace=False)]
    sk = sinkhorn_divergence(m_s, mt)
    mse = float(np.mean((n_u - true_conditional_mean(network, m_u)) ** 2))
    out = {"lr_sinkhorn_m": sk, "lr_mse_n": mse, "lr_distance": sk + mse,
           "lr_r2": float(diag.get("r2", np.nan)), "lr_n_units": int(idx.size)}
    obs = np.asarray(estimate.true_index)
    W = np.asarray(estimate.weights, dtype=float)
    J = network.weights()[np.ix_(obs, obs)]
    mo = network.m[obs]
    J_id = mo @ true_conditional_mean(network, mo).T / network.n_neurons
    off = ~np.eye(obs.size, dtype=bool)
    sel = off & np.isfinite(W)
    sel[np.ix_(np.setdiff1d(np.arange(obs.size), pos), np.arange(obs.size))] = False
    sel[:, np.setdiff1d(np.arange(obs.size), pos)] = False
    for key, ref in (("lr_weight_corr", J), ("lr_weight_corr_identified", J_id)):
        w, r = W[sel], ref[sel]
        out[key] = float(np.corrcoef(w, r)[0, 1]) if w.size > 2 and w.std() > 0 else np.nan
    for key, inferred, true in (("lr_tail_m", m_all, network.m[idx]),
                                ("lr_tail_n", n_u, network.n[idx])):
        try:
            out[key], out[key + "_true"] = hill_tail_index(inferred), hill_tail_index(true)
        except ValueError:
            out[key] = out[key + "_true"] = np.nan
    return out
