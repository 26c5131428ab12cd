"""Neuron models other than LIF: Izhikevich (2003) and adaptive exponential IF (AdEx).

A :class:`~spikewire.core.Network` whose ``params`` is an :class:`IzhikevichParams` or an
:class:`AdExParams` is simulated by the matching engine of :mod:`spikewire.simulate`. The
units of the network's weights follow the model:

- **Izhikevich**: a weight ``w`` is a current pulse in the model's dimensionless units
  (Izhikevich 2003, ``dv/dt = 0.04 v² + 5 v + 140 - u + I`` with t in ms) carrying the charge
  of a 1 ms pulse of amplitude ``w``, i.e. the membrane jumps by about ``w`` mV. At
  ``dt = 1 ms`` this is exactly Izhikevich's convention (``I += w`` for one step).
- **AdEx**: a weight is a conductance increment in nS (``w > 0`` on the excitatory
  conductance, ``w < 0`` adds ``|w|`` to the inhibitory conductance).

Each field of a parameter set is a scalar (shared by all neurons it applies to) or, in a
single parameter set covering the whole network, one value per neuron (heterogeneous
networks). ``Network.params`` may also be a dict ``{"E": ..., "I": ...}`` of scalar sets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["AdExParams", "IzhikevichParams", "per_neuron"]


def _field_value(name: str, value, *, positive: bool = False, nonneg: bool = False):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array (one value per neuron), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonneg and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    if arr.ndim == 0:
        return float(arr)
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


class _ModelParams:
    """Shared behaviour of the non-LIF parameter sets."""

    model: str = ""
    _positive: tuple[str, ...] = ()
    _nonneg: tuple[str, ...] = ()

    def _validate_fields(self):
        sizes = set()
        for f in dataclasses.fields(self):
            v = _field_value(f.name, getattr(self, f.name), positive=f.name in self._positive,
                             nonneg=f.name in self._nonneg)
            object.__setattr__(self, f.name, v)
            if isinstance(v, np.ndarray):
                sizes.add(v.size)
        if len(sizes) > 1:
            raise ValueError(f"per-neuron {type(self).__name__} fields must all have the same "
                             f"length, got lengths {sorted(sizes)}")

    @property
    def n_values(self) -> int | None:
        """Length of the per-neuron fields, or None when every field is a scalar."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                return int(v.size)
        return None

    def arrays(self, n: int) -> dict[str, np.ndarray]:
        """Every field broadcast to ``n`` neurons."""
        return {f.name: np.broadcast_to(getattr(self, f.name), (n,)).astype(np.float64)
                for f in dataclasses.fields(self)}

    def subset(self, index) -> _ModelParams:
        """The parameters of the neurons ``index`` (scalar fields are kept)."""
        changes = {f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)
                   if isinstance(getattr(self, f.name), np.ndarray)}
        return dataclasses.replace(self, **changes)

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(np.array_equal(getattr(self, f.name), getattr(other, f.name))
                   for f in dataclasses.fields(self))

    __hash__ = None


