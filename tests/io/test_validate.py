"""`validate`: the surrogate matches the recording's rates, ISI CVs, count correlations and
synchrony, and says when nothing can be trusted."""

import numpy as np
import pytest

from spikewire import Recording, SpikeTrains
from spikewire.io.validate import recording_statistics, validate
from spikewire.networks import brunel
from spikewire.simulate import simulate
from spikewire.simulate.comodulation import slow_comodulation
from spikewire.theory import synchrony


def _poisson_recording(n_units, duration, rate, seed, sampling_rate=10_000.0):
    rng = np.random.default_rng(seed)
    rates = rate * rng.lognormal(0, 0.4, n_units)
    trains = [np.unique(np.floor(np.sort(rng.uniform(0, duration, rng.poisson(r * duration)))
                                 * sampling_rate) / sampling_rate) for r in rates]
    st = SpikeTrains.from_lists(trains, t_stop=duration)
    return Recording(spikes=st, true_index=np.full(n_units, -1), sampling_rate=sampling_rate)


def _block_modulated(n_units, n_blocks, block, rate, a, seed):
    """Poisson trains whose common rate is rate·(1 ± a), drawn afresh (±, p = 1/2) in each
    block of ``block`` s: counts in a block are a doubly stochastic Poisson mixture."""
    rng = np.random.default_rng(seed)
    level = rate * (1 + a * rng.choice([-1.0, 1.0], n_blocks))
    trains = []
    for _ in range(n_units):
        k = rng.poisson(level * block)
        t = np.repeat(np.arange(n_blocks) * block, k) + rng.uniform(0, block, k.sum())
        trains.append(np.sort(t))
    return SpikeTrains.from_lists(trains, t_stop=n_blocks * block)


def test_statistics_of_independent_poisson_trains():
    st = _poisson_recording(40, 200.0, 10.0, seed=3).spikes
    s = recording_statistics(st, bin_width=0.1, sync_bin=0.01).as_dict()
    assert s["n_pairs"] == 40 * 39 // 2
    # each correlation has sd 1/sqrt(2000 bins) = 0.022; the mean of 780 (independent)
    # pairs ~ 0.0008: 0.005 is > 5 sd
    assert abs(s["corr_mean"]) < 0.005
    assert s["corr_sd"] == pytest.approx(1 / np.sqrt(2000), rel=0.1)   # 780 pairs: ~3 %
    # Poisson ISIs: CV 1 (ISI counts >= 2000 per unit: CV error ~ 2 %)
    assert s["cv_median"] == pytest.approx(1.0, abs=0.03)
    # independent units: chi^2 = 1/N up to O(1/sqrt(n_bins)) (20,000 bins: ~1 %)
    assert s["synchrony"] == pytest.approx(1 / 40, rel=0.05)


def test_statistics_of_a_doubly_stochastic_population_match_the_analytic_values():
    n, rate, a, block = 30, 20.0, 0.5, 0.1
    st = _block_modulated(n, 3000, block, rate, a, seed=4)
    s = recording_statistics(st, bin_width=block, sync_bin=0.01).as_dict()
    # counts in one block: Var N = rT + (rT a)^2, Cov = (rT a)^2 -> rho = 1/3 at rT = 2
    mu = rate * block
    rho = mu * a ** 2 / (1 + mu * a ** 2)
    # 3000 blocks: the sample correlation has sd ~ (1 - rho^2)/sqrt(3000) = 0.016 per pair,
    # the population mean is dominated by the shared sampling of the 3000 levels: ~0.01
    assert s["corr_mean"] == pytest.approx(rho, abs=0.03)
    # 10 ms bins inside a block: m = r·dt = 0.2, shared variance (m a)^2:
    # chi^2 = ((m a)^2 + m / N) / (m + (m a)^2)
    m = rate * 0.01
    chi2 = ((m * a) ** 2 + m / n) / (m + (m * a) ** 2)
    assert s["synchrony"] == pytest.approx(chi2, rel=0.08)     # 30,000 bins, 9,000 spikes/u
    # the same measure as theory.synchrony (Golomb-Hansel chi, dense), squared
    assert s["synchrony"] == pytest.approx(synchrony(st, bin_width=0.01) ** 2, rel=1e-9)


