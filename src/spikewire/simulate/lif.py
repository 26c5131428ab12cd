"""Simulate a :class:`~spikewire.core.Network` of LIF neurons."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from spikewire._validation import check_positive
from spikewire.core.network import Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.procedural import procedural_csc, procedural_log1mp
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.seeds import seed_repr
from spikewire.core.spiketrains import SpikeTrains
from spikewire.simulate._common import stimulation_arrays
from spikewire.simulate._lif_kernel import (
    _ABORT,
    BlockWork,
    Connectivity,
    DriveConfig,
    DriveMode,
    FastDelta,
    LinearSynapseProp,
    NeuronConsts,
    NeuronState,
    Procedural,
    SpikeBuffer,
    Stimulus,
    SynapseProp,
    ThreadPlan,
    block_segments,
    block_start_states,
    column_constant,
    columns_sorted,
    lif_block_worker,
    lif_block_worker_general,
    lif_chunk,
    lif_chunk_delta,
    lif_chunk_procedural,
    make_synapse_prop,
    new_sync,
    spikes_by_neuron,
    xo_jump_matrix,
)
from spikewire.simulate._rng import integer_cdf, new_state, poisson_table

__all__ = ["simulate", "delay_steps", "DriveModulation", "Stimulation", "DriveMode",
           "KernelConfig", "build_kernel_config", "ProceduralConnectivity",
           "simulate_procedural"]

_MIN_DT = 1.0 / 30_000 - 1e-12  # 30 kHz
_FAST_PATH = True  # tests switch it off to check the fast kernel against the general one
_BLOCK_ALIGN = 16  # interior block bounds of the parallel path: multiples of 16 neurons
_MAX_SUPER_STEPS = 16  # steps per parallel region (at most the delay); memory 4·16·N bytes


class DriveModulation(Protocol):
    """Time-varying gain on the external drive (see :mod:`spikewire.simulate.inputs`).

    ``groups`` maps each neuron to a column of the gain matrix; ``gain(step0, step1, dt)``
    returns a ``(step1 - step0, n_groups)`` array multiplying the Poisson rate or the
    white-noise mean μ at each step.
    """

    groups: np.ndarray

    def gain(self, step0: int, step1: int, dt: float) -> np.ndarray: ...


class Stimulation(Protocol):
    """Brief pulses delivered to chosen neurons: arrays of times (s), neurons, amplitudes (mV)."""

    times: np.ndarray
    neurons: np.ndarray
    amplitudes: np.ndarray


def _decay(dt: float, tau: np.ndarray) -> np.ndarray:
    """``exp(-dt / tau)`` per neuron, with ``math.exp`` (the same value on every platform)."""
    values, where = np.unique(tau, return_inverse=True)
    return np.array([math.exp(-dt / t) for t in values])[where.reshape(tau.shape)]


def delay_steps(network: Network, dt: float) -> tuple[int, np.ndarray]:
    """Convert the network's delays to whole time steps.

    Returns ``(constant_delay_steps, per_synapse_steps)``; the second is empty when every
    synapse has the same delay. Raises if a delay is shorter than one step or not a
    multiple of ``dt`` (to within 1e-6 of a step).
    """
    if network.delays is None:
        return 1, np.zeros(0, dtype=np.int16)
    d = np.atleast_1d(np.asarray(network.delays, dtype=np.float64))
    steps = d / dt
    rounded = np.rint(steps)
    if steps.min() < 1.0 - 1e-6:
        raise ValueError(f"delay {d.min() * 1e3:g} ms is shorter than one time step "
                         f"(dt = {dt * 1e3:g} ms); use delays=None for one-step transmission")
    off = np.abs(steps - rounded) > 1e-6 * np.maximum(1.0, rounded)
    if off.any():
        bad = d[np.flatnonzero(off)[0]]
        raise ValueError(f"delay {bad * 1e3:g} ms is not a multiple of dt = {dt * 1e3:g} ms; "
                         "choose dt that divides every delay (or round the delays)")
    if rounded.min() < 1:
        raise ValueError(f"delay {d.min() * 1e3:g} ms is shorter than one time step "
                         f"(dt = {dt * 1e3:g} ms); use delays=None for one-step transmission")
    if rounded.max() > 32_000:
        raise ValueError(f"delay {d.max():g} s is too long ({int(rounded.max())} steps)")
    if np.ndim(network.delays) == 0 or np.all(rounded == rounded[0]):
        return int(rounded[0]), np.zeros(0, dtype=np.int16)
    return int(rounded.max()), rounded.astype(np.int16)


def simulate(network: Network, duration: float, *, dt: float = 1e-4, seed: int | None = 0,
             v_init: str | np.ndarray = "uniform", modulation: DriveModulation | None = None,
             stimulation: Stimulation | None = None, progress: bool = False,
             chunk_steps: int = 2000, n_threads: int = 1) -> SpikeTrains:
    """Run a LIF network and return its spike trains.

    Three stages: the arguments are checked (:func:`_validate`), the kernel configuration
    is built (:func:`build_kernel_config`: neuron constants, synapse propagators from the
    network's :class:`~spikewire.core.synapses.Synapse`, drive, stimulation, initial
    state) and the compiled kernel runs it chunk by chunk (:func:`_run`).

    Parameters
    ----------
    network : Network
        The network (weights in mV, delays in s, parameters, external drive).
    duration : float
        Biological time to simulate, in s.
    dt : float, default 1e-4
        Time step in s (0.1 ms). Down to 1/30 ms (30 kHz sampling). Every delay must be a
        multiple of ``dt``.
    seed : int, SeedSequence, Generator or None, default 0
        Root of the ``"simulation"`` stream (:mod:`spikewire.core.seeds`) from which every
        random draw (initial potentials, external Poisson input, noise) derives; the same
        integer given to a network builder draws the connectivity from another stream.
        Same network, settings and seed give bit-identical spike trains.
    v_init : "uniform", "reset" or ndarray, default "uniform"
        Initial membrane potentials: uniform in ``[V_reset, θ)``, all at ``V_reset``, or
        given per neuron (mV).
    modulation : DriveModulation, optional
        Time-varying gain on the external drive (schedules, hidden states).
    stimulation : Stimulation, optional
        Pulses (times in s, neuron indices, amplitudes in mV) added to the membrane.
    progress : bool, default False
        Show a progress bar.
    chunk_steps : int, default 2000
        Steps advanced per call of the compiled kernel.
    n_threads : int, default 1
        Threads: the postsynaptic neurons are split into ``n_threads`` blocks, each
        advanced by its own thread (compiled code without the GIL), synchronised once per
        shortest delay. The result is **bit-identical** to ``n_threads=1`` for every
        thread count: each block draws its neurons' random numbers from the same stream
        (jumping over the other blocks' draws) and every neuron receives its inputs in the
        same order. This covers delta, exponential and alpha synapses, one or per-synapse
        delays, per-neuron parameters, stimulation, and every drive (Poisson with one or
        per-neuron rates, white noise, none; should Box–Muller redraw a uniform that is
        exactly 0, probability 2^-53 per draw, that chunk is rerun on one thread). Runs
        with a drive ``modulation`` run on one thread whatever
        ``n_threads`` is. More threads than free cores slow the run down (the threads
        wait for each other at every delay), and so does a one-step delay
        (``delays=None``: a synchronisation per step); see
        ``benchmarks/results/threads.md`` and ``benchmarks/results/engine.md``.

    Returns
    -------
    SpikeTrains
        One unit per neuron (unit id = neuron index), window ``[0, duration)``. Spike
        times lie on the grid ``k·dt``. ``annotations`` records dt, seed and the drive.
    """
    n_threads = _check_threads(n_threads)
    duration, dt, n_steps = _validate(network, duration, dt)
    rng = seeded_rng(seed, "simulation")
    cfg = build_kernel_config(network, n_steps, dt, rng, v_init=v_init, modulation=modulation,
                              stimulation=stimulation)
    spk_step, spk_idx = _run(cfg, n_steps, dt, modulation=modulation, chunk_steps=chunk_steps,
                             progress=f"simulate {network.name}" if progress else None,
                             n_threads=n_threads)
    n = network.n_neurons
    times, indptr = spikes_by_neuron(spk_step, spk_idx, n, dt)
    ann = {"engine": "lif", "dt": dt, "seed": seed_repr(seed), "duration": duration,
           "network": network.name}
    return SpikeTrains(times, indptr, np.arange(n), 0.0, duration, ann)


def _validate(network: Network, duration: float, dt: float) -> tuple[float, float, int]:
    """Check the network, duration and time step; return ``(duration, dt, n_steps)``."""
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spikewire Network, got {type(network).__name__}")
    from spikewire.core.binary import BinaryNetwork

    if isinstance(network, BinaryNetwork):
        raise TypeError("this is a binary network; simulate it with "
                        "spikewire.simulate.simulate_binary(network, duration, seed=...)")
    duration = check_positive("duration", duration, unit="s")
    dt = check_positive("dt", dt, unit="s")
    if dt < _MIN_DT:
        raise ValueError(f"dt = {dt:g} s is below 1/30 ms (30 kHz); the engine's finest "
                         "supported resolution is dt = 1/30000 s")
    if dt > 1e-3:
        raise ValueError(f"dt = {dt:g} s is too coarse for LIF dynamics; use dt <= 1 ms")
    tau_m = network.neuron_params()["tau_m"]
    if network.n_neurons and tau_m.min() < 2 * dt:
        raise ValueError(f"tau_m = {tau_m.min():g} s must be at least 2 dt")
    n_steps = int(round(duration / dt))
    if abs(n_steps * dt - duration) > 1e-9 * max(1.0, duration) + 1e-12:
        raise ValueError(f"duration {duration:g} s is not a multiple of dt = {dt:g} s")
    return duration, dt, n_steps


@dataclass
class KernelConfig:
    """Everything the compiled kernels need for one run (see :mod:`._lif_kernel`).

    ``fast`` selects :func:`~spikewire.simulate._lif_kernel.lif_chunk_delta` (delta
    synapses, one delay, homogeneous Poisson drive or none, no modulation), which then
    reads ``fd``; otherwise :func:`~spikewire.simulate._lif_kernel.lif_chunk` runs.
    ``rng`` is the kernels' xoshiro256** state, drawn from the run's Generator.
    """

    state: NeuronState
    net: Connectivity
    neurons: NeuronConsts
    synapse: SynapseProp | LinearSynapseProp
    drive: DriveConfig
    stim: Stimulus
    rng: np.ndarray
    fast: bool
    fd: FastDelta | None
    spike_capacity: int


def _synapse_prop(network: Network, dt: float) -> SynapseProp | LinearSynapseProp:
    """Per-neuron propagators of the network's synapse model(s) for step ``dt``."""
    n = network.n_neurons
    if network.uniform_params:
        groups = {"all": network.params}
        where = np.zeros(n, dtype=np.int64)
    else:
        types = sorted(network.params)
        groups = {c: network.params[c] for c in types}
        where = np.searchsorted(types, network.cell_type)
    table = [p.synapse.propagators(dt, p.tau_m) for p in groups.values()]
    m = table[0][0].shape[0]
    # neuron index last: (m, m, N), (m, N), (m, N)
    A = np.stack([np.asarray(t[0], float).reshape(m, m) for t in table], axis=-1)[..., where]
    c = np.stack([np.asarray(t[1], float).reshape(m) for t in table], axis=-1)[..., where]
    b = np.stack([np.asarray(t[2], float).reshape(m) for t in table], axis=-1)[..., where]
    return make_synapse_prop(np.ascontiguousarray(A), np.ascontiguousarray(c),
                             np.ascontiguousarray(b))


def _drive_config(network: Network, dt: float, decay_m: np.ndarray,
                  modulation: DriveModulation | None) -> DriveConfig:
    n = network.n_neurons
    lam_ext = np.zeros(n)
    mu_ext = np.zeros(n)
    noise_amp = np.zeros(n)
    w_ext = 0.0
    drive = network.drive
    if isinstance(drive, PoissonDrive):
        mode = DriveMode.POISSON
        lam_ext = drive.total_rate(n) * dt
        w_ext = float(drive.weight)
    elif isinstance(drive, WhiteNoiseDrive):
        mode = DriveMode.WHITE_NOISE
        mu_ext = np.broadcast_to(np.asarray(drive.mu, float), (n,)).copy()
        sig = np.broadcast_to(np.asarray(drive.sigma, float), (n,))
        # white noise enters the membrane directly (not through the synaptic filter)
        noise_amp = sig * np.sqrt((1.0 - decay_m**2) / 2.0)
    else:
        mode = DriveMode.NONE
    if modulation is not None:
        group = np.asarray(modulation.groups, dtype=np.int64)
        if group.shape != (n,):
            raise ValueError(f"modulation.groups must have one entry per neuron ({n})")
    else:
        group = np.zeros(n, dtype=np.int64)
    pois_cdf, pois_guide = np.ones(1), np.zeros(1, dtype=np.int64)
    if mode == DriveMode.POISSON and modulation is None and n \
            and np.all(lam_ext == lam_ext[0]) and 0 < lam_ext[0] < 1000:
        mode = DriveMode.POISSON_TABLE  # same rate everywhere: guide-table sampling
        pois_cdf, pois_guide = poisson_table(float(lam_ext[0]))
    return DriveConfig(int(mode), lam_ext, w_ext, mu_ext, noise_amp, group, pois_cdf,
                       pois_guide)


def _stimulus(stimulation: Stimulation | None, n: int, n_steps: int, dt: float) -> Stimulus:
    step, idx, amp = stimulation_arrays(stimulation, n, n_steps, dt)
    return Stimulus(step, idx.astype(np.int32), amp)


def _initial_potentials(v_init, q: dict, n: int, hetero: bool,
                        rng: np.random.Generator) -> np.ndarray:
    v_reset, theta = q["v_reset"], q["theta"]
    if isinstance(v_init, str):
        if v_init == "uniform":
            return rng.uniform(v_reset, theta, size=n) if hetero else \
                rng.uniform(v_reset[0] if n else 0.0, theta[0] if n else 1.0, size=n)
        if v_init == "reset":
            return v_reset.copy()
        raise ValueError(f"v_init must be 'uniform', 'reset' or an array, got {v_init!r}")
    V = np.asarray(v_init, dtype=float).copy()
    if V.shape != (n,) or not np.all(np.isfinite(V)):
        raise ValueError(f"v_init must be {n} finite potentials (mV)")
    return V


def build_kernel_config(network: Network, n_steps: int, dt: float, rng: np.random.Generator,
                        *, v_init: str | np.ndarray = "uniform",
                        modulation: DriveModulation | None = None,
                        stimulation: Stimulation | None = None) -> KernelConfig:
    """Translate a network and run settings into the kernels' records.

    Draws from ``rng`` in a fixed order: the initial potentials (for ``"uniform"``), then
    the kernels' generator state. Arguments as in :func:`simulate` (``n_steps`` steps of
    ``dt`` s).
    """
    q = network.neuron_params()  # per-neuron arrays (s, mV)
    n = network.n_neurons
    d_const, d_syn = delay_steps(network, dt)
    ring_len = int(max(d_const, int(d_syn.max()) if d_syn.size else 0)) + 1
    w = network.weights
    col_ptr = w.indptr.astype(np.int64)
    row_idx = w.indices.astype(np.int32, copy=False)  # no copy of 10^8 indices
    data = w.data if w.data.dtype in (np.float32, np.float64) else w.data.astype(np.float64)

    decay_m = _decay(dt, q["tau_m"])
    syn = _synapse_prop(network, dt)
    neurons = NeuronConsts(decay_m, q["v_rest"], q["theta"], q["v_reset"],
                           np.rint(q["tau_ref"] / dt).astype(np.int32))
    hetero = not network.uniform_params
    drive = _drive_config(network, dt, decay_m, modulation)
    V = _initial_potentials(v_init, q, n, hetero, rng)
    # The ring buffer has the weights' precision: float32 weights (Brunel's default) give a
    # float32 ring, half the cache footprint of the hottest random-access array. Stimulation
    # pulses (arbitrary float64 amplitudes) keep it float64.
    ring_dtype = np.float32 if (data.dtype == np.float32 and stimulation is None) \
        else np.float64
    m = syn.c.shape[0]
    state = NeuronState(V, np.zeros((m, n)), np.zeros(n), np.zeros(n, dtype=np.int32),
                        np.zeros((ring_len, n), dtype=ring_dtype))
    rng_state = new_state(rng)
    stim = _stimulus(stimulation, n, n_steps, dt)

    # Fast path: delta synapses, one delay, homogeneous Poisson drive (or none), no
    # modulation. Same semantics and random stream as the general kernel.
    fast = (_FAST_PATH and m == 0 and modulation is None and d_syn.size == 0
            and drive.mode in (DriveMode.NONE, DriveMode.POISSON_TABLE))
    fd = None
    if fast:
        const_w, w_col = column_constant(col_ptr, data)
        guide_shift = 64
        n_guide = drive.pois_guide.shape[0]
        if drive.mode == DriveMode.POISSON_TABLE:
            if n_guide & (n_guide - 1):
                raise AssertionError("guide table length must be a power of two")
            guide_shift = 64 - n_guide.bit_length() + 1
        if n <= 65_536 and row_idx.size:
            # 2-byte indices halve the memory traffic of the spike scatter (its bottleneck);
            # the copy costs 2 bytes per synapse
            row_idx = row_idx.astype(np.uint16)
        fd = FastDelta(w_col.astype(ring_dtype), bool(const_w), hetero,
                       drive.mode == DriveMode.POISSON_TABLE, integer_cdf(drive.pois_cdf),
                       guide_shift)
    net = Connectivity(col_ptr, row_idx, data, d_syn, d_const)
    est_rate = 20.0
    cap = int(max(4 * n, est_rate * n * n_steps * dt * 1.2 + 2 * n))
    return KernelConfig(state, net, neurons, syn, drive, stim, rng_state, fast, fd,
                        min(cap, 50_000_000))


def _check_threads(n_threads) -> int:
    """``n_threads`` as a positive int, else a ValueError naming the value."""
    if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer) \
            or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer (1 = serial), got "
                         f"{n_threads!r}")
    return int(n_threads)


