"""Offline gate statistics for bench_dale_gate.py's saved causal fits (issue 15)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def stats(f) -> dict:
    if "scan_z_contrasts" not in f:
        return None
    z = f["scan_z_contrasts"]                 # (post, pre, k) unscaled causal scan z
    W = f["W"]
    n = W.shape[0]
    tested = f["pair_status"] == 0
    off = ~np.eye(n, dtype=bool) & tested
    z0, z1 = z[..., 0], z[..., 1]
    shift = float(np.median(z0[off]))
    # strongest pairs by the short and middle groups after removing the shift
    zmax = np.max(z - np.median(z[off], axis=0)[None, None, :], axis=-1)
    arg = np.argmax(z - np.median(z[off], axis=0)[None, None, :], axis=-1)
    bw = float(f["bin_width"])
    kern = f["filters"]                       # (post, pre, L) constrained
    peak = (np.argmax(np.abs(kern), axis=-1) + 1) * bw * 1e3
    td = f["true_delay"] * 1e3
    link = (W != 0) & off
    strong = off & (zmax > 4)
    out = {"n": n, "links": int(link.sum()), "shift": shift,
           "med_mid": float(np.median(z1[off])),
           "n_strong": int(strong.sum()),
           "strong_short_share": float(np.mean(arg[strong] == 0)) if strong.any() else np.nan,
           "strong_peak_le2": float(np.mean(peak[strong] <= 2)) if strong.any() else np.nan,
           "strong_peak_le3": float(np.mean(peak[strong] <= 3)) if strong.any() else np.nan,
           "true_delay_le2": float(np.mean(td[link] <= 2.0 + 1e-9)) if link.any() else np.nan,
           "true_delay_med": float(np.nanmedian(td[link])) if link.any() else np.nan,
           "link_peak_le2": float(np.mean(peak[link] <= 2)) if link.any() else np.nan}
    # the same on the strongest decile of pairs (no threshold)
    q = np.quantile(zmax[off], 0.9)
    top = off & (zmax >= q)
    out["top10_short_share"] = float(np.mean(arg[top] == 0))
    out["top10_peak_le2"] = float(np.mean(peak[top] <= 2))
    out["top10_link_frac"] = float(np.mean(link[top]))
    return out


def print_rules(folder: Path) -> None:
    rows = []
    for p in sorted(folder.glob("*.npz")):
        with np.load(p) as f:
            st = stats(f)
        if st is not None:
            rows.append((p.stem, st))
    keys = list(rows[0][1])
    print("| recording | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, s in rows:
        print(f"| {name} | " + " | ".join(
            f"{v:.3g}" if isinstance(v, float) else str(v) for v in s.values()) + " |")


def print_by_delay(folder: Path) -> None:
    """Per saved fit: MCC, AUC, calls of E and I links, recall and AUC by true delay, the
    best MCC of its p-value ranking, and the short / middle group z of E and I links."""
    from bench_calibration import best_mcc
    from sklearn.metrics import roc_auc_score

    bands = [(0.0, 2.01), (2.01, 3.01), (3.01, 30.0)]
    for p in sorted(folder.glob("*.npz")):
        with np.load(p) as f:
            W, adj = f["W"], f["adjacency"]
            n = W.shape[0]
            off = ~np.eye(n, dtype=bool) & (f["pair_status"] == 0)
            link = (W != 0) & off
            td = f["true_delay"] * 1e3
            right = (adj != 0) & (np.sign(adj) == np.sign(W))
            pv = np.where(np.isfinite(f["pvalues"]), f["pvalues"], 1.0)
            s = -np.log10(np.clip(pv, 1e-300, 1.0))
            parts = []
            for lo, hi in bands:
                m = link & (td > lo) & (td <= hi)
                if m.any():
                    ex = (off & ~link) | m
                    parts.append(f"{lo:g}–{hi:.0f} ms: n {m.sum()}, recall "
                                 f"{right[m].mean():.2f}, AUC {roc_auc_score(m[ex], s[ex]):.2f}")
            acausal = str(f["acausal"]) if "acausal" in f else "none"
            print(f"{p.stem} ({acausal}): MCC {float(f['mcc']):.3f}, AUC {float(f['auc']):.3f}, "
                  f"best MCC {best_mcc(link[off], s[off]):.3f}; E called "
                  f"{np.sum((adj > 0) & (W > 0))} / {np.sum(W > 0)}, I called "
                  f"{np.sum((adj < 0) & (W < 0))} / {np.sum(W < 0)}, false "
                  f"{np.sum((adj != 0) & ~link & off)}; " + "; ".join(parts))
            if "mirror_scan_z" in f:
                z = f["mirror_scan_z"]
                k = (z.shape[-1] - 1) // 2
                for name, m in (("non-links", off & ~link), ("E links", link & (W > 0)),
                                ("I links", link & (W < 0))):
                    if m.any():
                        print(f"    {name}: median causal short z {np.median(z[..., 0][m]):+.2f}, "
                              f"causal − mirror short {np.median(z[..., k][m]):+.2f}, "
                              f"middle {np.median(z[..., k + 1][m]):+.2f}")


def _bh_calls(p: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Benjamini–Hochberg at ``q`` over the finite entries of ``p``."""
    v = np.sort(p[np.isfinite(p)])
    ok = v <= q * np.arange(1, v.size + 1) / max(v.size, 1)
    return p <= (v[ok].max() if ok.any() else -1.0)


