"""E/I labelling of units from the signs of their outgoing links (Dale's law)."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

__all__ = ["label_cell_types"]


def label_cell_types(adjacency: np.ndarray, weights: np.ndarray | None = None,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Label each presynaptic unit E or I from its significant outgoing links.

    A unit is E if most of its significant outgoing links (column ``j`` of the post × pre
    ``adjacency``) are positive, I if most are negative, ``"?"`` without any. Dale's law
    makes every unit one or the other, so mixed signs are resolved by majority (ties by
    the summed weight). The confidence is ``1 − p`` of a two-sided binomial test of the
    sign counts against 1/2, floored at 0.5 (0 for ``"?"``).

    Parameters
    ----------
    adjacency : ndarray of {-1, 0, 1}, shape (n, n)
        Signed significant links, post × pre.
    weights : ndarray, shape (n, n), optional
        Weights used to break ties.

    Returns
    -------
    cell_type : ndarray of str, shape (n,)
    confidence : ndarray of float, shape (n,)
    """
    adj = np.asarray(adjacency)
    n = adj.shape[1]
    pos = (adj > 0).sum(axis=0)
    neg = (adj < 0).sum(axis=0)
    labels = np.full(n, "?", dtype="<U1")
    conf = np.zeros(n)
    for j in range(n):
        total = int(pos[j] + neg[j])
        if total == 0:
            continue
        if pos[j] != neg[j]:
            labels[j] = "E" if pos[j] > neg[j] else "I"
        else:
            s = 0.0 if weights is None else float(np.sum(weights[:, j] * (adj[:, j] != 0)))
            labels[j] = "E" if s >= 0 else "I"
        p = binomtest(int(max(pos[j], neg[j])), total, 0.5).pvalue if total > 1 else 1.0
        conf[j] = max(0.5, 1.0 - p) if total > 1 else 0.5
    return labels, conf