def block_bounds(n: int, n_blocks: int) -> np.ndarray:
    """Bounds of ``n_blocks`` blocks of nearly equal size over ``n`` neurons, interior
    bounds rounded down to multiples of 16 (blocks may be empty when ``n`` is small)."""
    b = np.arange(n_blocks + 1, dtype=np.int64) * n // n_blocks
    b[1:-1] = b[1:-1] // _BLOCK_ALIGN * _BLOCK_ALIGN
    b[-1] = n
    return b


def draws_per_neuron(cfg: KernelConfig) -> np.ndarray:
    """Random numbers each neuron draws per step in the kernels (nominally).

    No drive: 0; one Poisson rate for all (guide table): 1; per-neuron Poisson rates: 1
    below 30 per step (inversion), 0 for a zero rate, 2 from 30 on (normal approximation,
    Box–Muller); white noise: 2 (Box–Muller). Box–Muller redraws a uniform that is
    exactly 0 (probability 2^-53 per draw, see :func:`may_redraw`).
    """
    drv = cfg.drive
    n = cfg.state.V.shape[0]
    if drv.mode == DriveMode.NONE:
        return np.zeros(n, dtype=np.int64)
    if drv.mode == DriveMode.POISSON_TABLE:
        return np.ones(n, dtype=np.int64)
    if drv.mode == DriveMode.POISSON:
        lam = drv.lam_ext
        return np.where(lam >= 30.0, 2, (lam > 0.0).astype(np.int64)).astype(np.int64)
    return np.full(n, 2, dtype=np.int64)  # white noise


