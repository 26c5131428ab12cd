"""Which input convention reproduces Ekelmans et al. (2023), Table D? (issue 17, item 1).

The two rows of Table D stated in issue 17 (τ = 20 and 10 ms) are compared with
``fit_power_law`` on the paper's grid (-50, -49.5, ... up to the last point below 10 Hz)
under the candidate conventions listed in the brief:

1. ``scan``: for each refractory period (2 ms, 0), the noise σ at which the fitted exponent
   equals the table's n, and the affine map ``μ = d + c x`` between the table's input axis x
   and the mean voltage μ that carries the table's onset b and 10-Hz input onto the fitted
   curve (θ = 20, V_r = 10 mV). A convention exists when σ/√τ, c/τ and d agree between the
   rows: then μ = d + k τ x and σ = s √τ for one (k, s, d).
2. ``candidates``: the residual per row (a in %, b, n) of each candidate convention.

Usage: ``nice python benchmarks/bench_theory_tabled.py scan candidates`` (one JSON line per
section, about a minute); results in results/theory2.md.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from scipy.optimize import brentq, least_squares

from spikewire.theory import EKELMANS_MU_GRID, EKELMANS_TABLE_D, fit_power_law, lif_rate

TABLE_D = {0.020: (1.0792e-4, -11.1425, 3.0814), 0.010: (2.2099e-6, 4.7670, 3.8150)}


def _residual(fit, row):
    a, b, n = fit[:3]
    return {"a_pct": round(100 * (a / row[0] - 1), 3), "b": round(b - row[1], 4),
            "n": round(n - row[2], 4)}


def bench_scan():
    """Per row: σ matching n, then the affine input map (the search that found the convention)."""
    out = []
    for tau_ref in (0.002, 0.0):
        for tau, row in TABLE_D.items():
            def n_of(s, tau=tau, tau_ref=tau_ref):
                # fine voltage grid: the window's position is what matters here, not the step
                return fit_power_law(tau, s, 20.0, 10.0, tau_ref, mu_grid=(-60.0, 0.05))[2]
            s = brentq(lambda s, n_t=row[2]: n_of(s) - n_t, 1.0, 15.0, xtol=1e-4)
            a, b, n = fit_power_law(tau, s, 20.0, 10.0, tau_ref, mu_grid=(-60.0, 0.05))
            mu10 = brentq(lambda m, s=s, tau=tau, tr=tau_ref:
                          float(lif_rate(m, s, tau, 20.0, 10.0, tr)) - 10.0, -50.0, 60.0)
            x10 = row[1] + (10.0 / row[0]) ** (1.0 / row[2])
            c = (mu10 - b) / (x10 - row[1])
            out.append({"tau_ref": tau_ref, "tau": tau, "sigma_mV": round(s, 4),
                        "sigma_over_sqrt_tau": round(s / np.sqrt(tau), 3),
                        "c_over_tau": round(c / tau, 3), "d_mV": round(mu10 - c * x10, 3)})
    return out


def bench_candidates():
    """Residual per row of each candidate convention on the paper's grid."""
    def voltage(sigma, tau_ref=0.002):
        return lambda tau: fit_power_law(tau, sigma, 20.0, 10.0, tau_ref,
                                         mu_grid=EKELMANS_MU_GRID)

    def current(**changes):
        kw = dict(EKELMANS_TABLE_D, **changes)
        return lambda tau: fit_power_law(tau, **kw)

    def log_rate(tau):  # the found convention, fitted in log rate above 0.01 Hz
        x = np.arange(-50.0, 200.0, 0.5)
        nu = lif_rate(tau * x, 3.0 * np.sqrt(tau), tau, 1.0, 0.0, 0.0)
        k = (nu < 10.0) & (nu > 0.01)
        a0, b0, n0 = fit_power_law(tau, **EKELMANS_TABLE_D)
        lo = float(x[k].min())
        r = least_squares(lambda p: p[0] + p[2] * np.log(x[k] - p[1]) - np.log(nu[k]),
                          [np.log(a0), min(b0, lo - 1.0), n0], method="trf",
                          bounds=([-np.inf, -np.inf, 0.1], [np.inf, lo - 1e-6, 20.0]))
        r.x[0] = np.exp(r.x[0])
        return tuple(r.x)

    candidates = {
        "voltage mu (mV), theta 20, V_r 10, tau_ref 2 ms, sigma 5 mV": voltage(5.0),
        "voltage mu (mV), sigma 10 mV": voltage(10.0),
        "voltage mu (mV), sigma 10 mV, tau_ref 0": voltage(10.0, 0.0),
        "current x = mu/tau, theta 20, V_r 10, tau_ref 2 ms, s 35 mV/sqrt(s)":
            current(theta=20.0, v_reset=10.0, tau_ref=0.002, sigma=35.0),
        "current, theta 1, reset = rest, tau_ref 0, s 3 (EKELMANS_TABLE_D)": current(),
        "  same, tau_ref 2 ms": current(tau_ref=0.002),
        "  same, tau_ref 0.1 ms": current(tau_ref=1e-4),
        "  same, s 3.003": current(sigma=3.003),
        "  same, V_r 0.01 (reset above rest)": current(v_reset=0.01),
        "  same, window up to 10.2 Hz (one more point)": current(rate_range=(0.0, 10.2)),
        "  same, fitted in log rate (points > 0.01 Hz)": log_rate,
    }
    out = []
    for name, fit in candidates.items():
        t0 = time.perf_counter()
        res = {str(tau): _residual(fit(tau), row) for tau, row in TABLE_D.items()}
        out.append({"convention": name, "residual": res,
                    "seconds": round(time.perf_counter() - t0, 2)})
    # the other three rows of Table D (not in the sources): predictions of the convention
    out.append({"predicted_rows": {str(t): [float(f"{v:.5g}") for v in
                                            fit_power_law(t, **EKELMANS_TABLE_D)]
                                   for t in (0.010, 0.015, 0.018, 0.020, 0.022)}})
    return out


if __name__ == "__main__":
    sections = sys.argv[1:] or ["scan", "candidates"]
    for sec in sections:
        t0 = time.perf_counter()
        result = {"scan": bench_scan, "candidates": bench_candidates}[sec]()
        print(json.dumps({"section": sec, "seconds": round(time.perf_counter() - t0, 1),
                          "result": result}))
