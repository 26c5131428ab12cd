"""GLMCC: a generalised linear model fitted to each cross-correlogram (Kobayashi et al. 2019)."""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.stats import chi2, norm

from spikewire.infer import _glmcc_kernels as _k
from spikewire.infer._centring import apply_presynaptic_centre
from spikewire.infer._latency import check_delay_range, restrict_delays
from spikewire.infer._params import Boolean, Interval, MixedSequence, Options, RealSequence
from spikewire.infer._surrogates import warn_if_short
from spikewire.infer.base import FitContext, InferenceMethod, register
from spikewire.infer.correlograms import _flat_positions, numba_threads
from spikewire.infer.estimate import Estimate
from spikewire.infer.fdr import NULL_FAILURE_SHARE_FDR
from spikewire.infer.labels import withdraw_against_dale

__all__ = ["GLMCC", "glmcc_rate", "lr_statistic", "population_sync_template"]

#: Default candidate delays (s): transmission from 0 ms (the paper's grid started at 1 ms,
#: spikewire's earlier one at 0.5 ms, so 0.1 ms transmission — one simulation step — could
#: not be represented and the sign accuracy fell to 0.2–0.3 there) up to 25 ms (published
#: benchmark networks have excitatory delays of 1–20 ms). Fine steps where delays are
#: common, 2–4 ms steps beyond 6 ms (the 4 ms synaptic kernel spans them).
DEFAULT_DELAYS = (0.0, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008,
                  0.010, 0.012, 0.015, 0.018, 0.021, 0.025)

#: Default synchrony term: the 2 ms exponential, or an 8 ms one or the population's
#: template where it describes the correlograms clearly better (see ``sync_tau``).
DEFAULT_SYNC = (0.002, 0.008, "population")

#: Window (s) of the evidence rule ``c̄ · 4 ms > min_coincidences`` (the paper's τ c̄ with
#: its 4 ms kernel, kept when the fitted kernel is shorter).
EVIDENCE_TAU = 0.004

#: Width (s) of the running mean taken off the log population cross-correlogram in
#: ``sync_tau="population"``: the smooth ``a(t)`` takes what is slower, the template the
#: sharp shared structure on the scale of the default exponential term (2 ms decay, ~5 ms
#: wide). A 9 ms window let the template take the broad synchrony peak as well: MCC 0.709
#: instead of 0.898 on the calibration study's Brunel network (benchmarks/results/sync33.md).
SYNC_TEMPLATE_DETREND = 0.005

#: In a grid with ``"population"``, the template is chosen over the reference (narrowest)
#: width only if its summed log posterior is higher by more than this many nats per 1,000
#: coincidences of the compared pairs (a rate of gain, independent of the recording's
#: length), and then only if its gain less this margin is the largest (see ``sync_tau``;
#: against the best width until the 8 ms width joined the default, session 34). Measured
#: (benchmarks/results/sync33.md): 0.002–0.027 on the README quick start (1 kHz / 0.1 ms;
#: 1 and 0.5 ms bins), where the template loses MCC 0.08–0.27; 0.14–0.27 and more (to 25)
#: on the recordings where it wins 0.02–0.45 (1.5 ms delays, hidden up/down states, fast
#: rhythms).
SYNC_TEMPLATE_MARGIN = 0.05

#: In a grid of widths, a width other than the narrowest (the reference) is chosen only
#: where the reference leaves the null failing (more than
#: :data:`~spikewire.infer.fdr.NULL_FAILURE_SHARE_FDR`, 0.3, of its compared tests at
#: p < 0.05, check_null's rule) and its summed log posterior beats the reference's by more
#: than this many nats per 1,000 coincidences. Measured for 8 ms against 2 ms
#: (benchmarks/results/sync34.md): 20.5 / 9.7 / 3.8 on the 0.1 ms LIF families of
#: benchmarks/bench_calibration.py (shares 0.87 / 0.31 / 0.58), whose ~8 ms wide synchrony
#: peak the 2 ms term misfits (MCC 0.225 → 0.643, 0.572 → 0.544, 0.583 → 0.646, with
#: p-values that no longer fail the null check); 0.07–0.80 on the calibration study's
#: 1 kHz families, where 8 ms changes MCC by −0.027 to +0.029; −0.97 / −0.66 on its Brunel
#: families; 3.7–4.1 on the demo's networks with 2 ms delays (shares 0.11–0.12), where
#: 8 ms would lower AUC 0.74 → 0.64: the gate keeps them at 2 ms. Tuned on these recordings.
SYNC_WIDTH_MARGIN = 1.0

#: A grid of synchrony terms is decided on an even spread of this many pairs where the
#: recording has more (the other pairs are then fitted once, with the chosen term): the
#: choice compares rates of gain per coincidence, which 500 pairs estimate well within the
#: margin's factor of 3 (benchmarks/results/sync33.md), and the default costs one full fit
#: plus one fit of these pairs (100 units: 4,950 pairs, ×1.1).
SYNC_CHOICE_PAIRS = 500

#: Fewest fitted pairs for ``sync_tau="population"``: each pair's own cross-correlogram
#: weighs 1 / n_pairs in the template, which its fitted J_s could otherwise take over.
SYNC_TEMPLATE_MIN_PAIRS = 45

#: Factor of the paper's approximate significance threshold |J| > 1.57 z_α / sqrt(τ c̄).
PAPER_THRESHOLD_FACTOR = 1.57


def glmcc_rate(t, a, J_pos, J_neg, *, window: float, bin_width: float, tau: float,
               delay: float) -> np.ndarray:
    """GLMCC coincidence rate λ(t) (pairs per s) at lags ``t`` (s).

    ``λ(t) = exp(a_k(t) + J⁺ f(t − d) + J⁻ f(−t − d))`` with ``f(s) = exp(−s/τ)`` for
    ``s > 0`` and 0 otherwise, ``a`` piecewise constant on bins of ``bin_width`` over
    ``[−window, window)``.
    """
    t = np.asarray(t, dtype=float)
    a = np.asarray(a, dtype=float)
    k = np.clip(np.floor((t + window) / bin_width).astype(int), 0, a.size - 1)
    fp = np.where(t > delay, np.exp(-(t - delay) / tau), 0.0)
    fn = np.where(-t > delay, np.exp(-(-t - delay) / tau), 0.0)
    return np.exp(a[k] + J_pos * fp + J_neg * fn)


