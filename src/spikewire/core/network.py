"""The ground-truth network: cells, synapses, delays, neuron parameters and drive.

Conventions
-----------
- Weights form a sparse **post × pre** matrix: ``weights[i, j]`` is the synapse from
  neuron ``j`` onto neuron ``i``. It is stored as ``scipy.sparse.csc_array`` so that the
  outgoing synapses of a presynaptic neuron are contiguous (what the event-driven engine
  needs). Units: mV. What a weight means is defined by the synapse model
  (``LIFParams.synapse``, :mod:`spikewire.core.synapses`): for delta synapses the jump of
  the membrane potential (PSP amplitude); for exponential synapses the jump of the
  synaptic input ``R·I_syn`` in mV (PSP area ``w·τ_s`` mV·s); each model's
  ``psp_area`` gives the mean input per presynaptic spike.
- Delays are in seconds: ``None`` (one simulation time step: instantaneous transmission,
  the "unrealistic" model), a scalar, or one value per synapse aligned with
  ``weights.data``.
- ``cell_type`` holds ``"E"`` or ``"I"`` per neuron. Dale's law holds: all outgoing
  weights of an E neuron are >= 0, of an I neuron <= 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from spikewire._validation import check_finite, check_int, check_positive
from spikewire.core.neurons import MODEL_TYPES, AdExParams, IzhikevichParams, per_neuron
from spikewire.core.synapses import Synapse, as_synapse

__all__ = ["LIFParams", "PoissonDrive", "WhiteNoiseDrive", "Network", "DaleViolation"]


class DaleViolation(ValueError):
    """A neuron's outgoing weights do not all share the sign of its cell type."""


@dataclass(frozen=True)
class LIFParams:
    """Leaky integrate-and-fire neuron parameters (Brunel 2000, model A defaults).

    Parameters
    ----------
    tau_m : float, default 0.020
        Membrane time constant in s.
    theta : float, default 20.0
        Firing threshold in mV.
    v_reset : float, default 10.0
        Reset potential in mV (must be below ``theta``).
    v_rest : float, default 0.0
        Resting potential in mV.
    tau_ref : float, default 0.002
        Absolute refractory period in s; 0 switches refractoriness off.
    tau_syn : float or None, default None
        Shorthand for the synapse: a time constant in s gives exponential current
        synapses, ``None`` delta synapses (PSP jumps). When ``synapse`` is given this is
        filled in from it (its time constant, ``None`` for delta synapses).
    synapse : Synapse, optional
        The synapse model (:mod:`spikewire.core.synapses`), e.g. ``DeltaSynapse()``,
        ``ExponentialSynapse(0.005)``; default: the one ``tau_syn`` describes. Giving both
        requires them to agree; use :meth:`with_synapse` to change the model of a copy.
    """

    tau_m: float = 0.020
    theta: float = 20.0
    v_reset: float = 10.0
    v_rest: float = 0.0
    tau_ref: float = 0.002
    tau_syn: float | None = None
    synapse: Synapse | None = None

    def __post_init__(self):
        check_positive("tau_m", self.tau_m, unit="s")
        check_finite("theta", self.theta, unit="mV")
        check_finite("v_reset", self.v_reset, unit="mV")
        check_finite("v_rest", self.v_rest, unit="mV")
        check_positive("tau_ref", self.tau_ref, allow_zero=True, unit="s")
        if self.v_reset >= self.theta:
            raise ValueError(f"v_reset ({self.v_reset} mV) must be below theta "
                             f"({self.theta} mV)")
        if self.synapse is None:
            syn = as_synapse(self.tau_syn)  # validates tau_syn
        elif not isinstance(self.synapse, Synapse):
            raise TypeError(f"synapse must be a Synapse (spikewire.core.synapses), got "
                            f"{type(self.synapse).__name__}; or give tau_syn (s) instead")
        else:
            syn = self.synapse
            if self.tau_syn is not None and self.tau_syn != syn.tau_syn:
                raise ValueError(f"tau_syn={self.tau_syn!r} s disagrees with synapse={syn!r}; "
                                 "give only one of them (params.with_synapse(s) changes the "
                                 "model of a copy)")
        syn.check_neuron(self.tau_m)
        object.__setattr__(self, "synapse", syn)
        object.__setattr__(self, "tau_syn", syn.tau_syn)

    def with_synapse(self, synapse: Synapse | float | None) -> LIFParams:
        """A copy with another synapse model (a :class:`Synapse`, a ``tau_syn`` or None)."""
        syn = as_synapse(synapse)
        return dataclasses.replace(self, synapse=syn, tau_syn=syn.tau_syn)


