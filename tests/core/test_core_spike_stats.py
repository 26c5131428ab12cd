"""Rates, ISI CV and Fano factors against processes with known statistics."""

import numpy as np
import pytest

import spikewire as sw
from spikewire.core.spike_stats import fano_factor, firing_rates, isi_cv


def _trains(lists, t_stop, t_start=0.0):
    return sw.SpikeTrains.from_lists([np.sort(np.asarray(x, float)) for x in lists],
                                     t_start=t_start, t_stop=t_stop)


def test_hand_computed_values():
    # unit 0: ISIs 1, 2, 3 -> mean 2, population sd sqrt(2/3); unit 1: two spikes (CV
    # undefined); unit 2: silent
    st = _trains([[0.5, 1.5, 3.5, 6.5], [1.0, 2.0], []], t_stop=8.0)
    np.testing.assert_allclose(firing_rates(st), [4 / 8, 2 / 8, 0.0])
    cv = isi_cv(st)
    assert cv[0] == pytest.approx(np.sqrt(2 / 3) / 2, rel=1e-12)
    assert np.isnan(cv[1]) and np.isnan(cv[2])
    # windows of 2 s: unit 0 counts (2, 1, 0, 1) -> mean 1, var(ddof=1) 2/3 -> F = 2/3
    ff = fano_factor(st, 2.0)
    assert ff[0] == pytest.approx(2 / 3, rel=1e-12)
    assert np.isnan(ff[2])


def test_periodic_train_and_window_offset():
    st = _trains([np.arange(0.05, 10.0, 0.1)], t_stop=10.0, t_start=0.0)
    assert isi_cv(st)[0] == pytest.approx(0.0, abs=1e-9)
    # exactly one spike per 0.1-s window: zero count variance
    assert fano_factor(st, 0.1)[0] == pytest.approx(0.0, abs=1e-12)
    # windows start at t_start, not at 0
    shifted = _trains([np.arange(100.05, 110.0, 0.1)], t_start=100.0, t_stop=110.0)
    assert fano_factor(shifted, 0.1)[0] == pytest.approx(0.0, abs=1e-12)


def test_poisson_statistics():
    rng = np.random.default_rng(7)
    n, T, rate = 300, 50.0, 8.0
    st = _trains([rng.uniform(0, T, rng.poisson(rate * T)) for _ in range(n)], T)
    # rate: sd of the population mean = sqrt(rate / (n T)) = 0.023 Hz; 5 sd
    assert firing_rates(st).mean() == pytest.approx(rate, abs=0.12)
    # CV of a Poisson process is 1; with ~400 ISIs per unit the sd of one CV is ~0.05, of
    # the mean over 300 units ~0.003 (plus an O(1/n_isi) bias); 0.02 is > 5 sd
    assert np.nanmean(isi_cv(st)) == pytest.approx(1.0, abs=0.02)
    # Fano factor 1: with 100 windows the sd of one estimate is ~sqrt(2/99) = 0.14, of the
    # mean over 300 units 0.008; 0.04 is 5 sd
    assert np.nanmean(fano_factor(st, 0.5)) == pytest.approx(1.0, abs=0.04)


def test_matches_per_unit_loop():
    rng = np.random.default_rng(3)
    lists = [np.cumsum(rng.gamma(k, 0.01, size=rng.integers(0, 60))) for k in (0.5, 1, 4, 9)
             for _ in range(5)]
    st = _trains([x[x < 5.0] for x in lists], t_stop=5.0)
    cv = isi_cv(st)
    for k in range(st.n_units):
        x = st.train(k)
        if x.size >= 3:
            d = np.diff(x)
            assert cv[k] == pytest.approx(d.std() / d.mean(), rel=1e-10)
        else:
            assert np.isnan(cv[k])


@pytest.mark.parametrize("kw, match", [({"window": 0.0}, "window"),
                                       ({"window": 6.0}, "half"),
                                       ({"window": "a"}, "window")])
def test_fano_validation(kw, match):
    st = _trains([[1.0]], t_stop=10.0)
    with pytest.raises((ValueError, TypeError), match=match):
        fano_factor(st, **kw)


def test_input_validation():
    with pytest.raises(TypeError, match="SpikeTrains"):
        isi_cv([[0.1, 0.2]])
    st = _trains([[1.0]], t_stop=2.0)
    with pytest.raises(ValueError, match="min_spikes"):
        isi_cv(st, min_spikes=2)
