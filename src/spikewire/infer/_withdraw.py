"""Withdraw calls from an estimate after its test, without adding any.

Constraints that act on the *decision* (a latency prior, Dale's law) must be able to
remove calls but never create one. Setting a withdrawn pair's p-value to 1 is enough under
BH, Bonferroni or no correction; an empirical null (``correction="lfdr"``) is re-fitted to
the new p-values and can move, so pairs it would now call but did not call before are held
back as well (p-value 1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["withdraw_calls"]


def withdraw_calls(est, reject: np.ndarray) -> dict:
    """Withdraw the calls of ``est`` in ``reject`` (in place); never add one.

    Parameters
    ----------
    est : Estimate
        A fitted estimate with ``pvalues``.
    reject : ndarray of bool, shape (n, n)
        Pairs (post × pre) that may not be called.

    Returns
    -------
    dict
        ``withdrawn`` (bool mask of calls of ``reject`` withdrawn), ``held`` (pairs the
        re-made decision would have called though it did not before, held back),
        ``called_before`` and ``called_after`` (bool masks) and ``pvalues_before``.
        ``est.pvalues`` holds the new p-values: 1 at every withdrawn or held pair.
    """
    called_before = est.adjacency() != 0
    p_before = est.pvalues.copy()
    p = p_before.copy()
    withdrawn = np.zeros_like(called_before)
    held = np.zeros_like(called_before)
    for _ in range(50):
        now = est.adjacency() != 0
        new_out = reject & now & ~withdrawn
        new_in = ~reject & now & ~called_before
        if not (new_out.any() or new_in.any()):
            break
        withdrawn |= new_out
        held |= new_in
        p[new_out | new_in] = 1.0
        est.pvalues = p.copy()
    else:
        raise RuntimeError("withdraw_calls: the decision did not settle in 50 rounds")
    return {"withdrawn": withdrawn, "held": held, "called_before": called_before,
            "called_after": est.adjacency() != 0, "pvalues_before": p_before}
