"""Event-driven simulation of conductance-based AdEx networks (Brette & Gerstner 2005).

Per time step ``k`` (time ``t_k = k·dt``):

1. conductance increments arriving at ``t_k`` (ring buffer) and the external Poisson
   input are added to ``g_e`` (weights > 0) or ``g_i`` (``|w|`` of weights < 0), in nS;
2. stimulation pulses jump ``V`` (mV);
3. a neuron with ``V >= V_peak`` spikes at ``t_k``: ``V ← V_reset``, ``w ← w + b``, ``V`` is
   held for ``tau_ref``, and each synapse schedules its increment for ``t_k + delay``;
4. ``V`` and ``w`` advance by one forward-Euler step (the exponential term is capped at
   ``V_peak``, ``V`` at ``V_peak``), then ``g_e``, ``g_i`` decay exactly by
   ``exp(-dt/τ)``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)
from spikewire.core.network import Network
from spikewire.core.seeds import rng as seeded_rng
from spikewire.simulate._common import (
    check_run,
    drive_arrays,
    finish,
    gain_chunk,
    group_index,
    normal_pair,
    poisson_small,
    seed_annotation,
    stimulation_arrays,
)
from spikewire.simulate._rng import new_state
from spikewire.simulate.lif import delay_steps

__all__ = ["simulate_adex"]


@nb.njit(cache=True, nogil=True)
def _adex_chunk(k, k1, V, W, ge, gi, refr, ring_e, ring_i, col_ptr, row_idx, data, d_syn,
                d_const, dt_c, gL, EL, VT, DT, a, dt_tw, b, Vr, Vpk, ref_steps, Ee, Ei, dec_e,
                dec_i, dt_ms, mode, lam, exp_neg, w_ext, mu, sig, gain, group, stim_step, stim_idx,
                stim_amp, stim_pos, state, spk_step, spk_idx, n_spk):
    n = V.shape[0]
    ring_len = ring_e.shape[0]
    cap = spk_step.shape[0]
    per_syn = d_syn.shape[0] > 0
    modulated = gain.shape[0] > 0
    k0 = k
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    while k < k1:
        if n_spk + n > cap:
            break
        slot = k % ring_len
        g_row = k - k0
        have = False
        z2 = 0.0
        for i in range(n):
            ge[i] += ring_e[slot, i]
            gi[i] += ring_i[slot, i]
            ring_e[slot, i] = 0.0
            ring_i[slot, i] = 0.0
        while stim_pos < stim_step.shape[0] and stim_step[stim_pos] <= k:
            if stim_step[stim_pos] == k:
                V[stim_idx[stim_pos]] += stim_amp[stim_pos]
            stim_pos += 1
        for i in range(n):
            if V[i] >= Vpk[i]:
                spk_step[n_spk] = k
                spk_idx[n_spk] = i
                n_spk += 1
                V[i] = Vr[i]
                W[i] += b[i]
                refr[i] = ref_steps[i]
                for s in range(col_ptr[i], col_ptr[i + 1]):
                    dl = d_syn[s] if per_syn else d_const
                    x = data[s]
                    if x >= 0.0:
                        ring_e[(k + dl) % ring_len, row_idx[s]] += x
                    else:
                        ring_i[(k + dl) % ring_len, row_idx[s]] -= x
        for i in range(n):
            gain_i = gain[g_row, group[i]] if modulated else 1.0
            i_ext = 0.0
            if mode == 1:
                e_i = -1.0 if modulated else exp_neg[i]
                cnt, s0, s1, s2, s3 = poisson_small(lam[i] * gain_i, e_i, s0, s1, s2, s3)
                if w_ext >= 0.0:
                    ge[i] += cnt * w_ext
                else:
                    gi[i] -= cnt * w_ext
            elif mode == 2:
                if have:
                    z = z2
                    have = False
                else:
                    z, z2, s0, s1, s2, s3 = normal_pair(s0, s1, s2, s3)
                    have = True
                i_ext = gain_i * (mu[i] + sig[i] * z)
            v = V[i]
            wi = W[i]
            if refr[i] > 0:
                refr[i] -= 1
                v_new = Vr[i]
            else:
                arg = (min(v, Vpk[i]) - VT[i]) / DT[i]
                i_tot = (-gL[i] * (v - EL[i]) + gL[i] * DT[i] * math.exp(arg) - wi + i_ext
                         + ge[i] * (Ee[i] - v) + gi[i] * (Ei[i] - v))
                v_new = v + i_tot * dt_c[i]
                if v_new > Vpk[i]:
                    v_new = Vpk[i]
            W[i] = wi + dt_tw[i] * (a[i] * (v - EL[i]) - wi)
            V[i] = v_new
            ge[i] *= dec_e[i]
            gi[i] *= dec_i[i]
        k += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return k, n_spk, stim_pos


def simulate_adex(network: Network, duration: float, *, dt: float = 1e-4, seed=0,
                  v_init: str | np.ndarray = "rest", modulation=None, stimulation=None,
                  progress: bool = False, chunk_steps: int = 5000):
    """Run a conductance-based AdEx network and return its spike trains.

    Parameters
    ----------
    network : Network
        With :class:`~spikewire.core.neurons.AdExParams`; weights are conductance
        increments in nS (``> 0`` excitatory, ``< 0`` inhibitory), delays in s (multiples
        of ``dt``; ``None`` = one step).
    duration : float
        Biological time in s (a multiple of ``dt``).
    dt : float, default 1e-4
        Time step in s, 1e-5 to 1e-4 (forward Euler needs steps well below τ_m and
        Δ_T-scale upswings).
    seed : int, SeedSequence or Generator, default 0
        Seeds the ``numpy.random.Generator`` behind the initial state and the drive.
    v_init : "rest", "uniform" or ndarray, default "rest"
        ``"rest"``: ``V = E_L``; ``"uniform"``: uniform between ``E_L`` and ``V_T``; or
        per neuron (mV). ``w`` starts at 0.
    modulation : DriveModulation, optional
        Gain multiplying the external Poisson rate or the whole noise current.
    stimulation : Stimulation, optional
        Pulses (times in s, neurons, amplitudes in mV) added to ``V``.
    progress : bool, default False
    chunk_steps : int, default 5000

    Returns
    -------
    SpikeTrains
        Unit id = neuron index, times on the grid ``k·dt``; ``annotations`` hold
        ``engine="adex"``, ``dt``, ``seed``.

    Notes
    -----
    Drive: a :class:`~spikewire.core.PoissonDrive` adds ``weight`` nS to ``g_e`` (``g_i``
    when negative) per input spike at ``n_inputs · rate`` Hz; a
    :class:`~spikewire.core.WhiteNoiseDrive` is a current in pA, ``mu + sigma ξ`` with
    1 ms averages of standard deviation ``sigma``.
    """
    duration, dt, n_steps = check_run(network, duration, dt, "adex", 1e-4)
    rng = seeded_rng(seed, "simulation")
    n = network.n_neurons
    q = {k: np.ascontiguousarray(v) for k, v in network.neuron_params().items()}
    if isinstance(v_init, str):
        if v_init == "rest":
            V = q["E_L"].copy()
        elif v_init == "uniform":
            V = rng.uniform(q["E_L"], q["V_T"])
        else:
            raise ValueError(f"v_init must be 'rest', 'uniform' or an array, got {v_init!r}")
    else:
        V = np.asarray(v_init, dtype=float).copy()
        if V.shape != (n,) or not np.all(np.isfinite(V)):
            raise ValueError(f"v_init must be {n} finite potentials (mV)")
    W = np.zeros(n)
    ge = np.zeros(n)
    gi = np.zeros(n)
    refr = np.zeros(n, dtype=np.int64)
    d_const, d_syn = delay_steps(network, dt)
    ring_len = int(max(d_const, int(d_syn.max()) if d_syn.size else 0)) + 1
    w = network.weights
    col_ptr = w.indptr.astype(np.int64)
    row_idx = w.indices.astype(np.int32, copy=False)
    data = w.data.astype(np.float64, copy=False)
    d_syn = d_syn.astype(np.int64)
    ring_e = np.zeros((ring_len, n))
    ring_i = np.zeros((ring_len, n))
    drv = drive_arrays(network.drive, n, dt)
    group = group_index(modulation, n)
    stim_step, stim_idx, stim_amp = stimulation_arrays(stimulation, n, n_steps, dt)
    stim_pos = 0
    state = new_state(rng)
    dt_ms = dt * 1e3
    ref_steps = np.rint(q["tau_ref"] / dt).astype(np.int64)
    tau_w_ms = q["tau_w"] * 1e3
    dec_e = np.exp(-dt / q["tau_e"])
    dec_i = np.exp(-dt / q["tau_i"])

    cap = int(min(max(4 * n, 10.0 * n * duration * 1.2 + 2 * n), 50_000_000))
    spk_step = np.empty(cap, dtype=np.int64)
    spk_idx = np.empty(cap, dtype=np.int32)
    n_spk = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, unit="step", desc=f"simulate {network.name}", leave=False)
    exp_neg = np.exp(-drv.lam)
    k = 0
    while k < n_steps:
        k1 = min(k + chunk_steps, n_steps)
        gain = gain_chunk(modulation, k, k1, dt)
        while k < k1:
            k_new, n_spk, stim_pos = _adex_chunk(
                k, k1, V, W, ge, gi, refr, ring_e, ring_i, col_ptr, row_idx, data, d_syn,
                d_const, dt_ms / q["C"], q["g_L"], q["E_L"], q["V_T"], q["Delta_T"], q["a"],
                dt_ms / tau_w_ms,
                q["b"], q["V_reset"], q["V_peak"], ref_steps, q["E_e"], q["E_i"], dec_e, dec_i,
                dt_ms, drv.mode, drv.lam, exp_neg, drv.w_ext, drv.mu, drv.sig, gain, group,
                stim_step, stim_idx, stim_amp, stim_pos, state, spk_step, spk_idx, n_spk)
            if k_new < k1:
                if gain.shape[0]:
                    gain = gain[k_new - k:]
                spk_step = np.concatenate([spk_step, np.empty_like(spk_step)])
                spk_idx = np.concatenate([spk_idx, np.empty_like(spk_idx)])
            if bar is not None:
                bar.update(k_new - k)
            k = k_new
    if bar is not None:
        bar.close()
    ann = {"engine": "adex", "dt": dt, "seed": seed_annotation(seed), "duration": duration,
           "network": network.name}
    return finish(spk_step, spk_idx, n_spk, n, dt, duration, ann)
