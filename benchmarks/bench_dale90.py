"""dale_glm at 90 % hidden: one-ingredient swaps (issue 15; benchmarks/results/dale90.md).

Data: bench_dale_glm.py's Brunel network (N = 100, ε = 0.2, g = 5, J = 2 mV, η = 0.6,
1.5 ms delays, network seed ``--seed``), simulated 120 s (simulation seed 1), a random
10 % recorded (subsample seed 2): 10 units, 90 ordered pairs. The same spikes as
``bench_dale_glm.py --hidden 0.9``.

``fit``: refits of ``dale_glm`` with one setting changed per variant (``NAME=JSON``), and
``ccg`` (``--ccg``) or other methods at their defaults (``--compare glm glmcc ccg``)
for reference; each row: AUC, MCC at the default decision (after ``check_null``),
best-threshold MCC, calls / links, E/I accuracy, labelled fraction, fit CPU
(``time.process_time``). ``--pickle DIR`` keeps the estimates.

``mirror``: a diagnostic prototype, not dale_glm: per target a plain Poisson GLM (1 ms
bins, dale_glm's delay basis from the saved fit, own history, every other recorded
unit's causal filter and, with ``--acausal``, its *acausal* (mirror) filter: the same
basis over the presynaptic unit's spikes 0–24 ms *after* the target's bin; ridge 1, Newton
steps, time-block-robust (100 ms) sandwich variance). Reported per scan group (short /
middle / long): the Wald z of the causal contrast (``causal``) and of causal minus
mirror (``mirror``: the filter's excess over its own mirror image, a local baseline as
ccg's and glmcc's), the unlinked pairs' mean / sd, AUC and best-threshold MCC
(one-sided in the true labels' direction, and two-sided). The z arrays are saved
(``--save``) for ``offline --mirror``. ``--reverse``: instead of the joint fit, the causal
model fitted twice, forward and on the time-reversed spikes (whose causal filter is the
forward mirror), and ``(z_forward − z_reversed) / √2`` (``reversed_diff``).
``--smooth K``: instead of a free mirror, a *smooth symmetric* shared-input term per
pair: K broad raised cosines (window 15 ms, log offset 4 ms: peaks at 1 and 6 ms for
K = 2) applied to the presynaptic spikes on both sides of the target's bin with one
coefficient each, plus the same-bin (lag 0) count; the causal filter keeps dale_glm's
sharp basis and is tested alone (``smooth``): its excess over a smooth two-sided hump
(the GLM form of ccg's smoothed local baseline and glmcc's slow baseline). Reported also
under the labels :func:`~spikewire.infer.dale_glm.label_units` gives from the smooth z
itself (``ownlab``) and under the saved fit's labels (``fitlab``), both decided by
``check_null``. ``--hidden 0.5 --subset K``: the prototype on K of the recorded units (drawn with
``numpy.random.default_rng(11)``), e.g. 20 of the 50 at 50 % hidden, scored against
those units' true links (the saved fit only lends its basis). ``--null FAMILY``: the same
prototype on a 10-unit, 120 s ``null_family`` recording
(seed ``--seed``) instead of the Brunel network; reported: each short z's mean, sd and
two-sided rate at 0.05 over the 90 pairs.

``offline``: a saved default fit re-ranked and re-decided without refitting (the tests do
not depend on the labels, so these are exact for p-values and scores; benchmarks/
bench_dale_relabel.py): ``true_labels`` (each unit's true type imposed: the labels'
cost), ``two_sided`` (no labels), ``contrast_k`` (one scan contrast alone, short / middle
/ long), ``antisym`` (a pair's scan z minus that of the reverse pair). Every offline row
is decided again by ``check_null`` from the method's BH at α = 0.05.

``fit`` with ``acausal`` in a variant's settings fits dale_glm's built-in mirror filter
(session 23, benchmarks/results/dalemirror.md); ``--first-lag``, ``--mirror-scan`` and
``--mirror-evidence`` set the module constants ``MIRROR_FIRST_LAG`` / ``MIRROR_SCAN`` /
``MIRROR_EVIDENCE`` for the comparison of their choices (each row records the last).
``reciprocal``: saved fits' recall of the recorded E links whose reverse pair is also a
link against that of one-way E links, at their default decisions (session 30: a mirror
fit's contrast, causal minus mirror, cancels on reciprocal pairs); for mirror fits also,
among the pairs of truly excitatory presynaptic units, the AUC of the short-lag causal z,
of the causal − mirror z and of their sum, and how many reciprocal / one-way E links each
puts above 95 % of the unlinked pairs. ``sumdecide``: a saved mirror fit's excitation
re-decided (``check_null`` from BH at 0.05) on the Stouffer sum of those two z, centred and
scaled by the median and MAD of the tested pairs (:func:`sum_decision`). ``union``: a
dale_glm fit's calls combined with ccg's excitatory calls on the units dale_glm labels E
(:func:`union_rows`).
``mirrorscan``: saved ``acausal="mirror"`` fits (``--pickle``) re-tested offline on other
subsets of their mirror-scan contrasts (``diagnostics["mirror_scan_z"]``: ``all`` /
``short`` / ``mixed`` / ``short_mid`` / ``causal``) by :func:`~spikewire.infer.dale_glm.
scan_test`, under the fit's labels and under the true ones, each decided by ``check_null``.

Usage::

    python benchmarks/bench_dale90.py fit --seed 3 [--variants 'default={}' ...]
        [--pickle DIR] [--json out.jsonl] [--cache DIR] [--ccg]
    python benchmarks/bench_dale90.py offline --seed 3 FIT.pkl [--json out.jsonl]
        [--mirror Z.npy]
    python benchmarks/bench_dale90.py mirror --seed 3 FIT.pkl [--acausal] [--save Z.npz]
        [--reverse] [--smooth K] [--null FAMILY] [--hidden 0.5 --subset K]
    python benchmarks/bench_dale90.py fit --seed 3 --variants 'mirror={"acausal": "mirror"}'
        [--first-lag 0] [--mirror-scan short]
    python benchmarks/bench_dale90.py mirrorscan --seed 3 FIT.pkl [--json out.jsonl]
    python benchmarks/bench_dale90.py reciprocal --seed 3 FIT.pkl ... [--json out.jsonl]
    python benchmarks/bench_dale90.py sumdecide --seed 3 FIT.pkl ... [--json out.jsonl]
    python benchmarks/bench_dale90.py union --seed 3 DALE.pkl CCG.pkl [--json out.jsonl]
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu, norm
from sklearn.metrics import matthews_corrcoef

import spikewire as sw
from spikewire.infer.base import check_null
from spikewire.infer.dale_glm import DaleGLM
from spikewire.observe.subsample import subsample

KEYS = ("auc", "mcc", "mcc_best", "n_detected", "n_true", "ei_accuracy", "ei_labelled")


def network(seed: int):
    """bench_dale_glm.py's Brunel network."""
    return sw.networks.brunel(100, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)


