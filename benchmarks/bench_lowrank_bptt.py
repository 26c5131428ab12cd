"""Time per loss-and-gradient evaluation of the low-rank fit: autograd vs hand-written BPTT.

:func:`spikewire.infer.lowrank.fit_lowrank` spends nearly all its time evaluating its
loss and gradient (Adam: one evaluation per iteration; L-BFGS: about 1.2). This times one
evaluation (forward + backward, after 2 warm-up evaluations, median of ``--reps``) of

- ``autograd``: the expression of ``fit_lowrank`` up to session 38 (torch autograd through
  the rollout and the (K, T, N) read-out), and
- ``bptt``: :func:`spikewire.infer._lowrank_bptt.make_objective` (hand-written backward
  pass over (K, N) slabs),

on Poisson counts of a rank-2 network (N units, K trials of T steps of 10 ms, rates
5–20 Hz), in float64 with ``--threads`` torch threads, and reports the largest relative
gradient difference between the two and the peak memory of each evaluation.

Usage: python benchmarks/bench_lowrank_bptt.py [--sizes 400x100x1000 36x50x1000]
       [--threads 2] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["400x100x1000", "36x50x1000"],
                    help="K x T x N")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--methods", nargs="+", default=["bptt", "autograd"])
    args = ap.parse_args()

    import torch

    from spikewire.infer._lowrank_bptt import make_objective

    torch.set_num_threads(args.threads)
    dt = torch.float64
    for size in args.sizes:
        K, T, N = (int(v) for v in size.split("x"))
        rng = np.random.default_rng(0)
        R, alpha, r0, g, bw = 2, 0.2, 12.5, 7.5, 0.01
        m = rng.standard_normal((N, R))
        n = 1.6 * m + rng.standard_normal((N, R))
        z = rng.uniform(-2.4, 2.4, (K, R))
        Y = np.empty((K, T, N))
        for t in range(T):
            Y[:, t] = rng.poisson((r0 + g * np.tanh(z @ m.T)) * bw)
            z = z + alpha * (-z + np.tanh(z @ m.T) @ n / N)
        tY = torch.as_tensor(Y, dtype=dt)
        tE = torch.full((K, 1, 1), bw, dtype=dt)
        params = [torch.tensor(a, dtype=dt, requires_grad=True)
                  for a in (m + 0.1 * rng.standard_normal(m.shape),
                            n + 0.1 * rng.standard_normal(n.shape), np.zeros(N),
                            rng.uniform(-2.4, 2.4, (K, R)))]
        bptt = make_objective(torch, tY, tE, None, alpha=alpha, observation="poisson",
                              rate_offset=r0, rate_gain=g)

        def autograd(M, Nl, d, z0, T=T, N=N, alpha=alpha, r0=r0, g=g, tE=tE, tY=tY):
            zz, zs = z0, [z0]
            for _ in range(T - 1):
                zz = zz + alpha * (-zz + torch.tanh(zz @ M.T + d) @ Nl / N)
                zs.append(zz)
            pred = torch.tanh(torch.stack(zs, 1) @ M.T + d)
            lam = torch.clamp((r0 + g * pred) * tE, min=1e-8)
            return (lam - tY * torch.log(lam)).mean()

        grads = {}
        for name in args.methods:
            fn = bptt if name == "bptt" else autograd
            times = []
            for rep in range(args.reps + 2):
                t0 = time.perf_counter()
                val = fn(*params)
                gr = torch.autograd.grad(val, params)
                if rep >= 2:
                    times.append(time.perf_counter() - t0)
            grads[name] = [x.numpy() for x in gr]
            print(json.dumps({"K": K, "T": T, "N": N, "method": name,
                              "threads": args.threads,
                              "eval_s_median": round(float(np.median(times)), 4),
                              "eval_s_min": round(float(np.min(times)), 4),
                              "loss": float(val.detach()),
                              "peak_rss_gib_so_far": round(resource.getrusage(
                                  resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2),
                              "machine": platform.machine(),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}),
                  flush=True)
        if len(grads) == 2:
            rel = max(float(np.abs(a - b).max() / np.abs(b).max())
                      for a, b in zip(grads["bptt"], grads["autograd"], strict=True))
            print(json.dumps({"K": K, "T": T, "N": N, "max_rel_grad_diff": rel}), flush=True)


if __name__ == "__main__":
    main()
