"""Synapse models of the LIF network: what a presynaptic spike does to its target.

A synapse object is the one place that knows a synapse model. It gives

- the **engine** the exact propagators of its linear synaptic state for a time step
  (:meth:`Synapse.propagators`),
- the **NEST export** its neuron model name, capacitance and parameter mapping
  (:attr:`Synapse.nest_model`, :meth:`Synapse.nest_params`, :meth:`Synapse.nest_weight_scale`),
- the **theory** its postsynaptic potential: closed form :meth:`Synapse.psp`, area
  :meth:`Synapse.psp_area` (the mean input per presynaptic spike) and peak
  :meth:`Synapse.psp_peak`.

Units and conventions (shared by every model)
---------------------------------------------
The membrane obeys ``τ_m dV/dt = -(V - V_rest) + u(t)`` where ``u`` (mV) is the synaptic
input ``R·I_syn``. A weight ``w`` is in mV. A synapse model has ``m`` state variables
``s`` (``m = 0`` for delta synapses) that evolve linearly between spikes; over one step
``dt`` the exact update is::

    V ← V_rest + (V - V_rest)·exp(-dt/τ_m) + c·s_old   (+ w for a delta synapse)
    s ← A·s_old + b·w                                     (inputs arriving at this step)

``A`` (m × m), ``c`` (m,) and ``b`` (m,) are :meth:`Synapse.propagators`. The engine
integrates any model that provides them; a new linear synapse model needs no engine change.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikewire._validation import check_positive

__all__ = ["Synapse", "DeltaSynapse", "ExponentialSynapse", "AlphaSynapse", "as_synapse",
           "synapse_from_spec"]


class Synapse(ABC):
    """Base class of the synapse models (see the module docstring for the conventions).

    Subclasses are frozen dataclasses: equal parameters give equal (and hashable) objects.
    """

    #: short name used in specs and reports
    kind: ClassVar[str]
    #: the NEST model realising a LIF neuron with this synapse
    nest_model: ClassVar[str]
    #: membrane capacitance (pF) used in the NEST export (any value works: weights scale)
    nest_c_m: ClassVar[float] = 250.0
    #: number of synaptic state variables per neuron (0: the input jumps the membrane)
    n_states: ClassVar[int]

    @property
    def tau_syn(self) -> float | None:
        """The synaptic time constant in s (``None`` for delta synapses)."""
        return None

    def check_neuron(self, tau_m: float) -> None:  # noqa: B027 - optional hook
        """Raise ``ValueError`` if this synapse cannot be used with membrane ``tau_m`` (s)."""

    @abstractmethod
    def propagators(self, dt: float, tau_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact one-step propagators ``(A, c, b)`` for step ``dt`` (s) and membrane ``tau_m`` (s).

        Returns
        -------
        A : ndarray, shape (m, m)
            State transition of the synaptic state over one step.
        c : ndarray, shape (m,)
            Contribution of the state at the start of the step to ``V`` at its end (mV per
            state unit).
        b : ndarray, shape (m,)
            Jump of the state per mV of weight arriving at the step.
        """

    @abstractmethod
    def psp(self, t, tau_m: float) -> np.ndarray:
        """Membrane response (mV) to one input of weight 1 mV at ``t = 0``, at times ``t`` (s).

        Starts from rest with no other input and no threshold (the closed form the engine
        reproduces on its grid). Zero for ``t < 0``.
        """

    @abstractmethod
    def psp_area(self, tau_m: float) -> float:
        """Time integral of :meth:`psp` in s (mV·s per mV of weight).

        A presynaptic neuron firing as a Poisson process at rate ``ν`` (Hz) through weight
        ``w`` (mV) raises the mean membrane potential by ``w · ν · psp_area`` (mV): the
        mean input per presynaptic spike that the theory uses (``τ_m`` for delta synapses,
        Brunel's ``J C ν τ``).
        """

    def psp_peak(self, tau_m: float) -> float:
        """Peak of :meth:`psp` in mV per mV of weight (numerically: grid, then refined)."""
        from scipy.optimize import minimize_scalar

        t = np.linspace(0.0, 10.0 * max(tau_m, self.tau_syn or 0.0), 20_001)
        k = int(np.argmax(self.psp(t, tau_m)))
        lo, hi = t[max(k - 1, 0)], t[min(k + 1, t.size - 1)]
        res = minimize_scalar(lambda x: -float(self.psp(x, tau_m)), bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-14})
        return float(max(-res.fun, self.psp(t[k], tau_m)))

    @abstractmethod
    def nest_params(self) -> dict[str, float]:
        """Synaptic parameters of :attr:`nest_model` (NEST units: ms)."""

    def nest_weight_scale(self, tau_m: float) -> float:
        """Factor turning a spikewire weight (mV) into a NEST weight (pA, or mV for delta).

        For current synapses ``u = R·I`` with ``R = τ_m / C_m``, so ``I = u · C_m / τ_m``.
        ``tau_m`` is in s; NEST's ``C_m`` in pF and ``tau_m`` in ms give pA.
        """
        return self.nest_c_m / (tau_m * 1e3)

    def spec(self) -> dict:
        """A JSON-friendly description (``kind`` plus the parameters)."""
        return {"kind": self.kind, "tau_syn": self.tau_syn}