def recording(seed: int, hidden: float = 0.9, duration: float = 120.0,
              cache: str | None = None):
    """The recorded 10 % (``hidden`` 0.9) of the seed's simulation, cached if asked."""
    path = None
    if cache is not None:
        path = Path(cache) / f"brunel100_s{seed}_{duration:g}s_h{int(round(hidden * 100))}.pkl"
        if path.exists():
            with open(path, "rb") as fh:
                return pickle.load(fh)
    net = network(seed)
    st = sw.simulate(net, duration, seed=1)
    rec = subsample(st, fraction=1 - hidden, network=net, seed=2)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            pickle.dump(rec, fh)
    return rec


def row_of(net, est) -> dict:
    """The scores of one estimate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = sw.score(net, est)
    row = {k: float(s.get(k, float("nan"))) for k in KEYS}
    nc = est.diagnostics.get("null_check", {})
    row["switched"] = bool(nc.get("switched", est.correction == "lfdr"))
    return row


def load_fit(path):
    """A pickled estimate (``fit --pickle``)."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


def short_contrast_index(z: np.ndarray) -> int:
    """Index of the short group's causal − mirror z in ``diagnostics["mirror_scan_z"]``
    (layout of ``dale_glm._mirror_wald``: k causal groups, k causal − mirror groups, the
    summed contrast; the short group's causal z is index 0)."""
    return (z.shape[-1] - 1) // 2


