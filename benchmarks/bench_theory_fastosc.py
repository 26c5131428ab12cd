"""Brunel's fast oscillation with exponential synapses: where the first-order theory's lag
comes from (issue 17; results/theory3.md).

The linear theory puts the fast oscillation of Brunel's (2000) SI-fast point B (g = 6,
η = 4, D = 1.5 ms) 16-29 % below the simulated frequency when the synapses filter the input
(τ_s = 0.5-2 ms, results/theory2.md). The oscillation frequency solves the loop's phase
condition ``arg[e^{-iωD} H(iω)] = 0`` (mod 2π), where ``H`` is the population's rate response
to a modulation of the presynaptic rate. This benchmark measures ``H`` directly:

``transfer``: open loop. N unconnected LIF neurons (θ = 20, V_r = 10 mV, τ_m = 20 ms,
τ_ref = 2 ms) receive Poisson input exactly as a neuron of the network does — external
excitation C_E ν_ext (weight J) and recurrent E and I input C_E ν0 (J) and γ C_E ν0 (-gJ)
through exponential synapses of the same PSP area (or delta synapses for τ_s = 0), stepped
as the engine does (dt = 0.1 ms, exact exponential propagators, refractory clamp) — with the
recurrent rate modulated, ``ν0 (1 + Σ_k ε sin(2π f_k t + φ_k))``. ``H(f_k)`` is the ratio of
the output rate's Fourier coefficient at f_k to the input modulation's. ν0 is the network's
open loop's fixed point (output rate = input rate ν0, found by a few Newton steps), i.e. the
network's asynchronous state that the linear theory linearises around.
It is compared with the theory's ``H = k_μ A_μ + k_s A_s`` (``theory.lif_transfer_function``
with ``tau_syn``), and the phase condition is solved with both: the frequency where the
measured loop phase crosses zero is the oscillation frequency the measured single-neuron
response predicts.

Usage: ``nice python benchmarks/bench_theory_fastosc.py [N] [T] [eps] [seed] [taus_ms]``
(default 10,000 neurons, 8 s per τ_s, 2 % per sine, seed 1, τ_s = 0,0.5,1,2 ms; one JSON
line per τ_s; the run of results/theory3.md, N = 10,000 and T = 6 s, is saved in
results/theory3_fastosc.jsonl). ``... variants FILE.jsonl``: the theory's transfer function
with its parts switched off (no low-pass, low-pass on μ or σ² only) at the measured working
points of FILE, against the measured H (lag and |H| at 185 Hz, crossing).
"""

from __future__ import annotations

import json
import math
import sys
import time

import numba as nb
import numpy as np

from spikewire.core.rng import new_state, uniform

G, ETA, J, C_E, GAMMA, D = 6.0, 4.0, 0.1, 1000, 0.25, 1.5e-3
TAU_M, THETA, V_RESET, TAU_REF, DT = 0.020, 20.0, 10.0, 0.002, 1e-4
# simulated spectral peaks (Hz) of the network at the same τ_s, and the first-order theory's
PEAK_SIM = {0.0: 177.7, 0.5e-3: 183.6, 1e-3: 168.0, 2e-3: 158.2}
FREQS = np.array([90.0, 120.0, 140.0, 155.0, 165.0, 175.0, 185.0, 195.0, 210.0, 240.0])


@nb.njit(cache=True)
def _poisson(lam, u):
    """Poisson deviate by inversion of one uniform (lam < 30)."""
    p = math.exp(-lam)
    c = p
    k = 0
    while u > c and k < 200:
        k += 1
        p *= lam / k
        c += p
    return k


@nb.njit(cache=True, parallel=True)
def _open_loop(n, n_steps, dt, tau_s, lam_ext, lam_e, lam_i, w_e, w_i, mod, states, out):
    """Spike counts per step of n unconnected neurons; ``mod`` (n_steps,) multiplies the
    recurrent Poisson means ``lam_e``, ``lam_i`` (per step). One xoshiro256** state per
    block of neurons (``states`` (n_blocks, 4), drawn from a seeded Generator)."""
    n_blocks = states.shape[0]
    per = (n + n_blocks - 1) // n_blocks
    dm = math.exp(-dt / TAU_M)
    ds = math.exp(-dt / tau_s) if tau_s > 0 else 0.0
    p21 = tau_s / (tau_s - TAU_M) * (ds - dm) if tau_s > 0 else 0.0
    ref_steps = int(round(TAU_REF / dt))
    counts = np.zeros((n_blocks, n_steps), dtype=np.int32)
    for blk in nb.prange(n_blocks):
        s = states[blk].copy()
        for _ in range(blk * per, min(n, (blk + 1) * per)):
            v = V_RESET + (THETA - V_RESET) * uniform(s)
            cur = 0.0
            refr = 0
            for k in range(1, n_steps):
                m = mod[k]
                # external and recurrent excitation share the weight: one Poisson draw
                inp = (w_e * _poisson(lam_ext + lam_e * m, uniform(s))
                       + w_i * _poisson(lam_i * m, uniform(s)))
                if tau_s > 0:  # input arriving now enters the current, as in the engine
                    vn = v * dm + cur * p21
                    cur = cur * ds + inp
                else:
                    vn = v * dm + inp
                if refr > 0:
                    refr -= 1
                    v = V_RESET
                    continue
                if vn >= THETA:
                    v = V_RESET
                    refr = ref_steps
                    counts[blk, k] += 1
                else:
                    v = vn
    for blk in range(n_blocks):
        for k in range(n_steps):
            out[k] += counts[blk, k]


