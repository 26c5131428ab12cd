"""Procedural connectivity with per-(target population, source) weights and any drive: the
general procedural kernel reproduces the stored-connectivity engine spike for spike."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from spikewire import simulate
from spikewire.core.procedural import ProceduralPopulations
from spikewire.networks import brunel
from spikewire.simulate import ProceduralConnectivity, simulate_procedural
from spikewire.theory import EIPopulations, build_ei_procedural, scale_populations

# the size-scaling network of benchmarks/bench_theory.py (Ekelmans et al.'s supersaturating
# E/I network, connection probability 0.2 in every block), with τ_I = 10 ms so that the
# neuron constants differ between the populations
POPS = EIPopulations((3200, 800), K=[[640, 160], [640, 160]],
                     j=[[0.093, -0.172], [0.119, -0.131]], sigma_ext=[8.0, 5.0],
                     tau_m=[0.020, 0.010])


class _Gain:
    """Drive modulation: two groups (E, I) with gains that step at 50 ms."""

    def __init__(self, groups):
        self.groups = groups

    def gain(self, step0, step1, dt):
        t = np.arange(step0, step1) * dt
        g = np.where(t < 0.05, 1.0, 1.4)
        return np.stack([g, 2.0 - g], axis=1)


class _Stim:
    times = np.array([0.02, 0.06, 0.06])
    neurons = np.array([3, 10, 450])
    amplitudes = np.array([25.0, 30.0, -5.0])


def _ei(n=600, seed=3, mu=(6.0, 9.0), dtype=np.float32, delay=1.5e-3):
    net, conn = build_ei_procedural(scale_populations(POPS, n), np.array(mu), seed=seed,
                                    weight_dtype=dtype, delay=delay)
    return net, net.replace(weights=conn.to_weights()), conn


@pytest.mark.parametrize("case", [
    dict(),                                     # float32 ring, white noise, 1.5 ms delay
    dict(dtype=np.float64, delay=None),         # float64 ring, one-step transmission
])
def test_populations_equal_stored_engine_white_noise(case):
    net, stored, conn = _ei(**case)
    a = simulate(stored, 0.2, seed=2)
    b = simulate_procedural(net, conn, 0.2, seed=2)
    assert a.n_spikes > 300  # a firing network: the comparison is not vacuous
    assert a == b
    # and the regenerated synapses act: without them the same seed spikes differently
    assert simulate(net, 0.2, seed=2) != b


def test_populations_equal_stored_with_modulation_and_stimulation():
    net, stored, conn = _ei()
    mod = _Gain((np.asarray(net.cell_type) == "I").astype(np.int64))
    a = simulate(stored, 0.1, seed=4, modulation=mod, stimulation=_Stim(), v_init="reset")
    b = simulate_procedural(net, conn, 0.1, seed=4, modulation=mod, stimulation=_Stim(),
                            v_init="reset")
    assert a.n_spikes > 100
    assert a == b


@pytest.mark.parametrize("drive", ["white", "poisson_modulated"])
def test_per_neuron_connectivity_general_path(drive):
    # ProceduralConnectivity outside the fast path (white noise; modulated Poisson drive)
    # runs the general procedural kernel: still the stored engine's spikes
    n, J = 400, 0.4
    base = brunel(n_neurons=n, seed=1, J=J, eta=1.5)
    w = np.where(base.is_excitatory, J, -5 * J).astype(np.float32)
    conn = ProceduralConnectivity(p=0.1, weights=w, seed=7)
    tmpl = base.replace(weights=sp.csc_array((n, n), dtype=np.float32))
    mod = None
    if drive == "white":
        from spikewire.core.network import WhiteNoiseDrive

        tmpl = tmpl.replace(drive=WhiteNoiseDrive(np.full(n, 18.0), np.full(n, 4.0)))
    else:
        mod = _Gain((~base.is_excitatory).astype(np.int64))
    stored = tmpl.replace(weights=conn.to_weights())
    a = simulate(stored, 0.15, seed=3, modulation=mod)
    b = simulate_procedural(tmpl, conn, 0.15, seed=3, modulation=mod)
    assert a.n_spikes > 300
    assert a == b


def test_populations_targets_are_the_per_neuron_ones():
    # same seed, same p: the same synapses as ProceduralConnectivity; weights from the table
    n = 300
    groups = (np.arange(n) % 3 == 0).astype(np.int64)
    table = np.stack([np.linspace(0.1, 0.2, n), np.linspace(-1.0, -0.5, n)])
    a = ProceduralPopulations(0.15, table, groups, seed=9).to_weights()
    b = ProceduralConnectivity(0.15, np.ones(n), seed=9).to_weights()
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    cols = np.repeat(np.arange(n), np.diff(a.indptr))
    assert np.array_equal(a.data, table[groups[a.indices], cols])


def test_build_ei_procedural_blocks():
    net, conn = build_ei_procedural(scale_populations(POPS, 4000), [5.0, 7.0], seed=1)
    assert conn.p == pytest.approx(0.2)
    w = conn.to_weights()
    ne = 3200
    for X, rows in enumerate((slice(0, ne), slice(ne, None))):
        for Y, cols in enumerate((slice(0, ne), slice(ne, None))):
            block = w[rows][:, cols]
            n_post, n_pre = block.shape
            pairs = n_post * n_pre - (n_post if X == Y else 0)
            # Bernoulli(0.2) pairs: the count within 5 binomial standard deviations
            assert abs(block.nnz - 0.2 * pairs) < 5 * np.sqrt(pairs * 0.16)
            assert np.allclose(block.data, POPS.j[X, Y], rtol=1e-6)  # float32 weights
    mu = np.asarray(net.drive.mu)
    assert mu[0] == 5.0 and mu[-1] == 7.0
    assert net.params_of("I").tau_m == 0.010 and net.weights.nnz == 0


def test_validation():
    table = np.ones((2, 10))
    groups = np.zeros(10, dtype=np.int64)
    with pytest.raises(ValueError, match="2-D"):
        ProceduralPopulations(0.1, np.ones(10), groups, 0)
    with pytest.raises(ValueError, match="groups must be 10"):
        ProceduralPopulations(0.1, table, np.zeros(9, dtype=np.int64), 0)
    with pytest.raises(ValueError, match="0..1"):
        ProceduralPopulations(0.1, table, groups + 2, 0)
    with pytest.raises(ValueError, match="probability"):
        ProceduralPopulations(1.2, table, groups, 0)
    with pytest.raises(ValueError, match="seed"):
        ProceduralPopulations(0.1, table, groups, -3)
    uneven = EIPopulations((800, 200), K=[[160, 100], [160, 40]], j=[[0.1, -0.2], [0.1, -0.2]],
                           sigma_ext=[5.0, 5.0])
    with pytest.raises(ValueError, match="differ"):
        build_ei_procedural(uneven)
    from dataclasses import replace

    with pytest.raises(ValueError, match="delta synapses"):
        build_ei_procedural(replace(POPS, tau_syn=0.005))
    net, _, conn = _ei(n=100)
    with pytest.raises(ValueError, match="neurons"):
        small = ProceduralPopulations(0.1, np.ones((2, 99)), np.zeros(99, dtype=np.int64), 0)
        simulate_procedural(net, small, 0.01)


@pytest.mark.parametrize("homogeneous", [False, True])
def test_populations_autapses_and_poisson(homogeneous):
    # autapses on, and a Poisson drive whose rate differs between neurons (the per-neuron
    # inversion mode of the general kernel) or not (the stored engine then runs its fast
    # vectorised kernel, the procedural one its general loop): still the same spikes
    from spikewire.core.network import PoissonDrive

    n = 300
    base = brunel(n_neurons=n, seed=2, J=0.3)
    exc = base.is_excitatory
    table = np.stack([np.where(exc, 0.3, -1.5), np.where(exc, 0.5, -1.0)])
    if homogeneous:  # and a float32 ring
        table = table.astype(np.float32)
    conn = ProceduralPopulations(0.2, table, (~exc).astype(np.int64), seed=5, autapses=True)
    # Hz of the summed external input per neuron
    rates = np.full(n, 12500.0) if homogeneous else np.where(exc, 11500.0, 13000.0)
    tmpl = base.replace(weights=sp.csc_array((n, n), dtype=table.dtype),
                        drive=PoissonDrive(rate=rates, n_inputs=1, weight=0.1))
    stored = tmpl.replace(weights=conn.to_weights())
    assert stored.weights.diagonal().any()  # autapses present
    a = simulate(stored, 0.15, seed=6)
    b = simulate_procedural(tmpl, conn, 0.15, seed=6)
    assert a.n_spikes > 300
    assert a == b


def test_zero_probability_is_the_unconnected_network():
    net, _, _ = _ei(n=200)
    empty = ProceduralPopulations(0.0, np.ones((2, 200), dtype=np.float32),
                                  (np.arange(200) >= 160).astype(np.int64), seed=1)
    assert simulate_procedural(net, empty, 0.1, seed=3) == simulate(net, 0.1, seed=3)


def test_jittered_delays_equal_stored_engine():
    # per-synapse delays (1-3 ms on the 0.1 ms grid, as build_ei_network's jitter) regenerated
    # by a hash: the stored engine with to_delays() gives the same spikes
    net, conn = build_ei_procedural(scale_populations(POPS, 600), [6.0, 9.0], seed=3,
                                    delay=(1e-3, 3e-3), dt=1e-4)
    stored = net.replace(weights=conn.to_weights(), delays=conn.to_delays())
    steps = np.rint(stored.delays / 1e-4).astype(int)
    assert steps.min() == 10 and steps.max() == 30  # the whole range is used
    # uniform over the 21 values: chi-square p-value > 1e-4
    from scipy import stats

    assert stats.chisquare(np.bincount(steps - 10, minlength=21)).pvalue > 1e-4
    a = simulate(stored, 0.2, seed=2)
    b = simulate_procedural(net, conn, 0.2, seed=2)
    assert a.n_spikes > 300
    assert a == b
    # and the jitter matters: the same synapses with one delay (the template's 3 ms) differ
    assert simulate_procedural(net, ProceduralPopulations(conn.p, conn.weights, conn.groups,
                                                          seed=3), 0.2, seed=2) != b
    with pytest.raises(ValueError, match="steps of"):
        simulate_procedural(net, conn, 0.2, dt=5e-5)
    with pytest.raises(ValueError, match="multiples"):
        ProceduralPopulations(0.1, np.ones((1, 5)), np.zeros(5, dtype=np.int64), 0,
                              delays=(1.05e-3, 2e-3), dt=1e-4)
