"""Continuous signals (smoothed rates, deconvolved activity) seen through the binned-count API.

The linear methods (``partial_corr``, ``te``) only need a (units × bins) activity matrix,
so a recording that holds ``signals`` instead of spike times can be analysed by averaging
the signal into bins of the requested width. This adapter offers the few
:class:`~spikewire.SpikeTrains` members those methods use.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from spikewire.core.recording import Recording

__all__ = ["BinnedSignals", "activity_source"]


class BinnedSignals:
    """Signals of shape (n_units, n_samples) at ``rate`` Hz, binned on demand.

    ``counts()`` is the signal's integral (for rates in Hz: the expected number of
    spikes), so ``min_spikes`` thresholds keep their meaning for smoothed rates.
    """

    def __init__(self, signals: np.ndarray, rate: float, units: np.ndarray):
        self.signals = np.asarray(signals, dtype=np.float64)
        self.rate = float(rate)
        self.units = np.asarray(units)

    @property
    def n_units(self) -> int:
        return int(self.signals.shape[0])

    @property
    def duration(self) -> float:
        return self.signals.shape[1] / self.rate

    def counts(self) -> np.ndarray:
        return self.signals.sum(axis=1) / self.rate

    def _samples_per_bin(self, bin_width: float) -> int:
        k = int(round(bin_width * self.rate))
        if k < 1:
            raise ValueError(
                f"bin_width = {bin_width * 1e3:g} ms is shorter than one signal sample "
                f"({1e3 / self.rate:g} ms at {self.rate:g} Hz); use bin_width >= "
                f"{1 / self.rate:g} s")
        return k

    def n_bins(self, bin_width: float) -> int:
        return self.signals.shape[1] // self._samples_per_bin(bin_width)

    def select(self, positions) -> BinnedSignals:
        positions = np.asarray(positions, dtype=np.int64)
        return BinnedSignals(self.signals[positions], self.rate, self.units[positions])

    def binned(self, bin_width: float, sparse: bool = True):
        """Bin means of the signal, shape (n_units, n_bins); a CSR array when ``sparse``."""
        k = self._samples_per_bin(bin_width)
        nb = self.signals.shape[1] // k
        out = self.signals[:, :nb * k].reshape(self.n_units, nb, k).mean(axis=2)
        return sp.csr_array(out) if sparse else out


def activity_source(rec: Recording, method: str):
    """The recording's spike trains, or its signals wrapped as :class:`BinnedSignals`."""
    if rec.spikes is not None:
        return rec.spikes
    if rec.signals is None:
        raise ValueError(f"{method} needs spike times or continuous signals; the recording "
                         "has neither")
    units = rec.true_index if np.all(rec.true_index >= 0) else np.arange(rec.n_units)
    return BinnedSignals(rec.signals, rec.signal_rate, units)