def _run(tau_s, nu0, n, duration, mod_fn, seed):
    nu_thr = THETA / (J * C_E * TAU_M)
    scale = TAU_M / tau_s if tau_s > 0 else 1.0  # same PSP area as the delta synapse
    n_steps = int(round(duration / DT))
    t = np.arange(n_steps) * DT
    rng = np.random.default_rng(seed)
    states = np.stack([new_state(rng) for _ in range(32)])
    out = np.zeros(n_steps, dtype=np.int64)
    _open_loop(n, n_steps, DT, tau_s, C_E * ETA * nu_thr * DT, C_E * nu0 * DT,
               GAMMA * C_E * nu0 * DT, J * scale, -G * J * scale, mod_fn(t), states, out)
    return t, out


def self_consistent_rate(tau_s, n=3000, duration=1.2, skip=0.2, iters=3, seed=11):
    """The open loop's fixed point ν_out(ν0) = ν0 (the network's asynchronous state):
    Newton steps with the theory's zero-frequency loop gain as slope."""
    from spikewire.theory import brunel_stationary_rates

    ts = tau_s if tau_s > 0 else None
    nu0 = float(brunel_stationary_rates(G, ETA, tau_syn=ts).low)
    slope = float(theory_H(tau_s, nu0, [1e-3])[0][0].real)
    for it in range(iters):
        t, out = _run(tau_s, nu0, n, duration, np.ones_like, seed + it)
        nu_out = out[t >= skip].sum() / (n * (duration - skip))
        nu0 = nu0 + (nu_out - nu0) / (1.0 - slope)
    return nu0, float(nu_out)


def measure(tau_s, nu0, n=10_000, duration=8.0, eps=0.02, skip=0.2, seed=1):
    rng = np.random.default_rng(seed + 100)
    phases = rng.uniform(0, 2 * np.pi, FREQS.size)

    def mod_fn(t):
        return 1.0 + eps * np.sin(2 * np.pi * FREQS[:, None] * t[None, :]
                                  + phases[:, None]).sum(0)

    t0 = time.perf_counter()
    t, out = _run(tau_s, nu0, n, duration, mod_fn, seed)
    t_sim = time.perf_counter() - t0
    keep = t >= skip
    tk = t[keep]
    rate = out[keep] / (n * DT)
    T = tk.size * DT
    H = []
    for f, ph in zip(FREQS, phases, strict=True):
        e = np.exp(-2j * np.pi * f * tk)
        c_out = 2.0 / T * np.sum(rate * e) * DT
        c_in = nu0 * eps * np.exp(1j * ph) / 1j  # sin(ωt + φ) = Im e^{i(ωt+φ)}
        H.append(c_out / c_in)
    H = np.array(H)
    # noise level: the same estimator at frequencies without modulation
    noise_f = FREQS + 2.5
    noise = []
    for f in noise_f:
        e = np.exp(-2j * np.pi * f * tk)
        noise.append(abs(2.0 / T * np.sum((rate - rate.mean()) * e) * DT) / (nu0 * eps))
    return {"rate_out": float(rate.mean()), "nu0": nu0, "H": H,
            "H_noise": float(np.sqrt(np.mean(np.square(noise)))), "sim_s": t_sim}


def theory_H(tau_s, nu0, freqs):
    from spikewire.theory import lif_transfer_function

    nu_thr = THETA / (J * C_E * TAU_M)
    nu_ext = ETA * nu_thr
    mu = C_E * J * TAU_M * (nu_ext + nu0 * (1 - G * GAMMA))
    sig = math.sqrt(C_E * J * J * TAU_M * (nu_ext + nu0 * (1 + G * G * GAMMA)))
    k_mu = C_E * J * TAU_M * (1 - G * GAMMA)
    k_s = C_E * J * J * TAU_M * (1 + G * G * GAMMA)
    _, a_mu, a_s = lif_transfer_function(2j * np.pi * np.asarray(freqs), mu, sig, TAU_M,
                                         THETA, V_RESET, TAU_REF,
                                         tau_syn=tau_s if tau_s > 0 else None)
    return k_mu * a_mu + k_s * a_s, mu, sig


