"""Synchrony, ISI CV and SR/SI/AI labels on spike trains with known statistics."""

import numpy as np
import pytest

import spikewire as sw
from spikewire.theory import classify_activity, isi_cv, synchrony


def _trains(times_per_unit, t_stop):
    return sw.SpikeTrains.from_lists([np.sort(t) for t in times_per_unit], t_stop=t_stop)


def test_poisson_is_asynchronous_irregular():
    rng = np.random.default_rng(0)
    n, T, rate = 400, 20.0, 10.0
    st = _trains([rng.uniform(0, T, rng.poisson(rate * T)) for _ in range(n)], T)
    cv = isi_cv(st)
    # ISI CV of a Poisson process is 1; with ~200 ISIs per unit the mean over 400 units is
    # within ~0.01 of it
    assert cv.mean() == pytest.approx(1.0, abs=0.03)
    # independent units: χ ≈ 1/√N = 0.05
    assert synchrony(st) == pytest.approx(1 / np.sqrt(n), rel=0.3)
    assert classify_activity(st)["regime"] == "AI"


def test_synchronous_regular_and_irregular():
    rng = np.random.default_rng(1)
    n, T = 200, 10.0
    beat = np.arange(0.011, T, 0.02)  # 50 Hz population clock, mid-bin for 2 ms bins
    # SR: every unit fires on every beat with 0.2 ms jitter
    sr = _trains([beat + rng.normal(0, 2e-4, beat.size) for _ in range(n)], T)
    out = classify_activity(sr)
    assert out["regime"] == "SR" and out["synchrony"] > 0.8 and out["cv"] < 0.1
    # SI: each unit fires on a random 20 % of the beats (irregular ISIs, CV ≈ 0.9)
    si = _trains([beat[rng.random(beat.size) < 0.2] for _ in range(n)], T)
    out = classify_activity(si)
    assert out["regime"] == "SI" and out["cv"] > 0.5 and out["synchrony"] > 0.3
