"""Calcium imaging: fluorescence from spikes, and deconvolution back to spikes.

Forward model (per neuron), in ΔF/F units::

    c(t) = A / h_peak · Σ_spikes h(t - t_s),   h(u) = exp(-u/τ_decay) - exp(-u/τ_rise)
    y_k  = S(c(t_k)) + σ ε_k,                  S(c) = c / (1 + c / F_max)

``A`` is the peak ΔF/F of one isolated spike (``h_peak`` the maximum of ``h``; with
``τ_rise = 0`` the kernel is a pure exponential decay and ``h_peak = 1``), ``F_max`` the
saturation level (no saturation when None) and ``σ = A / snr`` (SNR of a single spike).
Frame ``k`` covers ``[t_start + k/f, t_start + (k+1)/f)`` and is read at its end,
``t_k = t_start + (k+1)/f`` — the same window convention as :func:`quantize`, so a spike
is attributed to the frame in which it happened. The sum is evaluated exactly at the frame
times (no time-discretisation of the kernel), with a compiled recursion per neuron.

Deconvolution uses OASIS (Friedrich, Zhou & Paninski 2017, ``oasis-deconv``): an AR(1)
model when ``τ_rise = 0`` and AR(2) otherwise, whose impulse response at frame lags
1, 2, ... is exactly the kernel above, so a noiseless trace of spikes sampled on frame
starts is inverted exactly.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Literal

import numba
import numpy as np

from spikewire._validation import check_choice, check_int, check_positive
from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.observe._base import Step, register_step, run_step
from spikewire.observe.timing import _check_rate_vs_resolution, _require_spikes, n_samples_of

__all__ = ["Indicator", "INDICATORS", "calcium", "deconvolve", "kernel"]


@dataclass(frozen=True)
class Indicator:
    """A calcium indicator's response to one spike (double-exponential kernel).

    Parameters
    ----------
    name : str
        Label kept in the history.
    tau_rise : float
        Rise time constant in s (>= 0; 0 = instantaneous rise).
    tau_decay : float
        Decay time constant in s (> tau_rise).
    amplitude : float
        Peak ΔF/F of the response to one isolated spike (> 0).
    """

    name: str
    tau_rise: float
    tau_decay: float
    amplitude: float

    def __post_init__(self):
        check_positive("tau_rise", self.tau_rise, allow_zero=True, unit="s")
        check_positive("tau_decay", self.tau_decay, unit="s")
        check_positive("amplitude", self.amplitude, unit="ΔF/F")
        if self.tau_decay <= self.tau_rise:
            raise ValueError(
                f"indicator {self.name!r}: tau_decay = {self.tau_decay:g} s must be longer "
                f"than tau_rise = {self.tau_rise:g} s (a calcium transient rises faster than "
                "it decays); swap them or fix the preset")

    @property
    def time_to_peak(self) -> float:
        """Time from the spike to the peak of the kernel, in s."""
        if self.tau_rise == 0:
            return 0.0
        d, r = self.tau_decay, self.tau_rise
        return d * r / (d - r) * math.log(d / r)

    @property
    def peak(self) -> float:
        """Maximum of the unnormalised kernel ``exp(-t/τ_d) - exp(-t/τ_r)``."""
        if self.tau_rise == 0:
            return 1.0
        tp = self.time_to_peak
        return math.exp(-tp / self.tau_decay) - math.exp(-tp / self.tau_rise)


def _rise_for_peak(time_to_peak: float, tau_decay: float) -> float:
    """τ_rise giving the requested time to peak for a given τ_decay (bisection)."""
    from scipy.optimize import brentq

    def f(r):
        return tau_decay * r / (tau_decay - r) * math.log(tau_decay / r) - time_to_peak

    return float(brentq(f, 1e-6, tau_decay * (1 - 1e-9)))


#: Named presets. Decay time constants: the values Suite2p documents for OASIS-style
#: deconvolution of in-vivo data (0.7 s GCaMP6f, 1.0 s GCaMP6m, 1.25-1.5 s GCaMP6s); times
#: to peak from the single-spike resolvability reported by Chen et al. 2013 (Nature 499:295;
#: 50-75 ms GCaMP6f, 75-100 ms GCaMP6m, 100-150 ms GCaMP6s); single-spike amplitudes are
#: of the order reported in vivo by Chen et al. (roughly 0.1-0.25 ΔF/F). They are
#: representative, not cell-specific: override any field for a given preparation.
INDICATORS: dict[str, Indicator] = {
    "GCaMP6f": Indicator("GCaMP6f", _rise_for_peak(0.060, 0.70), 0.70, 0.15),
    "GCaMP6m": Indicator("GCaMP6m", _rise_for_peak(0.085, 1.00), 1.00, 0.15),
    "GCaMP6s": Indicator("GCaMP6s", _rise_for_peak(0.120, 1.40), 1.40, 0.25),
}


def kernel(t, indicator: str | Indicator = "GCaMP6f") -> np.ndarray:
    """ΔF/F response at times ``t`` (s, after the spike) to one spike; 0 for ``t < 0``."""
    ind = _indicator(indicator)
    t = np.asarray(t, dtype=float)
    u = np.maximum(t, 0.0)
    h = np.exp(-u / ind.tau_decay) - (np.exp(-u / ind.tau_rise) if ind.tau_rise > 0 else 0.0)
    return np.where(t < 0, 0.0, ind.amplitude / ind.peak * h)


def _indicator(indicator, tau_rise=None, tau_decay=None, amplitude=None) -> Indicator:
    if isinstance(indicator, Indicator):
        base = indicator
    elif isinstance(indicator, dict):
        base = Indicator(**{"name": "custom", **indicator})
    elif isinstance(indicator, str):
        if indicator not in INDICATORS:
            raise ValueError(f"indicator must be one of {sorted(INDICATORS)}, an Indicator or "
                             f"a dict of tau_rise/tau_decay/amplitude, got {indicator!r}")
        base = INDICATORS[indicator]
    else:
        raise TypeError(f"indicator must be a preset name, an Indicator or a dict, got "
                        f"{type(indicator).__name__}")
    if tau_rise is None and tau_decay is None and amplitude is None:
        return base
    return Indicator(base.name if (tau_rise, tau_decay) == (None, None) else f"{base.name}*",
                     base.tau_rise if tau_rise is None else tau_rise,
                     base.tau_decay if tau_decay is None else tau_decay,
                     base.amplitude if amplitude is None else amplitude)


# --------------------------------------------------------------------------- forward
def calcium(data=None, *, indicator: str | Indicator | dict = "GCaMP6f",
            frame_rate: float = 30.0, snr: float | None = 5.0,
            saturation: float | None = None, tau_rise: float | None = None,
            tau_decay: float | None = None, amplitude: float | None = None,
            seed=0) -> Recording | Step:
    """Calcium imaging of the spikes: ΔF/F traces at the frame rate.

    Parameters
    ----------
    data : SpikeTrains or Recording, optional
        The spikes; if omitted a :class:`Step` is returned.
    indicator : str, Indicator or dict, default "GCaMP6f"
        A preset name from :data:`INDICATORS` ("GCaMP6f", "GCaMP6m", "GCaMP6s"), an
        :class:`Indicator` or a dict of its fields.
    frame_rate : float, default 30.0
        Imaging rate in Hz (not above the spikes' resolution).
    snr : float or None, default 5.0
        Single-spike signal-to-noise ratio: noise standard deviation = amplitude / snr
        (Gaussian, white). None or ``inf`` for noiseless traces (stored as ``inf``).
    saturation : float or None, default None
        ΔF/F at which the indicator saturates (``S(c) = c / (1 + c / saturation)``); None
        for a linear indicator.
    tau_rise, tau_decay, amplitude : float, optional
        Override the indicator's rise (s), decay (s) and single-spike peak (ΔF/F).
    seed : int, SeedSequence or Generator, default 0
        Seed of the noise.

    Returns
    -------
    Recording or Step
        ``signals`` float32 of shape (n_units, n_frames), ``signal_kind="fluorescence"``
        (ΔF/F), ``signal_rate = frame_rate``; ``spikes`` is None (the observer sees only
        fluorescence). The kernel actually used is stored in the history.

    Raises
    ------
    ValueError
        For an indicator whose decay is not longer than its rise, a frame rate above the
        spikes' resolution, or non-positive ``snr``/``saturation``.
    """
    settings = dict(indicator=indicator, frame_rate=frame_rate, snr=snr,
                    saturation=saturation, tau_rise=tau_rise, tau_decay=tau_decay,
                    amplitude=amplitude)
    if data is None:
        return Step("calcium", settings)
    return run_step("calcium", data, settings, seed=seed)


def _check_calcium(indicator="GCaMP6f", frame_rate=30.0, snr=5.0, saturation=None,
                   tau_rise=None, tau_decay=None, amplitude=None) -> dict:
    ind = _indicator(indicator, tau_rise, tau_decay, amplitude)
    frame_rate = check_positive("frame_rate", frame_rate, unit="Hz")
    if snr is None:
        snr = math.inf  # noiseless (inf can be written in TOML, None cannot)
    elif not (isinstance(snr, float) and math.isinf(snr) and snr > 0):
        snr = check_positive("snr", snr)
    if saturation is not None:
        saturation = check_positive("saturation", saturation, unit="ΔF/F")
    return dict(indicator=asdict(ind), frame_rate=frame_rate, snr=snr, saturation=saturation,
                tau_rise=None, tau_decay=None, amplitude=None)


@numba.njit(cache=True, parallel=True)
def _calcium_traces(times, indptr, t_start, frame_rate, n_frames, tau_r, tau_d, scale, out):
    gd = math.exp(-1.0 / (frame_rate * tau_d))
    gr = math.exp(-1.0 / (frame_rate * tau_r)) if tau_r > 0 else 0.0
    for u in numba.prange(indptr.size - 1):
        cd = 0.0
        cr = 0.0
        p = indptr[u]
        end = indptr[u + 1]
        for k in range(n_frames):
            cd *= gd
            cr *= gr
            while p < end:
                kf = math.floor((times[p] - t_start) * frame_rate + 1e-6)
                if kf > k and k < n_frames - 1:
                    break
                lag = (k + 1) / frame_rate - (times[p] - t_start)
                if lag < 0.0:
                    lag = 0.0
                cd += math.exp(-lag / tau_d)
                if tau_r > 0:
                    cr += math.exp(-lag / tau_r)
                p += 1
            out[u, k] = scale * (cd - cr)


def fluorescence(st: SpikeTrains, ind: Indicator, frame_rate: float) -> np.ndarray:
    """Noiseless, unsaturated ΔF/F traces (float32, n_units × n_frames)."""
    nf = n_samples_of(st.duration, frame_rate)
    out = np.empty((st.n_units, nf), dtype=np.float32)
    if nf:
        _calcium_traces(st.grouped_times, st.indptr, st.t_start, frame_rate, nf,
                        ind.tau_rise, ind.tau_decay, ind.amplitude / ind.peak, out)
    return out


_NOISE_ROWS = 64  # rows of noise drawn per call: bounds memory, fixed so results are stable


def _apply_calcium(rec: Recording, rng, context, *, indicator, frame_rate, snr, saturation,
                   tau_rise, tau_decay, amplitude) -> dict:
    st = _require_spikes(rec, "calcium")
    _check_rate_vs_resolution("frame_rate", frame_rate, rec)
    ind = Indicator(**indicator)
    y = fluorescence(st, ind, frame_rate)
    if saturation is not None:
        y /= 1.0 + y / np.float32(saturation)
    if math.isfinite(snr):
        sigma = np.float32(ind.amplitude / snr)
        for a in range(0, y.shape[0], _NOISE_ROWS):
            block = y[a:a + _NOISE_ROWS]
            block += sigma * rng.standard_normal(block.shape, dtype=np.float32)
    return dict(signals=y, signal_rate=frame_rate, signal_kind="fluorescence",
                sampling_rate=frame_rate, spikes=None,
                _info={"noise_sd": ind.amplitude / snr if math.isfinite(snr) else None,
                       "t_start": st.t_start, "t_stop": st.t_stop})


register_step("calcium", _check_calcium, _apply_calcium, random=True)


# --------------------------------------------------------------------------- inverse
def deconvolve(data=None, *, tau_rise: float | None = None, tau_decay: float | None = None,
               amplitude: float | None = None, noise_sd: float | Literal["estimate"] | None
               = None, method: Literal["threshold", "l1"] = "threshold",
               threshold: float = 0.5, optimize_baseline: bool = False,
               n_jobs: int = 1) -> Recording | Step:
    """Estimate spikes from fluorescence with OASIS, at frame resolution.

    Parameters
    ----------
    data : Recording, optional
        A recording with ``signal_kind="fluorescence"``; if omitted a :class:`Step` is
        returned.
    tau_rise, tau_decay, amplitude : float, optional
        Kernel assumed for deconvolution (s, s, ΔF/F per spike). Default: the kernel of
        the recording's ``calcium`` step (known indicator), as a lab would use a
        calibrated one. ``tau_rise = 0`` selects an AR(1) model.
    noise_sd : float, "estimate" or None
        Noise standard deviation in ΔF/F for ``method="l1"``. None: from the ``calcium``
        step; "estimate": OASIS's power-spectrum estimate.
    method : {"threshold", "l1"}, default "threshold"
        ``"threshold"``: OASIS with a hard minimum event size of ``threshold`` spikes
        and no sparsity penalty (fast, exact on noiseless traces). ``"l1"``: OASIS's
        noise-constrained L1 problem (``penalty=1``; slower with AR(2)).
    threshold : float, default 0.5
        Minimum event size for ``method="threshold"``, in units of one spike's jump.
        Event sizes become spike counts by rounding their cumulative sum, so a spike
        split by its sub-frame timing over two frames counts once.
    optimize_baseline : bool, default False
        Let OASIS fit a baseline (``method="l1"`` only); the forward model has none.
    n_jobs : int, default 1
        Worker processes (units are split between them; -1 = all CPUs). Results do not
        depend on it. Speed: about 0.2 s per unit-hour at 30 Hz with "threshold", and
        ~50 times more with "l1" under AR(2) (see benchmarks/RESULTS.md).

    Returns
    -------
    Recording or Step
        ``spikes`` at the start of each frame with an event, repeated by the estimated
        count; ``sampling_rate = frame_rate``; ``signals`` None. The per-unit event
        sizes are not kept. Timing: a spike late in its frame barely moves that frame's
        sample (read at the frame's end), so it is usually assigned to the next frame;
        at 30 Hz and SNR 5, 66 % (GCaMP6f) of spikes land in their own frame and 94 % in
        it or the next (benchmarks/RESULTS.md).
    """
    settings = dict(tau_rise=tau_rise, tau_decay=tau_decay, amplitude=amplitude,
                    noise_sd=noise_sd, method=method, threshold=threshold,
                    optimize_baseline=optimize_baseline, n_jobs=n_jobs)
    if data is None:
        return Step("deconvolve", settings)
    return run_step("deconvolve", data, settings)


def _check_deconvolve(tau_rise=None, tau_decay=None, amplitude=None, noise_sd=None,
                      method="threshold", threshold=0.5, optimize_baseline=False,
                      n_jobs=1) -> dict:
    if tau_rise is not None:
        tau_rise = check_positive("tau_rise", tau_rise, allow_zero=True, unit="s")
    if tau_decay is not None:
        tau_decay = check_positive("tau_decay", tau_decay, unit="s")
    if tau_rise is not None and tau_decay is not None and tau_decay <= tau_rise:
        raise ValueError(f"tau_decay = {tau_decay:g} s must be longer than tau_rise = "
                         f"{tau_rise:g} s")
    if amplitude is not None:
        amplitude = check_positive("amplitude", amplitude, unit="ΔF/F")
    if noise_sd is not None and noise_sd != "estimate":
        noise_sd = check_positive("noise_sd", noise_sd, unit="ΔF/F")
    check_choice("method", method, {"threshold", "l1"})
    threshold = check_positive("threshold", threshold)
    if threshold >= 1:
        raise ValueError(f"threshold must lie in (0, 1) spikes, got {threshold!r}")
    n_jobs = check_int("n_jobs", n_jobs, minimum=-1)
    if n_jobs == 0:
        raise ValueError("n_jobs must be >= 1 (or -1 for all CPUs), got 0")
    return dict(tau_rise=tau_rise, tau_decay=tau_decay, amplitude=amplitude,
                noise_sd=noise_sd, method=method, threshold=threshold,
                optimize_baseline=bool(optimize_baseline), n_jobs=n_jobs)


_PAD = 2  # baseline frames prepended before OASIS (AR order)


def _deconvolve_rows(Y: np.ndarray, job: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """OASIS on each row of ``Y``; returns (frames with spikes, counts) per row."""
    from oasis.functions import deconvolve as oasis_deconvolve

    kw = dict(tau_d=job["tau_d"], tau_r=job["tau_r"], framerate=job["framerate"])
    s1 = job["s1"]
    out = []
    for y in Y:
        # OASIS takes the first p samples as the initial calcium level, which would swallow
        # spikes in the first frames; the forward model starts from baseline, so we prepend
        # _PAD baseline frames and drop them again.
        y64 = np.concatenate([np.zeros(_PAD), np.asarray(y, dtype=np.float64)])
        if job["method"] == "threshold":
            # oasisAR1/AR2 with lam=0 and a hard minimum event size (sn is unused there, but
            # passing it skips OASIS's noise estimate)
            res = oasis_deconvolve(y64, penalty=None, b=0.0, sn=1.0,
                                   s_min=job["threshold"] * s1, **kw)
        else:
            res = oasis_deconvolve(y64, penalty=1, sn=job["sn"],
                                   b=None if job["optimize_baseline"] else 0.0, **kw)
        # Event sizes in spikes. A spike inside a frame is split by the AR model between
        # that frame and the next (sizes summing to 1), so counts come from rounding the
        # cumulative sum: n_k = round(C_k) - round(C_{k-1}). Totals are then unbiased and
        # integer-sized events (noiseless, frame-aligned spikes) are recovered exactly.
        c = np.floor(np.cumsum(np.asarray(res.s)[_PAD:] / s1) + 0.5)
        n = np.diff(c, prepend=0.0).astype(np.int64)
        n[n < 0] = 0
        frames = np.flatnonzero(n)
        out.append((frames, n[frames]))
    return out


def _last_calcium_step(rec: Recording) -> dict | None:
    for h in reversed(rec.history):
        if h.get("step") == "calcium":
            return h
    return None


def _apply_deconvolve(rec: Recording, rng, context, *, tau_rise, tau_decay, amplitude,
                      noise_sd, method, threshold, optimize_baseline, n_jobs) -> dict:
    try:
        import oasis.functions  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("deconvolve needs OASIS: pip install 'spikewire[calcium]' "
                          "(oasis-deconv)") from err
    if rec.signals is None or rec.signal_kind != "fluorescence":
        raise ValueError(f"deconvolve needs fluorescence signals, got signal_kind="
                         f"{rec.signal_kind!r}; apply calcium(...) first")
    fr = float(rec.signal_rate)
    step = _last_calcium_step(rec)
    known = Indicator(**step["indicator"]) if step else None
    if known is None and (tau_decay is None or amplitude is None):
        raise ValueError("this recording has no calcium step in its history; give "
                         "tau_decay, tau_rise and amplitude of the indicator")
    tr = tau_rise if tau_rise is not None else (known.tau_rise if known else 0.0)
    td = tau_decay if tau_decay is not None else known.tau_decay
    amp = amplitude if amplitude is not None else known.amplitude
    ind = Indicator("deconvolution", tr, td, amp)
    if noise_sd is None:
        noise_sd = step.get("noise_sd") if step else "estimate"
        if noise_sd is None:  # noiseless recording: any small level works for l1
            noise_sd = 1e-6 * amp
    # size of one spike's jump in OASIS's AR model (s_t = c_t - g1 c_{t-1} - g2 c_{t-2}):
    # a spike at a frame start contributes h(1 frame) at the end of that frame.
    s1 = float(kernel(1.0 / fr, ind))
    t_start = float(step["t_start"]) if step else 0.0
    t_stop = float(step["t_stop"]) if step else t_start + rec.signals.shape[1] / fr
    ti = rec.true_index
    units = ti if ti.size and ti.min() >= 0 and np.unique(ti).size == ti.size \
        else np.arange(rec.n_units)
    job = dict(tau_d=td, tau_r=tr, framerate=fr, method=method, threshold=threshold, s1=s1,
               sn=None if noise_sd == "estimate" else float(noise_sd),
               optimize_baseline=optimize_baseline)
    Y = rec.signals
    if n_jobs == 1 or Y.shape[0] < 2:
        parts = [_deconvolve_rows(Y, job)]
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        n_workers = min(n_jobs if n_jobs > 0 else (os.cpu_count() or 1), Y.shape[0])
        blocks = np.array_split(np.arange(Y.shape[0]), n_workers)
        # forkserver (POSIX): workers fork from a clean single-threaded server, never from
        # this process, whose thread pools (numba, BLAS, JAX) would make a plain fork
        # deadlock-prone
        method_ = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(n_workers, mp_context=mp.get_context(method_)) as pool:
            parts = list(pool.map(_deconvolve_rows, [Y[b] for b in blocks],
                                  [job] * len(blocks)))
    frames_all = [f for part in parts for f, _ in part]
    counts_all = [c for part in parts for _, c in part]
    lengths = np.array([c.sum() for c in counts_all], dtype=np.int64)
    times = np.concatenate([t_start + np.repeat(f, c) / fr
                            for f, c in zip(frames_all, counts_all, strict=True)]) \
        if lengths.sum() else np.zeros(0)
    times = np.minimum(times, np.nextafter(t_stop, -np.inf))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    spikes = SpikeTrains(times, indptr, units, t_start, t_stop,
                         {"sampling_rate": fr, "source": "deconvolved"})
    return dict(spikes=spikes, signals=None, signal_rate=None, signal_kind=None,
                sampling_rate=fr,
                _info={"kernel": asdict(ind), "spike_jump": s1,
                       "n_spikes": int(lengths.sum())})


register_step("deconvolve", _check_deconvolve, _apply_deconvolve, random=False)
