"""Smoothing the ridge targets of n over (m, d) with a kernel whose bandwidth is chosen by
leave-one-unit-out CV (data only): MSE against E_true[n|m]."""
import sys

import numpy as np
from _lowrank_q3_cases import load_case

from spikewire.infer.lowrank import _ridge_n

H = [0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5]
for arg in sys.argv[1:]:
    c = load_case(arg)
    p, ref, cs, fit = c.preset, c.refine, c.counts_seed, c.fit
    Ait, E, y, phi = c.Ait, c.E, c.y, c.phi
    X = np.column_stack([fit.m, fit.d])
    D2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    for r in (1.0, 0.5, 2.0):
        t = _ridge_n(phi, y, r)
        row = [f"{p} ref{ref} ridge {r}: raw {np.mean((t @ Ait - E) ** 2):.4f}"]
        best = None
        for h in H:
            W = np.exp(-D2 / (2 * h * h))
            Wl = W.copy()
            np.fill_diagonal(Wl, 0)
            loo = Wl @ t / Wl.sum(1, keepdims=True)
            cv = float(np.mean((loo - t) ** 2))
            sm = W @ t / W.sum(1, keepdims=True)
            mse = float(np.mean((sm @ Ait - E) ** 2))
            row.append(f"h{h}: cv {cv:.4f} mse {mse:.4f}")
            if best is None or cv < best[0]:
                best = (cv, h, mse)
        row.append(f"=> LOO h {best[1]} MSE {best[2]:.4f}")
        print(" | ".join(row), flush=True)
