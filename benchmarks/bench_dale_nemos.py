"""dale_glm against nemos' ``PopulationGLM`` (issue 15): time, peak memory, held-out LL.

Data: :func:`spikewire.networks.izhikevich` (1,000 neurons, defaults, seed 1), simulated
at dt = 1 ms for the longest ``--durations`` (seed 2; cached in ``--cache``), 100 neurons
recorded at random (seed 0); each comparison uses the first ``d`` s. Same 2 ms bins for
both tools, same held-out block (the last 20 % of the bins).

- ``dale_glm``: ``spikewire.infer(rec, "dale_glm")`` at its defaults (2 ms bins, 25 ms
  window, 4 raised-cosine functions, population covariate, three fits + Wald step). Its
  held-out score is that of its sign-constrained fit on the first 80 % (labels from the
  whole recording).
- ``screened``: the same with ``solver="screened"`` (benchmarks/results/dalescale.md:
  40 candidate inputs per target from a score-test screen, per-target Newton fits).
- ``nemos``: ``nemos.glm.PopulationGLM`` (Ridge, LBFGS, float32) on spikewire's dense
  basis-space design of the same recording (every unit's lagged counts through the same
  4 raised cosines over 25 ms, self-history included), fitted on the first 80 % of the
  bins; ridge strength = dale_glm's ``ridge`` (1.0 on the summed log-likelihood) /
  number of training bins, since nemos averages its loss over bins. Its time includes
  building the dense design and the JAX compilation (one fit, as a user would run it).

Each fit runs in a fresh process under ``/usr/bin/time -v`` (peak RSS, CPU time).
Held-out log-likelihood of both on the same bins, in bits per held-out spike above one
homogeneous Poisson model (each unit's training-block rate).

Usage: python benchmarks/bench_dale_nemos.py [--durations 600,1200]
       [--tools dale,screened,nemos]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np

BW, WINDOW, NB, FRAC = 0.002, 0.025, 4, 0.2
CACHE = "/tmp/dale_cache/nemos_{}.npz"


def recording(longest: float, cache: str):
    import spikewire as sw
    from spikewire.observe.subsample import subsample

    if not os.path.exists(cache):
        net = sw.networks.izhikevich(1000, seed=1)
        st = sw.simulate(net, longest, dt=1e-3, seed=2)
        rec = subsample(st, count=100, network=net, seed=0)
        np.savez(cache, times=rec.spikes.times, ids=rec.spikes.unit_ids,
                 units=rec.spikes.units, t_stop=longest)
    z = np.load(cache)
    return sw.SpikeTrains.from_times(z["times"], z["ids"], t_stop=float(z["t_stop"]),
                                     units=z["units"], sort=True,
                                     annotations={"engine": "izhikevich", "dt": 1e-3})


def reference(st):
    """Counts (n_bins, n) of spikewire's design, the held-out cut and the homogeneous LL."""
    from scipy.special import gammaln

    from spikewire.infer.glm import build_design

    d = build_design(st, bin_width=BW, window=WINDOW, n_basis=NB)
    y = np.stack([d.counts(i) for i in range(d.n_units)], axis=1)
    cut = int(round(d.n_bins * (1 - FRAC)))
    r = np.maximum(y[:cut].mean(0), 1e-12)
    yv = y[cut:]
    ll_hom = float(np.sum(yv * np.log(r) - r - gammaln(yv + 1)))
    return d, y, cut, ll_hom, float(yv.sum())


def worker(tool: str, duration: float, cache: str) -> dict:
    st = recording(duration, cache).restrict(0.0, duration)
    out = {"tool": tool, "duration_s": duration, "n_units": int(st.n_units),
           "n_spikes": int(st.times.size)}
    if tool in ("dale", "screened"):
        import spikewire as sw

        t0 = time.perf_counter()
        est = sw.infer(st, "dale_glm", solver="full" if tool == "dale" else "screened")
        out["fit_s"] = time.perf_counter() - t0
        ll = float(est.diagnostics["heldout_loglik"])
        out["iterations"] = est.diagnostics["iterations"]
        out["converged"] = bool(est.diagnostics["converged"])
        out["own_bits_per_spike"] = float(est.diagnostics["heldout_bits_per_spike"])
        _, _, cut, ll_hom, n_sp = reference(st)
    else:
        import jax
        import jax.numpy as jnp
        import nemos as nmo
        from scipy.special import gammaln

        t0 = time.perf_counter()
        d, y, cut, ll_hom, n_sp = reference(st)
        X = d.dense().astype(np.float32)
        Xtr = jnp.asarray(X[:cut])
        ytr = jnp.asarray(y[:cut], dtype=jnp.float32)
        model = nmo.glm.PopulationGLM(regularizer="Ridge", regularizer_strength=1.0 / cut,
                                      solver_name="LBFGS")
        model.fit(Xtr, ytr)
        jax.block_until_ready(model.coef_)
        out["fit_s"] = time.perf_counter() - t0
        del Xtr, ytr
        rate = np.asarray(model.predict(jnp.asarray(X[cut:])), dtype=np.float64)
        yv = y[cut:]
        ll = float(np.sum(yv * np.log(np.maximum(rate, 1e-30)) - rate - gammaln(yv + 1)))
        out["design_shape"] = list(X.shape)
    out["heldout_loglik"] = ll
    out["heldout_bits_per_spike"] = (ll - ll_hom) / n_sp / math.log(2)
    out["heldout_spikes"] = n_sp
    return out


def timed(args_list: list[str]) -> dict:
    """Run a worker under /usr/bin/time -v; its JSON row plus peak RSS and CPU times."""
    p = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, *args_list],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    row = json.loads(p.stdout.strip().splitlines()[-1])
    err = p.stderr

    def grab(pattern):
        m = re.search(pattern, err)
        return m.group(1) if m else None

    row["peak_rss_gib"] = int(grab(r"Maximum resident set size \(kbytes\): (\d+)")) / 2**20
    row["user_s"] = float(grab(r"User time \(seconds\): ([\d.]+)"))
    row["sys_s"] = float(grab(r"System time \(seconds\): ([\d.]+)"))
    row["wall"] = grab(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
    row["load_after"] = os.getloadavg()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--durations", default="600,1200")
    ap.add_argument("--tools", default="dale,nemos")
    ap.add_argument("--longest", type=float, default=None,
                    help="length of the cached simulation (default: the longest duration)")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    durations = [float(d) for d in args.durations.split(",")]
    longest = args.longest or max(durations)
    cache = args.cache or CACHE.format(int(longest))
    if args.worker:
        print(json.dumps(worker(args.worker[0], float(args.worker[1]), cache)))
        return
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    t0 = time.perf_counter()
    recording(longest, cache)
    print(f"recording ({longest:g} s) ready in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for d in durations:
        for tool in args.tools.split(","):
            row = timed(["--worker", tool, str(d), "--longest", str(longest),
                         "--cache", cache])
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