def lr_statistic(J, tau_cbar) -> np.ndarray:
    """Likelihood-ratio statistic of ``J`` against ``J = 0`` in the paper's approximation.

    With the slow rate ``a(t)`` locally constant (``c̄`` coincidences per s) over the
    synaptic kernel and ``Ĵ`` at its maximum-likelihood value,
    ``2 Δ log L = 2 τ c̄ [exp(Ĵ) − 1 − E(Ĵ)]`` with ``E(x) = Σ_{n≥1} xⁿ/(n·n!)``
    (≈ ``τ c̄ Ĵ²/2`` for small ``Ĵ``). It is χ²(1) distributed under ``J = 0``.
    """
    J = np.atleast_1d(np.asarray(J, dtype=float))
    out = np.empty(J.shape)
    for idx, j in np.ndenumerate(J):
        e0, _, _ = _k._e_funcs(float(j)) if np.isfinite(j) else (np.nan, 0, 0)
        out[idx] = math.expm1(j) - e0 if np.isfinite(j) else np.nan
    return 2.0 * np.asarray(tau_cbar, dtype=float) * np.maximum(out, 0.0)


def _sync_label(value) -> str:
    """A synchrony candidate as a diagnostics key: ``"population"`` or the width in s."""
    return value if isinstance(value, str) else f"{float(value):g}"


def population_sync_template(counts, bin_width: float) -> np.ndarray:
    """Shape of the synchrony shared by all pairs, from their cross-correlograms.

    Each pair's counts are divided by its mean count per bin, the ratios averaged over the
    pairs, made symmetric in the lag (the pairs' order is arbitrary; one-sided structure
    belongs to ``J``), and the log of that mean correlogram has its running mean over
    :data:`SYNC_TEMPLATE_DETREND` (5 ms) taken off, so the template holds the sharp shared
    structure (zero-lag synchrony, fast network oscillations) and the smooth ``a(t)`` the
    rest.

    Parameters
    ----------
    counts : ndarray, shape (n_pairs, n_bins)
        Coincidence counts per pair and lag bin.
    bin_width : float
        Width of the lag bins in s.

    Returns
    -------
    ndarray, shape (n_bins,)
        The template ``g`` of the synchrony term ``J_s g(t)`` (log-rate units).
    """
    from scipy.ndimage import uniform_filter1d

    counts = np.asarray(counts, dtype=float)
    per_bin = counts.mean(axis=1)
    ok = per_bin > 0
    if not ok.any():
        return np.zeros(counts.shape[1])
    shape = (counts[ok] / per_bin[ok, None]).mean(axis=0)
    shape = 0.5 * (shape + shape[::-1])
    # an empty bin in every pair: floor at half a coincidence over all pairs' mean rate
    g = np.log(np.maximum(shape, 0.5 / max(counts[ok].sum(), 1.0) * shape.size))
    width = max(int(round(SYNC_TEMPLATE_DETREND / float(bin_width))), 1) | 1
    return g - uniform_filter1d(g, width, mode="nearest")