@dataclass(frozen=True)
class PoissonDrive:
    """External drive by independent Poisson spike trains (Brunel's ν_ext).

    Each neuron receives ``n_inputs`` external synapses of amplitude ``weight`` (mV),
    each firing at ``rate`` (Hz). ``rate`` may be a scalar or one value per neuron.
    """

    rate: float | np.ndarray
    n_inputs: int = 1
    weight: float = 0.1

    def __post_init__(self):
        r = np.asarray(self.rate, dtype=float)
        if not np.all(np.isfinite(r)) or np.any(r < 0):
            raise ValueError(f"external rate must be finite and >= 0 Hz, got {self.rate!r}")
        check_int("n_inputs", self.n_inputs, minimum=0)
        check_finite("weight", self.weight, unit="mV")

    def total_rate(self, n: int) -> np.ndarray:
        """Summed external input rate per neuron in Hz, shape (n,)."""
        return np.broadcast_to(np.asarray(self.rate, dtype=float) * self.n_inputs, (n,)).copy()


@dataclass(frozen=True)
class WhiteNoiseDrive:
    """External drive as Gaussian white noise: τ_m dV/dt = -(V - V_rest) + μ + σ √τ_m ξ(t).

    ``mu`` and ``sigma`` are in mV (scalars or one value per neuron); the free membrane
    potential then has mean ``V_rest + μ`` and standard deviation ``σ/√2``.
    """

    mu: float | np.ndarray
    sigma: float | np.ndarray = 0.0

    def __post_init__(self):
        m = np.asarray(self.mu, dtype=float)
        s = np.asarray(self.sigma, dtype=float)
        if not np.all(np.isfinite(m)):
            raise ValueError(f"mu must be finite (mV), got {self.mu!r}")
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError(f"sigma must be finite and >= 0 (mV), got {self.sigma!r}")


