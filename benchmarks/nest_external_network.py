"""A GLMCC-style benchmark network simulated by NEST, not by spikewire (issue 12's external check).

Run with the NEST venv, **never** beside spikewire (NEST segfaults next to numba's OpenMP)::

    nice -n 10 benchmarks/.venv-nest/bin/python benchmarks/nest_external_network.py \
        --seed 1 --duration 3600 --out /tmp/ext20/mat_s1.npz

The network follows the style of the synthetic data of GLMCC (Kobayashi et al. 2019,
Nat. Commun. 10:4468) and CoNNECT (Endo et al. 2021, Sci. Rep. 11:12087): 1,000
multi-timescale adaptive threshold (MAT) neurons, 800 regular-spiking excitatory and 200
fast-spiking inhibitory (NEST ``mat2_psc_exp``, Kobayashi et al. 2009), sparse random
connectivity, log-normal EPSP amplitudes, heterogeneous delays and independent Poisson
background drive. Where each parameter comes from is written next to it and in
``benchmarks/results/ext20.md``.

The saved ``.npz`` holds, with units in the key names:

- ``spike_times_s`` (float64, s, on the NEST grid of ``resolution_s``) and ``spike_units``
  (int64, 0-based neuron index), sorted by time;
- ``t_stop_s``, ``resolution_s`` (the simulation step; spike times are multiples of it);
- ``W_post_pre_mV``: the true weight matrix **W[post, pre]**, as the peak PSP the synapse
  evokes from rest, mV (positive excitatory, negative inhibitory, 0 unconnected);
- ``W_post_pre_pA``: the same synapses as NEST weights (PSC amplitude, pA);
- ``delay_post_pre_ms``: transmission delay of each synapse (0 where unconnected);
- ``is_excitatory`` (bool per neuron), and the parameters as a JSON string ``params``.

Only numpy and NEST are imported here.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

# ---------------------------------------------------------------------------- parameters
PARAMS = {
    # population: 800 E / 200 I, as in GLMCC's and CoNNECT's simulated networks
    "n_exc": 800,
    "n_inh": 200,
    # MAT neuron, NEST mat2_psc_exp. Regular spiking = NEST's defaults, which are the RS
    # set of Kobayashi, Tsubo & Shinomoto (2009) (tau_m 5 ms, alpha_1 37 mV / tau_1 10 ms,
    # alpha_2 2 mV / tau_2 200 ms, omega 19 mV above rest, refractory 2 ms).
    # Fast spiking: the FS set of the same paper (alpha_1 10 mV, alpha_2 0.2 mV,
    # omega 11 mV above rest) — quoted from memory of its figure of firing types; the text
    # could not be retrieved on this machine.
    "E_L_mV": -70.0,
    "rs": {"alpha_1": 37.0, "alpha_2": 2.0, "omega_above_rest": 19.0},
    "fs": {"alpha_1": 10.0, "alpha_2": 0.2, "omega_above_rest": 11.0},
    "tau_m_ms": 5.0, "C_m_pF": 100.0, "tau_1_ms": 10.0, "tau_2_ms": 200.0, "t_ref_ms": 2.0,
    "tau_syn_ex_ms": 1.0, "tau_syn_in_ms": 3.0,           # NEST defaults
    # connectivity: independent Bernoulli per ordered pair (no autapses, no multapses).
    # Chosen so that 20 random units share ~15-40 true links (380 ordered pairs x 0.08
    # = 30 expected), the density of the 20-unit recordings of issue 12 (17-18 E links).
    "p_from_exc": 0.08,
    "p_from_inh": 0.08,
    # log-normal EPSP peak amplitudes (Song et al. 2005; Teramae, Tsubo & Fukai 2012;
    # used for GLMCC's synthetic data): median and log-sd of the peak PSP from rest, mV;
    # clipped at 8 mV. IPSPs log-normal too (weaker spread).
    "epsp_median_mV": 0.4, "epsp_log_sd": 0.9, "psp_max_mV": 8.0,
    "ipsp_median_mV": 1.2, "ipsp_log_sd": 0.5,
    # heterogeneous delays, uniform on the 0.1 ms grid: E 1-5 ms, I 1-3 ms
    "delay_exc_ms": [1.0, 5.0], "delay_inh_ms": [1.0, 3.0],
    # independent Poisson background per neuron: excitatory events of peak PSP
    # bg_psp_mV at bg_rate_E_Hz (E targets) / bg_rate_I_Hz (I targets); one generator
    # per target type, which NEST turns into independent trains per target
    "bg_psp_mV": 3.0, "bg_rate_E_Hz": 450.0, "bg_rate_I_Hz": 300.0,
    # heterogeneous drive ("--drive hetero"): each neuron's background rate times
    # exp(bg_rate_log_sd * N(0, 1)), for rates spread over a decade as in GLMCC's data
    "bg_rate_log_sd": 0.0,
    # simulation step: 0.5 ms (spike times on a 0.5 ms grid); 0.1 ms costs 2.2 s CPU per
    # simulated s on this machine, 0.5 ms 0.48 s (both with the background of two
    # generators per neuron)
    "resolution_ms": 0.5,
}


# two background drives; "homog" is PARAMS as written. "hetero": per-neuron rates
# log-normal (sd 0.15 in log), fewer and larger background events (5 mV), tuned on 6-s
# runs to E ~2.4 Hz (median 2.2 Hz: the median of GLMCC's published 20 simulated cells is
# 2.1 Hz) and I ~11 Hz.
DRIVES = {
    "homog": {},
    "hetero": {"bg_rate_log_sd": 0.15, "bg_psp_mV": 5.0, "bg_rate_E_Hz": 180.0,
               "bg_rate_I_Hz": 130.0},
}


def psp_peak_per_pA(tau_m: float, tau_s: float, c_m: float) -> float:
    """Peak of the PSP (mV) that a 1 pA exponential PSC (time constant ``tau_s``, ms)
    evokes in a leaky membrane (``tau_m`` ms, ``c_m`` pF) from rest."""
    t_peak = np.log(tau_m / tau_s) * tau_m * tau_s / (tau_m - tau_s)
    return (1.0 / c_m) * tau_m * tau_s / (tau_m - tau_s) * (
        np.exp(-t_peak / tau_m) - np.exp(-t_peak / tau_s))


def build_connectivity(p: dict, seed: int):
    """True synapses: (pre, post, psp_mV, delay_ms) arrays, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    n = p["n_exc"] + p["n_inh"]
    is_exc = np.arange(n) < p["n_exc"]
    prob = np.where(is_exc, p["p_from_exc"], p["p_from_inh"])[None, :]   # [post, pre]
    adj = rng.random((n, n)) < prob
    np.fill_diagonal(adj, False)
    post, pre = np.nonzero(adj)
    exc = is_exc[pre]
    amp = np.where(exc,
                   p["epsp_median_mV"] * np.exp(p["epsp_log_sd"] * rng.standard_normal(pre.size)),
                   p["ipsp_median_mV"] * np.exp(p["ipsp_log_sd"] * rng.standard_normal(pre.size)))
    amp = np.minimum(amp, p["psp_max_mV"])
    psp = np.where(exc, amp, -amp)
    lo_e, hi_e = p["delay_exc_ms"]
    lo_i, hi_i = p["delay_inh_ms"]
    res = p["resolution_ms"]
    d = np.where(exc, rng.uniform(lo_e, hi_e, pre.size), rng.uniform(lo_i, hi_i, pre.size))
    d = np.round(d / res) * res
    return pre, post, psp, d, is_exc


