"""How right is an estimate? Scores of an :class:`~spikewire.infer.Estimate` against the truth.

All scores compare observed units only (the estimate's ``true_index`` maps each observed
unit to its true neuron). Results are flat ``dict[str, float | int]`` so that sweeps
become table rows; a score that is undefined for the data (e.g. an AUC without any true
link among the observed pairs) is ``nan``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_positive, check_probability_open
from spikewire.core.network import Network
from spikewire.infer.estimate import Estimate


def _skm():
    """sklearn.metrics, imported on first use (keeps ``import spikewire`` light)."""
    from sklearn import metrics

    return metrics

__all__ = ["score", "classify_links", "Truth"]


class Truth:
    """Ground truth in a common form: sparse post × pre weights, types and delays.

    Parameters
    ----------
    weights : scipy.sparse matrix or ndarray, shape (N, N)
        True weights, post × pre (any unit; only signs and relative sizes are used).
    cell_type : array of {"E", "I"} (or bool, True = E), shape (N,), optional
        True type per neuron; inferred from the sign of each column if omitted
        (columns without outgoing synapses are then unknown and not scored).
    delays : sparse matrix / ndarray (N, N), optional
        True delay per synapse in s (same sparsity as ``weights``).
    """

    def __init__(self, weights, cell_type=None, delays=None):
        w = sp.csc_array(weights, dtype=float) if sp.issparse(weights) else sp.csc_array(
            np.asarray(weights, dtype=float))
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(f"true weights must be a square post x pre matrix, got {w.shape}")
        if w.nnz and not np.all(np.isfinite(w.data)):
            raise ValueError("true weights contain NaN or inf")
        w.eliminate_zeros()
        self.weights = w
        n = w.shape[0]
        if cell_type is None:
            col_sum = np.asarray(w.sum(axis=0)).ravel()
            cell_type = np.where(col_sum > 0, "E", np.where(col_sum < 0, "I", "?"))
        ct = np.asarray(cell_type)
        ct = np.where(ct, "E", "I") if ct.dtype == bool else ct.astype("<U1")
        if ct.shape != (n,):
            raise ValueError(f"cell_type must have one entry per neuron ({n}), got {ct.shape}")
        self.cell_type = ct
        self.delays = None if delays is None else (
            sp.csc_array(delays, dtype=float) if sp.issparse(delays)
            else sp.csc_array(np.asarray(delays, dtype=float)))

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])

    @classmethod
    def from_any(cls, truth, dt: float = 1e-4) -> Truth:
        """Accept a :class:`Network`, a :class:`Truth`, a matrix (array or sparse), or a
        tuple ``(weights, cell_type[, delays])``."""
        if isinstance(truth, Truth):
            return truth
        if isinstance(truth, Network):
            w = truth.weights
            d = truth.synapse_delays()
            if d is None:  # one simulation time step
                d = np.full(w.nnz, dt)
            dm = sp.csc_array((np.asarray(d, float), w.indices, w.indptr), shape=w.shape)
            return cls(w, truth.cell_type, dm)
        if isinstance(truth, tuple):
            if len(truth) not in (2, 3):
                raise ValueError("a truth tuple must be (weights, cell_type) or (weights, "
                                 f"cell_type, delays), got {len(truth)} items")
            return cls(*truth)
        if sp.issparse(truth) or np.ndim(truth) == 2:
            return cls(truth)
        raise TypeError("truth must be a Network, a post x pre matrix, or a tuple (weights, "
                        f"cell_type[, delays]); got {type(truth).__name__}")


def _observed_index(truth: Truth, est: Estimate) -> np.ndarray:
    n_obs = est.n_units
    ti = est.true_index
    if ti is None or np.any(np.asarray(ti) < 0):
        if truth.n != n_obs:
            raise ValueError(
                f"cannot score: the estimate has {n_obs} units but the network has {truth.n} "
                "neurons, and the estimate has no true_index mapping its units to the "
                "network's neurons. Observe the simulation through spikewire.observe (which "
                "records the mapping), build the recording with "
                "Recording.from_spikes(spikes, true_index=...), or set estimate.true_index")
        return np.arange(n_obs)
    ti = np.asarray(ti, dtype=np.int64)
    if ti.max(initial=-1) >= truth.n:
        raise ValueError(f"estimate.true_index refers to neuron {int(ti.max())} but the truth "
                         f"has only {truth.n} neurons")
    return ti


def _safe(fn, *args, **kwargs) -> float:
    y = args[0]
    if np.unique(y).size < 2:
        return math.nan
    return float(fn(*args, **kwargs))


def classify_links(truth, estimate: Estimate, adjacency: np.ndarray | None = None,
                   ) -> np.ndarray:
    """Class of each inferred link between observed units in the true graph.

    Codes (post × pre array, ``-1`` where no link was inferred): 0 direct (a true synapse
    pre → post), 1 indirect (a directed path of length 2 or 3 through any neurons), 2
    common input (a neuron presynaptic to both, not itself one of the two), 3 spurious. The
    first class that applies wins.
    """
    truth = Truth.from_any(truth)
    ti = _observed_index(truth, estimate)
    adj = estimate.adjacency() if adjacency is None else np.asarray(adjacency)
    out = np.full(adj.shape, -1, dtype=np.int8)
    post, pre = np.nonzero(adj)
    if post.size == 0:
        return out
    A = (truth.weights != 0).astype(np.float64).tocsr()
    P, Q = ti[post], ti[pre]
    direct = np.asarray(A[P, Q]).ravel() > 0
    # paths pre -> x -> post: (A @ A)[P, Q] computed row-wise for the needed rows only
    rows = np.unique(P)
    r_index = {int(r): k for k, r in enumerate(rows)}
    R1 = A[rows]                     # (n_rows, N) direct inputs of each needed post
    R2 = R1 @ A                      # paths of length 2 ending at the rows
    R3 = R2 @ A                      # length 3
    rk = np.array([r_index[int(p)] for p in P])
    two = np.asarray(R2[rk, Q]).ravel() > 0
    three = np.asarray(R3[rk, Q]).ravel() > 0
    # common input: some k ≠ P, Q with A[P, k] and A[Q, k]
    Arows_q = A[Q]
    shared = np.asarray((R1[rk].multiply(Arows_q)).sum(axis=1)).ravel()
    # do not count the two neurons themselves as their own common input
    self_q = np.asarray(A[P, Q]).ravel() * np.asarray(A[Q, Q]).ravel()
    self_p = np.asarray(A[P, P]).ravel() * np.asarray(A[Q, P]).ravel()
    common = (shared - self_q - self_p) > 0
    cls = np.where(direct, 0, np.where(two | three, 1, np.where(common, 2, 3)))
    out[post, pre] = cls
    return out


def score(truth, estimate: Estimate, *, alpha: float | None = None,
          correction: str | None = None, dt: float = 1e-4) -> dict:
    """Score an estimate against the ground truth.

    Parameters
    ----------
    truth : Network, RingNetwork, ndarray / sparse (N, N), or tuple (weights, cell_type[, delays])
        True post × pre weights (and E/I types, delays in s). A matrix alone takes each
        neuron's type from the sign of its outgoing weights.
    estimate : Estimate
        The estimate; ``estimate.true_index`` maps its units to true neurons (identity if
        missing and the sizes agree).
    alpha, correction : optional
        Threshold of the detected graph (default: the estimate's own).
    dt : float, default 0.1 ms
        Simulation step, the true delay of networks with ``delays=None``.

    Returns
    -------
    dict of str → float or int
        Pairs scored are the observed off-diagonal pairs the estimate was asked about
        (status ≠ diagonal / not requested); pairs it could not estimate count as
        undetected with the lowest evidence.

        - ``n_units, n_pairs, n_true, n_true_exc, n_true_inh, n_detected, n_untested``
        - existence: ``auc`` (ROC AUC of the evidence: ``scores`` if the method has them,
          else ``|weights|``), ``ap`` (average precision), and at the threshold
          ``precision, recall, f1, mcc``; ``mcc_best``, the best MCC any threshold on
          the evidence ranking reaches (thresholds between distinct evidence values), and
          ``calibration_gap = mcc_best − mcc``, what the method's default decision loses
          against the best threshold on its own ranking (issue 12; negative when the
          decision uses evidence the ranking does not, e.g. ccg's second stage);
        - per sign: ``auc_exc`` / ``auc_inh`` (true E / I links against non-links, ranked by
          the signed evidence ``sign(w)·evidence`` / its negative), ``mcc_exc`` /
          ``mcc_inh`` (detected positive / negative links vs true E / I links over all
          pairs), ``sign_accuracy`` (detected true links with the right sign),
          ``sign_accuracy_all`` (sign of the weight estimate on all true links where it is
          non-zero);
        - weights: ``weight_corr`` (Pearson over scored pairs), ``weight_scale`` (least-squares
          factor ``s = ⟨Ŵ, W⟩ / ⟨Ŵ, Ŵ⟩`` bringing Ŵ to the truth's units),
          ``weight_nerr = ‖s·Ŵ − W‖ / ‖W‖`` (Frobenius, scored pairs; 1 = no better than 0);
        - cell types over observed units: ``ei_accuracy`` (labelled units), ``ei_accuracy_E``,
          ``ei_accuracy_I`` (fraction of true E / I units given the right label, ``"?"``
          counts as wrong), ``ei_labelled`` (fraction labelled);
        - delays on detected true links with an estimated delay: ``delay_mae``,
          ``delay_median_error`` (s, absolute), ``delay_bias`` (s, mean of estimate − truth),
          ``n_delays``;
        - link classes of detected links (see :func:`classify_links`): ``frac_direct``,
          ``frac_indirect``, ``frac_common_input``, ``frac_spurious``;
        - unordered pairs (every estimate; the fair count for a symmetric one, e.g.
          ``partial_corr`` with ``lag=0``, whose adjacency calls both directions of a pair):
          ``symmetric`` (1 when ``diagnostics["symmetric"]`` says so, else 0),
          ``n_pairs_undirected`` (pairs ``{i, j}`` scored in both directions),
          ``n_true_undirected`` (those with a true synapse in either direction),
          ``n_detected_undirected`` (those called in either direction),
          ``mcc_undirected`` and ``auc_undirected`` (evidence of a pair: the larger of its
          two directions). The directed scores above count a symmetric call of a one-way
          synapse as one hit and one false call, and a called pair as two links;
        - prediction: ``bits_per_spike`` (held-out Poisson log-likelihood gain of methods
          that predict spikes, ``diagnostics["test_bits_per_spike"]``; NaN for others);
        - ring networks (a :class:`~spikewire.networks.ring.RingNetwork`, or a Network whose
          ``spec["ring"]`` names its ring units, e.g.
          :func:`~spikewire.networks.ring.lif_ring`): ``ring_delta`` (relative profile
          error Δ), ``ring_delta_full`` (full-matrix error), ``ring_side_ratio`` (deepest
          side trough / peak, signed), ``ring_delta_constant`` (Δ of a constant estimate:
          the floor a learned profile must beat) over the observed ring units
          (:func:`spikewire.score.ring.profile_error`); NaN for other networks.

    Examples
    --------
    >>> import numpy as np
    >>> from spikewire.infer import Estimate
    >>> w = np.array([[0, 1.0], [0, 0]])
    >>> est = Estimate(weights=w * 0.5, method="demo", settings={}, units=np.arange(2),
    ...                pvalues=np.array([[np.nan, 1e-4], [0.5, np.nan]]))
    >>> s = score((w, ["E", "E"]), est)
    >>> s["precision"], s["recall"], s["sign_accuracy"]
    (1.0, 1.0, 1.0)
    """
    if not isinstance(estimate, Estimate):
        raise TypeError(f"estimate must be an Estimate, got {type(estimate).__name__}")
    ring = _ring_truth(truth)
    if ring is not None and not isinstance(truth, (Network, Truth, tuple)):
        truth = ring[0]   # a RingNetwork: its dense weights (the whole network is the ring)
    dt = check_positive("dt", dt, unit="s")
    if alpha is not None:
        check_probability_open("alpha", alpha)
    truth = Truth.from_any(truth, dt=dt)
    ti = _observed_index(truth, estimate)
    n = estimate.n_units
    W = truth.weights.tocsr()[ti][:, ti].toarray()
    status = estimate.pair_status
    scored = (status != 1) & (status != 2)
    np.fill_diagonal(scored, False)
    tested = scored & (status == 0)
    est_w = np.where(tested, estimate.weights, 0.0)
    if estimate.scores is not None:
        evidence = np.where(tested, np.nan_to_num(estimate.scores, nan=0.0), -np.inf)
    elif estimate.pvalues is not None:
        with np.errstate(divide="ignore"):
            evidence = np.where(tested, -np.log10(np.nan_to_num(estimate.pvalues, nan=1.0)),
                                -np.inf)
    else:
        evidence = np.where(tested, np.abs(est_w), -np.inf)
    finite_ev = evidence[np.isfinite(evidence)]
    floor = (finite_ev.min() - 1.0) if finite_ev.size else 0.0
    evidence = np.where(np.isfinite(evidence), evidence, floor)
    adj = estimate.adjacency(alpha, correction)
    adj = np.where(tested, adj, 0)

    y = W[scored]
    truth_link = y != 0
    ev = evidence[scored]
    det = adj[scored] != 0
    sgn_w = np.sign(est_w[scored])
    signed_ev = np.where(sgn_w != 0, sgn_w, 1.0) * ev
    # rank untested pairs lowest in the signed evidence as well
    signed_ev = np.where(tested[scored], signed_ev, -np.abs(signed_ev).max(initial=0) - 1)
    out: dict[str, float | int] = {
        "n_units": int(n),
        "n_pairs": int(scored.sum()),
        "n_untested": int((scored & ~tested).sum()),
        "n_true": int(truth_link.sum()),
        "n_true_exc": int((y > 0).sum()),
        "n_true_inh": int((y < 0).sum()),
        "n_detected": int(det.sum()),
    }
    out["auc"] = _safe(_skm().roc_auc_score, truth_link, ev)
    out["ap"] = _safe(_skm().average_precision_score, truth_link, ev)
    out["precision"] = float(_skm().precision_score(truth_link, det, zero_division=0))
    out["recall"] = float(_skm().recall_score(truth_link, det, zero_division=0))
    out["f1"] = float(_skm().f1_score(truth_link, det, zero_division=0))
    out["mcc"] = _mcc(truth_link, det)
    out["mcc_best"] = _best_mcc(truth_link, ev)
    out["calibration_gap"] = out["mcc_best"] - out["mcc"]
    # per sign
    sel_e = (y > 0) | (y == 0)
    sel_i = (y < 0) | (y == 0)
    out["auc_exc"] = _safe(_skm().roc_auc_score, y[sel_e] > 0, signed_ev[sel_e])
    out["auc_inh"] = _safe(_skm().roc_auc_score, y[sel_i] < 0, -signed_ev[sel_i])
    a = adj[scored]
    out["mcc_exc"] = _mcc(y > 0, a > 0)
    out["mcc_inh"] = _mcc(y < 0, a < 0)
    hit = truth_link & det
    out["sign_accuracy"] = (float(np.mean(np.sign(a[hit]) == np.sign(y[hit])))
                            if hit.any() else math.nan)
    nz = truth_link & (sgn_w != 0)
    out["sign_accuracy_all"] = (float(np.mean(sgn_w[nz] == np.sign(y[nz])))
                                if nz.any() else math.nan)
    # weights
    wv = est_w[scored]
    if np.std(wv) > 0 and np.std(y) > 0:
        out["weight_corr"] = float(np.corrcoef(wv, y)[0, 1])
    else:
        out["weight_corr"] = math.nan
    denom = float(np.dot(wv, wv))
    s = float(np.dot(wv, y)) / denom if denom > 0 else 0.0
    norm_w = float(np.linalg.norm(y))
    out["weight_scale"] = s
    out["weight_nerr"] = (float(np.linalg.norm(s * wv - y)) / norm_w) if norm_w > 0 else math.nan
    # cell types
    true_ct = truth.cell_type[ti]
    est_ct = np.asarray(estimate.cell_type).astype("<U1")
    lab = est_ct != "?"
    known = true_ct != "?"
    out["ei_labelled"] = float(np.mean(lab[known])) if known.any() else math.nan
    both = lab & known
    out["ei_accuracy"] = float(np.mean(est_ct[both] == true_ct[both])) if both.any() else math.nan
    for c in ("E", "I"):
        sel = true_ct == c
        out[f"ei_accuracy_{c}"] = float(np.mean(est_ct[sel] == c)) if sel.any() else math.nan
    # delays
    out.update(_delay_scores(truth, ti, estimate, scored & (adj != 0) & (W != 0)))
    out.update(_undirected_scores(W, scored, evidence, adj,
                                  bool((estimate.diagnostics or {}).get("symmetric", False))))
    # link classes
    classes = classify_links(truth, estimate, adjacency=adj)
    c = classes[classes >= 0]
    for k, nm in enumerate(("direct", "indirect", "common_input", "spurious")):
        out[f"frac_{nm}"] = float(np.mean(c == k)) if c.size else math.nan
    bps = (estimate.diagnostics or {}).get("test_bits_per_spike")
    out["bits_per_spike"] = float(bps) if bps is not None else math.nan
    out.update(_ring_scores(ring, estimate, ti))
    return out


def _undirected_scores(W: np.ndarray, scored: np.ndarray, evidence: np.ndarray,
                       adj: np.ndarray, symmetric: bool) -> dict:
    """Scores over unordered pairs ``{i, j}`` scored in both directions: a pair is a true
    link when a synapse runs either way, called when either direction is called, and its
    evidence is the larger of its two directions."""
    both = np.triu(scored & scored.T, k=1)
    truth_u = ((W != 0) | (W.T != 0))[both]
    called = (adj != 0)
    det_u = (called | called.T)[both]
    ev_u = np.maximum(evidence, evidence.T)[both]
    return {"symmetric": int(symmetric),
            "n_pairs_undirected": int(both.sum()),
            "n_true_undirected": int(truth_u.sum()),
            "n_detected_undirected": int(det_u.sum()),
            "mcc_undirected": _mcc(truth_u, det_u),
            "auc_undirected": _safe(_skm().roc_auc_score, truth_u, ev_u)}


def _ring_truth(truth):
    """``(ring weights, ring neuron indices)`` of a ring network (see
    :func:`spikewire.networks.ring.ring_of`), else None."""
    from spikewire.networks.ring import ring_of

    try:
        return ring_of(truth)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _ring_scores(ring, estimate: Estimate, ti: np.ndarray) -> dict:
    """``ring_delta``, ``ring_delta_full``, ``ring_side_ratio``, ``ring_delta_constant``
    (:func:`spikewire.score.ring.profile_error`) over the observed ring units; NaN when the
    truth is not a ring or fewer than 3 ring units are observed."""
    keys = ("ring_delta", "ring_delta_full", "ring_side_ratio", "ring_delta_constant")
    nan = dict.fromkeys(keys, math.nan)
    if ring is None:
        return nan
    from spikewire.score.ring import profile_error

    w_ring, units = ring
    where = {int(u): k for k, u in enumerate(units)}
    obs = [(i, where[int(t)]) for i, t in enumerate(ti) if int(t) in where]
    if len(obs) < 3:
        return nan
    sel = np.array([i for i, _ in obs])
    pos = np.array([k for _, k in obs])
    w = np.where(estimate.pair_status == 0, estimate.weights, 0.0)[np.ix_(sel, sel)]
    try:
        pe = profile_error(w, w_ring, positions=pos)
    except ValueError:
        return nan
    return {"ring_delta": pe["delta"], "ring_delta_full": pe["delta_full"],
            "ring_side_ratio": pe["side_ratio"], "ring_delta_constant": pe["delta_constant"]}


def _best_mcc(y_true, evidence) -> float:
    """Largest MCC over every threshold "evidence ≥ t" (ties stay on one side)."""
    y_true = np.asarray(y_true, bool)
    if y_true.size == 0:
        return math.nan
    order = np.argsort(-np.asarray(evidence, float), kind="stable")
    ev = np.asarray(evidence, float)[order]
    y = y_true[order].astype(float)
    # cut only after the last of each run of equal evidence values
    cut = np.r_[ev[1:] != ev[:-1], True]
    tp = np.cumsum(y)[cut]
    fp = np.cumsum(1.0 - y)[cut]
    pos, neg = y.sum(), y.size - y.sum()
    fn, tn = pos - tp, neg - fp
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        mcc = np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)
    return float(max(mcc.max(initial=0.0), 0.0))


def _mcc(y_true, y_pred) -> float:
    """Matthews correlation from sklearn's confusion matrix (0 when undefined, as sklearn)."""
    y_true = np.asarray(y_true, bool)
    y_pred = np.asarray(y_pred, bool)
    if y_true.size == 0:
        return math.nan
    tn, fp, fn, tp = (float(v) for v in _skm().confusion_matrix(
        y_true, y_pred, labels=[False, True]).ravel())
    den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / den if den > 0 else 0.0


def _delay_scores(truth: Truth, ti: np.ndarray, est: Estimate, sel: np.ndarray) -> dict:
    nan = {"delay_mae": math.nan, "delay_median_error": math.nan, "delay_bias": math.nan,
           "n_delays": 0}
    if truth.delays is None or est.delays is None:
        return nan
    D = truth.delays.tocsr()[ti][:, ti].toarray()
    d_est = np.asarray(est.delays, dtype=float)
    ok = sel & np.isfinite(d_est) & (D > 0)
    if not ok.any():
        return nan
    err = d_est[ok] - D[ok]
    return {"delay_mae": float(np.mean(np.abs(err))),
            "delay_median_error": float(np.median(np.abs(err))),
            "delay_bias": float(np.mean(err)), "n_delays": int(ok.sum())}
