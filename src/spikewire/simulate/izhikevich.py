"""Event-driven simulation of Izhikevich (2003) networks with heterogeneous delays.

Per time step ``k`` (time ``t_k = k·dt``):

1. the synaptic current of the step is the sum of the weights whose spikes arrive at
   ``t_k`` (a ring buffer holds them), scaled to carry the charge of a 1 ms pulse of
   amplitude ``w`` (``I += w · 1 ms / dt``; at ``dt = 1 ms`` Izhikevich's ``I += w``),
   plus the external drive;
2. stimulation pulses jump ``v`` (mV);
3. a neuron with ``v >= v_peak`` spikes at ``t_k``: ``v ← c``, ``u ← u + d``, and each of
   its synapses schedules its weight for step ``k + delay/dt`` (a spike at ``t`` reaches
   its target at exactly ``t + delay``);
4. ``v`` advances by forward Euler in ``ceil(dt / 0.5 ms)`` equal sub-steps (at
   ``dt = 1 ms`` the standard two half-steps of Izhikevich 2003/2006), then ``u`` by one
   Euler step of ``dt``, with the current held constant over the step.
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

__all__ = ["simulate_izhikevich"]


@nb.njit(cache=True, nogil=True)
def _izh_chunk(k, k1, v, u, cur, ring, col_ptr, row_idx, data, d_syn, d_const, a, b, c, d,
               vpeak, nsub, dt_ms, inv_dt_ms, mode, lam, exp_neg, w_ext, mu, sig, gain, group,
               stim_step, stim_idx, stim_amp, stim_pos, state, spk_step, spk_idx, n_spk):
    n = v.shape[0]
    ring_len = ring.shape[0]
    cap = spk_step.shape[0]
    per_syn = d_syn.shape[0] > 0
    modulated = gain.shape[0] > 0
    k0 = k
    h = dt_ms / nsub
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    while k < k1:
        if n_spk + n > cap:
            break
        slot = k % ring_len
        g_row = k - k0
        have = False
        z2 = 0.0
        for i in range(n):
            x = ring[slot, i] * inv_dt_ms
            ring[slot, i] = 0.0
            gi = gain[g_row, group[i]] if modulated else 1.0
            if mode == 1:
                e_i = -1.0 if modulated else exp_neg[i]
                cnt, s0, s1, s2, s3 = poisson_small(lam[i] * gi, e_i, s0, s1, s2, s3)
                x += cnt * w_ext * inv_dt_ms
            elif mode == 2:
                if have:
                    z = z2
                    have = False
                else:
                    z, z2, s0, s1, s2, s3 = normal_pair(s0, s1, s2, s3)
                    have = True
                x += gi * (mu[i] + sig[i] * z)
            cur[i] = x
        while stim_pos < stim_step.shape[0] and stim_step[stim_pos] <= k:
            if stim_step[stim_pos] == k:
                v[stim_idx[stim_pos]] += stim_amp[stim_pos]
            stim_pos += 1
        for i in range(n):
            if v[i] >= vpeak[i]:
                spk_step[n_spk] = k
                spk_idx[n_spk] = i
                n_spk += 1
                v[i] = c[i]
                u[i] += d[i]
                for s in range(col_ptr[i], col_ptr[i + 1]):
                    dl = d_syn[s] if per_syn else d_const
                    ring[(k + dl) % ring_len, row_idx[s]] += data[s]
        for i in range(n):
            vi = v[i]
            ui = u[i]
            ii = cur[i]
            for _ in range(nsub):
                vi += h * ((0.04 * vi + 5.0) * vi + 140.0 - ui + ii)
                if vi > 1e4:  # far past the peak: cap (the neuron spikes at the next step)
                    vi = 1e4
            ui += dt_ms * a[i] * (b[i] * vi - ui)
            v[i] = vi
            u[i] = ui
        k += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return k, n_spk, stim_pos


def simulate_izhikevich(network: Network, duration: float, *, dt: float = 1e-3,
                        seed=0, v_init: str | np.ndarray = "rest", modulation=None,
                        stimulation=None, progress: bool = False,
                        chunk_steps: int = 5000) -> object:
    """Run an Izhikevich network and return its spike trains.

    Parameters
    ----------
    network : Network
        With :class:`~spikewire.core.neurons.IzhikevichParams`; weights are current
        pulses in the model's units (a weight ``w`` moves ``v`` by about ``w`` mV), delays
        in s (each a multiple of ``dt``; ``None`` = one step).
    duration : float
        Biological time in s (a multiple of ``dt``).
    dt : float, default 1e-3
        Time step in s, 1e-5 to 1e-3. At 1 ms ``v`` advances in Izhikevich's two 0.5 ms
        half-steps; finer steps converge to the ODE.
    seed : int, SeedSequence or Generator, default 0
        Seeds the ``numpy.random.Generator`` from which the initial state and every draw
        of the external drive derive; the same seed gives bit-identical output.
    v_init : "rest", "uniform" or ndarray, default "rest"
        ``"rest"``: ``v = -65`` mV, ``u = b v`` (Izhikevich 2003); ``"uniform"``: ``v``
        uniform in [-70, -50) mV, ``u = b v``; or ``v`` per neuron (mV).
    modulation : DriveModulation, optional
        Gain per step and group multiplying the external Poisson rate, or the whole
        external noise current (mean and fluctuations), e.g.
        :class:`spikewire.observe.ArrayGain` for a slow shared co-modulation.
    stimulation : Stimulation, optional
        Pulses (times in s, neurons, amplitudes in mV) added to ``v``.
    progress : bool, default False
        Show a progress bar.
    chunk_steps : int, default 5000
        Steps per call of the compiled kernel.

    Returns
    -------
    SpikeTrains
        Unit id = neuron index, window ``[0, duration)``, spike times on the grid ``k·dt``;
        ``annotations`` hold ``engine="izhikevich"``, ``dt``, ``seed``.

    Notes
    -----
    External drive: a :class:`~spikewire.core.PoissonDrive` adds ``weight`` pulses at
    ``n_inputs · rate`` Hz (Izhikevich 2006's thalamic input: one random neuron per ms gets
    20, i.e. ``PoissonDrive(rate=1000 / N, weight=20)``); a
    :class:`~spikewire.core.WhiteNoiseDrive` adds a current ``mu + sigma ξ`` whose 1 ms
    averages have standard deviation ``sigma`` (Izhikevich 2003's thalamic noise:
    ``sigma`` = 5 for E, 2 for I at ``mu`` = 0).
    """
    duration, dt, n_steps = check_run(network, duration, dt, "izhikevich", 1e-3)
    rng = seeded_rng(seed, "simulation")
    n = network.n_neurons
    q = network.neuron_params()
    a, b, c, d, vpeak = (np.ascontiguousarray(q[k]) for k in ("a", "b", "c", "d", "v_peak"))
    if isinstance(v_init, str):
        if v_init == "rest":
            v = np.full(n, -65.0)
        elif v_init == "uniform":
            v = rng.uniform(-70.0, -50.0, size=n)
        else:
            raise ValueError(f"v_init must be 'rest', 'uniform' or an array, got {v_init!r}")
    else:
        v = np.asarray(v_init, dtype=float).copy()
        if v.shape != (n,) or not np.all(np.isfinite(v)):
            raise ValueError(f"v_init must be {n} finite potentials (mV)")
    u = b * v
    d_const, d_syn = delay_steps(network, dt)
    ring_len = int(max(d_const, int(d_syn.max()) if d_syn.size else 0)) + 1
    w = network.weights
    col_ptr = w.indptr.astype(np.int64)
    row_idx = w.indices.astype(np.int32, copy=False)
    data = w.data.astype(np.float64, copy=False)
    d_syn = d_syn.astype(np.int64)
    ring = np.zeros((ring_len, n))
    cur = np.zeros(n)
    drv = drive_arrays(network.drive, n, dt)
    group = group_index(modulation, n)
    stim_step, stim_idx, stim_amp = stimulation_arrays(stimulation, n, n_steps, dt)
    stim_pos = 0
    state = new_state(rng)
    dt_ms = dt * 1e3
    nsub = max(1, math.ceil(dt_ms / 0.5 - 1e-9))

    cap = int(max(4 * n, 10.0 * n * duration * 1.2 + 2 * n))
    cap = min(cap, 50_000_000)
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
            k_new, n_spk, stim_pos = _izh_chunk(
                k, k1, v, u, cur, ring, col_ptr, row_idx, data, d_syn, d_const, a, b, c, d,
                vpeak, nsub, dt_ms, 1.0 / dt_ms, drv.mode, drv.lam, exp_neg, drv.w_ext, drv.mu,
                drv.sig, gain, group, stim_step, stim_idx, stim_amp, stim_pos, state, spk_step,
                spk_idx, n_spk)
            if k_new < k1:  # spike buffer full: grow it
                if gain.shape[0]:
                    gain = gain[k_new - k:]
                spk_step = np.concatenate([spk_step, np.empty_like(spk_step)])
                spk_idx = np.concatenate([spk_idx, np.empty_like(spk_idx)])
            if bar is not None:
                bar.update(k_new - k)
            k = k_new
    if bar is not None:
        bar.close()
    ann = {"engine": "izhikevich", "dt": dt, "seed": seed_annotation(seed),
           "duration": duration, "network": network.name}
    return finish(spk_step, spk_idx, n_spk, n, dt, duration, ann)
