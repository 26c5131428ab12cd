"""dale_glm's delay basis: short-lag resolution and reach over the window (issues 15, 12).

Two subcommands:

``basis``
    The candidate raised-cosine bases (:func:`spikewire.infer._bases.
    raised_cosine_log_basis`, 25 ms window) at 1 and 2 ms bins: their peaks (ms) and
    the sum of the functions (a filter's reach) at chosen lags. Analytic, instant.
``groups``
    The scan contrasts' z (weak-coupling limit: a least-squares filter fitted to the lag
    profile of a link with its delay uniform over 2 ms, over a flat background,
    information ∝ BᵀB; relative units) for the former 4-function basis (3 groups) and the
    5-function ``basis_last_peak="extend"`` basis in 3 groups (``scan_groups="auto"``) and
    in 4 (``scan_groups=4``: 1–3 / 6 / 13 / 25 ms). Analytic, instant.
``bydelay PICKLE [PICKLE ...]``
    For saved Izhikevich fits (``bench_calibration.py networks --families izh_random
    --duration 600 --recorded 40 --save DIR``, seed 0), the true E links by delay band:
    count, median score, AUC of their scores against every unlinked pair, fraction
    detected at the default decision; then the I links' (their scores negated). Needs no
    refit.

The fits themselves come from the existing benchmarks (commands in
``benchmarks/results/dalebasis.md``): Brunel 100 × 120 s, 50 % hidden
(``bench_dalebest.py``), Izhikevich 40 of 1,000 × 600 s and the null families
(``bench_calibration.py networks`` / ``nullall``).

Usage::

    python benchmarks/bench_dalebasis.py basis
    python benchmarks/bench_dalebasis.py groups
    python benchmarks/bench_dalebasis.py bydelay /tmp/dalebest/izh/*.pkl /tmp/x/*.pkl
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

from spikewire.infer._bases import raised_cosine_log_basis

WINDOW = 0.025
CANDIDATES = (("4, decays at window (former default)", 4, None),
              ("4, last peak at window", 4, WINDOW),
              ("5, last peak at window", 5, WINDOW),
              ("6, last peak at window", 6, WINDOW))
LAGS_MS = (5, 12, 15, 17, 19, 21, 24)
BANDS_MS = ((0, 5), (5, 10), (10, 15), (15, 21))


def basis_table() -> list[str]:
    """Markdown rows: bin (ms), basis, peaks (ms), the functions' sum at ``LAGS_MS``."""
    rows = ["| bin | basis | peaks (ms) | " + " | ".join(f"sum at {x} ms" for x in LAGS_MS)
            + " | min sum |", "|---" * (4 + len(LAGS_MS)) + "|"]
    for bw in (0.001, 0.002):
        for name, nb, lp in CANDIDATES:
            B = raised_cosine_log_basis(nb, WINDOW, bw, last_peak=lp)
            t = bw * 1e3 * np.arange(1, B.shape[0] + 1)
            peaks = ", ".join(f"{x:g}" for x in t[np.argmax(B, axis=0)])
            s = B.sum(axis=1)
            at = [f"{s[np.argmin(np.abs(t - x))]:.2f}" for x in LAGS_MS]
            rows.append(f"| {bw * 1e3:g} ms | {name} | {peaks} | " + " | ".join(at)
                        + f" | {s.min():.2f} |")
    return rows


def _lag_profile(lo_ms: float, hi_ms: float, n_lags: int = 25) -> np.ndarray:
    """Fraction of a delayed spike's lag (1 ms bins) at lags 1..n_lags for a delay uniform
    in [lo_ms, hi_ms] and the presynaptic spike uniform in its bin (the lag is
    ``floor(u + d)``: a trapezoid integrated bin by bin)."""
    edges = np.arange(n_lags + 2, dtype=float)

    def ramp(y):
        return np.clip(y, 0, 1) ** 2 / 2 + np.maximum(y - 1, 0)

    cdf = (ramp(edges - lo_ms) - ramp(edges - hi_ms)) / (hi_ms - lo_ms)
    return np.diff(cdf)[1:n_lags + 1]


