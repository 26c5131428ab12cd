"""Cross-correlogram (CCG) connectivity: excess / deficit of spike pairs at short lags.

Lag convention: the CCG of the pair (post ``i``, pre ``j``) counts spike pairs at lag
``t_post - t_pre``; a monosynaptic excitatory link appears as a peak at small positive
lags (post fires after pre), an inhibitory link as a trough there.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from scipy import special

from spikewire.core.spiketrains import SpikeTrains
from spikewire.infer import _ccg_kernels as K
from spikewire.infer._params import Boolean, Interval, Options, RealSequence, SeedLike
from spikewire.infer.base import FitContext, InferenceMethod, register

# the one correlogram module; names kept importable from here
from spikewire.infer.correlograms import (  # noqa: F401
    _choose_strategy,
    _flat_positions,
    _prepare,
    cross_correlograms,
    numba_threads,
)
from spikewire.infer.estimate import Estimate

__all__ = ["CCG", "baseline_matrix", "cross_correlograms", "hollowed_gaussian_kernel",
           "spike_jitter_kernel", "deviance_residual", "poisson_midp", "binomial_midp",
           "binomial_randomized"]


# --------------------------------------------------------------------------- helpers
def hollowed_gaussian_kernel(sigma_bins: float, hollow_fraction: float) -> np.ndarray:
    """Partially hollowed Gaussian kernel (Stark & Abeles 2009), length ``2·ceil(3σ)+1``.

    A Gaussian of standard deviation ``sigma_bins`` (in bins) normalised to sum 1 whose
    centre weight is multiplied by ``1 − hollow_fraction``, then renormalised to sum 1.
    """
    h = max(int(math.ceil(3 * sigma_bins)), 1)
    d = np.arange(-h, h + 1)
    k = np.exp(-0.5 * (d / sigma_bins) ** 2)
    k /= k.sum()
    k[h] *= 1.0 - hollow_fraction
    return k / k.sum()


def spike_jitter_kernel(width_bins: float) -> np.ndarray:
    """Lag-bin kernel of uniform spike-centred jitter by up to ``± width_bins`` bins.

    Jittering one train's spikes by independent ``U(−Δ, Δ)`` moves each lag by the same
    law, so the expected jittered correlogram is the observed one convolved with the
    probabilities that a lag moves by ``k`` bins. For ``Δ = J`` whole bins and lags spread
    uniformly within their bins this is ``[½, 1, …, 1, ½] / (2J)`` over ``2J + 1`` bins
    (Amarasingham et al. 2012; Platkiewicz et al. 2017); ``Δ`` is rounded to whole bins.
    """
    J = max(int(round(width_bins)), 1)
    k = np.ones(2 * J + 1)
    k[0] = k[-1] = 0.5
    return k / k.sum()


def baseline_matrix(kernel: np.ndarray, nk: int, win_idx: np.ndarray,
                    excluded: np.ndarray) -> np.ndarray:
    """Linear map from a correlogram (``nk`` lag bins) to the baseline of each window bin.

    Row ``m`` holds the kernel centred on bin ``win_idx[m]``; bins beyond the range are
    reflected back into it (Stark & Abeles 2009) and bins with ``excluded`` get weight 0,
    after which the row is renormalised to sum 1.
    """
    h = kernel.size // 2
    out = np.zeros((win_idx.size, nk))
    for m, c in enumerate(win_idx):
        r = np.arange(c - h, c + h + 1)
        while np.any((r < 0) | (r >= nk)):
            r = np.where(r < 0, -r - 1, r)
            r = np.where(r >= nk, 2 * nk - r - 1, r)
        w = np.where(excluded[r], 0.0, kernel)
        np.add.at(out[m], r, w)
        out[m] /= out[m].sum()
    return out


def deviance_residual(n, lam) -> np.ndarray:
    """Signed Poisson deviance residual ``sign(n − λ)·sqrt(2(n log(n/λ) − n + λ))``."""
    n = np.asarray(n, dtype=float)
    lam = np.maximum(np.asarray(lam, dtype=float), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n > 0, n * np.log(n / lam), 0.0)
    dev = np.maximum(2.0 * (t - n + lam), 0.0)
    return np.sign(n - lam) * np.sqrt(dev)


def poisson_midp(n, lam) -> tuple[np.ndarray, np.ndarray]:
    """Natural logs of the mid-p values of a count ``n`` under Poisson(``lam``).

    Upper tail ``P(X > n) + ½P(X = n)`` and lower tail ``P(X < n) + ½P(X = n)`` (the
    continuity-corrected test of Stark & Abeles 2009). Both are returned as logs so that
    very strong links keep distinct (finite) evidence where the probability underflows.
    """
    n = np.asarray(n, dtype=float)
    lam = np.maximum(np.asarray(lam, dtype=float), 1e-300)
    logpmf = n * np.log(lam) - lam - special.gammaln(n + 1)
    pmf = np.exp(logpmf)
    up = special.pdtrc(n, lam) + 0.5 * pmf
    lo = np.where(n > 0, special.pdtr(np.maximum(n - 1, 0), lam), 0.0) + 0.5 * pmf
    with np.errstate(divide="ignore", invalid="ignore"):
        log_up = np.log(up)
        log_lo = np.log(lo)
        # asymptotic tails where the probability underflows: P(X>=n) ≈ pmf(n)/(1 - λ/(n+1)),
        # P(X<=n) ≈ pmf(n)/(1 - n/λ); both exact to leading order deep in the tail
        approx_up = logpmf - np.log1p(-np.minimum(lam / (n + 1), 1 - 1e-12))
        approx_lo = logpmf - np.log1p(-np.minimum(n / lam, 1 - 1e-12))
    log_up = np.where(np.isfinite(log_up) & (up > 1e-280), log_up, approx_up)
    log_lo = np.where(np.isfinite(log_lo) & (lo > 1e-280), log_lo, approx_lo)
    return np.minimum(log_up, 0.0), np.minimum(log_lo, 0.0)


def _sidak_log(logp_min: np.ndarray, m: int) -> np.ndarray:
    """log of 1 − (1 − p)^m from log p (Šidák over m independent bins), stable at both ends."""
    p = np.exp(logp_min)
    with np.errstate(divide="ignore"):
        exact = np.log(-np.expm1(m * np.log1p(-np.minimum(p, 1 - 1e-16))))
    return np.where(p > 1e-8, np.minimum(exact, 0.0), np.log(m) + logp_min)


def binomial_midp(n, N, pi) -> tuple[np.ndarray, np.ndarray]:
    """Natural logs of the mid-p values of a count ``n`` under Binomial(``N``, ``pi``).

    Upper tail ``P(X > n) + ½P(X = n)`` and lower tail ``P(X < n) + ½P(X = n)``; where a
    tail underflows, its leading-order asymptotic form (the pmf at ``n`` over one minus the
    ratio of successive pmf terms) keeps strong evidence finite and ordered, as in
    :func:`poisson_midp`. ``N = 0`` gives ½ in both tails (no information).
    """
    n = np.asarray(n, dtype=np.int64)
    N = np.asarray(N, dtype=np.int64)
    n, N = np.broadcast_arrays(n, N)
    pi = np.clip(np.asarray(pi, dtype=float), 1e-12, 1 - 1e-12)
    nf, Nf = n.astype(float), N.astype(float)
    logpmf = (special.gammaln(Nf + 1) - special.gammaln(nf + 1) - special.gammaln(Nf - nf + 1)
              + nf * np.log(pi) + (Nf - nf) * np.log1p(-pi))
    pmf = np.exp(logpmf)
    up = special.bdtrc(n, N, pi) + 0.5 * pmf
    lo = np.where(n > 0, special.bdtr(np.maximum(n - 1, 0), N, pi), 0.0) + 0.5 * pmf
    with np.errstate(divide="ignore", invalid="ignore"):
        log_up = np.log(up)
        log_lo = np.log(lo)
        r_up = (Nf - nf) / (nf + 1) * pi / (1 - pi)
        r_lo = nf / (Nf - nf + 1) * (1 - pi) / pi
        approx_up = logpmf - np.log1p(-np.minimum(r_up, 1 - 1e-12))
        approx_lo = logpmf - np.log1p(-np.minimum(r_lo, 1 - 1e-12))
    log_up = np.where(np.isfinite(log_up) & (up > 1e-280), log_up, approx_up)
    log_lo = np.where(np.isfinite(log_lo) & (lo > 1e-280), log_lo, approx_lo)
    return np.minimum(log_up, 0.0), np.minimum(log_lo, 0.0)


def binomial_randomized(n, N, u, pi=0.5, tail: str = "both"):
    """Natural logs of the randomized tails of a count ``n`` under Binomial(``N``, ``pi``):
    ``P(X > n) + u·P(X = n)`` and ``P(X < n) + (1 − u)·P(X = n)`` with ``u`` uniform on
    (0, 1), exactly uniform under the null. Where a tail underflows, its leading-order
    form (the pmf at ``n`` times ``u`` plus the geometric sum of the next terms) keeps it
    finite; ``N = 0`` gives ``log u`` and ``log(1 − u)``. ``tail="up"`` / ``"lo"`` returns
    that tail only (half the work), ``"both"`` the pair."""
    n = np.rint(np.asarray(n, dtype=float)).astype(np.int64)
    N = np.rint(np.asarray(N, dtype=float)).astype(np.int64)
    u = np.asarray(u, dtype=float)
    pi = np.clip(np.asarray(pi, dtype=float), 1e-12, 1 - 1e-12)
    nf, Nf = n.astype(float), N.astype(float)
    logpmf = (special.gammaln(Nf + 1) - special.gammaln(nf + 1) - special.gammaln(Nf - nf + 1)
              + nf * np.log(pi) + (Nf - nf) * np.log1p(-pi))
    pmf = np.exp(logpmf)
    odds = pi / (1 - pi)
    out = []
    if tail in ("up", "both"):
        up = special.bdtrc(n, N, pi) + u * pmf
        with np.errstate(divide="ignore", invalid="ignore"):
            log_up = np.log(up)
            r_up = np.minimum((Nf - nf) / (nf + 1) * odds, 1 - 1e-12)
            approx_up = logpmf + np.log(u + r_up / (1 - r_up))
        out.append(np.minimum(np.where(np.isfinite(log_up) & (up > 1e-280), log_up,
                                       approx_up), 0.0))
    if tail in ("lo", "both"):
        lo = np.where(n > 0, special.bdtr(np.maximum(n - 1, 0), N, pi), 0.0) + (1 - u) * pmf
        with np.errstate(divide="ignore", invalid="ignore"):
            log_lo = np.log(lo)
            r_lo = np.minimum(nf / (Nf - nf + 1) / odds, 1 - 1e-12)
            approx_lo = logpmf + np.log((1 - u) + r_lo / (1 - r_lo))
        out.append(np.minimum(np.where(np.isfinite(log_lo) & (lo > 1e-280), log_lo,
                                       approx_lo), 0.0))
    return out[0] if len(out) == 1 else tuple(out)


def _residuals(n, lam):
    """:func:`deviance_residual` of 3-D arrays by the compiled kernel (no temporaries)."""
    out = np.empty(n.shape)
    K.deviance_residuals(np.ascontiguousarray(n, dtype=float).reshape(-1, n.shape[-1]),
                         np.ascontiguousarray(lam, dtype=float).reshape(-1, n.shape[-1]),
                         out.reshape(-1, n.shape[-1]))
    return out


def _take(x, k):
    return np.take_along_axis(x, k[..., None], 2)[..., 0]


def _smear(excess, centre, target, k_lo, kernel, span):
    """Share of the excess around window bin ``centre`` of one direction (``excess``: its
    window bins' count − baseline) that the convolution baseline puts into window bin
    ``target`` of the other direction (lags of opposite sign; convolution kernels only)."""
    h = kernel.size // 2
    m = excess.shape[-1]
    out = np.zeros(centre.shape)
    for s in range(-span, span + 1):
        u = centre + s
        ok = (u >= 0) & (u < m)
        uc = np.clip(u, 0, m - 1)
        off = 2 * k_lo + uc + target            # lag distance between the two bins
        w = np.where(ok & (off <= h), kernel[np.minimum(h + off, kernel.size - 1)], 0.0)
        out += w * _take(excess, uc)
    return out


def _smear_same(excess, centre, target, kernel, span):
    """Share of the excess around window bin ``centre`` that the convolution baseline puts
    into window bin ``target`` of the same direction (convolution kernels only; bins
    within ``span`` of each other are left out: there the two tests overlap)."""
    h = kernel.size // 2
    m = excess.shape[-1]
    out = np.zeros(centre.shape)
    far = np.abs(centre - target) > span
    for s in range(-span, span + 1):
        u = centre + s
        ok = (u >= 0) & (u < m) & far
        uc = np.clip(u, 0, m - 1)
        off = np.abs(uc - target)
        w = np.where(ok & (off <= h), kernel[np.minimum(h + off, kernel.size - 1)], 0.0)
        out += w * _take(excess, uc)
    return out


def _block_layout(m: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tests of the window: its ``m`` single bins, then blocks of ``width`` bins sliding by
    ``width // 2``. Returns the block starts, each test's centre bin and its width."""
    starts = (np.arange(0, m - width + 1, max(width // 2, 1)) if 1 < width <= m
              else np.zeros(0, dtype=np.int64))
    centre = np.r_[np.arange(m), starts + (width - 1) // 2].astype(np.int64)
    wid = np.r_[np.ones(m), np.full(starts.size, float(width))]
    return starts, centre, wid


def _extend(x, starts, width):
    """Append the block sums of ``x`` (last axis: window bins) to its single bins."""
    if starts.size == 0:
        return x
    cs = np.concatenate([np.zeros(x.shape[:-1] + (1,), dtype=x.dtype), np.cumsum(x, -1)], -1)
    return np.concatenate([x, cs[..., starts + width] - cs[..., starts]], axis=-1)


def _pair_summaries(cnt, base, m, n_pre, span, k_lo, kernel, rng, width, n_select=4,
                    chunk=64):
    """Per-pair summaries of the selected bins, computed over chunks of post units (the
    (n, n, m) temporaries would otherwise dominate the memory).

    ``cnt``/``base`` (n, n, 2m + 1): counts and baselines of the causal window bins
    (``[:m]``), their anticausal mirrors (``[m:2m]``, same order) and the zero-lag bin.
    Each window is tested in its single bins and in blocks of ``width`` bins (see
    :func:`_block_layout`). ``kernel`` is the convolution kernel of the baseline (None: not
    a convolution, no smear correction). ``rng``: the Generator of the randomized tests.
    Returns a dict of (n, n) arrays; indices of extreme tests are centre bins.
    """
    n = cnt.shape[0]
    starts, centre, wid = _block_layout(m, width)
    keys_i = ("up", "lo", "up1", "lo1", "kup", "klo")
    keys_f = ("n_up", "b_up", "n_lo", "b_lo", "b_up_c", "b_lo_c", "n_upr", "b_upr", "n_lor",
              "b_lor", "b_upr_c", "b_lor_c", "d_lup", "d_llo", "n0", "b0", "net_up",
              "net_lo", "peak", "trough", "n_up1", "b_up1", "n_lo1", "b_lo1", "anti_max",
              "anti_min")
    keys_b = ()
    shape = cnt.shape[:2]       # (post units of this block, all pre units)
    out = {k: np.empty(shape, dtype=np.int64) for k in keys_i}
    out.update({k: np.empty(shape) for k in keys_f})
    out.update({k: np.empty(shape, dtype=bool) for k in keys_b})
    pos = np.arange(m)
    scale = 1.0 / np.maximum(n_pre, 1.0)[..., None]            # (1, n, 1)
    for i0 in range(0, n, chunk):
        sl = slice(i0, min(i0 + chunk, n))
        c = cnt[sl].astype(float)
        bl = base[sl]
        cw, ca, bw_, ba = c[..., :m], c[..., m:2 * m], bl[..., :m], bl[..., m:2 * m]
        v = {"n0": c[..., 2 * m], "b0": bl[..., 2 * m]}
        v["anti_max"], v["anti_min"] = ca.max(axis=2), ca.min(axis=2)
        cwx, cax = _extend(cw, starts, width), _extend(ca, starts, width)
        bwx, bax = _extend(bw_, starts, width), _extend(ba, starts, width)
        # this direction's window (causal lags) and the reverse direction's (anticausal),
        # single bins and blocks
        r = _residuals(cwx, bwx)
        rr = _residuals(cax, bax)
        # single-bin window test (causal_test=False; ranking): the first m tests
        v["up1"], v["lo1"] = np.argmax(r[..., :m], axis=2), np.argmin(r[..., :m], axis=2)
        for t in ("up1", "lo1"):
            v["n_" + t], v["b_" + t] = _take(cw, v[t]), _take(bw_, v[t])
        ext = {}
        for key, res, cc, bb in (("", r, cwx, bwx), ("r", rr, cax, bax)):
            up, lo = np.argmax(res, axis=2), np.argmin(res, axis=2)
            ext["up" + key], ext["lo" + key] = up, lo
            v["n_up" + key], v["b_up" + key] = _take(cc, up), _take(bb, up)
            v["n_lo" + key], v["b_lo" + key] = _take(cc, lo), _take(bb, lo)
        v["up"], v["lo"] = centre[ext["up"]], centre[ext["lo"]]
        excess = (cw - bw_) * scale
        v["net_up"] = np.where(np.abs(pos - v["up"][..., None]) <= span, excess, 0.0).sum(2)
        v["net_lo"] = np.where(np.abs(pos - v["lo"][..., None]) <= span, excess, 0.0).sum(2)
        v["peak"], v["trough"] = _take(excess, v["up"]), _take(excess, v["lo"])
        # baselines of each direction's extreme tests without the other direction's largest
        # deviation smeared into them by the convolution (at the test's centre bin, times
        # its width)
        for key in ("", "r"):
            v[f"b_up{key}_c"], v[f"b_lo{key}_c"] = v[f"b_up{key}"], v[f"b_lo{key}"]
        if kernel is not None:
            ex_w, ex_a = cw - bw_, ca - ba
            best_w = centre[np.where(_take(r, ext["up"]) >= -_take(r, ext["lo"]),
                                     ext["up"], ext["lo"])]
            best_a = centre[np.where(_take(rr, ext["upr"]) >= -_take(rr, ext["lor"]),
                                     ext["upr"], ext["lor"])]
            for key, ex_o, best_o, ex_s in (("", ex_a, best_a, ex_w), ("r", ex_w, best_w, ex_a)):
                for t in ("up", "lo"):
                    e = ext[t + key]
                    sm = _smear(ex_o, best_o, centre[e], k_lo, kernel, span) * wid[e]
                    # and without the same direction's own largest deviation of the other
                    # kind: the convolution spreads a strong peak into the baseline of the
                    # bins a few ms away, where a trough test then finds a "trough" that is
                    # only the peak's own smear (and a trough makes "peaks" beside it); only
                    # the part that makes the test more conservative is removed
                    other = ext[("lo" if t == "up" else "up") + key]
                    own = (np.minimum(ex_s, 0.0) if t == "up" else np.maximum(ex_s, 0.0))
                    sm = sm + _smear_same(own, centre[other], centre[e], kernel, span) * wid[e]
                    v[f"b_{t}{key}_c"] = np.maximum(v[f"b_{t}{key}"] - sm, 1e-3)
        # direction: the test (single bin or block) whose total coincidences on both sides
        # stand highest (a peak) / lowest (a trough) above / below their baselines, and
        # there the split of those coincidences between the causal and the anticausal side.
        # Under a null whose correlogram is symmetric about zero lag (independent trains,
        # slow shared input, synchrony from common input) the splits are Binomial(N, ½)
        # given all the totals, and the choice depends on the totals only (the summed
        # baselines are functions of the symmetrized correlogram), so one test per tail
        # is exact: no correction over the window is needed.
        tot = cwx + cax
        rt = _residuals(tot, bwx + bax)
        kk = min(n_select, rt.shape[2])
        u = rng.random((2, kk) + tot.shape[:2])
        for t in ("up", "lo"):
            # the kk tests with the highest (peak) / lowest (trough) totals, then the
            # smallest of their split p-values, Šidák-corrected over the kk
            # (tests without coincidences are no evidence and are not chosen)
            sel = (np.argpartition(np.where(tot > 0, -rt, np.inf), kk - 1, axis=2)[..., :kk]
                   if t == "up" else
                   np.argpartition(np.where(tot > 0, rt, np.inf), kk - 1, axis=2)[..., :kk])
            best = np.zeros(tot.shape[:2])
            bk = np.zeros(tot.shape[:2], dtype=np.int64)
            for q in range(kk):
                k = sel[..., q]
                # peak-selected: excess on the causal side is this direction's peak;
                # trough-selected: deficit on the causal side is this direction's trough
                nt = _take(tot, k)
                lp = binomial_randomized(_take(cwx, k), nt, u[0 if t == "up" else 1, q],
                                         tail=t)
                # a test without coincidences is no evidence (its randomized p would be
                # a bare uniform draw): p = 1 (chosen only where fewer than kk have any)
                lp = np.where(nt > 0, lp, 0.0)
                better = lp < best
                best = np.where(better, lp, best)
                bk = np.where(better, k, bk)
            v["k" + t] = centre[bk]
            n_eff = np.minimum((tot > 0).sum(axis=2), kk)
            v["d_l" + t] = np.where(n_eff > 0, _sidak_log(best, np.maximum(n_eff, 1)), 0.0)
        for key in out:
            out[key][sl] = v[key]
    return out


def _directed_tests(S: dict, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Log p-values of an excitatory and an inhibitory link in each direction (see the
    ``causal_test`` parameter of :class:`CCG`); ``m``: the number of window tests (for the
    reciprocal test's correction)."""
    q_exc, q_inh = S["d_lup"], S["d_llo"]
    # reciprocal links: both directions significant against baselines that leave out the
    # other direction's largest deviation, and neither peak explained by a zero-lag
    # (common-input) peak: intersection-union of these tests
    wx_e = _sidak_log(poisson_midp(S["n_up"], S["b_up_c"])[0], m)
    wx_i = _sidak_log(poisson_midp(S["n_lo"], S["b_lo_c"])[1], m)
    wy_e = _sidak_log(poisson_midp(S["n_upr"], S["b_upr_c"])[0], m)
    wy_i = _sidak_log(poisson_midp(S["n_lor"], S["b_lor_c"])[1], m)
    y_exc = wy_e <= wy_i
    # the edge of a strong reverse trough (peak), smoothed into the baseline, can look like
    # a high (low) total whose split favours (disfavours) this side: a reverse-direction
    # trough (peak) with p < 10⁻⁶ vetoes this direction's excitatory (inhibitory) split
    # call; a genuine reciprocal pair is then called by the reciprocal test below. (10⁻³
    # also vetoed true inhibitory links on the Brunel benchmark, whose own smeared trough
    # makes the reverse side look like a peak: inhibitory AUC 0.89 against 0.98.)
    veto = math.log(1e-6)
    q_exc = np.where(wy_i < veto, 0.0, q_exc)
    q_inh = np.where(wy_e < veto, 0.0, q_inh)
    wy = np.minimum(np.minimum(wy_e, wy_i) + math.log(2.0), 0.0)
    n0, b0 = S["n0"], S["b0"]

    def vs_zero(nk, bk, upper):
        nk = np.rint(nk).astype(np.int64)
        tot = nk + np.rint(n0).astype(np.int64)
        lu0, ll0 = binomial_midp(nk, tot, bk / np.maximum(bk + b0, 1e-300))
        return lu0 if upper else ll0

    # a zero-lag (common-input) peak reaches into both windows as two peaks: a peak must
    # also stand above the zero-lag bin; troughs are not made by common input
    zx_e = vs_zero(S["n_up"], S["b_up_c"], True)
    zy = np.where(y_exc, vs_zero(S["n_upr"], S["b_upr_c"], True), -np.inf)
    rec_e = np.maximum.reduce([wx_e, wy, zx_e, zy])
    rec_i = np.maximum.reduce([wx_i, wy, zy])
    log_exc = np.minimum(q_exc, rec_e)
    log_inh = np.minimum(q_inh, rec_i)
    return log_exc, log_inh


# --------------------------------------------------------------------------- the method
@register
class CCG(InferenceMethod):
    """Cross-correlogram peaks/troughs, directed by their asymmetry about zero lag.

    For each ordered pair (post ``i``, pre ``j``) the CCG counts spike pairs at lag ``t_i −
    t_j`` in bins of ``bin_width``; a link ``j → i`` lives in the monosynaptic ``window`` at
    positive lags, a link ``i → j`` in its mirror at negative lags. Each window bin's count
    ``n`` has a baseline ``λ``: by default the exact expected CCG under uniform spike-centred
    jitter (Amarasingham et al. 2012; Platkiewicz et al. 2017), i.e. the CCG convolved with
    the jitter kernel; or the CCG convolved with a partially hollowed Gaussian (Stark &
    Abeles 2009, ``significance="poisson"``); or the mean CCG of interval-jittered
    surrogates (``significance="jitter"``).

    The decision (``causal_test=True``, the default) is a test of direction, calibrated
    under the null. The window is tested in its single bins and in 2 ms blocks of bins; for
    each test, the ``N`` coincidences of the causal side (lags ``+k``) and its mirror
    (``−k``) split ½ : ½ under any null whose correlogram is symmetric about zero on the
    window's scale — independent trains, slow shared modulation, up/down states, synchrony
    from common input. The four tests whose totals ``N`` stand highest above their summed
    baselines (a peak on either side) are tested for an excess on the causal side (this
    direction's excitation), the four lowest (a trough) for a deficit there (its
    inhibition), each by a randomized binomial p-value, the smallest Šidák-corrected over
    the four (only tests with coincidences are chosen; a pair without any gets p = 1). The
    choice depends on the totals only, and given the totals the splits are exact
    binomials, so the p-values are uniform under that null whatever the window's width. A
    strong reverse-direction deviation of the opposite kind vetoes a call (its smoothed
    edge can mimic one), and a second, reciprocal test calls a direction whose own window
    is significant against a baseline without the reverse direction's largest deviation
    (and without the smear of its own largest deviation of the other kind: a strong peak
    raises the convolution baseline a few ms beside it, where a trough test would
    otherwise find a "trough" that outweighed the peak — 15 of 19 reciprocal E → I links
    of the random Izhikevich network came out inhibitory before; benchmarks/results/izh.md)
    while the reverse window is significant too, a peak also standing above the zero-lag
    bin (which a common-input peak does not): an intersection–union of these tests. So
    reciprocal pairs (E–E, E–I, I–I) get both directions with their own signs (issue 18),
    and a one-way link's reverse direction is not called. The two-sided p-value is Šidák
    over the excitatory and inhibitory tests. The sign (weight, delay and ranking evidence)
    is that of the tail with the stronger evidence when its directed test is multiplied
    by its window test (this direction's extreme test against the corrected baseline).
    The p-value does not depend on this choice. Both tails can be significant: a long-delay
    E → E link's peak is followed by a real deficit (the post unit's refractoriness after
    its driven spike), and the split test of that deficit can beat the peak's. On the
    scale-free Izhikevich network (1 h) 29 E links came out inhibitory with the directed
    test alone (E-AUC 0.953, now 0.983; random 0.987 → 0.995; benchmarks/results/izh.md).
    With ``causal_test=False`` the window bins
    alone are tested against the baseline (mid-p Poisson, Šidák over the window), in this
    direction only.

    Parameters
    ----------
    bin_width : float or None, default None (automatic)
        CCG bin in s. Automatic: 0.5 ms (sub-millisecond resolves synaptic delays), but
        never finer than the recording's time resolution and a whole multiple of it (1 ms
        for 1 kHz data). A bin finer than the data is refused.
    window : (float, float), default (0.5 ms, 25 ms)
        Monosynaptic lag window in s (bins whose centres lie inside are tested). Up to 25 ms
        so that long and heterogeneous delays (1–20 ms in published benchmark networks) are
        found; the Šidák correction over the window's bins pays for the width. On 300-neuron
        LIF networks (60 recorded, 60 s; benchmarks/RESULTS.md, calibration) widening the
        window from 4 to 25 ms raised the AUC from 0.68 to 0.99 with 1–20 ms delays and
        changed it from 0.989 to 0.983 with 0.5–5 ms delays.
    baseline_sigma : float, default 10 ms
        Standard deviation of the hollowed Gaussian in s.
    hollow_fraction : float, default 0.6
        Fraction of the kernel's centre weight removed (0: plain Gaussian).
    significance : {"spike_jitter", "poisson", "jitter"}, default "spike_jitter"
        Baseline from the hollowed-Gaussian convolution; ``"spike_jitter"``: the exact
        expected correlogram under uniform spike-centred jitter of the post train by up to
        ``±jitter_width`` (Amarasingham et al. 2012; Platkiewicz, Stark & Amarasingham
        2017), which is the observed correlogram convolved with a boxcar of
        ``2·round(jitter_width / bin_width) + 1`` bins (:func:`spike_jitter_kernel`) —
        analytic, no surrogates, the cost
        of the default test; ``"jitter"``: the mean count of ``n_surrogates``
        interval-jittered surrogates (Monte Carlo). Each is followed by the same Poisson
        test (the jittered count in a bin is a sum of nearly independent Bernoulli
        indicators, whose variance is at most the Poisson one). ``"spike_jitter"`` is the
        default: on three 1,000-neuron LIF families (100 recorded, 10 min;
        benchmarks/results/calibration.md) it ranked links with AUC 0.975 / 0.976 / 0.971
        (0.5–5 ms delays / 1–20 ms delays / co-modulated drive) against 0.872 / 0.972 /
        0.929 for the hollowed Gaussian, at the same cost. The jitter null rejects any
        fine-timescale dependence, including a link in the reverse direction, whose smeared
        peak raises the jittered baseline of the causal window; the reciprocal test removes
        that share (the reverse direction's largest deviation) from the baseline.
    n_surrogates : int, default 100
        Number of jitter surrogates (``significance="jitter"``).
    jitter_width : float, default 5 ms
        Jitter in s (``"spike_jitter"``: half-width of the uniform spike-centred jitter;
        ``"jitter"``: the interval-jitter window). It must exceed the width of a synaptic
        peak (PSP rise plus delay spread, 1–3 ms) so that the null smears a link's peak out
        of its bin, and stay far below the time scales of co-modulation and up/down states
        (≥ 100 ms), which the null then keeps: 5 ms. It may not be shorter than the
        recording's time resolution (a jitter within one time step moves no spike).
    causal_test : bool, default True
        Decide by the directed (split) test and the reciprocal test described above.
        On the five null families of :mod:`spikewire.infer._null_families` (50 units,
        300 s) its false-positive rate at per-pair α = 0.05 is 0.045–0.062 (the previous
        intersection–union with the anticausal window's extreme count: 0.001–0.005; the
        highest rate is on independent bursting trains, whose clustered coincidences make
        the splits slightly overdispersed), and its p-values are near uniform
        (Kolmogorov–Smirnov distance ≤ 0.035; 0.058 on the heterogeneous family, whose
        pairs without any coincidence in the window get p = 1), so BH and the
        empirical-null lfdr work. A
        zero-lag peak from common input is symmetric and not called. Without the causal
        test, the window test alone flags every pair with zero-lag synchrony from shared
        input, and the synchrony peak reaching into the window masks inhibitory troughs
        (benchmarks/RESULTS.md: on a 1,000-neuron Brunel network with BH control, MCC 0.00
        without vs 0.80 with a causal test).
    dale : bool, default False
        Impose Dale's law: units labelled from their two-sided significant links get
        one-sided p-values in the direction of their label (E: peaks, I: troughs); unlabelled
        units keep the two-sided test. The label is taken from the same data, so this is a
        heuristic constraint, not an exact test.
    min_spikes : int, default 20
        Units with fewer spikes are skipped (``unit_status="too_few_spikes"``, pair status 3).
    alpha : float, default 0.05
        Default significance level of :meth:`Estimate.adjacency`.
    correction : {"none", "bonferroni", "bh", "lfdr"}, default "bh"
        Default multiple-comparison control: Benjamini–Hochberg FDR. The directed test is
        calibrated (about α false calls per unconnected pair), so per-pair α calls about
        5 % of all unconnected pairs, and in recurrent networks many pairs are dependent
        without a direct link (chains, shared input with unequal delays); BH keeps those
        calls in proportion. On the 1,000-neuron LIF families of
        benchmarks/results/ccgcal.md (100 recorded, 10 min) BH gave MCC 0.74 / 0.85 / 0.73
        (brunel / brunel_long / comodulated) against 0.61 / 0.70 / 0.63 per pair and 0.54 /
        0.62 / 0.53 with Bonferroni. On the Izhikevich networks (1–20 ms delays) BH
        over-calls without the second stage (1,574 / 2,245 links called of 969 / 905; MCC
        0.60 / 0.50; Bonferroni 0.64 / 0.67): there many unconnected pairs are directed-
        dependent through chains and shared inputs with unequal delays, which a pairwise
        test calls at its level; ``prune`` (default ``"window"``) brings this to 468 / 654
        calls, MCC 0.64 / 0.79. ``"lfdr"`` (empirical null) is usable now that the
        p-values do not pile up at 1.
    exclude_reverse : bool, default True
        Leave the other direction's window out of each direction's baseline, so that a
        strong link ``i → j`` does not raise the baseline of ``j → i`` and fake a trough
        there (a deviation from Stark & Abeles, who hollow only the centre bin). Not applied
        with ``significance="spike_jitter"``, whose baseline is the exact jitter
        expectation (the reciprocal test removes the reverse deviation's share instead).
    keep_ccg : bool, default False
        Keep the full correlograms in ``diagnostics["ccg"]`` (n × n × n_lags int64).
    prune : {"window", "conditional", "none"}, default "window"
        Second stage for the pairs the first stage calls at the default ``alpha`` and
        ``correction``: a pairwise test calibrated against independence also calls real
        *indirect* dependence — chains ``j → k → i`` and shared inputs with unequal delays
        make directed peaks — and such peaks are broader than a monosynaptic one.
        ``"window"``: each called pair's called tail is also tested in its single window
        bins against the spike-jitter baseline (Šidák over the window; a peak spread over
        several ms is absorbed by the ±``jitter_width`` baseline), the correction is
        re-applied to these p-values over the called pairs, and a called pair that fails
        gets the larger of its two p-values (intersection–union), so
        :meth:`Estimate.adjacency` no longer calls it; no extra cost. ``"conditional"``
        (:mod:`spikewire.infer._pruning`): for each post unit, a Poisson regression of its
        spikes on every called input's spikes at each lag within ±1 ms of its estimated
        delay and on a causal flank within ±``jitter_width`` re-tests each coupling given
        the other called inputs (one-sided Wald tests of lags and 2 ms blocks against the
        flank, Šidák), so a peak made by a recorded intermediate unit is explained by that
        unit's spikes; every called pair's p-value becomes the larger of its two stages'.
        Pairs not called keep their first-stage p-values either way (on null data, where
        almost nothing is called, the false-positive rates are the first stage's); the
        second-stage p-values are in ``diagnostics["prune_pvalues"]``; weights, delays and
        scores (so the ranking) are the first stage's. On the 1,000-neuron families of
        benchmarks/results/indirect.md (100 recorded, 10 min) the MCC at the default was
        0.79 / 0.85 / 0.76 / 0.64 / 0.79 (brunel / brunel_long / comodulated / Izhikevich
        random / scale-free) with ``"window"``, 0.74 / 0.85 / 0.73 / 0.60 / 0.50 with
        ``"none"`` (2,245 links called of 905 on scale-free), and 0.66 / 0.74 / 0.61 /
        0.80 / 0.81 with ``"conditional"``, which is best on the Izhikevich networks
        (1–20 ms delays, 90 % of units hidden) but loses LIF links and costs about 40× the
        first stage's CPU time there (it grows with the calls times the spikes).
    n_jobs : int, default 1
        Threads (-1: all): blocks of post units are counted and summarised in parallel
        (see ``block_size``). The result does not depend on ``n_jobs``.
    seed : int or numpy.random.SeedSequence, default 0
        Seed of the jitter surrogates and of the randomized directed tests (the draws of
        post unit ``i`` come from a fixed stretch of one stream, whatever the blocks).
    block_size : int or None, default None (automatic)
        Post units processed at once. Each block's correlogram bins and baselines
        (block × n_units × (2·n_window + 1) int32 counts and float64 baselines) are
        reduced to per-pair summaries before the next block, so the memory is
        O(n_units² + n_jobs · block_size · n_units · n_window) instead of
        O(n_units² · n_window) (≈ 10 GiB for 3,000 units at the defaults). Automatic:
        the largest blocks whose count and baseline arrays, one block per thread, take at
        most 256 MiB together, and with ``n_jobs`` > 1 at most a quarter of each thread's
        share of the units (load balance). The result does not depend on the block size.
        With ``significance="jitter"`` the surrogates are regenerated for each block.

    Notes
    -----
    ``weights[i, j]`` is the excess (or deficit) of post spikes per presynaptic spike around
    the extreme bin, ``Σ (n − λ) / N_pre / (1 − κ)`` over the window bins within ±1 ms of it
    (``κ``: the baseline kernel's mass within ±1 ms, the share of a narrow peak that the
    baseline absorbs)
    (dimensionless, "spike transmission probability"; with the 25 ms window a sum over the
    whole window would mostly add noise), or, if this sum's sign disagrees with the
    significant tail, the excess in the extreme bin. ``delays[i, j]`` is the centre of the
    most significant single bin of the called tail (s). ``scores`` rank the pairs:
    ``−log10 p`` (with asymptotic tails where p underflows, so strong links stay ranked),
    and with the causal test ``−log10(p · p_window · p_causal)``: the decision's p-value
    times the called tail's single-bin window test against the baseline and English et
    al.'s (2017) comparison with the anticausal window's extreme count (evidence from all
    three; on the benchmark Brunel networks this ranks links with ROC AUC 0.978 / 0.992
    against 0.955 / 0.983 for the decision's p-value alone, which still sets the
    threshold). The decision's tests are randomized: their uniform draws come from
    ``seed``, so a result is reproducible, and only pairs at the edge of significance can
    change with the seed.

    References
    ----------
    Stark E, Abeles M (2009) Unbiased estimation of precise temporal correlations between
    spike trains. J Neurosci Methods 179:90–100.
    English DF, McKenzie S, Evans T, Kim K, Yoon E, Buzsáki G (2017) Pyramidal cell–
    interneuron circuit architecture and dynamics in hippocampal networks. Neuron 96:505–520.
    Amarasingham A, Harrison MT, Hatsopoulos NG, Geman S (2012) Conditional modeling and the
    jitter method of spike resampling. J Neurophysiol 107:517–531.
    """

    name = "ccg"
    reference = "Stark & Abeles 2009, J Neurosci Methods 179:90; English et al. 2017, Neuron 96:505"
    bin_settings = {"bin_width": 5e-4}
    settings_constraints = {
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "window": [RealSequence(0, None, unit="s", length=2, increasing=True)],
        "baseline_sigma": [Interval("real", 0, None, closed="neither", unit="s")],
        "hollow_fraction": [Interval("real", 0, 1, closed="left")],
        "significance": [Options(("spike_jitter", "poisson", "jitter"))],
        "n_surrogates": [Interval("int", 1, None)],
        "jitter_width": [Interval("real", 0, None, closed="neither", unit="s")],
        "causal_test": [Boolean()],
        "dale": [Boolean()],
        "min_spikes": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(("none", "bh", "bonferroni", "lfdr"))],
        "exclude_reverse": [Boolean()],
        "keep_ccg": [Boolean()],
        "prune": [Options(("conditional", "window", "none"))],
        "n_jobs": [Interval("int", -1, -1), Interval("int", 1, None), None],
        "block_size": [Interval("int", 1, None), None],
        "seed": [SeedLike()],
    }

    def __init__(self, bin_width: float | None = None, window: tuple[float, float] = (5e-4, 0.025),
                 baseline_sigma: float = 0.01, hollow_fraction: float = 0.6,
                 significance: str = "spike_jitter", n_surrogates: int = 100,
                 jitter_width: float = 5e-3, causal_test: bool = True, dale: bool = False,
                 min_spikes: int = 20, alpha: float = 0.05, correction: str = "bh",
                 exclude_reverse: bool = True, keep_ccg: bool = False,
                 prune: str = "window", n_jobs: int | None = 1, seed: int = 0,
                 block_size: int | None = None):
        self.bin_width = bin_width
        self.window = window
        self.baseline_sigma = baseline_sigma
        self.hollow_fraction = hollow_fraction
        self.significance = significance
        self.n_surrogates = n_surrogates
        self.jitter_width = jitter_width
        self.causal_test = causal_test
        self.dale = dale
        self.min_spikes = min_spikes
        self.alpha = alpha
        self.correction = correction
        self.exclude_reverse = exclude_reverse
        self.keep_ccg = keep_ccg
        self.prune = prune
        self.n_jobs = n_jobs
        self.seed = seed
        self.block_size = block_size

    # ------------------------------------------------------------------ validation
    def _check_combination(self, bins: dict) -> None:
        if bins["bin_width"] is not None:
            self._geometry(float(bins["bin_width"]))

    def _geometry(self, bw: float):
        """Window bins ``(k_lo, k_hi)`` and the baseline sigma for bin width ``bw`` (s)."""
        lo, hi = (float(x) for x in self.window)
        if bw > hi - lo:
            raise ValueError(f"bin_width ({bw * 1e3:g} ms) is larger than the monosynaptic "
                             f"window {lo * 1e3:g}–{hi * 1e3:g} ms; use a bin of at most "
                             f"{(hi - lo) * 1e3:g} ms or widen the window")
        k_lo = int(math.ceil(lo / bw - 1e-9))
        k_hi = int(math.floor(hi / bw + 1e-9))
        if k_hi < k_lo:
            raise ValueError(f"no bin centre (multiples of bin_width={bw * 1e3:g} ms) lies in "
                             f"the window {lo * 1e3:g}–{hi * 1e3:g} ms; shift the window")
        if k_lo == 0:
            k_lo = 1  # the zero-lag bin is not causal; never test it
            if k_hi < 1:
                raise ValueError("the window holds only the zero-lag bin; start it later")
        sigma = float(self.baseline_sigma)
        if sigma < 2 * bw:
            raise ValueError(f"baseline_sigma ({sigma * 1e3:g} ms) must be at least two bins "
                             f"({2 * bw * 1e3:g} ms) for a slow baseline")
        if self.significance == "spike_jitter" and float(self.jitter_width) < bw * (1 - 1e-9):
            raise ValueError(f"jitter_width ({float(self.jitter_width) * 1e3:g} ms) is shorter "
                             f"than bin_width ({bw * 1e3:g} ms): the jitter would not move any "
                             "lag out of its bin; use jitter_width >= bin_width")
        return k_lo, k_hi, sigma

    # ------------------------------------------------------------------ fit
    def _fit(self, ctx: FitContext) -> Estimate:
        """Test every requested pair; returns an :class:`Estimate` (post × pre)."""
        t0 = ctx.t0
        bw = ctx.settings["bin_width"]
        k_lo, k_hi, sigma = self._geometry(bw)
        spikes = ctx.data
        n = spikes.n_units
        res = ctx.recording.time_resolution
        if (self.significance in ("spike_jitter", "jitter") and res is not None
                and float(self.jitter_width) < res * (1 - 1e-9)):
            raise ValueError(f"jitter_width ({float(self.jitter_width) * 1e3:g} ms) is shorter "
                             f"than the recording's time resolution ({res * 1e3:g} ms): spike "
                             "times are only known to that resolution, so such a jitter "
                             f"cannot be resolved; use jitter_width >= {res * 1e3:g} ms")
        if self.significance == "spike_jitter":
            kernel = spike_jitter_kernel(float(self.jitter_width) / bw)
        else:
            kernel = hollowed_gaussian_kernel(sigma / bw, self.hollow_fraction)
        h = kernel.size // 2
        kmax = k_hi + h
        span = 2 * kmax * bw
        if spikes.duration < span:
            raise ValueError(f"the recording ({spikes.duration:g} s) is shorter than the CCG "
                             f"range ±{kmax * bw * 1e3:g} ms needed for the window and the "
                             f"baseline; record longer or reduce window/baseline_sigma")
        counts = spikes.counts()
        status = ctx.pair_status
        want = status == 0

        nk = 2 * kmax + 1
        win_idx = np.arange(k_lo, k_hi + 1) + kmax        # positions in the -kmax..kmax range
        anti_idx = -np.arange(k_lo, k_hi + 1) + kmax
        m = win_idx.size
        # selected bins: the causal window, its anticausal mirror (same order), zero lag
        idx = np.r_[win_idx, anti_idx, kmax]
        # baselines: each direction's window leaves the other direction's window out
        # (exclude_reverse; not with the spike-jitter null, whose baseline is the exact
        # jitter expectation); the zero-lag bin leaves both out
        ex_w = np.zeros(nk, dtype=np.bool_)
        ex_a = np.zeros(nk, dtype=np.bool_)
        if self.exclude_reverse and self.significance != "spike_jitter":
            ex_w[anti_idx] = True
            ex_a[win_idx] = True
        base_w = np.vstack([baseline_matrix(kernel, nk, win_idx, ex_w),
                            baseline_matrix(kernel, nk, anti_idx, ex_a),
                            baseline_matrix(kernel, nk, np.array([kmax]), ex_w | ex_a)])
        ccg_out = np.zeros((n, n, nk) if self.keep_ccg else (1, 1, 1), dtype=np.int64)
        n_pre = counts.astype(float)[None, :]
        span = max(1, int(round(1e-3 / bw)))
        conv = kernel if self.significance == "spike_jitter" else None
        # blocks of 2 ms (4 bins of 0.5 ms) catch peaks and troughs spread over several bins
        width = max(2, int(round(2e-3 / bw)))
        # counts, baselines and per-pair summaries, streamed over blocks of post units
        S, stream = self._stream_summaries(
            spikes, want, bw, kmax, k_lo, k_hi, idx, base_w, ccg_out,
            lambda c, b, u, chunk: _pair_summaries(c, b, m, n_pre, span, k_lo, conv, u, width,
                                                   chunk=chunk))
        self._warn_if_short(stream.pop("window_baseline")[..., None], want, spikes.duration,
                            m, bw)
        n_threads = stream["n_threads"]
        n_tests = _block_layout(m, width)[1].size
        # delays: the most extreme single bin of the called tail in this direction's window
        best_up, best_lo = S["up1"], S["lo1"]
        lags = (np.arange(k_lo, k_hi + 1) * bw)
        if self.causal_test:
            log_exc, log_inh = _directed_tests(S, n_tests)
            # the sign: the tail whose directed test times its window test (against the
            # corrected baseline) is stronger; the p-value below does not depend on it
            wx_e = _sidak_log(poisson_midp(S["n_up"], S["b_up_c"])[0], n_tests)
            wx_i = _sidak_log(poisson_midp(S["n_lo"], S["b_lo_c"])[1], n_tests)
            excit = log_exc + wx_e <= log_inh + wx_i
            log_p = _sidak_log(np.minimum(log_exc, log_inh), 2)
            # ranking evidence: the directed test's p times the called tail's window test
            # (single bins against the baseline) and English et al.'s causal comparison
            # (against the anticausal window's extreme); see the Notes
            lup, _ = poisson_midp(S["n_up1"], S["b_up1"])
            _, llo = poisson_midp(S["n_lo1"], S["b_lo1"])
            c_up, _ = poisson_midp(S["n_up1"], np.maximum(S["anti_max"], 0.5))
            _, c_lo = poisson_midp(S["n_lo1"], np.maximum(S["anti_min"], 0.5))
            log_evidence = log_p + np.where(excit, _sidak_log(lup, m) + c_up,
                                            _sidak_log(llo, m) + c_lo)
        else:
            lup, _ = poisson_midp(S["n_up1"], S["b_up1"])
            _, llo = poisson_midp(S["n_lo1"], S["b_lo1"])
            log_exc, log_inh = _sidak_log(lup, m), _sidak_log(llo, m)
            excit = log_exc <= log_inh
            log_p = np.minimum(np.minimum(log_exc, log_inh) + math.log(2.0), 0.0)
            log_evidence = log_p
        # the baseline absorbs a share κ of a narrow peak (the kernel's mass within the span),
        # so the excess around it is (1 − κ) of the peak: undo that
        hk = kernel.size // 2
        # (capped at 1/2: a kernel hardly wider than the span, e.g. a 1 ms jitter, would
        # otherwise divide by ~0)
        kappa = min(float(kernel[max(hk - span, 0):hk + span + 1].sum()), 0.5)
        net_up = S["net_up"] / (1.0 - kappa)
        net_lo = S["net_lo"] / (1.0 - kappa)
        w_exc = np.where(net_up > 0, net_up, np.maximum(S["peak"], 0.0))
        w_inh = np.where(net_lo < 0, net_lo, np.minimum(S["trough"], 0.0))
        weights = np.where(excit, w_exc, w_inh)

        cell_type = conf = None
        if self.dale:
            from spikewire.infer.labels import apply_dale

            log_p, weights, cell_type, conf = apply_dale(
                log_exc, log_inh, w_exc, w_inh, want, float(self.alpha), self.correction)
            excit = weights > 0
        delays = np.where(excit, lags[best_up], lags[best_lo])

        if self.dale:
            log_evidence = log_p
        pvalues = np.where(want, np.exp(log_p), np.nan)
        scores = np.where(want, -log_evidence / math.log(10.0), 0.0)
        prune_diag = {}
        if self.prune == "window":
            # the called tail's single-bin window test against the jitter baseline
            # (Šidák over the window), as the second stage of the called pairs
            win = np.where(weights > 0, _sidak_log(lup, m), _sidak_log(llo, m))
            pvalues, prune_diag = self._prune_window(want, pvalues, np.exp(win))
        elif self.prune == "conditional":
            pvalues, scores, prune_diag = self._prune(spikes, want, pvalues, scores, delays,
                                                      weights > 0, bw, span,
                                                      int(round(float(self.jitter_width) / bw)),
                                                      width)
        weights = np.where(want, weights, 0.0)
        delays = np.where(want, delays, np.nan)
        diagnostics = {
            "n_spikes": counts,
            "window_bins": lags,
            "kernel_bins": int(kernel.size),
            "ccg_range": (-kmax * bw, kmax * bw),
            "n_threads": n_threads,
            "strategy_scan_fraction": stream["strategy_scan_fraction"],
            "block_size": stream["block_size"],
            "n_blocks": stream["n_blocks"],
            "time_counting_s": stream["time_counting_s"],
            "time_summaries_s": stream["time_summaries_s"],
            "cpu_counting_s": stream["cpu_counting_s"],
            "cpu_summaries_s": stream["cpu_summaries_s"],
            "time_total_s": time.perf_counter() - t0,
            "weight_definition": "sum over window bins within 1 ms of the extreme bin of "
                                 "(count - baseline) / N_pre",
            **prune_diag,
        }
        if self.keep_ccg:
            diagnostics["ccg"] = ccg_out
            diagnostics["ccg_lags"] = np.arange(-kmax, kmax + 1) * bw
        return ctx.estimate(self, weights=weights,
                            weight_unit="excess spikes per pre spike", pvalues=pvalues,
                            scores=scores, delays=delays, cell_type=cell_type,
                            cell_type_confidence=conf, diagnostics=diagnostics)

    def _called(self, want, pvalues):
        """Pairs called by the first stage at the default ``alpha`` and ``correction``."""
        from spikewire.infer.estimate import adjust_pvalues

        adj = adjust_pvalues(np.where(want, pvalues, np.nan), self.correction)
        return want & (np.nan_to_num(adj, nan=1.0) < float(self.alpha))

    def _combine(self, cand, pvalues, p2):
        """Final p-values after the second stage: the correction is re-applied to the
        second-stage p-values ``p2`` of the called pairs ``cand``; survivors keep their
        first-stage p-value, the others get the larger of the two (intersection–union),
        which the correction over all pairs then no longer calls."""
        from spikewire.infer.estimate import adjust_pvalues

        adj2 = adjust_pvalues(np.where(cand, p2, np.nan), self.correction)
        keep = cand & (np.nan_to_num(adj2, nan=1.0) < float(self.alpha))
        return np.where(cand & ~keep, np.fmax(pvalues, p2), pvalues)

    def _prune_window(self, want, pvalues, p_window):
        """Second stage ``prune="window"``: a called pair's p-value becomes the larger of
        its directed test's and its window test's (intersection–union)."""
        cand = self._called(want, pvalues)
        p2 = np.where(cand, p_window, np.nan)
        return (self._combine(cand, pvalues, p2),
                {"prune_candidates": int(cand.sum()), "prune_pvalues": p2})

    def _prune(self, spikes, want, pvalues, scores, delays, excitatory, bw, span, flank,
               width):
        """Second stage (``prune="conditional"``): re-test the pairs the first stage calls
        at the default ``alpha`` and ``correction`` conditioned on the post unit's other
        called inputs (:func:`spikewire.infer._pruning.conditional_pvalues`). A called
        pair's p-value becomes the larger of its two stages' (intersection–union), so the
        correction, re-applied by :meth:`Estimate.adjacency`, decides on the survivors."""
        from spikewire.infer._pruning import conditional_pvalues

        t1 = time.perf_counter()
        cand = self._called(want, pvalues)
        p2 = conditional_pvalues(np.asarray(spikes.grouped_times), np.asarray(spikes.indptr),
                                 float(spikes.t_start), float(spikes.t_stop), bw, cand,
                                 np.nan_to_num(delays, nan=bw), excitatory, span,
                                 max(flank, span + 1), width)
        # strict: every called pair's p-value becomes the larger of its two stages'
        p_new = np.where(cand, np.fmax(pvalues, p2), pvalues)
        diag = {"prune_candidates": int(cand.sum()),
                "prune_pvalues": p2,
                "time_prune_s": time.perf_counter() - t1}
        return p_new, scores, diag

    def _warn_if_short(self, win_base, want, duration, m, bw):
        """Warn when most tested pairs expect too few coincidences per window bin for the
        Šidák-corrected test over ``m`` bins to reach ``alpha`` on a single strong bin."""
        if not want.any():
            return
        lam = win_base[want].mean(axis=1)
        lam_med = float(np.median(lam))
        # a bin's mid-p value cannot fall below ~P(X = n) for a count n; with mean λ the
        # test needs λ >= 1 for a peak of a few spikes to reach α/m (Šidák over m bins)
        if lam_med < 1.0:
            need = duration / max(lam_med, 1e-12)
            warnings.warn(
                f"ccg: the median tested pair expects {lam_med:.2g} coincidences per "
                f"{bw * 1e3:g} ms bin of the {m}-bin window; the test at "
                f"alpha={float(self.alpha):g} over that window needs about 1 per bin, i.e. a "
                f"recording of about {need:.3g} s (this one: {duration:.3g} s), or wider bins "
                "or a shorter window", stacklevel=3)

    # ------------------------------------------------------------------ streaming
    def _block_rows(self, n: int, n_sel: int, n_threads: int) -> int:
        """Post units per block: ``block_size``, or automatic (see the parameter)."""
        if self.block_size is not None:
            return int(min(int(self.block_size), max(n, 1)))
        per_row = max(n, 1) * n_sel * (4 + 8 + (8 if self.significance == "jitter" else 0))
        rows = max(1, _BLOCK_BYTES // (per_row * max(n_threads, 1)))
        if n_threads > 1:  # several blocks per thread, so that the threads stay balanced
            rows = min(rows, max(1, -(-n // (4 * n_threads))))
        return int(min(rows, max(n, 1)))

    def _stream_summaries(self, spikes: SpikeTrains, want, bw, kmax, k_lo, k_hi, idx, base_w,
                          ccg_out, summarise):
        """Counts, baselines and per-pair summaries of all requested pairs, streamed over
        blocks of post units (issue 16).

        Each block's count and baseline arrays (block × n × ``idx.size``) exist only while
        the block is summarised by ``summarise(cnt, base, uniforms, chunk)`` (the bound
        :func:`_pair_summaries`); its (block × n) summaries are copied into the full
        (n × n) arrays, so the memory is O(n² + threads · block · n · n_window). With
        ``n_jobs`` > 1 the blocks run on that many threads: the counting kernel, the
        residual kernel and most of numpy's work on large arrays release the GIL. The
        randomized tests' uniform draws are keyed by post unit (:class:`_RowUniforms`), so
        the result does not depend on the block size, the summaries' chunks or the number
        of threads.

        Returns the dict of (n, n) summaries and a dict of diagnostics: block size, number
        of blocks, threads, counting and summary wall and CPU times (s, summed over the
        blocks; CPU: the threads' own CPU time, which a loaded machine does not inflate),
        the share of units counted by population scan, and each pair's mean window baseline
        (``"window_baseline"``, for the short-recording warning).
        """
        from concurrent.futures import ThreadPoolExecutor

        from spikewire.core.seeds import child
        from spikewire.core.seeds import rng as seeded_rng

        n = spikes.n_units
        n_sel = idx.size
        m = k_hi - k_lo + 1
        keep = bool(self.keep_ccg)
        # unit j scanned for its own row (post j): its partners are the pre units want[j]
        times, indptr, ftimes, fpos, want_rows, use_scan = _prepare(
            spikes, np.ascontiguousarray(want.T), (2 * kmax + 3) * bw)
        key = child(self.seed, "ccg-randomized-test")
        jitter = None
        if self.significance == "jitter":
            g = seeded_rng(self.seed, "method")
            jitter = (type(g.bit_generator), g.bit_generator.state)
        proto = summarise(np.zeros((0, n, n_sel), dtype=np.int32), np.zeros((0, n, n_sel)),
                          _RowUniforms(key, 0), 1)
        S = {k: np.empty((n, n), dtype=v.dtype) for k, v in proto.items()}
        lam = np.zeros((n, n))
        with numba_threads(self.n_jobs) as n_threads:
            # pairs per chunk of the summaries: their temporaries, ~0.5 GB per thread on
            # one or two threads, less per thread on more
            pairs = max(4096, _CHUNK_PAIRS * 2 // max(n_threads, 2))
            chunk_cap = max(1, pairs // max(n, 1))
            block = self._block_rows(n, n_sel, n_threads)
            starts = list(range(0, n, block))
            chunk = max(1, min(block, chunk_cap))

            def run(r0):
                r1 = min(r0 + block, n)
                rows = np.arange(r0, r1, dtype=np.int64)
                c0, p0 = time.perf_counter(), time.thread_time()
                cnt = np.zeros((rows.size, n, n_sel), dtype=np.int32)
                base = np.zeros((rows.size, n, n_sel))
                K.ccg_rows_bin_stats(times, indptr, ftimes, fpos, rows, want_rows[r0:r1],
                                     use_scan, bw, kmax, idx, base_w, cnt, base, keep, ccg_out)
                if jitter is not None:
                    base = self._jitter_rows(spikes, rows, want, bw, k_lo, k_hi, *jitter)
                c1, p1 = time.perf_counter(), time.thread_time()
                lam[r0:r1] = base[..., :m].mean(axis=2)
                out = summarise(cnt, base, _RowUniforms(key, r0), chunk)
                del cnt, base
                for k, v in out.items():
                    S[k][r0:r1] = v
                return c1 - c0, time.perf_counter() - c1, p1 - p0, time.thread_time() - p1

            if n_threads > 1 and len(starts) > 1:
                with ThreadPoolExecutor(max_workers=min(n_threads, len(starts))) as pool:
                    done = list(pool.map(run, starts))
            else:
                done = [run(r0) for r0 in starts]
        return S, {"n_threads": n_threads, "block_size": block, "n_blocks": len(starts),
                   "time_counting_s": float(sum(d[0] for d in done)),
                   "time_summaries_s": float(sum(d[1] for d in done)),
                   "cpu_counting_s": float(sum(d[2] for d in done)),
                   "cpu_summaries_s": float(sum(d[3] for d in done)),
                   "strategy_scan_fraction": float(use_scan.mean()) if n else 0.0,
                   "window_baseline": lam}

    def _jitter_rows(self, spikes: SpikeTrains, rows, want, bw, k_lo, k_hi, bitgen_type,
                     state):
        """Mean counts of post units ``rows`` against every pre unit over
        ``n_surrogates`` interval-jittered surrogates (all trains jittered), in the causal
        window bins, their anticausal mirrors and the zero-lag bin. Every block replays the
        same surrogates from the bit generator ``state`` (so blocks give the unblocked
        result; the surrogates are regenerated once per block)."""
        bitgen = bitgen_type()
        bitgen.state = state
        rng = np.random.Generator(bitgen)
        n = spikes.n_units
        ks = np.arange(k_lo, k_hi + 1)
        sel = np.r_[ks + k_hi, -ks + k_hi, k_hi].astype(np.int64)
        acc = np.zeros((rows.size, n, sel.size), dtype=np.int64)
        times = np.ascontiguousarray(spikes.grouped_times)
        indptr = np.ascontiguousarray(spikes.indptr)
        want_rows = np.ascontiguousarray(want[rows[0]:rows[-1] + 1])
        for _ in range(int(self.n_surrogates)):
            jit = K.interval_jitter(times, indptr, float(self.jitter_width), spikes.t_start,
                                    spikes.t_stop, rng.random(times.size))
            sur = SpikeTrains(jit, indptr, spikes.units, spikes.t_start, spikes.t_stop)
            t, ip, ft, fp, _, scan = _prepare(sur, np.ascontiguousarray(want.T),
                                              (2 * k_hi + 3) * bw)
            K.ccg_rows_counts(t, ip, ft, fp, rows, want_rows, scan, bw, k_hi, sel, acc)
        return acc / float(self.n_surrogates)


#: Bytes of the count and baseline arrays of all blocks of post units in flight (one per
#: thread; automatic ``block_size``).
_BLOCK_BYTES = 256 * 2**20
#: Pairs per chunk of the per-pair summaries on one or two threads (bounds their
#: temporaries, ~0.5 GB per thread); fewer per thread on more threads.
_CHUNK_PAIRS = 32_768


class _RowUniforms:
    """Uniform(0, 1) draws of the randomized tests, keyed by post unit.

    :func:`_pair_summaries` asks for ``random((a, b, rows, n_pre))`` once per chunk of
    consecutive post units. Post unit ``i`` (its position among all units) always gets the
    numbers ``[i·a·b·n_pre, (i+1)·a·b·n_pre)`` of one PCG64 stream seeded by ``seed_seq``
    (reached with ``advance``, without drawing the ones before), laid out
    ``(a, b, n_pre)``; so the draws do not depend on how the rows are split into blocks,
    chunks or threads. ``row0``: the first post unit of the block.
    """

    def __init__(self, seed_seq: np.random.SeedSequence, row0: int):
        self._seq = seed_seq
        self._row = int(row0)

    def random(self, shape) -> np.ndarray:
        a, b, rows, n_pre = (int(x) for x in shape)
        per_row = a * b * n_pre
        bitgen = np.random.PCG64(self._seq)
        bitgen.advance(self._row * per_row)
        x = np.random.Generator(bitgen).random(rows * per_row).reshape(rows, a, b, n_pre)
        self._row += rows
        return np.moveaxis(x, 0, 2)