def may_redraw(cfg: KernelConfig) -> bool:
    """Whether a neuron's number of draws can exceed :func:`draws_per_neuron` (Box–Muller:
    white noise, or Poisson rates of 30 or more per step)."""
    drv = cfg.drive
    return drv.mode == DriveMode.WHITE_NOISE or (
        drv.mode == DriveMode.POISSON and bool(np.any(drv.lam_ext >= 30.0)))


def threadable(cfg: KernelConfig, modulation: DriveModulation | None = None) -> bool:
    """Whether ``simulate(..., n_threads > 1)`` runs this configuration on several threads:
    every configuration without a drive ``modulation``."""
    return cfg.fast or modulation is None


def thread_plan(cfg: KernelConfig, n_blocks: int) -> tuple[ThreadPlan, Connectivity]:
    """The block partition of the parallel kernels, and the connectivity it runs on.

    ``seg`` needs the rows of each CSC column in increasing order; if they are not, the
    returned connectivity holds sorted copies (a stable sort: entries of one column with
    the same row, if any, keep their order, so every target's additions keep the serial
    kernel's order; per-synapse delays are permuted with them). The generator jumps
    (``start``, ``skip``) count the nominal draws of :func:`draws_per_neuron`; the region
    length is the shortest delay (at most 16 steps).
    """
    net = cfg.net
    n = cfg.state.V.shape[0]
    col_ptr, row_idx, w = net.col_ptr, net.row_idx, net.w
    if row_idx.size and not columns_sorted(col_ptr, row_idx):
        col = np.repeat(np.arange(col_ptr.size - 1), np.diff(col_ptr))
        order = np.lexsort((row_idx, col))
        d = net.syn_delay[order] if net.syn_delay.size else net.syn_delay
        net = net._replace(row_idx=row_idx[order], w=w[order], syn_delay=d)
    bounds = block_bounds(n, n_blocks)
    seg = block_segments(col_ptr, net.row_idx, bounds)
    draws = draws_per_neuron(cfg)
    cum = np.concatenate([[0], np.cumsum(draws)])
    start = np.stack([_jump(int(cum[bounds[b]])) for b in range(n_blocks)])
    skip = np.stack([_jump(int(cum[-1] - (cum[bounds[b + 1]] - cum[bounds[b]])))
                     for b in range(n_blocks)])
    d_min = int(net.syn_delay.min()) if net.syn_delay.size else net.delay_const
    steps = int(min(max(d_min, 1), _MAX_SUPER_STEPS))
    return ThreadPlan(bounds, seg, start, skip, steps), net


