"""Which step of the targets of n shrinks the ring (helper lrring20, issue 14).

On a cached front-end fit of ``bench_lowrank_spikes.py`` (``--fit-cache``), step 3's
targets of n with ``targets_from="units"`` (ridge 1) and variants of their smoothing, each
put into the fitted units' own network (their fitted m, d and the targets as n), with
MSE(targets, E_true[n|m]), the field's error ‖y − Φ t/N‖² on the latent updates, and
(ring) the median end-state radius / (quadstable, bistable) the stable fixed points' radii
of that network. No flow is trained: what the flows add is in the bench's runs. Variants:
own (the plain fit's n), ridge, ridge + gain (:func:`refit_gain`), nw (the kernel smoother
of ``smooth=True``), nw + gain (``smooth=True, smooth_gain=True``), nw + variance rescale
(the smoothed deviations rescaled to the raw targets' variance per column), local-linear
smoothing (leave-one-out bandwidth), local-linear + gain.

Usage: python benchmarks/bench_lowrank_ring20_targets.py FIT_CACHE preset:counts_seed ...
e.g. ``/tmp/lrring/fitcache ring:0 ring:1 quadstable:0``.
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path

import numpy as np
from bench_lowrank_spikes import radius, ring_manifold, stable_fixed_points

from spikewire.infer.lowrank import _ridge_n
from spikewire.infer.lowrank_flow import SMOOTH_BANDWIDTHS, refit_gain, smooth_targets
from spikewire.networks.lowrank import lowrank_network, lowrank_preset
from spikewire.score.lowrank import align_latent_basis, true_conditional_mean
from spikewire.simulate.lowrank import initial_grid

KEY = "{}_n1000_r256_i300_ref400_denNone_s0_g6_t50{}.pkl"


def local_linear(x: np.ndarray, t: np.ndarray, hs) -> tuple[np.ndarray, float]:
    """Local-linear kernel regression of t on x (Gaussian kernel; a 1e-2·h² ridge on the
    slopes keeps small bandwidths solvable), bandwidth by leave-one-unit-out error."""
    N, k = x.shape
    Xa = np.column_stack([np.ones(N), x])
    D2 = ((x[:, None] - x[None]) ** 2).sum(-1)

    def est(h, loo):
        D = D2.copy()
        if loo:
            np.fill_diagonal(D, np.inf)
        W = np.exp(-(D - D.min(1, keepdims=True)) / (2 * h * h))
        M = np.einsum("ij,ja,jb->iab", W, Xa, Xa)
        M = M + W.sum(1)[:, None, None] * np.diag([0.0] + [h * h] * k) * 1e-2
        c = np.linalg.solve(M, np.einsum("ij,ja,jr->iar", W, Xa, t))
        return np.einsum("ia,iar->ir", Xa, c)

    cv = [float(np.mean((est(h, True) - t) ** 2)) for h in hs]
    h = float(hs[int(np.argmin(cv))])
    return est(h, False), h


def main() -> None:
    cache = Path(sys.argv[1])
    for arg in sys.argv[2:]:
        p, cs = arg.split(":")
        c0 = time.process_time()
        with open(cache / KEY.format(p, "" if cs == "0" else f"_c{cs}"), "rb") as fh:
            fit = pickle.load(fh)[0]
        net = lowrank_preset(p, 1000, seed=0)
        A = align_latent_basis(fit.m, net.m)
        Ait = np.linalg.inv(A).T
        E = true_conditional_mean(net, fit.m @ A)
        z, y = fit.update_targets(10)
        phi = np.tanh(z @ fit.m.T + fit.d)
        N = phi.shape[1]
        md = np.column_stack([fit.m, fit.d])
        t = _ridge_n(phi, y, 1.0)
        nw, h_nw, _ = smooth_targets(md, t)
        ll, h_ll = local_linear(md, t, list(SMOOTH_BANDWIDTHS))
        nw_g, G = refit_gain(phi, y, nw)
        var = nw.mean(0) + (nw - nw.mean(0)) * np.sqrt(t.var(0) / nw.var(0))
        variants = {"own": fit.n, "ridge": t, "ridge+gain": refit_gain(phi, y, t)[0],
                    "nw": nw, "nw+gain": nw_g, "nw+var": var, "loclin": ll,
                    "loclin+gain": refit_gain(phi, y, ll)[0]}
        print(f"{p} counts seed {cs}: bandwidth nw {h_nw:.4f}, local-linear {h_ll:.4f}; "
              f"gain of nw {np.round(G, 4).tolist()}", flush=True)
        if p == "ring":
            print("  data network ring radius",
                  round(ring_manifold(net, initial_grid(6, 2.4))["radius_median"], 4))
        if p in ("quadstable", "bistable"):
            print("  data network fixed points", sorted(
                round(radius(net, q), 3) for q in stable_fixed_points(net, initial_grid(9, 3.0))))
        for k, s in variants.items():
            row = (f"  {k:12s} MSE {np.mean((s @ Ait - E) ** 2):.4f} field error "
                   f"{np.mean((y - phi @ s / N) ** 2):.3e}")
            sn = lowrank_network(fit.m, s, d=fit.d, alpha=fit.alpha)
            if p == "ring":
                r = ring_manifold(sn, initial_grid(6, 2.4) @ A.T)
                row += (f" ring radius {r['radius_median']:.4f} shape "
                        f"{r['max_dev_own_median']:.3f} gap {r['max_gap_deg']:.0f}")
            if p in ("quadstable", "bistable"):
                row += " fixed points " + str(sorted(round(radius(sn, q), 3) for q in
                                                      stable_fixed_points(
                                                          sn, initial_grid(9, 3.0) @ A.T)))
            print(row, flush=True)
        print(f"  CPU {time.process_time() - c0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
