"""Bit-identity with the engine before the synapse-layer refactor.

The digests below were recorded with the code at commit 170efa9 (before the synapse
objects, the kernel records and the ``simulate`` split) on 2026-11-29, by running these
exact scenarios. The refactor must not change a single spike: same network, settings and
seed give the same spike times, with the fast kernel and with the general one (for the
cases the fast kernel does not cover, both runs use the general kernel). A change of any
sampled number or any floating-point operation order changes a digest.
"""

import hashlib
import importlib
from types import SimpleNamespace

import numpy as np
import pytest

import spikewire as sw
from spikewire import LIFParams, PoissonDrive, WhiteNoiseDrive
from spikewire.networks import brunel

lif = importlib.import_module("spikewire.simulate.lif")

# scenario -> (first 16 hex digits of sha256(times, indptr), number of spikes)
REFERENCE = {
    "brunel_delta": ("6c4edb8ae8d4d08c", 5782),
    "brunel_exp": ("8cc9d723c8b09b23", 2278),
    "brunel_delta_stim": ("2e3a04c5e87ca952", 5700),
    "brunel_exp_stim": ("58e639912fa15732", 2297),
    "brunel_delta_mod": ("95d39adb1fa84d8f", 5390),
    "hetero_exp_wn_perdelay": ("9d58b23359ba563f", 1710),
    "hetero_delta": ("edcb9ede4e49e8e0", 5597),
    "delta_poisson_pern": ("831f4c2b99a198a3", 3926),
    "delta_f64": ("131d27a289831c32", 5768),
}


def _digest(st):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(st.times, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(st.indptr, dtype=np.int64).tobytes())
    return h.hexdigest()[:16], int(st.n_spikes)


class _Modulation:
    def __init__(self, n):
        self.groups = np.arange(n) % 2

    def gain(self, k0, k1, dt):
        t = np.arange(k0, k1) * dt
        s = 0.5 * np.sin(2 * np.pi * 5 * t)
        return np.stack([1 + s, 1 - s], axis=1)


def _old(seed):
    """The streams of commit 170efa9: ``default_rng(seed)`` used directly (a Generator is
    used as given; an int now goes through the seed tree, spikewire.core.seeds)."""
    return np.random.default_rng(seed)


def _run(name):
    net = brunel(200, seed=_old(1))
    exp = brunel(200, seed=_old(1), tau_syn=5e-3, J=0.4, eta=5.0)
    stim = SimpleNamespace(times=np.array([0.01, 0.05, 0.05, 0.1]),
                           neurons=np.array([3, 7, 3, 150]),
                           amplitudes=np.array([5.0, 12.5, 3.3, -2.0]))
    if name == "brunel_delta":
        return sw.simulate(net, 0.3, seed=_old(2))
    if name == "brunel_exp":
        return sw.simulate(exp, 0.3, seed=_old(2))
    if name == "brunel_delta_stim":
        return sw.simulate(net, 0.3, seed=_old(2), stimulation=stim, v_init="reset")
    if name == "brunel_exp_stim":
        return sw.simulate(exp, 0.3, seed=_old(2), stimulation=stim, dt=1 / 30000)
    if name == "brunel_delta_mod":
        return sw.simulate(net, 0.3, seed=_old(2), modulation=_Modulation(200))
    if name == "hetero_exp_wn_perdelay":
        hp = {"E": LIFParams(tau_m=0.02, tau_syn=4e-3),
              "I": LIFParams(tau_m=0.01, theta=18.0, tau_syn=2e-3)}
        d = np.random.default_rng(5).integers(1, 30, size=net.weights.nnz) * 1e-4
        het = net.replace(params=hp, delays=d, drive=WhiteNoiseDrive(18.0, 6.0))
        return sw.simulate(het, 0.3, seed=_old(2))
    if name == "hetero_delta":
        hd = {"E": LIFParams(tau_m=0.02),
              "I": LIFParams(tau_m=0.01, theta=18.0, tau_ref=0.001)}
        return sw.simulate(net.replace(params=hd), 0.3, seed=_old(2))
    if name == "delta_poisson_pern":
        rates = np.linspace(5000, 30000, 200)
        return sw.simulate(net.replace(drive=PoissonDrive(rates, 1, 0.1), delays=None), 0.3,
                           seed=_old(2))
    if name == "delta_f64":
        return sw.simulate(net.replace(weights=net.weights.astype(np.float64)), 0.3,
                           seed=_old(3))
    raise KeyError(name)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_spikes_identical_to_the_engine_before_the_refactor(name, fast, monkeypatch):
    monkeypatch.setattr(lif, "_FAST_PATH", fast)
    assert _digest(_run(name)) == REFERENCE[name]
