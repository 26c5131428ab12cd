"""dale_glm's empirical-null scale: rescore saved fits under other scale estimators.

``dale_glm`` divides its tested Wald z-scores by one global scale before its p-values
(``null_scale=True``: ``max(1, median|z| / Φ⁻¹(0.75))``). Where many tested pairs carry
real links, or share hidden input, ``median|z|`` grows with the signal, not with the null's
spread, and the scale removes true detections. This script takes pickled ``dale_glm``
estimates (from ``bench_dale_glm.py --pickle DIR`` or from this script's ``null`` mode),
rebuilds each pair's p-value from the unscaled z-scores (``diagnostics
["wald_z_unconstrained"]``) exactly as ``DaleGLM._place`` does (one-sided in the
direction of the unit's label, two-sided for unlabelled units), and scores it under
several scale estimators without refitting (and then, as every fit does, through
``check_null``, which may switch the default decision to the empirical-null lfdr):

- ``none``: 1 (``null_scale=False``);
- ``median``: ``max(1, median|z| / Φ⁻¹(0.75))`` (today's default);
- ``central``: ``max(1, √(δ0² + σ0²))``, the root mean square about 0 of Efron's
  maximum-likelihood central null ``N(δ0, σ0²)`` (a normal truncated to
  ``median ± 1.5 σ_IQR`` of the signed z-scores; ``spikewire.infer.fdr``), location kept
  at 0 (``null_scale(..., estimator="central")``);
- ``central_width``: ``max(1, σ0)`` alone, location 0 (a shifted bulk is not absorbed);
- ``efron``: Efron's full empirical null, ``(z − δ0) / max(1, σ0)``;
- ``lower`` (``scale_of`` only): ``max(1, q25(|z|) / Φ⁻¹(0.625))``, the median of the
  lower half of ``|z|``.

Modes::

    python benchmarks/bench_dale_nullscale.py null --families poisson,... --seed-list 0,1 \
        --units 40 --duration 300 --save DIR      # fit dale_glm on the null families
    python benchmarks/bench_dale_nullscale.py null ... --dale '{"contrast": "scan"}'
    python benchmarks/bench_dale_nullscale.py rescore-null --save DIR
    python benchmarks/bench_dale_nullscale.py rescore --save DIR --neurons 100 --seed 3

``rescore`` rebuilds the Brunel network of ``bench_dale_glm.py`` (``--neurons``,
``--seed``) for the truth and scores every ``*dale_glm*.pkl`` in DIR.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import norm

import spikewire as sw
from spikewire.infer._null_families import FAMILIES, null_family
from spikewire.infer.base import check_null
from spikewire.infer.dale_glm import MIN_NULL_SCALE_PAIRS, null_scale
from spikewire.infer.fdr import _ml_central_null

ESTIMATORS = ("none", "median", "central", "central_width", "efron")


def tested_z(est) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled (post × pre) z-scores of the fit and the mask of its tested pairs."""
    z = np.asarray(est.diagnostics["wald_z_unconstrained"], dtype=float)
    if z.shape != est.weights.shape:
        raise ValueError(f"z {z.shape} vs weights {est.weights.shape}: a stitched or "
                         "screened fit; this script rescores single-session fits only")
    return z, (est.pair_status == 0) & np.isfinite(z)


def central_fit(z: np.ndarray, tested: np.ndarray) -> tuple[float, float]:
    """``(δ0, σ0)`` of Efron's central null of the tested z-scores."""
    v = z[tested]
    q25, q75 = np.quantile(v, [0.25, 0.75])
    d0, s0, ok, _ = _ml_central_null(v, q25, q75)
    return (float(d0), float(s0)) if ok else (0.0, 1.0)


def null_of(z: np.ndarray, tested: np.ndarray, how: str) -> tuple[float, float]:
    """``(location, scale)`` of estimator ``how``: the tests use ``(z − location) / scale``."""
    if how == "efron" and tested.sum() >= MIN_NULL_SCALE_PAIRS:
        d0, s0 = central_fit(z, tested)
        return d0, max(1.0, s0)
    return 0.0, scale_of(z, tested, "none" if how == "efron" else how)


def scale_of(z: np.ndarray, tested: np.ndarray, how: str) -> float:
    """The empirical-null scale ``how`` of the tested z-scores (≥ 1)."""
    v = z[tested]
    if how in ("none", "efron") or v.size < MIN_NULL_SCALE_PAIRS:
        return 1.0
    if how in ("median", "central"):
        return null_scale(z, tested, estimator=how)       # dale_glm's own estimator
    if how == "lower":
        return max(1.0, float(np.quantile(np.abs(v), 0.25)) / float(norm.ppf(0.625)))
    if how == "central_width":
        q25, q75 = np.quantile(v, [0.25, 0.75])
        _, sigma0, ok, _ = _ml_central_null(v, q25, q75)
        return max(1.0, float(sigma0)) if ok else 1.0
    raise ValueError(f"unknown scale estimator {how!r}; one of {ESTIMATORS}")


def rescaled(est, s: float, loc: float = 0.0):
    """The estimate with p-values and scores rebuilt from ``(z − loc) / s`` (as
    ``_place``)."""
    return from_z(est, (tested_z(est)[0] - loc) / s)


