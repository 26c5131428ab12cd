"""A Dale-compliant LIF ring simulated outside spikewire, in NEST (issue 19's external ring).

Run with the NEST venv (NEST 3.10), never beside spikewire in one process (NEST segfaults
beside numba's OpenMP)::

    nice -n 10 benchmarks/.venv-nest/bin/python benchmarks/nest_lif_ring.py \\
        --duration 600 --out /tmp/gnnext/nest_ring.npz

Network (every parameter is an option below; ``iaf_psc_delta`` neurons, weights are jumps
of the membrane potential in mV, rest 0 mV, threshold 20 mV, reset 10 mV, τ_m = 20 ms,
refractory 2 ms, 0.1 ms resolution):

- ``n_exc`` excitatory neurons on a ring (angle ``2π·i/n_exc``) and ``n_inh`` inhibitory
  neurons (a global pool, not on the ring);
- E→E: ``j_ee·exp(−d²/2σ²)`` of the ring distance ``d`` (neurons), no autapses; E→I
  ``j_ie`` and I→E ``−j_ei`` and I→I ``−j_ii``, each present with probability ``p_pool``
  (dense random, no autapses); delay ``delay``;
- background: independent Poisson trains of rate ``nu_bg`` per neuron, ``j_bg`` mV each;
- a rotating input to the E ring: neuron i receives an inhomogeneous Poisson train of rate
  ``nu_rot·(1 + cos(φ_i − θ(t)))`` (``sinusoidal_poisson_generator``, one per neuron, phase
  offset by its ring angle ``φ_i``), ``j_rot`` mV per spike, with the input angle
  ``θ(t) = 2π·f_rot·t − π/2`` rotating at ``f_rot`` turns per s: it moves a bump around the
  ring (the recurrent Gaussian excitation and the pool's inhibition sharpen it).

Writes an ``.npz`` with ``e_times`` / ``e_units`` (s, E spikes; unit = ring index),
``i_times`` / ``i_units`` (the hidden pool, unit 0..n_inh−1), ``w_ee`` (true E→E weights,
post × pre, mV), ``w_full`` (all (n_exc + n_inh)², post × pre, E first), ``duration`` (s),
``resolution`` (s) and ``params`` (JSON text, including ``f_rot`` and the θ(t) convention),
and prints rates and ISI CVs.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def ring_distance(n: int) -> np.ndarray:
    """Ring distance ``min(|i − j|, n − |i − j|)`` between neurons i and j (neurons)."""
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :])
    return np.minimum(d, n - d)


def build_weights(p: dict, rng: np.random.Generator) -> np.ndarray:
    """The full post × pre weight matrix (mV), E first."""
    ne, ni = p["n_exc"], p["n_inh"]
    n = ne + ni
    w = np.zeros((n, n))
    ee = p["j_ee"] * np.exp(-ring_distance(ne) ** 2 / (2 * p["sigma"] ** 2))
    np.fill_diagonal(ee, 0.0)
    w[:ne, :ne] = ee
    mask = rng.random((n, n)) < p["p_pool"]
    w[ne:, :ne] = p["j_ie"] * mask[ne:, :ne]
    w[:ne, ne:] = -p["j_ei"] * mask[:ne, ne:]
    w[ne:, ne:] = -p["j_ii"] * mask[ne:, ne:]
    np.fill_diagonal(w, 0.0)
    return w


def simulate(p: dict) -> dict:
    """Build and run the network in NEST; spikes and the true weights."""
    import nest

    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": p["resolution"] * 1e3, "rng_seed": p["seed"],
                          "local_num_threads": 1, "print_time": False})
    ne, ni = p["n_exc"], p["n_inh"]
    rng = np.random.default_rng(p["seed"])
    w = build_weights(p, rng)
    neuron = {"E_L": 0.0, "V_th": 20.0, "V_reset": 10.0, "tau_m": 20.0,
              "t_ref": p["tau_ref"] * 1e3, "C_m": 250.0, "V_m": 0.0}
    pop = nest.Create("iaf_psc_delta", ne + ni, params=neuron)
    pop.V_m = rng.uniform(0.0, 20.0, ne + ni).tolist()
    pre, post = np.nonzero(w.T)   # w is post × pre: w.T[pre, post]
    weights = w[post, pre]
    gid0 = pop[0].global_id
    # connect by arrays of node ids (sources may repeat)
    nest.Connect(np.asarray(pre + gid0, dtype=np.int64),
                 np.asarray(post + gid0, dtype=np.int64), "one_to_one",
                 {"weight": weights, "delay": np.full(weights.size, p["delay"] * 1e3)})
    bg = nest.Create("poisson_generator", params={"rate": p["nu_bg"]})
    nest.Connect(bg, pop, "all_to_all", {"weight": p["j_bg"], "delay": 0.1})
    # rotating input: rate_i = nu_rot·(1 + sin(2π f t − φ_i)) = nu_rot·(1 + cos(φ_i − θ(t)))
    # with θ(t) = 2π f t − π/2 (NEST's phase is in degrees)
    rot = nest.Create("sinusoidal_poisson_generator", ne)
    for i in range(ne):
        rot[i].set({"rate": p["nu_rot"], "amplitude": p["nu_rot"],
                    "frequency": p["f_rot"], "phase": (-360.0 * i / ne) % 360.0})
    nest.Connect(rot, pop[:ne], "one_to_one", {"weight": p["j_rot"], "delay": 0.1})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    t0 = time.perf_counter()
    nest.Simulate(p["duration"] * 1e3)
    wall = time.perf_counter() - t0
    ev = rec.get("events")
    senders = np.asarray(ev["senders"]) - pop[0].global_id
    times = np.asarray(ev["times"]) * 1e-3
    order = np.lexsort((senders, times))
    return {"times": times[order], "units": senders[order], "w": w, "wall": wall}


def summary(res: dict, p: dict) -> dict:
    """Rates (Hz), ISI CVs, the bump's width and how well it follows θ(t)."""
    ne, ni, dur = p["n_exc"], p["n_inh"], p["duration"]
    t, u = res["times"], res["units"]
    counts = np.bincount(u, minlength=ne + ni) / dur

    def cvs(units, local=False):
        # ISI CV per neuron (local=True: Holt's CV2 = 2|I_k+1 − I_k|/(I_k+1 + I_k),
        # insensitive to the slow rate changes of the bump passing), mean over neurons
        out = []
        for k in units:
            isi = np.diff(t[u == k])
            if isi.size > 10:
                out.append(np.mean(2 * np.abs(np.diff(isi)) / (isi[1:] + isi[:-1]))
                           if local else isi.std() / isi.mean())
        return float(np.mean(out)) if out else float("nan")

    # population vector of the E ring in 20 ms bins vs the input angle
    e = u < ne
    bw = 0.02
    nb = int(dur / bw)
    b = np.minimum((t[e] / bw).astype(int), nb - 1)
    phi = 2 * np.pi * u[e] / ne
    z = np.bincount(b, weights=np.cos(phi), minlength=nb) + 1j * np.bincount(
        b, weights=np.sin(phi), minlength=nb)
    active = np.abs(z) > 0
    theta = 2 * np.pi * p["f_rot"] * (np.arange(nb) + 0.5) * bw - np.pi / 2
    lag = np.angle(np.exp(1j * (np.angle(z[active]) - theta[active])))
    # bump width: rate profile aligned to the population vector's angle
    pos = np.round(np.angle(z) / (2 * np.pi) * ne).astype(int) % ne
    rel = (u[e] - pos[b]) % ne
    prof = np.bincount(rel, minlength=ne) / dur   # Hz of the neuron at offset k
    prof = np.roll(prof, ne // 2)
    half = int(np.sum(prof >= 0.5 * prof.max()))
    return {"rate_e_hz": float(counts[:ne].mean()), "rate_i_hz": float(counts[ne:].mean()),
            "rate_e_min_max_hz": [float(counts[:ne].min()), float(counts[:ne].max())],
            "cv_isi_e": cvs(range(ne)), "cv_isi_i": cvs(range(ne, ne + ni)),
            "cv2_e": cvs(range(ne), True), "cv2_i": cvs(range(ne, ne + ni), True),
            "bump_peak_hz": float(prof.max()), "bump_fwhm_neurons": half,
            "bump_lag_vs_input_rad_mean": float(np.angle(np.mean(np.exp(1j * lag)))),
            "bump_follows_input_R": float(np.abs(np.mean(np.exp(1j * lag)))),
            "spikes_e": int(e.sum()), "spikes_i": int((~e).sum()), "nest_wall_s": res["wall"]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-exc", type=int, default=100)
    ap.add_argument("--n-inh", type=int, default=25)
    ap.add_argument("--sigma", type=float, default=5.0, help="E→E width (neurons)")
    ap.add_argument("--j-ee", type=float, default=1.5, help="E→E peak (mV)")
    ap.add_argument("--j-ie", type=float, default=0.5, help="E→I (mV)")
    ap.add_argument("--j-ei", type=float, default=2.0, help="I→E magnitude (mV)")
    ap.add_argument("--j-ii", type=float, default=1.0, help="I→I magnitude (mV)")
    ap.add_argument("--p-pool", type=float, default=0.5,
                    help="probability of each E→I, I→E, I→I connection")
    ap.add_argument("--nu-bg", type=float, default=4000.0, help="background rate (Hz)")
    ap.add_argument("--j-bg", type=float, default=0.2, help="background weight (mV)")
    ap.add_argument("--nu-rot", type=float, default=300.0,
                    help="rotating input's mean rate per E neuron (Hz)")
    ap.add_argument("--j-rot", type=float, default=0.2, help="rotating input weight (mV)")
    ap.add_argument("--f-rot", type=float, default=0.25, help="rotation (turns per s)")
    ap.add_argument("--delay", type=float, default=1.5e-3, help="synaptic delay (s)")
    ap.add_argument("--tau-ref", type=float, default=2e-3, help="refractory period (s)")
    ap.add_argument("--resolution", type=float, default=1e-4, help="time step (s)")
    ap.add_argument("--duration", type=float, default=600.0, help="s")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/gnnext/nest_ring.npz")
    args = ap.parse_args(argv)
    p = {k: v for k, v in vars(args).items() if k != "out"}
    res = simulate(p)
    s = summary(res, p)
    ne = p["n_exc"]
    e = res["units"] < ne
    p["theta"] = "theta(t) = 2*pi*f_rot*t - pi/2 (rad); E neuron i at angle 2*pi*i/n_exc"
    p["neuron"] = ("iaf_psc_delta: E_L 0, V_th 20, V_reset 10 mV, tau_m 20 ms, "
                   "t_ref tau_ref; V_m(0) uniform in [0, 20) mV")
    try:
        import nest
        p["nest_version"] = nest.__version__
    except Exception:   # pragma: no cover - the version is informational only
        pass
    np.savez_compressed(
        args.out, e_times=res["times"][e], e_units=res["units"][e],
        i_times=res["times"][~e], i_units=res["units"][~e] - ne,
        w_ee=res["w"][:ne, :ne], w_full=res["w"], duration=p["duration"],
        resolution=p["resolution"], params=json.dumps(p), summary=json.dumps(s))
    print(json.dumps(s))
    return s


if __name__ == "__main__":
    main()
