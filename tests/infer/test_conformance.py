"""Conformance suite: every registered method (built-in or added through an entry point)
must honour the method contract. A new method gets all of these checks by registering."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

import spikewire as sw
from spikewire.infer import (
    PAIR_STATUS,
    NotApplicableError,
    get_method_class,
    list_methods,
)
from spikewire.infer._params import invalid_settings

METHODS = sorted(list_methods())
ALPHA = 0.05

#: Methods left out of the tests below that run fits (they still get every settings test).
#: The low-rank methods fit an RNN by backpropagation through time: seconds to minutes per
#: fit on this suite's 120 s recordings, far beyond the suite's budget, and they return a
#: dense J without p-values (no false-positive rate to test). Their estimate contract
#: (shapes, statuses, zero diagonal, determinism under a seed, clear errors) is tested in
#: tests/infer/test_lowrank.py on small low-rank recordings.
NO_FIT_HERE = {
    "lowrank": "BPTT fit too slow for the suite; contract tested in tests/infer/test_lowrank.py",
    "lowrank_flow": "BPTT fit + two flows too slow for the suite; tested in "
                    "tests/infer/test_lowrank_flow.py",
}
FIT_METHODS = [m for m in METHODS if m not in NO_FIT_HERE]

#: Methods whose false-positive rate under shared slow input exceeds 2α (measured on the
#: fixture below: 240 ordered pairs of 16 unconnected units, 120 s, α = 0.05). Their
#: tests assume no input shared by all units; the "calibration" work (issue 12) owns the
#: fix. strict=True: the mark must be removed as soon as a method passes.
#: Methods known to fail the false-positive-rate test (strict xfail, with the reason).
#: partial_corr and te failed it with their analytic nulls (FPR 0.61 / 0.55); their
#: default shift-surrogate null passes it (spikewire.infer._surrogates).
FPR_FAILS: dict[str, str] = {}


def comodulated(n=16, T=120.0, seed=0, tau=0.2, depth=0.5, dt=1e-3) -> sw.SpikeTrains:
    """Unconnected units sharing a slow input: independent inhomogeneous Poisson trains
    (baseline 5–20 Hz) whose rates are all multiplied by one log-normal gain
    ``exp(depth·x(t) − depth²/2)``, ``x`` a unit-variance Gaussian process of time scale
    ``tau`` (s). Drawn by thinning."""
    rng = np.random.default_rng(seed)
    steps = int(round(T / dt))
    x = gaussian_filter1d(rng.standard_normal(steps), tau / dt)
    gain = np.exp(depth * x / x.std() - depth ** 2 / 2)
    gmax = gain.max()
    trains = []
    for rate in rng.uniform(5.0, 20.0, n):
        t = np.sort(rng.uniform(0, T, rng.poisson(rate * gmax * T)))
        keep = rng.random(t.size) < gain[np.minimum((t / dt).astype(int), steps - 1)] / gmax
        trains.append(t[keep])
    return sw.SpikeTrains.from_lists(trains, t_stop=T, annotations={"engine": "test",
                                                                    "dt": dt})


@pytest.fixture(scope="module")
def null_data():
    return comodulated()


def check_estimate(est, n: int, method: str) -> None:
    """The shape and bookkeeping every estimate must have."""
    assert est.method == method
    assert est.weights.shape == (n, n) and np.all(np.isfinite(est.weights))
    assert est.units.shape == (n,) and est.unit_status.shape == (n,)
    status = est.pair_status
    assert status.shape == (n, n) and set(np.unique(status)) <= set(PAIR_STATUS)
    assert np.all(np.diag(status) == 1)
    # a status for every pair that was not estimated: no weight without status "ok" ...
    assert np.all(est.weights[status != 0] == 0)
    if est.pvalues is not None:
        assert est.pvalues.shape == (n, n)
        # ... and every "ok" pair was tested
        p = est.pvalues[status == 0]
        assert np.all(np.isfinite(p) & (p >= 0) & (p <= 1))
    cls = get_method_class(method)
    for key in cls.bin_settings:
        assert est.settings[key] is not None and est.settings[key] > 0


@pytest.mark.parametrize("method", FIT_METHODS)
def test_shapes_statuses_and_requested_pairs(method, null_data):
    n = null_data.n_units
    est = sw.infer(null_data, method)
    check_estimate(est, n, method)
    assert np.all(est.pair_status[~np.eye(n, dtype=bool)] != 2)
    sub = sw.infer(null_data, method, pairs=[(0, 1), (3, 2)])
    check_estimate(sub, n, method)
    asked = np.zeros((n, n), dtype=bool)
    asked[0, 1] = asked[3, 2] = True
    assert np.all(sub.pair_status[~asked & ~np.eye(n, dtype=bool)] == 2)
    assert np.all(np.isin(sub.pair_status[asked], [0, 4]))


@pytest.mark.parametrize("method", FIT_METHODS)
def test_deterministic_under_a_seed(method, null_data):
    cls = get_method_class(method)
    st = null_data.select(np.arange(6))
    settings = {}
    if "seed" in cls.settings_constraints:
        settings["seed"] = np.random.SeedSequence(2024).spawn(3)[2]
    a = sw.infer(st, method, **settings)
    b = sw.infer(st, method, **settings)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.pvalues, b.pvalues)
    np.testing.assert_array_equal(a.pair_status, b.pair_status)


def test_ccg_jitter_null_is_seeded(null_data):
    st = null_data.select(np.arange(4))
    kw = dict(significance="jitter", n_surrogates=5)
    a = sw.infer(st, "ccg", seed=np.random.SeedSequence(1), **kw)
    b = sw.infer(st, "ccg", seed=np.random.SeedSequence(1), **kw)
    c = sw.infer(st, "ccg", seed=np.random.SeedSequence(2), **kw)
    np.testing.assert_array_equal(a.pvalues, b.pvalues)
    assert not np.array_equal(a.pvalues, c.pvalues)   # the surrogates do depend on the seed


BAD_SETTINGS = [pytest.param(m, name, bad, id=f"{m}-{name}-{k}")
                for m in METHODS
                for k, (name, bad) in enumerate(
                    invalid_settings(get_method_class(m).settings_constraints))]


@pytest.mark.parametrize("method, setting, bad", BAD_SETTINGS)
def test_clear_error_for_each_bad_setting(method, setting, bad):
    cls = get_method_class(method)
    with pytest.raises((ValueError, TypeError)) as err:
        cls(**{setting: bad})
    msg = str(err.value)
    # the message names the setting, its value and what is allowed
    assert f"{setting}=" in msg and "must be" in msg, msg
    with pytest.raises((ValueError, TypeError)):
        cls.check_settings({setting: bad})


@pytest.mark.parametrize("method", METHODS)
def test_every_setting_is_declared(method):
    cls = get_method_class(method)
    assert set(cls.settings_constraints) == set(cls.setting_names())
    assert BAD_SETTINGS, "no bad settings generated"


@pytest.mark.parametrize("method", FIT_METHODS)
def test_tiny_and_empty_inputs(method):
    T = 100.0
    rng = np.random.default_rng(3)
    # 0 spikes: nothing can be estimated, every pair says why
    empty = sw.SpikeTrains.from_lists([[], [], []], t_stop=T)
    est = sw.infer(empty, method)
    check_estimate(est, 3, method)
    off = ~np.eye(3, dtype=bool)
    assert np.all(est.pair_status[off] == 3)
    assert list(est.unit_status) == ["too_few_spikes"] * 3
    # one unit: no pair at all
    one = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, T, 1000))], t_stop=T)
    check_estimate(sw.infer(one, method), 1, method)
    # two units with enough spikes: both directions estimated (or undecided)
    two = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, T, 2000)) for _ in range(2)],
                                    t_stop=T)
    est2 = sw.infer(two, method)
    check_estimate(est2, 2, method)
    assert np.all(np.isin(est2.pair_status[~np.eye(2, dtype=bool)], [0, 4]))


@pytest.mark.parametrize("method", FIT_METHODS)
def test_input_kinds(method):
    cls = get_method_class(method)
    rng = np.random.default_rng(0)
    for kind in ("rate", "fluorescence"):
        rec = sw.Recording(spikes=None, true_index=np.arange(3),
                           signals=rng.random((3, 2000)) + 1.0, signal_rate=100.0,
                           signal_kind=kind)
        if cls.accepts(kind):
            check_estimate(sw.infer(rec, method, min_spikes=1), 3, method)
        else:
            with pytest.raises(NotApplicableError, match=f"holds '{kind}'"):
                sw.infer(rec, method)


#: Methods that report no p-values on a small recording: gnn's rate-stratified weight null
#: (``weight_null="rates"``) needs ``MIN_PAIRS_RATE_NULL`` (50) tested pairs and returns
#: pvalues=None below it (its link decision then uses the weights' plain empirical null).
#: Training it on the 240 pairs of the false-positive-rate test below would take minutes,
#: so its calibration is measured on the null families in benchmarks (gnnnull.md), and
#: here only the small-recording behaviour (4 units, 12 pairs) is checked.
NO_PVALUES = {"gnn": "fewer than 50 tested pairs: no rate-stratified null (pvalues=None)"}

FPR_PARAMS = [pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=FPR_FAILS[m]))
              if m in FPR_FAILS else m for m in FIT_METHODS if m not in NO_PVALUES]


@pytest.mark.parametrize("method", sorted(NO_PVALUES))
def test_methods_listed_without_pvalues_have_none(method, null_data):
    est = sw.infer(null_data.select(np.arange(4)), method)
    assert est.pvalues is None


@pytest.mark.parametrize("method", FPR_PARAMS)
def test_false_positive_rate_under_shared_slow_input(method, null_data):
    """No connections, one slow input shared by all units: at most 2α of the tested pairs
    may have p < α. With 240 pairs a calibrated test exceeds 2α = 0.10 (24 pairs against 12
    expected, sd 3.4) with probability < 0.1 % even allowing for pairs sharing units."""
    est = sw.infer(null_data, method)
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
    assert tested.sum() >= 0.8 * null_data.n_units * (null_data.n_units - 1)
    fpr = float(np.mean(est.pvalues[tested] < ALPHA))
    assert fpr <= 2 * ALPHA, f"{method}: false-positive rate {fpr:.3f} > {2 * ALPHA}"
