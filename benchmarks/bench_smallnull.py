"""The null check's small-problem rule (session 20, issues 12 and 15; results/smallnull.md).

``check_null`` judges estimates from 45 distinct tests on (a symmetric estimate's
unordered pairs once): where more than 0.3 of them are at p < 0.05 and Efron's central
maximum-likelihood null departs from N(0, 1) beyond 3 × 1.6 / sqrt(m), the p-values are
re-referred to that null (never lowered) and decided with Benjamini–Hochberg.

Modes::

    python benchmarks/bench_smallnull.py synthetic [--seeds 1000]
        normal mixtures, m = 45 (10 units, symmetric), 56 (8 units), 90 (10 units),
        190 (20 units, symmetric) tests: (a) the sampling sd of the central fit's δ0 and
        σ0 on a pure N(0, 1) null (× sqrt(m)); (b) a calibrated estimate (N(0, 1) null,
        10 % links at z ~ N(4, 1), one-sided p): how often it is switched, and the true /
        false calls of BH with and without a (forced) re-referral — does switching cost
        power?; (c) a broken null N(0.5, 1.8²) with the same links: how often it is
        switched and the calls before / after.
    python benchmarks/bench_smallnull.py nest DIR
        ``partial_corr:shared_null='off'`` fits saved by ``bench_external20.py --save DIR``
        (20 units of NEST network 3, results/indirect.md): the default decision now (the
        fit's p-values through ``check_null``) against session 18's (Bonferroni) — links
        called / true, ordered as the scorer counts them and unordered.
    python benchmarks/bench_smallnull.py hidden DIR [DIR ...]
        the estimates ``bench_dale_glm.py --pickle DIR`` saved (90 % hidden): per method
        the calls before the rule (the method's own p-values, kept in
        ``diagnostics["null_check"]["pvalues_before"]``, at the correction it had) and
        after (the default), against the true links.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from spikewire.infer.base import check_null
from spikewire.infer.estimate import Estimate, adjust_pvalues
from spikewire.infer.fdr import (
    SMALL_SIGMA0_RANGE,
    central_null,
    departs_from_theory,
    rereferred_pvalues,
)

CASES = {45: (10, True), 56: (8, False), 90: (10, False), 190: (20, True)}



def _judged(est):
    """The default decision before and after ``check_null`` (its warning silenced):
    ``(before, judged estimate, after)``."""
    before = est.significant()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = check_null(est)
        return before, out, out.significant()

def _toy(rng, n, symmetric, mu, sd, link_share=0.1, link_mu=4.0):
    """An estimate with unconnected pairs' z ~ N(mu, sd²) and ``link_share`` links at
    z ~ N(link_mu, 1), one-sided p; symmetric: one draw per unordered pair."""
    off = ~np.eye(n, dtype=bool)
    if symmetric:
        iu = np.triu_indices(n, 1)
        zu = rng.normal(mu, sd, iu[0].size)
        lu = rng.random(iu[0].size) < link_share
        zu[lu] = rng.normal(link_mu, 1.0, lu.sum())
        z = np.zeros((n, n))
        link = np.zeros((n, n), bool)
        z[iu], link[iu] = zu, lu
        z, link = z + z.T, link | link.T
        diag = {"symmetric": True}
    else:
        z = rng.normal(mu, sd, (n, n))
        link = off & (rng.random((n, n)) < link_share)
        z[link] = rng.normal(link_mu, 1.0, link.sum())
        diag = {}
    p = stats.norm.sf(z)
    np.fill_diagonal(p, np.nan)
    est = Estimate(weights=np.where(off, z, 0.0), method="toy", settings={},
                   units=np.arange(n), pvalues=p, correction="bh", diagnostics=diag)
    return est, link


def _counts(called, link, symmetric):
    n = link.shape[0]
    mask = np.triu(~np.eye(n, dtype=bool), 1) if symmetric else ~np.eye(n, dtype=bool)
    return int((called & link)[mask].sum()), int((called & ~link)[mask].sum())


def synthetic(seeds: int) -> None:
    print("## (a) sampling sd of Efron's central ML null on a pure N(0, 1) null")
    print("| m | sd δ0 · sqrt(m) | sd σ0 · sqrt(m) | mean σ0 | fits refused |")
    print("|---|---|---|---|---|")
    for m in CASES:
        d, s, bad = [], [], 0
        for seed in range(seeds):
            p = stats.norm.sf(np.random.default_rng(10_000 + seed).standard_normal(m))
            try:
                null = central_null(p, min_tests=45, sigma0_range=SMALL_SIGMA0_RANGE)
            except ValueError:
                bad += 1
                continue
            d.append(null.delta0)
            s.append(null.sigma0)
        print(f"| {m} | {np.std(d) * np.sqrt(m):.2f} | {np.std(s) * np.sqrt(m):.2f} | "
              f"{np.mean(s):.3f} | {bad} |")
    print()
    print("## (b, c) calibrated N(0, 1) and broken N(0.5, 1.8²) nulls, 10 % links N(4, 1) "
          "(or N(7, 1): 3.6 sd above the broken null's centre, as 4 is above N(0, 1)'s)")
    print("Per estimate, means over seeds; BH at 0.05. 'forced': BH after re-referral to "
          "the fitted central null whether or not the rule fires (the cost of switching "
          "a calibrated estimate). Distinct tests counted (symmetric: unordered pairs).")
    print()
    print("| null | m | switched | share > 0.3 | departs | links | true calls before / "
          "after / forced | false calls before / after / forced |")
    print("|---|---|---|---|---|---|---|---|")
    kinds = {"calibrated": (0.0, 1.0, 4.0), "broken": (0.5, 1.8, 4.0),
             "broken, links N(7, 1)": (0.5, 1.8, 7.0)}
    for kind, (mu, sd, link_mu) in kinds.items():
        for m, (n, sym) in CASES.items():
            sw_, sh, dep, links = 0, 0, 0, 0
            tb, ta, tf, fb, fa, ff = (0,) * 6
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                est, link = _toy(rng, n, sym, mu, sd, link_mu=link_mu)
                links += _counts(link, link, sym)[0]
                before, out, after = _judged(est)
                nc = out.diagnostics["null_check"]
                switched = bool(nc.get("small_problem"))
                sw_ += switched
                sh += nc["share_p_below_0.05"] > 0.3
                p = out.pvalues
                mask = np.triu(~np.eye(n, dtype=bool), 1) if sym else ~np.eye(n, dtype=bool)
                try:
                    null = central_null(p[mask], min_tests=45, sigma0_range=SMALL_SIGMA0_RANGE)
                    dep += departs_from_theory(null)
                    pf = rereferred_pvalues(p, null)
                except ValueError:
                    pf = p
                forced = np.nan_to_num(adjust_pvalues(pf, "bh"), nan=1.0) < 0.05
                t, f = _counts(before, link, sym)
                tb, fb = tb + t, fb + f
                t, f = _counts(after, link, sym)
                ta, fa = ta + t, fa + f
                t, f = _counts(forced, link, sym)
                tf, ff = tf + t, ff + f
            k = float(seeds)
            print(f"| {kind} | {m} | {sw_ / k:.3f} | {sh / k:.3f} | {dep / k:.3f} | "
                  f"{links / k:.1f} | {tb / k:.2f} / {ta / k:.2f} / {tf / k:.2f} | "
                  f"{fb / k:.2f} / {fa / k:.2f} / {ff / k:.2f} |")


def _calls(adj, W, symmetric=True):
    n = W.shape[0]
    off = ~np.eye(n, dtype=bool)
    iu = np.triu_indices(n, 1)
    link_u = ((W != 0) | (W.T != 0))[iu]
    called_u = (adj | adj.T)[iu] if symmetric else (adj | adj.T)[iu]
    return (int(adj[off].sum()), int((adj & (W != 0))[off].sum()), int(called_u.sum()),
            int((called_u & link_u).sum()))


def nest(dirs) -> None:
    files = sorted(f for d in dirs for f in Path(d).glob("*shared_null='off'*.npz"))
    print("| fit | distinct tests | share p<0.05 | switched | null δ0, σ0 | true ordered / "
          "unordered | Bonferroni (session 18): ordered (true) / unordered (true) | "
          "default now: ordered (true) / unordered (true) |")
    print("|---|---|---|---|---|---|---|---|")
    tot, mccs = {}, {}
    for f in files:
        d = np.load(f, allow_pickle=True)
        p, W, w = d["pvalues"], d["W"], d["weights"]
        n = W.shape[0]
        est = Estimate(weights=w, method="partial_corr", settings={}, units=np.arange(n),
                       pvalues=p, pair_status=d["pair_status"], correction="bonferroni",
                       diagnostics={"symmetric": True})
        before, out, after = _judged(est)
        nc = out.diagnostics["null_check"]
        b, a = _calls(before, W), _calls(after, W)
        T = f.stem.split("_T")[1].split("_")[0]
        off = ~np.eye(n, dtype=bool)
        iu = np.triu_indices(n, 1)
        true_o, true_u = int((W != 0)[off].sum()), int(((W != 0) | (W.T != 0))[iu].sum())
        t = tot.setdefault(T, np.zeros(6, int))
        t += [b[0], b[1], a[0], a[1], true_o, int(a[0] > 2 * true_o)]
        from spikewire.score.metrics import _mcc

        mccs.setdefault(T, []).append((_mcc((W != 0)[off], before[off]),
                                       _mcc((W != 0)[off], after[off])))
        en = nc.get("empirical_null", {})
        null = f"{en['delta0']:.2f}, {en['sigma0']:.2f}" if en else "—"
        print(f"| {f.stem.split('_epsp1_')[1].split('_partial')[0]} | {nc['n_tests']} | "
              f"{nc['share_p_below_0.05']:.2f} | {bool(nc.get('small_problem'))} | {null} | "
              f"{true_o} / {true_u} | {b[0]} ({b[1]}) / {b[2]} ({b[3]}) | "
              f"{a[0]} ({a[1]}) / {a[2]} ({a[3]}) |")
    print()
    for T, t in tot.items():
        print(f"{float(T) / 60:g} min: Bonferroni {t[0]} ({t[1]} true), default now {t[2]} "
              f"({t[3]} true) of {t[4]} links; subsets above 2x: {t[5]}; directed MCC "
              f"median Bonferroni {np.median([x[0] for x in mccs[T]]):.3f}, now "
              f"{np.median([x[1] for x in mccs[T]]):.3f} [{min(x[1] for x in mccs[T]):.3f}–"
              f"{max(x[1] for x in mccs[T]):.3f}]")


def _brunel_truth(seed: int, neurons: int = 100) -> np.ndarray:
    """The true post × pre weights of ``bench_dale_glm.py``'s network (rebuilt, not
    simulated)."""
    import spikewire as sw

    net = sw.networks.brunel(neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    return np.asarray(net.dense_weights())


def hidden(dirs) -> None:
    """``dirs`` named ``.../s{seed}`` (the network seed of ``bench_dale_glm.py``)."""
    import pickle

    print("| run | method | tests | share p<0.05 | switched | null δ0, σ0 | links | "
          "calls before (true) | calls now (true) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in dirs:
        W_all = _brunel_truth(int(Path(d).name.lstrip("s")))
        for f in sorted(Path(d).glob("*.pkl")):
            with open(f, "rb") as fh:
                est = pickle.load(fh)
            ti = np.asarray(est.true_index)
            _hidden_row(Path(d).name, f.stem, est, W_all[np.ix_(ti, ti)])


def _hidden_row(run, key, est, W):
    n = est.n_units
    off = ~np.eye(n, dtype=bool)
    nc = est.diagnostics.get("null_check", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        now = est.significant()
    if "switched_from" in nc:
        before = est.significant(nc["alpha_from"], nc["switched_from"])
    else:
        before = now
    link = (W != 0) if W is not None else np.zeros((n, n), bool)
    en = nc.get("empirical_null", {})
    null = f"{en['delta0']:.2f}, {en['sigma0']:.2f}" if en else "—"
    print(f"| {run} | {key} | {nc.get('n_tests', '—')} | "
          f"{nc.get('share_p_below_0.05', float('nan')):.2f} | "
          f"{bool(nc.get('small_problem'))} | {null} | {int(link[off].sum())} | "
          f"{int(before[off].sum())} ({int((before & link)[off].sum())}) | "
          f"{int(now[off].sum())} ({int((now & link)[off].sum())}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["synthetic", "nest", "hidden"])
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--seeds", type=int, default=1000)
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    if a.mode == "synthetic":
        synthetic(a.seeds)
    elif a.mode == "nest":
        nest(a.dirs)
    else:
        hidden(a.dirs)
    print(f"\nwall {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s")


if __name__ == "__main__":
    main()
