"""Observation models as a pipeline: determinism, mapping to true neurons, spec round trip."""

import numpy as np
import pytest

import spikewire as sw
from spikewire.core.seeds import child, domain_key
from spikewire.observe import (
    STEPS,
    Step,
    bin,
    calcium,
    deconvolve,
    from_spec,
    jitter,
    observe,
    quantize,
    smooth,
    subsample,
    to_spec,
)


def poisson_trains(n=40, duration=20.0, rate=5.0, seed=0, dt=1e-4):
    """Poisson spikes on the simulation grid k·dt, annotated like simulate's output."""
    rng = np.random.default_rng(seed)
    trains = []
    for _ in range(n):
        k = np.unique(rng.integers(1, int(duration / dt), rng.poisson(rate * duration)))
        trains.append(k * dt)
    st = sw.SpikeTrains.from_lists(trains, t_stop=duration)
    st.annotations["dt"] = dt
    return st


PIPELINE = [{"step": "subsample", "fraction": 0.5, "shuffle": True},
            {"step": "jitter", "sigma": 2e-4},
            {"step": "quantize", "sampling_rate": 1000.0},
            {"step": "calcium", "indicator": "GCaMP6f", "frame_rate": 30.0, "snr": 5.0}]


def test_same_seed_same_bytes_other_seed_differs():
    st = poisson_trains()
    a = observe(st, PIPELINE, seed=7)
    b = observe(st, PIPELINE, seed=7)
    c = observe(st, PIPELINE, seed=8)
    assert np.array_equal(a.signals, b.signals) and np.array_equal(a.true_index, b.true_index)
    assert a.history == b.history
    assert not np.array_equal(a.true_index, c.true_index)
    assert a.signal_kind == "fluorescence" and a.signals.shape == (20, 600)


def test_adding_a_later_step_keeps_earlier_randomness():
    # step k always draws from child(seed, "observation", k)
    st = poisson_trains()
    short = observe(st, PIPELINE[:2], seed=3)
    longer = observe(st, PIPELINE[:3], seed=3)
    assert np.array_equal(short.true_index, longer.true_index)
    assert np.array_equal(np.floor(short.spikes.grouped_times * 1000 + 1e-6) / 1000,
                          longer.spikes.grouped_times)


def test_mapping_to_true_neurons_survives_every_step():
    st = poisson_trains(n=30)
    rec = observe(st, [subsample(count=12, shuffle=True), quantize(sampling_rate=2000)],
                  seed=11)
    assert rec.true_index.size == 12 and np.unique(rec.true_index).size == 12
    assert not np.all(np.diff(rec.true_index) > 0)  # shuffled order
    for k, t in enumerate(rec.true_index):
        truth = st.train(int(t))
        np.testing.assert_array_equal(rec.spikes.train(k), np.floor(truth * 2000 + 1e-6) / 2000)
    hidden = rec.hidden_truth["hidden_neurons"]
    assert sorted([*hidden.tolist(), *rec.true_index.tolist()]) == list(range(30))
    # a second subsample composes the mapping and grows the hidden set
    rec2 = subsample(rec, count=5, seed=1)
    assert set(rec2.true_index) <= set(rec.true_index)
    assert rec2.hidden_truth["hidden_neurons"].size == 25


def test_history_records_the_order_and_settings():
    st = poisson_trains(n=5)
    rec = observe(st, [subsample(fraction=1.0), quantize(sampling_rate=500), bin(bin_width=0.1)],
                  seed=2)
    assert [h["step"] for h in rec.history] == ["simulate", "subsample", "quantize", "bin"]
    assert rec.history[2]["sampling_rate"] == 500.0
    assert rec.history[1]["seed"] == {"entropy": 2,
                                      "spawn_key": [domain_key("observation"), 0]}
    assert "seed" not in rec.history[2]  # quantize draws nothing


def test_spec_round_trip_and_direct_call_agree():
    steps = from_spec(PIPELINE)
    assert [s.name for s in steps] == ["subsample", "jitter", "quantize", "calcium"]
    again = from_spec(to_spec(steps))
    assert [s.settings.keys() for s in again] == [s.settings.keys() for s in steps]
    st = poisson_trains()
    a = observe(st, steps, seed=5)
    b = observe(st, again, seed=5)
    assert np.array_equal(a.signals, b.signals)
    # a bare function call with the same child seed gives the same result as the pipeline
    direct = subsample(st, fraction=0.5, shuffle=True, seed=child(5, "observation", 0))
    assert np.array_equal(direct.true_index, a.true_index)


def test_to_spec_is_toml_friendly_and_round_trips():
    steps = from_spec(PIPELINE + [{"step": "calcium", "snr": None},
                                  {"step": "deconvolve"}])
    spec = to_spec(steps)
    assert all(v is not None for d in spec for v in d.values())  # TOML has no null
    assert spec[0] == {"step": "subsample", "fraction": 0.5, "shuffle": True}
    assert spec[4]["snr"] == float("inf") and spec[5] == {"step": "deconvolve"}
    again = from_spec(spec)
    assert [s.settings for s in again] == [s.settings for s in steps]


def test_every_public_step_is_registered_and_builds_from_a_dict():
    expected = {"subsample", "quantize", "bin", "jitter", "calcium", "deconvolve", "smooth"}
    assert expected <= set(STEPS)
    for name, settings in [("subsample", {"count": 3}), ("quantize", {"sampling_rate": 1e3}),
                           ("bin", {"bin_width": 0.01}), ("jitter", {"sigma": 1e-4}),
                           ("calcium", {}), ("deconvolve", {}), ("smooth", {"width": 0.05})]:
        s = Step.from_dict({"step": name, **settings})
        assert s.name == name
    for fn, kw in [(subsample, {"count": 3}), (quantize, {"sampling_rate": 1e3}),
                   (bin, {"bin_width": 0.01}), (jitter, {"sigma": 1e-4}), (calcium, {}),
                   (deconvolve, {}), (smooth, {"width": 0.05})]:
        assert isinstance(fn(**kw), Step)


