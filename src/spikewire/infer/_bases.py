"""Temporal bases for GLM filters (raised cosines on a log-stretched time axis)."""

from __future__ import annotations

import numpy as np

from spikewire._validation import check_int, check_positive

__all__ = ["population_covariates", "raised_cosine_log_basis"]


def raised_cosine_log_basis(n_basis: int, window: float, bin_width: float, *,
                            first_peak: float | None = None, offset: float | None = None,
                            last_peak: float | None = None) -> np.ndarray:
    """Raised-cosine basis on a log-stretched time axis (Pillow et al. 2008).

    Basis function ``b`` at lag ``t`` (s) is ``½ (1 + cos(clip((φ(t) − φ_b) π / Δ,
    −π, π)))`` with ``φ(t) = log(t + offset)``, peaks ``φ_b`` evenly spaced by ``Δ`` from
    ``φ(first_peak)`` such that the last function decays to 0 at ``window`` (default), or
    such that the last function peaks at ``last_peak``. Neighbouring functions overlap
    by half, so their sum is flat between the first and last peak; resolution is fine at
    short lags and coarse at long ones.

    Parameters
    ----------
    n_basis : int
        Number of basis functions (>= 1).
    window : float
        Longest lag covered, in s.
    bin_width : float
        Lag resolution in s; lags ``1..L`` bins, ``L = round(window / bin_width)``.
    first_peak : float, optional
        Lag of the first peak in s (default: one bin).
    offset : float, optional
        Log-stretch offset in s (default: one bin); larger is closer to linear spacing.
    last_peak : float, optional
        Lag of the last peak in s (``first_peak < last_peak <= window``, needs
        ``n_basis >= 2``). Default None: the last function decays to 0 at ``window``, so
        its peak (and a fitted filter's extremum) lies well inside the window; with
        ``last_peak = window`` the sum of the functions is flat up to the window's end
        and a filter can peak at any lag of the window.

    Returns
    -------
    ndarray of shape (L, n_basis)
        ``B[l - 1, b]``: basis function ``b`` at lag ``l`` bins (lag 0 is excluded, so the
        filters are strictly causal).
    """
    n_basis = check_int("n_basis", n_basis, minimum=1)
    window = check_positive("window", window, unit="s")
    bin_width = check_positive("bin_width", bin_width, unit="s")
    n_lags = int(round(window / bin_width))
    if n_lags < 1:
        raise ValueError(f"window ({window} s) must span at least one bin of {bin_width} s")
    first_peak = bin_width if first_peak is None else check_positive("first_peak", first_peak)
    offset = bin_width if offset is None else check_positive("offset", offset)
    if first_peak >= window:
        raise ValueError(f"first_peak ({first_peak} s) must be below window ({window} s)")
    t = bin_width * np.arange(1, n_lags + 1)
    phi = np.log(t + offset)
    lo, hi = np.log(first_peak + offset), np.log(window + offset)
    if last_peak is None:
        spacing = (hi - lo) / n_basis
    else:
        last_peak = check_positive("last_peak", last_peak, unit="s")
        if not first_peak < last_peak <= window * (1 + 1e-9):
            raise ValueError(f"last_peak ({last_peak} s) must lie above first_peak "
                             f"({first_peak} s) and at most at window ({window} s)")
        if n_basis < 2:
            raise ValueError("last_peak needs n_basis >= 2 (one function has one peak, "
                             "first_peak); use more functions or leave last_peak out")
        spacing = (np.log(last_peak + offset) - lo) / (n_basis - 1)
    peaks = lo + spacing * np.arange(n_basis)
    arg = np.clip((phi[:, None] - peaks[None, :]) * np.pi / spacing, -np.pi, np.pi)
    basis = 0.5 * (1 + np.cos(arg))
    # the first function covers all lags before its peak (flat onset of the filter)
    basis[t <= first_peak, 0] = 1.0
    return basis


def population_covariates(bins: np.ndarray, counts: np.ndarray, n_bins: int,
                          bin_width: float, timescales, gap: int = 0,
                          two_sided: bool = True) -> np.ndarray:
    """Standardised log population rate, smoothed at each time scale, centre left out.

    For time scale ``τ`` the population count ``P(t) = Σ_j y_j(t)`` is smoothed by the
    two-sided exponential kernel ``a^|k|`` (``a = exp(−bin_width / τ)``) restricted to
    ``|k| > gap`` bins, normalised by the same kernel applied to ones (so the edges are
    not biased low); the covariate is ``log(P̃(t) + ε)`` with ``ε`` 5 % of the mean
    count per bin, then centred and scaled to unit variance. Leaving out the centre
    (``gap`` = the coupling window) keeps every spike that could carry fast,
    pair-specific timing at ``t`` (the target's own count and the presynaptic spikes
    its coupling filters see) out of the covariate at ``t``: it carries only the slow
    state of the population.

    Parameters
    ----------
    bins, counts : ndarray
        Non-empty bins (int) and their spike counts, any units, any order.
    n_bins : int
        Number of bins.
    bin_width : float
        Bin width in s.
    timescales : sequence of float
        Smoothing time constants in s (each > bin_width).
    gap : int, default 0
        Half-width in bins of the left-out centre (lags ``|k| <= gap``; 0: the current
        bin only).
    two_sided : bool, default True
        False: past lags only (``k < −gap``), a causal covariate.

    Returns
    -------
    ndarray of shape (n_bins, len(timescales))
        One column per time scale (float64, C order); shape (n_bins, 0) when empty.
    """
    from scipy.signal import lfilter

    bin_width = check_positive("bin_width", bin_width, unit="s")
    taus = [check_positive("timescale", t, unit="s") for t in timescales]
    out = np.zeros((int(n_bins), len(taus)))
    if not taus or n_bins == 0:
        return out
    pop = np.bincount(np.asarray(bins, dtype=np.int64), weights=np.asarray(counts, float),
                      minlength=int(n_bins))[:int(n_bins)]
    ones = np.ones(int(n_bins))
    eps = 0.05 * max(float(pop.mean()), 1e-12)

    gap = int(gap)
    if gap < 0:
        raise ValueError(f"gap must be >= 0 bins, got {gap}")
    sh = gap + 1

    def smooth(x, a):
        fwd = lfilter([1.0], [1.0, -a], x)              # Σ_{k ≥ 0} a^k x(t − k)
        bwd = lfilter([1.0], [1.0, -a], x[::-1])[::-1]  # Σ_{k ≥ 0} a^k x(t + k)
        out = np.zeros_like(x)                          # Σ_{|k| > gap} a^|k| x(t + k)
        if sh < x.size:
            out[sh:] += fwd[:-sh]
            if two_sided:
                out[:-sh] += bwd[sh:]
        return out * a ** sh

    for c, tau in enumerate(taus):
        if tau <= bin_width:
            raise ValueError(f"population time scale {tau} s must exceed the bin width "
                             f"({bin_width} s); use a longer time scale or drop it")
        a = float(np.exp(-bin_width / tau))
        z = np.log(smooth(pop, a) / np.maximum(smooth(ones, a), 1e-300) + eps)
        sd = float(z.std())
        out[:, c] = (z - z.mean()) / sd if sd > 0 else 0.0
    return out
