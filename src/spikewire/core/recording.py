"""What an experimenter gets to see: observed units plus how the observation was made."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikewire.core.spiketrains import SpikeTrains

__all__ = ["Recording"]


@dataclass(eq=False)
class Recording:
    """Observed data handed to inference.

    Parameters
    ----------
    spikes : SpikeTrains or None
        Observed (possibly quantized, jittered or deconvolved) spike trains, one per
        observed unit.
    true_index : ndarray of int, shape (n_obs,)
        For each observed unit, the index of the true neuron in the simulated network
        (``-1`` where unknown, e.g. real data).
    signals : ndarray, shape (n_obs, n_samples), optional
        Continuous observations (smoothed rates, fluorescence) sampled at ``signal_rate``.
    signal_rate : float, optional
        Sampling rate of ``signals`` in Hz.
    signal_kind : str, optional
        What ``signals`` hold, e.g. ``"rate"`` (Hz) or ``"fluorescence"`` (ΔF/F).
    sampling_rate : float, optional
        Resolution of the spike times in Hz (None = simulation resolution).
    history : list of dict
        The observation steps applied, in order, each with its name and settings.
    hidden_truth : dict
        Ground truth that the observer does not see (hidden state sequence, stimulus
        log, ...). Kept for scoring and reports only; inference methods must not read it.
    """

    spikes: SpikeTrains | None
    true_index: np.ndarray
    signals: np.ndarray | None = None
    signal_rate: float | None = None
    signal_kind: str | None = None
    sampling_rate: float | None = None
    history: list = field(default_factory=list)
    hidden_truth: dict = field(default_factory=dict)

    def __post_init__(self):
        self.true_index = np.asarray(self.true_index, dtype=np.int64)
        n = self.n_units
        if self.true_index.shape != (n,):
            raise ValueError(f"true_index must have one entry per observed unit ({n}), got "
                             f"shape {self.true_index.shape}")
        if self.signals is not None:
            self.signals = np.asarray(self.signals)
            if self.signals.ndim != 2 or self.signals.shape[0] != n:
                raise ValueError(f"signals must have shape (n_units={n}, n_samples), got "
                                 f"{self.signals.shape}")
            if self.signal_rate is None or self.signal_rate <= 0:
                raise ValueError("signal_rate (Hz, > 0) is required with signals")

    @classmethod
    def from_spikes(cls, spikes: SpikeTrains, true_index=None) -> Recording:
        """Wrap spike trains with every unit visible; ``true_index`` defaults to unit ids."""
        if not isinstance(spikes, SpikeTrains):
            raise TypeError(f"expected SpikeTrains, got {type(spikes).__name__}")
        idx = spikes.units if true_index is None else true_index
        return cls(spikes=spikes, true_index=np.asarray(idx),
                   history=[{"step": "simulate", **{k: v for k, v in spikes.annotations.items()
                                                    if np.isscalar(v)}}])

    @property
    def n_units(self) -> int:
        """Number of observed units."""
        if self.spikes is not None:
            return self.spikes.n_units
        if self.signals is not None:
            return int(np.asarray(self.signals).shape[0])
        return int(np.asarray(self.true_index).size)

    @property
    def kind(self) -> str:
        """What the recording holds for inference: ``"spikes"`` (spike times) or the
        ``signal_kind`` of its continuous signals (``"rate"``, ``"fluorescence"``, ...)."""
        if self.spikes is not None:
            return "spikes"
        return self.signal_kind or "signal"

    @property
    def time_resolution(self) -> float | None:
        """Time resolution of the data in s (the coarsest one that applies), or None.

        The largest of ``1 / sampling_rate`` (quantized spike times, a frame rate, an
        acquisition rate), the simulation step ``dt`` and a ``sampling_rate`` or
        ``time_resolution`` (s) recorded in the spike trains' annotations, and, when the
        recording holds signals but no spike times, ``1 / signal_rate``. None when none of
        them is known (e.g. real data read without a sampling rate).
        """
        steps = []
        if self.sampling_rate:
            steps.append(1.0 / float(self.sampling_rate))
        if self.spikes is not None:
            ann = self.spikes.annotations
            if ann.get("dt"):
                steps.append(float(ann["dt"]))
            if ann.get("sampling_rate"):
                steps.append(1.0 / float(ann["sampling_rate"]))
            if ann.get("time_resolution"):
                steps.append(float(ann["time_resolution"]))
        elif self.signal_rate:
            steps.append(1.0 / float(self.signal_rate))
        return max(steps) if steps else None

    @property
    def duration(self) -> float:
        """Length of the recording in s."""
        if self.spikes is not None:
            return self.spikes.duration
        return self.signals.shape[1] / self.signal_rate

    def with_step(self, step: dict, **changes) -> Recording:
        """A new recording with ``changes`` applied and ``step`` appended to the history."""
        fields = dict(spikes=self.spikes, true_index=self.true_index, signals=self.signals,
                      signal_rate=self.signal_rate, signal_kind=self.signal_kind,
                      sampling_rate=self.sampling_rate, history=[*self.history, step],
                      hidden_truth=dict(self.hidden_truth))
        fields.update(changes)
        return Recording(**fields)

    def __repr__(self) -> str:
        steps = " → ".join(h.get("step", "?") for h in self.history) or "raw"
        return f"Recording(n_units={self.n_units}, duration={self.duration:g} s, steps={steps})"