def groups_table() -> list[str]:
    """Markdown rows: per delay band, the weak-coupling z of each scan contrast for the
    former basis (3 groups) and ``"extend"`` in 3 and 4 groups (largest in bold)."""
    from spikewire.infer.dale_glm import DaleGLM

    b4 = raised_cosine_log_basis(4, WINDOW, 0.001)
    b5 = raised_cosine_log_basis(5, WINDOW, 0.001, last_peak=WINDOW)
    fits = (("former 4 (short / mid / long)", b4, DaleGLM()._scan_contrasts(b4)),
            ('"extend", 3 groups', b5, DaleGLM(basis_last_peak="extend")._scan_contrasts(b5)),
            ('"extend", 4 groups (1–3 / 6 / 13 / 25 ms)', b5,
             DaleGLM(basis_last_peak="extend", scan_groups=4)._scan_contrasts(b5)))
    rows = ["| delay | " + " | ".join(f[0] for f in fits) + " |", "|---" * 4 + "|"]
    for lo in (0.5, 3.0, 6.0, 9.0, 12.0, 15.0, 17.0, 19.0, 22.0):
        e = _lag_profile(lo, lo + 2.0)
        cells = []
        for _, b, c in fits:
            g = np.linalg.inv(b.T @ b)
            z = (c.T @ g @ b.T @ e) / np.sqrt(np.einsum("bk,bc,ck->k", c, g, c))
            best = int(np.argmax(np.abs(z)))
            cells.append(" / ".join(f"**{v:.2f}**" if i == best else f"{v:.2f}"
                                    for i, v in enumerate(z)))
        rows.append(f"| {lo:g}–{lo + 2:g} ms | " + " | ".join(cells) + " |")
    return rows


def by_delay(paths: list[str]) -> list[str]:
    """Markdown rows of the by-delay AUC table for each pickled Izhikevich fit."""
    from sklearn.metrics import roc_auc_score

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_calibration import build_network

    net, _ = build_network("izh_random", 1000, 0)
    dm = net.weights.copy()
    dm.data = np.asarray(net.delays, float)
    rows = ["| fit | E link delay | links | median score | AUC vs unlinked | detected |",
            "|---|---|---|---|---|---|"]
    for path in paths:
        with open(path, "rb") as fh:
            d = pickle.load(fh)
        est = d["estimate"]
        ti = np.sort(np.random.default_rng(7).choice(1000, est.n_units, replace=False))
        W = net.dense_weights()[np.ix_(ti, ti)]
        D = dm.tocsr()[ti][:, ti].toarray()
        off = ~np.eye(est.n_units, dtype=bool)
        sc = np.nan_to_num(est.scores)
        y = W != 0
        unl = sc[off & ~y]
        is_e = np.asarray(net.is_excitatory)[ti]
        det = est.adjacency() != 0
        for lo, hi in BANDS_MS:
            m = off & y & (D >= lo / 1e3) & (D < hi / 1e3) & is_e[None, :]
            s = sc[m]
            auc = roc_auc_score(np.r_[np.ones(s.size), np.zeros(unl.size)], np.r_[s, unl])
            rows.append(f"| {d['method']} | {lo}–{min(hi, 20)} ms | {m.sum()} | "
                        f"{np.median(s):.2f} | {auc:.3f} | {det[m].mean():.2f} |")
        m = off & y & ~is_e[None, :]                 # I links: ranked by −score
        s = sc[m]
        auc = roc_auc_score(np.r_[np.ones(s.size), np.zeros(unl.size)], -np.r_[s, unl])
        rows.append(f"| {d['method']} | I links (−score) | {m.sum()} | {np.median(s):.2f} | "
                    f"{auc:.3f} | {det[m].mean():.2f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("basis")
    sub.add_parser("groups")
    b = sub.add_parser("bydelay")
    b.add_argument("pickles", nargs="+")
    args = ap.parse_args()
    if args.cmd == "basis":
        rows = basis_table()
    elif args.cmd == "groups":
        rows = groups_table()
    else:
        rows = by_delay(args.pickles)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
