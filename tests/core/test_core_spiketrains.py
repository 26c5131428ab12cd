"""SpikeTrains: validation messages, binning, sparse/dense, round trip."""

import numpy as np
import pytest
import scipy.sparse as sp

from spikewire import SpikeTrains


def random_trains(seed=0, n_units=7, rate=30.0, t_start=0.5, t_stop=3.2):
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(t_start, t_stop, rng.poisson(rate * (t_stop - t_start))))
              for _ in range(n_units)]
    trains[3] = np.zeros(0)  # a silent unit
    return trains


def test_from_times_and_lists_agree_and_flat_order():
    trains = random_trains()
    a = SpikeTrains.from_lists(trains, t_start=0.5, t_stop=3.2)
    times = np.concatenate(trains)
    ids = np.repeat(np.arange(7), [t.size for t in trains])
    perm = np.random.default_rng(1).permutation(times.size)
    b = SpikeTrains.from_times(times[perm], ids[perm], t_start=0.5, t_stop=3.2,
                               units=np.arange(7), sort=True)
    assert a == b
    assert a.n_units == 7 and a.n_spikes == times.size
    assert np.all(np.diff(a.times) >= 0)
    for k in range(7):
        np.testing.assert_array_equal(a.train(k), trains[k])
        np.testing.assert_array_equal(a.times[a.unit_ids == k], trains[k])
    np.testing.assert_array_equal(a.counts(), [t.size for t in trains])
    np.testing.assert_allclose(a.rates(), a.counts() / 2.7)


@pytest.mark.parametrize("bad, unit", [(np.nan, 2), (np.inf, 5), (-np.inf, 0)])
def test_rejects_non_finite_naming_unit_and_value(bad, unit):
    times = np.array([0.1, 0.2, 0.3])
    ids = np.array([0, 1, 2]) if unit <= 2 else np.array([0, 1, unit])
    times[2] = bad
    ids[2] = unit
    with pytest.raises(ValueError, match=rf"spike time {bad!r} of unit {unit} is not finite"):
        SpikeTrains.from_times(times, ids, t_stop=1.0)


def test_rejects_negative_and_out_of_range_times():
    with pytest.raises(ValueError, match=r"-0\.25 s \(negative\) of unit 4 lies outside"):
        SpikeTrains.from_times([0.1, -0.25], [1, 4], t_stop=1.0)
    with pytest.raises(ValueError, match=r"spike time 1\.5 s of unit 2 lies outside.*\[0\.0, 1"):
        SpikeTrains.from_times([0.1, 1.5], [1, 2], t_stop=1.0)
    with pytest.raises(ValueError, match=r"0\.1 s of unit 1 lies outside"):
        SpikeTrains.from_times([0.1], [1], t_start=0.2, t_stop=1.0)
    # t_stop is exclusive
    with pytest.raises(ValueError, match="unit 3"):
        SpikeTrains.from_times([1.0], [3], t_stop=1.0)
    with pytest.raises(ValueError, match="t_stop"):
        SpikeTrains.from_times([], [], t_start=2.0, t_stop=1.0)


def test_unsorted_rejected_or_sorted_with_flag():
    times, ids = [0.3, 0.1, 0.2, 0.5], [7, 7, 9, 9]
    with pytest.raises(ValueError, match=r"unit 7 are not sorted \(0\.3 s comes before 0\.1"):
        SpikeTrains.from_times(times, ids, t_stop=1.0)
    st = SpikeTrains.from_times(times, ids, t_stop=1.0, sort=True)
    np.testing.assert_array_equal(st.train(0), [0.1, 0.3])
    np.testing.assert_array_equal(st.units, [7, 9])
    # interleaved units are fine as long as each unit is in order
    st2 = SpikeTrains.from_times([0.1, 0.05, 0.2], [1, 2, 1], t_stop=1.0)
    np.testing.assert_array_equal(st2.train(0), [0.1, 0.2])


def test_duplicate_and_unknown_unit_ids():
    with pytest.raises(ValueError, match=r"duplicate unit ids \[4\]"):
        SpikeTrains.from_times([0.1], [4], t_stop=1.0, units=[4, 5, 4])
    with pytest.raises(ValueError, match=r"unit\(s\) \[6\] are not in `units`"):
        SpikeTrains.from_times([0.1, 0.2], [4, 6], t_stop=1.0, units=[4, 5])
    with pytest.raises(ValueError, match="same length"):
        SpikeTrains.from_times([0.1, 0.2], [4], t_stop=1.0)
    with pytest.raises(TypeError, match="integers"):
        SpikeTrains.from_times([0.1], [0.5], t_stop=1.0)


@pytest.mark.parametrize("bin_width", [0.001, 0.0137, 0.25, 5.0])
def test_binned_matches_numpy_histogram(bin_width):
    trains = random_trains(seed=3)
    st = SpikeTrains.from_lists(trains, t_start=0.5, t_stop=3.2)
    edges = st.bin_edges(bin_width)
    assert edges[0] == 0.5 and edges[-1] >= 3.2 and edges[-2] < 3.2
    dense = st.binned(bin_width, sparse=False)
    sparse = st.binned(bin_width, sparse=True)
    assert sp.issparse(sparse) and isinstance(dense, np.ndarray)
    expected = np.array([np.histogram(t, bins=edges)[0] for t in trains])
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(sparse.toarray(), expected)
    assert dense.shape == (7, edges.size - 1)


def test_binned_default_sparsity_and_spike_on_bin_edge():
    st = SpikeTrains.from_times([0.0, 0.1, 0.2], [0, 0, 1], t_stop=100.0)
    assert sp.issparse(st.binned(0.001))  # < 5 % of bins occupied
    counts = st.binned(0.1, sparse=False)
    # spikes exactly on an edge go to the bin that starts there
    assert counts[0, 0] == 1 and counts[0, 1] == 1 and counts[1, 2] == 1
    with pytest.raises(ValueError, match="bin_width"):
        st.binned(0.0)


def test_save_load_round_trip(tmp_path):
    st = SpikeTrains.from_lists(random_trains(seed=5), units=[10, 11, 12, 13, 20, 21, 22],
                                t_start=0.5, t_stop=3.2)
    path = st.save(tmp_path / "trains")
    assert path.suffix == ".npz"
    back = SpikeTrains.load(path)
    assert back == st
    np.testing.assert_array_equal(back.units, [10, 11, 12, 13, 20, 21, 22])
    assert back.t_start == 0.5 and back.t_stop == 3.2
    np.save(tmp_path / "other.npy", np.zeros(3))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a spikewire SpikeTrains file"):
        SpikeTrains.load(tmp_path / "other.npz")


def test_select_restrict_position_of():
    st = SpikeTrains.from_lists(random_trains(seed=6), units=np.arange(100, 107),
                                t_start=0.5, t_stop=3.2)
    sub = st.select([4, 0])
    np.testing.assert_array_equal(sub.units, [104, 100])
    np.testing.assert_array_equal(sub.train(0), st.train(4))
    r = st.restrict(1.0, 2.0)
    for k in range(7):
        t = st.train(k)
        np.testing.assert_array_equal(r.train(k), t[(t >= 1.0) & (t < 2.0)])
    np.testing.assert_array_equal(st.position_of([106, 101]), [6, 1])
    with pytest.raises(ValueError, match=r"unknown unit id\(s\) \[5\]"):
        st.position_of([5])
    with pytest.raises(ValueError, match="inside the recording"):
        st.restrict(0.0, 2.0)
