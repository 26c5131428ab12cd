"""A measured proxy of hidden brain states (a pupil- or LFP-power-like covariate)."""

from __future__ import annotations

import numpy as np

from spikewire._validation import check_positive
from spikewire.core.recording import Recording

__all__ = ["state_proxy"]


def state_proxy(source, *, rate: float = 100.0, noise: float = 0.5, levels=None,
                tau: float = 0.0, seed=0) -> np.ndarray:
    """Turn a hidden state sequence into a noisy measured signal.

    The proxy at sample ``k`` (time ``k / rate`` s) is ``levels[s(t_k)]`` (by default the
    drive gain of the state, averaged over groups), optionally low-pass filtered by an
    exponential of time constant ``tau`` (a slow sensor such as the pupil), plus Gaussian
    white noise of standard deviation ``noise`` times the standard deviation of the clean
    signal (so ``noise`` is an inverse signal-to-noise ratio).

    Parameters
    ----------
    source : Recording or dict
        A recording whose ``hidden_truth["states"]`` holds a
        :class:`~spikewire.simulate.HiddenStates` truth, or that truth dict itself
        (``state_times``, ``states``, ``gains``, ``duration``).
    rate : float, default 100.0
        Sampling rate of the proxy in Hz.
    noise : float, default 0.5
        Noise standard deviation relative to the clean signal's (>= 0).
    levels : array_like, shape (K,), optional
        Signal level in each state (default: mean drive gain of the state).
    tau : float, default 0.0
        Sensor time constant in s (0: instantaneous).
    seed : int, SeedSequence or Generator, default 0
        Seed of the measurement noise.

    Returns
    -------
    ndarray, shape (round(duration · rate),)
        The proxy, sample ``k`` at ``k / rate`` s; pass it to ``dale_glm`` as
        ``covariates=proxy, covariate_rate=rate``.

    Raises
    ------
    ValueError
        If the recording holds no hidden state truth, or ``levels`` has the wrong length.
    """
    truth = source
    if isinstance(source, Recording):
        truth = source.hidden_truth.get("states")
        if truth is None:
            raise ValueError("the recording's hidden_truth has no 'states' entry; simulate with "
                             "modulation=HiddenStates(...) and observe() the result so that "
                             "the state sequence is kept")
    if not isinstance(truth, dict) or "states" not in truth or "state_times" not in truth:
        raise ValueError("source must be a Recording with hidden_truth['states'] or a "
                         "HiddenStates.truth() dict (state_times, states, gains, duration)")
    rate = check_positive("rate", rate, unit="Hz")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if not np.isfinite(tau) or tau < 0:
        raise ValueError(f"tau must be a finite time >= 0 in s, got {tau!r}")
    states = np.asarray(truth["states"], dtype=np.int64)
    gains = np.asarray(truth["gains"], dtype=float)
    K = gains.shape[0]
    if levels is None:
        lv = gains.reshape(K, -1).mean(axis=1)
    else:
        lv = np.asarray(levels, dtype=float).ravel()
        if lv.shape != (K,):
            raise ValueError(f"levels must hold one value per state ({K}), got {lv.shape}")
    n = int(round(float(truth["duration"]) * rate))
    t = np.arange(n) / rate
    idx = np.searchsorted(np.asarray(truth["state_times"], float), t, side="right") - 1
    clean = lv[states[np.maximum(idx, 0)]]
    if tau > 0:
        a = np.exp(-1.0 / (rate * tau))
        from scipy.signal import lfilter

        clean = lfilter([1 - a], [1, -a], clean, zi=[a * clean[0]])[0]
    rng = np.random.default_rng(seed)
    sd = float(clean.std())
    return clean + rng.normal(0.0, noise * (sd if sd > 0 else 1.0), n)