def reciprocal_recall(net, est) -> dict:
    """Recall at the estimate's default decision of the recorded E links whose reverse pair
    is also a link (``reciprocal``) and of the others (``one_way``), and its false calls."""
    full = net.dense_weights()
    W = full[np.ix_(est.true_index, est.true_index)]
    off = ~np.eye(est.n_units, dtype=bool)
    called = np.asarray(est.adjacency(), dtype=bool) & off
    exc = (W > 0) & off
    recip = exc & (W.T != 0)
    one_way = exc & (W.T == 0)
    row = {"reciprocal_found": int((called & recip).sum()), "reciprocal": int(recip.sum()),
           "one_way_found": int((called & one_way).sum()), "one_way": int(one_way.sum()),
           "false_calls": int((called & (W == 0)).sum())}
    z = est.diagnostics.get("mirror_scan_z")
    if z is not None:  # a mirror fit: rank its short-lag statistics (offline probe)
        k = short_contrast_index(z)
        is_e = (full[:, est.true_index] > 0).any(axis=0)
        pairs = off & is_e[None, :]              # E presynaptic units (true labels)
        y = exc[pairs]
        for name, v in (("causal", z[..., 0]), ("contrast", z[..., k]),
                        ("sum", z[..., 0] + z[..., k])):
            x = v[pairs]
            ok = np.isfinite(x)
            pos, neg = x[ok & y], x[ok & ~y]
            auc = mannwhitneyu(pos, neg).statistic / (pos.size * neg.size)
            row[f"auc_{name}"] = round(float(auc), 3)
            top = np.nanpercentile(x[~y], 95)    # above 95 % of the unlinked pairs
            row[f"recip_top5_{name}"] = int((v[recip] > top).sum())
            row[f"oneway_top5_{name}"] = int((v[one_way] > top).sum())
    return row


def sum_decision(est):
    """A mirror fit re-decided on the Stouffer sum of its short-lag causal and causal −
    mirror z, ``(z_c + z_k) / √(2 + 2ρ)``, centred and scaled by the median and MAD over
    the tested pairs, for the pairs of E-labelled presynaptic units (session 30's probe)."""
    z, corr = est.diagnostics["mirror_scan_z"], est.diagnostics["mirror_scan_corr"]
    k = short_contrast_index(z)
    stat = (z[..., 0] + z[..., k]) / np.sqrt(2 + 2 * corr[..., 0, k])
    tested = (est.pair_status == 0) & np.isfinite(stat)
    exc = tested & (np.asarray(est.cell_type).astype(str) == "E")[None, :]
    med = np.median(stat[tested])
    mad = 1.4826 * np.median(np.abs(stat[tested] - med))
    centred = (stat - med) / mad
    pv, sc = est.pvalues.copy(), est.scores.copy()
    pv[exc], sc[exc] = norm.sf(centred[exc]), centred[exc]
    return redecide(est, pv, sc)


def union_rows(net, est, ccg) -> dict:
    """MCC of link existence (sign ignored) of ``est``'s calls, ``ccg``'s, and two
    combinations on ``est``'s units: ``est``'s calls from units it labels I plus ccg's
    positive calls from units it labels E (``hybrid``), and all of ``est``'s calls plus
    those ccg calls (``union``)."""
    W = net.dense_weights()[np.ix_(est.true_index, est.true_index)]
    off = ~np.eye(est.n_units, dtype=bool)
    truth = (W != 0)[off]
    own = np.asarray(est.adjacency(), dtype=bool)
    ccg_calls = np.asarray(ccg.adjacency(), dtype=bool)
    theirs = ccg_calls & (np.nan_to_num(ccg.weights) > 0)
    lab_e = (np.asarray(est.cell_type).astype(str) == "E")[None, :]
    calls = {"own": own, "ccg": ccg_calls,
             "hybrid": (own & ~lab_e) | (theirs & lab_e), "union": own | (theirs & lab_e)}
    return {f"mcc_{k}": float(matthews_corrcoef(truth, v[off])) for k, v in calls.items()}


def show(name: str, row: dict) -> None:
    print(f"{name:24s} " + " ".join(
        f"{k}={row[k]:.3f}" if isinstance(row[k], float) else f"{k}={row[k]}"
        for k in row), flush=True)


