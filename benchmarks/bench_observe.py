"""Observation-model speed: 1,000 neurons × 1 hour of 5 Hz Poisson spikes.

Spikes are drawn directly with numpy (not simulated) on a 30 kHz grid (annotated as
``dt = 1/30000`` s, the engine's finest resolution), ≈ 18 million spikes. Timed, each on the
full population unless said otherwise:

- ``subsample(fraction=0.5)``, ``quantize(1 kHz)``, ``bin(1/30 s)``, ``jitter(0.2 ms)``,
  ``calcium(GCaMP6f, 30 Hz, SNR 5)``, ``smooth(Gaussian 50 ms, 30 Hz)``;
- the pipeline ``observe(spikes, [subsample(0.5), quantize(1 kHz), calcium(30 Hz)])``;
- deconvolution (OASIS) on a subset of units, reported per unit and extrapolated: the
  fast ``method="threshold"`` (1 process and one per CPU) and ``method="l1"``.

Baselines a user would otherwise write, measured in the same run:

- binning: ``SpikeTrains.binned(1/30, sparse=False)`` (spikewire core) and a per-unit
  ``numpy.histogram`` loop;
- calcium: the usual frame-discretised model — counts per frame, then an AR(2) filter
  per unit with ``scipy.signal.lfilter`` on the whole matrix — plus Gaussian noise.

Each figure is the median of ``--repeats`` warm runs (numba caches filled by one warm-up
call); peak RSS of the process is reported at the end.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_observe.py            # full size
    .venv/bin/python benchmarks/bench_observe.py --units 100 --duration 600   # quick
    .venv/bin/python benchmarks/bench_observe.py --accuracy   # deconvolution accuracy
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import statistics
import time

import numpy as np
from scipy.signal import lfilter

import spikewire as sw
from spikewire.observe import (
    INDICATORS,
    bin,
    calcium,
    deconvolve,
    jitter,
    observe,
    quantize,
    smooth,
    subsample,
)


def poisson_spikes(n_units: int, duration: float, rate: float, fs: float, seed: int):
    rng = np.random.default_rng(seed)
    n_samples = int(duration * fs)
    counts = rng.poisson(rate * duration, n_units)
    samples = rng.integers(0, n_samples, counts.sum())
    unit = np.repeat(np.arange(n_units), counts)
    order = np.lexsort((samples, unit))
    times = samples[order] / fs
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sw.SpikeTrains(times, indptr, np.arange(n_units), 0.0, duration,
                          {"dt": 1.0 / fs, "engine": "poisson"})


def timed(fn, repeats: int):
    out = fn()  # warm-up (numba compile / cache load), result kept for checks
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def baseline_histogram(st, width):
    nb = st.n_bins(width)
    edges = st.t_start + width * np.arange(nb + 1)
    out = np.empty((st.n_units, nb), dtype=np.int32)
    for u in range(st.n_units):
        out[u] = np.histogram(st.train(u), edges)[0]
    return out


def baseline_calcium(st, fr, ind, snr, rng):
    counts = st.binned(1.0 / fr, sparse=False).astype(np.float64)
    d = np.exp(-1 / (fr * ind.tau_decay))
    r = np.exp(-1 / (fr * ind.tau_rise))
    c = lfilter([1.0], [1.0, -(d + r), d * r], counts, axis=1)
    c *= ind.amplitude / ind.peak * (d - r)
    c += (ind.amplitude / snr) * rng.standard_normal(c.shape)
    return c.astype(np.float32)


def accuracy_table(n_units=6, duration=300.0, rate=2.0, fr=30.0, seed=5):
    """Deconvolution accuracy vs SNR: count ratio, 1 s-bin correlation, frame hit rates."""
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0, duration, rng.poisson(rate * duration)))
              for _ in range(n_units)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=duration)
    truth_1s = st.binned(1.0, sparse=False).ravel()
    truth_fr = st.binned(1 / fr, sparse=False)
    rows = []
    for name in ("GCaMP6f", "GCaMP6s"):
        for snr in (None, 10.0, 5.0, 3.0):
            rec = calcium(st, indicator=name, frame_rate=fr, snr=snr, seed=3)
            for method in ("threshold", "l1"):
                t = time.perf_counter()
                out = deconvolve(rec, method=method)
                el = time.perf_counter() - t
                est_1s = out.spikes.binned(1.0, sparse=False).ravel()
                est_fr = bin(out, bin_width=1 / fr).signals
                # spikes put in their true frame, and in it or the next one (a spike late
                # in a frame mostly shows up in the next frame's fluorescence)
                e, t_ = est_fr.astype(np.int64), truth_fr.astype(np.int64)
                m0 = np.minimum(e, t_)  # matched in the true frame
                left_t = np.pad(t_ - m0, ((0, 0), (1, 0)))[:, :-1]  # unmatched, frame k-1
                m1 = np.minimum(e - m0, left_t)  # leftover estimates one frame late
                hit0 = m0.sum() / t_.sum()
                hit1 = (m0.sum() + m1.sum()) / t_.sum()
                rows.append({"indicator": name, "snr": snr, "method": method,
                             "count_ratio": round(float(est_1s.sum() / truth_1s.sum()), 3),
                             "r_1s": round(float(np.corrcoef(truth_1s, est_1s)[0, 1]), 3),
                             "hit_frame": round(float(hit0), 3),
                             "hit_frame_or_next": round(float(hit1), 3),
                             "s_per_unit": round(el / n_units, 3)})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accuracy", action="store_true",
                    help="only print the deconvolution accuracy table (6 units × 300 s)")
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=3600.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--deconv-units", type=int, default=50)
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args()
    if args.accuracy:
        print("| indicator | SNR | method | count ratio | r (1 s bins) | spikes in true frame "
              "| in true or next frame | s/unit |")
        print("|---|---|---|---|---|---|---|---|")
        for r in accuracy_table():
            print(f"| {r['indicator']} | {r['snr'] or 'none'} | {r['method']} | "
                  f"{r['count_ratio']} | {r['r_1s']} | {r['hit_frame']} | "
                  f"{r['hit_frame_or_next']} | "
                  f"{r['s_per_unit']} |")
        return

    t0 = time.perf_counter()
    st = poisson_spikes(args.units, args.duration, args.rate, 30_000.0, seed=1)
    t_gen = time.perf_counter() - t0
    res = {"units": args.units, "duration_s": args.duration, "rate_hz": args.rate,
           "n_spikes": st.n_spikes, "generate_s": t_gen}
    print(f"{st.n_spikes:,} spikes generated in {t_gen:.2f} s")
    fr = 30.0
    ind = INDICATORS["GCaMP6f"]
    R = args.repeats

    res["subsample_s"], _ = timed(lambda: subsample(st, fraction=0.5, seed=0), R)
    res["quantize_1kHz_s"], _ = timed(lambda: quantize(st, sampling_rate=1000.0), R)
    res["jitter_s"], _ = timed(lambda: jitter(st, sigma=2e-4, seed=0), R)
    res["bin_30Hz_s"], b = timed(lambda: bin(st, bin_width=1 / fr, keep_spikes=False), R)
    res["bin_dtype"] = b.signals.dtype.name
    del b
    res["baseline_binned_core_s"], ref = timed(lambda: st.binned(1 / fr, sparse=False), 1)
    del ref
    res["baseline_histogram_loop_s"], ref = timed(lambda: baseline_histogram(st, 1 / fr), 1)
    del ref
    res["calcium_30Hz_s"], c = timed(
        lambda: calcium(st, indicator="GCaMP6f", frame_rate=fr, snr=5.0, seed=0), R)
    res["calcium_shape"] = list(c.signals.shape)
    res["calcium_MB"] = c.signals.nbytes / 1e6
    res["baseline_calcium_lfilter_s"], cb = timed(
        lambda: baseline_calcium(st, fr, ind, 5.0, np.random.default_rng(0)), 1)
    del cb
    res["smooth_gauss50ms_30Hz_s"], sm = timed(
        lambda: smooth(st, width=0.05, sampling_rate=fr), R)
    del sm
    steps = [subsample(fraction=0.5), quantize(sampling_rate=1000.0),
             calcium(indicator="GCaMP6f", frame_rate=fr, snr=5.0)]
    res["pipeline_sub_quant_calcium_s"], _ = timed(lambda: observe(st, steps, seed=0), R)

    # deconvolution on a subset of the calcium traces
    k = min(args.deconv_units, c.n_units)
    part = subsample(c, neurons=np.arange(k))
    t = time.perf_counter()
    d_thr = deconvolve(part, method="threshold")
    res["deconv_threshold_per_unit_s"] = (time.perf_counter() - t) / k
    t = time.perf_counter()
    d_par = deconvolve(part, method="threshold", n_jobs=os.cpu_count() or 1)
    res["deconv_threshold_parallel_per_unit_s"] = (time.perf_counter() - t) / k
    res["deconv_parallel_workers"] = os.cpu_count()
    assert np.array_equal(d_par.spikes.grouped_times, d_thr.spikes.grouped_times)
    k1 = max(1, k // 5)
    part1 = subsample(c, neurons=np.arange(k1))
    t = time.perf_counter()
    deconvolve(part1, method="l1")
    res["deconv_l1_per_unit_s"] = (time.perf_counter() - t) / k1
    for m in ("threshold", "threshold_parallel", "l1"):
        res[f"deconv_{m}_extrapolated_all_units_s"] = res[f"deconv_{m}_per_unit_s"] * args.units
    truth = st.select(np.arange(k)).binned(1.0, sparse=False).ravel()
    est = d_thr.spikes.binned(1.0, sparse=False).ravel()
    res["deconv_threshold_count_ratio"] = float(est.sum() / truth.sum())
    res["deconv_threshold_corr_1s"] = float(np.corrcoef(truth, est)[0, 1])

    res["peak_rss_GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, " \
                     f"{platform.system()} {platform.release()}"
    res["date"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    res["ratio_calcium_vs_lfilter"] = res["baseline_calcium_lfilter_s"] / res["calcium_30Hz_s"]
    res["ratio_bin_vs_core_binned"] = res["baseline_binned_core_s"] / res["bin_30Hz_s"]
    res["ratio_bin_vs_histogram"] = res["baseline_histogram_loop_s"] / res["bin_30Hz_s"]
    for key, v in res.items():
        print(f"{key:40s} {v if not isinstance(v, float) else round(v, 4)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
