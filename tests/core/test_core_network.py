"""Network: Dale's law check, delays, parameters and drives validation."""

import numpy as np
import pytest
import scipy.sparse as sp

import spikewire as sw
from spikewire import DaleViolation, LIFParams, Network, PoissonDrive, WhiteNoiseDrive


def test_dale_violation_lists_offenders():
    w = np.zeros((5, 5))
    w[1, 0] = 0.5    # E, fine
    w[2, 0] = -0.1   # E neuron 0 with a negative output
    w[0, 3] = 0.2    # I neuron 3 with a positive output
    w[1, 4] = -0.3   # I, fine
    with pytest.raises(DaleViolation, match=r"2 neuron\(s\): 0 \(E\), 3 \(I\)"):
        Network(weights=w, cell_type=["E", "E", "E", "I", "I"])
    net = Network(weights=w, cell_type=["E", "E", "E", "I", "I"], check_dale=False)
    np.testing.assert_array_equal(net.dale_violations(), [0, 3])
    assert issubclass(DaleViolation, ValueError)


def test_dale_violation_message_truncates_long_lists():
    n = 30
    w = -np.ones((n, n)) + np.eye(n)
    with pytest.raises(DaleViolation, match="and 10 more"):
        Network(weights=w, cell_type=["E"] * n)


def test_bad_matrices_and_labels():
    with pytest.raises(ValueError, match="square"):
        Network(weights=np.zeros((3, 4)), cell_type=["E"] * 3)
    with pytest.raises(ValueError, match="cell_type must have one entry per neuron"):
        Network(weights=np.zeros((3, 3)), cell_type=["E"] * 2)
    with pytest.raises(ValueError, match=r"neuron\(s\) \[1\] have \['X'\]"):
        Network(weights=np.zeros((3, 3)), cell_type=["E", "X", "I"])
    w = np.zeros((2, 2))
    w[0, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite value nan"):
        Network(weights=sp.csc_array(w), cell_type=["E", "E"])


def test_delays_forms():
    w = sp.csc_array(np.array([[0, 1.0], [2.0, 0]]))
    assert Network(weights=w, cell_type=["E", "E"]).synapse_delays() is None
    np.testing.assert_array_equal(
        Network(weights=w, cell_type=["E", "E"], delays=2e-3).synapse_delays(), [2e-3, 2e-3])
    with pytest.raises(ValueError, match="one value per synapse"):
        Network(weights=w, cell_type=["E", "E"], delays=np.array([1e-3, 2e-3, 3e-3]))
    with pytest.raises(ValueError, match="delay must be > 0"):
        Network(weights=w, cell_type=["E", "E"], delays=-1e-3)
    with pytest.raises(ValueError, match="finite and > 0"):
        Network(weights=w, cell_type=["E", "E"], delays=np.array([1e-3, 0.0]))


def test_params_validation():
    with pytest.raises(ValueError, match=r"v_reset \(25.0 mV\) must be below theta"):
        LIFParams(v_reset=25.0)
    with pytest.raises(ValueError, match="tau_m must be > 0"):
        LIFParams(tau_m=-0.02)
    with pytest.raises(ValueError, match="tau_ref must be >= 0"):
        LIFParams(tau_ref=-0.001)
    with pytest.raises(ValueError, match="tau_syn must be > 0"):
        LIFParams(tau_syn=-0.005)
    with pytest.raises(ValueError, match="tau_syn must differ from tau_m"):
        LIFParams(tau_syn=0.020)
    assert LIFParams(tau_ref=0.0).tau_ref == 0.0


def test_drive_validation():
    with pytest.raises(ValueError, match="external rate must be finite and >= 0 Hz"):
        PoissonDrive(rate=-5.0)
    with pytest.raises(ValueError, match="external rate"):
        PoissonDrive(rate=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="n_inputs must be >= 0"):
        PoissonDrive(rate=5.0, n_inputs=-1)
    with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
        WhiteNoiseDrive(mu=10.0, sigma=-1.0)
    np.testing.assert_array_equal(PoissonDrive(rate=2.0, n_inputs=3).total_rate(4), [6.0] * 4)


def test_replace_keeps_weights_and_records_spec():
    net = sw.networks.brunel(200, J=0.5, seed=1)
    no_ref = net.replace(params=LIFParams(tau_ref=0.0), delays=None)
    assert no_ref.weights is net.weights
    assert no_ref.params.tau_ref == 0.0 and no_ref.delays is None
    assert no_ref.spec["params"]["tau_ref"] == 0.0 and net.params.tau_ref == 0.002