def simulate(p: dict, seed: int, duration_s: float, chunk_s: float = 50.0, verbose=True):
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": p["resolution_ms"], "rng_seed": int(seed) + 1,
                          "local_num_threads": 1, "print_time": False})
    pre, post, psp, delay, is_exc = build_connectivity(p, seed)
    n = is_exc.size
    k_ex = psp_peak_per_pA(p["tau_m_ms"], p["tau_syn_ex_ms"], p["C_m_pF"])
    k_in = psp_peak_per_pA(p["tau_m_ms"], p["tau_syn_in_ms"], p["C_m_pF"])
    w_pA = np.where(psp > 0, psp / k_ex, psp / k_in)

    common = {"E_L": p["E_L_mV"], "V_m": p["E_L_mV"], "C_m": p["C_m_pF"],
              "tau_m": p["tau_m_ms"], "tau_1": p["tau_1_ms"], "tau_2": p["tau_2_ms"],
              "t_ref": p["t_ref_ms"], "tau_syn_ex": p["tau_syn_ex_ms"],
              "tau_syn_in": p["tau_syn_in_ms"]}
    pop = nest.Create("mat2_psc_exp", n, params=common)
    for sl, typ in ((slice(0, p["n_exc"]), "rs"), (slice(p["n_exc"], n), "fs")):
        t = p[typ]
        pop[sl].set({"alpha_1": t["alpha_1"], "alpha_2": t["alpha_2"],
                     "omega": p["E_L_mV"] + t["omega_above_rest"]})
    # random initial membrane potentials (rest to 10 mV above), so the start is not in sync
    rng0 = np.random.default_rng(seed + 10_000)
    pop.set({"V_m": list(p["E_L_mV"] + 10.0 * rng0.random(n))})

    # recurrent synapses, exactly the drawn truth (one_to_one on explicit pre/post lists)
    ids = np.asarray(pop.tolist())
    src = ids[pre]
    tgt = ids[post]
    order = np.argsort(src, kind="stable")
    nest.Connect(src[order], tgt[order], "one_to_one",
                 {"synapse_model": "static_synapse", "weight": w_pA[order],
                  "delay": delay[order]})

    # background: independent Poisson trains per target (NEST draws one per target)
    n_e = p["n_exc"]
    w_bg = p["bg_psp_mV"] / k_ex
    if p["bg_rate_log_sd"] > 0:
        rng_bg = np.random.default_rng(seed + 20_000)
        base = np.where(is_exc, p["bg_rate_E_Hz"], p["bg_rate_I_Hz"])
        rates = base * np.exp(p["bg_rate_log_sd"] * rng_bg.standard_normal(n))
        bg = nest.Create("poisson_generator", n, params=[{"rate": float(r)} for r in rates])
        nest.Connect(bg, pop, "one_to_one", {"weight": w_bg, "delay": p["resolution_ms"]})
    else:
        bg_e = nest.Create("poisson_generator", params={"rate": p["bg_rate_E_Hz"]})
        bg_i = nest.Create("poisson_generator", params={"rate": p["bg_rate_I_Hz"]})
        nest.Connect(bg_e, pop[:n_e], "all_to_all",
                     {"weight": w_bg, "delay": p["resolution_ms"]})
        nest.Connect(bg_i, pop[n_e:], "all_to_all",
                     {"weight": w_bg, "delay": p["resolution_ms"]})

    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    n_conn = nest.GetKernelStatus("num_connections")
    expect = pre.size + 2 * n  # + background + recorder
    if n_conn != expect:
        raise RuntimeError(f"NEST holds {n_conn} connections, expected {expect}")

    times, units = [], []
    t0 = time.perf_counter()
    done = 0.0
    while done < duration_s - 1e-9:
        step = min(chunk_s, duration_s - done)
        nest.Simulate(step * 1000.0)
        ev = rec.get("events")
        times.append(np.asarray(ev["times"], dtype=float) / 1000.0)
        units.append(np.asarray(ev["senders"], dtype=np.int64) - int(ids[0]))
        rec.set({"n_events": 0})
        done += step
        if verbose:
            el = time.perf_counter() - t0
            print(f"  {done:.0f} s simulated in {el:.0f} s wall "
                  f"({sum(x.size for x in times)} spikes)", flush=True)
    t = np.concatenate(times)
    u = np.concatenate(units)
    o = np.lexsort((u, t))
    W_mV = np.zeros((n, n))
    W_pA = np.zeros((n, n))
    D = np.zeros((n, n))
    W_mV[post, pre] = psp
    W_pA[post, pre] = w_pA
    D[post, pre] = delay
    return dict(spike_times_s=t[o], spike_units=u[o].astype(np.int32), t_stop_s=float(duration_s),
                resolution_s=p["resolution_ms"] / 1000.0, W_post_pre_mV=W_mV,
                W_post_pre_pA=W_pA, delay_post_pre_ms=D, is_excitatory=is_exc,
                wall_s=time.perf_counter() - t0, nest_version=nest.__version__)


