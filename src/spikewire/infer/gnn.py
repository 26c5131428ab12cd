"""Graph-network circuit discovery (Yoon 2025): connectivity as the latent edge weights of a
graph network trained to predict the next bin's spikes.

The model (torch, imported only inside the functions that need it) has two modules:

- **structure**: each unit's binned spike train over a chunk of ``chunk`` s (``log1p`` of
  the counts) → Conv1D (``n_kernels`` kernels of ``2·time_scale``, stride
  ``0.2·time_scale``) → batch norm → ReLU → flattened → linear → embedding ``z_i``; each
  pair ``[z_i, z_j]`` → MLP with two hidden layers of ``hidden`` units → ``w_ij``
  (``symmetric=True``: ``(w_ij + w_ji)/2``; zero diagonal).
- **prediction**: an encoder of each unit's last ``history`` bins → ``h_i``; messages
  ``m_ij = φ_dst(h_i) + φ_src(h_j)`` (the pair message ``φ([h_i, h_j])`` of the paper with
  an additive first layer, so that ``Σ_j w_ij m_ij`` is a batched matrix product instead
  of an (N, N, T, H) tensor) scaled by ``w_ij`` and summed; a GRU update
  ``h_i' = GRU(Σ_j w_ij m_ij, h_i)``; a decoder to ``log λ_i`` of the next bin (plus a
  learned per-unit offset).

Training minimises the Poisson negative log-likelihood of the next bin on the first
``1 − validation_fraction − test_fraction`` of the recording (Adam, learning rate ``lr``
decayed by ``lr_decay`` per epoch, ``batches_per_epoch`` batches of ``batch_size``
random training chunks per epoch, early stopping when the validation loss has not improved
for ``patience`` epochs; the best epoch's parameters are kept). The weights reported are
the structure module's ``w`` averaged over every chunk of the recording; the held-out
bits/spike (:func:`spikewire.infer.likelihood.bits_per_spike`, last ``test_fraction``) is in
``diagnostics["test_bits_per_spike"]``.

Options on where ``w`` comes from and how it is trained (measured on ring networks in
``benchmarks/results/gnn2.md``):

- ``structure="chunk"`` (default): each training chunk is predicted with the ``w`` of its
  own structure-module output; ``structure="pooled"``: with the mean ``w`` of
  ``structure_batch`` training chunks drawn independently of the predicted ones, so that
  ``w`` cannot follow the predicted chunk's activity and the matrix used for prediction is
  the one reported (validation and the held-out bits/spike then use the mean over all
  chunks). Pooled was worse on the two-bump LNP ring (Δ 0.53 vs 0.37, 60 s).
  ``structure="free"``: ``w`` is a free parameter matrix (initialised at 0) trained with the
  prediction module, no structure module: not the paper's design, a diagnostic of where
  the profile error comes from (``benchmarks/results/gnn3.md``).
- ``identity=True``: a learned per-unit vector (initialised at 0) is added to each unit's
  embedding ``z_i``. Without it ``w_ij`` depends only on the two units' activity in the
  chunk, so units with alike activity (the same phase of two bumps of a periodic pattern)
  get alike weights whatever their true connections. It did not help in the rings
  measured (LNP ring 0.36 vs 0.37; Dale ring 0.54 vs 0.24).
- ``global_node=True``: every unit also receives a learned function of the mean hidden
  state of the observed units (a node standing for an unobserved all-to-all population,
  e.g. the inhibitory pool of :func:`spikewire.networks.ring.lif_ring`), so that ``w``
  need not carry the pool's effect as a common offset. Alone it made Δ worse on the Dale
  ring (1.00); with ``w_l1=0.01`` it was as good as the penalty alone (0.207 vs 0.213).
- ``w_l1``: an L1 penalty ``w_l1·mean|w|`` on the observed units' weights added to the
  training loss (0 = none). Measured with 0.01: better on the Dale ring with a hidden pool
  (Δ 0.24 → 0.21), much worse on the two-bump LNP ring (Δ 0.49 → 0.96, 120 s), so not a
  default.

Training budget and seeds (``benchmarks/results/gnn6.md``): the defaults (``max_epochs=10``
of ``batches_per_epoch=10`` batches, ``lr=5e-4``: 100 optimiser steps) are a quick setting,
far from converged on a ring. On the single-bump LNP ring (N = 50, 60 s, 2 ms bins)
``lr=2e-3, batches_per_epoch=50, max_epochs=30, patience=5`` (13–30 epochs, 2–4 min of
one core) reaches the GLM's held-out bits/spike (1.33–1.39 vs 1.30 over three seeds), which
200 steps did not (0.63); the profile error is then 0.19–0.27 (0.13 on 240 s).
``restarts=k`` trains k initialisations (restart 0 is the single run of the same seed;
restart k ≥ 1 draws its torch seed from ``seed``'s ``("gnn", k)`` stream) and keeps the
one with the lowest validation loss; the chosen run and every run's validation loss are in
``training_info_`` (``chosen_restart``, ``restart_val_losses``). ``w_l2``: a plain L2
penalty ``w_l2·mean(w²)`` on the observed units' weights (0 = none; no ring assumed);
``clip_grad``: clip the gradient's global norm to this value before each step (None =
none).
``chunk_sampling="random"`` draws each training chunk at a random start bin within the
training part instead of from the fixed grid of non-overlapping chunks (``"grid"``, the
default): the structure module then sees many more distinct windows than the recording has
chunks (e.g. 336 grid chunks of 0.5 s in 168 s of training data).
``context`` (s, default None: the chunk itself): the structure module reads a window of
``context`` s around each predicted chunk (windows every ``chunk`` s, the central ``chunk``
predicted; ``(context − chunk)/2`` s at each end of each block are then not predicted), so
that ``w`` is computed from a longer stretch of activity than is predicted (e.g. pairs of
units that are active within 2 s of each other but not within 0.5 s).
``average_epochs=k`` (default 1: the best epoch's ``w`` alone) reports the mean of the
chunk-averaged ``w`` of the parameters at the end of each of the k epochs ending at the best
one (an average of snapshots, to damp the optimiser's noise in ``w``; the best epoch's
model still predicts the held-out spikes); the snapshots are kept in checkpoints.
Measured (``benchmarks/results/gnn7.md``, single-bump ring, N = 50, the budget above):
on 240 s neither ``context=2.0`` nor random chunks lowered Δ (0.18 and 0.18 against 0.13
for the grid, seed 1); 480 s gave Δ 0.13 / 0.34 / 0.20 (seeds 1–3), 5 min of one core
each. Two errors remain: a bias at ring offsets beyond one chunk's reach (units never both
active in a chunk get one flat value) and a common additive offset of ``w`` that the loss
barely constrains (it moves between seeds and epochs); ``average_epochs=5`` damps the
second (seed 2: 0.34 → 0.27), not the first.

torch runs on ``n_threads`` threads (default 1: on a shared 2-core machine two threads ran
4× slower than one). The method is self-supervised and transductive: :meth:`GNN.fit` on an
untrained method first trains it on the recording it is given (as the paper does);
:meth:`GNN.train` trains explicitly (then :meth:`GNN.fit` applies the trained model to a
recording of the same number of units, e.g. another session, and :meth:`save`/:meth:`load`
keep it).

Weights are in arbitrary units and defined up to a common scale, **including its sign**
(``w·m = (−w)·(−m)``): compare profiles with a fitted scale
(:func:`spikewire.score.ring.profile_error`). ``scores`` hold ``|w| / max|w|`` for ranking.

**Link decision** (``weight_null``; ``benchmarks/results/gnnnull.md``). gnn has no test of
its own; ``adjacency`` applies the estimate's correction (BH at 5 % by default) to per-pair
p-values of the weights against an empirical null, which assumes a sparse circuit (on a
dense ring profile rank pairs by weight instead). On unconnected units the weights are unit
structure, not pair noise (the units' main effects carry 88–99.9 % of their variance on
the five null families, ``benchmarks/results/learnednull.md``): a smooth function of each
unit's activity, so the pairs of high-rate units stand out where rates span decades.

- ``weight_null="rates"`` (default): the rate-stratified null
  (:func:`rate_null_pvalues`): each pair's robust z against pairs of alike rates (location
  and log scale of the weights as full cubics in the two units' log rates, fitted with
  clipped residuals), read from a Student t whose df is calibrated by running the rule on
  normal noise with the same rate features (the fitted scale's noise makes the z
  heavy-tailed on few pairs: df 11–20 at 20 units, 28–118 at 40), stored as the
  estimate's ``pvalues``; no refit, tens of ms. Measured (``benchmarks/results/gnn20.md``,
  pooled per family): 20 units × 300 s, 6 seeds, rate at α = 0.05 of 0.032–0.060 and at
  0.01 of 0.006–0.010 on all five null families (gnnnull's normal reference: 0.041–0.071
  and 0.011–0.020), BH false calls 0–4 per fit; 40 × 300 s, 8 seeds (3 of them new),
  0.027–0.049 at 0.05 and 0.002–0.014 at 0.01 (heterogeneous 0.002: conservative; its
  seeds 5–7 give 0.004–0.015 at 0.05 under every rule tried). The weights, AUC and Δ do
  not change; on a Brunel network (100 of 400 recorded, ``structure="free"``, seed 1) the
  default decision's MCC is 0.534 (normal reference 0.535, plain rule 0.537). Fewer than
  50 tested pairs: the plain rule applies (``diagnostics["weight_null"]["fallback"]``).
- ``weight_null="rates-split"``: the same with each side of the residuals' median scaled by
  its own half-MAD (``split_scale``): removes the co-modulated family's one-sided tail
  (40 units, α = 0.01: 0.008 against 0.014) but is conservative on the heterogeneous one
  (0.022 at α = 0.05, out of band).
- ``weight_null="rates-normal"``: gnnnull's rule (normal reference): anti-conservative on
  few pairs (20 units: 0.020 at α = 0.01 on the poisson family).
- ``weight_null="weights"``: the plain rule of before
  (:meth:`~spikewire.infer.estimate.Estimate.weight_null_pvalues`: median / MAD robust z of
  the weights themselves; ``pvalues`` None): not a calibrated test (above).

Tried and not adopted (``gnnnull.md``, 20 units × 120 s): shift-surrogate refits (every
unit's train circularly shifted by its own offset, gnn refitted on each) and the trained
model applied to shift surrogates of the held-out block; both break the co-modulated
family's shared drive as well as pair timing and put 37–60 % of its unconnected pairs below
α = 0.05 (the refits also cost one fit per surrogate).

**Auxiliary nodes** (``n_aux``, default 0) stand in for unobserved neurons: node k sits
between observed units ``a_k = ⌊k·N/n_aux⌋`` and ``a_k + 1`` in the order of the
recording's units (sort units by their ring position), its embedding and history state are
the mean of those two neighbours' plus a learned offset (initialised at 0, i.e. the
interpolation), it sends messages through its learned ``w`` and its own prediction is not
in the loss. The reported weights are those among observed units.
``aux_state="recurrent"`` gives each auxiliary node its own state instead: the
interpolation initialises it at a chunk's first predicted bin, then a GRU (its own, not the
observed units') updates it bin by bin from its incoming messages (causal: the state used to
predict bin t depends on bins before t only), so its messages are no longer the mean of its
neighbours' plus a constant (collinear with theirs) and it can carry a memory longer than
the history window. Measured in ``benchmarks/results/gnn5.md``.

**External input** (``input_angle``, rad; ``input_rate`` its samples per s, default one per
bin from the recording's start): a second encoder, as in the paper, of the input's
``cos θ, sin θ`` over the ``history`` bins ending at the predicted bin (the input is
exogenous, its current value is known) → ``u(t)``; unit ``i`` receives ``e_i ⊙ u(t)`` (``e_i``
a learned per-unit vector: the input node's edge to unit i, e.g. its preferred angle)
projected into the GRU's input, and its sum added to the log rate. Without it a common
driven rotation must be explained through ``w`` (``benchmarks/results/gnn2.md``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from spikewire.core.seeds import rng as seeded_rng
from spikewire.infer._params import Boolean, Interval, Options, RealSequence, SeedLike
from spikewire.infer.base import register
from spikewire.infer.trained import TrainedMethod

__all__ = ["GNN", "TrainingDivergedError", "rate_null_pvalues"]


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


#: fewest tested pairs for the rate-stratified null (its regressions have 10 columns)
MIN_PAIRS_RATE_NULL = 50


def _rate_features(lr_post: np.ndarray, lr_pre: np.ndarray, symmetric: bool) -> np.ndarray:
    """The 10 columns of a full cubic in two log rates: in ``s = log r_i + log r_j`` and
    ``d = |log r_i − log r_j|`` (symmetric weights: unordered pairs), else in the post and
    pre log rates."""
    x, y = (lr_post + lr_pre, np.abs(lr_post - lr_pre)) if symmetric else (lr_post, lr_pre)
    x = x - x.mean()
    return np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y,
                            x ** 3, x * x * y, x * y * y, y ** 3])


def _rate_standardise(z: np.ndarray, X: np.ndarray, clip: float, iterations: int,
                      pinv: np.ndarray | None = None, split: bool = False
                      ) -> np.ndarray | None:
    """Steps (2)–(4) of :func:`rate_null_pvalues`: the clipped cubic location fit, the
    log-scale fit and the robust z of the scaled residuals (None when their MAD is 0).
    ``pinv``: ``X``'s pseudo-inverse, when the same ``X`` is used many times; ``split``:
    each side of the median scaled by its own half-MAD (``1.4826·median |u|`` over that
    side)."""
    P = np.linalg.pinv(X) if pinv is None else pinv
    beta = P @ z
    for _ in range(int(iterations)):
        res = z - X @ beta
        lim = clip * 1.4826 * np.median(np.abs(res))
        beta = P @ (X @ beta + np.clip(res, -lim, lim))
    res = z - X @ beta
    tiny = 1e-12 * max(1.0, float(np.max(np.abs(res))))
    gamma = P @ np.log(np.abs(res) + tiny)
    u = res / np.exp(X @ gamma)
    u = u - np.median(u)
    if split:
        neg, pos = u < 0, u > 0
        if not (neg.any() and pos.any()):
            return None
        lo = 1.4826 * np.median(-u[neg])
        hi = 1.4826 * np.median(u[pos])
        return np.where(neg, u / lo, u / hi) if lo > 0 and hi > 0 else None
    scale = 1.4826 * np.median(np.abs(u))
    return u / scale if scale > 0 else None


#: the normal two-sided 1 % and 0.1 % points, where the t reference's df are matched
_Z01 = 2.5758293035489004
_Z001 = 3.2905267314918945


def _t_scale(df: float) -> float:
    """Scale that gives a Student t with ``df`` degrees of freedom a median |x| of
    Φ⁻¹(0.75) (the robust z's: median / 1.4826·MAD)."""
    from scipy import stats

    return float(stats.norm.ppf(0.75) / stats.t.ppf(0.75, df))


def _t_tail(df: float, q: float = _Z01) -> float:
    """P(|x| > q) for the scaled Student t of :func:`_t_scale`."""
    from scipy import stats

    return float(2.0 * stats.t.sf(q / _t_scale(df), df))


def _matched_df(frac: float, q: float, nominal: float) -> float:
    """df of the scaled t (:func:`_t_scale`) whose two-sided tail beyond ``q`` is ``frac``;
    ``inf`` (normal) when ``frac`` is at most the normal's ``nominal``."""
    from scipy.optimize import brentq

    if frac <= nominal:
        return math.inf
    lo, hi = 1.0, 1e6
    if _t_tail(lo, q) <= frac:
        return lo
    if _t_tail(hi, q) >= frac:
        return math.inf
    return math.exp(brentq(lambda a: _t_tail(math.exp(a), q) - frac, math.log(lo),
                           math.log(hi), xtol=1e-4))


def _calibrated_df(X: np.ndarray, clip: float, iterations: int, n_sim: int,
                   rng: np.random.Generator, split: bool = False) -> tuple[float, float]:
    """Degrees of freedom of the Student t that matches the rule's own tail on this design.

    The rule run on ``n_sim`` draws of pure normal noise (homoscedastic: the fits are
    location and scale equivariant; simulating the fitted heteroscedastic scale changes
    nothing, ``gnn20.md``) with the tested pairs' rate features ``X``; its robust z are a
    scale mixture (the fitted log scale is noisy: a 10-column fit to 190 pairs), heavier-
    tailed than normal. The t (scaled as :func:`_t_scale`) whose two-sided tail equals the
    simulated fraction beyond Φ⁻¹(0.995) = 2.576, or beyond Φ⁻¹(0.9995) = 3.291 if that
    needs fewer df (a heavier tail: the deeper tail of one design can be heavier than a t
    matched at 2.576 predicts); ``inf`` (normal) when both fractions are at most the
    normal's. Returns ``(df, fraction beyond 2.576)``."""
    m = X.shape[0]
    pinv = np.linalg.pinv(X)
    hits = deep = total = 0
    for _ in range(n_sim):
        u = _rate_standardise(rng.standard_normal(m), X, clip, iterations, pinv, split)
        if u is not None:
            a = np.abs(u)
            hits += int(np.count_nonzero(a > _Z01))
            deep += int(np.count_nonzero(a > _Z001))
            total += m
    if not total:
        return math.inf, 0.0
    frac = hits / total
    df = min(_matched_df(frac, _Z01, 0.01), _matched_df(deep / total, _Z001, 0.001))
    return df, frac


def rate_null_pvalues(weights: np.ndarray, rates: np.ndarray, tested: np.ndarray, *,
                      symmetric: bool = True, min_rate: float = 1e-3,
                      clip: float = 2.5, iterations: int = 5, reference: str = "t",
                      n_sim: int | None = None, seed: int = 0, split_scale: bool = False
                      ) -> tuple[np.ndarray | None, dict]:
    """Per-pair p-values of learned weights against a rate-stratified empirical null.

    On unconnected units gnn's weights are a smooth function of the two units' activity
    (``benchmarks/results/learnednull.md``: unit main effects carry 88–99.9 % of their
    variance), so the pairs of high-rate units stand out from the weights' own median when
    rates span decades. This null compares each pair with pairs of alike rates: (1) robust
    z of the tested weights (median / 1.4826·MAD); (2) its location as a full cubic in the
    two units' log rates (:func:`_rate_features`), fitted by least squares with the
    residuals clipped at ``clip`` robust sd (``iterations`` passes, so that a few strong
    pairs do not move the fit); (3) its scale as the same cubic fitted to
    ``log |residual|``; (4) the scaled residuals' robust z (median / 1.4826·MAD) and their
    two-sided p under the reference. Like the plain weight null it assumes that most tested
    pairs are unconnected. Measured on the five null families in
    ``benchmarks/results/gnnnull.md`` and ``benchmarks/results/gnn20.md``.

    The fitted scale is noisy where few pairs are tested (10 columns fitted to
    ``log |residual|``), which makes the robust z heavier-tailed than normal even when the
    pair noise is normal: on 190 pairs (20 units) 2.0 % of pure-noise pairs fall below
    α = 0.01 with a normal reference, on 780 pairs (40 units) 1.3 % (``gnn20.md``). The
    default ``reference="t"`` removes this: the rule is run on ``n_sim`` draws of normal
    noise with the same rate features, and the p-values are read from the Student t (scaled
    to the robust z's median |z|) whose tail at 2.576, or at 3.291 where that is heavier,
    matches the simulated one (:func:`_calibrated_df`; the normal when neither simulated
    tail exceeds the normal's): 1.1 % and 1.0 %.

    Parameters
    ----------
    weights : ndarray, shape (N, N)
        Learned weights (post × pre), any scale and sign.
    rates : ndarray, shape (N,)
        The units' mean rates (Hz).
    tested : ndarray of bool, shape (N, N)
        The pairs to test (off-diagonal).
    symmetric : bool, default True
        The weights are symmetric (``w_ij = w_ji``): each unordered pair is fitted once and
        the features do not tell pre from post.
    min_rate : float, default 1e-3 Hz
        Floor of the rates before the log (silent units).
    clip : float, default 2.5
        Residuals beyond ``clip`` robust sd are clipped in the location fit.
    iterations : int, default 5
        Passes of the clipped least-squares fit.
    reference : {"t", "normal"}, default "t"
        The robust z's reference: the simulation-calibrated Student t, or the standard
        normal (the rule of ``gnnnull.md``; anti-conservative on few pairs).
    n_sim : int or None, default None
        Noise draws for the t's calibration; None: enough for 20 000 simulated pairs
        (between 10 and 200 draws). Ignored with ``reference="normal"``.
    seed : int, default 0
        Seed of the calibration's noise (``numpy.random.default_rng``); the p-values
        depend on it only through the fitted df.
    split_scale : bool, default False
        Scale each side of the residuals' median by its own half-MAD (``1.4826·median
        |u|`` over that side) in step (4), for a skewed null (the co-modulated family's
        weights have a heavy tail on one side, ``gnn20.md``); the t's calibration
        simulates the same step. Not the default: at 40 units it removes the co-modulated
        family's excess at α = 0.01 but makes the heterogeneous family conservative
        (pooled 0.022 at α = 0.05 over 8 seeds, ``gnn20.md``).

    Returns
    -------
    pvalues : ndarray, shape (N, N), or None
        NaN where not tested; None when fewer than ``MIN_PAIRS_RATE_NULL`` (50) pairs are
        tested or the weights' MAD is 0 (then the estimate's plain weight null applies).
    info : dict
        ``rule``, ``pairs`` fitted, ``reference`` and for the t its ``df`` and the
        simulated tail ``sim_tail_01`` (fraction of pure-noise robust z beyond 2.576), and,
        when it could not be applied, ``fallback`` (why).
    """
    w = np.asarray(weights, dtype=float)
    r = np.asarray(rates, dtype=float)
    t = np.asarray(tested, dtype=bool)
    n = w.shape[0] if w.ndim else 0
    if w.ndim != 2 or w.shape != (n, n) or t.shape != (n, n) or r.shape != (n,):
        raise ValueError(f"rate_null_pvalues needs (N, N) weights and tested and (N,) rates, "
                         f"got {w.shape}, {t.shape} and {r.shape}")
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("rate_null_pvalues: rates must be finite and >= 0 Hz")
    if not min_rate > 0:
        raise ValueError(f"rate_null_pvalues: min_rate must be > 0 Hz, got {min_rate}")
    if not clip > 0 or int(iterations) != iterations or iterations < 0:
        raise ValueError(f"rate_null_pvalues: clip must be > 0 and iterations an integer "
                         f">= 0, got clip={clip}, iterations={iterations}")
    if reference not in ("t", "normal"):
        raise ValueError(f"rate_null_pvalues: reference must be 't' or 'normal', "
                         f"got {reference!r}")
    if n_sim is not None and (int(n_sim) != n_sim or n_sim < 1):
        raise ValueError(f"rate_null_pvalues: n_sim must be a positive integer or None, "
                         f"got {n_sim}")
    if not np.all(np.isfinite(w[t])):
        raise ValueError("rate_null_pvalues: the tested weights must be finite (NaN or inf "
                         "found); mark such pairs untested")
    fit = t & ~np.eye(n, dtype=bool)
    if symmetric:
        fit = fit & np.triu(np.ones((n, n), dtype=bool), 1) & t.T
    post, pre = np.nonzero(fit)
    info = {"rule": "rates", "pairs": int(post.size), "reference": reference,
            "split_scale": bool(split_scale)}
    if post.size < MIN_PAIRS_RATE_NULL:
        info["fallback"] = f"{post.size} pairs < {MIN_PAIRS_RATE_NULL}"
        return None, info
    x = w[post, pre]
    med = np.median(x)
    mad = 1.4826 * np.median(np.abs(x - med))
    if not mad > 0:
        info["fallback"] = "MAD of the weights is 0"
        return None, info
    z = (x - med) / mad
    lr = np.log(np.maximum(r, min_rate))
    X = _rate_features(lr[post], lr[pre], symmetric)
    u = _rate_standardise(z, X, clip, iterations, split=split_scale)
    if u is None:
        info["fallback"] = "MAD of the rate-stratified residuals is 0"
        return None, info
    p = np.full((n, n), np.nan)
    if reference == "t":
        from scipy import stats

        k = int(n_sim) if n_sim is not None else min(200, max(10, math.ceil(20000 / u.size)))
        df, frac = _calibrated_df(X, clip, int(iterations), k, np.random.default_rng(seed),
                                  split_scale)
        info.update(df=df, sim_tail_01=frac, n_sim=k)
        if math.isfinite(df):
            p[post, pre] = 2.0 * stats.t.sf(np.abs(u) / _t_scale(df), df)
        else:
            p[post, pre] = 2.0 * stats.norm.sf(np.abs(u))
    else:
        from scipy.special import ndtr

        p[post, pre] = 2.0 * ndtr(-np.abs(u))
    if symmetric:
        p[pre, post] = p[post, pre]
    return p, info


def _model_class():
    """The torch module (defined on first use so that torch is imported lazily)."""
    import torch
    from torch import nn

    class _GNNModel(nn.Module):
        def __init__(self, n_units, chunk_bins, kernel, stride, history, n_kernels, embed,
                     hidden, symmetric, n_aux=0, identity=False, global_node=False,
                     n_input=0, input_dim=8, free=False, aux_recurrent=False, pred_off=0,
                     pred_len=None):
            super().__init__()
            # context > chunk: the structure module reads windows of ``chunk_bins`` (the
            # context) and the prediction module predicts their bins pred_off..+pred_len
            self.pred_off, self.pred_len = pred_off, pred_len
            # structure="free": w is a free (N', N') parameter instead of the structure
            # module's output (a diagnostic of the structure module, not the paper's design)
            n_all = n_units + n_aux
            self.w_free = nn.Parameter(torch.zeros(n_all, n_all)) if free else None
            self.n_units = n_units
            self.n_aux = n_aux
            # auxiliary node k sits between observed units a_k and a_k + 1 (unit order)
            left = (np.arange(n_aux) * n_units) // max(1, n_aux)
            self.register_buffer("aux_left", torch.as_tensor(left, dtype=torch.long))
            self.register_buffer("aux_right", torch.as_tensor((left + 1) % n_units,
                                                              dtype=torch.long))
            self.aux_z = nn.Parameter(torch.zeros(n_aux, embed))
            self.aux_h = nn.Parameter(torch.zeros(n_aux, hidden))
            # aux_state="recurrent": each auxiliary node carries its own state through the
            # chunk, GRU-updated from its incoming messages (the interpolation above only
            # initialises it), instead of being its neighbours' mean at every bin
            self.aux_gru = nn.GRUCell(hidden, hidden) if (aux_recurrent and n_aux) else None
            # its input is layer-normalised: Σ_j w_kj m_j is unbounded (w is), and through
            # a few hundred recurrent steps its gradient overflowed to NaN without it
            self.aux_norm = nn.LayerNorm(hidden) if self.aux_gru is not None else None
            # learned per-unit embedding added to z (transductive): lets the pair MLP tell
            # apart units whose activity in a chunk is alike (e.g. the same phase of two bumps)
            self.unit_z = nn.Parameter(torch.zeros(n_units, embed)) if identity else None
            # a global node (an unobserved all-to-all pool): every unit receives a learned
            # function of the mean state of the observed units, outside w
            self.glob = (nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                       nn.Linear(hidden, hidden)) if global_node else None)
            # second encoder: the external input's last ``history`` bins (``n_input``
            # channels, e.g. cos θ and sin θ of an input angle) → u(t) ∈ R^input_dim; unit i
            # receives (e_i ⊙ u(t)) projected to the message space, e_i a learned per-unit
            # vector (the input node's edge to unit i; its preferred angle)
            self.n_input = n_input
            if n_input:
                self.in_enc = nn.Sequential(nn.Linear(n_input * history, hidden), nn.ReLU(),
                                            nn.Linear(hidden, input_dim))
                self.in_unit = nn.Parameter(0.1 * torch.randn(n_units, input_dim))
                self.in_proj = nn.Linear(input_dim, hidden, bias=False)
            self.history = history
            self.symmetric = symmetric
            self.conv = nn.Conv1d(1, n_kernels, kernel, stride=stride)
            self.bn = nn.BatchNorm1d(n_kernels)
            n_out = (chunk_bins - kernel) // stride + 1
            self.fc = nn.Linear(n_kernels * n_out, embed)
            self.pair_a = nn.Linear(embed, hidden)
            self.pair_b = nn.Linear(embed, hidden, bias=False)
            self.pair = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                      nn.Linear(hidden, 1))
            self.enc = nn.Sequential(nn.Linear(history, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.Tanh())
            self.msg_src = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                         nn.Linear(hidden, hidden))
            self.msg_dst = nn.Linear(hidden, hidden)
            self.gru = nn.GRUCell(hidden, hidden)
            self.dec = nn.Linear(hidden, 1)
            self.unit_bias = nn.Parameter(torch.zeros(n_units))

        def structure(self, x):
            """x: (B, N, L) counts → w: (B, N, N) post × pre."""
            b, n, length = x.shape
            if self.w_free is not None:
                w = self.w_free
                if self.symmetric:
                    w = 0.5 * (w + w.T)
                eye = torch.eye(w.shape[0], dtype=torch.bool, device=x.device)
                return w.masked_fill(eye, 0.0).expand(b, -1, -1)
            f = self.conv(torch.log1p(x).reshape(b * n, 1, length))
            f = torch.relu(self.bn(f))
            z = self.fc(f.reshape(b * n, -1)).reshape(b, n, -1)
            if self.unit_z is not None:
                z = z + self.unit_z[None]
            if self.n_aux:
                z_aux = 0.5 * (z[:, self.aux_left] + z[:, self.aux_right]) + self.aux_z
                z = torch.cat([z, z_aux], dim=1)
                n = n + self.n_aux
            e = self.pair_a(z)[:, :, None, :] + self.pair_b(z)[:, None, :, :]
            w = self.pair(e).squeeze(-1)
            if self.symmetric:
                w = 0.5 * (w + w.transpose(1, 2))
            eye = torch.eye(n, dtype=torch.bool, device=x.device)
            return w.masked_fill(eye, 0.0)

        def predict(self, x, w, inp=None):
            """log λ of bins history..L−1 from the preceding ``history`` bins: (B, N, T').

            ``inp`` (B, n_input, L): the external input; bin t is predicted from the input of
            bins t − ℓ + 1 .. t (it is exogenous: its current value is known)."""
            hist = x[..., :-1].unfold(-1, self.history, 1)        # (B, N, T', ℓ)
            h = self.enc(torch.log1p(hist))                       # (B, N, T', H)
            n = h.shape[1]
            h_all = h
            if self.n_aux:
                h_all = torch.cat([h, self.aux_states(h, w)], dim=1)
            w_obs = w[:, :n, :]                                   # messages to observed units
            src = self.msg_src(h_all)
            agg = torch.einsum("bij,bjth->bith", w_obs, src)
            agg = agg + w_obs.sum(-1)[:, :, None, None] * self.msg_dst(h)
            if self.glob is not None:
                agg = agg + self.glob(h.mean(dim=1, keepdim=True))
            drive = None
            if self.n_input:
                win = inp[..., 1:].unfold(-1, self.history, 1)   # (B, C, T', ℓ)
                b_, c_, t_, l_ = win.shape
                u = self.in_enc(win.permute(0, 2, 1, 3).reshape(b_, t_, c_ * l_))  # (B, T', K)
                drive = self.in_unit[None, :, None, :] * u[:, None, :, :]        # (B, N, T', K)
                agg = agg + self.in_proj(drive)
            shape = h.shape
            h2 = self.gru(agg.reshape(-1, shape[-1]), h.reshape(-1, shape[-1]))
            out = self.dec(h2).reshape(shape[:-1])
            if drive is not None:   # and a direct path to the log rate (learns faster)
                out = out + drive.sum(-1)
            return out + self.unit_bias[None, :, None]

        def aux_states(self, h, w):
            """States (B, K, T', H) of the K auxiliary nodes given the observed units'
            encoded histories ``h`` (B, N, T', H) and the weights ``w`` (B, N', N').

            Static (default): the mean of the two neighbours' states plus a learned offset
            at every bin. Recurrent: that interpolation at the chunk's first predicted bin
            only; then ``s_t = GRU(LN(Σ_j w_kj φ_src(h_j,t) + Σ_l w_kl φ_src(s_l,t−1)
            + (Σ_j w_kj) φ_dst(s_k,t−1)), s_k,t−1)`` (LN: layer norm): ``h_j,t`` encodes
            bins up to t − 1, so the state used to predict bin t depends on earlier bins
            only (causal), with a memory longer than the history window."""
            n = h.shape[1]
            h0 = 0.5 * (h[:, self.aux_left] + h[:, self.aux_right]) + self.aux_h[None, :, None, :]
            if self.aux_gru is None:
                return h0
            w_ao, w_aa = w[:, n:, :n], w[:, n:, n:]
            w_sum = w[:, n:, :].sum(-1)[..., None]                 # (B, K, 1)
            from_obs = torch.einsum("bkj,bjth->bkth", w_ao, self.msg_src(h))
            s = h0[:, :, 0]
            out = []
            for t in range(h.shape[2]):
                m = (from_obs[:, :, t] + torch.einsum("bkl,blh->bkh", w_aa, self.msg_src(s))
                     + w_sum * self.msg_dst(s))
                b_, k_, hd = m.shape
                s = self.aux_gru(self.aux_norm(m).reshape(-1, hd),
                                 s.reshape(-1, hd)).reshape(b_, k_, hd)
                out.append(s)
            return torch.stack(out, dim=2)

        def forward(self, x, w=None, inp=None):
            """log λ of ``x``'s bins and the weights used: ``w`` (N', N') given (one static
            matrix for the whole batch), else each chunk's own structure; ``inp`` the
            external input of the chunks (B, n_input, L) when the model has one."""
            if w is None:
                w = self.structure(x)
            else:
                w = w.expand(x.shape[0], -1, -1)
            if self.pred_len is not None:   # context > chunk: predict the central chunk
                x = x[..., self.pred_off:self.pred_off + self.pred_len]
                if inp is not None:
                    inp = inp[..., self.pred_off:self.pred_off + self.pred_len]
            return self.predict(x, w, inp), w

        def pooled(self, xs):
            """(1, N', N') mean of the structure over the chunks ``xs``."""
            return self.structure(xs).mean(0, keepdim=True)

    return _GNNModel


