"""Time resolution (quantize, bin, jitter), smoothing and partial observation."""

import numpy as np
import pytest

import spikewire as sw
from spikewire.observe import bin, jitter, quantize, smooth, subsample


def grid_trains(n=20, duration=10.0, rate=8.0, seed=0, dt=1e-4):
    rng = np.random.default_rng(seed)
    trains = [np.unique(rng.integers(1, int(duration / dt), rng.poisson(rate * duration))) * dt
              for _ in range(n)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=duration)
    st.annotations["dt"] = dt
    return st


# ----------------------------------------------------------------------------- quantize
@pytest.mark.parametrize("rate", [30_000 / 3, 1000.0, 30.0, 10.0])
def test_quantize_moves_spikes_to_their_sample_start(rate):
    st = grid_trains()
    rec = quantize(st, sampling_rate=rate)
    q = rec.spikes.grouped_times
    t = st.grouped_times
    # every spike is in the sample that contains it: q <= t < q + 1/rate (float tolerance
    # one part in 1e6 of a sample, the quantizer's own guard against t = k·dt rounding)
    assert np.all(q <= t + 1e-6 / rate) and np.all(t < q + (1 + 1e-6) / rate)
    np.testing.assert_allclose(q * rate, np.rint(q * rate), atol=1e-6)
    np.testing.assert_array_equal(rec.spikes.counts(), st.counts())
    assert rec.sampling_rate == rate


def test_quantize_at_simulation_resolution_is_the_identity():
    st = grid_trains()
    rec = quantize(st, sampling_rate=1 / st.annotations["dt"])
    np.testing.assert_allclose(rec.spikes.grouped_times, st.grouped_times, atol=1e-12)


# ----------------------------------------------------------------------------- bin
@pytest.mark.parametrize("width, num, den", [(1e-3, 1, 10), (1 / 30, 30, 10_000),
                                             (0.25, 1, 2500), (3.0, 1, 30_000)])
