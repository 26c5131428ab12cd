"""dale_glm's lag-scan test (``contrast="scan"``) against the summed-filter test, from the
same fits (benchmarks/results/dalescan.md).

The contrast changes only dale_glm's tests, not its fit, labels or weights, so one fit with
``contrast="scan"`` gives both: the scan's p-values as fitted, and the summed-filter
(``"area"``) p-values rebuilt from the fit's unscaled summed-filter z-scores
(``diagnostics["wald_z_unconstrained"]``) with the default central null scale, exactly as
``DaleGLM._place`` builds them (``bench_dale_nullscale.rescaled``, then ``check_null`` as
in a fit). Fits come from ``bench_dale_glm.py --dale '{"contrast": "scan"}' --pickle DIR``
and ``bench_dale_nullscale.py null --dale '{"contrast": "scan"}' --save DIR``.

Modes::

    python benchmarks/bench_dalescan.py nets --save DIR --neurons 100 --seed 3
    python benchmarks/bench_dalescan.py null --save DIR
    python benchmarks/bench_dalescan.py izh --save DIR --family izh_random --neurons 1000
    python benchmarks/bench_dalescan.py variants --save DIR [--neurons 100 --seed 3]
    python benchmarks/bench_dalescan.py variants --save DIR --family izh_random --neurons 1000

``variants`` (fits with ``diagnostics["scan_corr"]``, after 2026-11-30 19:44) compares
how the null scale enters the scan (:data:`VARIANTS`).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
from bench_dale_nullscale import from_z, rescaled, scale_of, tested_z

import spikewire as sw
from spikewire.infer.dale_glm import null_scale, scan_test

#: How the scan's null scale is applied (``variants`` mode): each contrast over its own
#: scale before the maximum (dale_glm's), all contrasts over the summed filter's scale,
#: the maximum's one-test z over its own central scale afterwards, or no scale.
VARIANTS = ("per_contrast", "common", "max", "none")


def area_of(est):
    """The summed-filter test's estimate rebuilt from a scan fit (central null scale)."""
    z, tested = tested_z(est)
    return rescaled(est, scale_of(z, tested, "central"))


def _row(net, est) -> dict:
    s = sw.score(net, est)
    return {k: s.get(k, float("nan")) for k in ("auc", "mcc", "mcc_best", "n_detected",
                                                 "n_true", "ei_accuracy", "ei_labelled",
                                                 "sign_accuracy", "auc_exc", "auc_inh")}