def summary(d: dict) -> dict:
    """Firing rates, ISI CV and a synchrony index of the simulated network."""
    t, u = d["spike_times_s"], d["spike_units"]
    T = d["t_stop_s"]
    n = d["is_excitatory"].size
    counts = np.bincount(u, minlength=n)
    rates = counts / T
    cvs = []
    for i in range(n):
        ti = t[u == i]
        if ti.size > 10:
            isi = np.diff(ti)
            cvs.append(isi.std() / isi.mean())
    cvs = np.array(cvs)
    # synchrony: variance of the population count in 5 ms bins over the sum of the
    # single-neuron variances (Golomb's chi^2; 1/n for independent, 1 for full sync)
    tb = min(T, 200.0)
    nb = int(tb / 0.005)
    sel = t < tb
    pc = np.zeros((n, nb))
    np.add.at(pc, (u[sel], np.minimum((t[sel] / 0.005).astype(int), nb - 1)), 1)
    chi2 = pc.sum(0).var() / max(pc.var(1).sum(), 1e-12) / n
    exc = d["is_excitatory"]
    return {"rate_E_Hz_mean": float(rates[exc].mean()),
            "rate_E_Hz_median": float(np.median(rates[exc])),
            "rate_E_Hz_p10_p90": [float(x) for x in np.percentile(rates[exc], [10, 90])],
            "rate_I_Hz_mean": float(rates[~exc].mean()),
            "rate_I_Hz_median": float(np.median(rates[~exc])),
            "silent_frac": float(np.mean(counts == 0)),
            "cv_isi_median": float(np.median(cvs)) if cvs.size else float("nan"),
            "cv_isi_p10_p90": [float(x) for x in np.percentile(cvs, [10, 90])],
            "synchrony_chi2": float(chi2),
            "n_synapses": int((d["W_post_pre_mV"] != 0).sum())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=60.0, help="simulated time, s")
    ap.add_argument("--out", default="", help=".npz to write (omit for a dry run)")
    ap.add_argument("--drive", choices=list(DRIVES), default="homog",
                    help="background drive: 'homog' (one rate per cell type) or 'hetero' "
                         "(log-normal per-neuron rates, larger and rarer background events)")
    ap.add_argument("--set", nargs="*", default=[],
                    help="override parameters, key=value (floats), for tuning runs")
    a = ap.parse_args()
    p = json.loads(json.dumps(PARAMS))
    p.update(DRIVES[a.drive])
    p["drive"] = a.drive
    for kv in a.set:
        k, v = kv.split("=")
        p[k] = float(v)
    d = simulate(p, a.seed, a.duration)
    s = summary(d)
    print(json.dumps({"seed": a.seed, "duration_s": a.duration, "wall_s": d["wall_s"], **s}))
    if a.out:
        np.savez_compressed(a.out, **{k: v for k, v in d.items() if k != "wall_s"},
                            params=json.dumps(p), seed=a.seed, summary=json.dumps(s))
        print("wrote", a.out)


if __name__ == "__main__":
    main()
