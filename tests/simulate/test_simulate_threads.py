"""The LIF engine on several threads (``simulate(..., n_threads=k)``) gives the serial
engine's spike trains bit for bit, for any thread count.

Exactness, not statistics: the parallel fast path splits the postsynaptic neurons into
blocks, draws each block's Poisson counts from the serial random stream (jumping over the
other blocks' draws) and delivers every spike to every target in the serial order, so a
single changed draw or addition order changes the spike trains. The digests of
``test_simulate_reference`` (recorded with the serial engine) must therefore be reproduced
exactly by every thread count.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

import spikewire as sw
from spikewire.core.rng import next_u64
from spikewire.networks import brunel
from spikewire.simulate._lif_kernel import block_start_states, xo_jump_matrix

lif = importlib.import_module("spikewire.simulate.lif")
# the serial engine's recorded digests and scenarios, loaded under a private name
_spec = importlib.util.spec_from_file_location(
    "_threads_reference", Path(__file__).with_name("test_simulate_reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def _same(a, b):
    assert a.n_spikes == b.n_spikes
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.times, b.times)


def test_jump_matrix_advances_the_generator():
    """T^n applied to a state equals n draws of xoshiro256** (the draws the serial kernel
    makes for the neurons before a block, or for the other blocks)."""
    state = np.array([0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x1, 0xDEADBEEF00000000],
                     dtype=np.uint64)
    ns = [0, 1, 2, 63, 64, 65, 1000, 12_345]
    start = np.stack([xo_jump_matrix(n) for n in ns])
    out = np.zeros((len(ns), 4), dtype=np.uint64)
    block_start_states(start, state, out)
    for row, n in zip(out, ns, strict=True):
        s = state.copy()
        for _ in range(n):
            next_u64(s)
        np.testing.assert_array_equal(row, s, err_msg=f"jump by {n}")


@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("name", ["brunel_delta", "brunel_delta_stim", "delta_f64",
                                  "hetero_delta"])
def test_threads_reproduce_the_serial_digests(name, n_threads, monkeypatch):
    """The fast-path scenarios of the reference digests (Brunel N = 200: float32 and
    float64 rings, stimulation pulses, per-population parameters) on 2 and 3 blocks."""
    real = sw.simulate

    def threaded(*args, **kw):
        return real(*args, n_threads=n_threads, **kw)

    monkeypatch.setattr(ref.sw, "simulate", threaded)
    assert ref._digest(ref._run(name)) == ref.REFERENCE[name]


@pytest.mark.parametrize("case", [
    dict(n=2000, delay=1.5e-3),                 # 15-step regions, float32 ring, const weights
    dict(n=1000, delay=None),                   # one-step delay: a region per step
    dict(n=1500, delay=0.3e-3, chunk_steps=7),  # chunks that end inside regions
    dict(n=40, delay=1e-3),                     # blocks of 16: some blocks empty
])
def test_thread_counts_agree_bit_for_bit(case):
    case = dict(case)
    n, chunk = case.pop("n"), case.pop("chunk_steps", 2000)
    net = brunel(n, seed=3, J=0.2 if n > 100 else 2.0, eta=2.0, **case)
    runs = [sw.simulate(net, 0.15, seed=4, n_threads=k, chunk_steps=chunk)
            for k in (1, 2, 3)]
    assert runs[0].n_spikes > 10 * n * 0.15  # active (> 10 Hz), so the check has teeth
    for r in runs[1:]:
        _same(runs[0], r)


def test_unequal_weights_unsorted_columns_and_buffer_growth():
    """Per-synapse weights (no per-column constant), CSC rows not sorted within columns
    (the plan sorts a copy), and more spikes than the first spike buffer holds."""
    net = brunel(600, seed=5, J=0.3, eta=3.0)
    w = net.weights.tocsc()
    rng = np.random.default_rng(0)
    data = (w.data * rng.uniform(0.5, 1.5, w.data.size)).astype(np.float64)
    indices = w.indices.copy()
    for j in range(w.shape[1]):  # reverse each column's rows
        a, b = w.indptr[j], w.indptr[j + 1]
        indices[a:b] = indices[a:b][::-1]
        data[a:b] = data[a:b][::-1]
    unsorted = sp.csc_array((data, indices, w.indptr.copy()), shape=w.shape)
    assert not lif.columns_sorted(unsorted.indptr.astype(np.int64),
                                  unsorted.indices.astype(np.int32))
    net = net.replace(weights=unsorted)
    cfg = lif.build_kernel_config(net, 3000, 1e-4, np.random.default_rng(0))
    assert not cfg.fd.const_w
    serial = sw.simulate(net, 0.3, seed=6)
    assert serial.n_spikes > cfg.spike_capacity  # the buffer grows during the run
    for k in (2, 3):
        _same(serial, sw.simulate(net, 0.3, seed=6, n_threads=k))


def test_other_kernels_run_serially_with_the_same_result():
    """Current synapses (the general kernel's block workers) and white noise (one thread,
    see test_simulate_threads_general.py): n_threads changes nothing."""
    net = brunel(300, seed=1, tau_syn=5e-3, J=0.4, eta=5.0)
    _same(sw.simulate(net, 0.1, seed=2), sw.simulate(net, 0.1, seed=2, n_threads=2))
    wn = brunel(300, seed=1).replace(drive=sw.WhiteNoiseDrive(18.0, 6.0))
    _same(sw.simulate(wn, 0.1, seed=2), sw.simulate(wn, 0.1, seed=2, n_threads=3))


def test_block_bounds():
    b = lif.block_bounds(12_500, 2)
    np.testing.assert_array_equal(b, [0, 6240, 12_500])
    b = lif.block_bounds(200, 3)
    assert b[0] == 0 and b[-1] == 200 and np.all(np.diff(b) >= 0) and np.all(b[1:-1] % 16 == 0)
    np.testing.assert_array_equal(lif.block_bounds(20, 3), [0, 0, 0, 20])


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None])
def test_n_threads_is_validated(bad):
    net = brunel(50, seed=1)
    with pytest.raises(ValueError, match="n_threads must be a positive integer"):
        sw.simulate(net, 0.01, n_threads=bad)


def test_stimulation_on_block_edges():
    """Pulses to the first and last neurons of blocks, and two pulses at one step and neuron."""
    net = brunel(400, seed=2, J=0.3)
    stim = SimpleNamespace(times=np.array([0.01, 0.01, 0.02, 0.02, 0.05]),
                           neurons=np.array([191, 192, 0, 0, 399]),
                           amplitudes=np.array([15.0, 15.0, 4.0, 7.5, 20.0]))
    base = sw.simulate(net, 0.1, seed=3, stimulation=stim, v_init="reset")
    for k in (2, 3):
        _same(base, sw.simulate(net, 0.1, seed=3, stimulation=stim, v_init="reset",
                                n_threads=k))