def cmd_nets(save, neurons, seed):
    net = sw.networks.brunel(neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    _table(net, sorted(Path(save).glob("*dale_glm*.pkl")), lambda f: pickle.load(open(f, "rb")))


def cmd_izh(save, family, neurons):
    """``bench_calibration.py networks --save`` pickles (network seed 0)."""
    from bench_calibration import build_network

    net, _ = build_network(family, neurons, 0)
    _table(net, sorted(Path(save).glob(f"{family}_*dale_glm*.pkl")),
           lambda f: pickle.load(open(f, "rb"))["estimate"])


def _table(net, files, load):
    w_true = net.dense_weights()
    # AUC E / I: spikewire.score's auc_exc / auc_inh (true E / I links against
    # non-links, ranked by the signed evidence)
    print("| fit | test | AUC | AUC E | AUC I | MCC | best MCC | calls / true | sign acc. | "
          "E/I acc. (labelled) | labelled | null scale(s) | scan: short / middle / long / "
          "summed (true links) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in files:
        est = load(f)
        d = est.diagnostics
        ti = np.asarray(est.true_index)
        W = w_true[np.ix_(ti, ti)]
        tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
        for test, e in (("area", area_of(est)), ("scan", est)):
            r = _row(net, e)
            aucs = [r["auc_exc"], r["auc_inh"]]
            if test == "scan":
                scales = "/".join(f"{v:.2f}" for v in d["scan_null_scales"])
                which = np.asarray(d["scan_contrast"])[tested & (W != 0)]
                carried = " / ".join(str(int(np.sum(which == g))) for g in (0, 1, 2, -1))
            else:
                z, t = tested_z(est)
                scales, carried = f"{scale_of(z, t, 'central'):.2f}", "–"
            print(f"| {f.stem} | {test} | {r['auc']:.3f} | {aucs[0]:.3f} | {aucs[1]:.3f} | "
                  f"{r['mcc']:.3f} | {r['mcc_best']:.3f} | {int(r['n_detected'])} / "
                  f"{int(r['n_true'])} | {r['sign_accuracy']:.3f} | "
                  f"{r['ei_accuracy']:.3f} | {r['ei_labelled']:.2f} | {scales} | "
                  f"{carried} |", flush=True)


def variant_z(est, how):
    """The scan's one-test z (post × pre) under null-scale variant ``how``."""
    d = est.diagnostics
    z_sum, tested = tested_z(est)
    zk = np.asarray(d["scan_z_contrasts"])
    ev = np.asarray(d["scan_events"])
    corr = np.asarray(d["scan_corr"])
    s_sum = null_scale(z_sum, tested)
    if how == "per_contrast":
        return scan_test(zk, corr, ev, z_sum / s_sum, tested, estimator="central")[0]
    if how == "common":
        return scan_test(zk / s_sum, corr, ev, z_sum / s_sum, tested, estimator=None)[0]
    z1 = scan_test(zk, corr, ev, z_sum, tested, estimator=None)[0]
    if how == "max":
        return z1 / null_scale(z1, tested)
    return z1


def cmd_variants(save, neurons, seed, family=None):
    """Null-scale variants of the scan on scan fits with ``scan_corr`` (nets: Brunel of
    ``bench_dale_glm.py``, or ``family`` of ``bench_calibration.py networks --save``
    (network seed 0); files ``null_*.pkl``: the null families)."""
    files = sorted(Path(save).glob("*.pkl"))
    if family is None:
        net = sw.networks.brunel(neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    else:
        from bench_calibration import build_network

        net, _ = build_network(family, neurons, 0)
    print("| fit | variant | scale(s) | AUC | MCC | best MCC | calls / true | FPR 0.05 | "
          "BH calls |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in files:
        est = pickle.load(open(f, "rb"))
        est = est["estimate"] if isinstance(est, dict) else est
        z_sum, tested = tested_z(est)
        for how in VARIANTS:
            z = variant_z(est, how)
            e = from_z(est, z)
            if how == "per_contrast":     # the fit itself: rebuilt exactly
                np.testing.assert_allclose(e.pvalues[tested], est.pvalues[tested],
                                           rtol=1e-9, atol=1e-300)
            fpr = float(np.mean(e.pvalues[tested] < 0.05))
            calls = int(e.significant().sum())
            if f.stem.startswith("null_"):
                cells = "– | – | – | – "
            else:
                r = _row(net, e)
                cells = (f"{r['auc']:.3f} | {r['mcc']:.3f} | {r['mcc_best']:.3f} | "
                         f"{int(r['n_detected'])} / {int(r['n_true'])} ")
            if how == "per_contrast":
                sc_ = "/".join(f"{v:.2f}" for v in est.diagnostics["scan_null_scales"])
            elif how == "common":
                sc_ = f"{null_scale(z_sum, tested):.2f}"
            elif how == "max":
                z1 = variant_z(est, "none")
                sc_ = f"{null_scale(z1, tested):.2f}"
            else:
                sc_ = "1"
            print(f"| {f.stem} | {how} | {sc_} | {cells}| {fpr:.3f} | {calls} |", flush=True)


def cmd_null(save):
    print("| family | seed | area: scale, FPR 0.05, BH calls | scan: scales, FPR 0.05, "
          "BH calls | scanned pairs |")
    print("|---|---|---|---|---|")
    for f in sorted(Path(save).glob("null_*.pkl")):
        est = pickle.load(open(f, "rb"))
        z, tested = tested_z(est)
        a = area_of(est)
        fa = float(np.mean(a.pvalues[tested] < 0.05))
        fs = float(np.mean(est.pvalues[tested] < 0.05))
        d = est.diagnostics
        scanned = float(np.mean(np.asarray(d["scan_contrast"])[tested] >= 0))
        _, fam, seed = f.stem.split("_")
        print(f"| {fam} | {seed[1:]} | {scale_of(z, tested, 'central'):.3f}, {fa:.3f}, "
              f"{int(a.significant().sum())} | "
              f"{'/'.join(f'{v:.2f}' for v in d['scan_null_scales'])}, {fs:.3f}, "
              f"{int(est.significant().sum())} | {scanned:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["nets", "null", "izh", "variants"])
    ap.add_argument("--family", default=None,
                    help="izh mode (default izh_random) and variants of a "
                         "bench_calibration network: the family")
    ap.add_argument("--save", required=True)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    a.family_given = a.family is not None
    a.family = a.family or "izh_random"
    if a.mode == "nets":
        cmd_nets(a.save, a.neurons, a.seed)
    elif a.mode == "izh":
        cmd_izh(a.save, a.family, a.neurons)
    elif a.mode == "variants":
        cmd_variants(a.save, a.neurons, a.seed,
                     a.family if a.family_given else None)
    else:
        cmd_null(a.save)


if __name__ == "__main__":
    main()
