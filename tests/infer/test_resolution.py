"""Resolution-aware inference (issue 13): recordings know their time resolution, methods
derive their bins from it and refuse bins finer than the data."""

from __future__ import annotations

import numpy as np
import pytest
from infer_fixtures import independent

import spikewire as sw
from spikewire.infer import NotApplicableError, get_method_class
from spikewire.observe import bin, calcium, deconvolve, observe, quantize, smooth

BINNED_METHODS = ["ccg", "glmcc", "glm", "partial_corr", "te"]


def _simulated(T=30.0, n=6):
    st = independent(n, T=T, rate=20.0, seed=11)
    # as if simulated at dt = 0.1 ms (what the engines record)
    return sw.SpikeTrains(st.grouped_times, st.indptr, st.units, st.t_start, st.t_stop,
                          {"dt": 1e-4})


def test_time_resolution_of_each_observation():
    st = _simulated()
    assert sw.Recording.from_spikes(st).time_resolution == 1e-4
    assert observe(st, [quantize(sampling_rate=1000)], seed=0).time_resolution == 1e-3
    # quantizing finer than an earlier quantization cannot restore resolution
    q = observe(st, [quantize(sampling_rate=500)], seed=0)
    assert q.time_resolution == pytest.approx(2e-3)
    assert observe(st, [bin(bin_width=0.01)], seed=0).time_resolution == pytest.approx(0.01)
    assert observe(st, [smooth(width=0.05)], seed=0).time_resolution == pytest.approx(0.01)
    cal = observe(st, [calcium(frame_rate=30.0)], seed=0)
    assert cal.time_resolution == pytest.approx(1 / 30)
    dec = observe(st, [calcium(frame_rate=30.0), deconvolve()], seed=0)
    assert dec.time_resolution == pytest.approx(1 / 30)
    raw = independent(3, T=5.0)           # hand-made trains: unknown resolution
    assert sw.Recording.from_spikes(raw).time_resolution is None


def test_nwb_round_trip_keeps_resolution(tmp_path):
    from spikewire.io import read_nwb, write_nwb

    st = observe(_simulated(), [quantize(sampling_rate=1000)], seed=0).spikes
    path = write_nwb(st, tmp_path / "q.nwb")
    assert read_nwb(path).time_resolution == pytest.approx(1e-3)


@pytest.mark.parametrize("name", BINNED_METHODS)
def test_automatic_bins_follow_the_data(name):
    cls = get_method_class(name)
    assert set(cls.bin_settings) == {"bin_width"}
    natural = cls.bin_settings["bin_width"]
    st = _simulated()
    for rate in (None, 1000.0, 300.0):
        rec = (sw.Recording.from_spikes(st) if rate is None
               else observe(st, [quantize(sampling_rate=rate)], seed=0))
        res = rec.time_resolution
        bins, auto = cls().resolve_bins(rec)
        bw = bins["bin_width"]
        assert auto == bins
        assert bw >= res * (1 - 1e-9)                          # never finer than the data
        k = bw / res
        assert abs(k - round(k)) < 1e-9                        # a whole number of samples
        # the multiple of the resolution nearest to the natural bin
        assert abs(bw - natural) <= 0.5 * res + 1e-12 or round(k) == 1


@pytest.mark.parametrize("name", BINNED_METHODS)
def test_bins_finer_than_the_data_are_refused(name):
    rec = observe(_simulated(), [quantize(sampling_rate=1000)], seed=0)
    with pytest.raises(ValueError, match=r"bin_width=0\.5 ms is finer than the data's time "
                                         r"resolution of 1 ms"):
        sw.infer(rec, name, bin_width=5e-4)


def test_ccg_on_quantized_data_uses_whole_samples():
    """On a 1 kHz grid every lag is a whole number of ms; 0.5 ms bins left every other bin
    empty (issue 13). The automatic bin holds one sample per bin: no empty bins."""
    rec = observe(_simulated(T=60.0, n=4), [quantize(sampling_rate=1000)], seed=0)
    est = sw.infer(rec, "ccg", keep_ccg=True, min_spikes=1)
    assert est.settings["bin_width"] == pytest.approx(1e-3)
    ccg = est.diagnostics["ccg"][0, 1]
    # 20 Hz x 20 Hz x 60 s x 1 ms = 24 expected pairs per bin; P(empty) = e^-24
    assert np.all(ccg > 0)


def test_data_too_coarse_for_a_method_is_not_applicable():
    """Deconvolved 30 Hz calcium: one sample is 33 ms, longer than ccg's monosynaptic window
    and glm's filter; those combinations are "not applicable", not failures. Methods whose
    natural bins fit (partial_corr, te) run on 33 ms bins."""
    st = _simulated(T=60.0, n=5)
    rec = observe(st, [calcium(frame_rate=30.0), deconvolve()], seed=0)
    for name in ("ccg", "glmcc", "glm"):
        with pytest.raises(NotApplicableError, match="time resolution is 33.3333 ms"):
            sw.infer(rec, name)
    for name in ("partial_corr", "te"):
        est = sw.infer(rec, name, min_spikes=1)
        assert est.settings["bin_width"] == pytest.approx(1 / 30)
