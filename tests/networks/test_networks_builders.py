"""Brunel builder (exact in-degrees, weights, drive), from_matrix, bad input."""

import time

import numpy as np
import pytest
import scipy.sparse as sp

import spikewire as sw
from spikewire.networks import brunel, brunel_threshold_rate, delays_from_positions, from_matrix


@pytest.mark.parametrize("n, eps", [(1000, 0.1), (500, 0.25), (50, 1.0)])
def test_brunel_exact_indegrees_no_autapses_no_multapses(n, eps):
    J, g = 0.2, 4.5
    net = brunel(n, epsilon=eps, g=g, J=J, seed=4)
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    c_e = min(int(round(eps * n_e)), n_e - 1)
    c_i = min(int(round(eps * n_i)), n_i - 1)
    w = net.weights.tocsr()
    e_in = (w[:, :n_e] != 0).sum(axis=1)
    i_in = (w[:, n_e:] != 0).sum(axis=1)
    assert np.all(e_in == c_e) and np.all(i_in == c_i)
    assert np.all(w.diagonal() == 0)
    # a multapse would be summed into a single entry of 2J (or -2gJ): every value is
    # exactly J from E and exactly -gJ from I, and nnz equals N (C_E + C_I)
    assert net.n_synapses == n * (c_e + c_i)
    np.testing.assert_array_equal(np.unique(w[:, :n_e].data), [np.float32(J)])
    np.testing.assert_array_equal(np.unique(w[:, n_e:].data), [np.float32(-g * J)])
    assert list(net.cell_type[:n_e]) == ["E"] * n_e and list(net.cell_type[n_e:]) == ["I"] * n_i
    assert net.dale_violations().size == 0


def test_brunel_drive_and_params():
    net = brunel(1000, epsilon=0.1, g=5, eta=2.0, J=0.5, delay=1.5e-3, tau_m=0.02,
                 theta=20.0, v_reset=10.0, tau_ref=0.002, seed=0)
    c_e = 80
    nu_thr = 20.0 / (0.5 * c_e * 0.02)
    assert brunel_threshold_rate(20.0, 0.5, c_e, 0.02) == pytest.approx(nu_thr)
    assert net.drive.rate == pytest.approx(2.0 * nu_thr)  # nu_ext = eta nu_thr
    assert net.drive.n_inputs == c_e and net.drive.weight == 0.5
    assert net.delays == 1.5e-3
    p = net.params
    assert (p.tau_m, p.theta, p.v_reset, p.tau_ref, p.tau_syn) == (0.02, 20.0, 10.0, 0.002, None)
    # all model-A parameters are settable
    other = brunel(500, g=3, eta=0.9, J=0.3, delay=None, tau_m=0.01, theta=18.0, v_reset=5.0,
                   tau_ref=0.0, tau_syn=0.005, excitatory_fraction=0.5, seed=1)
    assert other.n_excitatory == 250 and other.delays is None
    assert other.params.tau_syn == 0.005 and other.params.tau_ref == 0.0


def test_brunel_reproducible_and_seeded():
    a, b, c = brunel(400, seed=9), brunel(400, seed=9), brunel(400, seed=10)
    assert (a.weights != b.weights).nnz == 0
    assert (a.weights != c.weights).nnz > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_neurons=0), "n_neurons must be >= 2"),
    (dict(n_neurons=-10), "n_neurons must be >= 2"),
    (dict(epsilon=0.0), r"epsilon must lie in \(0, 1\]"),
    (dict(epsilon=1.2), r"epsilon must lie in \(0, 1\]"),
    (dict(J=-0.1), "J must be > 0"),
    (dict(eta=-1.0), "eta must be >= 0"),
    (dict(tau_m=-0.02), "tau_m must be > 0"),
    (dict(tau_ref=-0.002), "tau_ref must be >= 0"),
    (dict(v_reset=25.0), "v_reset .* must be below theta"),
    (dict(delay=-1e-3), "delay must be > 0"),
])
def test_brunel_bad_input(kwargs, match):
    kw = dict(n_neurons=100)
    kw.update(kwargs)
    with pytest.raises(ValueError, match=match):
        brunel(**kw)


def test_too_large_network_raises_memory_error_with_estimate_before_work():
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match=r"needs about \d+\.\d+ GiB"):
        brunel(1_000_000, epsilon=0.5)  # 4e11 synapses, far beyond any machine
    with pytest.raises(MemoryError, match=r"100,000 neurons and 100,000,000 synapses"):
        brunel(100_000, epsilon=0.01, max_memory=2**29)  # 10^8 synapses in 0.5 GiB
    assert time.perf_counter() - t0 < 1.0  # refused before any connectivity is drawn


def test_from_matrix_dense_and_sparse_agree():
    rng = np.random.default_rng(0)
    n = 30
    w = rng.uniform(0, 1, (n, n)) * (rng.random((n, n)) < 0.2)
    ct = np.array(["E"] * 20 + ["I"] * 10)
    w[:, 20:] *= -3
    np.fill_diagonal(w, 0)
    a = from_matrix(w, ct)
    b = from_matrix(sp.csr_array(w), ct)
    c = from_matrix(sp.coo_matrix(w), ct == "E")  # bool labels, scipy matrix class
    for net in (a, b, c):
        np.testing.assert_array_equal(net.dense_weights(), w)
        np.testing.assert_array_equal(net.cell_type, ct)
        assert net.n_synapses == np.count_nonzero(w)
        assert isinstance(net.weights, sp.csc_array)
    # a dense delay matrix is picked at the synapses, in CSC order
    d = rng.uniform(1e-3, 3e-3, (n, n))
    net = from_matrix(w, ct, delays=d)
    rows, cols = net.weights.indices, np.repeat(np.arange(n), np.diff(net.weights.indptr))
    np.testing.assert_array_equal(net.synapse_delays(), d[rows, cols])
    with pytest.raises(ValueError, match="square"):
        from_matrix(np.zeros((3, 2)), ["E"] * 3)
    with pytest.raises(ValueError, match="NaN or inf"):
        from_matrix(np.full((2, 2), np.inf), ["E"] * 2)
    with pytest.raises(sw.DaleViolation, match=r"20 \(I\)"):
        from_matrix(np.abs(w), ct)


def test_delays_from_positions():
    w = sp.csc_array(np.array([[0, 1.0, 0], [1.0, 0, 0], [1.0, 1.0, 0]]))
    pos = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.3]])  # mm
    d = delays_from_positions(w, pos, velocity=1000.0)  # 1 m/s
    # CSC order: column 0 -> rows 1, 2; column 1 -> rows 0, 2
    expected = 5e-4 + np.array([5.0, 0.3, 5.0, np.hypot(3, 3.7)]) / 1000.0
    np.testing.assert_allclose(d, np.round(expected / 1e-4) * 1e-4)
    with pytest.raises(ValueError, match="velocity must be > 0"):
        delays_from_positions(w, pos, velocity=0.0)
