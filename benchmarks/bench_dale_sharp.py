"""Probe (issue 15, 90 % hidden): a shape-based excitation test for dale_glm's mirror fit.

Session 30 found that the mirror fit's excitation statistic, the short lag group's
causal − mirror contrast, cancels a link whose reverse pair is also a link, and proposed a
test against the pair's own local baseline instead: the shared-input hump is smooth across
lag 0, a link a sharp step at its delay. This probe measures that idea inside the GLM.

Along the chain of basis coefficients ordered by lag — mirror functions ``m_nb … m_1``
(centres ``−(p_b − 1)`` bins, ``m_1`` the target's own bin) then causal ``c_1 … c_nb``
(centres ``p_b``, the functions' peaks) — the **sharpness contrast** of causal function
``b`` is its coefficient minus the linear interpolation of its two neighbours at their
centres: 0 for any locally linear filter (a smooth hump), the link's height for a link
that falls in function ``b``; a reverse link sits in the mirror functions ``m_2, m_3`` and
does not enter ``S_2 …``. ``S_1 … S_4`` are added to the mirror fit's Wald step (the same
covariance as its own contrasts; a wrapper around ``_Problem.wald``, nothing else of the
fit changes) and saved with the estimate.

Modes:

- ``fit --seeds 3 4 ... --out DIR``: the fits (``acausal="mirror"``, otherwise defaults)
  on ``bench_dale90.py``'s recordings (Brunel 100, 10 recorded, 120 s; ``--cache``).
- ``eval DIR --seeds ...``: per statistic, the unlinked pairs' mean and sd (pairs of truly
  excitatory presynaptic units), AUC of one-way and of reciprocal E links against them,
  and how many rank above 95 % of the unlinked.
- ``shape --seeds ...``: the mean and sd over pairs of the normalised cross-correlogram
  (1 ms bins, ±10 ms; coincidences / expected − 1) of unlinked pairs (truly E or
  unconnected presynaptic units), one-way E links, reciprocal E links and reverse pairs of
  one-way E links: the hump and the link shapes the contrasts above are built on.
- ``decide DIR --seeds ... --ccg DIR``: MCC of link existence at the fit's own decision and
  with excitation (E-labelled units) re-decided on ``1 − (1 − min(p, p_S))²`` (Šidák over
  the fit's p and the sharpness test's one-sided p; ``S_2`` alone, or the largest of
  ``S_1 … S_k`` with its scan p-value), BH at 0.05 through ``check_null``.

Usage: python benchmarks/bench_dale_sharp.py fit --seeds 3 4 5 --out /tmp/sharp
       python benchmarks/bench_dale_sharp.py eval /tmp/sharp --seeds 9 10 11
       python benchmarks/bench_dale_sharp.py decide /tmp/sharp --seeds 9 10 --ccg /tmp/dpk
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu, norm
from sklearn.metrics import matthews_corrcoef

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_dale90 as b90  # noqa: E402

import spikewire as sw  # noqa: E402
from spikewire.infer.dale_glm import DaleGLM  # noqa: E402
from spikewire.infer.glm import scan_pvalue  # noqa: E402

N_SHARP = 4
#: the mirror fit's own contrasts (``_mirror_wald``: 3 causal groups, 3 causal − mirror
#: groups, the summed contrast), then the sharpness contrasts
NAMES = ["c_short", "c_mid", "c_long", "d_short", "d_mid", "d_long", "d_sum",
         *[f"S{i + 1}" for i in range(N_SHARP)]]


def sharpness_contrasts(basis: np.ndarray) -> np.ndarray:
    """(2 nb, N_SHARP): over the mirror fit's coefficients (causal block, then mirror),
    each of causal functions 1 … N_SHARP minus the interpolation of its chain neighbours."""
    nb = basis.shape[1]
    peak = basis.argmax(axis=0).astype(float) + 1.0           # causal centres, bins
    pos = np.r_[-(peak - 1.0)[::-1], peak]                    # chain: m_nb … m_1, c_1 … c_nb
    coef = np.r_[nb + np.arange(nb)[::-1], np.arange(nb)]     # coefficient of each link
    out = np.zeros((2 * nb, N_SHARP))
    for g in range(N_SHARP):
        k = nb + g
        left, mid, right = pos[k - 1], pos[k], pos[k + 1]
        out[coef[k], g] += 1.0
        out[coef[k - 1], g] -= (right - mid) / (right - left)
        out[coef[k + 1], g] -= (mid - left) / (right - left)
    return out


def fit(seed: int, cache: str | None):
    """A mirror fit whose Wald step also computes the sharpness contrasts; their z and
    correlations (post, pre, k) land in ``diagnostics["sharp_z"]`` / ``["sharp_corr"]``."""
    dg = sys.modules[DaleGLM.__module__]
    original = dg._mirror_wald
    kept = {}

    def mirror_wald(prob, x, row_w, basis, robust_bins, contrasts):
        extra = sharpness_contrasts(np.asarray(basis))
        wald = prob.wald

        def wald_plus(x_, row_w_, csum, robust_bins=None, contrasts=None):
            n = contrasts.shape[1]
            z = wald(x_, row_w_, csum, robust_bins=robust_bins,
                     contrasts=np.hstack([contrasts, extra]))
            kept.update(z=prob.scan["z"], corr=prob.scan["corr"])
            prob.scan = {k: v[..., :n] if k != "corr" else v[..., :n, :n]
                         for k, v in prob.scan.items()}
            return z

        prob.wald = wald_plus
        try:
            return original(prob, x, row_w, basis, robust_bins, contrasts)
        finally:
            del prob.wald

    dg._mirror_wald = mirror_wald
    try:
        est = sw.infer(b90.recording(seed, cache=cache), "dale_glm", acausal="mirror")
    finally:
        dg._mirror_wald = original
    est.diagnostics["sharp_z"] = np.transpose(kept["z"], (1, 0, 2))           # (post, pre)
    est.diagnostics["sharp_corr"] = np.transpose(kept["corr"], (1, 0, 2, 3))
    return est


def load_sharp_fit(folder: Path, seed: int):
    """The pickled fit of ``fit --out folder`` for ``seed``; a clear exit if missing."""
    path = folder / f"s{seed}.pkl"
    if not path.exists():
        raise SystemExit(f"{path} not found: run bench_dale_sharp.py fit --seeds {seed} "
                         f"--out {folder} first")
    return b90.load_fit(path)


def pair_classes(net, est):
    """Masks (post, pre) of unlinked pairs from truly E units, one-way and reciprocal E
    links."""
    full = net.dense_weights()
    W = full[np.ix_(est.true_index, est.true_index)]
    off = ~np.eye(est.n_units, dtype=bool)
    is_e = (full[:, est.true_index] > 0).any(axis=0)
    exc = (W > 0) & off
    return {"null": off & (W == 0) & is_e[None, :], "one_way": exc & (W.T == 0),
            "reciprocal": exc & (W.T != 0)}


def evaluate(folder: Path, seeds) -> list[dict]:
    pooled = {}
    for seed in seeds:
        est = load_sharp_fit(folder, seed)
        cls = pair_classes(b90.network(seed), est)
        z = est.diagnostics["sharp_z"]
        stats = {name: z[..., i] for i, name in enumerate(NAMES)}
        stats["c_short+d_short"] = stats["c_short"] + stats["d_short"]
        for name, v in stats.items():
            for c, mask in cls.items():
                pooled.setdefault(name, {}).setdefault(c, []).extend(v[mask])
    rows = []
    for name, d in pooled.items():
        x0 = np.array(d["null"])
        x0 = x0[np.isfinite(x0)]
        q95 = np.percentile(x0, 95)
        row = {"statistic": name, "null_mean": float(x0.mean()), "null_sd": float(x0.std()),
               "n_null": int(x0.size)}
        for c in ("one_way", "reciprocal"):
            x = np.array(d[c])
            x = x[np.isfinite(x)]
            row[f"auc_{c}"] = float(mannwhitneyu(x, x0).statistic / (x.size * x0.size))
            row[f"{c}_above_q95"] = f"{int((x > q95).sum())} / {x.size}"
        rows.append(row)
    return rows


def sharp_pvalue(est, k: int) -> np.ndarray:
    """One-sided p (post, pre) of the sharpness test: ``S_2`` alone (k = 1) or the largest
    of ``S_1 … S_k`` (its two-sided scan p-value halved)."""
    z = est.diagnostics["sharp_z"]
    R = est.diagnostics["sharp_corr"]
    first = NAMES.index("S1")
    idx = [first + 1] if k == 1 else list(range(first, first + k))
    zs = z[..., idx]
    m = np.nanmax(zs, axis=-1)
    ok = np.isfinite(m) & (m > 0)
    p = np.ones_like(m)
    if k == 1:
        p[ok] = norm.sf(m[ok])
    else:
        p[ok] = 0.5 * scan_pvalue(m[ok], R[..., idx, :][..., :, idx][ok])
    return p


def decided(est, p_sharp: np.ndarray):
    """``est`` with the excitation of E-labelled units decided on Šidák's combination."""
    ok = (est.pair_status == 0) & np.isfinite(est.pvalues)
    exc = ok & (np.asarray(est.cell_type).astype(str) == "E")[None, :]
    combined = 1.0 - (1.0 - np.fmin(est.pvalues, p_sharp)) ** 2
    pv, sc = est.pvalues.copy(), est.scores.copy()
    pv[exc] = combined[exc]
    sc[exc] = norm.isf(np.clip(combined[exc], 1e-300, 1.0))
    return b90.redecide(est, pv, sc)


