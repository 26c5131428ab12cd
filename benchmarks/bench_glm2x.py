"""Why glm over-calls on the calibration study's scale-free LIF network (issue 12, T3).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_glm2x.py diagnose \
        --pkl /tmp/glm2x/study/study_scale_free_lif_T600_glm.pkl [--family scale_free_lif]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_glm2x.py rescore --pkl PKL [PKL ...]
    PYTHONPATH=src .venv/bin/python benchmarks/bench_glm2x.py null \
        [--seed-list 0,1,2 --units 40 --duration 300] [--jsonl OUT.jsonl]

``rescore``: each saved glm estimate at its decision and with glm's presynaptic centring
applied as the fit applies it (after ``check_null``). ``null``: glm at its defaults on
the null families, the FPR at α = 0.05 of the centred and of the uncentred p-values.

Loads an estimate pickled by ``bench_calibration.py study --save`` (no refit), rebuilds
the study's network (no simulation) and sorts every tested ordered pair (post i, pre j of
the recorded units) by its relation in the *whole* 1,000-neuron circuit:

- ``link``: j → i exists;
- ``reverse``: i → j exists, j → i does not;
- ``chain``: j → k → i through some neuron k (recorded or not), no direct link;
- ``common``: some k projects to both (shared input), none of the above;
- ``other``: none of these.

Printed: the empirical null the null check fitted, the calls per class at the default
decision (and at a few lfdr levels), the z-values (``Φ⁻¹(1 − p)``) of each class, and the
number of shared excitatory inputs of false calls against uncalled null pairs.
Results: benchmarks/results/glm2x.md.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import warnings

import numpy as np
from scipy import special


def rebuild_network(family: str, duration: float = 600.0):
    """The calibration study's network of ``family`` (seeded as the study does)."""
    from spikewire.experiments import load_spec
    from spikewire.experiments.grid import build_network, expand
    from spikewire.experiments.runner import with_overrides

    spec = with_overrides(load_spec("calibration"), duration=duration)
    for job in expand(spec, check=False):
        if job.network["name"] == family:
            return build_network(job.network, job.seed, allow_code=True)
    raise ValueError(f"no family {family!r} in the calibration study")


def pair_classes(net, idx):
    """Class label per ordered recorded pair (post × pre) and the shared-input count."""
    A = (net.weights != 0).astype(np.int64).tocsr()  # post × pre
    W = net.weights.tocsr()
    exc = np.asarray(W.sum(axis=0)).ravel() > 0  # presynaptic sign by column
    a = A[idx]                      # rows: recorded posts, all pres
    direct = a[:, idx].toarray() > 0
    reverse = direct.T & ~direct
    chain = (a @ A[:, idx]).toarray() > 0      # j → k → i
    common_all = (a @ a.T).toarray()           # shared presynaptic neurons (any sign)
    ae = a[:, np.flatnonzero(exc)]
    common_exc = (ae @ ae.T).toarray()
    chain_n = (a @ A[:, idx]).toarray()
    cls = np.full(direct.shape, "other", dtype=object)
    cls[common_all > 0] = "common"
    cls[chain & ~direct] = "chain"
    cls[reverse] = "reverse"
    cls[direct] = "link"
    return cls, common_exc, common_all, exc[idx], chain_n


def z_of(p):
    return -special.ndtri(np.clip(p, 1e-300, 1 - 1e-16))