@dataclass(frozen=True, eq=False)
class IzhikevichParams(_ModelParams):
    """Izhikevich (2003) neuron: ``v' = 0.04 v² + 5 v + 140 - u + I``, ``u' = a (b v - u)``.

    Time in ms inside the model (``a`` in 1/ms), ``v`` in mV; when ``v >= v_peak`` the
    neuron spikes, ``v ← c`` and ``u ← u + d``. Published sets (Izhikevich 2003, fig. 2):
    regular spiking (RS) a=0.02, b=0.2, c=-65, d=8 (the defaults); fast spiking (FS)
    a=0.1, b=0.2, c=-65, d=2; intrinsically bursting (IB) c=-55, d=4; chattering (CH)
    c=-50, d=2. Use :meth:`preset` for these.

    Parameters
    ----------
    a : float or ndarray, default 0.02
        Recovery rate in 1/ms.
    b : float or ndarray, default 0.2
        Sensitivity of ``u`` to ``v`` (dimensionless).
    c : float or ndarray, default -65.0
        Reset potential in mV.
    d : float or ndarray, default 8.0
        Jump of ``u`` at a spike.
    v_peak : float or ndarray, default 30.0
        Spike cut-off in mV.
    """

    a: float | np.ndarray = 0.02
    b: float | np.ndarray = 0.2
    c: float | np.ndarray = -65.0
    d: float | np.ndarray = 8.0
    v_peak: float | np.ndarray = 30.0

    model = "izhikevich"
    _positive = ("a",)

    PRESETS = {  # Izhikevich (2003), fig. 2
        "RS": dict(a=0.02, b=0.2, c=-65.0, d=8.0),
        "IB": dict(a=0.02, b=0.2, c=-55.0, d=4.0),
        "CH": dict(a=0.02, b=0.2, c=-50.0, d=2.0),
        "FS": dict(a=0.1, b=0.2, c=-65.0, d=2.0),
        "LTS": dict(a=0.02, b=0.25, c=-65.0, d=2.0),
    }

    def __post_init__(self):
        self._validate_fields()
        if np.any(np.asarray(self.c) >= np.asarray(self.v_peak)):
            raise ValueError(f"c (reset, {self.c!r} mV) must lie below v_peak "
                             f"({self.v_peak!r} mV)")

    @classmethod
    def preset(cls, name: str) -> IzhikevichParams:
        """The published parameter set ``"RS"``, ``"IB"``, ``"CH"``, ``"FS"`` or ``"LTS"``."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown Izhikevich preset {name!r}; choose one of "
                             f"{sorted(cls.PRESETS)}")
        return cls(**cls.PRESETS[name])


@dataclass(frozen=True, eq=False)
class AdExParams(_ModelParams):
    """Adaptive exponential integrate-and-fire neuron with conductance synapses.

    ``C V' = -g_L (V - E_L) + g_L Δ_T exp((V - V_T)/Δ_T) - w + I + g_e (E_e - V) + g_i (E_i - V)``,
    ``τ_w w' = a (V - E_L) - w``; ``g_e``, ``g_i`` decay with ``τ_e``, ``τ_i``. When
    ``V >= V_peak``: spike, ``V ← V_reset``, ``w ← w + b``, then ``V`` is held for ``tau_ref``
    (Brette & Gerstner 2005; Naud et al. 2008). Defaults: Brette & Gerstner's regular
    spiking cell. See :meth:`preset` for bursting and fast-spiking sets.

    Parameters
    ----------
    C : pF, default 281.0
    g_L : nS, default 30.0
    E_L : mV, default -70.6
    V_T : mV, default -50.4
    Delta_T : mV, default 2.0
    a : nS, default 4.0
        Subthreshold adaptation.
    tau_w : s, default 0.144
    b : pA, default 80.5
        Spike-triggered adaptation.
    V_reset : mV, default -70.6
    V_peak : mV, default 0.0 (V_T + 5 Δ_T or higher)
    tau_ref : s, default 0.0
    E_e, E_i : mV, default 0.0 and -80.0
        Reversal potentials of the excitatory and inhibitory conductances.
    tau_e, tau_i : s, default 0.005 and 0.010
        Decay times of the synaptic conductances.
    """

    C: float | np.ndarray = 281.0
    g_L: float | np.ndarray = 30.0
    E_L: float | np.ndarray = -70.6
    V_T: float | np.ndarray = -50.4
    Delta_T: float | np.ndarray = 2.0
    a: float | np.ndarray = 4.0
    tau_w: float | np.ndarray = 0.144
    b: float | np.ndarray = 80.5
    V_reset: float | np.ndarray = -70.6
    V_peak: float | np.ndarray = 0.0
    tau_ref: float | np.ndarray = 0.0
    E_e: float | np.ndarray = 0.0
    E_i: float | np.ndarray = -80.0
    tau_e: float | np.ndarray = 0.005
    tau_i: float | np.ndarray = 0.010

    model = "adex"
    _positive = ("C", "g_L", "Delta_T", "tau_w", "tau_e", "tau_i")
    _nonneg = ("tau_ref",)

    PRESETS = {
        # Brette & Gerstner (2005), regular spiking with adaptation
        "RS": dict(C=281.0, g_L=30.0, E_L=-70.6, V_T=-50.4, Delta_T=2.0, a=4.0, tau_w=0.144,
                   b=80.5, V_reset=-70.6),
        # Naud et al. (2008), table 1: regular bursting
        "bursting": dict(C=200.0, g_L=10.0, E_L=-58.0, V_T=-50.0, Delta_T=2.0, a=2.0,
                         tau_w=0.120, b=100.0, V_reset=-46.0),
        # Naud et al. (2008), table 1: tonic spiking (no adaptation current jump)
        "tonic": dict(C=200.0, g_L=10.0, E_L=-70.0, V_T=-50.0, Delta_T=2.0, a=2.0,
                      tau_w=0.030, b=0.0, V_reset=-58.0),
        # fast-spiking interneuron: Brette & Gerstner's cell without adaptation, tau_m 5 ms
        "FS": dict(C=150.0, g_L=30.0, E_L=-70.6, V_T=-50.4, Delta_T=2.0, a=0.0,
                   tau_w=0.144, b=0.0, V_reset=-70.6),
    }

    def __post_init__(self):
        self._validate_fields()
        vt, dT, vp = (np.asarray(x) for x in (self.V_T, self.Delta_T, self.V_peak))
        if np.any(vp < vt):
            raise ValueError(f"V_peak ({self.V_peak!r} mV) must be at least V_T "
                             f"({self.V_T!r} mV); V_T + 5 Delta_T is usual")
        if np.any((vp - vt) / dT > 50):
            raise ValueError("V_peak is more than 50 Delta_T above V_T; the exponential term "
                             "overflows there: lower V_peak")
        if np.any(np.asarray(self.V_reset) >= vp):
            raise ValueError(f"V_reset ({self.V_reset!r} mV) must lie below V_peak")

    @classmethod
    def preset(cls, name: str, **changes) -> AdExParams:
        """Published set ``"RS"`` (Brette & Gerstner 2005), ``"bursting"``, ``"tonic"``
        (Naud et al. 2008) or ``"FS"``, with optional field changes."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown AdEx preset {name!r}; choose one of {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **changes})

    def rheobase(self) -> float | np.ndarray:
        """Rheobase current in pA for the saddle-node case (``a/g_L < τ_m/τ_w``).

        ``I_rh = (g_L + a)(V_T - E_L - Δ_T + Δ_T ln(1 + a/g_L))`` (Touboul & Brette 2008);
        for ``a/g_L > τ_m/τ_w`` the onset is a Hopf bifurcation and this is a lower bound.
        """
        gl, a = np.asarray(self.g_L), np.asarray(self.a)
        out = (gl + a) * (np.asarray(self.V_T) - np.asarray(self.E_L) - np.asarray(self.Delta_T)
                          + np.asarray(self.Delta_T) * np.log1p(a / gl))
        return float(out) if out.ndim == 0 else out


MODEL_TYPES = (IzhikevichParams, AdExParams)


def per_neuron(params, cell_type: np.ndarray) -> dict[str, np.ndarray]:
    """Per-neuron arrays of a model parameter set (or an {"E", "I"} dict of them)."""
    n = cell_type.size
    if isinstance(params, MODEL_TYPES):
        return params.arrays(n)
    out = None
    for c, p in params.items():
        sel = cell_type == c
        arr = p.arrays(int(sel.sum()))
        if out is None:
            out = {k: np.zeros(n) for k in arr}
        for k, v in arr.items():
            out[k][sel] = v
    return out