@dataclass(eq=False)
class Network:
    """A network of LIF neurons with E/I types and sparse delayed synapses.

    Parameters
    ----------
    weights : scipy.sparse matrix or array, shape (N, N)
        Post × pre weights in mV (see module docstring). Stored as CSC.
    cell_type : array of str, shape (N,)
        ``"E"`` or ``"I"`` per neuron.
    delays : None, float or ndarray
        Transmission delays in s: ``None`` = one time step; a scalar; or per synapse,
        aligned with ``weights.data`` of the stored CSC matrix.
    params : LIFParams or dict of {"E": LIFParams, "I": LIFParams}
        Neuron parameters: one set shared by all neurons, or one set per cell type
        (e.g. Ekelmans et al. 2023: τ_E = 20 ms, τ_I = 10 ms). Every cell type present
        needs an entry; both must use the same synapse model (``tau_syn`` None for both or
        for neither). A dict whose entries are all equal is stored as one ``LIFParams``.
        Other neuron models: an :class:`~spikewire.core.neurons.IzhikevichParams` (weights
        are current pulses in the model's units, ≈ mV jumps) or
        :class:`~spikewire.core.neurons.AdExParams` (weights are conductance increments in
        nS), either one set (fields scalar or one value per neuron) or a dict per cell type.
    drive : PoissonDrive or WhiteNoiseDrive or None
        External input.
    positions : ndarray, shape (N, d), optional
        Positions (mm) for spatial networks.
    name : str
        Short label used in reports.
    spec : dict
        The builder's arguments (used for hashing / caching and reports).
    check_dale : bool, default True
        Raise :class:`DaleViolation` listing the neurons whose outgoing weights disagree
        with their cell type.
    """

    weights: sp.csc_array
    cell_type: np.ndarray
    delays: float | np.ndarray | None = None
    params: LIFParams | dict[str, LIFParams] = field(default_factory=LIFParams)
    drive: PoissonDrive | WhiteNoiseDrive | None = None
    positions: np.ndarray | None = None
    name: str = "network"
    spec: dict = field(default_factory=dict)
    check_dale: bool = True

    def __post_init__(self):
        w = self.weights
        if not sp.issparse(w):
            w = np.asarray(w)
            if w.ndim != 2:
                raise ValueError(f"weights must be a 2-D post x pre matrix, got shape {w.shape}")
        if w.shape[0] != w.shape[1]:
            raise ValueError(f"weights must be square (post x pre), got shape {w.shape}")
        if not isinstance(w, sp.csc_array):  # no copy for CSC input (replace() shares it)
            w = sp.csc_array(w)
        w.sum_duplicates()
        w.sort_indices()
        if w.nnz and not np.all(np.isfinite(w.data)):
            bad = np.flatnonzero(~np.isfinite(w.data))[0]
            raise ValueError(f"weights contain a non-finite value {float(w.data[bad])!r}")
        self.weights = w
        ct = np.asarray(self.cell_type).astype("<U1")
        if ct.shape != (w.shape[0],):
            raise ValueError(f"cell_type must have one entry per neuron ({w.shape[0]}), "
                             f"got shape {ct.shape}")
        bad = np.flatnonzero((ct != "E") & (ct != "I"))
        if bad.size:
            raise ValueError(f"cell_type must be 'E' or 'I'; neuron(s) {bad[:10].tolist()} have "
                             f"{ct[bad[:10]].tolist()}")
        self.cell_type = ct
        self.params = _check_params(self.params, set(np.unique(ct).tolist()))
        if isinstance(self.params, MODEL_TYPES) and self.params.n_values not in (None, ct.size):
            raise ValueError(f"per-neuron {type(self.params).__name__} fields have "
                             f"{self.params.n_values} values for {ct.size} neurons")
        if self.delays is not None:
            if np.ndim(self.delays) == 0:
                check_positive("delay", self.delays, unit="s")
                self.delays = float(self.delays)
            else:
                d = np.asarray(self.delays, dtype=np.float64).ravel()
                if d.size != w.nnz:
                    raise ValueError(f"per-synapse delays must have one value per synapse "
                                     f"({w.nnz}), got {d.size}")
                if not np.all(np.isfinite(d)) or np.any(d <= 0):
                    raise ValueError("per-synapse delays must be finite and > 0 s")
                self.delays = d
        if self.check_dale:
            self.dale_violations(raise_error=True)

    # ------------------------------------------------------------------ properties
    @property
    def n_neurons(self) -> int:
        """Number of neurons N."""
        return int(self.weights.shape[0])

    @property
    def n_synapses(self) -> int:
        """Number of stored (non-zero) synapses."""
        return int(self.weights.nnz)

    @property
    def is_excitatory(self) -> np.ndarray:
        """Boolean mask of E neurons, shape (N,)."""
        return self.cell_type == "E"

    @property
    def n_excitatory(self) -> int:
        return int(self.is_excitatory.sum())

    @property
    def n_inhibitory(self) -> int:
        return self.n_neurons - self.n_excitatory

    @property
    def neuron_model(self) -> str:
        """``"lif"``, ``"izhikevich"`` or ``"adex"``: the model ``params`` describes."""
        p = self.params if not isinstance(self.params, Mapping) else \
            next(iter(self.params.values()))
        return "lif" if isinstance(p, LIFParams) else p.model

    @property
    def uniform_params(self) -> bool:
        """True when all neurons share one :class:`LIFParams`."""
        return isinstance(self.params, LIFParams)

    def params_of(self, cell_type: str) -> LIFParams:
        """The neuron parameters of cell type ``"E"`` or ``"I"``."""
        if cell_type not in ("E", "I"):
            raise ValueError(f"cell_type must be 'E' or 'I', got {cell_type!r}")
        if self.uniform_params:
            return self.params
        if isinstance(self.params, MODEL_TYPES):
            if self.params.n_values is None:
                return self.params
            return self.params.subset(self.cell_type == cell_type)
        if cell_type not in self.params:
            raise ValueError(f"this network has no {cell_type} neurons and no parameters "
                             f"for them")
        return self.params[cell_type]

    def neuron_params(self) -> dict[str, np.ndarray]:
        """Per-neuron parameter arrays, shape (N,) each.

        Keys ``tau_m``, ``tau_ref``, ``tau_syn`` (s; ``tau_syn`` is NaN for delta
        synapses) and ``theta``, ``v_reset``, ``v_rest`` (mV).
        """
        if self.neuron_model != "lif":  # Izhikevich / AdEx: the fields of the model
            return per_neuron(self.params, self.cell_type)
        names = ("tau_m", "theta", "v_reset", "v_rest", "tau_ref", "tau_syn")
        out = {}
        for k in names:
            def val(p, k=k):
                x = getattr(p, k)
                return np.nan if x is None else float(x)
            if self.uniform_params:
                out[k] = np.full(self.n_neurons, val(self.params))
            else:
                types = sorted(self.params)
                table = np.array([val(self.params[c]) for c in types])
                out[k] = table[np.searchsorted(types, self.cell_type)]
        return out

    def dense_weights(self) -> np.ndarray:
        """Weights as a dense post × pre ndarray in mV (small networks only)."""
        if self.n_neurons > 20_000:
            raise ValueError(f"a dense {self.n_neurons}² matrix needs "
                             f"{self.n_neurons**2 * 8 / 2**30:.1f} GiB; use .weights (sparse)")
        return self.weights.toarray()

    def synapse_delays(self) -> np.ndarray | None:
        """Per-synapse delays in s aligned with ``weights.data`` (None = one time step)."""
        if self.delays is None:
            return None
        if np.ndim(self.delays) == 0:
            return np.full(self.n_synapses, float(self.delays))
        return self.delays

    def dale_violations(self, raise_error: bool = False) -> np.ndarray:
        """Neurons whose outgoing weights do not all share the sign of their type."""
        w = self.weights
        col = np.repeat(np.arange(self.n_neurons), np.diff(w.indptr))
        pos = np.zeros(self.n_neurons, bool)
        neg = np.zeros(self.n_neurons, bool)
        pos[col[w.data > 0]] = True
        neg[col[w.data < 0]] = True
        bad = np.flatnonzero((self.is_excitatory & neg) | (~self.is_excitatory & pos))
        if raise_error and bad.size:
            lst = ", ".join(f"{j} ({self.cell_type[j]})" for j in bad[:20])
            more = f" and {bad.size - 20} more" if bad.size > 20 else ""
            raise DaleViolation(
                f"Dale's law is violated by {bad.size} neuron(s): {lst}{more}. E neurons need "
                "outgoing (column) weights >= 0 and I neurons <= 0; check the matrix orientation "
                "(post x pre) or pass check_dale=False")
        return bad

    def replace(self, **changes) -> Network:
        """A copy with some fields replaced (e.g. ``params``, ``delays``, ``drive``).

        The weight matrix is shared with the original (not copied) unless replaced.
        """
        spec = dict(self.spec)
        for k, v in changes.items():
            if k not in ("weights", "spec"):
                spec[k] = _spec_value(v)
        changes.setdefault("spec", spec)
        return dataclasses.replace(self, **changes)

    def memory_bytes(self) -> int:
        """Approximate memory held by the synapses in bytes."""
        w = self.weights
        total = w.data.nbytes + w.indices.nbytes + w.indptr.nbytes
        if isinstance(self.delays, np.ndarray):
            total += self.delays.nbytes
        return int(total)

    def __repr__(self) -> str:
        d = ("1 step" if self.delays is None else
             f"{self.delays * 1e3:g} ms" if np.ndim(self.delays) == 0 else "per synapse")
        if self.neuron_model != "lif":
            return (f"Network(name={self.name!r}, N={self.n_neurons} ({self.n_excitatory} E, "
                    f"{self.n_inhibitory} I), synapses={self.n_synapses}, delay={d}, "
                    f"model={self.neuron_model})")
        if self.uniform_params:
            p = self.params
            neuron = f"tau_m={p.tau_m * 1e3:g} ms, tau_ref={p.tau_ref * 1e3:g} ms"
        else:
            neuron = ", ".join(f"tau_m_{c}={q.tau_m * 1e3:g} ms"
                               for c, q in sorted(self.params.items()))
        syn = next(iter(self.params.values())) if not self.uniform_params else self.params
        return (f"Network(name={self.name!r}, N={self.n_neurons} ({self.n_excitatory} E, "
                f"{self.n_inhibitory} I), synapses={self.n_synapses}, delay={d}, {neuron}, "
                f"synapse={syn.synapse.kind})")