def test_bin_counts_match_exact_integer_binning(width, num, den):
    # spikes sit at k·dt (dt = 1e-4 s); their bin is floor(k·dt / width) = k·num // den in
    # exact integer arithmetic. (SpikeTrains.binned floors the float quotient and misplaces
    # some grid spikes, e.g. 44 of 1e5 at 1 ms bins, so it is not used as the reference.)
    st = grid_trains()
    rec = bin(st, bin_width=width)
    nb = int(np.ceil(10.0 / width - 1e-9))
    ref = np.zeros((st.n_units, nb), dtype=np.int64)
    for u in range(st.n_units):
        k = np.rint(st.train(u) / 1e-4).astype(np.int64)
        np.add.at(ref[u], k * num // den, 1)
    np.testing.assert_array_equal(rec.signals.astype(np.int64), ref)
    assert rec.signal_kind == "counts" and rec.signal_rate == pytest.approx(1 / width)
    assert rec.signals.dtype == np.min_scalar_type(ref.max())
    # the kept spikes sit at the bin starts and re-bin to the same counts
    np.testing.assert_array_equal(bin(rec, bin_width=width).signals, rec.signals)
    starts = rec.spikes.grouped_times / width
    np.testing.assert_allclose(starts, np.rint(starts), atol=1e-6)


def test_bin_never_claims_a_finer_resolution_than_its_input():
    rec = bin(quantize(grid_trains(), sampling_rate=100.0), bin_width=1e-3)
    assert rec.signal_rate == pytest.approx(1000.0) and rec.sampling_rate == 100.0
    with pytest.raises(ValueError, match="exceeds the resolution"):
        quantize(rec, sampling_rate=500.0)


def test_bin_dtype_too_small_is_refused():
    st = sw.SpikeTrains.from_lists([np.arange(300) * 1e-3], t_stop=1.0)
    with pytest.raises(ValueError, match="cannot hold"):
        bin(st, bin_width=1.0, dtype="uint8")


# ----------------------------------------------------------------------------- jitter
def test_jitter_has_the_requested_spread_and_stays_sorted():
    st = grid_trains(n=10, duration=100.0, rate=20.0)
    sigma = 5e-4
    rec = jitter(st, sigma=sigma, seed=4)
    out = rec.spikes
    assert np.all(np.diff(out.grouped_times)[np.diff(
        np.repeat(np.arange(out.n_units), out.counts())) == 0] >= 0)
    np.testing.assert_array_equal(out.counts(), st.counts())
    # with sigma far below the mean ISI (50 ms), sorting rarely swaps spikes, so the
    # displacement is the noise itself: its sd must match sigma within 3 standard errors
    d = out.grouped_times - st.grouped_times
    se = sigma / np.sqrt(2 * d.size)
    assert abs(d.std() - sigma) < 3 * se + 0.01 * sigma
    assert abs(d.mean()) < 3 * sigma / np.sqrt(d.size) + 1e-6


def test_jitter_keeps_the_sampling_grid_and_window():
    st = quantize(grid_trains(), sampling_rate=1000.0)
    rec = jitter(st, sigma=2e-3, distribution="uniform", seed=1)
    q = rec.spikes.grouped_times * 1000
    np.testing.assert_allclose(q, np.rint(q), atol=1e-6)
    assert rec.spikes.grouped_times.min() >= 0 and rec.spikes.grouped_times.max() < 10.0
    assert rec.sampling_rate == 1000.0


# ----------------------------------------------------------------------------- smooth
def test_gaussian_smoothing_of_one_spike_is_the_kernel():
    st = sw.SpikeTrains.from_lists([[5.0]], t_stop=10.0)
    fs, sigma = 1000.0, 0.02
    rec = smooth(st, width=sigma, sampling_rate=fs)
    r = rec.signals[0].astype(float)
    t = np.arange(r.size) / fs
    expected = np.exp(-0.5 * ((t - 5.0) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    # the kernel is sampled on the 1 ms grid and truncated at 5 sigma (scipy normalises the
    # sampled weights to sum 1): relative error ~ exp(-12.5) in the normalisation, far below
    # the float32 storage error of ~1e-7 relative; tails beyond 5 sigma are 0 (< 4e-5 Hz).
    np.testing.assert_allclose(r, expected, rtol=1e-5, atol=1e-4)
    assert r.sum() / fs == pytest.approx(1.0, rel=1e-5)
    assert rec.signal_kind == "rate" and rec.spikes is None


def test_exponential_smoothing_is_causal_and_preserves_the_mean_rate():
    st = grid_trains(n=5, duration=50.0, rate=10.0)
    rec = smooth(st, width=0.05, kernel="exponential", sampling_rate=200.0)
    one = smooth(sw.SpikeTrains.from_lists([[1.0]], t_stop=2.0), width=0.05,
                 kernel="exponential", sampling_rate=200.0).signals[0]
    assert np.all(one[:200] == 0) and one[200] > 0  # nothing before the spike's bin
    # each spike in bin j contributes (1 - g) g^(i - j) Hz·bin to bins i >= j, i.e. a mass
    # of 1 - g^(n_bins - j) spikes within the window: the exact expected mean rate
    g = np.exp(-1.0 / (0.05 * 200.0))
    nb = rec.signals.shape[1]
    for u in range(st.n_units):
        j = np.floor(st.train(u) * 200.0 + 1e-6)
        expected = np.sum(1 - g ** (nb - j)) / 50.0
        assert rec.signals[u].astype(float).mean() == pytest.approx(expected, rel=1e-5)


# ----------------------------------------------------------------------------- subsample
def test_subsample_fraction_count_and_populations():
    net = sw.networks.brunel(100, seed=0)
    st = grid_trains(n=100)
    assert subsample(st, fraction=0.25, seed=1).n_units == 25
    assert subsample(st, count=7, seed=1).n_units == 7
    e = subsample(st, population="E", network=net, seed=1)
    assert e.n_units == 80 and np.all(net.cell_type[e.true_index] == "E")
    i_half = subsample(st, population="I", fraction=0.5, cell_type=net.cell_type, seed=1)
    assert i_half.n_units == 10 and np.all(net.cell_type[i_half.true_index] == "I")
    exact = subsample(st, neurons=[5, 3, 9])
    np.testing.assert_array_equal(exact.true_index, [5, 3, 9])
    np.testing.assert_array_equal(exact.spikes.train(1), st.train(3))


def test_block_layout_is_spatially_contiguous():
    st = grid_trains(n=100)
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 1, (100, 2))
    rec = subsample(st, count=10, layout="block", positions=pos, center=[0.5, 0.5], seed=0)
    d = np.linalg.norm(pos - 0.5, axis=1)
    np.testing.assert_array_equal(np.sort(rec.true_index), np.sort(np.argsort(d)[:10]))
    run = subsample(st, count=10, layout="block", seed=3)  # no positions: index run
    assert np.all(np.diff(run.true_index) == 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"count": 101}, "exceeds the 100 candidate"),
    ({"population": "E"}, "needs cell_type"),
    ({"population": "X", "cell_type": ["E"] * 100}, "population must be one of"),
    ({"neurons": [1, 1]}, "must not repeat"),
    ({"neurons": [500]}, "not among the units"),
    ({"fraction": -0.1}, r"fraction must lie in \(0, 1\]"),
])
def test_subsample_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        subsample(grid_trains(n=100), **kwargs)
