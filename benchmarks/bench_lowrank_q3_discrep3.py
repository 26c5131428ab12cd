import pickle

import numpy as np

from spikewire.infer.lowrank import _ridge_n
from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import align_latent_basis, true_conditional_mean

C = "/tmp/lrquad3/fitcache/{}_n1000_r256_i300_ref{}_denNone_s0_g6_t50.pkl"
R = [0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0]
for p in ["quadstable", "bistable", "limit_cycle", "ring"]:
    ref = 150
    try:
        fit = pickle.load(open(C.format(p, ref), "rb"))[0]
    except FileNotFoundError:
        fit = pickle.load(open("/tmp/lrquad3/l2/" + C.format(p, ref).split("/")[-1], "rb"))[0]
    net = lowrank_preset(p, 1000, seed=0)
    A = align_latent_basis(fit.m, net.m)
    Ait = np.linalg.inv(A).T
    b = 10
    zf, yf = fit.update_targets(b)
    zt = zf @ np.linalg.inv(A.T)
    Ft = (np.tanh(zt @ net.m.T) @ net.n / 1000) @ A.T
    fe = float(np.mean((yf - Ft) ** 2))
    phif = np.tanh(zf @ fit.m.T + fit.d)
    Ef = true_conditional_mean(net, fit.m @ A)
    K, T = fit.latents.shape[0], fit.latents.shape[1] - b - 1
    trial = np.repeat(np.arange(K), T)
    folds = np.arange(K) % 6
    rows = []
    for r in R:
        n = _ridge_n(phif, yf, r)
        res = float(np.mean((yf - phif @ n / 1000) ** 2))
        cv = 0.0
        for f in range(6):
            tr, te = folds[trial] != f, folds[trial] == f
            nf = _ridge_n(phif[tr], yf[tr], r)
            cv += float(np.sum((yf[te] - phif[te] @ nf / 1000) ** 2))
        cv /= yf.size
        rows.append((r, res / fe, cv / fe, float(np.mean((n @ Ait - Ef) ** 2))))
    print(p, ref, f"field err {fe:.2e} var {np.var(Ft):.3f}")
    for r, q, c, m in rows:
        print(f"  ridge {r}: resid/fe {q:.2f}  timeCV/fe {c:.3f}  MSE {m:.4f}")
