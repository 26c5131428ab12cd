"""Session 35's speed changes, each against the path it replaced, in one run
(benchmarks/results/speed35.txt).

- ``dense``: ``te`` and ``partial_corr`` on the demo's smoothed-rate variant (e) — 2,000 LIF
  neurons (realism regime, 2 ms delays, 2 ms refractory), 100 recorded, 240 s at 0.1 ms,
  10 ms Gaussian smoothing at 1 kHz — with the dense path (the default for signals with
  more than ``DENSE_SHARE`` non-zero bins) and forced onto the sparse path it replaced;
  wall time per fit, largest weight and p-value differences, calls at the default.
- ``pass``: ``dale_glm``'s loss pass with population covariates on (60,000 bins × 16
  targets × 2 scales): the fused compiled pass against the former numpy sequence
  (η += P·g per scale, the plain compiled pass, the gradient Σ_t P·residual per scale);
  and the plain pass against the fused one with no scales (why both are kept).
- ``first``: ``glmcc``'s first fit on a fresh numba cache against a warm fit, in child
  processes (the demo's network (d), 100 of 2,000, 240 s).

Usage: python benchmarks/bench_speed_paths.py dense|pass|first
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np


def _demo_network_spikes():
    import spikewire as sw

    net = sw.networks.brunel(2000, epsilon=0.1, g=5.0, eta=0.85, J=0.2, tau_ref=2e-3,
                             delay=2e-3, seed=0)
    return net, sw.simulate(net, duration=240.0, dt=1e-4, seed=0)


def dense() -> None:
    import spikewire as sw
    from spikewire.infer import partial_corr as pc_mod
    from spikewire.infer import te as te_mod
    from spikewire.observe import observe

    net, spikes = _demo_network_spikes()
    rec = observe(spikes, [{"step": "subsample", "count": 100},
                           {"step": "smooth", "width": 0.01, "kernel": "gaussian",
                            "sampling_rate": 1000.0}], seed=0, network=net)
    for name, mod in (("te", te_mod), ("partial_corr", pc_mod)):
        out = {}
        for path, share in (("dense", mod.DENSE_SHARE), ("sparse", 1.1)):
            old = mod.DENSE_SHARE
            mod.DENSE_SHARE = share
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    est = sw.infer(rec, name)
                    out[path] = (time.perf_counter() - t0, est)
            finally:
                mod.DENSE_SHARE = old
        (td, ed), (ts, es) = out["dense"], out["sparse"]
        ok = np.isfinite(es.pvalues)
        print(f"{name}: dense {td:.1f} s, sparse {ts:.1f} s ({ts / td:.1f}x); "
              f"max |dw| {np.max(np.abs(ed.weights - es.weights)):.2g}, "
              f"max |dp| {np.max(np.abs(ed.pvalues[ok] - es.pvalues[ok])):.2g}; "
              f"calls {int((ed.adjacency() != 0).sum())} / {int((es.adjacency() != 0).sum())}",
              flush=True)


def loss_pass() -> None:
    from spikewire.infer.dale_glm import _poisson_pass, _poisson_pass_population

    rng = np.random.default_rng(0)
    n, m, k = 60_000, 16, 2
    eta = rng.normal(-3.0, 1.0, (n, m))
    y = rng.poisson(0.05, (n, m)).astype(float)
    w = np.ones((n, m))
    P = rng.normal(0.0, 1.0, (k, n, m))
    g = rng.normal(0.0, 0.2, (k, m))

    def former():
        e = eta.copy()
        for q in range(k):
            e += P[q] * g[q][None, :]
        f, rs = _poisson_pass(e, y, w)
        return f, rs, np.stack([(P[q] * e).sum(0) for q in range(k)])

    def fused():
        e = eta.copy()
        gg = np.zeros((k, m))
        f, rs = _poisson_pass_population(e, y, w, P, g, gg)
        return f, rs, gg

    def plain():
        return _poisson_pass(eta.copy(), y, w)

    def fused_empty():
        return _poisson_pass_population(eta.copy(), y, w, np.zeros((0, n, m)),
                                        np.zeros((0, m)), np.zeros((0, m)))

    def median_ms(fn, reps=30):
        fn()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(ts))

    a, b = former(), fused()
    print(f"with 2 population scales: former {median_ms(former):.1f} ms, fused "
          f"{median_ms(fused):.1f} ms per pass; loss rel. diff {abs(a[0] - b[0]) / abs(a[0]):.1g}")
    print(f"no population scales: plain pass {median_ms(plain):.1f} ms, fused pass with "
          f"zero scales {median_ms(fused_empty):.1f} ms")


_FIRST = """
import pickle, sys, time, warnings
warnings.simplefilter("ignore")
import spikewire as sw
rec = pickle.load(open(sys.argv[1], "rb"))
for i in range(2):
    t0 = time.perf_counter()
    sw.infer(rec, "glmcc")
    print(f"fit {i + 1}: {time.perf_counter() - t0:.1f} s", flush=True)
"""


def first() -> None:
    import pickle

    from spikewire.observe import observe

    net, spikes = _demo_network_spikes()
    rec = observe(spikes, [{"step": "subsample", "count": 100}], seed=0, network=net)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rec.pkl")
        with open(path, "wb") as fh:
            pickle.dump(rec, fh)
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba"))
        print("fresh numba cache:", flush=True)
        subprocess.run([sys.executable, "-c", _FIRST, path], env=env, check=True)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    runs = {"dense": dense, "pass": loss_pass, "first": first}
    if mode not in runs:
        sys.exit(__doc__)
    runs[mode]()
