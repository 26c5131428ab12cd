"""The messy-data rules: every problem counted exactly, handled as documented."""

import numpy as np
import pytest

from spikewire.io import DataError, clean_spikes, detect_resolution, hill_contamination


def _dead_time_train(rng, rate, dead, t_stop):
    """Poisson train with an absolute dead time (no ISI below ``dead``)."""
    isi = dead + rng.exponential(1.0 / rate, size=int(rate * t_stop * 2) + 100)
    t = np.cumsum(isi)
    return t[t < t_stop]


def test_hill_contamination_inverts_its_formula():
    # r = 2 (tau_r - tau_c) N^2 F (1 - F) / T must give back F exactly (up to rounding)
    n, t, tau, tau_c = 5_000, 600.0, 1.5e-3, 2e-4
    for f in (0.0, 0.05, 0.2, 0.45):
        r = 2 * (tau - tau_c) * n * n * f * (1 - f) / t
        assert hill_contamination(r, n, t, tau, tau_c) == pytest.approx(f, abs=1e-12)
    # more violations than F = 0.5 can explain: 1.0 (noise); no spikes: NaN
    assert hill_contamination(10 * r, n, t, tau, tau_c) == 1.0
    assert np.isnan(hill_contamination(0, 0, t, tau))


def test_hill_contamination_recovers_injected_contamination():
    rng = np.random.default_rng(3)
    t_stop, f = 1_000.0, 0.1
    true = _dead_time_train(rng, 18.0, 2e-3, t_stop)
    n_cont = int(round(f / (1 - f) * true.size))
    cont = rng.uniform(0, t_stop, n_cont)
    times = np.concatenate([true, cont])
    st, rep = clean_spikes(times, np.zeros(times.size, int), t_start=0, t_stop=t_stop,
                           duplicate_window=0.0, refractory_period=1.5e-3)
    est = rep.per_unit["contamination"].iloc[0]
    # ~110 expected violations: Poisson sd ~ 10 %, plus the contaminant-contaminant pairs
    # Hill's formula ignores (~ +F/2 relative); 0.03 absolute is > 3 sd
    assert abs(est - f) < 0.03
    assert rep.per_unit["refractory_violations"].iloc[0] > 0
    assert st.n_spikes == times.size          # violations are counted, never dropped


def test_duplicates_unsorted_nonfinite_and_outside_are_counted_exactly():
    rng = np.random.default_rng(0)
    a = _dead_time_train(rng, 5.0, 3e-3, 100.0)
    b = _dead_time_train(rng, 8.0, 3e-3, 100.0)
    dup_exact = rng.choice(a, 7, replace=False)
    dup_near = rng.choice(np.setdiff1d(a, dup_exact), 5, replace=False) + 1e-4
    a_all = np.concatenate([a, dup_exact, dup_near, [np.nan, np.inf]])
    rng.shuffle(a_all)                          # unsorted in the file
    times = np.concatenate([a_all, b])
    ids = np.concatenate([np.full(a_all.size, 4), np.full(b.size, 9)])
    st, rep = clean_spikes(times, ids, t_start=10.0, t_stop=90.0, duplicate_window=2e-4)
    pu = rep.per_unit.set_index("unit")
    assert pu.loc[4, "non_finite"] == 2
    out_a = int(np.sum((a < 10) | (a >= 90)))
    # duplicates of spikes outside the window are dropped as outside, not as duplicates
    out_dup = int(np.sum((dup_exact < 10) | (dup_exact >= 90))
                  + np.sum((dup_near < 10) | (dup_near >= 90)))
    assert pu.loc[4, "outside_interval"] == out_a + out_dup
    assert pu.loc[4, "duplicates"] == 12 - out_dup
    assert pu.loc[4, "unsorted"] > 0 and pu.loc[9, "unsorted"] == 0
    assert pu.loc[9, "outside_interval"] == int(np.sum((b < 10) | (b >= 90)))
    keep = a[(a >= 10) & (a < 90)]
    np.testing.assert_array_equal(st.train(0), keep)   # originals kept, copies removed
    tot = rep.totals()
    assert tot["n_spikes_raw"] == tot["n_spikes"] + tot["non_finite"] + \
        tot["outside_interval"] + tot["duplicates"]     # nothing disappears unaccounted