@register
class GLMCC(InferenceMethod):
    """GLM fitted to each pair's cross-correlogram with a delayed exponential synapse.

    Follows Kobayashi, R., Kurita, S., Kurth, A., Kitano, K., Mizuseki, K., Diesmann, M.,
    Richmond, B. J. & Shinomoto, S. (2019) "Reconstructing neuronal circuitry from parallel
    spike trains", Nat. Commun. 10, 4468. For every unordered pair ``(i, j)`` the
    cross-correlogram of lags ``t = t_j − t_i`` in ``[−window, window)`` is modelled as an
    inhomogeneous Poisson process with rate

        ``λ(t) = exp(a(t) + J_s g(t) + J_ji f(t − d) + J_ij f(−t − d))``,
        ``f(s) = exp(−s/τ)·[s > 0]``,  ``g(t) = exp(−|t|/τ_s)``

    where ``a(t)`` is a slow modulation (piecewise constant on ``bin_width`` bins) with the
    smoothness prior ``exp(−(1/2γ) ∫ (da/dt)² dt)``, ``J_s g`` a symmetric synchrony peak
    (``g`` constant on each bin; not in the paper, see below), and ``J_ji`` (``J_ij``) is
    the coupling from ``i`` to ``j`` (``j`` to ``i``) after the synaptic delay ``d``. The
    MAP estimate is found by Newton's method on the exact (not binned) point-process
    likelihood; the Hessian is tridiagonal with a three-column border, so each step costs
    O(bins), and pairs are fitted in parallel (numba threads). ``d`` (and ``τ`` when
    ``tau`` is a grid) is chosen per pair by the highest posterior.

    Departures from the paper, for recurrent networks and quantised recordings (measured
    on spikewire's README quick start: 100 of 1,000 Brunel LIF neurons, 120 s stored at
    1 kHz, delta synapses with a 3 ms delay; ccg reaches AUC 0.877 there; figures in
    benchmarks/results/glmcc.md):

    - *Quantised spike times.* When every spike time is a whole multiple of the bin, the
      bins are centred on the possible lags and the discrete Poisson GLM
      ``c_k ~ Poisson(δ exp(a_k + J_s g_k + J f(t_k − d)))`` is fitted: the continuous
      likelihood on such data sees ``Σ_k exp(−k δ/τ)`` kernel-weighted coincidences where
      it expects ``τ/δ`` (+13 % at 1 ms / 4 ms), so every pair got a coupling at delays on
      the grid (44 % of independent Poisson pairs called at α = 0.01; quick start: delay
      1 ms for 1,046 of 1,064 links, AUC 0.52). On finer grids (simulations at 0.1 ms) a
      lag exactly at the delay counts ½ (trapezoid rule). Quick start with this alone:
      AUC 0.66.
    - *Symmetric synchrony* (``sync_tau``): common input gives every pair a peak at zero
      lag (+19 % there, decaying over ~2 ms) that a smooth ``a(t)`` cannot follow, so the
      couplings at short delays absorbed it in every pair. ``J_s`` takes the symmetric part;
      ``J`` keeps what is one-sided. AUC 0.66 → 0.79 (with τ = 4 ms).
    - *Kernel τ = 1 ms* (paper 4 ms): a 4 ms kernel also spans the trough of the network
      oscillation after the synchrony peak (−7 % at 5–8 ms), which turned excitatory links
      negative; spikewire's delta synapses give a one-bin bump. With the synchrony term:
      τ = 1 / 2 / 4 ms → AUC 0.93 / 0.87 / 0.79; τ chosen per pair from (1, 2, 4) ms by the
      posterior 0.89 (it prefers the long kernel that also fits the oscillation), so the
      default is the single 1 ms kernel.

    Known cost: a link whose delay is shorter than ``sync_tau`` looks partly like
    synchrony: its reverse direction then carries a spurious J of up to ~¼ of the
    forward one and its delay can be one grid step early (4-neuron LIF test, 1 ms delay).
    ``sync_tau=None, tau=0.004`` restores the paper's model.

    Significance (``test``):

    - ``"lr"`` (default): the paper's likelihood-ratio test of ``J = 0`` in its
      approximation of a locally constant ``a``: ``2 Δ log L = 2 τ c̄ [eᴶ − 1 − E(J)]``
      (see :func:`lr_statistic`), χ²(1); ``c̄`` is the fitted coincidence rate over the
      ``τ`` after the delay;
    - ``"threshold"``: the paper's closed-form threshold ``|J| > 1.57 z_α / sqrt(τ c̄)``,
      turned into the p-value ``2 Φ(−|J| sqrt(τ c̄) / 1.57)`` (so ``p < α`` reproduces the
      threshold at level α);
    - ``"wald"``: ``J / sd`` with the posterior sd from the inverse Hessian.

    Pairs whose expected number of coincidences in the paper's 4 ms synaptic window,
    ``c̄ · 4 ms``, is at most ``min_coincidences`` (10 in the paper's code) are
    ``undecided`` (pair status 4, weight 0): too little evidence to call a link either way.

    Parameters
    ----------
    window : float, default 0.05
        Half-width W of the cross-correlogram in s (the paper's 50 ms).
    bin_width : float or None, default None (automatic)
        Width δ of the bins of ``a(t)`` in s; ``2 window / bin_width`` must be an integer.
        Automatic: 1 ms, but never finer than the recording's time resolution and a whole
        multiple of it. A bin finer than the data is refused.
    tau : float or sequence of float, default 0.001
        Decay time τ of the synaptic kernel in s (paper: 4 ms; see above). A sequence is a
        grid: each pair takes the τ of highest posterior and the p-value is Šidák-corrected
        over delays × τ values.
    sync_tau : float, "population", sequence of them, or None, default (0.002, 0.008, "population")
        The symmetric synchrony term ``J_s g(t)`` (fitted in every pair, also under the nulls
        of the LR test). A float τ_s (s) gives ``g = exp(−|t|/τ_s)``; ``"population"`` takes
        ``g`` from the data, :func:`population_sync_template` (the pairs' mean normalised
        correlogram, symmetric, its log less a 5 ms running mean; needs 45 fitted pairs, a
        grid drops it below that); None leaves the term out (the paper's model). A sequence
        is a grid: every pair is fitted with each candidate and the whole recording takes
        one (``diagnostics["sync_tau_s"]``; with more than :data:`SYNC_CHOICE_PAIRS` (500)
        pairs the choice is made on an even spread of 500 of them and the other pairs are
        fitted with the chosen term only, ``diagnostics["sync_choice_pairs"]``). The
        narrowest width is the reference; another candidate is taken only where its summed
        log posterior over the pairs beats the reference's by more than its margin, in nats
        per 1,000 coincidences (``diagnostics["sync_gain_per_1000"]``): a wider width
        :data:`SYNC_WIDTH_MARGIN` (1.0), and only where more than 30 % of the reference's
        tests have p < 0.05 (its null fails, ``diagnostics["sync_reference_share_p05"]``);
        the template :data:`SYNC_TEMPLATE_MARGIN` (0.05); of those that clear it, the one of
        largest gain less margin.

        Why the default (benchmarks/results/sync33.md, sync34.md): the 2 ms exponential (the
        default until 2026-12-03) fits a single zero-lag peak, such as the README quick
        start's (3 ms delays), but neither a shared rhythm faster than the smooth ``a(t)``
        follows nor a broad synchrony peak. On the quick start's network with Brunel's
        1.5 ms delays it called only the 293 inhibitory links (E-AUC 0.46 / 0.60 at 1 kHz /
        0.1 ms; MCC 0.503), with the template 0.773 / 0.774 (E-AUC 0.935 / 0.969; 0.908 with
        ``bin_width=0.0005``); on a fast synchronous network (``brunel(1000, g=5, eta=0.6,
        J=2)``, ~41 Hz, a 1.5 ms population rhythm, 60 recorded at 0.1 ms) it fitted 25–63
        of its called inhibitory links with J > 0 (MCC 0.222–0.318), the template none
        (0.327–0.455; **0.598–0.833** with ``bin_width=0.0005``: 1 ms bins alias the
        rhythm); on Brunel's SI-fast regime (g = 6, eta = 4, ~110 Hz) AUC 0.506 → 0.835
        (0.950 and MCC 0.702 at 0.5 ms); with hidden up/down states (built-in study
        ``calibration``) MCC 0.856 → 0.878. On the 0.1 ms LIF families of
        benchmarks/bench_calibration.py (100 of 1,000, 300 s), whose synchrony peak is ~8 ms
        wide, the 2 ms term's p-values failed the null check (87 % of pairs at p < 0.05 on
        brunel) and MCC was 0.225 / 0.572 / 0.583 (brunel / 1–20 ms delays /
        co-modulated); the 8 ms width gains 20.5 / 9.7 / 3.8 nats per 1,000 coincidences
        there, keeps the null and reaches 0.643 / 0.544 / 0.646. Where the 2 ms term wins,
        the grid keeps it: the study's other families (8 ms gains 0.07–0.80 on the
        Izhikevich, AdEx and scale-free LIF families, where it would change MCC by −0.027
        to +0.029; the template alone: Brunel 0.918 → 0.898), 10 of 100 Brunel neurons
        (45 pairs), the README quick start, where the template gains only 0.002–0.027 (and
        would lose MCC 0.773 → 0.504) and 8 ms loses (AUC 0.81, benchmarks/results/calgap.md),
        and the demo's networks with 2 ms delays, where 8 ms gains 3.7–4.1 but would take
        the links' excess (AUC 0.74 → 0.64) and the 2 ms term's null holds (11–12 % of tests
        at p < 0.05): a better description of the background is not a better test of the
        links, so the wider width waits for a failing null. The two margins and that gate
        are settings of this rule tuned on measured recordings (the template's margin on
        the quick start, the width's on the twelve above); the null families stay in band
        with every candidate.
    delays : sequence of float, default :data:`DEFAULT_DELAYS` (0–25 ms, 16 values)
        Candidate synaptic delays ``d`` in s (each in ``[0, window)``). The p-value is
        Šidák-corrected over their number (the delay is chosen by the posterior), so a
        longer grid costs power on short-delay links: on the 5-value grid (0.5–4 ms) the
        LR statistic needed to reach α = 0.01 is 9.5, on the default 16-value grid 11.7.
    gamma : float, default 0.2
        Smoothness hyper-parameter γ of the prior on ``a`` in 1/s (paper: 2·10⁻⁴ ms⁻¹).
    test : {"lr", "threshold", "wald"}, default "lr"
    alpha : float, default 0.01
        Default significance level of the estimate (paper: 0.01).
    correction : {"bh", "lfdr", "bonferroni", "none"}, default "bh"
        Default multiple-comparison control (the paper tested each pair at α, i.e.
        ``"none"``): Benjamini–Hochberg FDR. Measured with the model above
        (benchmarks/results/glmcc.md; 100 of 1,000 neurons): Izhikevich network (1 kHz,
        10 min, 969 links) BH calls 763 (MCC 0.84), the empirical-null local FDR
        (:mod:`spikewire.infer.fdr`) 0 (MCC 0.00); README quick start (1,064 links) BH at
        α = 0.01 MCC 0.74 (822 calls), lfdr 0.50 (291). On the strongly synchronous
        0.1 ms LIF families of benchmarks/bench_calibration.py (zero-lag peak 3.6× baseline,
        ~8 ms wide; 961 links) glmcc ranks well (AUC 0.92 / 0.96 / 0.84 on brunel /
        co-modulated / 1–20 ms delays) but its p-values do not hold (97 / 77 / 38 % of the
        pairs at p < 0.05; BH would call 9,251 / 5,940 / 1,232), so
        :func:`~spikewire.infer.base.check_null` switches such estimates to the local FDR
        (then at lfdr ≤ 0.2: 215 / 466 / 399 calls, MCC 0.42 / 0.64 / 0.63, best threshold
        0.61 / 0.76 / 0.70). It now calls at lfdr < 0.5 (the Bayes rule), and the local
        FDR fits glmcc's null to the right half of its peak: the Šidák correction over the
        16 candidate delays, which are strongly correlated, piles the unconnected pairs'
        p-values near 1 (a quarter above 0.998 on a scale-free LIF network), and the
        two-sided fit to that skewed bulk overstated the null's right tail 3–10×. On the
        built-in study ``calibration`` (100 of 1,000, 10 min, 1 kHz) the switched glmcc
        estimates reach MCC 0.921 / 0.834 / 0.670 / 0.695 (Brunel, with hidden up/down
        states, Izhikevich random / scale-free; best thresholds 0.938 / 0.842 / 0.672 /
        0.701; was 0.911 / 0.546 / 0.482 / 0.450; benchmarks/results/calib.md). With
        ``sync_tau=0.008`` 34 / 19 / 37 % of the pairs reach p < 0.05
        and BH would call 1,183 / 760 / 1,223 (see ``sync_tau``). On the null families
        (tests/infer/test_calibration.py) BH calls 0. Small problems (45–999 distinct
        tests, e.g. 10 recorded units): the same check switches a failed estimate to the
        small-problem local FDR (:func:`~spikewire.infer.fdr.small_local_fdr`, lfdr < 0.5):
        on 10 of 100 Brunel neurons (90 % hidden, 120 s; unlinked pairs' z ≈ N(2.6–3.8,
        2.0–2.1²)) 4 / 8 calls, all true, of 9 / 15 links (MCC 0.647 / 0.698; best
        threshold 0.893 / 0.920), where BH under the fitted null (session 20) called none
        and BH on glmcc's own p-values 49 / 71 (benchmarks/results/glmcc90.md).
    min_spikes : int, default 10
        Units with fewer spikes are skipped (unit status ``too_few_spikes``, pair status 3).
    min_coincidences : float, default 10.0
        Pairs with ``c̄ · 4 ms`` at or below this are ``undecided``.
    j_max : float, default 5.0
        Bound on ``|J|`` during the fit (the reference code clips J to [−3, 5]).
    max_iter : int, default 100
        Newton iterations per pair and delay.
    n_jobs : int, default 1
        Numba threads over pairs (``-1``: all).
    presynaptic_centre : bool, default True
        Lower each presynaptic unit's z-values (``Φ⁻¹(1 − p)``) by the excess of their
        median over the median of all tested pairs, where that excess is beyond 2 sampling
        sd of a median (:func:`~spikewire.infer._centring.centre_presynaptic`, as glm's
        option of the same name; never lowers a p-value): a hub whose influence reaches
        every recorded unit through the neurons it drives then calls only the targets
        that stand out from its own background. Applied after
        :func:`~spikewire.infer.base.check_null` has judged glmcc's own p-values.
        ``diagnostics["presynaptic_shift"]`` holds the shifts (z units),
        ``diagnostics["pvalues_uncentred"]`` the p-values before them; ``False`` gives
        the former p-values (the default until 2026-11-30). Measured on the built-in
        study ``calibration`` (100 of 1,000, 600 s, seed 0), MCC at the default decision
        without → with (calls / true links): Brunel 0.921 → 0.918 (1,071 → 1,078 / 996),
        with hidden up/down states 0.834 → 0.856, Izhikevich random 0.670 → 0.741 and
        scale-free 0.695 → 0.734, AdEx 0.268 (no unit shifted), scale-free LIF 0.860 →
        0.914 (525 → 455 / 475); on the five null families (40 units × 300 s, 3 seeds)
        one unit was shifted in 15 fits and no call changed (benchmarks/RESULTS.md,
        session 19).
    delay_range : (float, float) or None, default None
        A prior on the latency of a direct link, ``(min, max)`` in s, compared with each
        pair's fitted delay ``d`` (the delay grid's value of highest posterior). After
        ``check_null`` and ``presynaptic_centre``, every tested pair whose ``d`` lies
        outside the range gets score 0 and, where the default decision calls it, p-value
        1 (:func:`spikewire.infer._latency.restrict_delays`; weights and delays are kept;
        ``diagnostics["delay_range"]`` counts the withdrawn calls). A two-step chain
        j → k → i through an unrecorded neuron shows at d₁ + d₂ plus k's spike latency,
        later than any direct link where the axonal delays lie in a known, narrow range.
        The fitted ``d`` of a link is *not* its axonal delay: it sat 0–1 ms after it on
        NEST's MAT network 3 (0.5 ms grid), 1.5 ms before to 0.5 ms after it on LIF
        networks stamped at 1 kHz, 1–5 ms after it on Izhikevich and 2–7 ms on AdEx
        networks. The decision after is the decision before less the withdrawn calls
        (no call is added); under an lfdr decision (where ``check_null`` switched) the
        empirical null is re-fitted to the new p-values and can also drop calls inside
        the range (41 of 76 on a 1–5 ms LIF network), so the option suits BH decisions.
        Measured (benchmarks/results/chains.md), with ``(shortest − 0.5 ms, longest +
        1 ms)`` of each network's true delays: NEST network 3 (1–5 ms, so (0.5, 6) ms; 20
        units, 5 subsets, median MCC at the default decision) 0.480 → 0.525 (30 min)
        and 0.608 → 0.647 (60 min); the built-in study ``calibration`` (not tuned on it)
        Brunel 0.918 → 0.927, with up/down states 0.856 → 0.796, Izhikevich random /
        scale-free 0.741 → 0.743 / 0.734 → 0.732, AdEx 0.268 → 0.176, scale-free LIF
        0.914 → 0.885: it helps only where the false calls are chains *and* the range
        fits the recording; None (the default) leaves the estimate as fitted.
    dale : bool, default False
        Impose Dale's law on the calls: after ``check_null``, ``presynaptic_centre`` and
        ``delay_range``, each presynaptic unit is labelled by the majority sign of its
        called outgoing links and the calls of the minority sign are withdrawn
        (:func:`~spikewire.infer.labels.withdraw_against_dale`; a tie withdraws nothing,
        no call is ever added, so the false-positive rate on data without links can only
        fall; ``diagnostics["dale"]`` counts them). Only as good as glmcc's signs.
        Measured (benchmarks/results/dale32.md, with ``sync_tau=0.002``, the default
        then), MCC at the default decision without → with: the built-in study
        ``calibration`` (100 of 1,000, 600 s, 1 kHz) Brunel
        0.918 → 0.925, with hidden up/down states 0.856 → 0.875, Izhikevich random /
        scale-free 0.741 → 0.746 / 0.734 → 0.735, AdEx 0.268 → 0.268, scale-free LIF
        0.914 → 0.923 (the best MCC of any method on these recordings); 10 of 100 Brunel
        neurons, 13 networks: mean 0.530 → 0.530. But on a fast, synchronous Brunel
        network (``brunel(1000, g=5, eta=0.6, J=2)``, ~41 Hz, 60 recorded, 60 / 300 s)
        glmcc fits two thirds of the inhibitory links it calls with a positive J at zero
        delay, so inhibitory units are labelled E by their majority and their correctly
        signed calls are withdrawn: 0.318 → 0.286, 0.260 → 0.235, 0.295 → 0.247,
        0.222 → 0.165 (seeds 3, 4). Hence off by default; use it where glmcc's signs are
        reliable (few calls at zero fitted delay, ``delays == 0``). There the sign errors
        came from the network's 1.5 ms rhythm: with the population template (today's
        default picks it there) and ``bin_width=0.0005`` no inhibitory call has J > 0 and
        ``dale=True`` gains as on the study: 0.621 → 0.641, 0.598 → 0.599, 0.833 → 0.861,
        0.761 → 0.779 (benchmarks/results/sync33.md).

    Notes
    -----
    The weight of a link is ``J`` (dimensionless log-rate gain of the cross-correlogram at
    the delay: the post unit's rate is multiplied by ``exp(J)`` just after a pre spike).
    The paper's prior penalises the first derivative of ``a``; we keep that form.
    """

    name = "glmcc"
    reference = ("Kobayashi et al. (2019) Reconstructing neuronal circuitry from parallel "
                 "spike trains. Nat Commun 10:4468")
    bin_settings = {"bin_width": 0.001}
    settings_constraints = {
        "window": [Interval("real", 0, None, closed="neither", unit="s")],
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "tau": [Interval("real", 0, None, closed="neither", unit="s"),
                RealSequence(0, None, unit="s")],
        "delays": [RealSequence(0, None, unit="s"), Interval("real", 0, None, unit="s")],
        "gamma": [Interval("real", 0, None, closed="neither", unit="1/s")],
        "test": [Options(("lr", "threshold", "wald"))],
        "alpha": [Interval("real", 0, 1, closed="neither")],
        "correction": [Options(("bh", "bonferroni", "none", "lfdr"))],
        "min_spikes": [Interval("int", 1, None)],
        "min_coincidences": [Interval("real", None, None)],
        "j_max": [Interval("real", 0, None, closed="neither")],
        "max_iter": [Interval("int", 1, None)],
        "sync_tau": [Interval("real", 0, None, closed="neither", unit="s"),
                     Options(("population",)),
                     MixedSequence(0, None, options=("population",), closed="neither",
                                   unit="s"), None],
        "n_jobs": [Interval("int", -1, -1), Interval("int", 1, None)],
        "presynaptic_centre": [Boolean()],
        "delay_range": [RealSequence(0, None, unit="s", length=2), None],
        "dale": [Boolean()],
    }

    def __init__(self, *, window: float = 0.05, bin_width: float | None = None, tau: float = 0.001,
                 delays=DEFAULT_DELAYS, gamma: float = 0.2,
                 test: str = "lr", alpha: float = 0.01, correction: str = "bh",
                 min_spikes: int = 10, min_coincidences: float = 10.0, j_max: float = 5.0,
                 max_iter: int = 100, sync_tau=DEFAULT_SYNC, n_jobs: int = 1,
                 presynaptic_centre: bool = True, delay_range=None, dale: bool = False):
        self.window = window
        self.bin_width = bin_width
        self.tau = tau
        self.delays = delays
        self.gamma = gamma
        self.test = test
        self.alpha = alpha
        self.correction = correction
        self.min_spikes = min_spikes
        self.min_coincidences = min_coincidences
        self.j_max = j_max
        self.max_iter = max_iter
        self.sync_tau = sync_tau
        self.n_jobs = n_jobs
        self.presynaptic_centre = presynaptic_centre
        self.delay_range = delay_range
        self.dale = dale

    # ------------------------------------------------------------------ validation
    def _check_combination(self, bins: dict) -> None:
        self._validated(bins["bin_width"] if bins["bin_width"] is not None
                        else self.bin_settings["bin_width"])

    def _validated(self, delta: float | None = None):
        """Derived settings for the bin width ``delta`` (s; default: the resolved setting,
        or the natural 1 ms while it is automatic)."""
        window = float(self.window)
        check_delay_range(self.delay_range)
        if delta is None:
            delta = self.bin_width if self.bin_width is not None else self.bin_settings[
                "bin_width"]
        delta = float(delta)
        if delta > window:
            raise ValueError(f"bin_width ({delta} s) must not exceed window ({window} s); "
                             "use e.g. bin_width=0.001 with window=0.05")
        n_half = window / delta
        if abs(n_half - round(n_half)) > 1e-6:
            raise ValueError(f"window / bin_width must be an integer, got {window} / {delta} "
                             f"= {n_half:g}; pick a bin_width that divides the window")
        tau = np.unique(np.atleast_1d(np.asarray(self.tau, dtype=float)))
        delays = np.unique(np.atleast_1d(np.asarray(self.delays, dtype=float)))
        if np.any(delays >= window):
            raise ValueError(f"every delay must lie in [0, window={window}) s, got "
                             f"{delays.tolist()}")
        gamma = float(self.gamma)
        j_max = float(self.j_max)
        n_jobs = int(self.n_jobs)
        return window, delta, int(round(2 * n_half)), tau, delays, gamma, j_max, n_jobs

    # ------------------------------------------------------------------ fitting
    def _sync_grid(self) -> list:
        """Candidate synchrony terms: ``[None]``, or the sorted widths (s) followed by
        ``"population"`` where it is asked for."""
        if self.sync_tau is None:
            return [None]
        vals = [self.sync_tau] if isinstance(self.sync_tau, str) else list(
            np.asarray(self.sync_tau, dtype=object).ravel())
        widths = sorted({float(v) for v in vals if not isinstance(v, str)})
        return widths + (["population"] if any(isinstance(v, str) for v in vals) else [])

    def fit_statistics(self, counts, s_pos, s_neg, bin_width: float | None = None, *,
                       lattice: bool = False, tau: float | None = None,
                       sync_tau: float | None | str = "setting", sync_template=None):
        """Fit precomputed statistics (``counts`` (P, M), ``s_pos``/``s_neg`` (P, n_delays)).

        ``bin_width`` (s) is the resolved bin of ``a(t)`` (default: the setting, or 1 ms if
        automatic). ``counts`` with ``2 window / bin_width`` bins are taken as bins on
        ``[−window, window)``, with one bin more as bins centred on multiples of
        ``bin_width`` (``[−window − δ/2, window + δ/2)``). ``lattice``: the lags are
        quantised to the centres of centred bins (spike times on a grid of ``bin_width``):
        fit the discrete Poisson GLM (see :func:`_glmcc_kernels.bin_geometry`). Returns the
        raw (P, 11) result array of :func:`_glmcc_kernels.fit_pairs` and the Newton
        iterations per pair. ``tau`` (s): the kernel time constant the statistics were
        computed with (default: the setting, which must then be a single value).
        ``sync_tau`` (s, ``"population"`` or None): the synchrony term to fit with
        (default: the setting, which must then be a single value or None); the population
        template is computed from ``counts`` unless given as ``sync_template`` (one value
        per bin, e.g. from all pairs while ``counts`` holds a subset).
        """
        window, delta, m, taus, delays, gamma, j_max, n_jobs = self._validated(bin_width)
        if tau is None:
            if taus.size != 1:
                raise ValueError(f"tau={self.tau!r} holds {taus.size} values; pass the one "
                                 "the statistics were computed with as fit_statistics(tau=)")
            tau = float(taus[0])
        counts = np.atleast_2d(np.asarray(counts))
        if counts.shape[1] == m + 1:      # bins centred on multiples of delta
            window = window + 0.5 * delta
            m = m + 1
        elif counts.shape[1] != m:
            raise ValueError(f"counts must have 2·window/bin_width = {m} (edge-aligned) or "
                             f"{m + 1} (centred) bins per pair, got {counts.shape[1]}")
        elif lattice:
            raise ValueError("lattice=True needs centred bins (2·window/bin_width + 1 per "
                             "pair)")
        geo = [_k.bin_geometry(window, delta, m, tau, d, lattice) for d in delays]
        sides = np.ascontiguousarray(np.stack([g[0] for g in geo]))
        fhis = np.ascontiguousarray(np.stack([g[1] for g in geo]))
        flos = np.ascontiguousarray(np.stack([g[2] for g in geo]))
        if lattice:
            # every lag sits on a bin centre: the statistics of the discrete model exactly
            c = counts.astype(np.float64)
            s_pos = c @ np.where(sides == 1, fhis, 0.0).T
            s_neg = c @ np.where(sides == -1, fhis, 0.0).T
        n_tau = max(int(round(tau / delta)), 1)
        lo = np.empty((delays.size, 2), dtype=np.int64)
        lo[:, 0] = np.clip(np.floor((delays + window) / delta).astype(np.int64), 0, m - 1)
        lo[:, 1] = np.clip(np.ceil((window - delays) / delta).astype(np.int64) - 1, 0, m - 1)
        lam = 1.0 / (gamma * delta)
        if isinstance(sync_tau, str) and sync_tau == "setting":
            grid = self._sync_grid()
            if "population" in grid and counts.shape[0] < SYNC_TEMPLATE_MIN_PAIRS:
                grid = grid[:-1] if len(grid) > 1 else grid
            if len(grid) > 1:
                # the grid as in fit(): every candidate, one choice for all the pairs
                fits = [self.fit_statistics(counts, s_pos, s_neg, bin_width, lattice=lattice,
                                            tau=tau, sync_tau=v, sync_template=sync_template)
                        for v in grid]
                k, _ = self._decide_sync(grid, [f[0] for f in fits], counts, tau,
                                         delays.size)
                return fits[k][0], sum(f[1] for f in fits)
            sync_tau = grid[0]
        use_s = sync_tau is not None
        # symmetric synchrony term, constant on each bin: exp(−|t|/τ_s) at the bin centres,
        # or the shape the pairs' own correlograms share
        centres = -window + delta * (np.arange(m) + 0.5)
        if sync_template is not None and np.shape(sync_template) != (m,):
            raise ValueError(f"sync_template must hold one value per bin ({m}), got shape "
                             f"{np.shape(sync_template)}")
        if sync_tau == "population":
            gsym = (np.asarray(sync_template, dtype=float) if sync_template is not None
                    else population_sync_template(counts, delta))
        else:
            gsym = (np.exp(-np.abs(centres) / float(sync_tau)) if use_s
                    else np.zeros(m))
        with numba_threads(n_jobs):
            out, iters = _k.fit_pairs(np.ascontiguousarray(counts, dtype=np.float64),
                                      np.ascontiguousarray(s_pos, dtype=np.float64),
                                      np.ascontiguousarray(s_neg, dtype=np.float64),
                                      sides, fhis, flos, delta, tau, lam, j_max,
                                      int(self.max_iter), 1e-9, window, lo, n_tau,
                                      self.test == "lr", gsym, use_s)
        return out, iters

    @staticmethod
    def _choose_sync(syncs: list, outs: list, counts, reference_share: float | None = None
                     ) -> tuple[int, dict]:
        """Index of the synchrony candidate the whole recording takes, and diagnostics.

        Each candidate's summed log posterior over the pairs every candidate fitted (same
        parameters and priors in every candidate, so the sums compare like for like) is
        compared with the first candidate's (the narrowest width, or the only one) as a gain
        in nats per 1,000 coincidences of the compared pairs; a wider width must gain more
        than :data:`SYNC_WIDTH_MARGIN`, the population template more than
        :data:`SYNC_TEMPLATE_MARGIN`, and the candidate of largest gain less its margin is
        taken (the first where none clears its margin). With ``reference_share`` (the share
        of the first candidate's tests at p < 0.05, :meth:`_reference_null_share`) no wider
        width is taken unless it exceeds :data:`~spikewire.infer.fdr.NULL_FAILURE_SHARE_FDR`
        (0.3): only where the reference leaves the null failing."""
        if len(syncs) == 1:
            return 0, {}
        conv = np.all([o[:, 8] == 1.0 for o in outs], axis=0)
        totals = [float(o[conv, 7].sum()) for o in outs]
        per_coinc = 1e3 / max(float(counts[conv].sum()), 1.0)
        gains = [per_coinc * (t - totals[0]) for t in totals]
        widen = reference_share is None or reference_share > NULL_FAILURE_SHARE_FDR
        margins = [0.0] + [SYNC_TEMPLATE_MARGIN if v == "population"
                           else (SYNC_WIDTH_MARGIN if widen else np.inf) for v in syncs[1:]]
        k = int(np.argmax([g - mg for g, mg in zip(gains, margins, strict=True)]))
        diag: dict = {"sync_gain_per_1000": {_sync_label(v): g
                                             for v, g in zip(syncs, gains, strict=True)}}
        if reference_share is not None:
            diag["sync_reference_share_p05"] = reference_share
        if syncs[-1] == "population":
            # the template against the best width (the rule before 2026-12-03's 8 ms width)
            diag["sync_template_gain_per_1000"] = gains[-1] - max(gains[:-1])
        diag.update(sync_tau_s=syncs[k],
                    sync_tau_log_posterior={_sync_label(v): t
                                            for v, t in zip(syncs, totals, strict=True)})
        return k, diag

    def _after_null_check(self, est: Estimate) -> Estimate:
        """``presynaptic_centre``: centre the p-values once ``check_null`` has judged them;
        then ``delay_range``: withdraw the calls whose fitted delay lies outside it; then
        ``dale``: withdraw the calls against their presynaptic unit's majority sign."""
        est = apply_presynaptic_centre(est) if self.presynaptic_centre else est
        if self.delay_range is not None:
            est = restrict_delays(est, self.delay_range)
        if self.dale:
            est = withdraw_against_dale(est)
        return est

    def _fit(self, ctx: FitContext) -> Estimate:
        """Estimate J for every requested pair (both directions of an unordered pair share
        one fit).

        Returns
        -------
        Estimate
            ``weights`` = J (dimensionless log-rate gain), ``delays`` = chosen ``d`` (s),
            ``scores`` = sqrt of the test statistic (z-like, >= 0), ``pvalues`` from ``test``.
        """
        t0 = ctx.t0
        window, delta, m, taus, delays, gamma, j_max, n_jobs = self._validated(
            ctx.settings["bin_width"])
        st = ctx.data
        if st.duration <= 2 * window:
            raise ValueError(f"the recording lasts {st.duration:g} s, not longer than the "
                             f"cross-correlogram span 2·window = {2 * window:g} s; use a longer "
                             "recording or a smaller window")
        # issue 12's short-recording rule over the evidence rule's 4 ms kernel (as ccg / te)
        warn_if_short(self.name, ctx.counts, ctx.want, float(st.duration), EVIDENCE_TAU,
                      float(self.alpha), self.correction)
        n = st.n_units
        status = ctx.pair_status
        want = (status == 0) | (status.T == 0)
        iu, ju = np.nonzero(np.triu(want, 1))
        weights = np.zeros((n, n))
        pvals = np.full((n, n), np.nan)
        scores = np.full((n, n), np.nan)
        dmat = np.full((n, n), np.nan)
        diag = {"n_pairs_fitted": int(iu.size), "delay_grid_s": delays.tolist()}
        # quantised data: every spike time a whole multiple of the bin (1e-6 of a bin); then
        # the bins are centred on the possible lags and the discrete model is fitted
        g = st.grouped_times / delta
        lattice = bool(g.size and np.all(np.abs(g - np.round(g)) < 1e-6))
        half, m_bins = (window + 0.5 * delta, m + 1) if lattice else (window, m)
        diag["lattice"] = lattice
        syncs = self._sync_grid()
        if "population" in syncs and iu.size < SYNC_TEMPLATE_MIN_PAIRS:
            if len(syncs) == 1:
                raise ValueError(
                    f"sync_tau='population' takes the synchrony's shape from all fitted "
                    f"pairs and needs at least {SYNC_TEMPLATE_MIN_PAIRS} (10 units); this "
                    f"fit has {iu.size}. Use a width in s (e.g. sync_tau=0.002) instead")
            syncs = syncs[:-1]
            diag["sync_population_skipped"] = (
                f"{iu.size} pairs, fewer than {SYNC_TEMPLATE_MIN_PAIRS}")
        if iu.size:
            t_ccg = t_fit = 0.0
            res: list = [None] * len(syncs)    # per synchrony width: out, iters, tau_pair
            for tau in taus:
                t1 = time.perf_counter()
                with numba_threads(n_jobs):
                    if iu.size >= 0.25 * n * (n - 1) / 2:
                        # most pairs: one population scan over coincidences
                        pidx = np.full((n, n), -1, dtype=np.int64)
                        pidx[iu, ju] = np.arange(iu.size)
                        ftimes, fpos = _flat_positions(st)
                        counts, s_pos, s_neg = _k.ccg_stats_scan(
                            ftimes, fpos, st.grouped_times, st.indptr,
                            pidx, iu.size, half, delta, m_bins, tau, delays)
                    else:
                        # few pairs: a two-pointer merge per pair
                        counts, s_pos, s_neg = _k.ccg_stats(
                            st.grouped_times, st.indptr, iu.astype(np.int64),
                            ju.astype(np.int64), half, delta, m_bins, tau, delays)
                t2 = time.perf_counter()
                template = (population_sync_template(counts, delta)
                            if "population" in syncs else None)
                todo = syncs
                if len(syncs) > 1 and iu.size > SYNC_CHOICE_PAIRS:
                    # the grid decided on an even spread of SYNC_CHOICE_PAIRS pairs (first τ);
                    # the other pairs fitted once, with the chosen term only
                    sub = np.arange(0, iu.size, -(-iu.size // SYNC_CHOICE_PAIRS))
                    fits = [self.fit_statistics(counts[sub], s_pos[sub], s_neg[sub], delta,
                                                lattice=lattice, tau=float(tau), sync_tau=v,
                                                sync_template=template) for v in syncs]
                    k, chosen = self._decide_sync(syncs, [f[0] for f in fits], counts[sub],
                                                  float(tau), delays.size * taus.size)
                    diag.update(chosen, sync_choice_pairs=int(sub.size))
                    rest = np.setdiff1d(np.arange(iu.size), sub)
                    o_rest, it_rest = self.fit_statistics(
                        counts[rest], s_pos[rest], s_neg[rest], delta, lattice=lattice,
                        tau=float(tau), sync_tau=syncs[k], sync_template=template)
                    o = np.empty((iu.size, o_rest.shape[1]))
                    it = np.empty(iu.size, dtype=it_rest.dtype)
                    o[sub], o[rest] = fits[k][0], o_rest
                    it[sub], it[rest] = fits[k][1], it_rest
                    syncs = [syncs[k]]
                    res = [[o, it, np.full(iu.size, float(tau))]]
                    todo = []
                for k, s_tau in enumerate(todo):
                    o, it = self.fit_statistics(counts, s_pos, s_neg, delta, lattice=lattice,
                                                tau=float(tau), sync_tau=s_tau,
                                                sync_template=template)
                    if res[k] is None:
                        res[k] = [o, it, np.full(iu.size, float(tau))]
                    else:
                        # the kernel time constant of highest posterior, like the delay
                        out = res[k][0]
                        better = (o[:, 8] == 1.0) & ((out[:, 8] != 1.0)
                                                     | (o[:, 7] > out[:, 7]))
                        out[better] = o[better]
                        res[k][2][better] = tau
                        res[k][1] = res[k][1] + it
                t_ccg += t2 - t1
                t_fit += time.perf_counter() - t2
            k, chosen = self._decide_sync(syncs, [r[0] for r in res], counts, res[0][2],
                                          delays.size * taus.size)
            diag.update(chosen)
            if syncs[k] == "population":
                diag["sync_template"] = template.tolist()
            out, iters, tau_pair = res[k]
            diag.update(time_ccg_s=t_ccg, time_fit_s=t_fit,
                        newton_iterations=int(iters.sum()),
                        coincidences_per_pair_median=float(np.median(counts.sum(axis=1))),
                        tau_grid_s=taus.tolist())
            self._fill(out, iu, ju, delays, tau_pair, taus, status, weights, pvals, scores,
                       dmat)
        failed = int(np.sum(status == 5))
        undecided = int(np.sum(status == 4))
        diag.update(n_undecided=undecided, n_fit_failed=failed,
                    time_total_s=time.perf_counter() - t0)
        if failed:
            diag["message"] = (f"{failed} directed pair(s) did not converge within "
                               f"max_iter={self.max_iter} Newton steps (status fit_failed)")
        return ctx.estimate(self, weights=weights,
                            weight_unit="J (log-rate gain, dimensionless)", pvalues=pvals,
                            scores=scores, delays=dmat, pair_status=status, diagnostics=diag)

    def _tests(self, out, direction: int, tau, n_looks: int):
        """One direction's tests from a raw :func:`_glmcc_kernels.fit_pairs` array: per row
        ``(converged, decided, p, score)``; ``decided`` rows passed the evidence rule, their
        ``p`` is Šidák-corrected over ``n_looks`` delays × kernels (NaN elsewhere). ``tau``
        (s): the kernel of each row (a float or one per row)."""
        conv = out[:, 8] == 1.0
        if self.test == "lr":
            # a null fit of the LR test that did not converge leaves no statistic
            conv = conv & np.isfinite(out[:, 9 + direction])
        cbar = out[:, 4 + direction]
        # the evidence rule uses the longest kernel (the paper's 4 ms by default)
        decided = conv & (EVIDENCE_TAU * cbar > self.min_coincidences)
        J = out[decided, direction]
        if self.test == "lr":
            stat = np.maximum(2.0 * (out[decided, 7] - out[decided, 9 + direction]), 0.0)
            p_d = chi2.sf(stat, 1)
            sc_d = np.sqrt(stat)
        elif self.test == "threshold":
            tau_c = np.broadcast_to(tau, cbar.shape)[decided] * cbar[decided]
            sc_d = np.abs(J) * np.sqrt(tau_c) / PAPER_THRESHOLD_FACTOR
            p_d = 2 * norm.sf(sc_d)
        else:
            z = J / np.sqrt(out[decided, 2 + direction])
            p_d = 2 * norm.sf(np.abs(z))
            sc_d = np.abs(z)
        p = np.full(cbar.shape, np.nan)
        sc = np.full(cbar.shape, np.nan)
        # the delay maximising the posterior was picked among n_d candidates: Sidak
        p[decided] = -np.expm1(n_looks * np.log1p(-np.minimum(p_d, 1.0 - 1e-16)))
        sc[decided] = sc_d
        return conv, decided, p, sc

    def _decide_sync(self, syncs: list, outs: list, counts, tau, n_looks: int
                     ) -> tuple[int, dict]:
        """:meth:`_choose_sync` with the reference's null share from its own fit
        (``outs[0]``; ``tau`` and ``n_looks`` as in :meth:`_tests`)."""
        if len(syncs) == 1:
            return 0, {}
        share = self._reference_null_share(outs[0], tau, n_looks)
        return self._choose_sync(syncs, outs, counts, share)

    def _reference_null_share(self, out, tau, n_looks: int) -> float:
        """Share of p < 0.05 among the decided directed tests of a raw fit, as the estimate
        would report them: the quantity :func:`~spikewire.infer.base.check_null` compares
        with its failure share."""
        p = np.concatenate([self._tests(out, d, tau, n_looks)[2] for d in range(2)])
        p = p[np.isfinite(p)]
        return float(np.mean(p < 0.05)) if p.size else 0.0

    def _fill(self, out, iu, ju, delays, tau, taus, status, weights, pvals, scores, dmat):
        for direction, (post, pre) in enumerate(((ju, iu), (iu, ju))):
            conv, decided, p, sc = self._tests(out, direction, tau, delays.size * taus.size)
            requested = status[post, pre] == 0
            ok = requested & conv
            status[post[requested & ~conv], pre[requested & ~conv]] = 5
            und = ok & ~decided
            status[post[und], pre[und]] = 4
            good = ok & decided
            weights[post[good], pre[good]] = out[good, direction]
            pvals[post[good], pre[good]] = p[good]
            scores[post[good], pre[good]] = sc[good]
            dmat[post[good], pre[good]] = delays[out[good, 6].astype(int)]