def _crossing(freqs, H):
    """Frequency where the loop phase arg(-... e^{-iωD} H) crosses 0 (linear interpolation
    of the unwrapped phase), and the loop gain |H| there; None if no crossing."""
    loop = np.unwrap(np.angle(np.exp(-2j * np.pi * freqs * D) * H))
    # the loop phase falls with f; the crossing is where it passes an even multiple of π
    for k in range(freqs.size - 1):
        for m in range(-3, 4):
            a, b = loop[k] - 2 * np.pi * m, loop[k + 1] - 2 * np.pi * m
            if a * b <= 0 and a != b:
                w = a / (a - b)
                f = freqs[k] + w * (freqs[k + 1] - freqs[k])
                gain = abs(H[k]) + w * (abs(H[k + 1]) - abs(H[k]))
                return float(f), float(gain)
    return None, None


def variants(path):
    """Lag, |H| at 185 Hz and crossing of variants of the first-order response."""
    from spikewire.theory import colored_noise_shift, lif_transfer_function

    fine = np.arange(60.0, 320.0, 1.0)
    lam = 2j * np.pi * fine
    i185 = int(np.flatnonzero(fine == 185.0)[0])
    with open(path) as fh:
        rows = [json.loads(line) for line in fh if line.startswith("{")]
    for d in rows:
        ts, nu0 = d["tau_s_ms"] * 1e-3, d["nu0"]
        _, mu, sig = theory_H(ts, nu0, [1.0])
        c = float(colored_noise_shift(1.0, TAU_M, ts)) if ts > 0 else 0.0
        _, am, as_ = lif_transfer_function(lam, mu, sig, TAU_M, THETA + c * sig,
                                           V_RESET + c * sig, TAU_REF)
        as_ = as_ - c / (2 * sig) * am  # the shift moves with σ
        k_mu = C_E * J * TAU_M * (1 - G * GAMMA)
        k_s = C_E * J * J * TAU_M * (1 + G * G * GAMMA)
        filt = 1.0 / (1.0 + lam * ts)
        forms = {"shift x low-pass (library)": k_mu * am * filt + k_s * as_ * filt,
                 "shift, no low-pass": k_mu * am + k_s * as_,
                 "low-pass on mu only": k_mu * am * filt + k_s * as_,
                 "low-pass on sigma2 only": k_mu * am + k_s * as_ * filt}
        k = d["freqs"].index(185.0)
        out = {"tau_s_ms": d["tau_s_ms"],
               "measured": [round(math.pi - d["H_meas_phase"][k], 2), d["H_meas_abs"][k],
                            d["crossing_measured_hz"]]}
        for name, H in forms.items():
            f, _ = _crossing(fine, H)
            out[name] = [round(float(math.pi - np.angle(H[i185])), 2),
                         round(float(abs(H[i185])), 2), None if f is None else round(f, 1)]
        print(json.dumps(out), flush=True)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "variants":
        variants(sys.argv[2])
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    eps = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    taus = [float(x) * 1e-3 for x in sys.argv[5].split(",")] if len(sys.argv) > 5 \
        else [0.0, 0.5e-3, 1e-3, 2e-3]
    fine = np.arange(60.0, 320.0, 1.0)
    for tau_s in taus:
        t0 = time.perf_counter()
        nu0, nu_last = self_consistent_rate(tau_s)
        t_cal = time.perf_counter() - t0
        m = measure(tau_s, nu0, n=n, duration=duration, eps=eps, seed=seed)
        H_th, mu, sig = theory_H(tau_s, m["nu0"], FREQS)
        H_fine, _, _ = theory_H(tau_s, m["nu0"], fine)
        f_meas, g_meas = _crossing(FREQS, m["H"])
        f_th, g_th = _crossing(fine, H_fine)
        row = {"tau_s_ms": tau_s * 1e3, "eps": eps, "seed": seed, "nu0": round(nu0, 2),
               "nu0_last_out": round(nu_last, 2),
               "calib_s": round(t_cal, 1), "rate_out": round(m["rate_out"], 2),
               "mu": round(mu, 3), "sigma": round(sig, 3), "freqs": FREQS.tolist(),
               "H_meas_abs": np.round(np.abs(m["H"]), 3).tolist(),
               "H_meas_phase": np.round(np.angle(m["H"]), 3).tolist(),
               "H_theory_abs": np.round(np.abs(H_th), 3).tolist(),
               "H_theory_phase": np.round(np.angle(H_th), 3).tolist(),
               "H_noise_abs": round(m["H_noise"], 3),
               "crossing_measured_hz": None if f_meas is None else round(f_meas, 1),
               "loop_gain_measured": None if g_meas is None else round(g_meas, 2),
               "crossing_theory_hz": None if f_th is None else round(f_th, 1),
               "loop_gain_theory": None if g_th is None else round(g_th, 2),
               "network_peak_hz": PEAK_SIM[tau_s], "sim_s": round(m["sim_s"], 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