def existence_mcc(net, est) -> tuple[float, int]:
    W = net.dense_weights()[np.ix_(est.true_index, est.true_index)]
    off = ~np.eye(est.n_units, dtype=bool)
    calls = np.asarray(est.adjacency(), dtype=bool)[off]
    return float(matthews_corrcoef((W != 0)[off], calls)), int(calls.sum())


def correlogram_shapes(seeds, cache: str | None) -> dict:
    """Mean and sd (over pairs) of the normalised 1 ms correlogram at lags −10 … 10 ms
    (post spike time − pre spike time) per pair class."""
    edges = (np.arange(-10.5, 11.0, 1.0)) * 1e-3
    acc = {"unlinked": [], "one_way": [], "reciprocal": [], "reverse_of_one_way": []}
    for seed in seeds:
        net = b90.network(seed)
        rec = b90.recording(seed, cache=cache)
        st = rec.spikes
        W = net.dense_weights()[np.ix_(rec.true_index, rec.true_index)]   # (post, pre)
        is_i = (net.dense_weights()[:, rec.true_index] < 0).any(axis=0)
        trains = [st.times[st.unit_ids == u] for u in st.units]
        for i, pre in enumerate(trains):
            for j, post in enumerate(trains):
                if i == j:
                    continue
                lag = (post[None, :] - pre[:, None]).ravel()
                h = np.histogram(lag[np.abs(lag) < 0.011], edges)[0]
                expected = pre.size * post.size * 1e-3 / st.t_stop
                h = h / expected - 1.0
                if W[j, i] > 0:
                    acc["reciprocal" if W[i, j] != 0 else "one_way"].append(h)
                elif W[j, i] == 0 and W[i, j] > 0:
                    acc["reverse_of_one_way"].append(h)
                elif W[j, i] == 0 and W[i, j] == 0 and not is_i[i]:
                    acc["unlinked"].append(h)
    return {k: (np.mean(v, axis=0), np.std(v, axis=0), len(v)) for k, v in acc.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("fit", "eval", "decide", "shape"))
    ap.add_argument("folder", nargs="?", default=None, help="eval / decide: the fits")
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--out", default=None, help="fit: folder for the pickled fits")
    ap.add_argument("--cache", default=None,
                    help="fit, shape: folder of cached recordings")
    ap.add_argument("--ccg", default=None, help="decide: folder of bench_dale90 ccg fits "
                    "(s{seed}_ccg.pkl), shown beside")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.mode == "fit":
        if args.out is None:
            ap.error("fit needs --out FOLDER for the pickled fits")
        Path(args.out).mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            t0 = time.perf_counter()
            est = fit(seed, args.cache)
            with open(Path(args.out) / f"s{seed}.pkl", "wb") as fh:
                pickle.dump(est, fh)
            print(f"seed {seed}: {time.perf_counter() - t0:.1f} s", flush=True)
        return
    if args.mode == "shape":
        np.set_printoptions(precision=2, suppress=True, linewidth=200)
        print("lag (ms)", np.arange(-10, 11))
        for name, (mean, sd, n) in correlogram_shapes(args.seeds, args.cache).items():
            print(f"{name} ({n} pairs)\n  mean {mean}\n  sd   {sd}")
        return
    if args.folder is None:
        ap.error(f"{args.mode} needs the folder of the fits")
    folder = Path(args.folder)
    if args.mode == "eval":
        for row in evaluate(folder, args.seeds):
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items()))
        return
    for seed in args.seeds:
        net = b90.network(seed)
        est = load_sharp_fit(folder, seed)
        row = {"seed": seed, "own": existence_mcc(net, est)}
        if args.ccg:
            row["ccg"] = existence_mcc(net, b90.load_fit(Path(args.ccg) / f"s{seed}_ccg.pkl"))
        for name, k in (("sidak_S2", 1), ("sidak_S1-3", 3), ("sidak_S1-4", 4)):
            row[name] = existence_mcc(net, decided(est, sharp_pvalue(est, k)))
        print(" ".join(f"{k}={v[0]:.3f} ({v[1]} calls)" if isinstance(v, tuple) else
                       f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
