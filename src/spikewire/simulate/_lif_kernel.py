"""Compiled LIF time-stepping kernels (numba).

Time grid: state ``V_k`` at ``t_k = k·dt``. Step ``k`` advances from ``t_{k-1}`` to ``t_k``
by exact exponential integration; inputs that arrive at step ``k`` (ring-buffer slot
``k mod L``) jump the membrane (delta synapses) or the synaptic state (current synapses,
through the propagators of :mod:`spikewire.core.synapses`) at ``t_k``. A neuron spikes at
``t_k`` if ``V_k >= θ``; its synapses deliver at step ``k + d`` so the first effect on a
target appears exactly one delay later. During the refractory period the membrane is
clamped at ``V_reset``; inputs arriving then are dropped with delta synapses, while with
current synapses the synaptic state keeps integrating them (as NEST's ``iaf_psc_exp`` and
``iaf_psc_alpha``). Stimulation pulses are voltage jumps in both.

The kernels take their inputs grouped in small records (named tuples of arrays, which
numba passes as structs): the mutable :class:`NeuronState`, the :class:`Connectivity`, the
:class:`NeuronConsts`, the :class:`SynapseProp` propagators, the :class:`DriveConfig`, the
:class:`Stimulus` pulses and the :class:`SpikeBuffer` output.
"""

from __future__ import annotations

import math
import platform
import sys
from enum import IntEnum
from typing import NamedTuple

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

import spikewire.core.jit  # noqa: F401  (numba cache folder, before any @njit)
from spikewire.core.procedural import next_target
from spikewire.core.rng import substream
from spikewire.simulate._rng import normal, poisson, poisson_guided, uniform, xo_next


class DriveMode(IntEnum):
    """How the external drive is generated in the kernel."""

    NONE = 0
    #: Poisson counts per neuron and step by inversion (per-neuron or modulated rates)
    POISSON = 1
    #: Gaussian white noise and a mean input, straight into the membrane
    WHITE_NOISE = 2
    #: one Poisson rate for every neuron: guide-table sampling (about 4x faster)
    POISSON_TABLE = 3


class NeuronState(NamedTuple):
    """Mutable state: potentials ``V`` (N,) mV, synaptic state ``S`` (m, N), pending
    stimulation jumps ``vjump`` (N,) mV, refractory counters ``refr`` (N,) steps and the
    delivery ``ring`` (L, N) mV."""

    V: np.ndarray
    S: np.ndarray
    vjump: np.ndarray
    refr: np.ndarray
    ring: np.ndarray


class Connectivity(NamedTuple):
    """CSC synapses (``col_ptr``, ``row_idx``, weights ``w`` in mV) and delays: per synapse
    in steps (``syn_delay``, empty when all equal) or one ``delay_const`` in steps."""

    col_ptr: np.ndarray
    row_idx: np.ndarray
    w: np.ndarray
    syn_delay: np.ndarray
    delay_const: int


class NeuronConsts(NamedTuple):
    """Per-neuron constants, shape (N,): membrane decay ``exp(-dt/τ_m)``, ``v_rest``,
    ``theta``, ``v_reset`` (mV) and the refractory period in steps."""

    decay_m: np.ndarray
    v_rest: np.ndarray
    theta: np.ndarray
    v_reset: np.ndarray
    ref_steps: np.ndarray


class SynapseProp(NamedTuple):
    """Per-neuron synapse propagators (see :meth:`spikewire.core.synapses.Synapse.propagators`),
    neuron index last so that each entry is a contiguous row: ``A`` (m, m, N), ``c`` (m, N),
    ``b`` (m, N), for ``m = 0`` (delta) or ``m = 1`` (exponential) state variables."""

    A: np.ndarray
    c: np.ndarray
    b: np.ndarray


class LinearSynapseProp(NamedTuple):
    """As :class:`SynapseProp` for any number ``m`` of synaptic state variables (alpha
    synapses: 2). A record type of its own, so that numba compiles the general
    ``m``-state update into a separate specialisation of :func:`lif_chunk` and the
    delta / exponential loop stays as lean (and as fast) as it was."""

    A: np.ndarray
    c: np.ndarray
    b: np.ndarray


def make_synapse_prop(A: np.ndarray, c: np.ndarray, b: np.ndarray):
    """The kernel record for propagators of shapes (m, m, N), (m, N), (m, N)."""
    return (SynapseProp if A.shape[0] <= 1 else LinearSynapseProp)(A, c, b)


def _membrane_input(syn, S, S0, c0, A00, b0, vjump, i, base, inp, s_new):
    """``V`` after the step from ``base = V_rest + (V - V_rest)·exp(-dt/τ_m)`` and the
    input ``inp`` arriving now; advances the synaptic state of neuron ``i``."""
    raise NotImplementedError  # compiled only (see the overload below)


@overload(_membrane_input, inline="always")
def _membrane_input_impl(syn, S, S0, c0, A00, b0, vjump, i, base, inp, s_new):
    if getattr(syn, "instance_class", None) is LinearSynapseProp:
        def general(syn, S, S0, c0, A00, b0, vjump, i, base, inp, s_new):
            # any linear synapse: V += c·s, s <- A s + b·inp
            A, c, b = syn.A, syn.c, syn.b
            m = S.shape[0]
            v = base
            for a in range(m):
                v += S[a, i] * c[a, i]
            v += vjump[i]
            vjump[i] = 0.0
            for a in range(m):
                x = 0.0
                for q in range(m):
                    x += A[a, q, i] * S[q, i]
                s_new[a] = x + inp * b[a, i]
            for a in range(m):
                S[a, i] = s_new[a]
            return v
        return general

    def delta_or_exponential(syn, S, S0, c0, A00, b0, vjump, i, base, inp, s_new):
        if S.shape[0] == 0:
            return base + inp
        v = base + S0[i] * c0[i] + vjump[i]  # exponential synapses, written out
        vjump[i] = 0.0
        S0[i] = S0[i] * A00[i] + inp * b0[i]
        return v
    return delta_or_exponential


class DriveConfig(NamedTuple):
    """External drive: ``mode`` (a :class:`DriveMode` value), Poisson means per step
    ``lam_ext`` (N,), weight ``w_ext`` (mV), white-noise mean ``mu_ext`` (N,) mV and step
    amplitude ``noise_amp`` (N,) mV, the modulation ``group`` (N,) of each neuron and the
    guide table (``pois_cdf``, ``pois_guide``) for :attr:`DriveMode.POISSON_TABLE`."""

    mode: int
    lam_ext: np.ndarray
    w_ext: float
    mu_ext: np.ndarray
    noise_amp: np.ndarray
    group: np.ndarray
    pois_cdf: np.ndarray
    pois_guide: np.ndarray


class Stimulus(NamedTuple):
    """Stimulation pulses sorted by step: ``step`` (int64), ``idx`` (int32), ``amp`` (mV)."""

    step: np.ndarray
    idx: np.ndarray
    amp: np.ndarray


class SpikeBuffer(NamedTuple):
    """Output: spike steps (int64) and neuron indices (int32), filled up to ``n_spk``."""

    step: np.ndarray
    idx: np.ndarray


