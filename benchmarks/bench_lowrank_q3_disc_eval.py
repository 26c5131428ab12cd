"""Discrepancy-principle ridge from a split-half field-error estimate, on cached fits."""
import pickle
import sys

import numpy as np

from spikewire.infer.lowrank import _ridge_n
from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import align_latent_basis, true_conditional_mean

C = "/tmp/lrquad3/fitcache/{}_n1000_r256_i300_ref150_denNone_s0_g6_t50{}.pkl"

def field(fit, z):
    return np.tanh(z @ fit.m.T + fit.d) @ fit.n / fit.n_neurons

def field_in(fit_h, fit, z):
    """fit_h's field at fit's latents z, in fit's basis."""
    A = align_latent_basis(fit_h.m, fit.m)       # fit_h.m @ A ≈ fit.m
    return field(fit_h, z @ A.T) @ np.linalg.inv(A).T

def disc_ridge(phi, y, fe, lo=1e-3, hi=100.0):
    def res(r):
        return float(np.mean((y - phi @ _ridge_n(phi, y, r) / phi.shape[1]) ** 2))

    if res(hi) <= fe:
        return hi
    if res(lo) > fe:
        return lo
    for _ in range(30):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if res(mid) <= fe else (lo, mid)
    return np.sqrt(lo * hi)

for arg in sys.argv[1:]:
    p, cs, nh = arg.split(":")
    suffix = "" if cs == "0" else f"_c{cs}"
    fit = pickle.load(open(C.format(p, suffix), "rb"))[0]
    halves = pickle.load(open(f"/tmp/lrquad3/fitcache/{p}_halves{nh}_ref150_c{cs}.pkl", "rb"))[0]
    net = lowrank_preset(p, 1000, seed=0)
    A = align_latent_basis(fit.m, net.m)
    Ait = np.linalg.inv(A).T
    z, y = fit.update_targets(10)
    Ft = (np.tanh(z @ np.linalg.inv(A.T) @ net.m.T) @ net.n / 1000) @ A.T
    fe = float(np.mean((y - Ft) ** 2))
    Fh = [field_in(h, fit, z) for h in halves]
    fe1 = [float(np.mean((f - y) ** 2)) for f in Fh]
    fe2 = float(np.mean((Fh[0] - Fh[1]) ** 2)) / 4 if len(Fh) == 2 else None
    phi = np.tanh(z @ fit.m.T + fit.d)
    E = true_conditional_mean(net, fit.m @ A)
    def mse(r, phi=phi, y=y, Ait=Ait, E=E):
        return float(np.mean((_ridge_n(phi, y, r) @ Ait - E) ** 2))

    out = [f"{p} c{cs}: true fe {fe:.2e}; one-half fe {fe1}; two-half {fe2}"]
    for name, f in [("true", fe)] + [(f"half{k}", v) for k, v in enumerate(fe1)] + (
            [("two-half", fe2)] if fe2 else []):
        r = disc_ridge(phi, y, f)
        out.append(f"  {name}: ridge {r:.3g} MSE {mse(r):.4f}")
    out.append("  fixed: " + " ".join(f"{r}:{mse(r):.4f}" for r in (1, 2, 3, 5)))
    print("\n".join(out), flush=True)
