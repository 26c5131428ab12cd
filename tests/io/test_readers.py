"""Readers on files written here with the real libraries (numpy, pynwb, pandas/pyarrow,
SpikeInterface): metadata kept, selections honoured, time resolution carried."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from spikewire import SpikeTrains
from spikewire.io import (
    DataError,
    detect_format,
    from_spikeinterface,
    quality_report,
    read_nwb,
    read_phy,
    read_recording,
    read_table,
    to_spikeinterface,
    unit_table,
    write_nwb,
    write_phy,
    write_table,
)


def _trains(n=None, t_stop=20.0, seed=0, units=None, grid=None):
    n = n or (len(units) if units else 5)
    rng = np.random.default_rng(seed)
    trains = []
    for _ in range(n):
        t = np.cumsum(3e-3 + rng.exponential(0.1, 400))     # 3 ms dead time: no duplicates
        t = t[t < t_stop]
        if grid:
            t = np.unique(np.floor(t * grid) / grid)
        trains.append(t)
    return SpikeTrains.from_lists(trains, units=units or list(range(n)), t_stop=t_stop)


# ----------------------------------------------------------------------------- phy
def test_phy_labels_metadata_and_selection(tmp_path):
    st = _trains(units=[1, 2, 5, 7, 9])
    info = pd.DataFrame({"depth": [10.0, 20.0, 30.0, 40.0, 50.0], "ch": [1, 2, 3, 4, 5],
                         "KSLabel": ["good", "mua", "good", "good", "noise"]},
                        index=[1, 2, 5, 7, 9])
    # the manual label (cluster_group) overrides Kilosort's: 9 is rescued, 5 is rejected
    write_phy(st, tmp_path / "ks", labels={5: "noise", 9: "good"}, info=info)
    pd.DataFrame({"cluster_id": [1, 2, 5, 7, 9], "KSLabel": info["KSLabel"]}).to_csv(
        tmp_path / "ks" / "cluster_KSLabel.tsv", sep="\t", index=False)
    rec = read_phy(tmp_path / "ks", t_stop=20.0, keep=("good",))
    assert rec.spikes.units.tolist() == [1, 7, 9]
    meta = unit_table(rec)
    assert meta["depth"].tolist() == [10.0, 40.0, 50.0]
    assert meta["ch"].tolist() == [1, 4, 5]
    assert meta["quality"].tolist() == ["good", "good", "good"]
    dropped = quality_report(rec)["dropped"]
    assert dropped == {2: "not selected: quality='mua'", 5: "not selected: quality='noise'"}
    assert rec.sampling_rate == 30_000 and rec.time_resolution == pytest.approx(1 / 30_000)
    # selection by any cluster_info column
    rec = read_phy(tmp_path / "ks", t_stop=20.0, keep=None, where={"ch": [2, 3]})
    assert rec.spikes.units.tolist() == [2, 5]
    # the selected trains equal the written ones up to half a sample
    for u in (2, 5):
        got = rec.spikes.train(int(rec.spikes.position_of(u)[0]))
        want = st.train(int(st.position_of(u)[0]))
        assert np.max(np.abs(got - want)) <= 0.5 / 30_000 + 1e-12


def test_phy_params_with_code_is_not_executed(tmp_path):
    st = _trains(n=2)
    write_phy(st, tmp_path / "ks")
    sentinel = tmp_path / "executed"
    (tmp_path / "ks" / "params.py").write_text(
        f"import os\nos.system('touch {sentinel}')\nopen({str(sentinel)!r}, 'w')\n"
        f"sample_rate = 20000.0\nn_channels_dat = __import__('os').getpid()\n")
    rec = read_phy(tmp_path / "ks", keep=None)
    assert rec.sampling_rate == 20_000.0
    assert not sentinel.exists()


def test_phy_garbage_tsv_and_mismatched_arrays_name_the_file(tmp_path):
    st = _trains(n=2)
    write_phy(st, tmp_path / "ks")
    (tmp_path / "ks" / "cluster_group.tsv").write_text("cluster_id\tgroup\nzz\tgood\n")
    with pytest.raises(DataError, match=r"cluster_group\.tsv.*not an integer"):
        read_phy(tmp_path / "ks")
    (tmp_path / "ks" / "cluster_group.tsv").unlink()
    np.save(tmp_path / "ks" / "spike_clusters.npy", np.zeros(3, np.int32))
    with pytest.raises(DataError, match=r"spike_times\.npy has \d+ spikes but .*"
                                        r"spike_clusters\.npy has 3"):
        read_phy(tmp_path / "ks")
    (tmp_path / "ks" / "spike_clusters.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=r"spike_clusters\.npy: cannot read"):
        read_phy(tmp_path / "ks")


# ----------------------------------------------------------------------------- NWB
def _nwb_with_everything(path, st):
    """A units table with quality/location columns, electrodes, obs_intervals, epochs and
    a stored resolution, written with pynwb directly (as an acquisition system would)."""
    import pynwb
    from pynwb.misc import Units

    nwb = pynwb.NWBFile(session_description="test", identifier="x",
                        session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    dev = nwb.create_device(name="probe")
    grp = nwb.create_electrode_group(name="shank0", description="s", location="brain",
                                     device=dev)
    for loc in ("CA1", "CA3"):
        nwb.add_electrode(group=grp, location=loc)
    nwb.units = Units(name="units", description="sorted", resolution=1 / 30_000)
    nwb.add_unit_column(name="quality", description="label")
    nwb.add_unit_column(name="depth", description="um")
    quality = ["good", "good", "mua", "good", "good"]
    obs = [[[0.0, 20.0]], [[0.5, 20.0]], [[0.0, 20.0]], [[0.0, 5.0]], [[0.0, 20.0]]]
    for k in range(st.n_units):
        t = st.train(k)
        lo, hi = obs[k][0]
        nwb.add_unit(id=int(st.units[k]), spike_times=t[(t >= lo) & (t < hi)],
                     quality=quality[k], depth=100.0 * k, electrodes=[k % 2],
                     obs_intervals=obs[k])
    nwb.add_epoch(start_time=2.0, stop_time=8.0, tags=["running"])
    nwb.add_epoch(start_time=10.0, stop_time=18.0, tags=["rest"])
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_nwb_columns_electrodes_obs_intervals_epochs_and_resolution(tmp_path):
    st = _trains(units=[10, 11, 12, 13, 14], grid=30_000)
    path = tmp_path / "rec.nwb"
    _nwb_with_everything(path, st)
    rec = read_nwb(path, t_start=0.0, t_stop=20.0)
    # unit 13 was observed 0-5 s only: dropped with the reason; unit 11 starts at 0.5 s,
    # so the window shrinks to where every kept unit was observed
    assert rec.spikes.units.tolist() == [10, 11, 12, 14]
    assert "observed in only 25%" in quality_report(rec)["dropped"][13]
    assert rec.spikes.t_start == 0.5 and rec.spikes.t_stop == 20.0
    assert rec.sampling_rate == pytest.approx(30_000)
    meta = unit_table(rec)
    assert meta["electrode_location"].tolist() == ["CA1", "CA3", "CA1", "CA1"]
    assert meta["depth"].tolist() == [0.0, 100.0, 200.0, 400.0]
    k = 2
    t = st.train(k)
    np.testing.assert_array_equal(rec.spikes.train(2), t[(t >= 0.5) & (t < 20.0)])
    # selection by quality label and by any column (here the electrode's brain area)
    rec = read_nwb(path, labels="good", where={"electrode_location": "CA1"}, t_start=0.0,
                   t_stop=20.0)
    assert rec.spikes.units.tolist() == [10, 14]
    # an epoch sets the window; spikes outside are counted, not lost silently
    rec = read_nwb(path, epoch="running")
    assert (rec.spikes.t_start, rec.spikes.t_stop) == (2.0, 8.0)
    assert quality_report(rec)["totals"]["outside_interval"] > 0
    with pytest.raises(ValueError, match="no epoch tagged 'sleep'"):
        read_nwb(path, epoch="sleep")


def test_nwb_round_trip_and_column_selection(tmp_path):
    st = _trains(units=[3, 7, 8, 11])
    path = write_nwb(st, tmp_path / "a.nwb", cell_type=["E", "E", "I", "E"],
                     unit_table=pd.DataFrame({"area": ["V1", "V1", "LM", "LM"]}))
    rec = read_nwb(path, t_start=0.0, t_stop=20.0, duplicate_window=0.0)
    assert rec.spikes == st
    assert unit_table(rec)["cell_type"].tolist() == ["E", "E", "I", "E"]
    assert rec.sampling_rate is None                       # float times: no grid claimed
    assert read_nwb(path, where={"area": "LM"}).spikes.units.tolist() == [8, 11]


def test_corrupt_nwb_names_the_file(tmp_path):
    bad = tmp_path / "broken.nwb"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(DataError, match="broken.nwb"):
        read_nwb(bad)


# ----------------------------------------------------------------------------- tables
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".npz"])
def test_table_round_trip_is_exact(tmp_path, suffix):
    st = _trains(units=[2, 4, 6])
    path = write_table(st, tmp_path / f"spikes{suffix}")
    assert detect_format(path) == "table"
    rec = read_recording(path, interval=(0.0, 20.0), duplicate_window=0.0)
    assert rec.spikes == st


def test_table_labels_samples_and_unit_columns(tmp_path):
    st = _trains(n=3, grid=20_000)
    frame = pd.DataFrame({"neuron": np.array(["a", "b", "c"])[st.unit_ids],
                          "sample_index": np.rint(st.times * 20_000).astype(np.int64),
                          "area": np.array(["CA1", "CA1", "DG"])[st.unit_ids],
                          "amplitude": np.arange(st.n_spikes)})        # per spike
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ValueError, match="sampling_rate"):
        read_table(tmp_path / "s.csv")
    rec = read_table(tmp_path / "s.csv", sampling_rate=20_000, t_start=0.0, t_stop=20.0,
                     where={"area": "CA1"}, duplicate_window=0.0)
    meta = unit_table(rec)
    assert meta["original_id"].tolist() == ["a", "b"]
    assert "amplitude" not in meta.columns            # not constant per unit
    assert rec.sampling_rate == 20_000
    np.testing.assert_allclose(rec.spikes.train(1), st.train(1), atol=1e-12)
    # float seconds on a 10 kHz grid: the resolution is detected
    g = _trains(n=3, grid=10_000)
    write_table(g, tmp_path / "g.parquet")
    assert read_table(tmp_path / "g.parquet").sampling_rate == 10_000


# ----------------------------------------------------------------------------- SpikeInterface
def test_spikeinterface_round_trip():
    si = pytest.importorskip("spikeinterface.core")
    rng = np.random.default_rng(7)
    fs = 30_000.0
    samples = np.sort(rng.choice(int(fs * 30), 900, replace=False)).astype(np.int64)
    labels = rng.choice(np.array(["u1", "u2", "u3"]), 900)
    sorting = si.NumpySorting.from_samples_and_labels([samples], [labels], fs)
    sorting.set_property("quality", np.array(["good", "mua", "good"]))
    sorting.set_property("brain_area", np.array(["CA1", "CA1", "CA3"]))
    rec = from_spikeinterface(sorting, labels="good", t_stop=30.0, duplicate_window=0.0)
    meta = unit_table(rec)
    assert meta["original_id"].tolist() == ["u1", "u3"]
    assert meta["brain_area"].tolist() == ["CA1", "CA3"]
    assert rec.sampling_rate == fs
    for k, lab in enumerate(["u1", "u3"]):
        # samples / fs in float64: exact up to one rounding (relative 1.1e-16)
        np.testing.assert_allclose(rec.spikes.train(k) * fs, samples[labels == lab],
                                   rtol=2.3e-16, atol=0)
    back = to_spikeinterface(rec)
    for k, u in enumerate(back.unit_ids):
        np.testing.assert_array_equal(back.get_unit_spike_train(u, segment_index=0),
                                      samples[labels == ["u1", "u3"][k]])
    assert back.get_property("brain_area").tolist() == ["CA1", "CA3"]