def test_statistics_reject_bins_longer_than_a_tenth_of_the_recording():
    st = _poisson_recording(5, 2.0, 10.0, seed=1).spikes
    with pytest.raises(ValueError, match="bin_width"):
        recording_statistics(st, bin_width=0.5)


@pytest.fixture(scope="module")
def comodulated():
    """A Brunel network with other parameters than the surrogate's (J = 0.5 mV, η = 1.2)
    and a strong shared slow gain (CV 0.1, 200 ms): count correlations ~0.46 against ~0.07
    without it; 50 of 200 neurons recorded for 20 s."""
    n, dur = 200, 20.0
    net = brunel(n, epsilon=0.1, g=5.0, eta=1.2, J=0.5, delay=1.5e-3, seed=11)
    mod = slow_comodulation(dur, cv=0.1, n_neurons=n, seed=5)
    st = simulate(net, dur, seed=3, modulation=mod)
    idx = np.arange(0, n, 4)
    return Recording(spikes=st.select(idx), true_index=idx, sampling_rate=10_000.0)


def test_surrogate_matches_correlations_synchrony_and_cv_of_a_comodulated_recording(
        comodulated):
    kw = {"n_seeds": 1, "max_duration": 20.0, "settings": {"ccg": {"min_spikes": 5}}}
    full = validate(comodulated, ["ccg"], **kw)
    rates = validate(comodulated, ["ccg"], match="rates", **kw)
    f, r = full.statistics, rates.statistics
    d_full = (f["surrogate_mean"] - f["recording"]).abs()
    d_rates = (r["surrogate_mean"] - r["recording"]).abs()
    assert f.loc["corr_mean", "recording"] > 0.3          # the recording is co-modulated
    # 20 s with a 200 ms shared signal: the realised variance of the signal has a relative
    # sd of sqrt(2·0.2/20) = 14 % on each side, i.e. about ±0.035 in the mean correlation at
    # rho ~ 0.46; two sides and the fit's own error: 0.1
    assert d_full["corr_mean"] < 0.1
    # unmatched, the surrogate is measurably farther (its correlations are ~0.07)
    assert d_rates["corr_mean"] > d_full["corr_mean"] + 0.2
    # synchrony chi^2 (10 ms bins), fitted through the recurrent weight scale: within the
    # summary's tolerance, 30 % of the excess over the independent level 1/N (50 units,
    # 2,000 bins: the chi^2 of independent units scatters by ~3 % of 1/N, far below)
    excess = f.loc["synchrony", "recording"] - 1 / 50
    assert d_full["synchrony"] < 0.3 * excess
    assert full.match["j_scale"] < 1.0    # this surrogate's own network was too synchronous
    # ISI CV (median over 50 units, each with ~700 ISIs): the 15 % "poor match" tolerance
    assert d_full["cv_median"] < 0.15 * f.loc["cv_median", "recording"]
    assert d_rates["cv_median"] > d_full["cv_median"]
    assert not f.loc["corr_mean", "poor"] and r.loc["corr_mean", "poor"]
    assert "WARNING" in rates.summary() and "mean count correlation" in rates.summary()
    assert "recording" in full.summary() and "surrogate" in full.summary()
    assert full.match["comod_cv"] > 0


def _bursty_recording(n_units, duration, rate, seed, block=0.5, a=0.9):
    """Independent units switching, per 0.5 s block, between 0.1x and 4.6x their rate
    (probability 0.2 of the high state): ISI CV ~3, no correlations."""
    rng = np.random.default_rng(seed)
    nb = int(duration / block)
    trains = []
    for _ in range(n_units):
        level = rate * np.where(rng.random(nb) < 0.2, 1 + 4 * a, 1 - a)
        k = rng.poisson(level * block)
        t = np.repeat(np.arange(nb) * block, k) + rng.uniform(0, block, k.sum())
        trains.append(np.unique(np.floor(np.sort(t) * 1e4) / 1e4))
    st = SpikeTrains.from_lists(trains, t_stop=duration)
    return Recording(spikes=st, true_index=np.full(n_units, -1), sampling_rate=1e4)


