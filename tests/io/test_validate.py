"""`validate`: the surrogate matches the recording and says when nothing can be trusted."""

import numpy as np
import pytest

from spikewire import Recording, SpikeTrains
from spikewire.io.validate import validate


def _poisson_recording(n_units, duration, rate, seed, sampling_rate=10_000.0):
    rng = np.random.default_rng(seed)
    rates = rate * rng.lognormal(0, 0.4, n_units)
    trains = [np.unique(np.floor(np.sort(rng.uniform(0, duration, rng.poisson(r * duration)))
                                 * sampling_rate) / sampling_rate) for r in rates]
    st = SpikeTrains.from_lists(trains, t_stop=duration)
    return Recording(spikes=st, true_index=np.full(n_units, -1), sampling_rate=sampling_rate)


def test_surrogate_matches_rates_units_resolution_and_is_reproducible():
    rec = _poisson_recording(20, 8.0, 12.0, seed=1)
    a = validate(rec, ["ccg"], n_seeds=2, max_duration=8.0, n_fit=3, fit_duration=2.0,
                 settings={"ccg": {"min_spikes": 5}})
    m = a.match
    assert (m["n_recorded"], m["n_neurons"]) == (20, 40)
    assert m["hidden_fraction"] == 0.5 and m["time_resolution"] == pytest.approx(1e-4)
    assert not m["capped"] and m["duration"] == 8.0
    # the drive correction brings the surrogate's median rate near the recording's (12 Hz
    # target against ~28 Hz for the uncorrected eta=1 network at this J): within 35 %
    assert m["rate_median_surrogate"] == pytest.approx(m["rate_median_recording"], rel=0.35)
    assert list(a.scores["seed"]) == [0, 1] and a.scores["auc"].between(0, 1).all()
    b = validate(rec, ["ccg"], n_seeds=2, max_duration=8.0, n_fit=3, fit_duration=2.0,
                 settings={"ccg": {"min_spikes": 5}})
    assert a.scores.equals(b.scores)                 # seeded: identical surrogates
    assert "mean ± sd" in a.summary() and "not matched" in a.summary()


def test_too_short_and_sparse_is_said_plainly():
    rec = _poisson_recording(12, 3.0, 1.0, seed=2)
    r = validate(rec, ["ccg"], n_seeds=1, max_duration=3.0, n_fit=1, fit_duration=1.0,
                 settings={"ccg": {"min_spikes": 1}})
    # ~3 spikes per unit: no CCG test can reach significance after Bonferroni
    assert r.scores["recall"].iloc[0] == 0.0
    assert r.recommendation.startswith("no method is reliable")
    assert "too short or too sparse" in r.recommendation