class FastDelta(NamedTuple):
    """Extra inputs of :func:`lif_chunk_delta`: per-presynaptic weight ``w_col`` (used when
    ``const_w``), ``hetero`` (neuron constants differ between neurons), ``poisson_on`` and
    the integer guide table (``pois_cdf_int``, bucket ``x >> guide_shift``)."""

    w_col: np.ndarray
    const_w: bool
    hetero: bool
    poisson_on: bool
    pois_cdf_int: np.ndarray
    guide_shift: int


_POISSON = DriveMode.POISSON.value
_WHITE_NOISE = DriveMode.WHITE_NOISE.value
_POISSON_TABLE = DriveMode.POISSON_TABLE.value


@nb.njit(cache=True, nogil=True)
def lif_chunk(step0, step1, st, net, neu, syn, drv, gain, stim, stim_pos, rng, out, n_spk):
    """Advance the network from step ``step0`` to ``step1 - 1`` (inclusive).

    ``st`` :class:`NeuronState`, ``net`` :class:`Connectivity`, ``neu``
    :class:`NeuronConsts`, ``syn`` :class:`SynapseProp` or :class:`LinearSynapseProp`
    (:func:`make_synapse_prop`), ``drv`` :class:`DriveConfig`,
    ``gain`` (steps, groups) drive modulation (shape (0, 0) for none), ``stim``
    :class:`Stimulus` from position ``stim_pos``, ``rng`` the xoshiro state, ``out``
    :class:`SpikeBuffer` holding ``n_spk`` spikes.

    Returns ``(next_step, n_spk, stim_pos)``; ``next_step < step1`` when the spike buffer is
    nearly full (the caller grows it and calls again).
    """
    V, S, vjump, refr, ring = st.V, st.S, st.vjump, st.refr, st.ring
    col_ptr, row_idx, w = net.col_ptr, net.row_idx, net.w
    syn_delay, delay_const = net.syn_delay, net.delay_const
    decay_m, v_rest, theta, v_reset, ref_steps = (neu.decay_m, neu.v_rest, neu.theta,
                                                  neu.v_reset, neu.ref_steps)
    A, c, b = syn.A, syn.c, syn.b
    drive_mode, lam_ext, w_ext = drv.mode, drv.lam_ext, drv.w_ext
    mu_ext, noise_amp, group = drv.mu_ext, drv.noise_amp, drv.group
    pois_cdf, pois_guide = drv.pois_cdf, drv.pois_guide
    stim_step, stim_idx, stim_amp = stim.step, stim.idx, stim.amp
    spk_step, spk_idx = out.step, out.idx
    N = V.shape[0]
    L = ring.shape[0]
    m = S.shape[0]
    cap = spk_step.shape[0]
    per_syn = syn_delay.shape[0] > 0
    n_groups = gain.shape[1]
    last_lam = -1.0
    exp_neg = 1.0
    s_new = np.zeros(max(m, 1))
    # one-state synapses (exponential) read contiguous rows, as fast as 1-D arrays
    if m > 0:
        S0, c0, A00, b0 = S[0], c[0], A[0, 0], b[0]
    else:  # unused placeholders of the same type
        S0, c0, A00, b0 = decay_m, decay_m, decay_m, decay_m
    k = step0
    while k < step1:
        if n_spk + N > cap:
            return k, n_spk, stim_pos
        slot = k % L
        row_g = k - step0
        # stimulation pulses at this step: voltage jumps. With delta synapses the ring slot
        # is exactly that; with current synapses the ring feeds the synaptic state, so
        # pulses go to a separate per-neuron jump instead.
        while stim_pos < stim_step.shape[0] and stim_step[stim_pos] == k:
            if m > 0:
                vjump[stim_idx[stim_pos]] += stim_amp[stim_pos]
            else:
                ring[slot, stim_idx[stim_pos]] += stim_amp[stim_pos]
            stim_pos += 1
        for i in range(N):
            inp = ring[slot, i]
            ring[slot, i] = 0.0
            g = 1.0
            if n_groups > 0:
                g = gain[row_g, group[i]]
            if drive_mode == _POISSON_TABLE:
                inp += w_ext * poisson_guided(rng, pois_cdf, pois_guide)
            elif drive_mode == _POISSON:
                lam = lam_ext[i] * g
                if lam != last_lam:
                    last_lam = lam
                    exp_neg = math.exp(-lam)
                inp += w_ext * poisson(rng, lam, exp_neg)
            dm = decay_m[i]
            vr = v_rest[i]
            v = _membrane_input(syn, S, S0, c0, A00, b0, vjump, i, vr + (V[i] - vr) * dm,
                                inp, s_new)
            if drive_mode == _WHITE_NOISE:
                v += mu_ext[i] * g * (1.0 - dm) + noise_amp[i] * normal(rng)
            if refr[i] > 0:
                refr[i] -= 1
                V[i] = v_reset[i]
                continue
            if v >= theta[i]:
                V[i] = v_reset[i]
                refr[i] = ref_steps[i]
                spk_step[n_spk] = k
                spk_idx[n_spk] = i
                n_spk += 1
                if per_syn:
                    for s in range(col_ptr[i], col_ptr[i + 1]):
                        ring[(k + syn_delay[s]) % L, row_idx[s]] += w[s]
                else:
                    dslot = (k + delay_const) % L
                    for s in range(col_ptr[i], col_ptr[i + 1]):
                        ring[dslot, row_idx[s]] += w[s]
            else:
                V[i] = v
        k += 1
    return k, n_spk, stim_pos


