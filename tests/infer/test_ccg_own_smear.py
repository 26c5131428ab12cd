"""`ccg` signs: a strong peak's own smear into the spike-jitter baseline must not turn an
excitatory link into an inhibitory one.

The spike-jitter baseline is the correlogram convolved with a ±``jitter_width`` boxcar, so
a strong peak raises the baseline of the bins a few ms beside it, where a trough test then
finds a "trough". Where the reverse direction also has a strong trough (a reciprocal E ↔ I
pair), the reverse trough vetoes this direction's excitatory split call, and the artefact
trough won the sign: on the random Izhikevich network of issue 12 (1 h), 15 of the 19
recorded E → I links with an I → E link back came out inhibitory
(benchmarks/results/izh.md). Ground truth here is a point process with exactly known links,
as in test_ccg_reciprocal.py. A second test: an excitatory peak followed by a broad
disynaptic trough (feedforward inhibition) keeps its positive sign.
"""

import numpy as np
import pytest

import spikewire as sw

T = 600.0
RATE = 8.0
N_PAIRS = 6


def _poisson(rng, rate, T):
    return np.sort(rng.uniform(0, T, rng.poisson(rate * T)))


def _trains(e_delay, seed):
    """``N_PAIRS`` pairs (E = unit 2p, I = unit 2p + 1): E → I adds an I spike ``e_delay +
    U(0, 1 ms)`` after 30 % of the E spikes; I → E deletes 80 % of the E spikes falling
    2–5 ms after an I spike. Returns the trains and the signed truth (post × pre)."""
    rng = np.random.default_rng(seed)
    n = 2 * N_PAIRS
    base = [_poisson(rng, RATE, T) for _ in range(n)]
    trains = [t.copy() for t in base]
    truth = np.zeros((n, n), dtype=int)
    for p in range(N_PAIRS):
        e, i = 2 * p, 2 * p + 1
        truth[i, e], truth[e, i] = 1, -1
        src = base[e][rng.random(base[e].size) < 0.3]
        add = src + e_delay + rng.uniform(0, 1e-3, src.size)
        trains[i] = np.sort(np.r_[trains[i], add[add < T]])
    for p in range(N_PAIRS):
        e, i = 2 * p, 2 * p + 1
        x = trains[e]
        k = np.searchsorted(trains[i], x - 2e-3, side="right") - 1
        lag = x - trains[i][np.maximum(k, 0)]
        hit = (k >= 0) & (lag >= 2e-3) & (lag <= 5e-3)
        trains[e] = x[~(hit & (rng.random(x.size) < 0.8))]
    return sw.SpikeTrains.from_lists(trains, t_stop=T), truth


@pytest.mark.parametrize("e_delay", [8e-3, 15e-3])
def test_reciprocal_e_i_pairs_with_long_excitatory_delays_keep_their_signs(e_delay):
    st, truth = _trains(e_delay, seed=int(e_delay * 1e4))
    est = sw.infer(st, "ccg")
    linked = truth != 0
    # every link is strong (the E → I peak adds ~1,400 coincidences within 1 ms over a
    # chance level of ~25 per 0.5 ms bin; the I → E trough removes ~80 % over 3 ms), so
    # both directions of every pair are called with their own sign at the default (BH).
    # Before the own-smear correction 3 or 4 of the 6 E → I directions per delay came out
    # inhibitory.
    adj = est.adjacency()
    wrong = np.argwhere(linked & (adj != truth))
    assert wrong.size == 0, [(i, j, adj[i, j], truth[i, j], est.weights[i, j])
                             for i, j in wrong]
    # the excitatory delay is found (the peak lies in [delay, delay + 1 ms])
    for p in range(N_PAIRS):
        d = est.delays[2 * p + 1, 2 * p]
        assert e_delay - 5e-4 <= d <= e_delay + 1.5e-3, (p, d)


def _ffi_trains(seed, n_pairs=20, p=0.05, q=0.8, delay=15e-3):
    """E → post links with feedforward inhibition: post gets a spike ``delay + U(0, 3 ms)``
    after ``p`` of the pre spikes, and loses ``q`` of its spikes falling 3–15 ms after that
    peak (a disynaptic trough through an unrecorded interneuron). Pairs (2k, 2k + 1)."""
    rng = np.random.default_rng(seed)
    trains = []
    for _ in range(n_pairs):
        pre = _poisson(rng, RATE, T)
        src = pre[rng.random(pre.size) < p]
        post = np.sort(np.r_[_poisson(rng, RATE, T), src + delay + rng.uniform(0, 3e-3, src.size)])
        k = np.searchsorted(pre, post - delay - 3e-3, side="right") - 1
        lag = post - pre[np.maximum(k, 0)]
        hit = (k >= 0) & (lag >= delay + 3e-3) & (lag <= delay + 15e-3)
        post = post[~(hit & (rng.random(post.size) < q))]
        trains += [pre, post[post < T]]
    return sw.SpikeTrains.from_lists(trains, t_stop=T)


def test_an_excitatory_peak_followed_by_a_disynaptic_trough_keeps_its_sign():
    # the direct link is excitatory (a clear peak: ~240 extra coincidences over 3 ms on
    # ~20 per 0.5 ms bin); the broad trough after it is indirect. Both directed tails are
    # significant; the sign follows the tail whose directed test times its window test is
    # stronger, which is the peak here. With the directed test alone 2 of these 20 links
    # came out inhibitory (1 of 20 with seed 2).
    st = _ffi_trains(seed=1)
    est = sw.infer(st, "ccg")
    adj = est.adjacency()
    signs = [adj[2 * k + 1, 2 * k] for k in range(20)]
    assert signs == [1] * 20, signs
    assert all(est.weights[2 * k + 1, 2 * k] > 0 for k in range(20))
