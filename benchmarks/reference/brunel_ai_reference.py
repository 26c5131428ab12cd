"""Reference mean rate and CV of ISIs of a small Brunel (2000) network, by NEST.

The SAME connectivity is simulated by spikewire and by NEST: spikewire builds the network
(``brunel(2500, epsilon=0.1, g=5, eta=2, J=0.5, delay=1.5 ms, seed=0)``) and exports its
weights and delays; NEST (iaf_psc_delta, same neuron parameters, same external Poisson
drive) simulates that matrix.

Spec (Brunel model A; C_E J = 200 x 0.5 mV = 100 mV, as for Brunel's C_E = 1000, J = 0.1),
"realistic" config (a second, "unrealistic" config of the same network switches the
refractory period off and uses one-step, 0.1 ms transmission):
  N = 2500 (N_E = 2000, N_I = 500), eps = 0.1 -> C_E = 200, C_I = 50, J = 0.5 mV,
  g = 5, eta = nu_ext / nu_thr = 2 (nu_thr = theta / (J C_E tau_m) = 10 Hz; each neuron
  gets C_E = 200 external Poisson inputs at 20 Hz, weight J), D = 1.5 ms, tau_m = 20 ms,
  theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms, dt = 0.1 ms, V(0) ~ U[V_r, theta),
  T = 2 s, statistics over [0.2, 2) s.

Statistics (identical in tests/simulate/test_brunel_reference.py):
  rate = mean over all neurons of (spikes in [0.2, 2) s) / 1.8 s
  cv   = mean over neurons with >= 10 ISIs in that window of std(ISI) / mean(ISI)

Usage (the exact command that produced brunel_ai_reference.json, from the repo root):

  .venv/bin/python benchmarks/reference/brunel_ai_reference.py export /tmp/brunel_ref.npz
  benchmarks/.venv-ref/bin/python benchmarks/reference/brunel_ai_reference.py nest \\
      /tmp/brunel_ref.npz benchmarks/reference/brunel_ai_reference.json

where benchmarks/.venv-ref was made with
``python3 -m venv benchmarks/.venv-ref && benchmarks/.venv-ref/bin/pip install
nest-simulator numpy scipy`` (NEST 3.10.0). The export step also runs spikewire on the
same seeds and stores its numbers (for the seed-to-seed spread) in the npz.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time

import numpy as np

SPEC = dict(n_neurons=2500, epsilon=0.1, g=5.0, eta=2.0, J=0.5, delay=1.5e-3, tau_m=0.020,
            theta=20.0, v_reset=10.0, tau_ref=0.002, seed=0)
# the same network with the "unrealistic" switches: no refractory period, one-step (0.1 ms)
# transmission
CONFIGS = {"realistic": SPEC, "unrealistic": dict(SPEC, tau_ref=0.0, delay=None)}
DURATION = 2.0
T_SKIP = 0.2
DT = 1e-4
SEEDS = list(range(30))


def stats(times_by_neuron, t0=T_SKIP, t1=DURATION):
    """(mean rate in Hz, mean CV of ISIs) as defined in the module docstring."""
    counts, cvs = [], []
    for tr in times_by_neuron:
        tr = np.asarray(tr)
        tr = tr[(tr >= t0) & (tr < t1)]
        counts.append(tr.size)
        if tr.size >= 11:
            isi = np.diff(tr)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(counts) / (t1 - t0)), float(np.mean(cvs))


def connectivity_hash(indptr, indices, data) -> str:
    h = hashlib.sha256()
    for a in (np.asarray(indptr, np.int64), np.asarray(indices, np.int64),
              np.asarray(data, np.float64)):
        h.update(a.tobytes())
    return h.hexdigest()


def summary(res, seeds):
    res = np.asarray(res)
    return {"seeds": list(seeds), "rate_per_seed": res[:, 0].tolist(),
            "cv_per_seed": res[:, 1].tolist(), "rate_mean": float(res[:, 0].mean()),
            "rate_sd": float(res[:, 0].std(ddof=1)), "cv_mean": float(res[:, 1].mean()),
            "cv_sd": float(res[:, 1].std(ddof=1))}


def export(path):
    """Build the network with spikewire, save it, and run spikewire on every config."""
    import spikewire as sw

    net = sw.networks.brunel(**SPEC)
    w = net.weights
    out = dict(indptr=w.indptr, indices=w.indices, data=w.data.astype(np.float64),
               ext_rate=float(np.asarray(net.drive.rate)), ext_n=int(net.drive.n_inputs),
               ext_w=float(net.drive.weight), sw_version=sw.__version__,
               hash=connectivity_hash(w.indptr, w.indices, w.data))
    for name, spec in CONFIGS.items():
        cfg = sw.networks.brunel(**spec)
        assert connectivity_hash(cfg.weights.indptr, cfg.weights.indices,
                                 cfg.weights.data) == out["hash"]
        res = []
        t_start = time.perf_counter()
        for s in SEEDS:
            st = sw.simulate(cfg, DURATION, dt=DT, seed=s)
            res.append(stats([st.train(k) for k in range(st.n_units)]))
        out[f"sw_{name}"] = np.array(res)
        out[f"sw_wall_{name}"] = time.perf_counter() - t_start
        print("spikewire", name, "(rate, cv) per seed:", np.round(res, 3).tolist())
    np.savez(path, **out)


def run_nest(path, out_json):
    """Simulate the exported matrix with NEST for every config and write the JSON."""
    import nest

    f = np.load(path)
    indptr, indices, data = f["indptr"], f["indices"], f["data"]
    n = indptr.size - 1
    configs = {}
    for name, spec in CONFIGS.items():
        res = []
        delay_ms = DT * 1e3 if spec["delay"] is None else spec["delay"] * 1e3
        t_start = time.perf_counter()
        for s in SEEDS:
            nest.ResetKernel()
            nest.set_verbosity("M_ERROR")
            nest.SetKernelStatus({"resolution": DT * 1e3, "local_num_threads": 1,
                                  "rng_seed": 1000 + s, "print_time": False})
            rng = np.random.default_rng(1000 + s)
            neurons = nest.Create("iaf_psc_delta", n, params={
                "C_m": 1.0, "tau_m": spec["tau_m"] * 1e3, "t_ref": spec["tau_ref"] * 1e3,
                "E_L": 0.0, "V_reset": spec["v_reset"], "V_th": spec["theta"]})
            neurons.V_m = rng.uniform(spec["v_reset"], spec["theta"], size=n).tolist()
            noise = nest.Create("poisson_generator",
                                params={"rate": float(f["ext_rate"]) * int(f["ext_n"])})
            nest.Connect(noise, neurons, syn_spec={"weight": float(f["ext_w"]),
                                                   "delay": DT * 1e3})
            ids = np.array(neurons.tolist(), dtype=np.int64)
            pre = np.repeat(np.arange(n), np.diff(indptr))
            nest.Connect(ids[pre], ids[indices], "one_to_one",
                         syn_spec={"weight": data, "delay": np.full(data.size, delay_ms)})
            rec = nest.Create("spike_recorder")
            nest.Connect(neurons, rec)
            nest.Simulate(DURATION * 1e3)
            ev = rec.get("events")
            t = np.asarray(ev["times"]) * 1e-3
            who = np.asarray(ev["senders"]) - ids[0]
            order = np.lexsort((t, who))
            t, who = t[order], who[order]
            bounds = np.searchsorted(who, np.arange(n + 1))
            res.append(stats([t[bounds[k]:bounds[k + 1]] for k in range(n)]))
            print("nest", name, "seed", s, "rate, cv =", np.round(res[-1], 4))
        wall = time.perf_counter() - t_start
        nest_sum = summary(res, [1000 + s for s in SEEDS])
        nest_sum.update(version=nest.__version__, wall_s_all_seeds=wall)
        sw_sum = summary(f[f"sw_{name}"], SEEDS)
        sw_sum.update(version=str(f["sw_version"]),
                      wall_s_all_seeds=float(f[f"sw_wall_{name}"]))
        configs[name] = {"spec": dict(spec, duration=DURATION, dt=DT, t_skip=T_SKIP),
                         "nest": nest_sum, "spikewire": sw_sum}
    out = {
        "description": "Brunel (2000) model A, N = 2500, C_E = 200, C_I = 50, J = 0.5 mV, "
                       "g = 5, eta = 2; 'realistic': tau_rp = 2 ms, D = 1.5 ms; "
                       "'unrealistic': tau_rp = 0, D = one step (0.1 ms). NEST: "
                       "iaf_psc_delta on spikewire's exported matrix; external drive: "
                       "C_E independent Poisson inputs at eta*nu_thr, weight J.",
        "statistics": "rate: mean over all neurons of spike count in [0.2, 2) s / 1.8 s; "
                      "cv: mean over neurons with >= 10 ISIs in that window of "
                      "std(ISI)/mean(ISI)",
        "connectivity_sha256": str(f["hash"]),
        "configs": configs,
        "command": [
            ".venv/bin/python benchmarks/reference/brunel_ai_reference.py export "
            "/tmp/brunel_ref.npz",
            "benchmarks/.venv-ref/bin/python benchmarks/reference/brunel_ai_reference.py nest "
            "/tmp/brunel_ref.npz benchmarks/reference/brunel_ai_reference.json"],
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with open(out_json, "w") as fh:
        json.dump(out, fh, indent=2)
    for name, c in configs.items():
        for sim in ("nest", "spikewire"):
            print(name, sim, {k: round(c[sim][k], 4) for k in
                              ("rate_mean", "rate_sd", "cv_mean", "cv_sd", "wall_s_all_seeds")})


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "export":
        export(sys.argv[2])
    elif mode == "nest":
        run_nest(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: brunel_ai_reference.py export OUT.npz | nest IN.npz OUT.json")
