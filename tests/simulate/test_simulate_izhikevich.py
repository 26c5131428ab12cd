"""Izhikevich engine: single neurons against the ODE, exact delays, drive, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import solve_ivp

import spikewire as sw
from spikewire.core.network import Network, PoissonDrive, WhiteNoiseDrive
from spikewire.core.neurons import IzhikevichParams
from spikewire.observe import Schedule
from spikewire.simulate import simulate_izhikevich


def ode_spikes(p: IzhikevichParams, current: float, t_ms: float) -> np.ndarray:
    """Spike times (s) of the Izhikevich ODE under a constant current, by scipy's RK45
    with event detection at v = v_peak and an exact reset."""
    a, b, c, d = p.a, p.b, p.c, p.d

    def f(t, y):
        v, u = y
        return [0.04 * v * v + 5 * v + 140 - u + current, a * (b * v - u)]

    def peak(t, y):
        return y[0] - p.v_peak
    peak.terminal, peak.direction = True, 1
    t0, y, out = 0.0, [-65.0, b * -65.0], []
    while t0 < t_ms:
        r = solve_ivp(f, (t0, t_ms), y, events=peak, rtol=1e-9, atol=1e-9, max_step=0.5)
        if r.status != 1:
            break
        t0 = r.t_events[0][0]
        out.append(t0)
        y = [c, r.y_events[0][0][1] + d]
    return np.array(out) / 1e3


def single(p: IzhikevichParams, drive, n: int = 1) -> Network:
    return Network(weights=sp.csc_array((n, n)), cell_type=np.array(["E"] * n), params=p,
                   drive=drive)


@pytest.mark.parametrize("name", ["RS", "FS", "CH"])
def test_single_neuron_matches_ode(name):
    p = IzhikevichParams.preset(name)
    ref = ode_spikes(p, 10.0, 300.0)
    fine = sw.simulate(single(p, WhiteNoiseDrive(mu=10.0)), 0.3, dt=1e-5).train(0)
    coarse = sw.simulate(single(p, WhiteNoiseDrive(mu=10.0)), 0.3, dt=1e-4).train(0)
    # forward Euler + detection on the grid drift by 0.03-0.07 ms per spike at dt = 10 us
    # (measured), so over 300 ms the count may differ by one spike at > 100 Hz (FS)
    assert abs(fine.size - ref.size) <= 1 and ref.size >= 5
    err_fine = np.abs(fine[:10] - ref[:10]).max()
    assert err_fine < 1e-3  # measured 0.64 ms (FS, 10 spikes); a wrong ODE is off by ms
    # first-order convergence: 10x smaller dt, error at least 4x smaller (ideal 10x)
    assert err_fine < 0.25 * np.abs(coarse[:10] - ref[:10]).max()


def test_published_firing_patterns():
    """RS adapts, FS does not, CH fires bursts (Izhikevich 2003, fig. 2), checked on the
    fine-step engine (which matches the ODE, test above)."""
    isi = {}
    for name in ("RS", "FS", "CH"):
        st = sw.simulate(single(IzhikevichParams.preset(name), WhiteNoiseDrive(mu=10.0)),
                         0.5, dt=2e-5)
        isi[name] = np.diff(st.train(0))
    assert isi["RS"][-1] > 1.5 * isi["RS"][0]  # adaptation (ratio 1.93 in the ODE)
    fs = isi["FS"][5:]
    assert fs.std() < 0.05 * fs.mean() and 1 / fs.mean() > 100  # tonic, > 100 Hz
    ch = isi["CH"][3:]
    assert ch.min() < 10e-3 and ch.max() > 3 * ch.min()  # intra- vs inter-burst intervals


@pytest.mark.parametrize("dt", [1e-3, 5e-4])
def test_delays_are_exact(dt):
    """Neuron 0 spikes at t0 (a 150 mV kick); each target j gets a weight of 200 with
    delay d_j and spikes one step after the pulse arrives at t0 + d_j."""
    delays_ms = np.array([1, 2, 5, 11, 20])
    n = delays_ms.size + 1
    w = sp.csc_array((np.full(n - 1, 200.0), (np.arange(1, n), np.zeros(n - 1, int))),
                     shape=(n, n))
    net = Network(weights=w, cell_type=np.array(["E"] * n),
                  delays=delays_ms * 1e-3, params=IzhikevichParams.preset("RS"))
    t0 = 0.050

    class Kick:
        times = np.array([t0])
        neurons = np.array([0])
        amplitudes = np.array([150.0])  # from rest (-70 mV) to above v_peak
    st = sw.simulate(net, 0.1, dt=dt, stimulation=Kick())
    assert np.allclose(st.train(0), [t0])
    for j, d in enumerate(delays_ms, start=1):
        np.testing.assert_allclose(st.train(j), [t0 + d * 1e-3 + dt], atol=1e-9)


def test_delays_must_sit_on_the_grid():
    net = Network(weights=sp.csc_array(np.array([[0, 1.0], [0, 0]])), cell_type=["E", "E"],
                  delays=1.5e-3, params=IzhikevichParams())
    with pytest.raises(ValueError, match="multiple of dt"):
        sw.simulate(net, 0.01, dt=1e-3)


def test_seed_determinism_and_seed_types():
    net = sw.networks.izhikevich(200, out_degree=20, seed=3)
    a = sw.simulate(net, 1.0, seed=5)
    b = sw.simulate(net, 1.0, seed=np.random.SeedSequence(5))
    c = sw.simulate(net, 1.0, seed=6)
    g1 = sw.simulate(net, 1.0, seed=np.random.default_rng(5))
    g2 = sw.simulate(net, 1.0, seed=np.random.default_rng(5))
    assert a.annotations["engine"] == "izhikevich" and a.annotations["dt"] == 1e-3
    # seed=5 and SeedSequence(5) are one stream (core.seeds); a Generator is used as given
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.unit_ids, b.unit_ids)
    np.testing.assert_array_equal(g1.times, g2.times)
    assert a.times.size != c.times.size or not np.array_equal(a.times, c.times)
    steps = a.times / 1e-3
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-9)  # on the dt grid
    # small chunks (the kernel is re-entered 200 times) and a progress bar change nothing
    d = sw.simulate(net, 1.0, seed=5, progress=True, chunk_steps=5)
    np.testing.assert_array_equal(a.times, d.times)


def test_poisson_drive_and_modulation():
    """Unconnected RS neurons driven by pulses of 200 (each pulse makes a spike): the rate
    equals the pulse rate, and a gain of 0 silences the drive."""
    n, rate = 200, 5.0
    net = single(IzhikevichParams.preset("RS"), PoissonDrive(rate=rate, weight=200.0), n)
    st = sw.simulate(net, 20.0, seed=1)
    # 20,000 expected pulses (Poisson, sd 141); two pulses within one or two steps give one
    # spike (~1 % at 5 Hz x 2 ms), so allow 3 % below and 3 sd above
    total = st.times.size
    assert 0.97 * n * rate * 20 < total < n * rate * 20 + 3 * np.sqrt(n * rate * 20)
    off = Schedule([0.0, 10.0], [[0.0], [1.0]], n_neurons=n)
    st2 = sw.simulate(net, 20.0, seed=1, modulation=off)
    assert st2.restrict(0.0, 9.99).times.size == 0  # at most one spike at the switch-on edge
    assert st2.restrict(10.0, 20.0).times.size > 0.9 * total / 2


def test_noise_drive_scales_with_dt():
    """The noise current's 1 ms averages have sd sigma at every dt, so the rate of
    noise-driven neurons barely depends on dt (fine steps differ through the Euler error,
    measured < 15 %; a drive not rescaled with sqrt(1 ms / dt) differs by ~2x)."""
    p = IzhikevichParams.preset("RS")
    net = single(p, WhiteNoiseDrive(mu=3.0, sigma=5.0), 300)
    r1 = sw.simulate(net, 10.0, dt=1e-3, seed=2).rates().mean()
    r2 = sw.simulate(net, 10.0, dt=5e-4, seed=2).rates().mean()
    assert r1 > 0.5 and abs(r2 / r1 - 1) < 0.3


def test_bad_inputs():
    net = single(IzhikevichParams(), None)
    with pytest.raises(ValueError, match="dt"):
        simulate_izhikevich(net, 1.0, dt=2e-3)
    with pytest.raises(ValueError, match="v_init"):
        simulate_izhikevich(net, 1.0, v_init="bogus")
    with pytest.raises(TypeError, match="izhikevich"):
        simulate_izhikevich(sw.networks.brunel(50, seed=0), 1.0)
    with pytest.raises(ValueError, match="v_peak"):
        IzhikevichParams(c=40.0)
    with pytest.raises(ValueError, match="same length"):
        IzhikevichParams(a=np.full(3, 0.02), b=np.full(4, 0.2))
    with pytest.raises(ValueError, match="per-neuron"):
        Network(weights=sp.csc_array((2, 2)), cell_type=["E", "E"],
                params=IzhikevichParams(a=np.full(3, 0.02)))


def test_spike_buffer_growth():
    """50 identical FS neurons at ~140 Hz overflow the initial spike buffer (sized for
    10 Hz) several times; every neuron's train equals the single-neuron run."""
    p = IzhikevichParams.preset("FS")
    one = sw.simulate(single(p, WhiteNoiseDrive(mu=10.0)), 1.0, dt=1e-4).train(0)
    many = sw.simulate(single(p, WhiteNoiseDrive(mu=10.0), 50), 1.0, dt=1e-4)
    assert one.size > 100
    for k in range(50):
        np.testing.assert_array_equal(many.train(k), one)