@dataclass(frozen=True)
class DeltaSynapse(Synapse):
    """Delta synapses: a spike of weight ``w`` makes the membrane jump by ``w`` mV.

    NEST: ``iaf_psc_delta`` (with ``C_m = 1 pF`` the weight is the PSP jump in mV, as here).
    PSP: ``w · exp(-t/τ_m)``; area ``w · τ_m``; peak ``w``.
    """

    kind: ClassVar[str] = "delta"
    nest_model: ClassVar[str] = "iaf_psc_delta"
    nest_c_m: ClassVar[float] = 1.0
    n_states: ClassVar[int] = 0

    def propagators(self, dt, tau_m):
        return np.zeros((0, 0)), np.zeros(0), np.zeros(0)

    def psp(self, t, tau_m):
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, np.exp(-np.maximum(t, 0.0) / tau_m), 0.0)

    def psp_area(self, tau_m):
        return float(tau_m)

    def psp_peak(self, tau_m):
        return 1.0

    def nest_params(self):
        return {}

    def nest_weight_scale(self, tau_m):
        return 1.0  # iaf_psc_delta weights are PSP jumps in mV


class _TimeConstantSynapse(Synapse):
    """Shared by the current synapses with one time constant ``tau`` (s): validation and
    the ``tau_syn`` they report (subclasses declare the dataclass field ``tau``)."""

    tau: float

    def __post_init__(self):
        object.__setattr__(self, "tau", float(check_positive("tau_syn", self.tau, unit="s")))

    @property
    def tau_syn(self):
        return self.tau

    def check_neuron(self, tau_m):
        if abs(self.tau - tau_m) < 1e-12:
            raise ValueError("tau_syn must differ from tau_m (use e.g. 0.9999 * tau_m)")


@dataclass(frozen=True)
class ExponentialSynapse(_TimeConstantSynapse):
    """Exponential current synapses: a spike of weight ``w`` makes ``u`` jump by ``w`` mV.

    ``u(t) = w · exp(-t/τ_s)``, so the PSP area is ``w · τ_s`` (mV·s) and the PSP is
    ``w · τ_s/(τ_s - τ_m) · (exp(-t/τ_s) - exp(-t/τ_m))``. NEST: ``iaf_psc_exp`` with
    ``tau_syn_ex = tau_syn_in = τ_s`` (a weight becomes the current jump ``w C_m / τ_m``).
    Inputs arriving during the refractory period still enter ``u`` (as in NEST).

    Parameters
    ----------
    tau : float
        Synaptic time constant τ_s in s (> 0, different from τ_m).
    """

    tau: float
    kind: ClassVar[str] = "exponential"
    nest_model: ClassVar[str] = "iaf_psc_exp"
    n_states: ClassVar[int] = 1

    def propagators(self, dt, tau_m):
        # math.exp: the same value on every platform (the engine's reference results)
        ds, dm = math.exp(-dt / self.tau), math.exp(-dt / tau_m)
        p21 = self.tau / (self.tau - tau_m) * (ds - dm)
        return np.array([[ds]]), np.array([p21]), np.array([1.0])

    def psp(self, t, tau_m):
        t = np.asarray(t, dtype=float)
        tp = np.maximum(t, 0.0)
        v = self.tau / (self.tau - tau_m) * (np.exp(-tp / self.tau) - np.exp(-tp / tau_m))
        return np.where(t >= 0, v, 0.0)

    def psp_area(self, tau_m):
        return self.tau

    def psp_peak(self, tau_m):
        ts, tm = self.tau, tau_m
        t_max = ts * tm / (ts - tm) * math.log(ts / tm)
        return float(self.psp(t_max, tau_m))

    def nest_params(self):
        return {"tau_syn_ex": self.tau * 1e3, "tau_syn_in": self.tau * 1e3}


