"""Smoothing the ridge targets of n over (m, d) with a kernel whose bandwidth is chosen by
leave-one-unit-out CV (data only): MSE against E_true[n|m]."""
import pickle
import sys

import numpy as np

from spikewire.infer.lowrank import _ridge_n
from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import align_latent_basis, true_conditional_mean

C = "/tmp/lrquad3/fitcache/{}_n1000_r256_i300_ref{}_denNone_s0_g6_t50{}.pkl"
H = [0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5]
for arg in sys.argv[1:]:
    p, ref, cs = arg.split(":")
    fit = pickle.load(open(C.format(p, ref, "" if cs == "0" else f"_c{cs}"), "rb"))[0]
    net = lowrank_preset(p, 1000, seed=0)
    A = align_latent_basis(fit.m, net.m)
    Ait = np.linalg.inv(A).T
    E = true_conditional_mean(net, fit.m @ A)
    z, y = fit.update_targets(10)
    phi = np.tanh(z @ fit.m.T + fit.d)
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