@functools.lru_cache(maxsize=64)
def _jump_cached(m: int) -> np.ndarray:
    out = xo_jump_matrix(m)
    out.flags.writeable = False
    return out


def _jump(m: int) -> np.ndarray:
    """``xo_jump_matrix(m)``, memoised (the same block sizes recur run after run)."""
    return _jump_cached(m)


def _run(cfg: KernelConfig, n_steps: int, dt: float, *,
         modulation: DriveModulation | None = None, chunk_steps: int = 2000,
         progress: str | None = None, n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Run the kernel over steps ``1 .. n_steps - 1``; return spike steps and neurons.

    With ``n_threads > 1`` and a configuration that :func:`threadable` accepts,
    ``n_threads`` threads run :func:`~spikewire.simulate._lif_kernel.lif_block_worker`
    (fast path) or :func:`~spikewire.simulate._lif_kernel.lif_block_worker_general` on as
    many blocks (bit-identical to the serial kernels)."""
    if n_threads > 1 and threadable(cfg, modulation):
        from concurrent.futures import ThreadPoolExecutor

        plan, net = thread_plan(cfg, n_threads)
        with ThreadPoolExecutor(max_workers=n_threads,
                                thread_name_prefix="spikewire-lif") as pool:
            par = _Blocks(cfg, plan, net, pool)
            return _run_loop(cfg, n_steps, dt, modulation, chunk_steps, progress, par)
    return _run_loop(cfg, n_steps, dt, modulation, chunk_steps, progress, None)


class _Blocks:
    """Runs a chunk of the parallel kernels: one thread per block."""

    def __init__(self, cfg: KernelConfig, plan: ThreadPlan, net: Connectivity, pool):
        n = cfg.state.V.shape[0]
        nb_ = plan.bounds.size - 1
        bmax = max(1, int(np.diff(plan.bounds).max()))
        s = plan.super_steps
        self.cfg, self.plan, self.net, self.pool = cfg, plan, net, pool
        self.work = BlockWork(np.zeros(n, dtype=np.uint16),
                              np.zeros((n + 7) // 8 * 8, dtype=np.uint8),
                              np.zeros((nb_, 4), dtype=np.uint64),
                              np.zeros((2, nb_, s * bmax), dtype=np.int32),
                              np.zeros((2, nb_, s), dtype=np.int64),
                              new_sync(), np.zeros(3 + nb_, dtype=np.int64))
        # Box–Muller may redraw (2^-53 per draw): keep a copy of the state at each chunk's
        # start and rerun a chunk serially if any block redrew
        self.redraw = (not cfg.fast) and may_redraw(cfg)
        self.n_reruns = 0

    def __call__(self, k: int, k1: int, stim_pos: int, out: SpikeBuffer,
                 n_spk: int) -> tuple[int, int, int]:
        from concurrent.futures import FIRST_EXCEPTION, wait

        cfg, plan, work = self.cfg, self.plan, self.work
        work.sync[:] = new_sync()
        work.result[:] = 0
        saved = [a.copy() for a in (*cfg.state, cfg.rng)] if self.redraw else None
        block_start_states(plan.start, cfg.rng, work.blk_rng)
        if cfg.fast:
            jobs = [self.pool.submit(lif_block_worker, b, k, k1, cfg.state, self.net,
                                     cfg.neurons, cfg.drive, cfg.fd, plan, cfg.stim,
                                     stim_pos, out, n_spk, work)
                    for b in range(plan.bounds.size - 1)]
        else:
            jobs = [self.pool.submit(lif_block_worker_general, b, k, k1, cfg.state,
                                     self.net, cfg.neurons, cfg.synapse, cfg.drive, plan,
                                     cfg.stim, stim_pos, out, n_spk, work)
                    for b in range(plan.bounds.size - 1)]
        done, _ = wait(jobs, return_when=FIRST_EXCEPTION)
        if any(j.exception() is not None for j in done):
            work.sync[_ABORT] = 1  # release the threads waiting at a barrier
            wait(jobs)
            for j in jobs:
                j.result()  # re-raise
        if not all(j.result() for j in jobs):
            raise RuntimeError("parallel LIF run aborted")
        if saved is not None and work.result[3:].any():
            # a block redrew a zero uniform: every later draw moved; rerun the chunk serially
            for a, old in zip((*cfg.state, cfg.rng), saved, strict=True):
                a[...] = old
            self.n_reruns += 1
            return lif_chunk(k, k1, cfg.state, self.net, cfg.neurons, cfg.synapse,
                             cfg.drive, np.zeros((0, 0)), cfg.stim, stim_pos, cfg.rng, out,
                             n_spk)
        cfg.rng[:] = work.blk_rng[0]
        return int(work.result[0]), int(work.result[1]), int(work.result[2])


def _run_loop(cfg: KernelConfig, n_steps: int, dt: float,
              modulation: DriveModulation | None, chunk_steps: int, progress: str | None,
              par: _Blocks | None) -> tuple[np.ndarray, np.ndarray]:
    out = SpikeBuffer(np.empty(cfg.spike_capacity, dtype=np.int64),
                      np.empty(cfg.spike_capacity, dtype=np.int32))
    n_spk = 0
    stim_pos = 0
    no_gain = np.zeros((0, 0))
    bar = None
    if progress is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, unit="step", desc=progress, leave=False)
    k = 1
    while k < n_steps:
        k1 = min(k + chunk_steps, n_steps)
        gain = no_gain
        if modulation is not None:
            gain = np.ascontiguousarray(modulation.gain(k, k1, dt), dtype=np.float64)
            if gain.ndim != 2 or gain.shape[0] != k1 - k:
                raise ValueError("modulation.gain must return an array (n_steps, n_groups)")
            if not np.all(np.isfinite(gain)) or np.any(gain < 0):
                raise ValueError("modulation gains must be finite and >= 0")
        while k < k1:
            if par is not None:
                k_new, n_spk, stim_pos = par(k, k1, stim_pos, out, n_spk)
            elif cfg.fast:
                k_new, n_spk, stim_pos = lif_chunk_delta(
                    k, k1, cfg.state, cfg.net, cfg.neurons, cfg.drive, cfg.fd, cfg.stim,
                    stim_pos, cfg.rng, out, n_spk)
            else:
                k_new, n_spk, stim_pos = lif_chunk(
                    k, k1, cfg.state, cfg.net, cfg.neurons, cfg.synapse, cfg.drive, gain,
                    cfg.stim, stim_pos, cfg.rng, out, n_spk)
            if k_new < k1:  # buffer full: grow it
                if gain.shape[0]:
                    gain = gain[k_new - k:]
                out = SpikeBuffer(np.concatenate([out.step, np.empty_like(out.step)]),
                                  np.concatenate([out.idx, np.empty_like(out.idx)]))
            if bar is not None:
                bar.update(k_new - k)
            k = k_new
    if bar is not None:
        bar.close()
    return out.step[:n_spk], out.idx[:n_spk]


# --------------------------------------------------------------------------------------
# Procedural connectivity


@dataclass(frozen=True)
class ProceduralConnectivity:
    """Random connectivity regenerated during the simulation instead of stored (GeNN-style).

    Every ordered pair ``(post i, pre j)`` is connected with probability ``p``
    (self-connections only with ``autapses``); neuron ``j``'s targets are drawn from its
    own random substream of ``seed`` by geometric skipping, so the simulation can redraw
    them, in increasing order, each time ``j`` spikes. Memory is O(N) whatever the number
    of synapses (about ``p · N²``).

    Parameters
    ----------
    p : float
        Connection probability in [0, 1].
    weights : ndarray, shape (N,)
        Weight of every synapse of presynaptic neuron ``j`` in mV (E neurons >= 0, I
        neurons <= 0 for Dale's law; not checked here). float32 weights give the engine's
        float32 delivery buffer, as for :func:`spikewire.networks.brunel`.
    seed : int
        Seed of the connectivity (independent of the simulation seed).
    autapses : bool, default False
        Allow self-connections.
    """

    p: float
    weights: np.ndarray
    seed: int
    autapses: bool = False

    def __post_init__(self):
        if not (isinstance(self.p, int | float) and 0.0 <= float(self.p) <= 1.0):
            raise ValueError(f"p must be a probability in [0, 1], got {self.p!r}")
        w = np.asarray(self.weights)
        if w.ndim != 1 or not np.issubdtype(w.dtype, np.floating) or not np.all(np.isfinite(w)):
            raise ValueError("weights must be a 1-D array of finite float weights (mV), one "
                             f"per presynaptic neuron; got shape {w.shape}, dtype {w.dtype}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) \
                or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        object.__setattr__(self, "weights", w)

    @property
    def n_neurons(self) -> int:
        """Number of neurons N (length of :attr:`weights`)."""
        return int(self.weights.size)

    @property
    def key(self) -> np.uint64:
        """The 64-bit key of the per-neuron substreams, derived from :attr:`seed`."""
        g = seeded_rng(int(self.seed), "procedural-connectivity")
        return np.uint64(g.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64,
                                    endpoint=True))

    def expected_synapses(self) -> float:
        """Expected number of synapses, ``p · N · (N - 1)`` (``p · N²`` with autapses)."""
        n = self.n_neurons
        return float(self.p) * n * (n if self.autapses else n - 1)

    def to_weights(self):
        """The same connectivity stored: a post × pre ``scipy.sparse.csc_array`` (mV).

        For checks against the stored-connectivity engine and for small networks; it holds
        every synapse in memory (about 8 bytes each).
        """
        import scipy.sparse as sp

        n = self.n_neurons
        indptr, indices = procedural_csc(n, n, float(self.p), int(self.key), self.autapses)
        data = np.repeat(self.weights, np.diff(indptr))
        return sp.csc_array((data, indices, indptr), shape=(n, n))


def simulate_procedural(network: Network,
                        connectivity: ProceduralConnectivity | ProceduralPopulations,
                        duration: float, *, dt: float = 1e-4, seed: int | None = 0,
                        v_init: str | np.ndarray = "uniform",
                        modulation: DriveModulation | None = None,
                        stimulation: Stimulation | None = None, progress: bool = False,
                        chunk_steps: int = 2000) -> SpikeTrains:
    """Run a LIF network whose recurrent synapses are regenerated, not stored.

    ``network`` supplies everything but the recurrent synapses: neuron parameters, drive,
    and one delay for all synapses; its ``weights`` must be empty (no stored synapses).
    The result equals, spike for spike, :func:`simulate` of
    ``network.replace(weights=connectivity.to_weights())`` with the same ``seed`` (and the
    same ``modulation`` and ``stimulation``).

    Parameters
    ----------
    network : Network
        Delta synapses (``tau_syn`` None), one delay (``delays`` None or a scalar, s;
        replaced by the connectivity's when it has per-synapse delays), no stored
        weights. Any drive of :func:`simulate`: Poisson (homogeneous or per neuron), white
        noise (``WhiteNoiseDrive``, per-neuron μ and σ) or none; neuron parameters may
        differ between cell types.
    connectivity : ProceduralConnectivity or ProceduralPopulations
        The recurrent connectivity: one weight per presynaptic neuron
        (:class:`ProceduralConnectivity`) or one per (target group, presynaptic neuron)
        (:class:`spikewire.core.procedural.ProceduralPopulations`, e.g. E/I networks whose
        PSPs depend on both populations); ``connectivity.n_neurons`` must equal the
        network's.
    duration, dt, seed, v_init, modulation, stimulation, progress, chunk_steps
        As in :func:`simulate` (s, s, seed of the ``"simulation"`` stream, ...).

    Returns
    -------
    SpikeTrains
        As :func:`simulate`.

    Raises
    ------
    ValueError
        If the network has stored synapses, current-based synapses or per-synapse delays
        (per-synapse delays come from ``ProceduralPopulations(delays=, dt=)`` instead).

    Notes
    -----
    A :class:`ProceduralConnectivity` network with a homogeneous Poisson drive (or none)
    and no modulation runs the vectorised kernel of the stored engine's fast path; every
    other case runs :func:`_lif_chunk_procedural_general`, the per-neuron loop of the
    stored engine's general kernel (same random stream, same additions in the same order).
    Memory is O(N): at N = 100,000 and p = 0.2 (2·10⁹ synapses) a run needs well under a
    GiB (``benchmarks/results/theory3.md``).
    """
    if not isinstance(connectivity, ProceduralConnectivity | ProceduralPopulations):
        raise TypeError("connectivity must be a ProceduralConnectivity or "
                        f"ProceduralPopulations, got {type(connectivity).__name__}")
    duration, dt, n_steps = _validate(network, duration, dt)
    n = network.n_neurons
    if connectivity.n_neurons != n:
        raise ValueError(f"connectivity has {connectivity.n_neurons} neurons but the network "
                         f"has {n}; give one weight per neuron")
    if network.weights.nnz:
        raise ValueError(f"the network stores {network.weights.nnz} synapses; procedural "
                         "simulation takes a network without stored weights (replace them "
                         "with an empty matrix) and the synapses from `connectivity`")
    if network.delays is not None and np.ndim(network.delays) != 0:
        raise ValueError("procedural connectivity needs one delay for all synapses "
                         "(network.delays None or a scalar in s)")
    # per-synapse procedural delays: the ring spans the longest one
    d_steps = getattr(connectivity, "delay_steps", None)
    if d_steps is not None:
        if abs(connectivity.dt - dt) > 1e-9 * dt:
            raise ValueError(f"the connectivity's delays are counted in steps of "
                             f"{connectivity.dt} s but dt = {dt} s; run with its dt")
        network = network.replace(delays=d_steps[1] * dt)
    # the weights' dtype sets the ring precision, as in the stored engine
    w = connectivity.weights
    if network.weights.dtype != w.dtype:
        import scipy.sparse as sp

        network = network.replace(weights=sp.csc_array((n, n), dtype=w.dtype))
    rng = seeded_rng(seed, "simulation")
    cfg = build_kernel_config(network, n_steps, dt, rng, v_init=v_init,
                              modulation=modulation, stimulation=stimulation)
    if cfg.synapse.c.shape[0] != 0:
        raise ValueError("procedural simulation supports delta synapses (tau_syn None) only; "
                         "this network has current-based synapses (use simulate with stored "
                         "weights)")
    key = connectivity.key
    log1mp = procedural_log1mp(float(connectivity.p))
    autapses = bool(connectivity.autapses)
    ring_dtype = cfg.state.ring.dtype
    general = not (cfg.fast and isinstance(connectivity, ProceduralConnectivity))
    d_key, d0, nd = np.uint64(0), 0, 0  # nd = 0: the one delay (ring length - 1)
    if d_steps is not None:
        d_key, d0, nd = connectivity.delay_key, d_steps[0], d_steps[1] - d_steps[0] + 1
    if general:
        if isinstance(connectivity, ProceduralPopulations):
            w_grp, grp = connectivity.weights, connectivity.groups
        else:
            w_grp, grp = w[None, :], np.zeros(n, dtype=np.int64)
        w_grp = np.ascontiguousarray(w_grp, dtype=ring_dtype)
        grp = np.ascontiguousarray(grp, dtype=np.int64)
    else:
        pc = Procedural(w.astype(ring_dtype), key, log1mp, autapses)
    out = SpikeBuffer(np.empty(cfg.spike_capacity, dtype=np.int64),
                      np.empty(cfg.spike_capacity, dtype=np.int32))
    n_spk, stim_pos, k = 0, 0, 1
    no_gain = np.zeros((0, 0))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, unit="step", desc=f"simulate {network.name}", leave=False)
    while k < n_steps:
        k1 = min(k + chunk_steps, n_steps)
        gain = no_gain
        if modulation is not None:
            gain = np.ascontiguousarray(modulation.gain(k, k1, dt), dtype=np.float64)
            if gain.ndim != 2 or gain.shape[0] != k1 - k:
                raise ValueError("modulation.gain must return an array (n_steps, n_groups)")
            if not np.all(np.isfinite(gain)) or np.any(gain < 0):
                raise ValueError("modulation gains must be finite and >= 0")
        while k < k1:
            if general:
                k_new, n_spk, stim_pos = _lif_chunk_procedural_general(
                    k, k1, cfg.state, cfg.neurons, cfg.drive, gain, cfg.stim, stim_pos,
                    cfg.rng, out, n_spk, w_grp, grp, key, log1mp, autapses, d_key, d0, nd)
            else:
                k_new, n_spk, stim_pos = lif_chunk_procedural(
                    k, k1, cfg.state, cfg.neurons, cfg.drive, cfg.fd, pc, cfg.stim,
                    stim_pos, cfg.rng, out, n_spk)
            if k_new < k1:  # buffer full: grow it
                if gain.shape[0]:
                    gain = gain[k_new - k:]
                out = SpikeBuffer(np.concatenate([out.step, np.empty_like(out.step)]),
                                  np.concatenate([out.idx, np.empty_like(out.idx)]))
            if bar is not None:
                bar.update(k_new - k)
            k = k_new
    if bar is not None:
        bar.close()
    times = out.step[:n_spk] * dt
    ids = out.idx[:n_spk].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=n))])
    ann = {"engine": "lif-procedural", "dt": dt, "seed": seed_repr(seed),
           "duration": duration, "network": network.name,
           "connectivity": {"p": float(connectivity.p), "seed": int(connectivity.seed),
                            "autapses": autapses,
                            "kind": type(connectivity).__name__}}
    return SpikeTrains(times[order], indptr, np.arange(n), 0.0, duration, ann)


# Imports of the general procedural kernel, kept here, with the code they serve (the top of
# the module belongs to the stored engine)
import numba as nb  # noqa: E402

import spikewire.core.jit  # noqa: E402, F401  (numba cache folder, before any @njit)
from spikewire.core.procedural import (  # noqa: E402
    ProceduralPopulations,
    next_target,
    synapse_delay,
)
from spikewire.core.rng import substream  # noqa: E402
from spikewire.simulate._rng import normal, poisson, poisson_guided  # noqa: E402

_POISSON = DriveMode.POISSON.value
_WHITE_NOISE = DriveMode.WHITE_NOISE.value
_POISSON_TABLE = DriveMode.POISSON_TABLE.value


@nb.njit(cache=True, nogil=True)
def _lif_chunk_procedural_general(step0, step1, st, neu, drv, gain, stim, stim_pos, rng, out,
                                  n_spk, w_grp, grp, key, log1mp, autapses, d_key, d0, nd):
    """Delta-synapse :func:`~spikewire.simulate._lif_kernel.lif_chunk` with procedural
    connectivity.

    The neuron loop is the general kernel's for delta synapses and one delay, line for line
    (any drive mode, modulation ``gain``, per-neuron constants), so the random stream and
    every floating-point operation are the same; a spiking neuron ``j``'s targets ``i`` are
    regenerated in increasing order from ``substream(key, j)`` and receive
    ``w_grp[grp[i], j]`` in the slot ``k + D`` (``D`` = ring length - 1; with ``nd > 0``
    the synapse's own delay ``synapse_delay(d_key, j, i, N, d0, nd)``) at once, the
    additions the general kernel makes for the stored synapses.
    """
    V, refr, ring = st.V, st.refr, st.ring
    decay_m, v_rest, theta, v_reset, ref_steps = (neu.decay_m, neu.v_rest, neu.theta,
                                                  neu.v_reset, neu.ref_steps)
    drive_mode, lam_ext, w_ext = drv.mode, drv.lam_ext, drv.w_ext
    mu_ext, noise_amp, group = drv.mu_ext, drv.noise_amp, drv.group
    pois_cdf, pois_guide = drv.pois_cdf, drv.pois_guide
    stim_step, stim_idx, stim_amp = stim.step, stim.idx, stim.amp
    spk_step, spk_idx = out.step, out.idx
    N = V.shape[0]
    L = ring.shape[0]
    delay = L - 1
    cap = spk_step.shape[0]
    n_groups = gain.shape[1]
    last_lam = -1.0
    exp_neg = 1.0
    connected = log1mp != 0.0
    k = step0
    while k < step1:
        if n_spk + N > cap:
            return k, n_spk, stim_pos
        slot = k % L
        row_g = k - step0
        while stim_pos < stim_step.shape[0] and stim_step[stim_pos] == k:
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
            base = vr + (V[i] - vr) * dm
            v = base + inp
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
                if connected:
                    dslot = (k + delay) % L
                    t0, t1, t2, t3 = substream(key, i)
                    t = np.int64(-1)
                    while True:
                        t, t0, t1, t2, t3 = next_target(t, log1mp, t0, t1, t2, t3)
                        if t >= N:
                            break
                        if t != i or autapses:
                            if nd == 0:
                                ring[dslot, t] += w_grp[grp[t], i]
                            else:
                                ring[(k + synapse_delay(d_key, i, t, N, d0, nd)) % L, t] += \
                                    w_grp[grp[t], i]
            else:
                V[i] = v
        k += 1
    return k, n_spk, stim_pos
