"""Slow multiplicative co-modulation: signal statistics and its effect in every family."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import spikewire as sw
from spikewire.core.network import LIFParams, Network, PoissonDrive
from spikewire.core.neurons import AdExParams, IzhikevichParams
from spikewire.simulate import slow_comodulation


@pytest.mark.parametrize("process", ["lognormal", "ou"])
def test_signal_statistics(process):
    tau, cv = 0.2, 0.4
    mod = slow_comodulation(2000.0, tau=tau, cv=cv, process=process, sample_rate=100.0,
                            n_neurons=3, seed=1)
    g = mod.values[:, 0]
    # 2000 s / (2 tau) = 5000 independent stretches: sd of the mean ~ cv / 70 = 0.006
    np.testing.assert_allclose(g.mean(), 1.0, atol=0.03)
    np.testing.assert_allclose(g.std() / g.mean(), cv, rtol=0.1)
    x = np.log(g) if process == "lognormal" else g - g.mean()
    x = x - x.mean()
    lag = int(tau * 100)
    acf = np.dot(x[:-lag], x[lag:]) / np.dot(x, x)
    # exponential autocorrelation of the OU process: e^-1 at lag tau (the clipped OU
    # deviates little at cv = 0.4); sampling error ~ 0.02
    np.testing.assert_allclose(acf, np.exp(-1), atol=0.05)
    assert mod.gain(0, 10, 1e-3).shape == (10, 1)


def _unconnected(params, drive, n=100):
    return Network(weights=sp.csc_array((n, n)), cell_type=np.array(["E"] * n),
                   params=params, drive=drive)


@pytest.mark.parametrize("family", ["lif", "izhikevich", "adex"])
def test_comodulation_correlates_unconnected_neurons(family):
    """Independent neurons sharing a slow gain become positively correlated (count
    correlation in 100 ms bins ~ 0.1-0.3); without it the mean correlation is 0 within
    its sampling error (~1/sqrt(n_bins) / sqrt(n_pairs))."""
    if family == "lif":
        net = _unconnected(LIFParams(), PoissonDrive(rate=15000.0, weight=0.1))
        kw = {"dt": 1e-4}
    elif family == "izhikevich":
        net = _unconnected(IzhikevichParams(), PoissonDrive(rate=20.0, weight=200.0))
        kw = {}
    else:
        net = _unconnected(AdExParams.preset("RS"), PoissonDrive(rate=3000.0, weight=1.0))
        kw = {}
    duration = 20.0
    mod = slow_comodulation(duration, tau=0.3, cv=0.6, n_neurons=net.n_neurons, seed=4)
    plain = sw.simulate(net, duration, seed=1, **kw)
    comod = sw.simulate(net, duration, seed=1, modulation=mod, **kw)

    def mean_corr(st):  # after the synchronous onset transient (all start at rest)
        c = np.corrcoef(st.restrict(1.0, duration).binned(0.1, sparse=False))
        return c[np.triu_indices_from(c, 1)].mean()
    assert plain.rates().mean() > 2.0
    assert abs(mean_corr(plain)) < 0.02  # sd of the mean ~ 0.07 / sqrt(4950) per pair
    assert mean_corr(comod) > 0.1
