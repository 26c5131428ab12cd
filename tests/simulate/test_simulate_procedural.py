"""Procedural connectivity: the regenerated synapses are the stored ones, and the procedural
engine reproduces the stored-connectivity engine spike for spike."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from spikewire import simulate
from spikewire.networks import brunel
from spikewire.simulate import ProceduralConnectivity, simulate_procedural


def test_public_from_simulate():
    """The procedural API is public in ``spikewire.simulate`` (the engine's own objects)."""
    # (``spikewire.simulate`` as an attribute is the function; take the package itself)
    package = importlib.import_module("spikewire.simulate")
    engine = importlib.import_module("spikewire.simulate.lif")
    for name in ("ProceduralConnectivity", "simulate_procedural"):
        assert name in package.__all__
        assert getattr(package, name) is getattr(engine, name)


def _pair(n=400, p=0.1, dtype=np.float32, seed=7, autapses=False, J=0.4, g=5.0, **kw):
    """(template without synapses, stored network, connectivity) for a Brunel-like net."""
    base = brunel(n_neurons=n, seed=1, J=J, **kw)
    w = np.where(base.is_excitatory, J, -g * J).astype(dtype)
    conn = ProceduralConnectivity(p=p, weights=w, seed=seed, autapses=autapses)
    template = base.replace(weights=sp.csc_array((n, n), dtype=dtype))
    return template, base.replace(weights=conn.to_weights()), conn


@pytest.mark.parametrize("case", [
    dict(),                                    # float32 ring, 1.5 ms delay
    dict(dtype=np.float64, delay=0.5e-3),      # float64 ring, another delay
    dict(autapses=True, p=0.3),
    dict(delay=None, eta=1.5),                 # one-step transmission
])
def test_procedural_equals_stored_engine(case):
    template, stored, conn = _pair(**case)
    a = simulate(stored, 0.2, seed=3)
    b = simulate_procedural(template, conn, 0.2, seed=3)
    assert a.n_spikes > 500  # recurrent input matters: the check is not vacuous
    assert a == b


def test_procedural_equals_stored_with_stimulation_and_reset_start():
    template, stored, conn = _pair(n=300)

    class Stim:
        times = np.array([0.01, 0.05, 0.05])
        neurons = np.array([3, 10, 200])
        amplitudes = np.array([25.0, 30.0, -5.0])

    a = simulate(stored, 0.1, seed=5, stimulation=Stim(), v_init="reset")
    b = simulate_procedural(template, conn, 0.1, seed=5, stimulation=Stim(), v_init="reset")
    assert a == b


def test_recurrence_changes_the_output():
    # the same network without its synapses spikes differently: the regenerated synapses act
    template, stored, conn = _pair()
    b = simulate_procedural(template, conn, 0.2, seed=3)
    c = simulate(template, 0.2, seed=3)
    assert b != c


def test_connectivity_statistics():
    n, p = 2000, 0.05
    conn = ProceduralConnectivity(p=p, weights=np.ones(n), seed=11)
    w = conn.to_weights()
    out_deg = np.diff(w.indptr)
    # out-degree ~ Binomial(n - 1, p): mean within 4 standard errors, variance within 10 %
    # (the relative s.e. of a variance from 2000 samples is about sqrt(2/2000) = 3 %)
    mean, var = (n - 1) * p, (n - 1) * p * (1 - p)
    assert abs(out_deg.mean() - mean) < 4 * np.sqrt(var / n)
    assert abs(out_deg.var() / var - 1) < 0.10
    assert w.diagonal().sum() == 0  # no autapses
    for j in range(0, n, 97):  # targets strictly increasing within each column
        assert np.all(np.diff(w.indices[w.indptr[j]:w.indptr[j + 1]]) > 0)
    # targets uniform over the post neurons (chi-square over 20 bins, p-value > 1e-4)
    counts = np.bincount(w.indices // (n // 20), minlength=20)
    assert stats.chisquare(counts).pvalue > 1e-4
    # in-degree of post i and out-degree of pre i independent of i: no drift between halves
    in_deg = np.bincount(w.indices, minlength=n)
    assert stats.ttest_ind(in_deg[: n // 2], in_deg[n // 2:]).pvalue > 1e-4


def test_seed_determines_connectivity():
    w = np.ones(300)
    a = ProceduralConnectivity(0.1, w, seed=1).to_weights()
    b = ProceduralConnectivity(0.1, w, seed=1).to_weights()
    c = ProceduralConnectivity(0.1, w, seed=2).to_weights()
    assert (a != b).nnz == 0
    overlap = (a.multiply(c)).nnz / a.nnz
    assert overlap < 0.2  # independent draws share about p = 10 % of the synapses


def test_edge_probabilities():
    w = np.ones(50)
    assert ProceduralConnectivity(0.0, w, seed=0).to_weights().nnz == 0
    full = ProceduralConnectivity(1.0, w, seed=0).to_weights()
    assert full.nnz == 50 * 49
    assert ProceduralConnectivity(1.0, w, seed=0, autapses=True).to_weights().nnz == 2500


def test_validation():
    template, stored, conn = _pair(n=100)
    with pytest.raises(ValueError, match="stores"):
        simulate_procedural(stored, conn, 0.01)
    with pytest.raises(ValueError, match="neurons"):
        simulate_procedural(template, ProceduralConnectivity(0.1, np.ones(99), 0), 0.01)
    with pytest.raises(TypeError, match="ProceduralConnectivity"):
        simulate_procedural(template, stored.weights, 0.01)
    with pytest.raises(ValueError, match="probability"):
        ProceduralConnectivity(1.5, np.ones(3), 0)
    with pytest.raises(ValueError, match="1-D"):
        ProceduralConnectivity(0.1, np.ones((3, 3)), 0)
    with pytest.raises(ValueError, match="seed"):
        ProceduralConnectivity(0.1, np.ones(3), -1)
    with pytest.raises(ValueError, match="delta synapses"):
        simulate_procedural(_pair(n=100, tau_syn=0.005)[0], conn, 0.01)
