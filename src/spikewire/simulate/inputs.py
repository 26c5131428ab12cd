"""Inputs to the network: time-varying drive, hidden brain states and perturbations.

These objects implement the protocols :func:`spikewire.simulate` accepts:

- *modulation* (``DriveModulation``): ``.groups`` (int per neuron) and
  ``.gain(step0, step1, dt)`` → ``(step1 - step0, n_groups)`` gains multiplying the
  external Poisson rate (or the white-noise mean μ) at simulation steps
  ``step0 .. step1 - 1`` (time ``k·dt``): :class:`Schedule` (piecewise constant),
  :class:`ArrayGain` (any sampled array), :class:`HiddenStates` (a Markov chain of
  brain states) and :func:`combine` (product of several);
- *stimulation* (``Stimulation``): arrays ``.times`` (s), ``.neurons``, ``.amplitudes``
  (mV jumps of the membrane potential): :class:`Pulses`.

Each keeps its ground truth (``.truth()``, stored by
:func:`~spikewire.observe.observe` under ``hidden_truth[obj.truth_key]``): the state
sequence of a chain, the stimulus log of pulses.

Groups: gains have one column per group. Give ``groups`` (an int per neuron), or
``cell_type`` (columns are then ``[E, I]``), or only ``n_neurons`` (one column for all);
per-neuron drive is ``groups=np.arange(n)`` with one column per neuron.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from spikewire._validation import check_choice, check_fraction, check_int, check_positive
from spikewire.core.seeds import child as seed_child
from spikewire.core.seeds import rng as seeded_rng

__all__ = ["Schedule", "ArrayGain", "HiddenStates", "Pulses", "combine", "inputs_from_spec",
           "population_groups"]


def make_rng(seed, domain: str = "inputs") -> np.random.Generator:
    """A Generator on the ``domain`` stream of ``seed`` (int >= 0, SeedSequence or
    Generator; see :mod:`spikewire.core.seeds`). ``None`` is refused: inputs are part of
    the ground truth and must be reproducible."""
    if seed is None:
        raise TypeError("seed must be an int, a numpy SeedSequence or Generator, not None: "
                        "inputs are reproducible by construction (use seed=0)")
    return seeded_rng(seed, domain)


def population_groups(cell_type) -> np.ndarray:
    """Group index per neuron from cell types: 0 for "E", 1 for "I"."""
    ct = np.asarray(cell_type).astype(str)
    bad = set(np.unique(ct).tolist()) - {"E", "I"}
    if bad:
        raise ValueError(f"cell_type must hold only 'E' or 'I', found {sorted(bad)}")
    return (ct == "I").astype(np.int64)


def _resolve_groups(groups, cell_type, n_neurons, n_cols: int, what: str) -> np.ndarray:
    given = [x is not None for x in (groups, cell_type, n_neurons)]
    if sum(given) != 1:
        raise ValueError("give exactly one of groups (an int per neuron), cell_type (E/I per "
                         "neuron; gain columns [E, I]) or n_neurons (one gain column)")
    if cell_type is not None:
        g = population_groups(cell_type)
        if n_cols != 2:
            raise ValueError(f"with cell_type, {what} needs 2 columns (E, I), got {n_cols}")
        return g
    if n_neurons is not None:
        n = check_int("n_neurons", n_neurons, minimum=1)
        if n_cols != 1:
            raise ValueError(f"with n_neurons, {what} needs 1 column, got {n_cols}; pass "
                             "groups= for several")
        return np.zeros(n, dtype=np.int64)
    g = np.asarray(groups)
    if g.ndim != 1 or not np.issubdtype(g.dtype, np.integer):
        raise TypeError(f"groups must be a 1-D int array (one group per neuron), got {g!r}")
    if g.size and (g.min() < 0 or g.max() >= n_cols):
        raise ValueError(f"groups must lie in [0, {n_cols}) to index the {n_cols} columns of "
                         f"{what}, got values in [{g.min()}, {g.max()}]")
    return g.astype(np.int64)


def _gain_matrix(gains, name: str) -> np.ndarray:
    g = np.asarray(gains, dtype=float)
    if g.ndim == 1:
        g = g[:, None]
    if g.ndim != 2 or g.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_rows,) or (n_rows, n_groups), got "
                         f"{np.shape(gains)}")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ValueError(f"{name} must be finite and >= 0 (multipliers of the external drive)")
    return g


class Schedule:
    """Piecewise-constant gain on the external drive.

    Parameters
    ----------
    times : array_like of float, shape (m,)
        Start of each segment in s; strictly increasing, the first is 0. The last segment
        lasts to the end of the simulation.
    gains : array_like, shape (m,) or (m, n_groups)
        Gain of each segment (per group), >= 0; 1 leaves the drive unchanged.
    groups, cell_type, n_neurons
        Which gain column applies to which neuron (see the module notes).

    Examples
    --------
    Excitatory drive doubled between 1 s and 2 s, inhibitory unchanged:

    >>> import numpy as np
    >>> from spikewire.simulate import Schedule
    >>> s = Schedule([0.0, 1.0, 2.0], [[1, 1], [2, 1], [1, 1]], cell_type=["E", "E", "I"])
    >>> s.gain(9999, 10001, 1e-4)[:, 0].tolist()
    [1.0, 2.0]
    """

    truth_key = "schedule"

    def __init__(self, times, gains, *, groups=None, cell_type=None, n_neurons=None):
        t = np.atleast_1d(np.asarray(times, dtype=float))
        g = _gain_matrix(gains, "gains")
        if t.ndim != 1 or t.size != g.shape[0]:
            raise ValueError(f"times has {t.size} entries but gains has {g.shape[0]} rows; "
                             "give one gain row per segment start")
        if not np.all(np.isfinite(t)) or t[0] != 0 or np.any(np.diff(t) <= 0):
            raise ValueError(f"times must start at 0 and increase strictly (s), got {t[:10]}")
        self.times = t
        self.gains = g
        self.groups = _resolve_groups(groups, cell_type, n_neurons, g.shape[1], "gains")

    @property
    def n_groups(self) -> int:
        """Number of gain columns."""
        return self.gains.shape[1]

    def gain(self, step0: int, step1: int, dt: float) -> np.ndarray:
        """Gains at simulation steps ``step0 .. step1 - 1`` (time ``k·dt``)."""
        # step k (time k·dt) is in the segment that started at or before k·dt
        bounds = np.ceil(self.times / dt - 1e-9).astype(np.int64)
        idx = np.searchsorted(bounds, np.arange(step0, step1), side="right") - 1
        return self.gains[np.maximum(idx, 0)]

    def at(self, t) -> np.ndarray:
        """Gains at times ``t`` (s), shape (len(t), n_groups)."""
        idx = np.searchsorted(self.times, np.asarray(t, float), side="right") - 1
        return self.gains[np.maximum(idx, 0)]

    def truth(self) -> dict:
        """The schedule itself (segment starts in s and their gains)."""
        return {"times": self.times.copy(), "gains": self.gains.copy(), "groups": self.groups}


class ArrayGain:
    """Gain on the external drive given as an arbitrary sampled array.

    Parameters
    ----------
    values : array_like, shape (n_samples,) or (n_samples, n_groups)
        Gains (>= 0) sampled at ``rate``; sample ``i`` is the value at time ``i / rate``.
    rate : float
        Sampling rate of ``values`` in Hz. Use ``1 / dt`` to give one value per
        simulation step.
    groups, cell_type, n_neurons
        Which column applies to which neuron (see the module notes).
    interpolation : {"hold", "linear"}, default "hold"
        Between samples: keep the last sample, or interpolate linearly (the last sample
        is held over its own interval). The array covers ``[0, n_samples / rate)``.

    Raises
    ------
    ValueError
        At simulation time, if the simulation runs past the last sample.
    """

    truth_key = "drive_gain"

    def __init__(self, values, rate: float, *, groups=None, cell_type=None, n_neurons=None,
                 interpolation: Literal["hold", "linear"] = "hold"):
        self.values = _gain_matrix(values, "values")
        self.rate = check_positive("rate", rate, unit="Hz")
        self.interpolation = check_choice("interpolation", interpolation, {"hold", "linear"})
        self.groups = _resolve_groups(groups, cell_type, n_neurons, self.values.shape[1],
                                      "values")

    @property
    def duration(self) -> float:
        """Time covered by the samples, in s."""
        return self.values.shape[0] / self.rate

    def gain(self, step0: int, step1: int, dt: float) -> np.ndarray:
        """Gains at simulation steps ``step0 .. step1 - 1``."""
        x = np.arange(step0, step1) * dt * self.rate  # position in samples
        n = self.values.shape[0]
        if step1 > step0 and np.floor(x[-1] + 1e-6) > n - 1:
            raise ValueError(f"the drive array covers {self.duration:g} s ({n} samples at "
                             f"{self.rate:g} Hz) but the simulation reached "
                             f"{(step1 - 1) * dt:g} s; give values for the whole duration")
        if self.interpolation == "hold":
            return self.values[np.floor(x + 1e-6).astype(np.int64)]
        i0 = np.minimum(np.floor(x).astype(np.int64), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        f = (x - i0)[:, None]
        return self.values[i0] * (1 - f) + self.values[i1] * f

    def truth(self) -> dict:
        """The array and its rate."""
        return {"values": self.values, "rate": self.rate, "groups": self.groups}


class HiddenStates:
    """A Markov chain of hidden brain states switching the external drive.

    The chain is drawn once, on construction, for ``duration`` seconds; the observer
    never sees it, but ``truth()`` keeps the state sequence for scoring.

    Parameters
    ----------
    gains : array_like, shape (K,) or (K, n_groups)
        Drive gain in each state (per group).
    duration : float
        Length of the sequence in s (at least the simulated duration).
    dwell_times : array_like of float, shape (K,), optional
        Mean dwell time in each state, in s. Dwell times are exponential (a
        continuous-time chain) and ``transition`` is then the jump matrix (zero
        diagonal; default: uniform over the other states).
    transition : array_like, shape (K, K), optional
        Without ``dwell_times``: the transition matrix of a discrete-time chain that
        takes one step every ``transition_dt`` seconds (rows sum to 1; geometric dwell
        times with mean ``transition_dt / (1 - P_ii)``).
    transition_dt : float, optional
        Time step of ``transition`` in s (needed without ``dwell_times``).
    initial_state : int, optional
        First state; by default drawn from the stationary distribution (fraction of time
        spent in each state).
    seed : int, SeedSequence or Generator, default 0
    groups, cell_type, n_neurons
        Which gain column applies to which neuron (see the module notes).

    Examples
    --------
    Up/down states, 2 s and 1 s on average, drive ×1.5 and ×0.5:

    >>> from spikewire.simulate import HiddenStates
    >>> hs = HiddenStates([1.5, 0.5], duration=60.0, dwell_times=[2.0, 1.0], n_neurons=10)
    >>> hs.states[:3].tolist() != []
    True
    """

    truth_key = "states"

    def __init__(self, gains, *, duration: float, dwell_times=None, transition=None,
                 transition_dt: float | None = None, initial_state: int | None = None,
                 seed=0, groups=None, cell_type=None, n_neurons=None):
        self.gains = _gain_matrix(gains, "gains")
        K = self.gains.shape[0]
        self.duration = check_positive("duration", duration, unit="s")
        self.groups = _resolve_groups(groups, cell_type, n_neurons, self.gains.shape[1], "gains")
        P = None if transition is None else np.asarray(transition, dtype=float)
        if P is not None:
            if P.shape != (K, K):
                raise ValueError(f"transition must have shape ({K}, {K}) for {K} states, got "
                                 f"{P.shape}")
            if not np.all(np.isfinite(P)) or np.any(P < 0):
                raise ValueError("transition must hold probabilities >= 0")
            sums = P.sum(axis=1)
            bad = np.flatnonzero(np.abs(sums - 1) > 1e-8)
            if bad.size:
                raise ValueError(f"transition rows must sum to 1; row {bad[0]} sums to "
                                 f"{sums[bad[0]]:.6g}; normalise each row")
        if dwell_times is not None:
            tau = np.atleast_1d(np.asarray(dwell_times, dtype=float))
            if tau.shape != (K,) or not np.all(np.isfinite(tau)) or np.any(tau <= 0):
                raise ValueError(f"dwell_times must be {K} positive times in s (one per state)"
                                 f", got {dwell_times!r}")
            if P is None:
                if K < 2:
                    raise ValueError("a chain with dwell_times needs K >= 2 states")
                P = (np.ones((K, K)) - np.eye(K)) / (K - 1)
            elif np.any(np.diag(P) != 0):
                raise ValueError("with dwell_times, transition is the jump matrix and its "
                                 "diagonal must be 0 (the dwell time already says how long "
                                 "a state lasts)")
            self.mode = "continuous"
            self.dwell_times = tau
            self.jump = P
            self.transition_dt = None
        else:
            if P is None:
                raise ValueError("give dwell_times (s per state) or a transition matrix with "
                                 "transition_dt")
            if transition_dt is None:
                raise ValueError("transition_dt (s per step of the transition matrix) is "
                                 "needed when dwell_times is not given")
            self.transition_dt = check_positive("transition_dt", transition_dt, unit="s")
            stay = np.diag(P)
            if np.any(stay >= 1) and K > 1:
                raise ValueError(f"state(s) {np.flatnonzero(stay >= 1).tolist()} are "
                                 "absorbing (P_ii = 1); the chain would never switch")
            self.mode = "discrete"
            self.dwell_times = self.transition_dt / np.maximum(1 - stay, 1e-300)
            with np.errstate(invalid="ignore", divide="ignore"):
                J = np.where(np.eye(K, dtype=bool), 0.0, P / (1 - stay)[:, None])
            self.jump = np.nan_to_num(J)
            self.transition = P
        self.seed = seed
        rng = make_rng(seed, "inputs")
        pi = self.stationary()
        if initial_state is None:
            s = int(rng.choice(K, p=pi))
        else:
            s = check_int("initial_state", initial_state, minimum=0)
            if s >= K:
                raise ValueError(f"initial_state must be < {K}, got {s}")
        starts, states = [], []
        t = 0.0
        while t < self.duration:
            starts.append(t)
            states.append(s)
            if self.mode == "continuous":
                d = rng.exponential(self.dwell_times[s])
            else:
                d = self.transition_dt * rng.geometric(1 - self.transition[s, s])
            t += d
            s = int(rng.choice(K, p=self.jump[s])) if K > 1 else s
        self.state_times = np.asarray(starts)
        self.states = np.asarray(states, dtype=np.int64)
        self.schedule = Schedule(self.state_times, self.gains[self.states],
                                 groups=self.groups)

    @property
    def n_states(self) -> int:
        """Number of states K."""
        return self.gains.shape[0]

    def stationary(self) -> np.ndarray:
        """Fraction of time spent in each state in the long run."""
        K = self.n_states
        if K == 1:
            return np.ones(1)
        # stationary distribution of the jump chain, weighted by the mean dwell time
        A = np.vstack([self.jump.T - np.eye(K), np.ones(K)])
        b = np.concatenate([np.zeros(K), [1.0]])
        mu = np.linalg.lstsq(A, b, rcond=None)[0]
        p = np.clip(mu, 0, None) * self.dwell_times
        return p / p.sum()

    def gain(self, step0: int, step1: int, dt: float) -> np.ndarray:
        """Gains at simulation steps ``step0 .. step1 - 1``."""
        return self.schedule.gain(step0, step1, dt)

    def state_at(self, t) -> np.ndarray:
        """Hidden state at times ``t`` (s)."""
        idx = np.searchsorted(self.state_times, np.asarray(t, float), side="right") - 1
        return self.states[np.maximum(idx, 0)]

    def sequence(self, rate: float) -> np.ndarray:
        """State at every sample ``i / rate`` of ``[0, duration)`` (e.g. per frame)."""
        rate = check_positive("rate", rate, unit="Hz")
        n = int(np.ceil(self.duration * rate - 1e-9))
        return self.state_at(np.arange(n) / rate)

    def dwell_durations(self) -> tuple[np.ndarray, np.ndarray]:
        """(state, duration in s) of every completed visit (the last, cut-off one excluded)."""
        d = np.diff(self.state_times)
        return self.states[:-1], d

    def truth(self) -> dict:
        """The state sequence: segment starts (s), states, gains per state."""
        return {"state_times": self.state_times, "states": self.states,
                "gains": self.gains, "dwell_times": self.dwell_times,
                "duration": self.duration}


class _Product:
    truth_key = "drive_gain"

    def __init__(self, mods):
        self.mods = list(mods)
        cols = np.stack([np.asarray(m.groups, np.int64) for m in self.mods], axis=1)
        self.combos, self.groups = np.unique(cols, axis=0, return_inverse=True)
        self.groups = np.asarray(self.groups, np.int64).ravel()

    def gain(self, step0, step1, dt):
        out = np.ones((step1 - step0, self.combos.shape[0]))
        for j, m in enumerate(self.mods):
            out *= np.asarray(m.gain(step0, step1, dt))[:, self.combos[:, j]]
        return out

    def truth(self):
        return {type(m).__name__: m.truth() for m in self.mods if hasattr(m, "truth")}


def combine(*modulations):
    """Product of several modulations (e.g. a schedule times a hidden-state chain)."""
    if not modulations:
        raise ValueError("combine needs at least one modulation")
    n = {np.asarray(m.groups).size for m in modulations}
    if len(n) != 1:
        raise ValueError(f"modulations disagree on the number of neurons: {sorted(n)}")
    return _Product(modulations)


class Pulses:
    """Brief pulses delivered to neurons (optogenetic or electrical stimulation).

    Each pulse is an instantaneous jump of the membrane potential (mV) at a time (s) —
    what :func:`spikewire.simulate` applies at the step ``round(time / dt)``. The stimulus
    log (``truth()``) keeps every pulse with its trial. Times at 0 or after the end of the
    simulation are ignored by the engine.

    Parameters
    ----------
    times : array_like of float
        Pulse times in s (>= 0).
    neurons : array_like of int
        Target neuron of each pulse.
    amplitudes : float or array_like of float
        Voltage jump per pulse in mV (finite).
    trials : array_like of int, optional
        Trial of each pulse (default: all 0).
    """

    truth_key = "stimulation"

    def __init__(self, times, neurons, amplitudes, trials=None):
        t = np.atleast_1d(np.asarray(times, dtype=float))
        nrn = np.atleast_1d(np.asarray(neurons))
        if nrn.size and not np.issubdtype(nrn.dtype, np.integer):
            raise TypeError(f"neurons must be integer indices, got dtype {nrn.dtype}")
        a = np.broadcast_to(np.asarray(amplitudes, dtype=float), t.shape).copy()
        tr = np.zeros(t.size, np.int64) if trials is None else np.atleast_1d(
            np.asarray(trials, np.int64))
        if not (t.shape == nrn.shape == tr.shape):
            raise ValueError(f"times, neurons and trials must have equal length, got "
                             f"{t.size}, {nrn.size}, {tr.size}")
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError("times must be finite and >= 0 (s)")
        if not np.all(np.isfinite(a)):
            raise ValueError("amplitudes must be finite (mV)")
        if nrn.size and nrn.min() < 0:
            raise ValueError("neurons must be >= 0")
        order = np.argsort(t, kind="stable")
        self.times, self.neurons = t[order], nrn.astype(np.int64)[order]
        self.amplitudes, self.trials = a[order], tr[order]

    @classmethod
    def targeted(cls, neurons, times, amplitude: float, *, width: float = 0.0,
                 dt: float | None = None) -> Pulses:
        """Stimulate the same chosen ``neurons`` at every time in ``times`` (one trial each).

        ``width > 0`` spreads each pulse's ``amplitude`` evenly over ``round(width / dt)``
        consecutive simulation steps (a square current pulse); ``dt`` is then required.
        """
        neurons = np.atleast_1d(np.asarray(neurons, dtype=np.int64))
        times = np.atleast_1d(np.asarray(times, dtype=float))
        t = np.repeat(times, neurons.size)
        n = np.tile(neurons, times.size)
        tr = np.repeat(np.arange(times.size), neurons.size)
        return cls._spread(t, n, amplitude, tr, width, dt)

    @classmethod
    def random_trials(cls, n_neurons: int, onsets, amplitude: float, *,
                      fraction: float | None = None, count: int | None = None,
                      candidates=None, width: float = 0.0, dt: float | None = None,
                      seed=0) -> Pulses:
        """A new random subset of neurons stimulated at each trial onset.

        Parameters
        ----------
        n_neurons : int
            Network size.
        onsets : array_like of float
            Trial times in s.
        amplitude : float
            Jump per pulse in mV.
        fraction, count : optional
            Size of each trial's subset (fraction of the candidates in (0, 1], or count).
        candidates : array_like of int, optional
            Neurons that can be stimulated (e.g. only those expressing an opsin).
        width, dt : float
            See :meth:`targeted`.
        seed : int, SeedSequence or Generator, default 0
        """
        n_neurons = check_int("n_neurons", n_neurons, minimum=1)
        cand = np.arange(n_neurons) if candidates is None else np.unique(
            np.asarray(candidates, np.int64))
        if cand.size and (cand.min() < 0 or cand.max() >= n_neurons):
            raise ValueError(f"candidates must lie in [0, {n_neurons})")
        if (fraction is None) == (count is None):
            raise ValueError("give fraction or count (size of each trial's random subset)")
        k = check_int("count", count, minimum=1) if count is not None else max(
            1, int(round(check_fraction("fraction", fraction) * cand.size)))
        if k > cand.size:
            raise ValueError(f"count = {k} exceeds the {cand.size} candidate neurons")
        onsets = np.atleast_1d(np.asarray(onsets, dtype=float))
        rng = make_rng(seed, "inputs")
        picks = [np.sort(rng.choice(cand, size=k, replace=False)) for _ in onsets]
        t = np.repeat(onsets, k)
        n = np.concatenate(picks) if picks else np.zeros(0, np.int64)
        tr = np.repeat(np.arange(onsets.size), k)
        return cls._spread(t, n, amplitude, tr, width, dt)

    @classmethod
    def _spread(cls, t, n, amplitude, tr, width, dt):
        width = check_positive("width", width, allow_zero=True, unit="s")
        if width == 0:
            return cls(t, n, amplitude, tr)
        if dt is None:
            raise ValueError("width > 0 needs the simulation time step dt (s)")
        dt = check_positive("dt", dt, unit="s")
        m = max(1, int(round(width / dt)))
        offs = np.arange(m) * dt
        return cls((t[:, None] + offs).ravel(), np.repeat(n, m), amplitude / m,
                   np.repeat(tr, m))

    @property
    def n_trials(self) -> int:
        """Number of distinct trials."""
        return int(np.unique(self.trials).size)

    def truth(self) -> dict:
        """The stimulus log: time (s), neuron, amplitude (mV) and trial of every pulse."""
        return {"times": self.times, "neurons": self.neurons, "amplitudes": self.amplitudes,
                "trials": self.trials}

    def __len__(self) -> int:
        return int(self.times.size)


# --------------------------------------------------------------------------- specs
def _groups_kw(by: str, network, n_neurons):
    check_choice("by", by, {"all", "population", "neuron"})
    if by == "population":
        if network is None:
            raise ValueError("by='population' needs the network (for its cell types)")
        return {"cell_type": network.cell_type}
    if by == "neuron":
        return {"groups": np.arange(n_neurons)}
    return {"n_neurons": n_neurons}


def inputs_from_spec(spec, *, network=None, n_neurons: int | None = None,
                     duration: float | None = None, seed=0) -> dict:
    """Build the simulation inputs from their dict form (as written in TOML files).

    Parameters
    ----------
    spec : dict or list of dict
        Each dict has ``"input"`` set to one of

        - ``"schedule"``: ``times`` (s), ``gains`` (rows per segment), ``by``;
        - ``"array"``: ``values``, ``rate`` (Hz), ``by``, optional ``interpolation``;
        - ``"hidden_states"``: ``gains`` (per state), ``dwell_times`` (s) or
          ``transition`` + ``transition_dt``, optional ``initial_state``, ``by``;
        - ``"pulses"``: ``amplitude`` (mV) and either ``neurons`` (fixed targets) or
          ``fraction``/``count`` (random subset per trial), ``onsets`` (s) or
          ``n_trials`` + ``interval`` (s) + ``start`` (s, default ``interval``), optional
          ``population`` ("E"/"I": only those neurons can be stimulated), ``width`` and
          ``dt`` (s).

        ``by`` is ``"all"`` (default: one gain column), ``"population"`` (columns
        ``[E, I]``) or ``"neuron"`` (one column per neuron).
    network : Network, optional
        Source of the neuron count and cell types.
    n_neurons : int, optional
        Neuron count when no network is given.
    duration : float, optional
        Simulated duration in s (needed by ``hidden_states``).
    seed : int, SeedSequence or Generator, default 0
        Master seed; input ``k`` draws from ``spikewire.core.seeds.child(seed, "inputs", k)``.

    Returns
    -------
    dict
        ``{"modulation": ... or None, "stimulation": ... or None, "inputs": [objects]}``:
        pass the first two to :func:`spikewire.simulate` and ``inputs`` to
        :func:`~spikewire.observe.observe` to keep their ground truth.

    Examples
    --------
    >>> import spikewire as sw
    >>> from spikewire.simulate import inputs_from_spec
    >>> net = sw.networks.brunel(100, seed=0)
    >>> built = inputs_from_spec([
    ...     {"input": "hidden_states", "gains": [1.2, 0.8], "dwell_times": [0.5, 0.5]},
    ...     {"input": "pulses", "amplitude": 20.0, "count": 5, "n_trials": 3,
    ...      "interval": 0.2}], network=net, duration=1.0, seed=1)
    >>> len(built["stimulation"]), built["modulation"].n_states
    (15, 2)
    """
    items = [spec] if isinstance(spec, dict) else list(spec)
    if network is not None:
        n_neurons = network.n_neurons
    mods, stims, objs = [], [], []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or "input" not in item:
            raise ValueError(f"input {k} must be a dict with an 'input' key, got {item!r}")
        kind = item["input"]
        opts = {key: v for key, v in item.items() if key != "input"}
        child = seed_child(seed, "inputs", k)
        try:
            obj = _build_input(kind, opts, network, n_neurons, duration, child)
        except TypeError as err:
            raise TypeError(f"input {k} ({kind!r}): {err}") from err
        (stims if isinstance(obj, Pulses) else mods).append(obj)
        objs.append(obj)
    if len(stims) > 1:
        stim = Pulses(np.concatenate([s.times for s in stims]),
                      np.concatenate([s.neurons for s in stims]),
                      np.concatenate([s.amplitudes for s in stims]),
                      np.concatenate([s.trials for s in stims]))
    else:
        stim = stims[0] if stims else None
    mod = None if not mods else (mods[0] if len(mods) == 1 else combine(*mods))
    return {"modulation": mod, "stimulation": stim, "inputs": objs}


def _build_input(kind, opts, network, n_neurons, duration, seed):
    if kind in ("schedule", "array", "hidden_states"):
        if n_neurons is None:
            raise ValueError(f"input {kind!r} needs network= or n_neurons=")
        gkw = _groups_kw(opts.pop("by", "all"), network, n_neurons)
    if kind == "schedule":
        return Schedule(opts.pop("times"), opts.pop("gains"), **gkw, **opts)
    if kind == "array":
        return ArrayGain(opts.pop("values"), opts.pop("rate"), **gkw, **opts)
    if kind == "hidden_states":
        if duration is None and "duration" not in opts:
            raise ValueError("input 'hidden_states' needs duration= (the simulated time, s)")
        opts.setdefault("duration", duration)
        return HiddenStates(opts.pop("gains"), seed=seed, **gkw, **opts)
    if kind == "pulses":
        if n_neurons is None:
            raise ValueError("input 'pulses' needs network= or n_neurons=")
        amp = opts.pop("amplitude")
        if "onsets" in opts:
            onsets = np.asarray(opts.pop("onsets"), float)
        else:
            n_trials = check_int("n_trials", opts.pop("n_trials", None), minimum=1)
            interval = check_positive("interval", opts.pop("interval", None), unit="s")
            start = opts.pop("start", interval)
            onsets = start + interval * np.arange(n_trials)
        population = opts.pop("population", None)
        if "neurons" in opts:
            if population is not None:
                raise ValueError("give neurons or population for pulses, not both")
            return Pulses.targeted(opts.pop("neurons"), onsets, amp, **opts)
        cand = None
        if population is not None:
            check_choice("population", population, {"E", "I"})
            if network is None:
                raise ValueError("pulses with population= need the network")
            cand = np.flatnonzero(np.asarray(network.cell_type) == population)
        return Pulses.random_trials(n_neurons, onsets, amp, candidates=cand, seed=seed, **opts)
    raise ValueError(f"input must be one of ['array', 'hidden_states', 'pulses', 'schedule'], "
                     f"got {kind!r}")