def from_z(est, zs):
    """The estimate with p-values and scores rebuilt from the (post × pre) one-test z
    ``zs`` as ``DaleGLM._place`` builds them, then ``check_null`` as in a fit."""
    _, tested = tested_z(est)
    ct = np.asarray(est.cell_type)
    signs = np.where(ct == "E", 1.0, np.where(ct == "I", -1.0, 0.0))
    lab = signs != 0
    p1 = norm.sf(signs[None, :] * zs)
    p2 = np.minimum(2.0 * norm.sf(np.abs(zs)), 1.0)
    pv = np.where(lab[None, :], p1, p2)
    sc = np.where(lab[None, :], signs[None, :] * zs,
                  norm.isf(np.clip(p2, 1e-300, 1 - 1e-12)))
    # as the fit itself ends: the default decision after check_null, judged afresh on
    # the new p-values (from the correction and α the fit had before any switch)
    nc = est.diagnostics.get("null_check", {})
    diag = {k: v for k, v in est.diagnostics.items() if k != "null_check"}
    out = replace(est, pvalues=np.where(tested, pv, est.pvalues),
                  scores=np.where(tested, sc, est.scores), diagnostics=diag,
                  correction=nc.get("switched_from", est.correction),
                  alpha=nc.get("alpha_from", est.alpha))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_null(out)


def cmd_null(families, seeds, n_units, duration, save, settings=None):
    out = Path(save)
    out.mkdir(parents=True, exist_ok=True)
    for fam in families:
        for seed in seeds:
            st = null_family(fam, n_units=n_units, duration=duration, seed=seed)
            t0 = time.perf_counter()
            est = sw.infer(st, "dale_glm", **(settings or {}))
            el = time.perf_counter() - t0
            with open(out / f"null_{fam}_s{seed}.pkl", "wb") as fh:
                pickle.dump(est, fh)
            print(f"{fam} seed {seed}: {el:.0f} s, scale "
                  f"{est.diagnostics['null_scale']:.3f}", flush=True)


def cmd_rescore_null(save):
    print("| family | seed | " + " | ".join(f"{h}: scale, FPR 0.05, BH calls"
                                             for h in ESTIMATORS) + " |")
    print("|---|---|" + "---|" * len(ESTIMATORS))
    for f in sorted(Path(save).glob("null_*.pkl")):
        est = pickle.load(open(f, "rb"))
        z, tested = tested_z(est)
        cells = []
        for how in ESTIMATORS:
            loc, s = null_of(z, tested, how)
            e2 = rescaled(est, s, loc)
            p = e2.pvalues[tested]
            fpr = float(np.mean(p < 0.05))
            calls = int(e2.significant().sum())
            cells.append(f"{s:.3f}, {fpr:.3f}, {calls}" if loc == 0 else
                         f"{loc:+.2f}/{s:.3f}, {fpr:.3f}, {calls}")
        _, fam, seed = f.stem.split("_")
        print(f"| {fam} | {seed[1:]} | " + " | ".join(cells) + " |")


def cmd_rescore(save, neurons, seed):
    net = sw.networks.brunel(neurons, epsilon=0.2, g=5.0, eta=0.6, J=2.0, seed=seed)
    print("| fit | estimator | scale | AUC | MCC | best MCC | calls / true | E/I acc. "
          "(labelled) | labelled | median z | central δ0, σ0 | unlinked pairs: median z, "
          "1.4826·MAD, sd |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in sorted(Path(save).glob("*dale_glm*.pkl")):
        est = pickle.load(open(f, "rb"))
        z, tested = tested_z(est)
        v = z[tested]
        q25, q75 = np.quantile(v, [0.25, 0.75])
        d0, s0, _, _ = _ml_central_null(v, q25, q75)
        # the true null: z-scores of the tested pairs with no synapse either way round
        w_true = np.asarray(net.weights.todense() if hasattr(net.weights, "todense")
                            else net.weights)
        ti = np.asarray(est.true_index)
        linked = w_true[np.ix_(ti, ti)] != 0
        u = z[tested & ~linked & ~linked.T]
        mu = float(np.median(u))
        null_txt = (f"{mu:+.2f}, {1.4826 * np.median(np.abs(u - mu)):.2f}, "
                    f"{np.std(u):.2f}")
        for how in ESTIMATORS:
            loc, s = null_of(z, tested, how)
            sc = sw.score(net, rescaled(est, s, loc))
            lt = f"{s:.3f}" if loc == 0 else f"{loc:+.2f} / {s:.3f}"
            print(f"| {f.stem} | {how} | {lt} | {sc['auc']:.3f} | {sc['mcc']:.3f} | "
                  f"{sc['mcc_best']:.3f} | {sc['n_detected']} / {sc['n_true']} | "
                  f"{sc['ei_accuracy']:.3f} | {sc['ei_labelled']:.2f} | "
                  f"{np.median(v):+.2f} | {d0:+.2f}, {s0:.2f} | {null_txt} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["null", "rescore-null", "rescore"])
    ap.add_argument("--save", required=True)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--seed-list", default="0,1")
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--dale", default="{}",
                    help="null mode: JSON settings of the dale_glm fits, e.g. "
                         "'{\"contrast\": \"scan\"}' (dalescan.md)")
    a = ap.parse_args()
    if a.mode == "null":
        cmd_null(a.families.split(","), [int(s) for s in a.seed_list.split(",")],
                 a.units, a.duration, a.save, json.loads(a.dale))
    elif a.mode == "rescore-null":
        cmd_rescore_null(a.save)
    else:
        cmd_rescore(a.save, a.neurons, a.seed)


if __name__ == "__main__":
    main()
