"""Finite-K van Vreeswijk-Sompolinsky mean field: K → ∞ limit, 1/√K expansion, simulations."""

import numpy as np
import pytest

from spikewire.networks import binary_balanced
from spikewire.simulate.binary import simulate_binary
from spikewire.theory import vvs_balanced_limit, vvs_first_order, vvs_mean_field


def test_balanced_limit_closed_form():
    # vV&S (1998) with J_EE = J_IE = 1, J_EI = -J_E, J_II = -J_I:
    # m_E = (E J_I - I J_E)/(J_E - J_I) m0, m_I = (E - I)/(J_E - J_I) m0
    JE, JI, E, I, m0 = 2.0, 1.8, 1.0, 0.8, 0.1
    m = vvs_balanced_limit([[1, -JE], [1, -JI]], [E, I], m0=m0)
    np.testing.assert_allclose(m, [(E * JI - I * JE) / (JE - JI) * m0,
                                   (E - I) / (JE - JI) * m0], rtol=1e-12)
    JE2, JI2, E2, I2 = 1.5, 1.2, 1.0, 0.5
    m = vvs_balanced_limit([[1, -JE2], [1, -JI2]], [E2, I2], m0=0.05)
    np.testing.assert_allclose(m, [(E2 * JI2 - I2 * JE2) / (JE2 - JI2) * 0.05,
                                   (E2 - I2) / (JE2 - JI2) * 0.05], rtol=1e-12)
    with pytest.raises(ValueError, match="balanced state"):
        vvs_balanced_limit([[1, -1.0], [1, -2.0]], [1.0, 0.8])   # J_E < J_I: no balance


@pytest.mark.parametrize("conn", ["random", "fixed_indegree"])
def test_large_k_expansion(conn):
    m_inf = vvs_balanced_limit()
    Ks = np.array([1e4, 1e6, 1e8, 1e10])
    m = vvs_mean_field(Ks, connectivity=conn)
    m1 = vvs_first_order(Ks, connectivity=conn)
    # O(1/√K) approach to the balance solution, with the first-order coefficient exact:
    # the remainder after it is O(1/K), so K·|m - m1| is (nearly) constant in K
    assert np.all(np.abs(m - m_inf) < 5 / np.sqrt(Ks)[:, None])
    rem = np.abs(m - m1) * Ks[:, None]
    np.testing.assert_allclose(rem[1:], np.broadcast_to(rem[-1], rem[1:].shape), rtol=0.05)
    np.testing.assert_allclose(m[-1], m_inf, atol=1e-4)  # K = 10^10: the balanced state


def test_fixed_point_equations():
    K = 2500.0
    J = np.array([[1.0, -2.0], [1.0, -1.8]])
    theta, E, m0 = np.array([1.0, 0.7]), np.array([1.0, 0.8]), 0.1
    for conn, var in (("random", lambda m: m), ("fixed_indegree", lambda m: m * (1 - m))):
        m = vvs_mean_field(K, connectivity=conn)
        from scipy.stats import norm
        u = np.sqrt(K) * (E * m0 + J @ m) - theta
        alpha = (J**2) @ var(m)
        np.testing.assert_allclose(m, norm.sf(-u / np.sqrt(alpha)), rtol=1e-8)


def test_against_binary_simulations():
    """The Gaussian theory approaches simulations as K grows.

    Its error is the non-Gaussian count statistics of the K m_E active E inputs (about 3
    at K = 150, 30 at K = 600): measured 60 %, 14 %, 6 %, 0.5 % at K = 150, 300, 600, 1200
    (benchmarks/results/theory.md). At K = 600 we allow 10 %, and the error must shrink.
    """
    err = []
    for K, N in ((150, 6000), (600, 15000)):
        net = binary_balanced(N, N, K, connectivity="fixed_indegree", seed=1)
        _, act = simulate_binary(net, 1.0, seed=1, return_activity=True)
        sim = act.time_average(0.3)
        theory = vvs_mean_field(K, connectivity="fixed_indegree")
        err.append(np.abs(theory - sim) / sim)
    assert np.all(err[1] < 0.10), err
    assert np.all(err[1] < err[0]), err


def test_validation():
    with pytest.raises(ValueError, match="K"):
        vvs_mean_field(0)
    with pytest.raises(ValueError, match="connectivity"):
        vvs_mean_field(100, connectivity="ring")
    with pytest.raises(ValueError, match="m0"):
        vvs_mean_field(100, m0=1.5)
    with pytest.raises(ValueError, match="Dale"):
        vvs_mean_field(100, J=[[1, 2], [1, -1.8]])
