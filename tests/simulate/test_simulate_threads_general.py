"""The general LIF kernel on several threads gives the serial engine's spike trains bit
for bit (exponential and alpha synapses, per-synapse delays, per-neuron rates and
parameters, stimulation), for any thread count.

Exactness, not statistics: each block draws its neurons' random numbers from the serial
stream (jumping over the other blocks' draws, whose number per neuron is fixed for these
drives) and every target receives its inputs in the serial order, so one changed draw or
addition order changes the spike trains. Each case checks that the network is active
(the check has teeth) and that the threaded kernel really ran.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

import spikewire as sw
from spikewire import LIFParams
from spikewire.core.network import PoissonDrive, WhiteNoiseDrive
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.synapses import AlphaSynapse
from spikewire.networks import brunel

lif = importlib.import_module("spikewire.simulate.lif")
_spec = importlib.util.spec_from_file_location(
    "_threads_general_reference", Path(__file__).with_name("test_simulate_reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def _same(a, b):
    assert a.n_spikes == b.n_spikes
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.times, b.times)


@pytest.fixture
def worker_calls(monkeypatch):
    """Counts the chunks run by the general kernel's block worker."""
    calls = []
    real = lif.lif_block_worker_general

    def counted(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(lif, "lif_block_worker_general", counted)
    return calls


def _exp_net(n, seed, per_synapse_delays=True, **kw):
    net = brunel(n, seed=seed, tau_syn=5e-3, J=0.4, eta=5.0, **kw)
    if per_synapse_delays:
        # 0.2 to 2.5 ms: regions of 2 steps, slots reused within the 26-slot ring
        d = np.random.default_rng(seed).integers(2, 26, size=net.weights.nnz) * 1e-4
        net = net.replace(delays=d)
    return net


@pytest.mark.parametrize("n_threads", [2, 3])
def test_exp_synapses_per_synapse_delays(n_threads, worker_calls):
    """Exponential synapses, per-synapse delays of 2..25 steps, refractory period 2 ms
    (20 steps), float32 ring: 1, 2 and 3 threads agree bit for bit."""
    net = _exp_net(800, seed=11)
    serial = sw.simulate(net, 0.2, seed=12)
    assert serial.n_spikes > 800 * 0.2 * 5  # > 5 Hz
    _same(serial, sw.simulate(net, 0.2, seed=12, n_threads=n_threads))
    assert set(worker_calls) == set(range(n_threads))


def test_per_neuron_rates_cell_types_stimulation_and_one_delay(worker_calls):
    """Exponential synapses with per-population time constants and parameters, per-neuron
    Poisson rates (inversion: one draw per neuron, none for a zero rate), stimulation
    pulses (voltage jumps) on block edges, one delay of 1.2 ms, float64 ring."""
    n = 700
    hp = {"E": LIFParams(tau_m=0.02, tau_syn=4e-3),
          "I": LIFParams(tau_m=0.01, theta=18.0, tau_syn=2e-3, tau_ref=1e-3)}
    rates = np.linspace(8000.0, 28000.0, n)
    rates[::7] = 0.0  # neurons without drive draw nothing
    net = brunel(n, seed=13, J=0.5, delay=1.2e-3).replace(
        params=hp, drive=PoissonDrive(rates, 1, 0.4))
    stim = SimpleNamespace(times=np.array([0.01, 0.02, 0.02, 0.05, 0.11]),
                           neurons=np.array([0, 15, 16, 239, 240]),
                           amplitudes=np.array([8.0, 12.5, -3.0, 9.0, 15.0]))
    cfg = lif.build_kernel_config(net, 10, 1e-4, np.random.default_rng(0))
    assert cfg.drive.mode == lif.DriveMode.POISSON and not cfg.fast
    serial = sw.simulate(net, 0.15, seed=14, stimulation=stim)
    assert serial.n_spikes > n * 0.15 * 5
    for k in (2, 3):
        _same(serial, sw.simulate(net, 0.15, seed=14, stimulation=stim, n_threads=k))
    assert worker_calls


def test_alpha_synapses_and_one_step_delay(worker_calls):
    """Alpha synapses (two state variables: the general synapse update) and
    ``delays=None`` (one step: a region and a barrier per step)."""
    net = brunel(500, seed=15, J=0.6, eta=5.0, delay=None).replace(
        params=LIFParams(synapse=AlphaSynapse(0.002)))
    serial = sw.simulate(net, 0.1, seed=16)
    assert serial.n_spikes > 500 * 0.1 * 5
    for k in (2, 3):
        _same(serial, sw.simulate(net, 0.1, seed=16, n_threads=k))
    assert worker_calls


def _reverse_columns(cfg):
    """The configuration with each CSC column's synapses (rows, weights, delays) in
    reverse order: rows no longer sorted, the same synapses."""
    net = cfg.net
    order = np.concatenate([np.arange(a, b)[::-1] for a, b in
                            zip(net.col_ptr[:-1], net.col_ptr[1:], strict=True)])
    rev = net._replace(row_idx=net.row_idx[order], w=net.w[order],
                       syn_delay=net.syn_delay[order])
    return dataclasses.replace(cfg, net=rev)


def test_delta_synapses_with_per_synapse_delays(worker_calls):
    """Delta synapses off the fast path (per-synapse delays), unequal weights, and CSC rows
    not sorted within columns: the plan sorts a copy and permutes the delays with it."""
    net = brunel(600, seed=17, J=0.3, eta=2.5)
    rng = np.random.default_rng(1)
    w = net.weights
    w = sp.csc_array(((w.data * rng.uniform(0.5, 1.5, w.data.size)).astype(np.float64),
                      w.indices, w.indptr), shape=w.shape)
    net = net.replace(weights=w, delays=rng.integers(3, 20, size=w.nnz) * 1e-4)
    n_steps, dt = 2000, 1e-4

    def cfg():
        return lif.build_kernel_config(net, n_steps, dt, seeded_rng(18, "simulation"))

    serial = lif._run(cfg(), n_steps, dt)
    assert serial[0].size > 600 * 0.2 * 5 and not cfg().fast
    rev = _reverse_columns(cfg())
    assert not lif.columns_sorted(rev.net.col_ptr, rev.net.row_idx)
    for k in (2, 3):
        steps, idx = lif._run(_reverse_columns(cfg()), n_steps, dt, n_threads=k,
                              chunk_steps=333)
        np.testing.assert_array_equal(steps, serial[0])
        np.testing.assert_array_equal(idx, serial[1])
    assert worker_calls


@pytest.mark.parametrize("name", ["brunel_exp", "brunel_exp_stim", "delta_poisson_pern",
                                  "brunel_delta", "hetero_delta", "delta_f64"])
def test_general_kernel_threads_reproduce_the_serial_digests(name, monkeypatch,
                                                             worker_calls):
    """The reference digests (recorded with the serial engine) from the general kernel on
    2 threads; delta-synapse scenarios with the fast path switched off."""
    monkeypatch.setattr(lif, "_FAST_PATH", False)
    real = sw.simulate

    def threaded(*args, **kw):
        return real(*args, n_threads=2, **kw)

    monkeypatch.setattr(ref.sw, "simulate", threaded)
    assert ref._digest(ref._run(name)) == ref.REFERENCE[name]
    assert worker_calls


@pytest.mark.parametrize("n_threads", [2, 3])
def test_box_muller_drives(n_threads, worker_calls):
    """White noise (two draws per neuron and step) and per-neuron Poisson rates with some
    of 30 or more per step (normal approximation: two draws) on threads."""
    net = _exp_net(600, seed=19)
    wn = net.replace(drive=WhiteNoiseDrive(18.0, 6.0))
    serial = sw.simulate(wn, 0.1, seed=2)
    assert serial.n_spikes > 600 * 0.1 * 5
    _same(serial, sw.simulate(wn, 0.1, seed=2, n_threads=n_threads))
    rates = np.full(600, 15_000.0)
    rates[5::9] = 400_000.0  # 40 inputs per step: normal approximation (Box–Muller)
    hi = net.replace(drive=PoissonDrive(rates, 1, 0.05))
    serial = sw.simulate(hi, 0.1, seed=3)
    assert serial.n_spikes > 600 * 0.1 * 5
    _same(serial, sw.simulate(hi, 0.1, seed=3, n_threads=n_threads))
    assert set(worker_calls) == set(range(n_threads))


_MASK = (1 << 64) - 1


def _xo_back(s0, s1, s2, s3):
    """The xoshiro256** state one draw before ``(s0, s1, s2, s3)`` (Python ints)."""
    a3 = ((s3 >> 45) | (s3 << 19)) & _MASK  # rotate right by 45: s3 ^ s1 before
    p0 = s0 ^ a3
    y = s1 ^ s2  # = p1 ^ (p1 << 17): invert the xorshift
    p1 = y
    for sh in (17, 34, 51):
        p1 ^= (y << sh) & _MASK
    p2 = s1 ^ p1 ^ p0
    return p0, p1, p2, a3 ^ p1


def test_xo_back_inverts_the_generator():
    from spikewire.core.rng import next_u64

    s = np.array([0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x1, 0xDEADBEEF00000000],
                 dtype=np.uint64)
    before = [int(x) for x in s]
    next_u64(s)
    assert _xo_back(*[int(x) for x in s]) == tuple(before)


def test_a_box_muller_redraw_reruns_the_chunk_serially(monkeypatch):
    """A generator state whose draw at a chosen position is exactly 0: the neuron's normal
    deviate redraws its first uniform, so every later draw of the step (other blocks) and
    of later steps moves by one. The threaded run detects it and reruns that chunk on one
    thread: the spikes equal the serial engine's, which made the same redraw."""
    n, n_steps, dt = 400, 600, 1e-4
    net = _exp_net(n, seed=21, per_synapse_delays=False).replace(
        drive=WhiteNoiseDrive(18.0, 6.0))

    def cfg():
        return lif.build_kernel_config(net, n_steps, dt, seeded_rng(22, "simulation"))

    # the first uniform of neuron i (block 0 of 2) at step 3 is draw 2·N·(3 - 1) + 2·i
    pos = 2 * n * 2 + 2 * 100
    state = (1, 0, 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9)  # s1 = 0: output 0
    for _ in range(pos):
        state = _xo_back(*state)
    start = np.array(state, dtype=np.uint64)
    c1 = cfg()
    c1.rng[:] = start
    serial = lif._run(c1, n_steps, dt, chunk_steps=250)
    reruns = []
    real = lif._Blocks.__call__

    def call(self, *args):
        r = real(self, *args)
        reruns.append(self.n_reruns)
        return r

    monkeypatch.setattr(lif._Blocks, "__call__", call)
    c2 = cfg()
    c2.rng[:] = start
    steps, idx = lif._run(c2, n_steps, dt, chunk_steps=250, n_threads=2)
    assert reruns[0] == 1 and reruns[-1] == 1  # only the first chunk was rerun
    assert serial[0].size > n * n_steps * dt * 5
    np.testing.assert_array_equal(steps, serial[0])
    np.testing.assert_array_equal(idx, serial[1])
    np.testing.assert_array_equal(c2.rng, c1.rng)
    # without the rerun the threads would have diverged from the serial engine
    monkeypatch.setattr(lif, "may_redraw", lambda cfg: False)
    c3 = cfg()
    c3.rng[:] = start
    steps3, idx3 = lif._run(c3, n_steps, dt, chunk_steps=250, n_threads=2)
    assert not (np.array_equal(steps3, serial[0]) and np.array_equal(idx3, serial[1]))


def test_modulation_runs_serially(worker_calls):
    """Drive modulation changes the rates step by step: one thread, same result."""
    net = _exp_net(300, seed=19, per_synapse_delays=False)
    mod = ref._Modulation(300)
    _same(sw.simulate(net, 0.05, seed=2, modulation=mod),
          sw.simulate(net, 0.05, seed=2, modulation=mod, n_threads=2))
    assert worker_calls == []


def test_draws_per_neuron():
    net = brunel(64, seed=1, tau_syn=3e-3)
    cfg = lif.build_kernel_config(net, 10, 1e-4, np.random.default_rng(0))
    np.testing.assert_array_equal(lif.draws_per_neuron(cfg), np.ones(64))
    assert not lif.may_redraw(cfg)
    rates = np.where(np.arange(64) % 3 == 0, 0.0, 5000.0)
    rates[1] = 400_000.0  # 40 per step at dt = 0.1 ms: normal approximation
    cfg = lif.build_kernel_config(net.replace(drive=PoissonDrive(rates, 1, 0.1)), 10, 1e-4,
                                  np.random.default_rng(0))
    expect = (np.arange(64) % 3 != 0).astype(int)
    expect[1] = 2
    np.testing.assert_array_equal(lif.draws_per_neuron(cfg), expect)
    assert lif.may_redraw(cfg)
    cfg = lif.build_kernel_config(net.replace(drive=None), 10, 1e-4,
                                  np.random.default_rng(0))
    np.testing.assert_array_equal(lif.draws_per_neuron(cfg), np.zeros(64))
    cfg = lif.build_kernel_config(net.replace(drive=WhiteNoiseDrive(18.0, 6.0)), 10, 1e-4,
                                  np.random.default_rng(0))
    np.testing.assert_array_equal(lif.draws_per_neuron(cfg), np.full(64, 2))
    assert lif.may_redraw(cfg) and lif.threadable(cfg)