def redecide(est, pv, sc, labels=None):
    """A copy of ``est`` with p-values / scores replaced and ``check_null`` run again from
    the method's own decision (BH at α = 0.05)."""
    est = copy.deepcopy(est)
    ok = est.pair_status == 0
    est.pvalues = np.where(ok, pv, est.pvalues)
    est.scores = np.where(ok, sc, est.scores)
    if labels is not None:
        est.cell_type = np.asarray(labels).astype(object)
    est.correction, est.alpha = "bh", 0.05
    est.diagnostics.pop("null_check", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_null(est)


def directed(z, signs):
    """p-values and scores (post, pre) of test z (post, pre) under unit signs (pre,):
    one-sided in the label's direction, two-sided where unlabelled (dale_glm._place)."""
    free = signs == 0
    p2 = np.minimum(2.0 * norm.sf(np.abs(z)), 1.0)
    pv = np.where(free[None, :], p2, norm.sf(signs[None, :] * z))
    sc = np.where(free[None, :], norm.isf(np.clip(p2, 1e-300, 1 - 1e-12)),
                  signs[None, :] * z)
    return pv, sc


def offline(net, est) -> dict:
    """Rows of the offline swaps of a saved default (scan) fit."""
    d = est.diagnostics
    z = np.asarray(d["scan_z"], dtype=float)                   # (post, pre), test z
    lab = np.asarray(est.cell_type).astype(str)
    signs = np.where(lab == "E", 1.0, np.where(lab == "I", -1.0, 0.0))
    truth_e = np.asarray(net.is_excitatory)[np.asarray(est.true_index)]
    tsigns = np.where(truth_e, 1.0, -1.0)
    rows = {"saved": row_of(net, est)}
    pv, sc = directed(z, signs)
    rows["redecided"] = row_of(net, redecide(est, pv, sc))
    pv, sc = directed(z, tsigns)
    rows["true_labels"] = row_of(net, redecide(est, pv, sc, np.where(truth_e, "E", "I")))
    pv, sc = directed(z, np.zeros_like(signs))
    rows["two_sided"] = row_of(net, redecide(est, pv, sc, np.full(lab.size, "?")))
    zk = np.asarray(d["scan_z_contrasts"], dtype=float)        # (post, pre, k) unscaled
    for g in range(zk.shape[2]):
        zg = np.nan_to_num(zk[..., g])
        pv, sc = directed(zg, signs)
        rows[f"contrast_{g}"] = row_of(net, redecide(est, pv, sc))
        pv, sc = directed(zg, tsigns)
        rows[f"contrast_{g}_true_labels"] = row_of(
            net, redecide(est, pv, sc, np.where(truth_e, "E", "I")))
    za = np.nan_to_num(z) - np.nan_to_num(z.T)
    za = za / np.sqrt(2.0)
    pv, sc = directed(za, signs)
    rows["antisym"] = row_of(net, redecide(est, pv, sc))
    return rows


MIRROR_MODES = ("all", "short", "mixed", "short_mid", "causal")


def mirror_scan_rows(net, est) -> dict:
    """Rows of a saved ``acausal="mirror"`` fit re-tested on subsets of its mirror-scan
    contrasts (``causal`` k, causal − mirror k, summed causal − mirror), each under the
    fit's labels and (``*_true``) the true ones."""
    from spikewire.infer.dale_glm import DEFAULT_NULL_SCALE, scan_test

    d = est.diagnostics
    Z = np.moveaxis(np.asarray(d["mirror_scan_z"], dtype=float), 0, 1)   # (pre, post, ·)
    Cr = np.moveaxis(np.asarray(d["mirror_scan_corr"], dtype=float), 0, 1)
    Ev = np.moveaxis(np.asarray(d["mirror_scan_events"], dtype=float), 0, 1)
    k = (Z.shape[2] - 1) // 2
    tested = ~np.eye(Z.shape[0], dtype=bool)
    lab = np.asarray(est.cell_type).astype(str)
    signs = np.where(lab == "E", 1.0, np.where(lab == "I", -1.0, 0.0))
    truth_e = np.asarray(net.is_excitatory)[np.asarray(est.true_index)]
    modes = {"all": np.arange(k, 2 * k), "short": np.array([k]),
             "mixed": np.r_[k, np.arange(1, k)], "short_mid": np.array([k, k + 1]),
             "causal": np.arange(k)}
    rows = {}
    for name, idx in modes.items():
        zt, _ = scan_test(Z[..., idx], Cr[..., idx[:, None], idx[None, :]], Ev[..., idx],
                          Z[..., 2 * k], tested, estimator=DEFAULT_NULL_SCALE)
        pv, sc = directed(zt.T, signs)
        rows[name] = row_of(net, redecide(est, pv, sc))
        pv, sc = directed(zt.T, np.where(truth_e, 1.0, -1.0))
        rows[f"{name}_true"] = row_of(net, redecide(est, pv, sc,
                                                     np.where(truth_e, "E", "I")))
    return rows


def _causal_features(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``f_b[t] = Σ_l B[l, b] x[t − 1 − l]`` (lags 1..L bins)."""
    out = np.zeros((x.size, basis.shape[1]))
    for b in range(basis.shape[1]):
        out[:, b] = np.convolve(x, np.concatenate([[0.0], basis[:, b]]))[:x.size]
    return out


def _acausal_features(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``f_b[t] = Σ_l B[l, b] x[t + l]`` (lags 0..L − 1 bins into the future)."""
    xr = x[::-1]
    out = np.zeros((x.size, basis.shape[1]))
    for b in range(basis.shape[1]):
        out[:, b] = np.convolve(xr, basis[:, b])[:x.size][::-1]
    return out


def _symmetric_features(x: np.ndarray, broad: np.ndarray) -> np.ndarray:
    """``f_b[t] = Σ_l S[l, b] (x[t − 1 − l] + x[t + 1 + l])`` and, last, ``x[t]``."""
    out = np.zeros((x.size, broad.shape[1] + 1))
    for b in range(broad.shape[1]):
        k = np.concatenate([[0.0], broad[:, b]])
        out[:, b] = (np.convolve(x, k)[:x.size]
                     + np.convolve(x[::-1], k)[:x.size][::-1])
    out[:, -1] = x
    return out


def _poisson_newton(X, y, ridge=1.0, max_iter=30):
    """Ridge-penalised Poisson regression (column 0 the unpenalised intercept)."""
    p = X.shape[1]
    w = np.zeros(p)
    w[0] = np.log(max(float(y.mean()), 1e-6))
    lam = np.full(p, ridge)
    lam[0] = 0.0
    for _ in range(max_iter):
        mu = np.exp(np.clip(X @ w, -20, 5))
        H = (X * mu[:, None]).T @ X + np.diag(lam)
        step = np.linalg.solve(H, X.T @ (y - mu) - lam * w)
        w += step
        if np.max(np.abs(step)) < 1e-6:
            break
    mu = np.exp(np.clip(X @ w, -20, 5))
    H = (X * mu[:, None]).T @ X + np.diag(lam)
    return w, np.linalg.inv(H), mu


def mirror_z(rec, basis: np.ndarray, acausal: bool, block: int = 100,
             smooth: int = 0) -> dict:
    """Wald z (post, pre, 3) of the causal scan groups and, with ``acausal``, of causal
    minus mirror, or with ``smooth`` > 0 of the causal groups beside a smooth symmetric
    term of that many broad functions (see the module docstring)."""
    st = rec.spikes
    n, bw = st.n_units, 0.001
    nbins = int(round(float(st.duration) / bw))
    x = np.zeros((n, nbins))
    for k in range(n):
        t = np.asarray(st.train(k)) - float(st.t_start)
        np.add.at(x[k], np.minimum((t / bw).astype(int), nbins - 1), 1.0)
    nb = basis.shape[1]
    groups = np.array_split(np.arange(nb), 3)
    area = basis.sum(axis=0)
    cf = [_causal_features(x[k], basis) for k in range(n)]
    af = [_acausal_features(x[k], basis) for k in range(n)] if acausal else None
    sf = None
    if smooth:
        from spikewire.infer._bases import raised_cosine_log_basis

        broad = raised_cosine_log_basis(int(smooth), 0.015, bw, offset=0.004)
        sf = [_symmetric_features(x[k], broad) for k in range(n)]
    out = {"causal": np.full((n, n, 3), np.nan), "mirror": np.full((n, n, 3), np.nan)}
    for i in range(n):
        cols, pos, apos, off = [np.ones((nbins, 1)), cf[i]], {}, {}, 1 + nb
        for j in range(n):
            if j == i:
                continue
            cols.append(cf[j])
            pos[j], off = off, off + nb
            if acausal:
                cols.append(af[j])
                apos[j], off = off, off + nb
            if sf is not None:
                cols.append(sf[j])
                off += sf[j].shape[1]
        X = np.hstack(cols)
        y = np.minimum(x[i], 1.0)
        w, Hi, mu = _poisson_newton(X, y)
        r = (y - mu)[:, None] * X
        nk = nbins // block
        S = r[:nk * block].reshape(nk, block, -1).sum(axis=1)
        V = Hi @ (S.T @ S) @ Hi
        for j in pos:
            for g, gi in enumerate(groups):
                c = np.zeros(X.shape[1])
                c[pos[j] + gi] = area[gi]
                out["causal"][i, j, g] = c @ w / np.sqrt(c @ V @ c)
                if acausal:
                    c[apos[j] + gi] = -area[gi]
                    out["mirror"][i, j, g] = c @ w / np.sqrt(c @ V @ c)
    if smooth:
        out = {"smooth": out["causal"]}
    return out


class _Reversed:
    """Spike trains with time reversed (``t → duration − t``), as ``mirror_z`` reads them."""

    def __init__(self, st):
        self._st, self.n_units, self.duration, self.t_start = st, st.n_units, st.duration, 0.0

    def train(self, k):
        t = np.asarray(self._st.train(k)) - float(self._st.t_start)
        return np.sort(float(self.duration) - t - 1e-9)


class _Rec:
    """The ``.spikes`` holder ``mirror_z`` reads."""

    def __init__(self, spikes):
        self.spikes = spikes


def null_rows(zs: dict) -> dict:
    """Mean, sd and two-sided rate at 0.05 of each short-lag z over the tested pairs."""
    rows = {}
    for kind, z3 in zs.items():
        if not np.isfinite(z3).any():
            continue
        z = z3[..., 0][~np.eye(z3.shape[0], dtype=bool)]
        rows[f"{kind}_short"] = {"null_mean": float(z.mean()), "null_sd": float(z.std()),
                                 "fpr05": float(np.mean(2 * norm.sf(np.abs(z)) < 0.05))}
    return rows


def smooth_decided(net, est, z: np.ndarray) -> dict:
    """Rows of the smooth prototype's short-lag z under its own labels and the fit's."""
    from spikewire.infer.dale_glm import label_units

    z = np.nan_to_num(z)
    off = ~np.eye(z.shape[0], dtype=bool)
    li = label_units(np.where(off, z, 0.0).T, off, 0.8, 0.977)
    lab = np.asarray(est.cell_type).astype(str)
    sg = np.where(lab == "E", 1.0, np.where(lab == "I", -1.0, 0.0))
    rows = {}
    pv, sc = directed(z, np.asarray(li["signs"]))
    rows["smooth_ownlab"] = row_of(net, redecide(est, pv, sc, li["labels"]))
    pv, sc = directed(z, sg)
    rows["smooth_fitlab"] = row_of(net, redecide(est, pv, sc))
    return rows


def mirror_rows(net, est, zs: dict, true_index=None) -> dict:
    """AUC / best MCC of each group's z against the truth (true labels, two-sided);
    ``true_index`` (the units' network indices) defaults to the fit's."""
    from sklearn.metrics import roc_auc_score

    from spikewire.score.metrics import _best_mcc

    ti = np.asarray(est.true_index if true_index is None else true_index)
    W = net.weights
    W = np.asarray(W.todense() if hasattr(W, "todense") else W)[np.ix_(ti, ti)]
    sg = np.where(np.asarray(net.is_excitatory)[ti], 1.0, -1.0)
    off = ~np.eye(ti.size, dtype=bool)
    link = (W != 0)[off]
    rows = {}
    for kind, z3 in zs.items():
        if not np.isfinite(z3).any():
            continue
        for g, gname in enumerate(("short", "middle", "long")):
            z = z3[..., g]
            one, two, un = (z * sg[None, :])[off], np.abs(z)[off], z[off][~link]
            rows[f"{kind}_{gname}"] = {
                "null_mean": float(un.mean()), "null_sd": float(un.std()),
                "auc_true_labels": float(roc_auc_score(link, one)),
                "mcc_best_true_labels": float(_best_mcc(link, one)),
                "auc_two_sided": float(roc_auc_score(link, two)),
                "mcc_best_two_sided": float(_best_mcc(link, two))}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=("fit", "offline", "mirror", "mirrorscan",
                                     "reciprocal", "sumdecide", "union"))
    ap.add_argument("fits", nargs="*", help="offline: pickled dale_glm estimates")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--hidden", type=float, default=0.9)
    ap.add_argument("--variants", nargs="*", default=["default={}"],
                    help="NAME=JSON settings of dale_glm, one fit each")
    ap.add_argument("--ccg", action="store_true", help="also fit ccg")
    ap.add_argument("--compare", nargs="*", default=[],
                    help="fit: other methods fitted at their defaults on the same spikes")
    ap.add_argument("--pickle", default=None)
    ap.add_argument("--json", default=None, help="append rows to this JSON-lines file")
    ap.add_argument("--cache", default=None, help="folder of cached recordings")
    ap.add_argument("--acausal", action="store_true", help="mirror: add the mirror filters")
    ap.add_argument("--save", default=None, help="mirror: save the z arrays (.npz)")
    ap.add_argument("--reverse", action="store_true",
                    help="mirror: forward and time-reversed causal fits instead")
    ap.add_argument("--null", default=None, help="mirror: a null family (10 units, 120 s)")
    ap.add_argument("--subset", type=int, default=0,
                    help="mirror: only this many of the recorded units (seeded draw)")
    ap.add_argument("--smooth", type=int, default=0,
                    help="mirror: a smooth symmetric term of this many functions instead")
    ap.add_argument("--mirror", default=None,
                    help="offline: also rank the short group's causal-minus-mirror z of "
                         "this saved mirror run (.npz) under the fit's own labels")
    ap.add_argument("--first-lag", type=int, default=None,
                    help="fit: dale_glm.MIRROR_FIRST_LAG for acausal='mirror' variants")
    ap.add_argument("--mirror-scan", default=None, choices=MIRROR_MODES[:3],
                    help="fit: dale_glm.MIRROR_SCAN for acausal='mirror' variants")
    ap.add_argument("--mirror-evidence", default=None,
                    choices=("both", "excitation", "split"),
                    help="fit: dale_glm.MIRROR_EVIDENCE for acausal='mirror' variants")
    args = ap.parse_intermixed_args()
    if (args.first_lag is not None or args.mirror_scan is not None
            or args.mirror_evidence is not None):
        dg = sys.modules[DaleGLM.__module__]
        if args.first_lag is not None:
            dg.MIRROR_FIRST_LAG = args.first_lag
        if args.mirror_scan is not None:
            dg.MIRROR_SCAN = args.mirror_scan
        if args.mirror_evidence is not None:
            dg.MIRROR_EVIDENCE = args.mirror_evidence
    net = network(args.seed)
    out = []
    if args.mode == "mirror":
        with open(args.fits[0], "rb") as fh:
            est = pickle.load(fh)
        basis = np.asarray(est.diagnostics["basis"])
        if args.null:
            from spikewire.infer._null_families import null_family

            rec = _Rec(null_family(args.null, n_units=10, duration=120.0, seed=args.seed))
        else:
            rec = recording(args.seed, args.hidden, cache=args.cache)
        true_index = None
        if args.subset:
            pick = np.sort(np.random.default_rng(11).choice(rec.spikes.n_units, args.subset,
                                                            replace=False))
            true_index = np.asarray(rec.true_index)[pick]
            rec = _Rec(rec.spikes.select(pick))
        c0 = time.process_time()
        if args.reverse:
            fwd = mirror_z(rec, basis, False)["causal"]
            rev = mirror_z(_Rec(_Reversed(rec.spikes)), basis, False)["causal"]
            zs = {"causal": fwd, "reversed_diff": (fwd - rev) / np.sqrt(2.0)}
        else:
            zs = mirror_z(rec, basis, args.acausal and not args.smooth, smooth=args.smooth)
        cpu = time.process_time() - c0
        if args.save:
            np.savez(args.save, **zs)
        rows = null_rows(zs) if args.null else mirror_rows(net, est, zs, true_index)
        if "smooth" in zs and not args.null and not args.subset:
            rows.update(smooth_decided(net, est, zs["smooth"][..., 0]))
        for name, row in rows.items():
            row["cpu_s"] = cpu
            show(f"s{args.seed} {name}", row)
            out.append({"seed": args.seed, "mode": "mirror", "acausal": args.acausal,
                        "reverse": args.reverse, "null": args.null, "smooth": args.smooth,
                        "basis_functions": int(basis.shape[1]), "variant": name, **row})
    elif args.mode == "reciprocal":
        for path in args.fits:
            est = load_fit(path)
            row = reciprocal_recall(net, est)
            print(f"{Path(path).stem:24s} " + " ".join(f"{k}={v}" for k, v in row.items()),
                  flush=True)
            out.append({"seed": args.seed, "fit": str(path), "mode": "reciprocal", **row})
    elif args.mode == "sumdecide":
        for path in args.fits:
            est = load_fit(path)
            if "mirror_scan_z" not in est.diagnostics:
                ap.error(f"sumdecide: {path} is not a mirror fit (no mirror_scan_z); "
                         "save one with fit --variants 'mirror={\"acausal\": \"mirror\"}'")
            alt = sum_decision(est)
            row = {"default_" + k: v for k, v in row_of(net, est).items()}
            row.update(row_of(net, alt))
            row.update(reciprocal_recall(net, alt))
            show(Path(path).stem, row)
            out.append({"seed": args.seed, "fit": str(path), "mode": "sumdecide", **row})
    elif args.mode == "union":
        if len(args.fits) != 2:
            ap.error(f"union takes two fits, a dale_glm and a ccg pickle; got {len(args.fits)}")
        est, ccg = (load_fit(path) for path in args.fits)
        row = union_rows(net, est, ccg)
        show(f"s{args.seed}_union", row)
        out.append({"seed": args.seed, "fits": args.fits, "mode": "union", **row})
    elif args.mode == "mirrorscan":
        for path in args.fits:
            with open(path, "rb") as fh:
                est = pickle.load(fh)
            for name, row in mirror_scan_rows(net, est).items():
                show(f"{Path(path).stem}:{name}", row)
                out.append({"seed": args.seed, "fit": str(path), "mode": "mirrorscan",
                            "variant": name, **row})
    elif args.mode == "offline":
        for path in args.fits:
            with open(path, "rb") as fh:
                est = pickle.load(fh)
            rows = offline(net, est)
            if args.mirror:
                zm = np.load(args.mirror)["mirror"][..., 0]
                lab = np.asarray(est.cell_type).astype(str)
                sg = np.where(lab == "E", 1.0, np.where(lab == "I", -1.0, 0.0))
                pv, sc = directed(np.nan_to_num(zm), sg)
                rows["mirror_short"] = row_of(net, redecide(est, pv, sc))
            for name, row in rows.items():
                show(f"{Path(path).stem}:{name}", row)
                out.append({"seed": args.seed, "fit": str(path), "variant": name, **row})
    else:
        rec = recording(args.seed, args.hidden, cache=args.cache)
        todo = [v.split("=", 1) for v in args.variants]
        todo = [("dale_glm", n, json.loads(s)) for n, s in todo]
        if args.ccg and "ccg" not in args.compare:
            todo.append(("ccg", "ccg", {}))
        todo += [(m, m, {}) for m in args.compare]
        for method, name, settings in todo:
            c0, t0 = time.process_time(), time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(rec, method, **settings)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            row = row_of(net, est)
            row["cpu_s"], row["wall_s"] = cpu, wall
            show(name, row)
            consts = sys.modules[DaleGLM.__module__]
            out.append({"seed": args.seed, "hidden": args.hidden, "variant": name,
                        "settings": settings,
                        "mirror_evidence": consts.MIRROR_EVIDENCE, **row})
            if args.pickle:
                Path(args.pickle).mkdir(parents=True, exist_ok=True)
                with open(Path(args.pickle) / f"s{args.seed}_{name}.pkl", "wb") as fh:
                    pickle.dump(est, fh)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(out[-1]) + "\n")
    if args.json and args.mode != "fit":
        with open(args.json, "a") as fh:
            for r in out:
                fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
