"""The small-problem null from a two-group fit (session 22, issues 12 and 15;
results/glmccmix.md).

``fdr.small_local_fdr`` decides the estimates that ``check_null``'s small-problem rule
switched (45–999 distinct tests) by lfdr < 0.5 against a null. Session 21 used the central
fit (median ± 1.5 σ_IQR); with a fifth of the pairs linked the links inside that window
widen it and nothing is called (glmcc on 20 of 100 Brunel neurons). ``fdr.mixture_null``
fits a null plus a separated link component and replaces the central null where that
second component is needed (``null_fit="mixture"``, the default now; ``"given"`` is
session 21's rule). Every mode compares the two.

Modes::

    python benchmarks/bench_glmccmix.py hidden DIR [DIR ...]
        the estimates ``bench_dale_glm.py --pickle DIR`` saved (DIR named ``s{seed}``),
        switched ones only: calls (true) and MCC of the default decision under
        null_fit="given" / "mixture", the two-group fit (LR, σ0, σ1, needed) and the
        oracle (central null fitted to the unlinked pairs alone, π0 the true share).
    python benchmarks/bench_glmccmix.py normal [--reps 100]
        how often the second component is "needed" on pure normal samples (no links):
        N(2, σ²), σ = 1, 2, 2.5, at 45 / 90 / 380 tests.
    python benchmarks/bench_glmccmix.py synthetic [--seeds 60]
        directed toy estimates through check_null (switched ones only): broken nulls with
        and without links, sparse (90 tests) and dense (380 tests, 22 % links): true /
        false calls under both rules.
    python benchmarks/bench_glmccmix.py pickles FILE [FILE ...]
        pickled estimates (switched null-family fits, e.g. glm on bursting at 10 units):
        default calls under both rules.
    python benchmarks/bench_glmccmix.py nest DIR
        ``bench_glmcc90.py nest DIR`` (NEST network 3, 20 units) under both rules.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from spikewire.infer import fdr
from spikewire.infer.base import check_null
from spikewire.infer.estimate import Estimate
from spikewire.infer.fdr import EmpiricalNull, central_null, mixture_null, small_local_fdr


@contextlib.contextmanager
def null_fit(rule: str):
    """Run with ``fdr.SMALL_NULL_FIT = rule`` (the default of ``small_local_fdr``)."""
    old = fdr.SMALL_NULL_FIT
    fdr.SMALL_NULL_FIT = rule
    try:
        yield
    finally:
        fdr.SMALL_NULL_FIT = old


def _mcc(called, link) -> float:
    tp = float(np.sum(called & link))
    fp = float(np.sum(called & ~link))
    fn = float(np.sum(~called & link))
    tn = float(np.sum(~called & ~link))
    d = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / d if d > 0 else 0.0


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


def _cell(c, link) -> str:
    return f"{int(c.sum())} ({int((c & link).sum())}) {_mcc(c, link):.3f}"


def hidden(dirs) -> None:
    import pickle

    from bench_glmcc90 import _brunel_truth

    print("| run | method | links | central δ0, σ0 | given: calls (true) MCC | two-group: "
          "LR, δ0, σ0, μ1, σ1 | needed | mixture: calls (true) MCC | Δ MCC | oracle: "
          "calls (true) MCC |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for d in dirs:
        W_all = _brunel_truth(int(Path(d).name.lstrip("s")))
        for fpath in sorted(Path(d).glob("*.pkl")):
            with open(fpath, "rb") as fh:
                est = pickle.load(fh)
            nc = est.diagnostics.get("null_check", {})
            if not nc.get("small_problem"):
                continue
            ti = np.asarray(est.true_index)
            W = W_all[np.ix_(ti, ti)]
            off = ~np.eye(est.n_units, dtype=bool)
            link = (W != 0)[off]
            with null_fit("given"):
                given = _quiet(est.significant)[off]
            with null_fit("mixture"):
                mix = _quiet(est.significant)[off]
            tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
            p, lt = est.pvalues[tested], (W != 0)[tested]
            mx = mixture_null(p)
            cn = mx.central
            on = central_null(p[~lt], min_tests=20, sigma0_range=fdr.SMALL_SIGMA0_RANGE)
            oracle_null = EmpiricalNull(on.delta0, on.sigma0, 1 - lt.mean(), p.size)
            orc = np.zeros(off.sum(), bool)
            full = np.zeros(est.pvalues.shape, bool)
            full[tested] = small_local_fdr(p, oracle_null, null_fit="given") < 0.5
            orc = full[off]
            dm = _mcc(mix, link) - _mcc(given, link)
            rows.append((fpath.stem, _mcc(given, link), _mcc(mix, link), int(given.sum()),
                         int(mix.sum()), int(link.sum())))
            print(f"| {Path(d).name} | {fpath.stem.replace('_', ' ')} | {int(link.sum())} | "
                  f"{cn.delta0:.2f}, {cn.sigma0:.2f} | {_cell(given, link)} | "
                  f"{mx.lr:.1f}, {mx.null.delta0:.2f}, {mx.null.sigma0:.2f}, {mx.mu1:.1f}, "
                  f"{mx.sigma1:.2f} | {'**yes**' if mx.needed else 'no'} | "
                  f"{_cell(mix, link)} | {dm:+.3f} | {_cell(orc, link)} |")
    g = np.array([r[1] for r in rows])
    m = np.array([r[2] for r in rows])
    print(f"\n{len(rows)} switched estimates: mean MCC given {g.mean():.3f}, mixture "
          f"{m.mean():.3f}; changed {int(np.sum(g != m))}; worse by > 0.02: "
          f"{int(np.sum(m < g - 0.02))}; min Δ {np.min(m - g):+.3f}")
    for meth in ("glmcc", "glm", "dale_glm", "ccg"):
        sel = [r for r in rows if r[0].split("_", 1)[1] == meth]
        if sel:
            print(f"  {meth}: {len(sel)} estimates, mean MCC {np.mean([r[1] for r in sel]):.3f}"
                  f" → {np.mean([r[2] for r in sel]):.3f}; at 0 calls "
                  f"{sum(r[3] == 0 for r in sel)} → {sum(r[4] == 0 for r in sel)}; calls > "
                  f"2× links under mixture: {sum(r[4] > 2 * r[5] for r in sel)}")


def normal(reps: int) -> None:
    rng = np.random.default_rng(2026)
    print("| σ | tests | fits | LR median / 95 % / 99 % | σ1 < σ0 | needed (rate) | "
          "binomial sd |")
    print("|---|---|---|---|---|---|---|")
    for sd in (1.0, 2.0, 2.5):
        for m in (45, 90, 380):
            lr, narrow, needed = [], 0, 0
            for _ in range(reps):
                z = rng.normal(2.0, sd, m)
                try:
                    mx = mixture_null(stats.norm.sf(z))
                except ValueError:
                    continue
                lr.append(mx.lr)
                narrow += mx.sigma1 < mx.null.sigma0
                needed += mx.needed
            n = len(lr)
            q = np.quantile(lr, [0.5, 0.95, 0.99])
            rate = needed / n
            print(f"| {sd:g} | {m} | {n} | {q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f} | "
                  f"{narrow / n:.2f} | {needed} ({rate:.3f}) | "
                  f"{np.sqrt(max(rate, 1 / n) * (1 - rate) / n):.3f} |", flush=True)


def _toy(z):
    n = int(round((1 + np.sqrt(1 + 4 * z.size)) / 2))
    p = np.full((n, n), np.nan)
    off = ~np.eye(n, dtype=bool)
    p[off] = stats.norm.sf(z)
    return Estimate(weights=off.astype(float), method="toy", settings={},
                    units=np.arange(n), pvalues=p, correction="bh", alpha=0.01), off


def synthetic(seeds: int) -> None:
    # (name, tests, null mean, null sd, link share, link mean, link sd)
    cases = [("wide N(2.6, 2²), no links", 90, 2.6, 2.0, 0.0, 0.0, 1.0),
             ("broken N(0.5, 1.8²), no links", 90, 0.5, 1.8, 0.0, 0.0, 1.0),
             ("N(2.6, 2²) + 10 % links N(7.5, 1.3²)", 90, 2.6, 2.0, 0.1, 7.5, 1.3),
             ("N(2.5, 2.1²) + 22 % links N(7.5, 1.2²)", 90, 2.5, 2.1, 0.22, 7.5, 1.2),
             ("N(2.5, 2.1²) + 22 % links N(7.5, 1.2²)", 380, 2.5, 2.1, 0.22, 7.5, 1.2),
             ("N(2.2, 1.8²) + 21 % links N(8, 2.5²)", 380, 2.2, 1.8, 0.21, 8.0, 2.5)]
    print("| case | tests | links (mean) | switched | given: true / false calls (sd false) "
          "[MCC] | mixture: true / false (sd false) [MCC] | needed |")
    print("|---|---|---|---|---|---|---|")
    for name, m, d0, s0, share, mu, s1 in cases:
        rng = np.random.default_rng(7)
        res = {"given": [], "mixture": []}
        n_sw = needed = links = 0
        for _ in range(seeds):
            n1 = rng.binomial(m, share)
            z = np.r_[rng.normal(mu, s1, n1), rng.normal(d0, s0, m - n1)]
            link = np.arange(m) < n1
            est, off = _toy(z)
            out = _quiet(check_null, est)
            if not out.diagnostics["null_check"].get("small_problem"):
                continue
            n_sw += 1
            links += n1
            needed += _quiet(mixture_null, z_to_p(z)).needed
            for rule in res:
                with null_fit(rule):
                    c = _quiet(out.significant)[off]
                res[rule].append(((c & link).sum(), (c & ~link).sum(), _mcc(c, link)))
        cells = []
        for rule in ("given", "mixture"):
            a = np.array(res[rule], float).reshape(-1, 3)
            cells.append(f"{a[:, 0].mean():.2f} / {a[:, 1].mean():.2f} ({a[:, 1].std():.1f}) "
                         f"[{a[:, 2].mean():.3f}]")
        k = max(n_sw, 1)
        print(f"| {name} | {m} | {links / k:.1f} | {n_sw}/{seeds} | {cells[0]} | {cells[1]} | "
              f"{needed / k:.2f} |", flush=True)


def z_to_p(z):
    return stats.norm.sf(z)


def pickles(files) -> None:
    import pickle

    for f in files:
        with open(f, "rb") as fh:
            est = pickle.load(fh)
        if isinstance(est, dict):
            est = est["estimate"]
        nc = est.diagnostics.get("null_check", {})
        tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
        mx = mixture_null(est.pvalues[tested])
        calls = {}
        for rule in ("given", "mixture"):
            with null_fit(rule):
                calls[rule] = int(_quiet(est.significant).sum())
        print(f"{Path(f).name}: switched {bool(nc.get('small_problem'))}, {tested.sum()} "
              f"tests; default calls given {calls['given']}, mixture {calls['mixture']}; "
              f"two-group LR {mx.lr:.1f}, σ0 {mx.null.sigma0:.2f}, σ1 {mx.sigma1:.2f}, "
              f"needed {mx.needed}")


def nest(dirs) -> None:
    from bench_glmcc90 import nest as nest90

    for rule in ("given", "mixture"):
        print(f"\n### null_fit={rule!r} (the 'now' columns)\n")
        with null_fit(rule):
            nest90(dirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["hidden", "normal", "synthetic", "pickles", "nest"])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=60)
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    if a.mode == "hidden":
        hidden(a.paths)
    elif a.mode == "normal":
        normal(a.reps)
    elif a.mode == "synthetic":
        synthetic(a.seeds)
    elif a.mode == "pickles":
        pickles(a.paths)
    else:
        nest(a.paths)
    print(f"\nwall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s")


if __name__ == "__main__":
    main()
