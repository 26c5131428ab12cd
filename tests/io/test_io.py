import numpy as np
import pytest

from spikewire import SpikeTrains
from spikewire.io import read_nwb, read_phy, write_nwb, write_phy


def _trains():
    rng = np.random.default_rng(0)
    return SpikeTrains.from_lists(
        [np.sort(rng.uniform(0, 10, 50)) for _ in range(4)], units=[3, 7, 8, 11], t_stop=10.0)


def test_phy_round_trip_is_exact_at_sample_resolution(tmp_path):
    st = _trains()
    write_phy(st, tmp_path / "ks", sample_rate=30_000, labels={3: "good", 7: "noise", 8: "mua"})
    rec = read_phy(tmp_path / "ks", t_stop=10.0)
    # unit 7 is labelled noise and dropped; unlabelled unit 11 is kept
    assert rec.spikes.units.tolist() == [3, 8, 11]
    for u in (3, 8, 11):
        got = rec.spikes.train(int(rec.spikes.position_of(u)[0]))
        want = st.train(int(st.position_of(u)[0]))
        # sample quantisation: at most half a sample (1/60 ms) away
        assert np.max(np.abs(got - want)) <= 0.5 / 30_000 + 1e-12
    assert rec.sampling_rate == 30_000
    assert np.all(rec.true_index == -1)


def test_phy_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_phy(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="spike_times.npy"):
        read_phy(tmp_path / "empty")
    np.save(tmp_path / "empty" / "spike_times.npy", np.arange(3))
    np.save(tmp_path / "empty" / "spike_clusters.npy", np.zeros(3, int))
    with pytest.raises(ValueError, match="sample_rate"):
        read_phy(tmp_path / "empty")


def test_nwb_round_trip(tmp_path):
    st = _trains()
    path = write_nwb(st, tmp_path / "rec.nwb", cell_type=["E", "E", "I", "E"])
    rec = read_nwb(path, t_stop=10.0)
    assert rec.spikes.units.tolist() == st.units.tolist()
    for k in range(st.n_units):
        np.testing.assert_array_equal(rec.spikes.train(k), st.train(k))