def test_bursty_recording_gets_private_gains_that_match_its_isi_cv():
    rec = _bursty_recording(30, 20.0, 8.0, seed=1)
    kw = {"n_seeds": 1, "max_duration": 20.0, "settings": {"ccg": {"min_spikes": 5}}}
    full = validate(rec, ["ccg"], **kw)
    rates = validate(rec, ["ccg"], match="rates", **kw)
    cv_rec = full.statistics.loc["cv_median", "recording"]
    assert cv_rec > 2.5                    # far above the LIF surrogate's own CV (~0.9)
    # the summary's 15 % tolerance (30 units with ~170 ISIs each: the median CV of such
    # heavy-tailed trains scatters by ~5 %)
    assert full.statistics.loc["cv_median", "surrogate_mean"] == pytest.approx(cv_rec,
                                                                             rel=0.15)
    assert full.match["private_cv"] > 0.5 and full.match["comod_cv"] < 0.2
    assert rates.statistics.loc["cv_median", "surrogate_mean"] < 0.5 * cv_rec
    # no correlations to match: the shared gain stays small and the correlations near 0
    # (30 units, 200 bins: the mean of 435 pair correlations scatters by ~0.01)
    assert abs(full.statistics.loc["corr_mean", "surrogate_mean"]) < 0.03


def test_surrogate_matches_rates_units_resolution_and_is_reproducible():
    rec = _poisson_recording(20, 8.0, 12.0, seed=1)
    kw = {"n_seeds": 2, "max_duration": 8.0, "n_fit": 3, "fit_duration": 2.0,
          "settings": {"ccg": {"min_spikes": 5}}}
    a = validate(rec, ["ccg"], **kw)
    m = a.match
    assert (m["n_recorded"], m["n_neurons"]) == (20, 40)
    assert m["hidden_fraction"] == 0.5 and m["time_resolution"] == pytest.approx(1e-4)
    assert not m["capped"] and m["duration"] == 8.0
    # the drive correction brings the surrogate's median rate near the recording's (12 Hz
    # target against ~28 Hz for the uncorrected eta=1 network at this J): within 35 %
    assert m["rate_median_surrogate"] == pytest.approx(m["rate_median_recording"], rel=0.35)
    assert list(a.scores["seed"]) == [0, 1] and a.scores["auc"].between(0, 1).all()
    assert list(a.surrogate_statistics.index) == [0, 1]
    b = validate(rec, ["ccg"], **kw)
    assert a.scores.equals(b.scores)                 # seeded: identical surrogates
    assert a.statistics.equals(b.statistics)
    assert "mean ± sd" in a.summary() and "matched: rates, ISI CV" in a.summary()


def test_too_short_and_sparse_is_said_plainly():
    rec = _poisson_recording(12, 3.0, 1.0, seed=2)
    r = validate(rec, ["ccg"], n_seeds=1, max_duration=3.0, n_fit=1, fit_duration=1.0,
                 settings={"ccg": {"min_spikes": 1}})
    # ~3 spikes per unit: no CCG test can reach significance after Bonferroni
    assert r.scores["recall"].iloc[0] == 0.0
    assert r.recommendation.startswith("no method is reliable")
    assert "too short or too sparse" in r.recommendation


@pytest.mark.parametrize("kw, match", [({"match": "cv"}, "match"),
                                       ({"bin_width": 1.0}, "bin_width"),
                                       ({"tau_mod": 0.0}, "tau_mod")])
def test_bad_options_are_named(kw, match):
    rec = _poisson_recording(5, 5.0, 10.0, seed=1)
    with pytest.raises(ValueError, match=match):
        validate(rec, ["ccg"], **kw)
