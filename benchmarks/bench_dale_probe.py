"""Scale probe (issue 15): the cost of dale_glm's parts at 1,000 units, for extrapolation.

A full fit of 1,000 units cannot run on the shared 2-core VM (see results/dale5.md), so
this measures the parts that the fit repeats, on every one of 1,000 units of
:func:`spikewire.networks.izhikevich` (1,000 neurons, defaults, seed 1; dt = 1 ms, seed 2)
for a short recording of ``--duration`` s, at dale_glm's defaults (2 ms bins, 25 ms
window, 4 basis functions, population covariate):

- building the problem (design, counts, refractory weights, population covariate);
- ``--evals`` objective + gradient evaluations (what each L-BFGS-B iteration costs);
- the Wald step for ``--wald-targets`` targets (one dense (F + 2)² Hessian per target);
- wall and CPU (process) time of each; peak resident memory (``resource.getrusage``)
  and the bytes of one dense (n_bins, n_targets) array of the kind the fit holds.

Usage: python benchmarks/bench_dale_probe.py [--duration 20] [--evals 3] [--wald-targets 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

import spikewire as sw
from spikewire.infer.dale_glm import DaleGLM, _Problem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--evals", type=int, default=3)
    ap.add_argument("--wald-targets", type=int, default=3)
    args = ap.parse_args()
    net = sw.networks.izhikevich(1000, seed=1)
    st = sw.simulate(net, args.duration, dt=1e-3, seed=2)
    if args.units < 1000:
        st = st.select(np.arange(args.units))
    n = st.n_units
    out = {"duration_s": args.duration, "n_units": n, "n_spikes": int(st.times.size)}
    m = DaleGLM()
    t0, c0 = time.perf_counter(), time.process_time()
    sess, R, _, design = m._session(st, np.arange(n), np.arange(n), np.arange(n),
                                    np.arange(n), 0.002, None, drop_flat=True)
    prob = _Problem([sess], [R], n, np.arange(n), design.n_basis, 0, True, 1.0, 1.0)
    out["build_s"] = time.perf_counter() - t0
    out["build_cpu_s"] = time.process_time() - c0
    out["n_bins"] = int(design.n_bins)
    out["dense_array_gib"] = design.n_bins * n * 8 / 2**30
    x0 = prob.pack(np.log(prob.rate)[None], np.zeros((prob.F, n)), np.zeros((0, n)),
                   np.zeros(n))
    out["n_params"] = int(x0.size)
    fun = prob.objective([R], np.zeros((prob.F, n)))
    rng = np.random.default_rng(0)
    x = x0 + 1e-3 * rng.standard_normal(x0.size)
    fun(x)                                          # compile
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.evals):
        fun(x)
    out["eval_s"] = (time.perf_counter() - t0) / args.evals
    out["eval_cpu_s"] = (time.process_time() - c0) / args.evals
    # Wald step for a few targets (restricted problem with the same per-target algebra)
    k = args.wald_targets
    sub = _Problem([sess], [R], n, np.arange(n), design.n_basis, 0, True, 1.0, 1.0)
    sub.nt = k
    sub.tpos = sub.tpos[:k]
    b, W, Bc, g = prob.unpack(x)
    sess_k = sess
    saved = (sess_k.Y, sess_k.P, sess_k.tg, sess_k.ix, sess_k.full)
    sess_k.Y, sess_k.P, sess_k.tg = sess.Y[:, :k], sess.P[:, :k], sess.tg[:k]
    sess_k.ix = np.ix_(sess.feat, sess_k.tg)
    sess_k.full = False
    sub.s_b, sub.s_w, sub.s_o = prob.s_b[:, :k], prob.s_w[:, :k], prob.s_o[:k]
    sub.lam2, sub.nbias = prob.lam2[:, :k], k
    xk = sub.pack(b[:, :k], W[:, :k], Bc[:, :k], g[:k])
    t0, c0 = time.perf_counter(), time.process_time()
    sub.wald(xk, [R[:, :k]], design.basis.sum(0))
    out["wald_per_target_s"] = (time.perf_counter() - t0) / k
    out["wald_per_target_cpu_s"] = (time.process_time() - c0) / k
    sess_k.Y, sess_k.P, sess_k.tg, sess_k.ix, sess_k.full = saved
    out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
