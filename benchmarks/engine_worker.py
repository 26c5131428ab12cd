"""One simulator, one case, one process: build + simulate a Brunel network, print JSON.

Run by ``bench_engine.py`` (which measures this process's peak RSS with ``os.wait4``);
not meant to be called by hand, although ``python engine_worker.py --sim spikewire
--n 1250 --duration 0.1`` works for a quick look.

The model is the same in all three simulators (Brunel 2000, model A):

- LIF with delta synapses: PSP jump J (mV), exact exponential decay with τ_m = 20 ms,
  θ = 20 mV, V_reset = 10 mV, V_rest = 0, absolute refractory period 2 ms during which
  the membrane is clamped at V_reset and arriving inputs are dropped;
- fixed in-degree C_E excitatory (weight J) and C_I inhibitory (weight −gJ) inputs per
  neuron, no multapses, no autapses (Brian2: an autapse drawn by ``sample`` is dropped,
  so ~C/N of the neurons have one input less: 0.1 % of the inputs);
- one homogeneous delay D;
- external drive: C_E independent Poisson inputs of weight J at ν_ext = η ν_thr per
  neuron (spikewire: Poisson count per step; Brian2: ``PoissonInput``; NEST:
  ``poisson_generator`` at C_E ν_ext, which sends an independent train to each target);
- initial potentials uniform in [V_reset, θ).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

TAU_M, THETA, V_RESET, TAU_REF = 0.020, 20.0, 10.0, 0.002


def _params(a):
    n_e = int(round(0.8 * a.n))
    n_i = a.n - n_e
    nu_thr = THETA / (a.J * a.c_e * TAU_M)
    return n_e, n_i, a.eta * nu_thr


def _events(a, counts) -> int:
    """Synaptic events delivered: spikes × mean out-degree of their population.

    With fixed in-degree the mean out-degree is N C_E / N_E for E and N C_I / N_I for I
    neurons (both N·(C_E + C_I)/N = 1,250 for Brunel's ε = 0.1 sizes). Using the mean
    keeps every simulator's memory free of a 10^7-synapse query after the run.
    """
    n_e, n_i, _ = _params(a)
    return int(round(counts[:n_e].sum() * a.n * a.c_e / n_e
                     + counts[n_e:].sum() * a.n * a.c_i / n_i))


def run_spikewire(a):
    t0, c0 = time.perf_counter(), time.process_time()
    import numpy as np

    import spikewire
    from spikewire.networks import brunel
    from spikewire.simulate._lif_kernel import column_constant

    # numba loads its typing registries on the first call of any jitted function in a
    # process (~0.2 s, independent of the network): library start-up, like `import nest`
    # initialising NEST's kernel, so it is timed with the imports (reported separately)
    column_constant(np.zeros(1, np.int64), np.zeros(0, np.float32))
    t_imp = time.perf_counter() - t0
    n_e, n_i, _ = _params(a)
    eps = a.c_e / n_e
    if int(round(eps * n_i)) != a.c_i:
        raise SystemExit(f"C_I={a.c_i} is not epsilon*N_I for spikewire's brunel builder")
    t0, c0 = time.perf_counter(), time.process_time()
    net = brunel(a.n, epsilon=eps, g=a.g, eta=a.eta, J=a.J, delay=a.delay, tau_m=TAU_M,
                 theta=THETA, v_reset=V_RESET, tau_ref=TAU_REF, seed=a.seed)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    st = spikewire.simulate(net, a.duration, dt=a.dt, seed=a.seed + 1)
    t_sim, c_sim = time.perf_counter() - t0, time.process_time() - c0
    counts = np.diff(st.indptr)
    return dict(t_import=t_imp, t_build=t_build, t_sim=t_sim, c_build=c_build, c_sim=c_sim,
                n_spikes=int(counts.sum()),
                n_events=_events(a, counts), n_synapses=int(net.n_synapses),
                rate_e=float(counts[:n_e].mean() / a.duration),
                rate_i=float(counts[n_e:].mean() / a.duration),
                version=spikewire.__version__)


def run_brian2(a):
    t0, c0 = time.perf_counter(), time.process_time()
    import brian2 as b2
    import numpy as np

    t_imp = time.perf_counter() - t0
    b2.prefs.codegen.target = "cython"
    b2.prefs.logging.console_log_level = "WARNING"
    b2.seed(a.seed)
    b2.defaultclock.dt = a.dt * b2.second
    n_e, n_i, nu_ext = _params(a)
    mV = b2.mV
    t0, c0 = time.perf_counter(), time.process_time()
    ns = dict(tau=TAU_M * b2.second, theta=THETA * mV, Vr=V_RESET * mV, J=a.J * mV,
              gJ=a.g * a.J * mV)
    G = b2.NeuronGroup(a.n, "dv/dt = -v/tau : volt (unless refractory)",
                       threshold="v >= theta", reset="v = Vr", refractory=TAU_REF * b2.second,
                       method="exact", namespace=ns)
    G.v = "Vr + rand() * (theta - Vr)"
    # inputs arriving during the refractory period are dropped (as in NEST's iaf_psc_delta)
    se = b2.Synapses(G[:n_e], G, on_pre="v_post += J * int(not_refractory_post)",
                     delay=a.delay * b2.second, namespace=ns)
    se.connect(i=f"k for k in sample(N_pre, size={a.c_e}) if k != j")
    si = b2.Synapses(G[n_e:], G, on_pre="v_post -= gJ * int(not_refractory_post)",
                     delay=a.delay * b2.second, namespace=ns)
    si.connect(i=f"k for k in sample(N_pre, size={a.c_i}) if k + {n_e} != j")
    P = b2.PoissonInput(G, "v", a.c_e, nu_ext * b2.Hz, weight="J * int(not_refractory)")
    mon = b2.SpikeMonitor(G)
    net = b2.Network(G, se, si, P, mon)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(a.duration * b2.second)
    t_sim, c_sim = time.perf_counter() - t0, time.process_time() - c0
    counts = np.asarray(mon.count[:])
    return dict(t_import=t_imp, t_build=t_build, t_sim=t_sim, c_build=c_build, c_sim=c_sim,
                n_spikes=int(counts.sum()),
                n_events=_events(a, counts), n_synapses=int(len(se) + len(si)),
                rate_e=float(counts[:n_e].mean() / a.duration),
                rate_i=float(counts[n_e:].mean() / a.duration), version=b2.__version__)


def run_nest(a):
    t0, c0 = time.perf_counter(), time.process_time()
    import nest
    import numpy as np

    t_imp = time.perf_counter() - t0
    n_e, n_i, nu_ext = _params(a)
    dt_ms = a.dt * 1e3
    t0, c0 = time.perf_counter(), time.process_time()
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    ks = {"resolution": dt_ms, "local_num_threads": 1, "rng_seed": a.seed + 1,
          "print_time": False}
    if abs(round(dt_ms * 1000) - dt_ms * 1000) > 1e-9:  # e.g. dt = 1/30 ms: finer tics
        ks["tics_per_ms"] = int(round(1.0 / dt_ms)) * 1000
    nest.SetKernelStatus(ks)
    nodes = nest.Create("iaf_psc_delta", a.n,
                        params={"C_m": 1.0, "tau_m": TAU_M * 1e3, "t_ref": TAU_REF * 1e3,
                                "E_L": 0.0, "V_reset": V_RESET, "V_th": THETA,
                                "refractory_input": False})
    nodes.V_m = nest.random.uniform(V_RESET, THETA)
    noise = nest.Create("poisson_generator", params={"rate": nu_ext * a.c_e})
    rec = nest.Create("spike_recorder")
    d_ms = a.delay * 1e3
    nest.Connect(noise, nodes, syn_spec={"weight": a.J, "delay": d_ms})
    for pre, k, w in ((nodes[:n_e], a.c_e, a.J), (nodes[n_e:], a.c_i, -a.g * a.J)):
        nest.Connect(pre, nodes, {"rule": "fixed_indegree", "indegree": k,
                                  "allow_autapses": False, "allow_multapses": False},
                     {"synapse_model": "static_synapse", "weight": w, "delay": d_ms})
    nest.Connect(nodes, rec)
    nest.Prepare()  # builds the connection infrastructure: counted as construction
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    nest.Run(a.duration * 1e3)
    nest.Cleanup()
    t_sim, c_sim = time.perf_counter() - t0, time.process_time() - c0
    senders = np.asarray(rec.get("events", "senders")) - nodes[0].global_id
    counts = np.bincount(senders, minlength=a.n)
    n_syn = nest.GetKernelStatus("num_connections") - 2 * a.n  # minus noise + recorder
    return dict(t_import=t_imp, t_build=t_build, t_sim=t_sim, c_build=c_build, c_sim=c_sim,
                n_spikes=int(counts.sum()),
                n_events=_events(a, counts), n_synapses=int(n_syn),
                rate_e=float(counts[:n_e].mean() / a.duration),
                rate_i=float(counts[n_e:].mean() / a.duration), version=nest.__version__)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", choices=["spikewire", "brian2", "nest"], required=True)
    ap.add_argument("--n", type=int, default=12_500)
    ap.add_argument("--c-e", type=int, default=1000)
    ap.add_argument("--c-i", type=int, default=250)
    ap.add_argument("--g", type=float, default=5.0)
    ap.add_argument("--eta", type=float, default=2.0)
    ap.add_argument("--J", type=float, default=0.1)
    ap.add_argument("--delay", type=float, default=1.5e-3)
    ap.add_argument("--dt", type=float, default=1e-4)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    res = {"spikewire": run_spikewire, "brian2": run_brian2, "nest": run_nest}[a.sim](a)
    res.update(sim=a.sim, n=a.n, c_e=a.c_e, c_i=a.c_i, dt=a.dt, duration=a.duration)
    sys.stdout.write("RESULT " + json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
