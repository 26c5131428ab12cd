"""``SpikeTrains.from_times`` (counting sort by unit, lookup-table unit mapping) gives
exactly what the former sort-based implementation gave, errors included."""

from __future__ import annotations

import numpy as np
import pytest

from spikewire import SpikeTrains


def _reference(times, ids, units=None, sort=False):
    """The former implementation (np.unique + searchsorted + lexsort/argsort): grouped
    times, indptr and units, or the ValueError message it raised."""
    times = np.asarray(times, np.float64)
    ids = np.asarray(ids, np.int64)
    if units is None:
        unit_arr = np.unique(ids)
    else:
        unit_arr = np.asarray(units, np.int64)
        missing = np.setdiff1d(np.unique(ids), unit_arr)
        if missing.size:
            return f"spikes of unit(s) {missing[:10].tolist()} are not in `units`"
    order_units = np.argsort(unit_arr, kind="stable")
    pos = order_units[np.searchsorted(unit_arr[order_units], ids)] if ids.size else ids
    if sort:
        order = np.lexsort((times, pos))
    else:
        order = np.argsort(pos, kind="stable")
        grouped, gpos = times[order], pos[order]
        bad = np.flatnonzero((np.diff(grouped) < 0) & (gpos[1:] == gpos[:-1]))
        if bad.size:
            k = bad[0]
            return (f"spike times of unit {int(unit_arr[gpos[k]])} are not sorted "
                    f"({float(grouped[k])!r} s comes before {float(grouped[k + 1])!r} s)")
    counts = np.bincount(pos, minlength=unit_arr.size)
    return times[order], np.concatenate([[0], np.cumsum(counts)]), unit_arr


def _check_same(times, ids, units=None, sort=False):
    ref = _reference(times, ids, units, sort)
    if isinstance(ref, str):
        with pytest.raises(ValueError) as err:
            SpikeTrains.from_times(times, ids, t_stop=10.0, units=units, sort=sort)
        assert str(err.value).startswith(ref)
        return None
    st = SpikeTrains.from_times(times, ids, t_stop=10.0, units=units, sort=sort)
    # bit-for-bit (-0.0 included), so compare the raw bytes
    assert st.grouped_times.tobytes() == ref[0].tobytes()
    np.testing.assert_array_equal(st.indptr, ref[1])
    np.testing.assert_array_equal(st.units, ref[2])
    return st


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("id_kind", ["dense", "sparse_ids", "huge_ids"])
def test_unsorted_input_with_ties_matches_reference(seed, id_kind):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    # few distinct times so that ties within and across units are common; -0.0 and 0.0 too
    times = rng.integers(0, 50, n) * 0.1
    times[rng.random(n) < 0.05] = -0.0
    ids = rng.integers(0, 40, n)
    if id_kind == "sparse_ids":
        ids = ids * 7 - 100  # negative and gapped ids
    elif id_kind == "huge_ids":
        ids = ids * 10**12  # beyond the lookup table: the sorting path
    _check_same(times, ids, sort=True)
    _check_same(times, ids, sort=False)  # raises the same error (unless n is tiny)
    order = np.lexsort((times, ids))
    _check_same(times[order], ids[order], sort=False)  # grouped input
    g = np.argsort(times, kind="stable")
    _check_same(times[g], ids[g], sort=False)  # time-ordered input, the common case


@pytest.mark.parametrize("seed", range(4))
def test_given_units_with_silent_and_missing_units(seed):
    rng = np.random.default_rng(100 + seed)
    n = 2000
    ids = rng.integers(0, 30, n)
    times = np.sort(rng.random(n) * 9.0)
    units = rng.permutation(np.arange(-5, 45))  # silent units, unsorted order
    st = _check_same(times, ids, units=units)
    assert st.counts()[np.isin(units, ids, invert=True)].sum() == 0
    _check_same(times, ids, units=np.arange(0, 29))  # unit 29 missing: same error
    _check_same(times, ids * 10**13, units=np.arange(0, 29) * 10**13)


def test_empty_and_single():
    _check_same(np.zeros(0), np.zeros(0, int), units=[3, 1, 2])
    _check_same(np.array([1.0]), np.array([5]))
    st = SpikeTrains.from_times(np.zeros(0), np.zeros(0, int), t_stop=1.0)
    assert st.n_units == 0 and st.n_spikes == 0


@pytest.mark.parametrize("compress", [False, True])
def test_save_load_both_formats(tmp_path, compress):
    rng = np.random.default_rng(9)
    times = np.sort(rng.random(20_000) * 10.0)
    st = SpikeTrains.from_times(times, rng.integers(0, 50, times.size), t_stop=10.0,
                                annotations={"dt": 1e-4})
    path = st.save(tmp_path / "st", compress=compress)
    back = SpikeTrains.load(path)
    assert back == st and back.annotations == {"dt": 1e-4}
    # compressed files are smaller (the ids' CSR pointer and the times' high bytes compress)
    raw = st.save(tmp_path / "raw", compress=False).stat().st_size
    assert (path.stat().st_size < raw) == compress


@pytest.mark.parametrize("seed", range(4))
def test_time_ordered_view_kept_from_input_equals_lexsort(seed):
    rng = np.random.default_rng(300 + seed)
    n = 4000
    times = rng.integers(0, 200, n) * 0.01  # many ties across units
    times[rng.random(n) < 0.05] = -0.0
    ids = rng.integers(0, 30, n) * 3
    for order in (np.lexsort((ids, times)),           # time order, ties by unit: kept
                  np.lexsort((-ids, times)),          # ties by unit descending: re-sorted
                  rng.permutation(n)):                # unordered: re-sorted
        st = SpikeTrains.from_times(times[order], ids[order], t_stop=10.0, sort=True)
        pos = np.repeat(np.arange(st.n_units), np.diff(st.indptr))
        ref = np.lexsort((pos, st.grouped_times))
        assert st.times.tobytes() == st.grouped_times[ref].tobytes()
        np.testing.assert_array_equal(st.unit_ids, st.units[pos[ref]])
    src = np.sort(rng.random(100))
    st = SpikeTrains.from_times(src, np.zeros(100, int), t_stop=1.0)
    src[:] = 0.5  # the view does not alias the caller's array
    assert np.all(np.diff(st.times) > 0)
