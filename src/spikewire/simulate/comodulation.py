"""Slow multiplicative co-modulation of the external drive, for every neuron model.

Real recordings share slow rate fluctuations (arousal, up/down states, anaesthesia):
every neuron's input is multiplied by a common slow signal. :func:`slow_comodulation`
draws such a signal and returns it as an :class:`spikewire.observe.ArrayGain`, the
``modulation=`` object that :func:`spikewire.simulate` accepts for LIF, Izhikevich and AdEx
networks alike (it multiplies the external Poisson rate, or the external noise current;
for LIF white-noise drive, the mean μ).
"""

from __future__ import annotations

import math

import numpy as np

from spikewire._validation import check_choice, check_positive
from spikewire.core.seeds import rng as seeded_rng

__all__ = ["slow_comodulation"]


def slow_comodulation(duration: float, *, tau: float = 0.2, cv: float = 0.5,
                      process: str = "lognormal", sample_rate: float = 1000.0,
                      n_neurons: int | None = None, cell_type=None, groups=None,
                      n_signals: int = 1, seed=0):
    """A slow random gain shared by many neurons (mean 1).

    Parameters
    ----------
    duration : float
        Time the signal must cover, in s (the simulated duration).
    tau : float, default 0.2
        Correlation time of the underlying Ornstein–Uhlenbeck process in s (0.1–0.5 s
        gives the few-Hz fluctuations of cortical recordings).
    cv : float, default 0.5
        Coefficient of variation of the gain.
    process : {"lognormal", "ou"}, default "lognormal"
        ``"lognormal"``: ``g = exp(x - s²/2)`` with ``x`` an OU process of standard
        deviation ``s = sqrt(ln(1 + cv²))`` (mean 1, CV ``cv``, always positive);
        ``"ou"``: ``g = max(0, 1 + cv · x)`` with ``x`` a unit OU process (Gaussian,
        clipped at 0, which lowers the mean slightly when ``cv > 0.3``).
    sample_rate : float, default 1000.0
        Samples per second (linear interpolation between them).
    n_neurons, cell_type, groups
        Which neurons each signal drives (see :mod:`spikewire.simulate.inputs`). With one
        signal, give ``n_neurons`` (all neurons share it).
    n_signals : int, default 1
        Independent signals (columns); with 2 and ``cell_type``, E and I get their own.
    seed : int, SeedSequence or Generator, default 0

    Returns
    -------
    spikewire.observe.ArrayGain
        Pass as ``modulation=`` to :func:`spikewire.simulate`; its ``truth()`` holds the
        signal (stored by :func:`spikewire.observe.observe` as ground truth).

    Examples
    --------
    >>> import spikewire as sw
    >>> from spikewire.simulate.comodulation import slow_comodulation
    >>> net = sw.networks.izhikevich(200, out_degree=20, seed=0)
    >>> mod = slow_comodulation(2.0, n_neurons=200, seed=1)
    >>> spikes = sw.simulate(net, 2.0, modulation=mod, seed=2)
    """
    from spikewire.simulate.inputs import ArrayGain

    duration = check_positive("duration", duration, unit="s")
    tau = check_positive("tau", tau, unit="s")
    cv = check_positive("cv", cv, allow_zero=True)
    check_choice("process", process, {"lognormal", "ou"})
    sample_rate = check_positive("sample_rate", sample_rate, unit="Hz")
    if n_signals < 1:
        raise ValueError(f"n_signals must be >= 1, got {n_signals}")
    rng = seeded_rng(seed, "inputs")
    n = int(math.ceil(duration * sample_rate)) + 2
    rho = math.exp(-1.0 / (sample_rate * tau))
    innov = math.sqrt(1.0 - rho * rho)
    z = rng.standard_normal((n, n_signals))
    x = np.empty((n, n_signals))
    x[0] = z[0]
    # exact AR(1) discretisation of a unit-variance OU process
    from scipy.signal import lfilter

    x[1:] = lfilter([innov], [1.0, -rho], z[1:], axis=0, zi=rho * x[:1])[0]
    if process == "lognormal":
        s = math.sqrt(math.log1p(cv * cv))
        values = np.exp(s * x - s * s / 2)
    else:
        values = np.maximum(0.0, 1.0 + cv * x)
    return ArrayGain(values, sample_rate, groups=groups, cell_type=cell_type,
                     n_neurons=n_neurons, interpolation="linear")
