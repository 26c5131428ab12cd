"""Export a :class:`~spikewire.Network` to NEST (``nest-simulator``).

For networks larger than one machine: NEST distributes neurons over MPI processes and
threads. The same script runs under ``mpirun -np K python script.py``; each rank builds
only its local part of the connections NEST asks for.

Mapping (spikewire → NEST)
--------------------------
- the neuron model, its synaptic parameters and the weight scale come from the network's
  synapse object (:mod:`spikewire.core.synapses`): delta synapses → ``iaf_psc_delta``
  with ``C_m = 1 pF`` (a weight is the PSP jump in mV, as in spikewire); exponential
  current synapses → ``iaf_psc_exp`` with ``C_m = 250 pF``, ``tau_syn_ex = tau_syn_in =
  tau_syn``, a spikewire weight ``w`` (jump of ``R·I_syn`` in mV) becoming the current
  jump ``w · C_m / tau_m`` in pA; other models as their class documents;
- ``tau_m, theta, v_reset, v_rest, tau_ref`` → ``tau_m, V_th, V_reset, E_L, t_ref`` (ms),
  per neuron where E and I have their own parameters;
- delays: ``None`` → one time step, scalar or per synapse (s → ms);
- :class:`~spikewire.PoissonDrive` → one ``poisson_generator`` (independent trains per
  target) at ``rate · n_inputs`` with the drive's weight; per-neuron rates get one
  generator per neuron;
- :class:`~spikewire.WhiteNoiseDrive` → constant current ``I_e = μ C_m / τ_m`` plus a
  ``noise_generator`` of standard deviation ``σ C_m / sqrt(τ_m dt)`` held for one step
  (the same diffusion in the limit of small dt).

Initial membrane potentials are uniform in ``[v_reset, theta)`` like spikewire's default.
Drive modulation and stimulation are not exported (build them with NEST's own devices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewire.core.network import Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.seeds import child as seed_child
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["NestNetwork", "to_nest", "simulate_nest"]


def _numba_openmp_started() -> bool:
    """True if numba's OpenMP thread pool already ran a parallel kernel in this process."""
    import numba

    try:
        return numba.threading_layer() == "omp"
    except ValueError:  # no parallel kernel has run yet
        return False


def _import_nest():
    try:
        import nest
    except ImportError:
        raise ImportError("NEST is not installed: pip install nest-simulator (or "
                          "'spikewire[nest]'); see https://nest-simulator.org") from None
    if _numba_openmp_started():
        # NEST's OpenMP runtime crashes (segmentation fault in ResetKernel) once numba's
        # OpenMP pool is running in the same process
        raise RuntimeError(
            "NEST cannot run in this process: numba's OpenMP thread pool is already active "
            "(a parallel spikewire kernel such as theory.lif_rate on a large array ran "
            "first), and the two OpenMP runtimes crash together. Set the environment "
            "variable NUMBA_THREADING_LAYER=workqueue before starting Python, or export to "
            "NEST before running parallel kernels")
    return nest


@dataclass
class NestNetwork:
    """Handles of a network built in the current NEST kernel."""

    nest: object
    neurons: object
    recorder: object
    network: Network
    dt: float

    def run(self, duration: float) -> SpikeTrains:
        """Simulate ``duration`` s more and return all spikes so far (unit id = neuron index)."""
        self.nest.Simulate(float(duration) * 1e3)
        ev = self.recorder.get("events")
        first = int(self.neurons.tolist()[0])
        t = np.asarray(ev["times"], dtype=float) * 1e-3
        who = np.asarray(ev["senders"], dtype=np.int64) - first
        t_stop = float(self.nest.GetKernelStatus("biological_time")) * 1e-3
        t = np.clip(t, 0.0, np.nextafter(t_stop, 0))  # NEST stamps the end of the step
        return SpikeTrains.from_times(t, who, t_start=0.0, t_stop=t_stop,
                                      units=np.arange(self.network.n_neurons), sort=True,
                                      annotations={"engine": "nest",
                                                   "nest_version": self.nest.__version__})


def _per_type(network: Network, value: dict[str, float]) -> np.ndarray:
    """Per-neuron array (N,) from one value per cell type."""
    out = np.empty(network.n_neurons)
    for c, x in value.items():
        out[network.cell_type == c] = x
    return out


