"""AdEx engine and builder: single neurons against the ODE, rheobase, delays, drive, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import solve_ivp

import spikewire as sw
from spikewire.core.network import Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.neurons import AdExParams
from spikewire.networks import adex
from spikewire.observe import Schedule
from spikewire.simulate import simulate_adex


def ode_spikes(p: AdExParams, current: float, t_ms: float) -> np.ndarray:
    """Spike times (s) of the AdEx ODE under a constant current (pA), by scipy's LSODA with
    an event at V = V_peak and the exact reset V ← V_reset, w ← w + b."""
    tw = p.tau_w * 1e3

    def f(t, y):
        v, w = y
        dv = (-p.g_L * (v - p.E_L) + p.g_L * p.Delta_T * np.exp((v - p.V_T) / p.Delta_T)
              - w + current) / p.C
        return [dv, (p.a * (v - p.E_L) - w) / tw]

    def peak(t, y):
        return y[0] - p.V_peak
    peak.terminal, peak.direction = True, 1
    t0, y, out = 0.0, [p.E_L, 0.0], []
    while t0 < t_ms:
        r = solve_ivp(f, (t0, t_ms), y, events=peak, rtol=1e-9, atol=1e-9, max_step=1.0,
                      method="LSODA")
        if r.status != 1:
            break
        t0 = r.t_events[0][0]
        out.append(t0)
        y = [p.V_reset, r.y_events[0][0][1] + p.b]
    return np.array(out) / 1e3


def single(p: AdExParams, drive, n: int = 1) -> Network:
    return Network(weights=sp.csc_array((n, n)), cell_type=np.array(["E"] * n), params=p,
                   drive=drive)


@pytest.mark.parametrize("name, current", [("RS", 800.0), ("bursting", 250.0),
                                           ("tonic", 500.0)])
def test_single_neuron_matches_ode(name, current):
    p = AdExParams.preset(name)
    ref = ode_spikes(p, current, 400.0)
    got = sw.simulate(single(p, WhiteNoiseDrive(mu=current)), 0.4, dt=1e-5).train(0)
    assert ref.size >= 5 and abs(got.size - ref.size) <= 1
    m = min(got.size, ref.size, 8)
    # Euler at 10 us drifts by 0.04-0.05 ms per spike (measured 0.34 ms after 8 spikes)
    assert np.abs(got[:m] - ref[:m]).max() < 0.6e-3


def test_rheobase():
    """Saddle-node case (a/g_L = 0.2 < tau_m/tau_w = 0.67): silent 3 % below the analytic
    rheobase, firing 3 % above (the ODE does the same)."""
    p = AdExParams.preset("tonic")
    rh = p.rheobase()
    np.testing.assert_allclose(rh, 12.0 * (20.0 - 2.0 + 2.0 * np.log(1.2)), rtol=1e-12)
    below = sw.simulate(single(p, WhiteNoiseDrive(mu=0.97 * rh)), 1.0, dt=1e-5).train(0)
    above = sw.simulate(single(p, WhiteNoiseDrive(mu=1.03 * rh)), 1.0, dt=1e-5).train(0)
    assert below.size == 0 and ode_spikes(p, 0.97 * rh, 1000.0).size == 0
    ref = ode_spikes(p, 1.03 * rh, 1000.0)
    assert above.size == ref.size >= 5


def test_bursting_preset_bursts():
    """Naud et al. (2008) regular bursting: doublets (ISI < 10 ms) separated by > 80 ms."""
    p = AdExParams.preset("bursting")
    isi = np.diff(sw.simulate(single(p, WhiteNoiseDrive(mu=250.0)), 1.0, dt=2e-5).train(0))
    short, long_ = isi[isi < 0.01], isi[isi >= 0.01]
    assert short.size >= 5 and long_.size >= 5 and long_.min() > 0.08


def test_delays_exact_and_sign():
    """Neuron 0 is kicked to spike at t0; targets get 100 nS with delays d_j (E) and spike
    at t0 + d_j + the same latency; a negative weight (inhibition) causes no spike."""
    delays_ms = np.array([1.0, 2.5, 7.3, 10.0])
    n = delays_ms.size + 2
    rows = np.arange(1, n)
    w = sp.csc_array((np.r_[np.full(n - 2, 100.0), 0.0], (rows, np.zeros(n - 1, int))),
                     shape=(n, n))
    net = Network(weights=w, cell_type=["E"] * n, delays=np.r_[delays_ms, 1.0] * 1e-3,
                  params=AdExParams.preset("RS"))
    t0 = 0.02

    class Kick:
        times = np.array([t0])
        neurons = np.array([0])
        amplitudes = np.array([80.0])
    st = sw.simulate(net, 0.05, stimulation=Kick())
    np.testing.assert_allclose(st.train(0), [t0])
    lat = np.array([st.train(j)[0] - t0 - d * 1e-3 for j, d in enumerate(delays_ms, 1)])
    np.testing.assert_allclose(lat, lat[0], atol=1e-9)  # same latency after every delay
    assert 0 < lat[0] < 5e-3  # 100 nS depolarise the cell to V_peak in ~2 ms
    inh = net.replace(weights=sp.csc_array((np.r_[np.full(n - 2, -100.0), 0.0],
                                            (rows, np.zeros(n - 1, int))), shape=(n, n)),
                      cell_type=np.array(["I"] + ["E"] * (n - 1)),
                      params={"E": AdExParams.preset("RS"), "I": AdExParams.preset("FS")})
    st2 = sw.simulate(inh, 0.05, stimulation=Kick())
    assert st2.train(0).size == 1 and st2.times.size == 1


def test_network_builder():
    net = adex(1000, seed=4)
    assert net.neuron_model == "adex" and net.dale_violations().size == 0
    w = net.weights
    pre = np.repeat(np.arange(1000), np.diff(w.indptr))
    exc = pre < 800
    in_e = np.bincount(w.indices[exc], minlength=1000)
    in_i = np.bincount(w.indices[~exc], minlength=1000)
    assert np.all(in_e == 80) and np.all(in_i == 20)  # fixed in-degree eps N_E, eps N_I
    # log-normal, mean 1 nS (E) and 4 nS (I), CV 1: 80,000 E samples -> sd of mean 0.004
    np.testing.assert_allclose(w.data[exc].mean(), 1.0, rtol=0.05)
    np.testing.assert_allclose(w.data[~exc].mean(), -4.0, rtol=0.05)
    logw = np.log(w.data[exc])
    np.testing.assert_allclose(logw.std(), np.sqrt(np.log(2.0)), rtol=0.02)
    d = net.synapse_delays() * 1e3
    assert d.min() >= 1.0 and d.max() <= 10.0
    np.testing.assert_allclose(d * 10, np.rint(d * 10), atol=1e-9)  # 0.1 ms grid
    assert net.params_of("E") == AdExParams.preset("RS")
    assert net.params_of("I") == AdExParams.preset("FS")
    b = adex(300, seed=4, connectivity="scale_free", excitatory_model="bursting")
    assert b.params_of("E") == AdExParams.preset("bursting") and b.dale_violations().size == 0


def test_seed_and_modulation():
    net = adex(200, seed=1)
    a = sw.simulate(net, 0.5, seed=3)
    b = sw.simulate(net, 0.5, seed=3)
    np.testing.assert_array_equal(a.times, b.times)
    assert a.annotations["engine"] == "adex" and a.annotations["dt"] == 1e-4
    steps = a.times / 1e-4
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-6)
    assert a.times.size > 0
    # unconnected neurons, drive switched off for the first half: no spike there
    free = single(AdExParams.preset("RS"), PoissonDrive(rate=3000.0, weight=2.0), 50)
    off = Schedule([0.0, 0.25], [[0.0], [1.0]], n_neurons=50)
    st = sw.simulate(free, 0.5, modulation=off, seed=0)
    assert st.restrict(0.0, 0.25).times.size == 0 and st.restrict(0.25, 0.5).times.size > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="dt"):
        simulate_adex(adex(50, seed=0), 0.1, dt=1e-3)
    with pytest.raises(ValueError, match="V_peak"):
        AdExParams(V_peak=-60.0)
    with pytest.raises(ValueError, match="excitatory_model"):
        adex(100, excitatory_model="chattering")
    with pytest.raises(ValueError, match="drive_rate"):
        adex(100, drive_rate=(1.0, 2.0, 3.0))


def test_spike_buffer_growth():
    """40 identical tonic AdEx neurons overflow the initial spike buffer; every train
    equals the single-neuron run."""
    p = AdExParams.preset("tonic")
    one = sw.simulate(single(p, WhiteNoiseDrive(mu=600.0)), 1.0).train(0)
    many = sw.simulate(single(p, WhiteNoiseDrive(mu=600.0), 40), 1.0)
    assert one.size > 50
    for k in range(40):
        np.testing.assert_array_equal(many.train(k), one)