def _one_minus_exp_times(x: float) -> float:
    """``1 - exp(-x) (1 + x)`` without cancellation for small ``|x|``."""
    if abs(x) < 1e-2:  # series: sum_{n>=2} (-1)^n (n-1) x^n / n!, terms beyond n=8 < 1e-16
        return sum((-1) ** n * (n - 1) * x**n / math.factorial(n) for n in range(2, 9))
    return -math.expm1(-x) - x * math.exp(-x)


@dataclass(frozen=True)
class AlphaSynapse(_TimeConstantSynapse):
    """Alpha-function current synapses, as NEST's ``iaf_psc_alpha``.

    Normalisation (NEST's): a spike of weight ``w`` gives the synaptic input
    ``u(t) = w · e/τ_s · t · exp(-t/τ_s)`` (mV; in NEST the current
    ``I(t) = w · e/τ_s · t · exp(-t/τ_s)`` pA), which peaks at ``u(τ_s) = w``: the weight
    is the peak of the postsynaptic current, as in NEST. The PSP area is ``w · e · τ_s``
    (mV·s) and the PSP, with ``β = 1/τ_s - 1/τ_m``, is
    ``w · e/(τ_s τ_m β²) · (exp(-t/τ_m) - exp(-t/τ_s) (1 + β t))``.

    State ``s = (y1, u)`` with ``dy1/dt = -y1/τ_s``, ``du/dt = y1 - u/τ_s``; a spike adds
    ``w e/τ_s`` to ``y1``. NEST export: ``iaf_psc_alpha`` with ``tau_syn_ex = tau_syn_in =
    τ_s`` and the NEST weight ``w · C_m / τ_m`` pA. Inputs arriving during the refractory
    period still enter the synaptic state (as in NEST).

    Parameters
    ----------
    tau : float
        Synaptic time constant τ_s in s (> 0, different from τ_m): the PSC peaks at τ_s.
    """

    tau: float
    kind: ClassVar[str] = "alpha"
    nest_model: ClassVar[str] = "iaf_psc_alpha"
    n_states: ClassVar[int] = 2

    def propagators(self, dt, tau_m):
        ts = self.tau
        ds, dm = math.exp(-dt / ts), math.exp(-dt / tau_m)
        beta = 1.0 / ts - 1.0 / tau_m
        # y1(0) -> V(dt): (1/τ_m) ∫_0^dt e^{-(dt-s)/τ_m} s e^{-s/τ_s} ds
        p31 = dm / tau_m * _one_minus_exp_times(beta * dt) / beta**2
        p32 = ts / (ts - tau_m) * (ds - dm)  # u(0) -> V(dt), as for exponential synapses
        A = np.array([[ds, 0.0], [dt * ds, ds]])
        return A, np.array([p31, p32]), np.array([math.e / ts, 0.0])

    def psp(self, t, tau_m):
        t = np.asarray(t, dtype=float)
        tp = np.maximum(t, 0.0)
        ts = self.tau
        beta = 1.0 / ts - 1.0 / tau_m
        v = math.e / (ts * tau_m * beta**2) * (np.exp(-tp / tau_m)
                                               - np.exp(-tp / ts) * (1.0 + beta * tp))
        return np.where(t >= 0, v, 0.0)

    def psp_area(self, tau_m):
        return math.e * self.tau

    def nest_params(self):
        return {"tau_syn_ex": self.tau * 1e3, "tau_syn_in": self.tau * 1e3}


def as_synapse(value: Synapse | float | None) -> Synapse:
    """The synapse object for ``value``: a :class:`Synapse` as is, ``None`` → delta,
    a time constant in s → :class:`ExponentialSynapse` (the meaning of ``tau_syn``)."""
    if isinstance(value, Synapse):
        return value
    if value is None:
        return DeltaSynapse()
    if isinstance(value, (bool, str)) or not np.isscalar(value):
        raise TypeError(f"a synapse must be a Synapse object, a time constant in s or None, "
                        f"got {value!r}")
    return ExponentialSynapse(float(value))


def synapse_from_spec(spec: dict) -> Synapse:
    """Rebuild a synapse from :meth:`Synapse.spec` (``{"kind": ..., "tau_syn": ...}``)."""
    kinds = {cls.kind: cls for cls in (DeltaSynapse, ExponentialSynapse, AlphaSynapse)}
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in kinds:
        raise ValueError(f"unknown synapse spec {spec!r}; kind must be one of {sorted(kinds)}")
    tau = spec.get("tau_syn")
    return kinds[kind]() if tau is None else kinds[kind](float(tau))
