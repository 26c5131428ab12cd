"""simulate's stages: the kernel configuration names the drive mode, picks the fast
kernel only where it applies and carries the synapse model's propagators."""

import importlib

import numpy as np
import pytest

from spikewire import LIFParams, PoissonDrive, WhiteNoiseDrive
from spikewire.core.synapses import AlphaSynapse
from spikewire.networks import brunel
from spikewire.simulate._lif_kernel import LinearSynapseProp, SynapseProp

lif = importlib.import_module("spikewire.simulate.lif")
DriveMode = lif.DriveMode


class _Mod:
    def __init__(self, n):
        self.groups = np.zeros(n, dtype=int)

    def gain(self, k0, k1, dt):
        return np.ones((k1 - k0, 1))


def _cfg(net, **kw):
    return lif.build_kernel_config(net, 100, 1e-4, np.random.default_rng(0), **kw)


def test_drive_modes_and_kernel_choice():
    net = brunel(100, epsilon=0.2, seed=0)
    cfg = _cfg(net)
    # one Poisson rate everywhere: guide-table sampling and the fast delta kernel
    assert cfg.drive.mode == DriveMode.POISSON_TABLE and cfg.fast
    assert cfg.synapse.c.shape == (0, 100) and isinstance(cfg.synapse, SynapseProp)
    # modulated Poisson drive: per-step inversion, general kernel
    cfg = _cfg(net, modulation=_Mod(100))
    assert cfg.drive.mode == DriveMode.POISSON and not cfg.fast
    cfg = _cfg(net.replace(drive=PoissonDrive(np.linspace(1, 5, 100))))
    assert cfg.drive.mode == DriveMode.POISSON and not cfg.fast
    cfg = _cfg(net.replace(drive=WhiteNoiseDrive(10.0, 2.0)))
    assert cfg.drive.mode == DriveMode.WHITE_NOISE and not cfg.fast
    cfg = _cfg(net.replace(drive=None))
    assert cfg.drive.mode == DriveMode.NONE and cfg.fast
    # exponential synapses: one state per neuron, general kernel
    cfg = _cfg(net.replace(params=LIFParams(tau_syn=0.005)))
    assert not cfg.fast and cfg.state.S.shape == (1, 100)
    np.testing.assert_array_equal(cfg.synapse.A[0, 0], np.exp(-1e-4 / 0.005))


def test_alpha_synapses_use_the_general_state_update():
    net = brunel(100, epsilon=0.2, seed=0)
    cfg = _cfg(net.replace(params=LIFParams(synapse=AlphaSynapse(0.002))))
    assert isinstance(cfg.synapse, LinearSynapseProp) and cfg.state.S.shape == (2, 100)
    A, c, b = AlphaSynapse(0.002).propagators(1e-4, 0.02)
    np.testing.assert_array_equal(cfg.synapse.A[..., 7], A)
    np.testing.assert_array_equal(cfg.synapse.c[:, 7], c)
    np.testing.assert_array_equal(cfg.synapse.b[:, 7], b)


def test_per_type_propagators():
    net = brunel(100, epsilon=0.2, seed=0)
    p = {"E": LIFParams(tau_m=0.02, tau_syn=0.004), "I": LIFParams(tau_m=0.01, tau_syn=0.002)}
    cfg = _cfg(net.replace(params=p))
    is_e = net.cell_type == "E"
    for mask, q in ((is_e, p["E"]), (~is_e, p["I"])):
        A, c, _ = q.synapse.propagators(1e-4, q.tau_m)
        assert np.all(cfg.synapse.A[0, 0, mask] == A[0, 0])
        assert np.all(cfg.synapse.c[0, mask] == c[0])


def test_mixed_synapse_models_are_refused():
    net = brunel(100, epsilon=0.2, seed=0)
    with pytest.raises(ValueError, match="same synapse model"):
        net.replace(params={"E": LIFParams(tau_syn=0.004),
                            "I": LIFParams(synapse=AlphaSynapse(0.004))})
