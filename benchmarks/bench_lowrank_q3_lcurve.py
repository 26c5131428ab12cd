"""Data-only ridge rules on cached fits: L-curve corner, quasi-optimality."""
import sys

import numpy as np
from _lowrank_q3_cases import load_case

grid = np.exp(np.linspace(np.log(0.01), np.log(100), 81))
for arg in sys.argv[1:]:
    c = load_case(arg)
    p, ref, cs, fit = c.preset, c.refine, c.counts_seed, c.fit
    Ait, E, y, phi = c.Ait, c.E, c.y, c.phi
    S = phi.shape[1]
    U, s, Vt = np.linalg.svd(phi, full_matrices=False)
    uy = U.T @ y
    tr = (s ** 2).sum() / S
    ns, res, mse = [], [], []
    for r in grid:
        lam = r * tr
        f = s / (s ** 2 + lam)
        n = S * Vt.T @ (f[:, None] * uy)
        ns.append(n)
        res.append(float(np.sum((y - phi @ n / S) ** 2)))
        mse.append(float(np.mean((n @ Ait - E) ** 2)))
    rho, eta = np.log(res), np.log([np.sum(n ** 2) for n in ns])
    t = np.log(grid)
    d1r, d1e = np.gradient(rho, t), np.gradient(eta, t)
    d2r, d2e = np.gradient(d1r, t), np.gradient(d1e, t)
    kappa = (d1r * d2e - d2r * d1e) / (d1r ** 2 + d1e ** 2) ** 1.5
    k_l = int(np.argmax(kappa[2:-2])) + 2
    qo = [np.linalg.norm(ns[k + 1] - ns[k]) for k in range(len(ns) - 1)]
    k_q = int(np.argmin(qo))
    loc = [k for k in range(3, len(grid) - 3)
           if kappa[k] > kappa[k - 1] and kappa[k] >= kappa[k + 1] and kappa[k] > 0]
    print("  corners:", ", ".join(f"{grid[k]:.3g} k={kappa[k]:.3g} mse {mse[k]:.4f}" for k in loc))
    print("  mse:", " ".join(f"{grid[k]:.2g}:{mse[k]:.3f}" for k in range(0, 81, 5)))
    qloc = [k for k in range(1, len(qo) - 1) if qo[k] < qo[k - 1] and qo[k] <= qo[k + 1]]
    print("  qo minima:", ", ".join(f"{grid[k]:.3g} {qo[k]:.3g} mse {mse[k]:.4f}" for k in qloc))
    k_b = int(np.argmin(mse))
    print(f"{p} ref{ref} c{cs}: L-curve {grid[k_l]:.3g} (MSE {mse[k_l]:.4f}); quasi-opt "
          f"{grid[k_q]:.3g} ({mse[k_q]:.4f}); best {grid[k_b]:.3g} ({mse[k_b]:.4f}); "
          f"ridge1 {mse[40]:.4f}", flush=True)