def to_nest(network: Network, *, dt: float = 1e-4, seed=0, threads: int = 1,
            reset: bool = True, v_init: str = "uniform") -> NestNetwork:
    """Build ``network`` in NEST (neurons, synapses, delays, drive, a spike recorder).

    Parameters
    ----------
    network : Network
    dt : float, default 1e-4
        NEST resolution in s (every delay must be a multiple; ``None`` delays are one step).
    seed : int, SeedSequence or Generator, default 0
        Root of the ``"simulation"`` stream (:mod:`spikewire.core.seeds`): NEST's
        ``rng_seed`` and the initial potentials derive from it, never from the numbers
        that drew the connectivity.
    threads : int, default 1
        ``local_num_threads`` of the kernel (MPI ranks come from ``mpirun``).
    reset : bool, default True
        ``ResetKernel`` first.
    v_init : {"uniform", "reset"}
        Initial potentials uniform in ``[v_reset, theta)`` or all at ``v_reset``.

    Returns
    -------
    NestNetwork
        ``.run(duration)`` simulates and returns :class:`~spikewire.SpikeTrains`.
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spikewire Network, got {type(network).__name__}")
    if network.neuron_model != "lif":
        raise ValueError(f"NEST export covers LIF networks (iaf_psc_*); this network's neurons "
                         f"are {network.neuron_model!r}: simulate it with spikewire.simulate")
    if dt <= 0:
        raise ValueError(f"dt must be > 0 s, got {dt}")
    if v_init not in ("uniform", "reset"):
        raise ValueError(f"v_init must be 'uniform' or 'reset', got {v_init!r}")
    nest = _import_nest()
    q = network.neuron_params()  # per-neuron arrays (s, mV): E and I may differ
    n = network.n_neurons
    dt_ms = dt * 1e3
    # NEST's own RNG seed (1 .. 2**31 - 1) from a sub-stream of the simulation stream
    nest_seed = int(seed_child(seed, "simulation", 1).generate_state(1)[0]) % (2**31 - 2) + 1
    if reset:
        nest.ResetKernel()
    if hasattr(nest, "VerbosityLevel"):  # NEST >= 3.9
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - older NEST
        nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": dt_ms, "local_num_threads": int(threads),
                          "rng_seed": nest_seed, "print_time": False})
    tau_ms = q["tau_m"] * 1e3
    per_neuron = {"tau_m": tau_ms, "t_ref": q["tau_ref"] * 1e3, "E_L": q["v_rest"],
                  "V_reset": q["v_reset"], "V_th": q["theta"]}
    # the synapse model gives the NEST model, its parameters and the weight scale
    types = sorted(set(network.cell_type.tolist()))
    syn = {c: network.params_of(c).synapse for c in types}
    first = syn[types[0]] if n else network.params_of("E").synapse
    model, c_m = first.nest_model, first.nest_c_m
    for key in first.nest_params():
        per_neuron[key] = _per_type(network, {c: s.nest_params()[key] for c, s in syn.items()})
    # mV -> pA (or mV for delta synapses), per postsynaptic neuron
    scale = _per_type(network, {c: s.nest_weight_scale(network.params_of(c).tau_m)
                                for c, s in syn.items()})
    common = {"C_m": c_m}
    for key, values in per_neuron.items():
        if n and np.all(values == values[0]):
            common[key] = float(values[0])
    drive = network.drive
    if isinstance(drive, WhiteNoiseDrive):
        mu = np.broadcast_to(np.asarray(drive.mu, float), (n,))
    neurons = nest.Create(model, n, params=common)
    for key, values in per_neuron.items():
        if key not in common:
            neurons.set({key: values.tolist()})
    rng = seeded_rng(seed, "simulation")
    if v_init == "uniform":
        if network.uniform_params:
            V0 = rng.uniform(q["v_reset"][0], q["theta"][0], size=n)
        else:
            V0 = rng.uniform(q["v_reset"], q["theta"], size=n)
    else:
        V0 = q["v_reset"]
    neurons.V_m = V0.tolist()
    ids = np.asarray(neurons.tolist(), dtype=np.int64)

    # recurrent synapses (CSC: column j holds the targets of presynaptic neuron j)
    w = network.weights
    indptr, post = w.indptr, w.indices
    pre = np.repeat(np.arange(n), np.diff(indptr))
    if network.delays is None:
        delays = np.full(w.nnz, dt_ms)
    else:
        delays = np.broadcast_to(np.asarray(network.delays, float) * 1e3, (w.nnz,)).copy()
    if w.nnz:
        nest.Connect(ids[pre], ids[post], "one_to_one",
                     syn_spec={"weight": np.asarray(w.data, float) * scale[post],
                               "delay": delays})

    # external drive
    if isinstance(drive, PoissonDrive):
        rate = np.broadcast_to(np.asarray(drive.rate, float) * drive.n_inputs, (n,))
        weight = float(drive.weight) * scale
        if np.all(rate == rate[0]):
            gen = nest.Create("poisson_generator", params={"rate": float(rate[0])})
            for wv in np.unique(weight):  # one connection call per postsynaptic scale
                nest.Connect(gen, neurons[np.flatnonzero(weight == wv).tolist()],
                             syn_spec={"weight": float(wv), "delay": dt_ms})
        else:
            gens = nest.Create("poisson_generator", n, params=[{"rate": float(r)} for r in rate])
            nest.Connect(gens, neurons, "one_to_one", syn_spec={"weight": weight,
                                                                 "delay": dt_ms})
    elif isinstance(drive, WhiteNoiseDrive):
        neurons.I_e = (mu * c_m / tau_ms).tolist()
        sigma = np.broadcast_to(np.asarray(drive.sigma, float), (n,))
        if np.any(sigma > 0):
            std = sigma * c_m / np.sqrt(tau_ms * dt_ms)
            gens = nest.Create("noise_generator", n, params=[
                {"mean": 0.0, "std": float(s), "dt": dt_ms} for s in std])
            nest.Connect(gens, neurons, "one_to_one")
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    return NestNetwork(nest=nest, neurons=neurons, recorder=recorder, network=network, dt=dt)


def simulate_nest(network: Network, duration: float, *, dt: float = 1e-4, seed: int = 0,
                  threads: int = 1) -> SpikeTrains:
    """Build ``network`` in NEST and simulate it for ``duration`` s (see :func:`to_nest`)."""
    if duration <= 0:
        raise ValueError(f"duration must be > 0 s, got {duration}")
    return to_nest(network, dt=dt, seed=seed, threads=threads).run(duration)
