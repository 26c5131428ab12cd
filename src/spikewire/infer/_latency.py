"""A latency prior on called links: a monosynaptic effect starts within the axonal delays.

A direct synapse j → i shows in the cross-correlogram at the axonal delay plus the rise of
the postsynaptic potential; a two-step chain j → k → i through an unrecorded neuron k
shows at d₁ + d₂ plus k's spike latency. Where the axonal delays of the recorded tissue
are known to lie in a range (e.g. 1–5 ms in a local cortical circuit), a call whose
estimated delay lies outside that range (plus the PSP's rise) cannot be a monosynaptic
link: :func:`restrict_delays` withdraws such calls from an estimate
(benchmarks/results/chains.md measures when this helps).
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_delay_range", "restrict_delays"]


def check_delay_range(delay_range) -> tuple[float, float] | None:
    """Validate a ``delay_range`` setting: None or two delays ``(min, max)`` in s."""
    if delay_range is None:
        return None
    try:
        lo, hi = (float(x) for x in delay_range)
    except (TypeError, ValueError):
        raise ValueError(f"delay_range must be None or two delays (min, max) in s, got "
                         f"{delay_range!r}; e.g. delay_range=(0.0005, 0.006)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo <= hi):
        raise ValueError(f"delay_range must satisfy 0 <= min <= max (s, finite), got "
                         f"({lo}, {hi}); e.g. delay_range=(0.0005, 0.006)")
    return lo, hi


def restrict_delays(est, delay_range):
    """Withdraw every link whose estimated delay lies outside ``delay_range`` (in place).

    Parameters
    ----------
    est : Estimate
        A fitted estimate with ``delays`` (s) and ``pvalues``.
    delay_range : tuple of float
        ``(min, max)`` in s: the delays a direct link may show (the axonal delays plus the
        rise of the PSP, as the method estimates them).

    Returns
    -------
    Estimate
        ``est``: every tested pair whose delay lies outside the range gets score 0 (it
        ranks last among the tested pairs), and those of them the estimate calls at its
        default decision get p-value 1 (no longer called; the other p-values are kept, so
        an empirical null fitted to the bulk of them by ``correction="lfdr"`` is hardly
        moved). Weights and delays are unchanged. ``diagnostics["delay_range"]`` holds the
        range, the number of tested pairs outside it, of calls withdrawn and of pairs
        called now but not before (0 under BH, Bonferroni or no correction, whose
        decisions only lose calls when p-values rise);
        ``diagnostics["pvalues_before_delay_range"]`` the p-values before. An estimate
        without delays or p-values is refused.
    """
    lo, hi = check_delay_range(delay_range)
    if est.delays is None or est.pvalues is None:
        raise ValueError(f"delay_range needs an estimate with delays and p-values; "
                         f"{est.method!r} gives "
                         f"{'no delays' if est.delays is None else 'no p-values'}")
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
    d = est.delays
    outside = tested & np.isfinite(d) & ((d < lo - 1e-12) | (d > hi + 1e-12))
    called_before = est.adjacency() != 0
    p_before = est.pvalues.copy()
    p = p_before.copy()
    # only called pairs get p = 1: the uncalled pairs' p-values, on which an empirical
    # null (correction "lfdr") is fitted, stay as they are; repeated while the decision,
    # re-made on the new p-values, calls a pair outside the range
    withdrawn = np.zeros_like(outside)
    for _ in range(10):
        new = outside & (est.adjacency() != 0) & ~withdrawn
        if not new.any():
            break
        withdrawn |= new
        p[new] = 1.0
        est.pvalues = p.copy()
    if est.scores is not None:
        s = est.scores.copy()
        s[outside] = 0.0
        est.scores = s
    called_after = est.adjacency() != 0
    est.diagnostics["pvalues_before_delay_range"] = p_before
    est.diagnostics["delay_range"] = {
        "min_s": lo, "max_s": hi, "n_outside": int(outside.sum()),
        "n_withdrawn_called": int((withdrawn & called_before).sum()),
        # an empirical-null decision re-fitted on the new p-values may call a pair that
        # was not called before (never with BH, Bonferroni or none)
        "n_newly_called": int((called_after & ~called_before).sum())}
    return est