def test_deconvolved_recording_feeds_back_into_spike_steps():
    st = poisson_trains(n=4, duration=30.0, rate=1.0)
    rec = observe(st, [calcium(snr=None), deconvolve(), bin(bin_width=1.0)], seed=0)
    assert rec.spikes is not None and rec.signal_kind == "counts"
    np.testing.assert_array_equal(rec.true_index, np.arange(4))


@pytest.mark.parametrize("spec, err, match", [
    ({"step": "subsample", "fraction": 0.0}, ValueError, r"fraction must lie in \(0, 1\]"),
    ({"step": "subsample", "fraction": 1.5}, ValueError, r"fraction must lie in \(0, 1\]"),
    ({"step": "subsample", "fraction": 0.5, "count": 3}, ValueError, "not both"),
    ({"step": "bin", "bin_width": 0.0}, ValueError, "bin_width must be > 0"),
    ({"step": "bin", "bin_width": -0.01}, ValueError, "bin_width must be > 0"),
    ({"step": "quantize", "sampling_rate": -5}, ValueError, "sampling_rate must be > 0"),
    ({"step": "quantize", "rate": 5}, ValueError, r"unknown setting\(s\) \['rate'\]"),
    ({"step": "calcium", "tau_rise": 0.5, "tau_decay": 0.2}, ValueError,
     "tau_decay = 0.2 s must be longer than tau_rise = 0.5 s"),
    ({"step": "calcium", "indicator": "GCaMP9"}, ValueError, "indicator must be one of"),
    ({"step": "calcium", "snr": 0}, ValueError, "snr must be > 0"),
    ({"step": "jitter", "sigma": -1e-3}, ValueError, "sigma must be >= 0"),
    ({"step": "smooth", "width": 0.01, "kernel": "box"}, ValueError, "kernel must be one of"),
    ({"step": "teleport"}, ValueError, "step must be one of"),
    ({"fraction": 0.1}, ValueError, "has no 'step' key"),
])
def test_bad_specs_fail_at_construction_naming_the_argument(spec, err, match):
    with pytest.raises(err, match=match):
        from_spec([spec])


def test_quantize_above_simulation_resolution_is_refused():
    st = poisson_trains(n=3, dt=1e-4)
    with pytest.raises(ValueError, match=r"sampling_rate = 30000 Hz exceeds the resolution of "
                                         r"the input spikes \(10000 Hz"):
        quantize(st, sampling_rate=30_000)
    rec = quantize(st, sampling_rate=1000)  # resolution is now 1 kHz
    with pytest.raises(ValueError, match="frame_rate = 2000 Hz exceeds"):
        calcium(rec, frame_rate=2000)
    assert quantize(st, sampling_rate=10_000).sampling_rate == 10_000


def test_seed_none_is_refused_for_random_steps():
    with pytest.raises(TypeError, match="seed must be"):
        subsample(poisson_trains(n=3), count=1, seed=None)


# Conformance suite: every registered observation model, the same contract.
CONFORMANCE = [("subsample", {"fraction": 0.5, "shuffle": True}),
               ("quantize", {"sampling_rate": 1000.0}),
               ("bin", {"bin_width": 0.05}),
               ("jitter", {"sigma": 1e-3}),
               ("calcium", {"snr": 3.0}),
               ("deconvolve", {}),
               ("smooth", {"width": 0.05, "kernel": "exponential"})]


def test_conformance_covers_every_registered_step():
    assert {name for name, _ in CONFORMANCE} == set(STEPS)


@pytest.mark.parametrize("name, settings", CONFORMANCE)
def test_observation_model_contract(name, settings):
    st = poisson_trains(n=10, duration=10.0)
    rec = calcium(st, seed=0) if name == "deconvolve" else sw.Recording.from_spikes(st)
    before = (None if rec.spikes is None else rec.spikes.grouped_times.copy(),
              None if rec.signals is None else rec.signals.copy(), list(rec.history))
    step = Step(name, settings)
    a = step(rec, seed=1)
    b = step(rec, seed=1)
    # pure: the input is untouched
    if before[0] is not None:
        np.testing.assert_array_equal(rec.spikes.grouped_times, before[0])
    if before[1] is not None:
        np.testing.assert_array_equal(rec.signals, before[1])
    assert rec.history == before[2]
    # deterministic given the seed
    for x, y in [(a.spikes, b.spikes)]:
        if x is not None:
            np.testing.assert_array_equal(x.grouped_times, y.grouped_times)
    if a.signals is not None:
        np.testing.assert_array_equal(a.signals, b.signals)
    # remembers how it was made and which true neuron each unit is
    assert a.history[:-1] == rec.history and a.history[-1]["step"] == name
    assert a.true_index.shape == (a.n_units,)
    assert set(a.true_index) <= set(rec.true_index)
    if a.spikes is not None and a.signals is not None:
        assert a.spikes.n_units == a.signals.shape[0]
    # a different seed changes the random steps and nothing else
    c = step(rec, seed=2)
    if a.signals is not None:
        same = np.array_equal(a.signals, c.signals)
    else:
        same = (np.array_equal(a.spikes.grouped_times, c.spikes.grouped_times)
                and np.array_equal(a.true_index, c.true_index))
    assert same == (not step.random)