def test_clock_reset_is_an_error_naming_the_source_unless_sorting_is_asked_for():
    seg = np.sort(np.random.default_rng(1).uniform(0, 10, 50))
    times = np.concatenate([seg, seg + 0.001])          # second segment restarts at 0
    ids = np.zeros(times.size, int)
    with pytest.raises(DataError, match=r"rec\.csv.*jumps back"):
        clean_spikes(times, ids, source="rec.csv")
    st, rep = clean_spikes(times, ids, on_clock_reset="sort", duplicate_window=0)
    assert rep.per_unit["clock_resets"].iloc[0] == 1
    assert np.all(np.diff(st.train(0)) >= 0)


def test_partially_active_units_are_flagged_and_dropped_on_request():
    rng = np.random.default_rng(2)
    steady = _dead_time_train(rng, 1.0, 2e-3, 60.0)    # sparse but throughout
    early = _dead_time_train(rng, 20.0, 2e-3, 10.0)    # active only in the first 10 s
    times = np.concatenate([steady, early])
    ids = np.concatenate([np.zeros(steady.size, int), np.ones(early.size, int)])
    st, rep = clean_spikes(times, ids, t_start=0, t_stop=60.0)
    pu = rep.per_unit.set_index("unit")
    assert not pu.loc[0, "partially_active"]
    assert pu.loc[1, "partially_active"]
    # the active fraction is 1 - longest silence / window: silence from ~10 s to 60 s
    assert pu.loc[1, "active_fraction"] == pytest.approx(early.max() / 60.0, abs=1e-9)
    assert st.n_units == 2                              # flagged, kept by default
    st, rep = clean_spikes(times, ids, t_start=0, t_stop=60.0, drop_partially_active=True)
    assert st.units.tolist() == [0]
    assert rep.to_dict()["dropped"] == {1: "partially_active"}


def test_population_gaps_and_too_few_spikes():
    rng = np.random.default_rng(4)
    t = np.concatenate([_dead_time_train(rng, 30.0, 2e-3, 10.0),
                        15.0 + _dead_time_train(rng, 30.0, 2e-3, 10.0)])
    rare = np.array([1.0, 2.0, 3.0])
    times = np.concatenate([t, rare])
    ids = np.concatenate([np.zeros(t.size, int), np.ones(3, int)])
    st, rep = clean_spikes(times, ids, t_start=0, t_stop=25.0, min_spikes=5)
    assert len(rep.gaps) == 1
    g0, g1 = rep.gaps[0]
    assert g0 == t[t < 10].max() and g1 == t[t > 15].min()
    assert st.units.tolist() == [0]
    assert rep.to_dict()["dropped"] == {1: "too_few_spikes"}
    assert "dropped unit 1: too_few_spikes" in rep.summary()


def test_mismatched_lengths_and_bad_ids_are_data_errors():
    with pytest.raises(DataError, match="3 spike times but 2 unit ids"):
        clean_spikes([0.1, 0.2, 0.3], [1, 2], source="x")
    with pytest.raises(DataError, match="integers"):
        clean_spikes([0.1, 0.2], [1.5, 2.0])


def test_detect_resolution():
    rng = np.random.default_rng(5)
    k = np.sort(rng.integers(0, 30_000 * 100, 500))
    assert detect_resolution(k / 30_000.0) == 30_000.0
    assert detect_resolution(np.sort(rng.integers(0, 10**6, 500)) * 1e-4) == 10_000.0
    assert detect_resolution(rng.uniform(0, 100, 500)) is None
    assert detect_resolution(k[:20] / 30_000.0) is None      # too few spikes to claim a grid


def test_gap_finder_equals_the_sorted_definition():
    from spikewire.io.quality import _population_gaps

    rng = np.random.default_rng(11)
    for _ in range(200):
        bursts = rng.uniform(0, 60, rng.integers(1, 30))
        t = np.concatenate([rng.uniform(a, a + rng.uniform(0, 3), rng.integers(1, 20))
                            for a in bursts])
        t = t[t < 60]
        thr = rng.uniform(0.2, 5)
        # reference: every inter-spike interval of the pooled, sorted train (edges included)
        edges = np.concatenate([[0.0], np.sort(t), [60.0]])
        big = np.flatnonzero(np.diff(edges) > thr)
        want = [(float(edges[k]), float(edges[k + 1])) for k in big]
        assert _population_gaps(t, 0.0, 60.0, thr) == want
