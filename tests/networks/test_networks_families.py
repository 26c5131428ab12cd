"""Izhikevich and scale-free builders: structure, Dale's law, delays, degree statistics."""

from __future__ import annotations

import numpy as np
import pytest

from spikewire.core.neurons import IzhikevichParams
from spikewire.experiments.grid import resolve_builder
from spikewire.networks import barabasi_albert_edges, izhikevich, scale_free_connectivity


def _tail_exponent(k: np.ndarray, kmin: int) -> float:
    """Discrete power-law MLE (Clauset et al. 2009, eq. 3.7) of the tail k >= kmin."""
    k = k[k >= kmin]
    return 1 + k.size / np.sum(np.log(k / (kmin - 0.5)))


def test_ba_degree_distribution():
    """The BA process has P(k) = 2m(m+1) / (k(k+1)(k+2)) (Dorogovtsev et al. 2000), so
    P(K >= k) = m(m+1) / (k(k+1)) and a tail exponent of 3."""
    n, m = 20_000, 3
    new, old = barabasi_albert_edges(n, m, seed=0)
    assert new.size == m * (n - m) and np.all(new > old)  # each edge to an older node
    pairs = np.unique(new * n + old)
    assert pairs.size == new.size  # no repeated edge
    deg = np.bincount(np.concatenate([new, old]), minlength=n)
    assert deg.min() == m
    for kk in (10, 20, 40):
        expected = n * m * (m + 1) / (kk * (kk + 1))
        # binomial sd is 2-5 % of these counts; 12 % covers finite-size effects (measured
        # within 6 % over three seeds) and fails a uniform attachment (10x fewer at k=20)
        np.testing.assert_allclose((deg >= kk).sum(), expected, rtol=0.12)
    # the MLE of the exponent reads 2.85-2.99 on N = 20,000 (finite size); an ER graph has
    # no power-law tail and uniform attachment gives an exponential one (MLE >> 4)
    assert 2.6 < _tail_exponent(deg, 10) < 3.3


def test_scale_free_connectivity_directed_degrees():
    n, m = 20_000, 3
    p = scale_free_connectivity(n, m, seed=1)
    assert p.shape == (n, n) and p.nnz == m * (n - m)
    assert not p.diagonal().any()
    in_deg = np.asarray(p.sum(axis=1)).ravel()
    out_deg = np.diff(p.indptr)
    for d in (in_deg, out_deg):
        # random directions halve every degree: P(d) keeps the k^-3 tail (MLE 2.9-3.0)
        assert 2.6 < _tail_exponent(d, 10) < 3.4
        assert d.max() > 20 * d.mean()  # heavy tail: hubs (an ER graph: max ~ 3.5x mean)
    both = scale_free_connectivity(n, m, direction="both", seed=1)
    np.testing.assert_array_equal(np.asarray(both.sum(axis=1)).ravel(), np.diff(both.indptr))


@pytest.mark.parametrize("connectivity", ["random", "scale_free"])
def test_izhikevich_structure(connectivity):
    net = izhikevich(1000, connectivity=connectivity, seed=2)
    assert net.n_excitatory == 800 and net.neuron_model == "izhikevich"
    assert net.dale_violations().size == 0
    w = net.weights
    pre = np.repeat(np.arange(1000), np.diff(w.indptr))
    post = w.indices
    exc = pre < 800
    assert np.all(w.data[exc] == 6.0) and np.all(w.data[~exc] == -5.0)
    assert np.all(post[~exc] < 800)  # I -> E only
    assert not np.any(pre == post)
    d = net.synapse_delays()
    assert np.all(d[~exc] == 1e-3)
    np.testing.assert_array_equal(np.unique(np.rint(d[exc] * 1e3)), np.arange(1, 21))
    # uniform over the 20 values: each holds 5 % of the E synapses (+- 3 binomial sd)
    counts = np.bincount(np.rint(d[exc] * 1e3).astype(int))[1:]
    sd = np.sqrt(exc.sum() * 0.05 * 0.95)
    assert np.all(np.abs(counts - exc.sum() / 20) < 4 * sd)
    q = net.neuron_params()
    np.testing.assert_array_equal(q["a"], np.where(net.is_excitatory, 0.02, 0.1))
    np.testing.assert_array_equal(q["d"], np.where(net.is_excitatory, 8.0, 2.0))
    if connectivity == "random":
        assert np.all(np.diff(w.indptr) == 100)
    else:
        in_deg = np.bincount(post, minlength=1000)
        assert in_deg.max() > 3 * in_deg.mean()  # hubs (a fixed out-degree graph: ~1.3x)