def mirror_decisions(f, evidence: str, tau: float = 2.0, centre: bool = True) -> dict:
    """A saved mirror fit's default decision (labels as fitted, BH at 0.05) re-made
    offline under a mirror evidence rule (dale_glm's ``_mirror_evidence``): ``"both"``
    (sessions 25–27) or ``"reverse"`` with the reverse-pair threshold ``tau``; the causal
    z centred on its empirical null (``centre``) or divided by its root mean square.
    Reproduces the fitted decision where the fit's own rule is given (checked on every
    session-28 record). Small-problem switches (``check_null``) are not re-made."""
    from scipy.stats import norm
    from sklearn.metrics import matthews_corrcoef, roc_auc_score

    from spikewire.infer.dale_glm import (
        _mirror_excitation_score,
        null_location_scale,
        null_scale,
        scan_test,
    )

    W = f["W"]
    n = W.shape[0]
    off = ~np.eye(n, dtype=bool) & (f["pair_status"] == 0)
    ms, cr, ev = f["mirror_scan_z"], f["mirror_scan_corr"], f["mirror_scan_events"]
    k = (ms.shape[-1] - 1) // 2
    ct = f["cell_type"]
    sign = np.where(ct == "E", 1, np.where(ct == "I", -1, 0))[None, :]
    z_con = ms[..., k] / null_scale(ms[..., k], off)
    zl = f["wald_z_causal"]
    if centre:
        loc, sc = null_location_scale(zl, off)
        zl = (zl - loc) / sc
    else:
        zl = zl / null_scale(zl, off)
    z_causal, _ = scan_test(ms[..., :k], cr[..., :k, :k], ev[..., :k], zl, off,
                            centre=centre)
    z_inh, _ = scan_test(ms[..., k:2 * k], cr[..., k:2 * k, k:2 * k], ev[..., k:2 * k],
                         ms[..., 2 * k] / null_scale(ms[..., 2 * k], off), off)
    p_inh = norm.cdf(np.maximum(z_inh, z_causal))
    p_exc = norm.sf(np.minimum(z_con, z_causal))
    if evidence == "reverse":
        p_exc = np.where(z_causal.T < -tau, p_exc, norm.sf(z_con))
    pv = np.where(sign > 0, p_exc,
                  np.where(sign < 0, p_inh, np.minimum(1.0, 2 * np.minimum(p_exc, p_inh))))
    pv = np.where(off, pv, np.nan)
    calls = _bh_calls(pv) & off
    truth = (W != 0) & off
    score = norm.isf(np.clip(pv[off], 1e-300, 1 - 1e-16))
    # the fit's ranking (session 28): excitation on the combined score
    s_exc = _mirror_excitation_score(z_con, z_causal,
                                     z_causal.T if evidence == "reverse" else
                                     np.full_like(z_causal, np.nan), cr[..., 0, k])
    s_inh = norm.isf(np.clip(p_inh, 1e-300, 1 - 1e-16))
    rank = np.where(sign > 0, s_exc, np.where(sign < 0, s_inh, np.maximum(s_exc, s_inh)))
    return {"calls": int(calls.sum()), "true": int((calls & truth).sum()),
            "false": int((calls & ~truth).sum()),
            "mcc": float(matthews_corrcoef(truth[off], calls[off])),
            "auc": float(roc_auc_score(truth[off], score)),
            "auc_ranking": float(roc_auc_score(truth[off], rank[off]))}


def print_evidence(folder: Path) -> None:
    """Every saved mirror fit in ``folder`` under the evidence rules of session 28."""
    for path in sorted(folder.glob("*.npz")):
        f = np.load(path, allow_pickle=True)
        if str(f["acausal"]) != "mirror":
            continue
        print(f"{path.stem}: fitted MCC {float(f['mcc']):.3f} AUC {float(f['auc']):.3f}, "
              f"{int((f['adjacency'] != 0).sum())} calls / {int((f['W'] != 0).sum())} links")
        rules = [("both", 0.0, False), ("both", 0.0, True)]
        rules += [("reverse", tau, True) for tau in (1.0, 1.645, 2.0, 3.0)]
        rules += [("reverse", 2.0, False)]
        for evidence, tau, centre in rules:
            r = mirror_decisions(f, evidence, tau, centre)
            name = evidence + (f" tau={tau:g}" if evidence == "reverse" else "")
            print(f"    {name:18s} {'centred' if centre else 'scaled ':7s} "
                  f"calls {r['calls']:4d} (true {r['true']}, false {r['false']}) "
                  f"MCC {r['mcc']:.3f} AUC {r['auc']:.3f} (combined ranking "
                  f"{r['auc_ranking']:.3f})")