def _check_params(params, types: set[str]) -> LIFParams | dict[str, LIFParams]:
    if isinstance(params, LIFParams | IzhikevichParams | AdExParams):
        return params
    if isinstance(params, Mapping) and params and all(
            isinstance(v, MODEL_TYPES) for v in params.values()):
        return _check_model_dict(dict(params), types)
    if not isinstance(params, Mapping):
        raise TypeError("params must be a LIFParams or a dict {'E': LIFParams, 'I': LIFParams}, "
                        f"got {type(params).__name__}")
    out = dict(params)
    extra = set(out) - {"E", "I"}
    if extra:
        raise ValueError(f"params keys must be cell types 'E' and 'I', got {sorted(extra)}")
    missing = types - set(out)
    if missing:
        raise ValueError(f"params has no entry for cell type(s) {sorted(missing)} present in "
                         "the network; give one LIFParams per cell type")
    for k, v in out.items():
        if not isinstance(v, LIFParams):
            raise TypeError(f"params[{k!r}] must be a LIFParams, got {type(v).__name__}")
    if len({type(v.synapse) for v in out.values()}) > 1:
        kinds = {k: v.synapse.kind for k, v in out.items()}
        raise ValueError(f"E and I must use the same synapse model (their time constants may "
                         f"differ), got {kinds}")
    values = list(out.values())
    if all(v == values[0] for v in values):
        return values[0]
    return out


def _check_model_dict(out: dict, types: set[str]):
    extra = set(out) - {"E", "I"}
    if extra:
        raise ValueError(f"params keys must be cell types 'E' and 'I', got {sorted(extra)}")
    missing = types - set(out)
    if missing:
        raise ValueError(f"params has no entry for cell type(s) {sorted(missing)} present in "
                         "the network; give one parameter set per cell type")
    if len({type(v) for v in out.values()}) > 1:
        raise TypeError("E and I parameters must describe the same neuron model, got "
                        f"{sorted(type(v).__name__ for v in out.values())}")
    for k, v in out.items():
        if v.n_values is not None:
            raise ValueError(f"params[{k!r}] has per-neuron arrays; in a dict per cell type "
                             "give scalars, or pass one parameter set with per-neuron arrays")
    return out


def _spec_value(v):
    if isinstance(v, Mapping):
        return {k: _spec_value(x) for k, x in v.items()}
    if isinstance(v, Synapse):
        return v.spec()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _spec_value(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, np.ndarray):
        return v.tolist() if v.size < 64 else f"array{v.shape}"
    return v
