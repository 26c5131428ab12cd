"""How far to trust an estimate for *this* recording: a matched ground-truth surrogate.

:func:`validate` builds a sparse E/I network of leaky integrate-and-fire neurons (Brunel
2000 connectivity, ``J ≈ 0.1·1000/C_E`` so that recurrent input matters) whose recorded
units are matched to the recording in

* the number of recorded units, with a stated hidden fraction of unrecorded neurons;
* the firing-rate distribution: every neuron gets a target rate drawn from the recorded
  units' rates, and its external Poisson drive is corrected over a few short simulations
  (``n_fit`` rounds of ``fit_duration`` s) until the rates match;
* the duration (capped at ``max_duration`` s; the cap is reported) and the time
  resolution (spike times rounded to the recording's sampling grid).

It is **not** matched in ISI irregularity, pairwise count correlations or population
synchrony (the report says so). For each of ``n_seeds`` surrogate seeds it simulates,
observes, runs the methods and scores them against the known connectivity
(:func:`spikewire.score.score`): ROC AUC, precision and recall at the chosen threshold,
with their spread over seeds. The summary recommends the method with the best mean
AUC, and says plainly when no method reaches a useful level (AUC < 0.6 or recall < 0.05)
for data this short or sparse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spikewire._validation import check_fraction, check_int, check_positive
from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["validate", "ValidationResult"]


@dataclass
class ValidationResult:
    """Scores of the methods on matched surrogates.

    Attributes
    ----------
    scores : DataFrame
        One row per (method, seed): ``auc``, ``precision``, ``recall``, ``n_true``,
        ``n_detected``.
    table : DataFrame
        Per method: mean and standard deviation over seeds of ``auc``, ``precision``,
        ``recall``.
    match : dict
        How the surrogate matches the recording (units, hidden fraction, duration,
        resolution, median rates, rate correlation).
    recommendation : str
    """

    scores: pd.DataFrame
    table: pd.DataFrame
    match: dict
    recommendation: str

    def summary(self) -> str:
        m = self.match
        lines = ["matched ground-truth surrogate (spikewire.io.validate)",
                 f"  {m['n_neurons']} LIF neurons ({m['n_recorded']} recorded, hidden "
                 f"fraction {m['hidden_fraction']:.2f}), {m['duration']:g} s"
                 + (f" (recording {m['recording_duration']:g} s; capped)" if m['capped']
                    else "") + ", time resolution "
                 + (f"{m['time_resolution'] * 1e3:g} ms" if m['time_resolution'] else
                    "simulation step"),
                 f"  rates: recording median {m['rate_median_recording']:.3g} Hz, surrogate "
                 f"{m['rate_median_surrogate']:.3g} Hz (rank correlation of target and "
                 f"achieved rates {m['rate_fit_corr']:.2f})",
                 "  not matched: ISI irregularity, count correlations, synchrony",
                 f"  expected scores over {m['n_seeds']} surrogate seed(s), mean ± sd:"]
        for method, row in self.table.iterrows():
            lines.append(f"    {method:>14}: AUC {row['auc_mean']:.3f} ± {row['auc_sd']:.3f}, "
                         f"precision {row['precision_mean']:.3f} ± {row['precision_sd']:.3f}, "
                         f"recall {row['recall_mean']:.3f} ± {row['recall_sd']:.3f}")
        lines.append(f"  {self.recommendation}")
        return "\n".join(lines)


def _quantize(st: SpikeTrains, rate: float | None) -> SpikeTrains:
    if not rate:
        return st
    t = np.floor((st.grouped_times - st.t_start) * rate + 1e-9) / rate + st.t_start
    t = np.minimum(t, np.nextafter(st.t_stop, -np.inf))
    return SpikeTrains(t, st.indptr, st.units, st.t_start, st.t_stop, st.annotations)


def validate(recording: Recording, methods=("ccg",), *, settings: dict | None = None,
             n_seeds: int = 3, hidden_fraction: float = 0.5, max_neurons: int = 1_000,
             max_duration: float = 60.0, n_fit: int = 3, fit_duration: float = 2.0,
             alpha: float | None = None, correction: str | None = None, seed: int = 0,
             ) -> ValidationResult:
    """Expected AUC, precision and recall of ``methods`` for data like ``recording``.

    Parameters
    ----------
    recording : Recording
        The (cleaned, selected) recording to match.
    methods : sequence of str
        Registered inference methods to evaluate.
    settings : dict, optional
        Method name → settings dict.
    n_seeds : int, default 3
        Surrogate seeds (network, simulation and choice of recorded neurons).
    hidden_fraction : float, default 0.5
        Fraction of the surrogate's neurons that are not recorded.
    max_neurons : int, default 1000
        Cap on the surrogate network size (then fewer units are recorded; reported).
    max_duration : float, default 60 s
        Cap on the simulated duration (reported when it applies).
    n_fit, fit_duration : int, float
        Rounds and length (s) of the short simulations that fit the rates.
    alpha, correction : optional
        Threshold of the scored graphs (default: each method's).
    seed : int, default 0

    Returns
    -------
    ValidationResult
    """
    from spikewire.infer import get_method_class
    from spikewire.networks import brunel
    from spikewire.score import score
    from spikewire.simulate import simulate

    st = recording.spikes
    if st is None or st.n_units < 2:
        raise ValueError("validate needs a recording with spike times of at least 2 units")
    n_seeds = check_int("n_seeds", n_seeds, minimum=1)
    hidden_fraction = check_fraction("hidden_fraction", hidden_fraction, closed_low=True)
    if hidden_fraction >= 1:
        raise ValueError("hidden_fraction must be < 1 (some neurons must be recorded)")
    max_neurons = check_int("max_neurons", max_neurons, minimum=10)
    max_duration = check_positive("max_duration", max_duration, unit="s")
    n_fit = check_int("n_fit", n_fit, minimum=0)
    fit_duration = check_positive("fit_duration", fit_duration, unit="s")
    settings = dict(settings or {})
    classes = {m: get_method_class(m) for m in methods}

    rates_rec = st.rates()
    n_rec = st.n_units
    n_total = min(max_neurons, max(int(math.ceil(n_rec / (1.0 - hidden_fraction))), n_rec, 10))
    n_recorded = min(n_rec, n_total)
    duration = min(st.duration, max_duration)
    res = recording.time_resolution if recording.sampling_rate else None
    sampling_rate = recording.sampling_rate
    rows = []
    fit_info = {}
    for s in range(n_seeds):
        rng = np.random.default_rng([seed, s])
        n_e = int(round(0.8 * n_total))
        c_e = max(int(round(0.1 * n_e)), 1)
        net = brunel(n_total, epsilon=0.1, g=5.0, eta=1.0, J=min(0.1 * 1000 / c_e, 2.0),
                     delay=1.5e-3, seed=int(rng.integers(2**31)))
        target = rng.choice(np.maximum(rates_rec, 0.05), n_total, replace=True)
        drive = net.drive
        ext = np.full(n_total, float(np.asarray(drive.rate).mean()))
        achieved = None
        for k in range(n_fit + 1):
            net = net.replace(drive=type(drive)(rate=ext.copy(), n_inputs=drive.n_inputs,
                                                weight=drive.weight))
            if k == n_fit:
                break
            sim = simulate(net, fit_duration, seed=int(rng.integers(2**31)))
            achieved = sim.counts() / fit_duration
            # multiplicative correction of each neuron's external rate toward its target
            # (square root: the rate depends steeply on the drive near threshold)
            ratio = np.sqrt((target + 0.5) / (achieved + 0.5))
            ext = ext * np.clip(ratio, 0.7, 1.4)
        sim = simulate(net, duration, seed=int(rng.integers(2**31)))
        chosen = np.sort(rng.choice(n_total, n_recorded, replace=False))
        obs = _quantize(sim.select(chosen), sampling_rate)
        sur = Recording(spikes=obs, true_index=chosen, sampling_rate=sampling_rate)
        if s == 0:
            got = obs.rates()
            fit_info = {
                "rate_median_surrogate": float(np.median(got)),
                "rate_fit_corr": float(pd.Series(target[chosen]).corr(pd.Series(got),
                                                                      method="spearman"))
                if n_recorded > 2 else float("nan")}
        for m, cls in classes.items():
            est = cls(**settings.get(m, {})).fit(sur)
            sc = score(net, est, alpha=alpha, correction=correction)
            rows.append({"method": m, "seed": s, "auc": sc["auc"],
                         "precision": sc["precision"], "recall": sc["recall"],
                         "n_true": sc["n_true"], "n_detected": sc["n_detected"]})
    scores = pd.DataFrame(rows)
    g = scores.groupby("method")[["auc", "precision", "recall"]]
    table = g.mean().add_suffix("_mean").join(g.std(ddof=1).fillna(0.0).add_suffix("_sd"))
    best = table["auc_mean"].idxmax() if table["auc_mean"].notna().any() else None
    if best is None or table.loc[best, "auc_mean"] < 0.6 or \
            table.loc[best, "recall_mean"] < 0.05:
        rec = (f"no method is reliable for data like this ({duration:g} s, {n_recorded} units, "
               f"median rate {np.median(rates_rec):.3g} Hz): best AUC "
               f"{table['auc_mean'].max():.2f}; the recording is too short or too sparse")
    else:
        rec = (f"recommended: {best} (AUC {table.loc[best, 'auc_mean']:.2f}, precision "
               f"{table.loc[best, 'precision_mean']:.2f}, recall "
               f"{table.loc[best, 'recall_mean']:.2f} at its threshold)")
    match = {"n_neurons": n_total, "n_recorded": n_recorded,
             "hidden_fraction": 1.0 - n_recorded / n_total, "duration": duration,
             "recording_duration": st.duration, "capped": duration < st.duration,
             "time_resolution": res, "n_seeds": n_seeds,
             "rate_median_recording": float(np.median(rates_rec)), **fit_info}
    return ValidationResult(scores=scores, table=table, match=match, recommendation=rec)