def test_izhikevich_heterogeneity_and_weights():
    net = izhikevich(1000, heterogeneous=True, weight_cv=0.5, seed=3)
    q = net.neuron_params()
    e = net.is_excitatory
    # Izhikevich (2003): c = -65 + 15 r^2, d = 8 - 6 r^2 with r ~ U(0, 1): E[r^2] = 1/3
    assert q["c"][e].min() >= -65 and q["c"][e].max() <= -50
    np.testing.assert_allclose(q["c"][e].mean(), -60.0, atol=0.6)  # sd 15*0.30/sqrt(800)=0.16
    np.testing.assert_allclose(q["d"][e] + 0.4 * q["c"][e], 8 - 26, atol=1e-12)
    np.testing.assert_allclose(q["a"][~e] + 1.6 * q["b"][~e], 0.42, atol=1e-12)
    w = net.weights.data
    pre = np.repeat(np.arange(1000), np.diff(net.weights.indptr))
    we = w[pre < 800]
    # log-normal with mean 6 and CV 0.5: 80,000 samples, sd of the mean 0.011
    np.testing.assert_allclose(we.mean(), 6.0, atol=0.06)
    np.testing.assert_allclose(we.std() / we.mean(), 0.5, atol=0.03)
    assert net.dale_violations().size == 0


def test_izhikevich_determinism_and_builder_lookup():
    a = izhikevich(300, out_degree=30, connectivity="scale_free", seed=7)
    b = izhikevich(300, out_degree=30, connectivity="scale_free", seed=7)
    c = izhikevich(300, out_degree=30, connectivity="scale_free", seed=8)
    assert (a.weights != b.weights).nnz == 0
    np.testing.assert_array_equal(a.delays, b.delays)
    assert (a.weights != c.weights).nnz > 0
    assert resolve_builder("izhikevich") is izhikevich
    assert isinstance(a.params, IzhikevichParams) and a.spec["builder"] == "izhikevich"


def test_izhikevich_bad_inputs():
    with pytest.raises(ValueError, match="w_inh"):
        izhikevich(100, w_inh=1.0)
    with pytest.raises(ValueError, match="delay_range"):
        izhikevich(100, out_degree=10, delay_range=(0.5e-3, 20e-3))
    with pytest.raises(ValueError, match="out_degree"):
        izhikevich(100, out_degree=100)
    with pytest.raises(ValueError, match="connectivity"):
        izhikevich(100, connectivity="small_world")
    with pytest.raises(ValueError, match="m"):
        barabasi_albert_edges(5, 5)


def test_scale_free_lif():
    from spikewire.networks import scale_free_lif

    net = scale_free_lif(2000, m=20, delay=(1e-3, 5e-3), seed=5)
    assert net.neuron_model == "lif" and net.dale_violations().size == 0
    w = net.weights
    pre = np.repeat(np.arange(2000), np.diff(w.indptr))
    np.testing.assert_array_equal(w.data, np.where(pre < 1600, 0.5, -4.0))
    assert w.nnz == 20 * (2000 - 20)
    d = net.synapse_delays() * 1e4
    assert d.min() >= 10 - 1e-9 and d.max() <= 50 + 1e-9
    np.testing.assert_allclose(d, np.rint(d), atol=1e-6)  # 0.1 ms grid
    in_deg = np.bincount(w.indices, minlength=2000)
    assert in_deg.max() > 5 * in_deg.mean()
    # drive: eta * nu_thr on the mean E in-degree, nu_thr = theta / (J C_E tau_m)
    c_e = np.count_nonzero(pre < 1600) / 2000
    total = net.drive.total_rate(1)[0]
    np.testing.assert_allclose(total * 0.5, 0.9 * 20.0 / 0.020, rtol=1e-9)
    assert c_e > 10
    assert resolve_builder("scale_free_lif") is scale_free_lif