def empty_i64():
    return np.zeros(0, dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def column_constant(col_ptr, w):
    """``(True, w_col)`` if every presynaptic neuron's outgoing weights are all equal.

    ``w_col[j]`` is then that weight (as float64; 0 for a neuron without synapses). The
    fast kernel then reads one weight per spike instead of one per synapse. Stops at the
    first column that is not constant.
    """
    n = col_ptr.shape[0] - 1
    w_col = np.zeros(n, dtype=np.float64)
    for j in range(n):
        a, b = col_ptr[j], col_ptr[j + 1]
        if b > a:
            x = w[a]
            for s in range(a + 1, b):
                if w[s] != x:
                    return False, w_col
            w_col[j] = x
    return True, w_col


@nb.njit(cache=True, nogil=True)
def lif_chunk_delta(step0, step1, st, net, neu, drv, fd, stim, stim_pos, rng, out, n_spk):
    """Fast path of :func:`lif_chunk`: delta synapses, one delay, homogeneous Poisson drive.

    Same semantics, same random stream and (for a float64 ring) the same additions in the
    same order as :func:`lif_chunk` with :attr:`DriveMode.POISSON_TABLE` (or no drive), so
    its output is bit-identical. Takes the records of :func:`lif_chunk` plus ``fd``
    (:class:`FastDelta`). What makes it faster:

    - the generator state is held in registers (``xo_next``) rather than in an array;
    - the guide-table Poisson inversion runs on integers (``pois_cdf_int`` from
      ``_rng.integer_cdf``; bucket ``x >> guide_shift``), which is exact: same deviates;
    - ``row_idx`` may be uint16 (N ≤ 65,536), halving the memory traffic of the scatter;
    - each step runs three loops: Poisson counts (serial: the generator), the membrane
      update written without branches (so LLVM vectorises it; spikes are flagged), and a
      scan of the flags (8 at a time) that appends the spikes in neuron order; their
      synapses are scattered after that, into the slot ``k + D``;
    - with ``const_w`` (every neuron's outgoing weights equal, as in Brunel's model) one
      weight per spike is read instead of one per synapse;
    - the neuron parameters are per-neuron arrays as in :func:`lif_chunk`, but unless
      ``hetero`` (they differ between neurons) the membrane loop reads their first entry
      only, so a homogeneous network pays nothing for them.
    """
    V, refr, ring = st.V, st.refr, st.ring
    col_ptr, row_idx, w, delay_const = net.col_ptr, net.row_idx, net.w, net.delay_const
    decay_m, v_rest, theta, v_reset, ref_steps = (neu.decay_m, neu.v_rest, neu.theta,
                                                  neu.v_reset, neu.ref_steps)
    w_ext, pois_guide = drv.w_ext, drv.pois_guide
    w_col, const_w, hetero, poisson_on = fd.w_col, fd.const_w, fd.hetero, fd.poisson_on
    pois_cdf_int, guide_shift = fd.pois_cdf_int, fd.guide_shift
    stim_step, stim_idx, stim_amp = stim.step, stim.idx, stim.amp
    spk_step, spk_idx = out.step, out.idx
    N = V.shape[0]
    L = ring.shape[0]
    cap = spk_step.shape[0]
    sh_g = np.uint64(guide_shift)
    sh_u = np.uint64(11)
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    Np = (N + 7) // 8 * 8
    cnt = np.zeros(N, dtype=np.uint16)  # Poisson counts (kmax of the table < 65,536)
    flag = np.zeros(Np, dtype=np.uint8)
    flag64 = flag.view(np.uint64)
    dm0, vr0, th0, vs0 = decay_m[0], v_rest[0], theta[0], v_reset[0]
    refr_s = np.int32(ref_steps[0])
    k = step0
    while k < step1:
        if n_spk + N > cap:
            break
        slot = k % L
        r = ring[slot]
        while stim_pos < stim_step.shape[0] and stim_step[stim_pos] == k:
            r[stim_idx[stim_pos]] += stim_amp[stim_pos]
            stim_pos += 1
        if poisson_on:
            for i in range(N):
                x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
                m = x >> sh_u
                c = pois_guide[x >> sh_g]
                while m > pois_cdf_int[c]:
                    c += 1
                cnt[i] = c
        if hetero:
            for i in range(N):
                inp = np.float64(r[i]) + w_ext * cnt[i]
                r[i] = 0.0
                v = v_rest[i] + (V[i] - v_rest[i]) * decay_m[i] + inp
                rf = refr[i]
                free = rf <= 0
                sp = free & (v >= theta[i])
                V[i] = v if (free and not sp) else v_reset[i]
                refr[i] = ref_steps[i] if sp else (rf - 1 if rf > 0 else rf)
                flag[i] = sp
        else:
            for i in range(N):
                inp = np.float64(r[i]) + w_ext * cnt[i]
                r[i] = 0.0
                v = vr0 + (V[i] - vr0) * dm0 + inp
                rf = refr[i]
                free = rf <= 0
                sp = free & (v >= th0)
                V[i] = v if (free and not sp) else vs0
                refr[i] = refr_s if sp else (rf - 1 if rf > 0 else rf)
                flag[i] = sp
        first = n_spk
        for b in range(Np // 8):
            if flag64[b] != 0:
                for i in range(8 * b, min(8 * b + 8, N)):
                    if flag[i]:
                        spk_step[n_spk] = k
                        spk_idx[n_spk] = i
                        n_spk += 1
        if n_spk > first:
            rd = ring[(k + delay_const) % L]
            one = np.uint64(1)
            # the columns are far larger than the caches: keep _AHEAD of them in flight
            for q in range(first, min(first + _AHEAD, n_spk)):
                j = spk_idx[q]
                _prefetch_synapses(row_idx, w, col_ptr[j], col_ptr[j + 1], const_w)
            for q in range(first, n_spk):
                if q + _AHEAD < n_spk:
                    j = spk_idx[q + _AHEAD]
                    _prefetch_synapses(row_idx, w, col_ptr[j], col_ptr[j + 1], const_w)
                j = spk_idx[q]
                s = np.uint64(col_ptr[j])
                s_end = np.uint64(col_ptr[j + 1])
                if const_w:
                    x_w = w_col[j]
                    while s < s_end:
                        rd[row_idx[s]] += x_w
                        s += one
                else:
                    while s < s_end:
                        rd[row_idx[s]] += w[s]
                        s += one
        k += 1
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return k, n_spk, stim_pos


@nb.njit(cache=True, nogil=True)
def spikes_by_neuron(spk_step, spk_idx, n, dt):
    """Time-ordered spikes (steps, neuron indices) → spike times grouped by neuron.

    Returns ``(times, indptr)``: neuron ``i``'s spike times ``step · dt`` (s) are
    ``times[indptr[i]:indptr[i + 1]]``, in the input's order (a stable counting sort, the
    same result as a stable ``argsort`` of the indices, in O(spikes + n))."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    for q in range(spk_idx.shape[0]):
        indptr[spk_idx[q] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    pos = indptr[:n].copy()
    times = np.empty(spk_idx.shape[0], dtype=np.float64)
    for q in range(spk_idx.shape[0]):
        i = spk_idx[q]
        times[pos[i]] = spk_step[q] * dt
        pos[i] += 1
    return times, indptr


class Procedural(NamedTuple):
    """Procedural connectivity for :func:`lif_chunk_procedural`: presynaptic weight ``w_pre``
    (N,) mV (ring precision), substream ``key`` (uint64), ``log1mp`` = log(1 - p), and
    ``autapses``. Neuron ``j``'s targets are regenerated from ``substream(key, j)`` at each
    of its spikes (:func:`spikewire.core.procedural.next_target`)."""

    w_pre: np.ndarray
    key: np.uint64
    log1mp: float
    autapses: bool


@nb.njit(cache=True, nogil=True)
def lif_chunk_procedural(step0, step1, st, neu, drv, fd, pc, stim, stim_pos, rng, out, n_spk):
    """:func:`lif_chunk_delta` with procedural connectivity ``pc`` (:class:`Procedural`).

    Same membrane update (written in the per-neuron form, which gives the same values as the
    homogeneous form when the constants are equal), same random stream for the drive, same
    spike order; each spiking neuron's targets are regenerated in increasing order and
    receive ``w_pre[j]`` in the slot ``k + D``, the additions :func:`lif_chunk_delta` makes
    for a stored network with those targets and constant per-neuron weights. Memory: the
    state is O(N), whatever the number of synapses.
    """
    V, refr, ring = st.V, st.refr, st.ring
    decay_m, v_rest, theta, v_reset, ref_steps = (neu.decay_m, neu.v_rest, neu.theta,
                                                  neu.v_reset, neu.ref_steps)
    w_ext, pois_guide = drv.w_ext, drv.pois_guide
    poisson_on = fd.poisson_on
    pois_cdf_int, guide_shift = fd.pois_cdf_int, fd.guide_shift
    w_pre, key, log1mp, autapses = pc.w_pre, pc.key, pc.log1mp, pc.autapses
    pc_delay = ring.shape[0] - 1  # the ring has D + 1 slots for the one delay D
    stim_step, stim_idx, stim_amp = stim.step, stim.idx, stim.amp
    spk_step, spk_idx = out.step, out.idx
    N = V.shape[0]
    L = ring.shape[0]
    cap = spk_step.shape[0]
    sh_g = np.uint64(guide_shift)
    sh_u = np.uint64(11)
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    ext = np.zeros(N, dtype=np.float64)
    k = step0
    while k < step1:
        if n_spk + N > cap:
            break
        slot = k % L
        r = ring[slot]
        while stim_pos < stim_step.shape[0] and stim_step[stim_pos] == k:
            r[stim_idx[stim_pos]] += stim_amp[stim_pos]
            stim_pos += 1
        if poisson_on:
            for i in range(N):
                x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
                m = x >> sh_u
                c = pois_guide[x >> sh_g]
                while m > pois_cdf_int[c]:
                    c += 1
                ext[i] = w_ext * c
        first = n_spk
        for i in range(N):
            inp = np.float64(r[i]) + ext[i]
            r[i] = 0.0
            v = v_rest[i] + (V[i] - v_rest[i]) * decay_m[i] + inp
            rf = refr[i]
            free = rf <= 0
            sp = free & (v >= theta[i])
            V[i] = v if (free and not sp) else v_reset[i]
            refr[i] = ref_steps[i] if sp else (rf - 1 if rf > 0 else rf)
            if sp:
                spk_step[n_spk] = k
                spk_idx[n_spk] = i
                n_spk += 1
        if n_spk > first and log1mp != 0.0:
            rd = ring[(k + pc_delay) % L]
            for q in range(first, n_spk):
                j = spk_idx[q]
                x_w = w_pre[j]
                t0, t1, t2, t3 = substream(key, j)
                i = np.int64(-1)
                while True:
                    i, t0, t1, t2, t3 = next_target(i, log1mp, t0, t1, t2, t3)
                    if i >= N:
                        break
                    if i != j or autapses:
                        rd[i] += x_w
        k += 1
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return k, n_spk, stim_pos


# --------------------------------------------------------------------------------------
# Parallel fast path: postsynaptic blocks on several threads, bit-identical to the serial
# kernel (same draws, same additions in the same order for every target).
#
# xoshiro256**'s state transition T is linear over GF(2) (xor, shift, rotate), so "advance
# the state n draws" is a 256 x 256 bit matrix T^n. A block that starts at neuron i0 takes
# the draws i0 .. i1 - 1 of each step by applying T^i0 once, drawing its own i1 - i0
# numbers, and skipping the other N - (i1 - i0) of the step with T^(N - i1 + i0): the
# numbers the serial kernel would give the same neurons, whatever the block partition.


class ThreadPlan(NamedTuple):
    """Block partition for :func:`lif_chunk_delta_par`.

    ``bounds`` (n_blocks + 1,) int64: block ``b`` owns postsynaptic neurons
    ``bounds[b] .. bounds[b + 1] - 1`` (interior bounds are multiples of 16, so that no two
    blocks share a cache line of the ring, the potentials or the flags). ``seg``
    (n_blocks + 1, N) int64: presynaptic neuron ``j``'s synapses onto block ``b`` are
    ``seg[b, j] .. seg[b + 1, j] - 1`` of the CSC arrays (rows sorted within each column).
    ``start`` (n_blocks, 256, 4) uint64: jump matrix ``T^bounds[b]``; ``skip`` (n_blocks,
    256, 4): ``T^(N - block size)`` (see :func:`xo_jump_matrix`). ``super_steps``: steps
    advanced per parallel region (at most the delay, see :func:`lif_chunk_delta_par`).
    """

    bounds: np.ndarray
    seg: np.ndarray
    start: np.ndarray
    skip: np.ndarray
    super_steps: int


@nb.njit(inline="always")
def _xo_apply(M, s0, s1, s2, s3):
    """``M · s`` over GF(2): the xor of the columns ``M[j]`` whose state bit ``j`` is set."""
    r0 = np.uint64(0)
    r1 = np.uint64(0)
    r2 = np.uint64(0)
    r3 = np.uint64(0)
    one = np.uint64(1)
    zero = np.uint64(0)
    for q in range(4):
        x = s0 if q == 0 else (s1 if q == 1 else (s2 if q == 2 else s3))
        for bit in range(64):
            m = zero - ((x >> np.uint64(bit)) & one)  # all ones if the bit is set
            j = 64 * q + bit
            r0 ^= M[j, 0] & m
            r1 ^= M[j, 1] & m
            r2 ^= M[j, 2] & m
            r3 ^= M[j, 3] & m
    return r0, r1, r2, r3


@nb.njit(cache=True, nogil=True)
def xo_jump_matrix(n):
    """Columns of ``T^n`` as a (256, 4) uint64 array: row ``j`` is the state reached after
    ``n`` draws from the state whose only set bit is bit ``j`` (word ``j // 64``, bit
    ``j % 64``). Applying it to a state (:func:`_xo_apply`) advances that state ``n``
    draws. Square-and-multiply: O(log n) products of 256 x 256 bit matrices."""
    result = np.zeros((256, 4), dtype=np.uint64)
    base = np.zeros((256, 4), dtype=np.uint64)
    one = np.uint64(1)
    for j in range(256):
        result[j, j // 64] = one << np.uint64(j % 64)  # identity
        e = [np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0)]
        e[j // 64] = one << np.uint64(j % 64)
        _, t0, t1, t2, t3 = xo_next(e[0], e[1], e[2], e[3])  # one step: T
        base[j, 0], base[j, 1], base[j, 2], base[j, 3] = t0, t1, t2, t3
    tmp = np.zeros((256, 4), dtype=np.uint64)
    while n > 0:
        if n & 1:  # result <- base · result (powers of T commute)
            for j in range(256):
                tmp[j, 0], tmp[j, 1], tmp[j, 2], tmp[j, 3] = _xo_apply(
                    base, result[j, 0], result[j, 1], result[j, 2], result[j, 3])
            result[:] = tmp
        n >>= 1
        if n > 0:  # base <- base · base
            for j in range(256):
                tmp[j, 0], tmp[j, 1], tmp[j, 2], tmp[j, 3] = _xo_apply(
                    base, base[j, 0], base[j, 1], base[j, 2], base[j, 3])
            base[:] = tmp
    return result


@nb.njit(cache=True, nogil=True)
def columns_sorted(col_ptr, row_idx):
    """Whether the rows of every CSC column are in non-decreasing order."""
    for j in range(col_ptr.shape[0] - 1):
        for s in range(col_ptr[j] + 1, col_ptr[j + 1]):
            if row_idx[s] < row_idx[s - 1]:
                return False
    return True


@nb.njit(cache=True, nogil=True)
def block_segments(col_ptr, row_idx, bounds):
    """``seg`` of :class:`ThreadPlan`: per block bound and column, the first synapse whose
    row is at or above the bound (binary search; rows sorted within each column)."""
    nb_ = bounds.shape[0] - 1
    n_pre = col_ptr.shape[0] - 1
    seg = np.empty((nb_ + 1, n_pre), dtype=np.int64)
    for j in range(n_pre):
        a, e = col_ptr[j], col_ptr[j + 1]
        seg[0, j] = a
        seg[nb_, j] = e
        for b in range(1, nb_):
            lo, hi = a, e
            x = bounds[b]
            while lo < hi:
                mid = (lo + hi) // 2
                if np.int64(row_idx[mid]) < x:
                    lo = mid + 1
                else:
                    hi = mid
            seg[b, j] = lo
    return seg


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to load the cache line of ``arr[idx]`` (``llvm.prefetch``, read, high
    locality); no effect on results, no fault for any index."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch")
        ptr = builder.bitcast(builder.gep(ary.data, [i]), i8p)
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


_AHEAD = 4  # spikes ahead whose synapse ranges are prefetched
_PF_LINES = 64  # at most this many 64-byte lines of one range are prefetched


@nb.njit(inline="always")
def _prefetch_synapses(row_idx, w, a, e, const_w):
    """Prefetch the index lines (and the weight lines unless ``const_w``) of synapses
    ``a .. e - 1`` (at most ``_PF_LINES`` lines of each)."""
    step = 64 // row_idx.itemsize
    for s in range(a, min(e, a + _PF_LINES * step), step):
        _prefetch(row_idx, s)
    if not const_w:
        step_w = 64 // w.itemsize
        for s in range(a, min(e, a + _PF_LINES * step_w), step_w):
            _prefetch(w, s)


@nb.njit(inline="always")
def _deliver(rd, pend_spk, pend_cnt, p, bmax, seg, b, row_idx, w, w_col, const_w):
    """Add the synapses onto block ``b`` of every block's spikes of pending step ``p`` to
    the slot ``rd``, in spike (neuron) order.

    Each spike reads one short index range (about 1/n_blocks of its column) from an array
    far larger than the caches, so the memory latency of those ranges, not the additions,
    set the pace: the whole range of the spike ``_AHEAD`` places ahead in the step's
    (block, neuron) order is prefetched, so that ``_AHEAD`` ranges are in flight while
    this spike's additions run (measured on Brunel N = 12,500: 0.21 s instead of 0.36 s
    per block and simulated second, see ``benchmarks/results/engine.md``)."""
    one = np.uint64(1)
    n_blk = pend_spk.shape[0]
    base = p * bmax
    # look-ahead cursor (block lc, position lq) over the step's spikes of all blocks
    lc = 0
    lq = base
    for _ in range(_AHEAD):
        while lc < n_blk and lq >= base + pend_cnt[lc, p]:
            lc += 1
            lq = base
        if lc < n_blk:
            jn = pend_spk[lc, lq]
            _prefetch_synapses(row_idx, w, seg[b, jn], seg[b + 1, jn], const_w)
            lq += 1
    for c in range(n_blk):
        for q in range(base, base + pend_cnt[c, p]):
            while lc < n_blk and lq >= base + pend_cnt[lc, p]:
                lc += 1
                lq = base
            if lc < n_blk:
                jn = pend_spk[lc, lq]
                _prefetch_synapses(row_idx, w, seg[b, jn], seg[b + 1, jn], const_w)
                lq += 1
            j = pend_spk[c, q]
            a = np.uint64(seg[b, j])
            e = np.uint64(seg[b + 1, j])
            if const_w:
                x_w = w_col[j]
                while a < e:
                    rd[row_idx[a]] += x_w
                    a += one
            else:
                while a < e:
                    rd[row_idx[a]] += w[a]
                    a += one


@nb.njit(cache=True, nogil=True)
def _block_region(b, k, n_steps, pend_k0, pend_n, pend_spk, pend_cnt, st, net, neu, drv, fd,
                  stim, stim_pos, plan, ext, flag, blk_rng, blk_spk, blk_cnt):
    """One block's share of a parallel region of :func:`lif_chunk_delta_par`.

    Advances steps ``k .. k + n_steps - 1`` for this block's neurons (stimulation, Poisson
    drive, membrane), its spikes of step ``k + s`` going to ``blk_spk[b, s * Bmax:]``
    (``blk_cnt[b, s]`` of them). The spikes of the previous region (``pend_n`` steps from
    ``pend_k0``; block ``c``'s spikes of step ``pend_k0 + p`` are
    ``pend_spk[c, p * Bmax:][:pend_cnt[c, p]]``, in neuron order) are scattered, block by
    block (so in neuron order), into this block's rows of their delivery slot
    ``pend_k0 + p + D``, just before that slot is read (while it is in the cache), or after
    the last step for slots beyond this region.
    """
    V, refr, ring = st.V, st.refr, st.ring
    row_idx, w, delay_const = net.row_idx, net.w, net.delay_const
    decay_m, v_rest, theta, v_reset, ref_steps = (neu.decay_m, neu.v_rest, neu.theta,
                                                  neu.v_reset, neu.ref_steps)
    w_ext, pois_guide = drv.w_ext, drv.pois_guide
    w_col, const_w, hetero, poisson_on = fd.w_col, fd.const_w, fd.hetero, fd.poisson_on
    pois_cdf_int, guide_shift = fd.pois_cdf_int, fd.guide_shift
    stim_step, stim_idx, stim_amp = stim.step, stim.idx, stim.amp
    bounds, seg, skip = plan.bounds, plan.seg, plan.skip
    i0, i1 = bounds[b], bounds[b + 1]
    N = V.shape[0]
    L = ring.shape[0]
    bmax = blk_spk.shape[1] // max(plan.super_steps, 1)
    # pending step p is delivered at slot pend_k0 + p + D: just before that slot is read
    # (while it is hot in the cache), or at the end for slots after this region
    p = 0
    sh_g = np.uint64(guide_shift)
    sh_u = np.uint64(11)
    s0, s1, s2, s3 = blk_rng[b, 0], blk_rng[b, 1], blk_rng[b, 2], blk_rng[b, 3]
    jm = skip[b]
    dm0, vr0, th0, vs0 = decay_m[0], v_rest[0], theta[0], v_reset[0]
    refr_s = np.int32(ref_steps[0])
    sp_pos = stim_pos
    # per-block views indexed from 0: LLVM then knows the indices are not negative and
    # vectorises the membrane loop as in the serial kernel (a loop over range(i0, i1) with
    # i0 from an array keeps numba's negative-index check and runs ~1.4x slower)
    nb_i = i1 - i0
    Vb, refr_b, ext_b, flag_b = V[i0:i1], refr[i0:i1], ext[i0:i1], flag[i0:i1]
    if hetero:
        dm_b, vr_b, th_b = decay_m[i0:i1], v_rest[i0:i1], theta[i0:i1]
        vs_b, rs_b = v_reset[i0:i1], ref_steps[i0:i1]
    else:  # unused placeholders of the same types
        dm_b, vr_b, th_b, vs_b, rs_b = decay_m, v_rest, theta, v_reset, ref_steps
    for st_ in range(n_steps):
        kk = k + st_
        while p < pend_n and pend_k0 + p + delay_const <= kk:
            _deliver(ring[(pend_k0 + p + delay_const) % L], pend_spk, pend_cnt, p, bmax, seg,
                     b, row_idx, w, w_col, const_w)
            p += 1
        r = ring[kk % L]
        while sp_pos < stim_step.shape[0] and stim_step[sp_pos] == kk:
            t = stim_idx[sp_pos]
            if i0 <= t < i1:
                r[t] += stim_amp[sp_pos]
            sp_pos += 1
        rb = r[i0:i1]
        if poisson_on:
            for i in range(nb_i):
                x, s0, s1, s2, s3 = xo_next(s0, s1, s2, s3)
                m = x >> sh_u
                c = pois_guide[x >> sh_g]
                while m > pois_cdf_int[c]:
                    c += 1
                ext_b[i] = c
            s0, s1, s2, s3 = _xo_apply(jm, s0, s1, s2, s3)  # the other blocks' draws
        if hetero:
            for i in range(nb_i):
                inp = np.float64(rb[i]) + w_ext * ext_b[i]
                rb[i] = 0.0
                v = vr_b[i] + (Vb[i] - vr_b[i]) * dm_b[i] + inp
                rf = refr_b[i]
                free = rf <= 0
                sp = free & (v >= th_b[i])
                Vb[i] = v if (free and not sp) else vs_b[i]
                refr_b[i] = rs_b[i] if sp else (rf - 1 if rf > 0 else rf)
                flag_b[i] = sp
        else:
            for i in range(nb_i):
                inp = np.float64(rb[i]) + w_ext * ext_b[i]
                rb[i] = 0.0
                v = vr0 + (Vb[i] - vr0) * dm0 + inp
                rf = refr_b[i]
                free = rf <= 0
                sp = free & (v >= th0)
                Vb[i] = v if (free and not sp) else vs0
                refr_b[i] = refr_s if sp else (rf - 1 if rf > 0 else rf)
                flag_b[i] = sp
        flag64 = flag.view(np.uint64)
        cnt = 0
        base = st_ * bmax
        for wd in range(i0 // 8, (i1 + 7) // 8):
            if flag64[wd] != 0:
                for i in range(8 * wd, min(8 * wd + 8, N)):
                    if flag[i]:
                        blk_spk[b, base + cnt] = i
                        cnt += 1
        blk_cnt[b, st_] = cnt
    while p < pend_n:
        _deliver(ring[(pend_k0 + p + delay_const) % L], pend_spk, pend_cnt, p, bmax, seg, b,
                 row_idx, w, w_col, const_w)
        p += 1
    blk_rng[b, 0], blk_rng[b, 1], blk_rng[b, 2], blk_rng[b, 3] = s0, s1, s2, s3


# --- a barrier for the block threads: atomics and sched_yield as LLVM intrinsics ---------


@intrinsic
def _atomic_add(typingctx, arr, idx, val):
    """``arr[idx] += val`` atomically (sequentially consistent) on an int64 array; returns
    the old value."""
    sig = types.int64(arr, idx, val)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        return builder.atomic_rmw("add", ptr, v, "seq_cst")

    return sig, codegen


@intrinsic
def _atomic_load(typingctx, arr, idx):
    """``arr[idx]`` read atomically (acquire) from an int64 array."""
    sig = types.int64(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def _atomic_store(typingctx, arr, idx, val):
    """``arr[idx] = val`` atomically (release) on an int64 array."""
    sig = types.void(arr, idx, val)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        builder.store_atomic(v, ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _sched_yield(typingctx):
    """POSIX ``sched_yield()``: give the core to another runnable thread."""
    sig = types.int32()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "sched_yield")
        return builder.call(fn, [])

    return sig, codegen


@intrinsic
def _futex(typingctx, arr, idx, op, val):
    """Linux ``futex(&arr[idx], op, val, timeout)`` on the low 32 bits of an int64 array
    entry, the relative timeout being the ``timespec`` at ``arr[_TIMEOUT:]``."""
    sig = types.int64(arr, idx, op, val)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        tptr = cgutils.get_item_pointer(context, builder, aryty, ary,
                                        [context.get_constant(types.intp, _TIMEOUT)])
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)], var_arg=True)
        fn = cgutils.get_or_insert_function(builder.module, fnty, "syscall")
        op_ = context.cast(builder, args[2], signature.args[2], types.int32)
        val_ = context.cast(builder, args[3], signature.args[3], types.int32)
        return builder.call(fn, [ir.Constant(ir.IntType(64), 202),  # SYS_futex (x86-64)
                                 builder.bitcast(ptr, i8p), op_, val_,
                                 builder.bitcast(tptr, i8p)])

    return sig, codegen


#: layout of the int64 ``sync`` array (each entry on its own 64-byte line): arrivals,
#: generation, abort flag, sleeping threads, and the futex timeout (timespec: s, ns)
_ARRIVED, _GENERATION, _ABORT, _SLEEPERS, _TIMEOUT = 0, 8, 16, 24, 32
_SYNC_SIZE = 40
_SPINS = 2000  # atomic reads before sleeping (a few µs)
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129  # FUTEX_*_PRIVATE
#: sleep in the kernel (futex) while waiting: Linux on x86-64; elsewhere sched_yield
_USE_FUTEX = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


@nb.njit(inline="always")
def _barrier(sync, n_threads):
    """Wait until ``n_threads`` threads have arrived; False if the run was aborted.

    Generation barrier: the last thread to arrive resets the count and advances the
    generation, which the others poll, first spinning, then asleep (Linux futex, woken by
    the last thread; elsewhere ``sched_yield``), so that waiting threads do not take CPU
    time from the machine's other work. A sleeper wakes at least every 10 ms to check the
    abort flag."""
    gen = _atomic_load(sync, _GENERATION)
    if _atomic_add(sync, _ARRIVED, 1) == n_threads - 1:
        _atomic_store(sync, _ARRIVED, 0)
        _atomic_add(sync, _GENERATION, 1)
        if _USE_FUTEX and _atomic_load(sync, _SLEEPERS) > 0:
            _futex(sync, _GENERATION, _FUTEX_WAKE, 2**31 - 1)
        return True
    spins = 0
    while _atomic_load(sync, _GENERATION) == gen:
        if _atomic_load(sync, _ABORT) != 0:
            return False
        spins += 1
        if spins > _SPINS:
            if _USE_FUTEX:
                _atomic_add(sync, _SLEEPERS, 1)
                # sleeps only while the generation's low 32 bits are still `gen`'s
                _futex(sync, _GENERATION, _FUTEX_WAIT, gen & 0xFFFFFFFF)
                _atomic_add(sync, _SLEEPERS, -1)
            else:
                _sched_yield()
    return True


def new_sync() -> np.ndarray:
    """A fresh ``sync`` array for :func:`lif_block_worker` (futex timeout 10 ms)."""
    sync = np.zeros(_SYNC_SIZE, dtype=np.int64)
    sync[_TIMEOUT + 1] = 10_000_000
    return sync


class BlockWork(NamedTuple):
    """Scratch shared by the block threads of :func:`lif_block_worker`: Poisson counts
    ``ext`` (N,) uint16, spike ``flag`` (N rounded up to 8,) uint8, generator states ``blk_rng``
    (n_blocks, 4), spike lists ``blk_spk`` (2, n_blocks, super_steps · Bmax) int32 and
    counts ``blk_cnt`` (2, n_blocks, super_steps) (two buffers: the previous region's,
    being delivered, and this region's), the barrier ``sync`` (int64) and ``result``
    (next step, spike count, stimulation position)."""

    ext: np.ndarray
    flag: np.ndarray
    blk_rng: np.ndarray
    blk_spk: np.ndarray
    blk_cnt: np.ndarray
    sync: np.ndarray
    result: np.ndarray


@nb.njit(cache=True, nogil=True)
def block_start_states(start, rng, blk_rng):
    """Each block's generator state: ``T^bounds[b]`` applied to the run's state ``rng``."""
    for b in range(start.shape[0]):
        blk_rng[b, 0], blk_rng[b, 1], blk_rng[b, 2], blk_rng[b, 3] = _xo_apply(
            start[b], rng[0], rng[1], rng[2], rng[3])


@nb.njit(inline="always")
def _copy_own_spikes(b, n_blocks, pend_k0, pend_n, pend_cnt, pend_spk, bmax, n_before,
                     spk_step, spk_idx):
    """Block ``b``'s spikes of the pending region to their place in ``out``: time order,
    and neuron order (blocks in order) within a step."""
    pos = n_before
    for p in range(pend_n):
        for c in range(n_blocks):
            m = pend_cnt[c, p]
            if c == b:
                for q in range(m):
                    spk_step[pos + q] = pend_k0 + p
                    spk_idx[pos + q] = pend_spk[b, p * bmax + q]
            pos += m


@nb.njit(cache=True, nogil=True)
def lif_block_worker(b, step0, step1, st, net, neu, drv, fd, plan, stim, stim_pos, out,
                     n_spk, work):
    """Block ``b``'s thread of the parallel fast path: :func:`lif_chunk_delta` split over
    blocks of postsynaptic neurons (``plan``: :class:`ThreadPlan`, ``work``:
    :class:`BlockWork`; one thread per block runs this function, with the same
    arguments but ``b``).

    Bit-identical to :func:`lif_chunk_delta` (same spikes in the same order, same final
    state and generator state) for any block partition and number of threads:

    - the blocks advance in regions of up to ``plan.super_steps`` steps, at most the delay
      D: a spike at step k is delivered at k + D, so blocks need each other's spikes only
      once per region, and one barrier per region (not per step) synchronises the threads;
    - in each region a block first delivers the previous region's spikes of every block,
      in (step, neuron) order, to its own targets (each column's synapses onto the block
      are one index range, ``plan.seg``), so every target receives its inputs in the
      serial kernel's order, and copies its own spikes of the previous region to their
      place in ``out`` (time order, neuron order within a step);
    - each block draws the Poisson counts of its own neurons from the serial stream,
      jumping over the other blocks' draws (:func:`xo_jump_matrix`).

    Work starts at ``step0`` with ``n_spk`` spikes in ``out``; stops at ``step1`` or when
    ``out`` could overflow. The last region's spikes are delivered before returning, so the
    state equals the serial kernel's at the step reached. Block 0 writes (step reached,
    spikes, stimulation position) to ``work.result``; its generator state
    ``work.blk_rng[0]`` is then the serial kernel's. Returns False if the run was aborted
    (``work.sync[_ABORT]`` set by the caller because another thread failed).
    """
    N = st.V.shape[0]
    spk_step, spk_idx = out.step, out.idx
    cap = spk_step.shape[0]
    bounds = plan.bounds
    n_blocks = bounds.shape[0] - 1
    S = max(plan.super_steps, 1)
    bmax = work.blk_spk.shape[2] // S
    blk_cnt, blk_spk, sync = work.blk_cnt, work.blk_spk, work.sync
    n_stim = stim.step.shape[0]
    buf = 0
    pend_k0 = step0
    pend_n = 0
    n_before = n_spk  # spikes in `out` before the pending region's
    k = step0
    while True:
        n_steps = 0
        if k < step1:
            n_steps = max(0, min(S, step1 - k, (cap - n_spk) // max(N, 1)))
        if n_steps == 0 and pend_n == 0:
            break
        _block_region(b, k, n_steps, pend_k0, pend_n, blk_spk[1 - buf], blk_cnt[1 - buf],
                      st, net, neu, drv, fd, stim, stim_pos, plan, work.ext, work.flag,
                      work.blk_rng, blk_spk[buf], blk_cnt[buf])
        # this block's spikes of the pending region go to their place in `out`
        _copy_own_spikes(b, n_blocks, pend_k0, pend_n, blk_cnt[1 - buf], blk_spk[1 - buf],
                         bmax, n_before, spk_step, spk_idx)
        if not _barrier(sync, n_blocks):
            return False
        n_before = n_spk
        for p in range(n_steps):
            for c in range(n_blocks):
                n_spk += blk_cnt[buf, c, p]
        while stim_pos < n_stim and stim.step[stim_pos] < k + n_steps:
            stim_pos += 1
        pend_k0 = k
        pend_n = n_steps
        k += n_steps
        buf = 1 - buf
    if b == 0:
        work.result[0] = k
        work.result[1] = n_spk
        work.result[2] = stim_pos
    return True


# --- the general kernel on several threads ------------------------------------------------


@nb.njit(inline="always")
def _normal_counted(s):
    """:func:`spikewire.core.rng.normal` (the same draws, the same value) and the number of
    extra uniforms it drew (redraws of an exact 0, probability 2^-53 each)."""
    extra = 0
    u1 = uniform(s)
    while u1 <= 0.0:
        u1 = uniform(s)
        extra += 1
    u2 = uniform(s)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2), extra


@nb.njit(inline="always")
def _poisson_counted(s, lam, exp_neg_lam):
    """:func:`spikewire.core.rng.poisson` (the same draws, the same value) and the number of
    extra uniforms drawn by its normal approximation (lam >= 30)."""
    if lam < 30.0:
        return poisson(s, lam, exp_neg_lam), 0
    z, extra = _normal_counted(s)
    x = lam + math.sqrt(lam) * z + 0.5
    return max(0, np.int64(math.floor(x))), extra


@nb.njit(cache=True, nogil=True)
def _block_region_general(b, k, n_steps, pend_k0, pend_n, pend_spk, pend_cnt, st, net, neu,
                          syn, drv, stim, stim_pos, plan, blk_rng, blk_spk, blk_cnt, s_new):
    """One block's share of a parallel region of :func:`lif_block_worker_general`.

    First delivers the previous region's spikes (``pend_n`` steps from ``pend_k0``, every
    block's, in (step, neuron) order) to this block's targets, each synapse into the slot
    of its own delay: every delay is at least the region length, so these slots belong to
    steps not yet advanced, and every target receives its inputs in :func:`lif_chunk`'s
    order. Then advances steps ``k .. k + n_steps - 1`` for the block's neurons with the
    per-neuron loop of :func:`lif_chunk` (no drive modulation), recording the spikes in
    ``blk_spk[b]`` / ``blk_cnt[b]`` instead of delivering them; after each step the
    block's generator skips the other blocks' draws (``plan.skip[b]``).
    """
    V, S, vjump, refr, ring = st.V, st.S, st.vjump, st.refr, st.ring
    row_idx, w = net.row_idx, net.w
    syn_delay, delay_const = net.syn_delay, net.delay_const
    decay_m, v_rest, theta, v_reset, ref_steps = (neu.decay_m, neu.v_rest, neu.theta,
                                                  neu.v_reset, neu.ref_steps)
    A, c, bb = syn.A, syn.c, syn.b
    drive_mode, lam_ext, w_ext = drv.mode, drv.lam_ext, drv.w_ext
    pois_cdf, pois_guide = drv.pois_cdf, drv.pois_guide
    stim_step, stim_idx, stim_amp = stim.step, stim.idx, stim.amp
    bounds, seg = plan.bounds, plan.seg
    i0, i1 = bounds[b], bounds[b + 1]
    L = ring.shape[0]
    m = S.shape[0]
    per_syn = syn_delay.shape[0] > 0
    bmax = blk_spk.shape[1] // max(plan.super_steps, 1)
    n_blk = pend_spk.shape[0]
    one = np.uint64(1)
    for p in range(pend_n):
        kp = pend_k0 + p
        rd = ring[(kp + delay_const) % L]
        for cb in range(n_blk):
            for q in range(p * bmax, p * bmax + pend_cnt[cb, p]):
                j = pend_spk[cb, q]
                a = np.uint64(seg[b, j])
                e = np.uint64(seg[b + 1, j])
                if per_syn:
                    while a < e:
                        ring[(kp + syn_delay[a]) % L, row_idx[a]] += w[a]
                        a += one
                else:
                    while a < e:
                        rd[row_idx[a]] += w[a]
                        a += one
    rng = blk_rng[b]
    jm = plan.skip[b]
    draws = drive_mode != _DRIVE_NONE
    mu_ext, noise_amp = drv.mu_ext, drv.noise_amp
    g = 1.0  # no drive modulation
    redraws = 0
    last_lam = -1.0
    exp_neg = 1.0
    if m > 0:
        S0, c0, A00, b0 = S[0], c[0], A[0, 0], bb[0]
    else:  # unused placeholders of the same type
        S0, c0, A00, b0 = decay_m, decay_m, decay_m, decay_m
    sp_pos = stim_pos
    for st_ in range(n_steps):
        kk = k + st_
        slot = kk % L
        while sp_pos < stim_step.shape[0] and stim_step[sp_pos] == kk:
            t = stim_idx[sp_pos]
            if i0 <= t < i1:
                if m > 0:
                    vjump[t] += stim_amp[sp_pos]
                else:
                    ring[slot, t] += stim_amp[sp_pos]
            sp_pos += 1
        cnt = 0
        base = st_ * bmax
        rs = ring[slot]
        # unsigned indices: no negative-index wraparound code in this loop
        for i in range(np.uint64(i0), np.uint64(i1)):
            inp = rs[i]
            rs[i] = 0.0
            if drive_mode == _POISSON_TABLE:
                inp += w_ext * poisson_guided(rng, pois_cdf, pois_guide)
            elif drive_mode == _POISSON:
                lam = lam_ext[i] * g
                if lam != last_lam:
                    last_lam = lam
                    exp_neg = math.exp(-lam)
                n_in, extra = _poisson_counted(rng, lam, exp_neg)
                redraws += extra
                inp += w_ext * n_in
            dm = decay_m[i]
            vr = v_rest[i]
            v = _membrane_input(syn, S, S0, c0, A00, b0, vjump, i, vr + (V[i] - vr) * dm,
                                inp, s_new)
            if drive_mode == _WHITE_NOISE:
                z, extra = _normal_counted(rng)
                redraws += extra
                v += mu_ext[i] * g * (1.0 - dm) + noise_amp[i] * z
            if refr[i] > 0:
                refr[i] -= 1
                V[i] = v_reset[i]
                continue
            if v >= theta[i]:
                V[i] = v_reset[i]
                refr[i] = ref_steps[i]
                blk_spk[b, base + cnt] = i
                cnt += 1
            else:
                V[i] = v
        blk_cnt[b, st_] = cnt
        if draws:  # the other blocks' draws of this step
            rng[0], rng[1], rng[2], rng[3] = _xo_apply(jm, rng[0], rng[1], rng[2], rng[3])
    return redraws


_DRIVE_NONE = DriveMode.NONE.value


@nb.njit(cache=True, nogil=True)
def lif_block_worker_general(b, step0, step1, st, net, neu, syn, drv, plan, stim, stim_pos,
                             out, n_spk, work):
    """Block ``b``'s thread of the parallel general kernel: :func:`lif_chunk` (any linear
    synapse, per-synapse delays, per-neuron constants and Poisson rates, stimulation)
    split over blocks of postsynaptic neurons, bit-identical to it for any partition.

    As :func:`lif_block_worker` (same ``plan``, ``work`` and return value; regions of at
    most the shortest delay, one barrier per region, each block copies its own spikes to
    ``out``), with :func:`_block_region_general` as the region. ``plan.start`` /
    ``plan.skip`` jump over the other blocks' draws, counted for each neuron as its
    nominal number of draws (``lif.draws_per_neuron``); Box–Muller (white noise, Poisson
    rates of 30 or more per step) redraws a uniform that is exactly 0, which shifts every
    later draw: each block writes the number of such redraws to ``work.result[3 + b]``,
    and if any is non-zero the caller reruns the chunk serially from a copy of the state
    (``lif._Blocks``). No drive modulation.
    """
    N = st.V.shape[0]
    spk_step, spk_idx = out.step, out.idx
    cap = spk_step.shape[0]
    n_blocks = plan.bounds.shape[0] - 1
    S = max(plan.super_steps, 1)
    bmax = work.blk_spk.shape[2] // S
    blk_cnt, blk_spk, sync = work.blk_cnt, work.blk_spk, work.sync
    n_stim = stim.step.shape[0]
    s_new = np.zeros(max(st.S.shape[0], 1))
    redraws = 0
    buf = 0
    pend_k0 = step0
    pend_n = 0
    n_before = n_spk
    k = step0
    while True:
        n_steps = 0
        if k < step1:
            n_steps = max(0, min(S, step1 - k, (cap - n_spk) // max(N, 1)))
        if n_steps == 0 and pend_n == 0:
            break
        redraws += _block_region_general(b, k, n_steps, pend_k0, pend_n, blk_spk[1 - buf],
                                         blk_cnt[1 - buf], st, net, neu, syn, drv, stim,
                                         stim_pos, plan, work.blk_rng, blk_spk[buf],
                                         blk_cnt[buf], s_new)
        _copy_own_spikes(b, n_blocks, pend_k0, pend_n, blk_cnt[1 - buf], blk_spk[1 - buf],
                         bmax, n_before, spk_step, spk_idx)
        if not _barrier(sync, n_blocks):
            return False
        n_before = n_spk
        for p in range(n_steps):
            for c in range(n_blocks):
                n_spk += blk_cnt[buf, c, p]
        while stim_pos < n_stim and stim.step[stim_pos] < k + n_steps:
            stim_pos += 1
        pend_k0 = k
        pend_n = n_steps
        k += n_steps
        buf = 1 - buf
    work.result[3 + b] = redraws
    if b == 0:
        work.result[0] = k
        work.result[1] = n_spk
        work.result[2] = stim_pos
    return True