def _poisson_nll(log_rate, target):
    import torch

    log_rate = torch.clamp(log_rate, max=20.0)
    return torch.mean(torch.exp(log_rate) - target * log_rate)


@register
class GNN(TrainedMethod):
    """Graph network predicting the next spikes; weights = its learned edge weights."""

    name = "gnn"
    reference = ("Yoon (2025) Self-supervised discovery of neural circuits in spatially "
                 "patterned neural responses with graph neural networks, NeurIPS "
                 "(arXiv:2509.17174)")
    requires = ("torch",)
    install = "spikewire[ml]"
    bin_settings = {"bin_width": 2e-3}
    settings_constraints = {
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "time_scale": [Interval("real", 0, None, closed="neither", unit="s")],
        "chunk": [Interval("real", 0, None, closed="neither", unit="s")],
        "context": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "n_kernels": [Interval("int", 1, None)],
        "embed": [Interval("int", 1, None)],
        "hidden": [Interval("int", 1, None)],
        "symmetric": [Boolean()],
        "n_aux": [Interval("int", 0, None)],
        "structure": [Options(("pooled", "chunk", "free"))],
        "aux_state": [Options(("static", "recurrent"))],
        "structure_batch": [Interval("int", 1, None)],
        "identity": [Boolean()],
        "global_node": [Boolean()],
        "w_l1": [Interval("real", 0, None, closed="left")],
        "w_l2": [Interval("real", 0, None, closed="left")],
        "restarts": [Interval("int", 1, None)],
        "average_epochs": [Interval("int", 1, None)],
        "chunk_sampling": [Options(("grid", "random"))],
        "clip_grad": [Interval("real", 0, None, closed="neither"), None],
        "lr": [Interval("real", 0, None, closed="neither")],
        "lr_decay": [Interval("real", 0, 1, closed="right")],
        "max_epochs": [Interval("int", 1, None)],
        "batches_per_epoch": [Interval("int", 1, None)],
        "batch_size": [Interval("int", 1, None)],
        "patience": [Interval("int", 1, None)],
        "validation_fraction": [Interval("real", 0, 0.5, closed="neither")],
        "test_fraction": [Interval("real", 0, 0.5, closed="neither")],
        "min_spikes": [Interval("int", 1, None)],
        "n_threads": [Interval("int", 1, None)],
        "weight_null": [Options(("rates", "rates-split", "rates-normal", "weights"))],
        "input_angle": [RealSequence(min_length=2, unit="rad"), None],
        "input_rate": [Interval("real", 0, None, closed="neither", unit="Hz"), None],
        "device": TrainedMethod.DEVICE_CONSTRAINT,
        "seed": [SeedLike()],
    }

    def __init__(self, *, bin_width: float | None = None, time_scale: float = 0.01,
                 chunk: float = 0.5, context: float | None = None, n_kernels: int = 32,
                 embed: int = 32, hidden: int = 32,
                 symmetric: bool = True, n_aux: int = 0, aux_state: str = "static",
                 structure: str = "chunk",
                 structure_batch: int = 16, identity: bool = False, global_node: bool = False,
                 w_l1: float = 0.0, w_l2: float = 0.0, restarts: int = 1,
                 average_epochs: int = 1, chunk_sampling: str = "grid",
                 clip_grad: float | None = None, lr: float = 5e-4,
                 lr_decay: float = 0.95,
                 max_epochs: int = 10, batches_per_epoch: int = 10, batch_size: int = 4,
                 patience: int = 2, validation_fraction: float = 0.1,
                 test_fraction: float = 0.1, min_spikes: int = 20, n_threads: int = 1,
                 weight_null: str = "rates", input_angle=None, input_rate: float | None = None,
                 device: str = "cpu", seed=0):
        self.bin_width = bin_width
        self.time_scale = time_scale
        self.chunk = chunk
        self.context = context
        self.n_kernels = n_kernels
        self.embed = embed
        self.hidden = hidden
        self.symmetric = symmetric
        self.n_aux = n_aux
        self.aux_state = aux_state
        self.structure = structure
        self.structure_batch = structure_batch
        self.identity = identity
        self.global_node = global_node
        self.w_l1 = w_l1
        self.w_l2 = w_l2
        self.restarts = restarts
        self.average_epochs = average_epochs
        self.chunk_sampling = chunk_sampling
        self.clip_grad = clip_grad
        self.lr = lr
        self.lr_decay = lr_decay
        self.max_epochs = max_epochs
        self.batches_per_epoch = batches_per_epoch
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.test_fraction = test_fraction
        self.min_spikes = min_spikes
        self.n_threads = n_threads
        self.weight_null = weight_null
        self.input_angle = input_angle
        self.input_rate = input_rate
        self.device = device
        self.seed = seed

    # ------------------------------------------------------------------ geometry
    def _geometry(self, bin_width: float) -> dict:
        """Bins of the conv kernel, stride, history window and chunk for ``bin_width``."""
        kernel = max(1, round(2 * self.time_scale / bin_width))
        stride = max(1, round(0.2 * self.time_scale / bin_width))
        history = kernel
        chunk_bins = round(self.chunk / bin_width)
        if chunk_bins < max(kernel, history) + 2:
            raise ValueError(
                f"gnn: chunk={self.chunk:g} s is {chunk_bins} bins of {bin_width:g} s, "
                f"shorter than the conv kernel / history window of 2·time_scale = {kernel} "
                f"bins plus 2; use chunk >= {(kernel + 2) * bin_width:g} s or a smaller "
                "time_scale")
        context_bins = chunk_bins if self.context is None else round(self.context / bin_width)
        if context_bins < chunk_bins:
            raise ValueError(f"gnn: context={self.context:g} s is shorter than chunk="
                             f"{self.chunk:g} s; use context >= chunk (or None: the chunk)")
        return {"kernel": kernel, "stride": stride, "history": history,
                "chunk_bins": chunk_bins, "context_bins": context_bins,
                "offset": (context_bins - chunk_bins) // 2}

    def _check_combination(self, bins: dict) -> None:
        if self.validation_fraction + self.test_fraction >= 0.5:
            raise ValueError(
                f"gnn: validation_fraction + test_fraction = "
                f"{self.validation_fraction + self.test_fraction:g} must be < 0.5 (at least "
                "half of the recording trains the model)")
        if bins.get("bin_width") is not None:
            self._geometry(bins["bin_width"])

    # ------------------------------------------------------------------ torch helpers
    def _torch_seed(self, restart: int = 0) -> int:
        """The torch seed of training run ``restart`` (0: the one a single run uses)."""
        if restart == 0:
            return int(seeded_rng(self.seed, "gnn").integers(0, 2 ** 62))
        return int(seeded_rng(self.seed, "gnn", restart).integers(0, 2 ** 62))

    def _build_model(self, n_units: int, geo: dict, n_input: int | None = None):
        import torch

        cls = _model_class()
        wide = geo["context_bins"] > geo["chunk_bins"]
        model = cls(n_units, geo["context_bins"], geo["kernel"], geo["stride"], geo["history"],
                    self.n_kernels, self.embed, self.hidden, bool(self.symmetric),
                    int(self.n_aux), bool(self.identity), bool(self.global_node),
                    (2 if self.input_angle is not None else 0) if n_input is None else n_input,
                    free=self.structure == "free",
                    aux_recurrent=self.aux_state == "recurrent",
                    pred_off=geo["offset"], pred_len=geo["chunk_bins"] if wide else None)
        return model.to(torch.device(self.device))

    def _input_channels(self, spikes, bin_width: float, n_bins: int) -> np.ndarray | None:
        """(2, n_bins) float32 ``cos θ``, ``sin θ`` of the input angle in each bin (the
        sample at the bin's centre), or None without an input."""
        if self.input_angle is None:
            return None
        theta = np.asarray(self.input_angle, dtype=float).ravel()
        rate = 1.0 / bin_width if self.input_rate is None else float(self.input_rate)
        centres = (np.arange(n_bins) + 0.5) * bin_width
        idx = np.floor(centres * rate).astype(np.int64)
        if theta.size < idx[-1] + 1:
            raise ValueError(
                f"gnn: input_angle holds {theta.size} samples at input_rate={rate:g} Hz "
                f"({theta.size / rate:g} s) but the recording lasts {spikes.duration:g} s "
                f"({n_bins} bins of {bin_width:g} s); give one angle per 1/input_rate s from "
                "the recording's start over its whole duration (input_rate=None: one per bin)")
        th = theta[idx]
        return np.stack([np.cos(th), np.sin(th)]).astype(np.float32)

    def _chunks(self, counts: np.ndarray, start: int, stop: int, length: int,
                width: int | None = None) -> np.ndarray:
        """Non-overlapping (n_chunks, N, length) windows of counts[:, start:stop]; with
        ``width`` > ``length``: (n, N, width) windows starting every ``length`` bins that
        fit in counts[:, start:stop] (their central ``length`` bins tile the block but for
        ``(width − length) // 2`` bins at each end)."""
        if width is not None and width > length:
            n_w = (stop - start - width) // length + 1
            if n_w < 1:
                return np.zeros((0, counts.shape[0], width), dtype=np.float32)
            view = np.lib.stride_tricks.sliding_window_view(counts[:, start:stop], width,
                                                            axis=1)[:, ::length][:, :n_w]
            return np.ascontiguousarray(view.transpose(1, 0, 2), dtype=np.float32)
        n_chunks = (stop - start) // length
        if n_chunks < 1:
            return np.zeros((0, counts.shape[0], length), dtype=np.float32)
        x = counts[:, start:start + n_chunks * length].reshape(counts.shape[0], n_chunks,
                                                               length)
        return np.ascontiguousarray(x.transpose(1, 0, 2), dtype=np.float32)

    # ------------------------------------------------------------------ training
    def _train(self, data, **options) -> dict:
        from spikewire.infer.base import as_recording

        rec = as_recording(data)
        if rec.spikes is None:
            raise ValueError("gnn trains on spike trains; this recording holds none")
        bins, _ = self.resolve_bins(rec)
        return self._train_counts(rec.spikes, bins["bin_width"])

    def _split(self, n_bins: int, chunk_bins: int) -> tuple[int, int]:
        n_test = int(round(self.test_fraction * n_bins))
        n_val = int(round(self.validation_fraction * n_bins))
        return n_bins - n_val - n_test, n_bins - n_test

    def _train_counts(self, spikes, bin_width: float) -> dict:
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        try:
            return self._train_counts_inner(spikes, bin_width)
        finally:
            torch.set_num_threads(old)

    def _train_counts_inner(self, spikes, bin_width: float) -> dict:
        try:
            import torch
        except ImportError as err:  # pragma: no cover - torch is installed in CI
            from spikewire.infer.base import MissingDependencyError

            raise MissingDependencyError(
                "method 'gnn' needs torch; install it with `pip install 'spikewire[ml]'`"
            ) from err
        t0 = time.perf_counter()
        geo = self._geometry(bin_width)
        counts = np.asarray(spikes.binned(bin_width, sparse=False), dtype=np.float32)
        n, n_bins = counts.shape
        if n < 2:
            raise ValueError(f"gnn needs at least 2 units to learn connections, got {n}")
        if self.n_aux > n:
            raise ValueError(f"gnn: n_aux={self.n_aux} auxiliary nodes for {n} observed units; "
                             f"use at most one auxiliary node per observed unit "
                             f"(n_aux <= {n})")
        L, S = geo["chunk_bins"], geo["context_bins"]
        train_end, val_end = self._split(n_bins, L)
        train = self._chunks(counts, 0, train_end, L)
        tw = self._chunks(counts, 0, train_end, L, S)          # = train unless context
        val = self._chunks(counts, train_end, val_end, L, S)
        inp = self._input_channels(spikes, bin_width, n_bins)
        it_np = iv_np = None
        if inp is not None:
            it_np = self._chunks(inp, 0, train_end, L, S)
            iv_np = self._chunks(inp, train_end, val_end, L, S)
        if tw.shape[0] < 2 or val.shape[0] < 1:
            raise ValueError(
                f"gnn: the recording ({n_bins} bins of {bin_width:g} s) holds {tw.shape[0]} "
                f"training and {val.shape[0]} validation chunks of chunk={self.chunk:g} s "
                f"(context {S * bin_width:g} s); at least 2 and 1 are needed: record longer "
                "or use a shorter chunk / context")
        n_train_spikes = float(train.sum())
        if n_train_spikes < max(100, self.min_spikes * n):
            raise ValueError(
                f"gnn: too few spikes to train: {n_train_spikes:.0f} in the training part "
                f"({train.shape[0]} chunks of {self.chunk:g} s, {n} units); at least "
                f"{max(100, self.min_spikes * n)} (min_spikes={self.min_spikes} per unit) are "
                "needed: record longer or select active units")
        dev = torch.device(self.device)
        xt = torch.from_numpy(tw).to(dev)
        xv = torch.from_numpy(val).to(dev)
        it = None if it_np is None else torch.from_numpy(it_np).to(dev)
        iv = None if iv_np is None else torch.from_numpy(iv_np).to(dev)
        mean = train.mean(axis=(0, 2)).astype(np.float32)
        crops = None
        if self.chunk_sampling == "random":
            # every window of S bins that starts in the training part and ends before the
            # validation part: (N, n_starts, L) and (C, n_starts, L) views
            crops = (torch.from_numpy(np.ascontiguousarray(counts[:, :train_end])).to(dev)
                     .unfold(1, S, 1),
                     None if inp is None else
                     torch.from_numpy(np.ascontiguousarray(inp[:, :train_end])).to(dev)
                     .unfold(1, S, 1))
        runs = []
        for k in range(self.restarts):
            runs.append(self._train_one(self._torch_seed(k), n, geo, mean, xt, xv, it, iv,
                                        crops))
        # restarts: keep the run with the lowest validation loss (the data the weights
        # are not fitted to; the held-out test block is not looked at)
        chosen = int(np.argmin([r["best"] for r in runs]))
        model, best, history = runs[chosen]["model"], runs[chosen]["best"], \
            runs[chosen]["history"]
        self.model_ = model
        self.snapshots_ = runs[chosen]["snapshots"]
        self.n_units_ = n
        self.bin_width_ = float(bin_width)
        return {"epochs": len(history), "best_val_loss": best, "history": history,
                "restart_val_losses": [float(r["best"]) for r in runs],
                "restart_epochs": [len(r["history"]) for r in runs],
                "chosen_restart": chosen,
                "averaged_epochs": max(1, len(self.snapshots_)),
                "n_units": n, "bin_width": float(bin_width),
                "train_chunks": int(train.shape[0]), "time_s": time.perf_counter() - t0}

    def _train_one(self, torch_seed: int, n: int, geo: dict, mean: np.ndarray, xt, xv, it,
                   iv, crops=None) -> dict:
        """One training run from the initialisation of ``torch_seed``: the best epoch's
        model (by validation loss), that loss and the per-epoch history."""
        import torch

        dev = xt.device
        with torch.random.fork_rng(devices=[] if self.device == "cpu" else None):
            torch.manual_seed(torch_seed)
            gen = torch.Generator().manual_seed(torch_seed + 1)
            model = self._build_model(n, geo)
            with torch.no_grad():   # start from the homogeneous rate of each unit
                model.unit_bias.copy_(torch.from_numpy(np.log(mean + 1e-3)))
                model.dec.weight.mul_(0.1)
                model.dec.bias.zero_()
            opt = torch.optim.Adam(model.parameters(), lr=self.lr)
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.lr_decay)
            hist = geo["history"]
            off, L = geo["offset"], geo["chunk_bins"]
            pooled = self.structure == "pooled"
            n_struct = min(self.structure_batch, xt.shape[0])
            best, best_state, bad, history = math.inf, None, 0, []
            # average_epochs: the parameters of the last k epochs (a sliding window); at a
            # new best epoch the window ending there is kept
            recent, best_window = [], []
            for epoch in range(self.max_epochs):
                model.train()
                losses = []
                for _ in range(self.batches_per_epoch):
                    idx = torch.randint(0, xt.shape[0], (self.batch_size,), generator=gen)
                    if crops is None:
                        xb = xt[idx.to(dev)]
                        ib = None if it is None else it[idx.to(dev)]
                    else:   # chunk_sampling="random": windows starting at any bin
                        start = torch.randint(0, crops[0].shape[1], (self.batch_size,),
                                              generator=gen).to(dev)
                        xb = crops[0][:, start].transpose(0, 1).contiguous()
                        ib = (None if crops[1] is None
                              else crops[1][:, start].transpose(0, 1).contiguous())
                    w = None
                    if pooled:
                        sidx = torch.randint(0, xt.shape[0], (n_struct,), generator=gen)
                        w = model.pooled(xt[sidx.to(dev)])
                    log_rate, w_used = model(xb, w, ib)
                    loss = _poisson_nll(log_rate, xb[..., off + hist:off + L])
                    if self.w_l1 > 0:
                        loss = loss + self.w_l1 * w_used[:, :n, :n].abs().mean()
                    if self.w_l2 > 0:
                        loss = loss + self.w_l2 * w_used[:, :n, :n].square().mean()
                    if not torch.isfinite(loss):
                        raise TrainingDivergedError(
                            f"gnn: the training loss became {loss.item()} at epoch {epoch}; "
                            f"lower lr (now {self.lr:g}) or use coarser bins")
                    opt.zero_grad()
                    loss.backward()
                    if self.clip_grad is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_grad)
                    opt.step()
                    losses.append(loss.item())
                sched.step()
                val_loss = self._eval_loss(model, xv, hist, off, L,
                                           self._mean_structure(model, xt) if pooled else None,
                                           iv)
                if not math.isfinite(val_loss):
                    raise TrainingDivergedError(
                        f"gnn: the validation loss became {val_loss} at epoch {epoch}; lower "
                        f"lr (now {self.lr:g})")
                history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                                "val_loss": val_loss})
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if self.average_epochs > 1:
                    recent = (recent + [state])[-self.average_epochs:]
                if val_loss < best - 1e-6:
                    best, bad = val_loss, 0
                    best_state = state
                    best_window = list(recent)
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
            model.load_state_dict(best_state)
        return {"model": model, "best": best, "history": history,
                "snapshots": best_window if len(best_window) > 1 else []}

    @staticmethod
    def _mean_structure(model, x):
        """(1, N', N') mean structure-module output over the chunks ``x`` (eval mode)."""
        import torch

        was = model.training
        model.eval()
        with torch.no_grad():
            total = 0.0
            for k in range(0, x.shape[0], 32):
                total = total + model.structure(x[k:k + 32]).sum(0, keepdim=True)
        model.train(was)
        return total / max(1, x.shape[0])

    @staticmethod
    def _eval_loss(model, x, hist: int, off: int, length: int, w=None, inp=None) -> float:
        import torch

        model.eval()
        with torch.no_grad():
            total = 0.0
            for k in range(0, x.shape[0], 8):
                xb = x[k:k + 8]
                log_rate, _ = model(xb, w, None if inp is None else inp[k:k + 8])
                target = xb[..., off + hist:off + length]
                total += _poisson_nll(log_rate, target).item() * xb.shape[0]
        return total / max(1, x.shape[0])

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, np.ndarray]:
        state = {f"model.{k}": v.detach().cpu().numpy()
                 for k, v in self.model_.state_dict().items()}
        state["n_units"] = np.array(self.n_units_)
        state["bin_width"] = np.array(self.bin_width_)
        state["n_input"] = np.array(int(self.model_.n_input))
        for k, snap in enumerate(getattr(self, "snapshots_", None) or []):
            state.update({f"snapshot{k}.{key}": v.detach().cpu().numpy()
                          for key, v in snap.items()})
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        import torch

        n = int(state["n_units"])
        bw = float(state["bin_width"])
        model = self._build_model(n, self._geometry(bw), int(state.get("n_input", 0)))
        model.load_state_dict({k[len("model."):]: torch.from_numpy(np.asarray(v))
                               for k, v in state.items() if k.startswith("model.")})
        self.model_ = model
        n_snap = len({k.split(".", 1)[0] for k in state if k.startswith("snapshot")})
        self.snapshots_ = [{key[len(f"snapshot{k}."):]: torch.from_numpy(np.asarray(v))
                            for key, v in state.items() if key.startswith(f"snapshot{k}.")}
                           for k in range(n_snap)]
        self.n_units_ = n
        self.bin_width_ = bw

    # ------------------------------------------------------------------ fit
    def fit(self, recording, pairs=None):
        """Estimate connectivity; an untrained method is first trained on ``recording``
        itself (self-supervised, as in the paper). See :meth:`InferenceMethod.fit`."""
        from spikewire.infer.base import InferenceMethod

        return InferenceMethod.fit(self, recording, pairs=pairs)

    def _fit(self, ctx):
        import torch

        old = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        try:
            return self._fit_inner(ctx)
        finally:
            torch.set_num_threads(old)

    def _fit_inner(self, ctx):
        import torch

        bw = ctx.settings["bin_width"]
        if not self.is_trained_:
            info = self._train_counts(ctx.data, bw)
            self.training_info_ = info
            self.is_trained_ = True
        if ctx.n != self.n_units_:
            raise ValueError(f"gnn was trained on {self.n_units_} units; this recording has "
                             f"{ctx.n}: train it on this recording (a new method) instead")
        if not math.isclose(bw, self.bin_width_, rel_tol=1e-9):
            raise ValueError(f"gnn was trained with bin_width={self.bin_width_:g} s, asked to "
                             f"apply it with {bw:g} s; use bin_width={self.bin_width_:g}")
        geo = self._geometry(bw)
        counts = np.asarray(ctx.data.binned(bw, sparse=False), dtype=np.float32)
        L, S, off = geo["chunk_bins"], geo["context_bins"], geo["offset"]
        allx = self._chunks(counts, 0, counts.shape[1], L, S)
        _, val_end = self._split(counts.shape[1], L)
        test = self._chunks(counts, val_end, counts.shape[1], L, S)
        inp = self._input_channels(ctx.data, bw, counts.shape[1])
        if (inp is not None) != bool(self.model_.n_input):
            raise ValueError("gnn: the model was trained with" + ("out" if inp is not None
                             else "") + " an input_angle; fit it with the same kind of input")
        itest = None if inp is None else self._chunks(inp, val_end, counts.shape[1], L, S)
        model = self.model_
        model.eval()
        dev = torch.device(self.device)
        w_mean = self._mean_structure(model, torch.from_numpy(allx).to(dev))
        snapshots = getattr(self, "snapshots_", None) or []
        if snapshots:
            # average_epochs: the mean over the stored epochs' parameters of each one's
            # chunk-averaged w (the best epoch's model still predicts the spikes)
            other = self._build_model(self.n_units_, geo, int(model.n_input))
            w_avg = 0.0
            for snap in snapshots:
                other.load_state_dict(snap)
                w_avg = w_avg + self._mean_structure(other, torch.from_numpy(allx).to(dev))
            w_report = w_avg / len(snapshots)
        else:
            w_report = w_mean
        pooled = self.structure == "pooled"
        with torch.no_grad():
            bps = math.nan
            if test.shape[0]:
                rates, ys = [], []
                for k in range(0, test.shape[0], 8):
                    xb = torch.from_numpy(test[k:k + 8]).to(dev)
                    ib = None if itest is None else torch.from_numpy(itest[k:k + 8]).to(dev)
                    log_rate, _ = model(xb, w_mean if pooled else None, ib)
                    rates.append(torch.exp(torch.clamp(log_rate, max=20.0)).cpu().numpy())
                    ys.append(test[k:k + 8, :, off + geo["history"]:off + L])
                lam = np.concatenate(rates).transpose(1, 0, 2).reshape(ctx.n, -1)
                y = np.concatenate(ys).transpose(1, 0, 2).reshape(ctx.n, -1)
                from spikewire.infer.likelihood import bits_per_spike

                bps = bits_per_spike(np.maximum(lam.astype(float), 1e-12), y)
        weights = w_report[0, :ctx.n, :ctx.n].double().cpu().numpy()
        if not np.all(np.isfinite(weights)):
            raise TrainingDivergedError("gnn: the learned weights are not finite; lower lr")
        want = ctx.want
        weights = np.where(want, weights, 0.0)
        top = float(np.max(np.abs(weights))) if weights.size else 0.0
        scores = np.abs(weights) / top if top > 0 else np.zeros_like(weights)
        diag = {"test_bits_per_spike": bps, "n_chunks": int(allx.shape[0]),
                "geometry_bins": geo, "weight_unit_note": "arbitrary scale and sign",
                "training": {k: v for k, v in (getattr(self, "training_info_", None) or {}).items()
                             if k != "history"}}
        pvalues = None
        if self.weight_null in ("rates", "rates-split", "rates-normal"):
            tested = (ctx.pair_status == 0) & ~np.eye(ctx.n, dtype=bool)
            rates = counts[:ctx.n].sum(axis=1) / (counts.shape[1] * bw)
            pvalues, diag["weight_null"] = rate_null_pvalues(
                weights, rates, tested, symmetric=self.symmetric,
                min_rate=0.5 / (counts.shape[1] * bw),
                **{"rates": {}, "rates-split": {"split_scale": True},
                   "rates-normal": {"reference": "normal"}}[self.weight_null])
        return ctx.estimate(self, weights=weights, pvalues=pvalues, scores=scores,
                            weight_unit="arbitrary", diagnostics=diag)
