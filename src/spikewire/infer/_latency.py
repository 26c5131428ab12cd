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

from spikewire.infer._withdraw import withdraw_calls

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
        default decision get p-value 1 (no longer called). The decision is then re-made
        on the new p-values; under BH, Bonferroni or no correction it can only lose
        calls, but an empirical null (``correction="lfdr"``) is re-fitted to the p-values
        and may call pairs it did not call before (on a 100-unit LIF network: 24 calls
        withdrawn, 49 new ones): those are *held back* (p-value 1 as well), so the
        decision after is the decision before less the withdrawn calls (and less any call
        that BH's step-up loses). Weights and delays are unchanged.
        ``diagnostics["delay_range"]`` holds the range and the numbers of tested pairs
        outside it, of calls withdrawn, of pairs held back and of pairs called now but
        not before (0); ``diagnostics["pvalues_before_delay_range"]`` the p-values
        before. An estimate without delays or p-values is refused.
    """
    lo, hi = check_delay_range(delay_range)
    if est.delays is None or est.pvalues is None:
        raise ValueError(f"delay_range needs an estimate with delays and p-values; "
                         f"{est.method!r} gives "
                         f"{'no delays' if est.delays is None else 'no p-values'}")
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
    d = est.delays
    outside = tested & np.isfinite(d) & ((d < lo - 1e-12) | (d > hi + 1e-12))
    # only calls get p = 1; the decision is re-made on the new p-values, and while it calls
    # a pair outside the range, or one it did not call before (an empirical null,
    # correction "lfdr", is re-fitted to the p-values and can move), that pair gets p = 1
    # too: the decision after is the decision before less the withdrawn calls
    res = withdraw_calls(est, outside)
    withdrawn, held, called_before = res["withdrawn"], res["held"], res["called_before"]
    if est.scores is not None:
        s = est.scores.copy()
        s[outside] = 0.0
        est.scores = s
    called_after = res["called_after"]
    est.diagnostics["pvalues_before_delay_range"] = res["pvalues_before"]
    est.diagnostics["delay_range"] = {
        "min_s": lo, "max_s": hi, "n_outside": int(outside.sum()),
        "n_withdrawn_called": int((withdrawn & called_before).sum()),
        # pairs inside the range that the re-fitted empirical null would have called
        # although the decision before did not (never under BH, Bonferroni or none)
        "n_held_back": int(held.sum()),
        "n_newly_called": int((called_after & ~called_before).sum())}
    return est
