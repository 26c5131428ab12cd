"""Scores for ring networks and for methods that predict spikes.

- :func:`profile_error`: the relative profile error Δ of Yoon (2025): align every inferred
  row to a common phase, average to one profile w̄, fit the scale c minimising
  ‖c·w̄ − w_true‖₁, rebuild the rotation-invariant matrix Ŵ from c·w̄ and report
  Δ = ‖W − Ŵ‖_F / ‖W‖_F; also the plain full-matrix error.
- :func:`bits_per_spike`: Poisson log-likelihood gain of predicted rates over a
  homogeneous rate per unit, in bits per spike.
"""

from __future__ import annotations

import numpy as np

from spikewire.infer.likelihood import bits_per_spike  # noqa: F401 - re-exported

__all__ = ["aligned_profile", "bits_per_spike", "l1_scale", "profile_error"]


def l1_scale(x: np.ndarray, y: np.ndarray) -> float:
    """The scale ``c`` minimising ``Σ|c·x − y|`` (a weighted median of ``y/x`` with weights
    ``|x|``; entries with ``x == 0`` do not depend on c). 0 if ``x`` is all zero."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same size, got {x.size} and {y.size}")
    keep = x != 0
    if not np.any(keep):
        return 0.0
    ratio = y[keep] / x[keep]
    weight = np.abs(x[keep])
    order = np.argsort(ratio, kind="stable")
    ratio, weight = ratio[order], weight[order]
    cum = np.cumsum(weight)
    k = int(np.searchsorted(cum, 0.5 * cum[-1]))
    return float(ratio[min(k, ratio.size - 1)])


def aligned_profile(weights: np.ndarray, positions: np.ndarray | None = None,
                    n_ring: int | None = None) -> np.ndarray:
    """Average of the rows of ``weights`` (post × pre) aligned to a common phase.

    Parameters
    ----------
    weights : ndarray, shape (m, m)
        Post × pre weights of the observed units.
    positions : ndarray of int, shape (m,), optional
        Ring index of each observed unit (default ``0..m-1``).
    n_ring : int, optional
        Neurons on the ring (default ``m``).

    Returns
    -------
    ndarray, shape (n_ring,)
        ``w̄[k]`` = mean of ``weights[i, j]`` over pairs with ``(pos_j − pos_i) mod n_ring
        == k``, i ≠ j; offsets without any observed pair (and k = 0) are 0.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"weights must be a square post x pre matrix, got shape {w.shape}")
    m = w.shape[0]
    pos = np.arange(m) if positions is None else np.asarray(positions, dtype=np.int64)
    n = m if n_ring is None else int(n_ring)
    if pos.shape != (m,) or (m and (pos.min() < 0 or pos.max() >= n)):
        raise ValueError(f"positions must hold one ring index in [0, {n}) per unit ({m})")
    off = (pos[None, :] - pos[:, None]) % n
    mask = ~np.eye(m, dtype=bool)
    total = np.bincount(off[mask], weights=w[mask], minlength=n)
    count = np.bincount(off[mask], minlength=n)
    prof = np.divide(total, count, out=np.zeros(n), where=count > 0)
    prof[0] = 0.0
    return prof


def profile_error(estimate, truth, *, positions: np.ndarray | None = None) -> dict:
    """Relative profile error Δ and full-matrix error of a ring estimate.

    Parameters
    ----------
    estimate : Estimate or ndarray, shape (m, m)
        Inferred post × pre weights of the observed units (an Estimate's ``true_index``
        gives their ring positions unless ``positions`` is given).
    truth : RingNetwork or ndarray, shape (n, n)
        True rotation-invariant weights (post × pre).
    positions : ndarray of int, shape (m,), optional
        Ring index of each observed unit.

    Returns
    -------
    dict
        ``delta`` (Δ = ‖W − Ŵ‖_F / ‖W‖_F over the observed pairs, Ŵ rebuilt from c·w̄),
        ``delta_full`` (the same with Ŵ = c_F·(the estimate itself), c_F the least-squares
        scale: the plain full-matrix error, free of the unknown scale of the estimate),
        ``delta_constant`` (Δ of a constant estimate, every observed pair the same weight:
        the score of an estimate that learned no profile shape at all, which a method
        must beat to show one; e.g. 0.38 on the default single-bump ring of 50 neurons,
        whose true weights are all negative), ``scale`` (c), ``profile`` (c·w̄ by ring
        offset, ndarray), ``true_profile`` and
        ``side_ratio``: the most extreme value of c·w̄ of the sign opposite to the true
        profile's peak over the height of c·w̄'s own peak, signed (e.g. −1.56: side troughs
        1.56 × deeper than the peak of an excitatory profile; 0 if there are none; NaN if
        c·w̄ has no value of the true peak's sign).
        Both errors use the off-diagonal observed pairs; the scale may be negative (methods
        whose weights are defined up to sign).
    """
    w_est = np.asarray(getattr(estimate, "weights", estimate), dtype=float)
    w_true = np.asarray(getattr(truth, "weights", truth), dtype=float)
    if w_true.ndim != 2 or w_true.shape[0] != w_true.shape[1]:
        raise ValueError(f"true weights must be square, got shape {w_true.shape}")
    n = w_true.shape[0]
    m = w_est.shape[0] if w_est.ndim == 2 else -1
    if positions is None:
        ti = getattr(estimate, "true_index", None)
        if ti is not None and np.all(np.asarray(ti) >= 0):
            positions = np.asarray(ti)
        elif m == n:
            positions = np.arange(n)
        else:
            raise ValueError(f"the estimate has {m} units and the ring {n} neurons: pass "
                             "positions (ring index of each observed unit)")
    pos = np.asarray(positions, dtype=np.int64)
    if not np.all(np.isfinite(w_est)):
        raise ValueError("estimated weights contain NaN or inf")
    prof = aligned_profile(w_est, pos, n)
    # true profile: rows of a rotation-invariant W aligned the same way
    true_prof = aligned_profile(w_true, np.arange(n), n)
    sub_true = w_true[np.ix_(pos, pos)]
    off = (pos[None, :] - pos[:, None]) % n
    mask = ~np.eye(pos.size, dtype=bool)
    norm = float(np.linalg.norm(sub_true[mask]))
    if norm == 0:
        raise ValueError("the true weights among the observed units are all zero")

    def _delta(profile):
        scale = l1_scale(profile[1:], true_prof[1:])
        return scale, float(np.linalg.norm((sub_true - scale * profile[off])[mask])) / norm

    c, delta = _delta(prof)
    # the floor of a profile-free estimate: every observed pair the same weight
    _, delta_constant = _delta(aligned_profile(np.ones((pos.size, pos.size)), pos, n))
    x = w_est[mask]
    denom = float(x @ x)
    c_f = float(x @ sub_true[mask]) / denom if denom > 0 else 0.0
    delta_full = float(np.linalg.norm(sub_true[mask] - c_f * x)) / norm
    tp = true_prof[1:]
    sign = 1.0 if tp.size == 0 or tp.max() >= -tp.min() else -1.0
    p = sign * c * prof[1:]
    peak = float(p.max()) if p.size else 0.0
    side_ratio = min(0.0, float(p.min())) / peak if peak > 0 else float("nan")
    return {"delta": delta, "delta_full": delta_full, "delta_constant": delta_constant,
            "scale": c,
            "profile": c * prof, "true_profile": true_prof, "side_ratio": side_ratio}