def diagnose(pkl: str, family: str):
    from spikewire.infer.base import check_null
    from spikewire.infer.fdr import local_fdr

    with open(pkl, "rb") as fh:
        d = pickle.load(fh)
    est = d["estimate"]
    idx = np.asarray(est.true_index)
    net = rebuild_network(family)
    cls, cexc, call, pre_exc, chain_n = pair_classes(net, idx)
    n = idx.size
    off = ~np.eye(n, dtype=bool)
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues) & off
    nc = est.diagnostics.get("null_check", {})
    print("null_check:", {k: v for k, v in nc.items()})
    called = est.adjacency() != 0
    print(f"correction {est.correction}, alpha {est.alpha}, called {int(called[off].sum())}, "
          f"true {int((cls == 'link')[off].sum())}")
    p = est.pvalues
    z = z_of(p)
    lf, null = local_fdr(np.where(tested, p, np.nan), return_null=True)
    print("refitted null:", null.as_dict())
    print("\nclass | pairs | called (default) | z median | z q90 | z q99")
    for c in ("link", "reverse", "chain", "common", "other"):
        sel = tested & (cls == c)
        zz = z[sel]
        print(f"{c} | {int(sel.sum())} | {int((called & sel).sum())} | "
              f"{np.median(zz):.2f} | {np.quantile(zz, 0.9):.2f} | {np.quantile(zz, 0.99):.2f}")
    print("\nlfdr level | calls | true | false (reverse / chain / common / other)")
    for lev in (0.05, 0.1, 0.2, 0.5):
        c_ = tested & (lf < lev)
        fl = [int((c_ & (cls == k)).sum()) for k in ("reverse", "chain", "common", "other")]
        print(f"{lev} | {int(c_.sum())} | {int((c_ & (cls == 'link')).sum())} | {fl}")
    fals = tested & called & (cls != "link")
    null_unc = tested & ~called & (cls != "link")
    for name, arr in (("shared E inputs", cexc), ("shared inputs", call),
                      ("2-hop paths j→k→i", chain_n)):
        q = [np.quantile(arr[s], [0.25, 0.5, 0.75]).round(1).tolist()
             for s in (fals, null_unc)]
        print(f"{name}: false calls quartiles {q[0]}, uncalled null pairs {q[1]}")
    # false calls per target / per presynaptic unit: hub concentration
    fp_post = (fals.sum(axis=1))
    fp_pre = (fals.sum(axis=0))
    print("false calls per post (top 10):", np.sort(fp_post)[::-1][:10].tolist())
    print("false calls per pre (top 10):", np.sort(fp_pre)[::-1][:10].tolist())
    outdeg = np.asarray((net.weights != 0).sum(axis=0)).ravel()[idx]
    indeg = np.asarray((net.weights != 0).sum(axis=1)).ravel()[idx]
    print("out-degree of pres of false calls (median):",
          float(np.median(np.broadcast_to(outdeg[None, :], fals.shape)[fals])),
          "all recorded:", float(np.median(outdeg)))
    print("in-degree of posts of false calls (median):",
          float(np.median(np.broadcast_to(indeg[:, None], fals.shape)[fals])),
          "all recorded:", float(np.median(indeg)))
    print("pre excitatory share: false calls",
          float(np.mean(np.broadcast_to(pre_exc[None, :], fals.shape)[fals])))
    # z histogram of null pairs vs the fitted null
    zn = z[tested & (cls != "link")]
    print("\nnull-pair z vs fitted null: bin | count | expected π0·m0-share")
    m = int(tested.sum())
    edges = np.arange(-3, 8.5, 0.5)
    h, _ = np.histogram(zn, edges)
    ht, _ = np.histogram(z[tested & (cls == "link")], edges)
    ex = null.pi0 * m * np.diff(special.ndtr((edges - null.delta0) / null.sigma0))
    for k in range(edges.size - 1):
        print(f"[{edges[k]:.1f}, {edges[k+1]:.1f}) | null {h[k]} | link {ht[k]} | "
              f"f0 {ex[k]:.1f}")
    # the decision again, through today's check_null (for a changed fdr.py/base.py)
    e2 = copy.deepcopy(est)
    e2.correction = nc.get("switched_from", e2.correction)
    e2.alpha = nc.get("alpha_from", e2.alpha)
    e2.diagnostics.pop("null_check", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e2 = check_null(e2)
    c2 = (e2.adjacency() != 0) & off
    print(f"\nre-decided by today's check_null: {int(c2.sum())} calls, "
          f"{int((c2 & (cls == 'link')).sum())} true")
    return est, cls, cexc, z, lf, tested


def null_families(families, seeds, n_units, duration, jsonl):
    """glm with ``presynaptic_centre=True`` on the null families: one fit gives both the
    centred p-values and the Wald p-values before centring (its diagnostics), so the
    per-pair FPR at α = 0.05 and the default decision are printed for both."""
    import json
    import time

    import spikewire as sw
    from spikewire.infer._null_families import null_family
    from spikewire.infer.estimate import adjust_pvalues

    for fam in families:
        for seed in seeds:
            st = null_family(fam, n_units=n_units, duration=duration, seed=seed)
            t0 = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = sw.infer(st, "glm", presynaptic_centre=True)
                adj = est.adjacency()
            cpu = time.process_time() - t0
            off = ~np.eye(est.n_units, dtype=bool)
            tested = (est.pair_status == 0) & off & np.isfinite(est.pvalues)
            raw = est.diagnostics["pvalues_uncentred"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw_calls = int((adjust_pvalues(np.where(tested, raw, np.nan), "bh")
                                 < 0.05).sum())
            rec = {"family": fam, "seed": int(seed), "tested": int(tested.sum()),
                   "fpr05_raw": float(np.mean(raw[tested] < 0.05)),
                   "fpr05_centred": float(np.mean(est.pvalues[tested] < 0.05)),
                   "calls_raw_bh": raw_calls,
                   "calls_centred_default": int((adj[off] != 0).sum()),
                   "correction": est.correction,
                   "shift_max": float(est.diagnostics["presynaptic_shift"].max()),
                   "shift_mean": float(est.diagnostics["presynaptic_shift"].mean()),
                   "cpu_s": cpu}
            print(json.dumps(rec), flush=True)
            if jsonl:
                with open(jsonl, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")


def rescore(pkls):
    """Each saved glm study estimate at its default decision and with
    ``presynaptic_centre=True`` applied exactly as the fit applies it (after
    ``check_null``, no refit): calls / true, MCC, the best MCC of the ranking."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_calibration import best_mcc

    from spikewire.infer.glm import centre_presynaptic

    print("| estimate | correction | calls / true | MCC | best MCC | centred: calls / true | "
          "MCC | best MCC | shifted units |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in pkls:
        with open(path, "rb") as fh:
            d = pickle.load(fh)
        est, W = d["estimate"], d["weights"]
        off = ~np.eye(W.shape[0], dtype=bool)
        truth = (W != 0)[off]

        def row(e, off=off, truth=truth):
            c = (e.adjacency() != 0)[off]
            tp, fp = int(np.sum(c & truth)), int(np.sum(c & ~truth))
            fn, tn = int(np.sum(~c & truth)), int(np.sum(~c & ~truth))
            den = np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
            ev = np.where(e.pair_status == 0, np.nan_to_num(e.scores), -np.inf)[off]
            return (f"{c.sum()} / {truth.sum()} ({c.sum() / truth.sum():.2f}×)",
                    f"{(tp * tn - fp * fn) / den if den else 0:.3f}",
                    f"{best_mcc(truth, ev):.3f}")

        e2 = copy.deepcopy(est)
        e2.pvalues, e2.scores, shift = centre_presynaptic(est.pvalues, est.pair_status == 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, b = row(est), row(e2)
        print(f"| {Path(path).stem} | {est.correction} {est.alpha:g} | " + " | ".join(a)
              + " | " + " | ".join(b) + f" | {int(np.sum(shift > 0))} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["diagnose", "null", "rescore"])
    ap.add_argument("--pkl", default="", nargs="*")
    ap.add_argument("--family", default="scale_free_lif")
    ap.add_argument("--families", default="poisson,heterogeneous,comodulated,updown,bursting")
    ap.add_argument("--seed-list", default="0")
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--jsonl", default="")
    a = ap.parse_args()
    if a.cmd == "diagnose":
        diagnose(a.pkl[0], a.family)
    elif a.cmd == "rescore":
        rescore(a.pkl)
    else:
        null_families(a.families.split(","), [int(s) for s in a.seed_list.split(",")],
                      a.units, a.duration, a.jsonl)


if __name__ == "__main__":
    main()
