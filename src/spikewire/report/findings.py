"""What a study found: effects of each factor with seed-to-seed uncertainty, and why a
score sits at or below chance.

Everything here is computed from the results table (one row per job, see
:func:`spikewire.experiments.load_results`): no simulation is re-run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Effect", "CHANCE", "chance_level", "factor_label", "metric_label", "plot_factors",
           "factor_effects", "conclusions", "chance_notes", "explain_chance"]

# axis labels with units of the factors the built-in studies sweep (anything else: the
# last part of the column name and the spec's own unit, stated as such)
FACTOR_LABELS = {
    "network": "network variant",
    "observation": "observation chain",
    "obs.quantize.sampling_rate": "sampling rate (Hz)",
    "obs.calcium.frame_rate": "calcium imaging frame rate (Hz)",
    "obs.calcium.snr": "calcium signal-to-noise ratio (peak ΔF/F per noise s.d.)",
    "obs.subsample.count": "recorded neurons (count)",
    "obs.subsample.fraction": "recorded fraction of neurons",
    "obs.jitter.sd": "spike-time jitter s.d. (s)",
    "obs.smooth.width": "smoothing kernel width (s)",
    "net.J": "EPSP amplitude J (mV)",
    "net.g": "relative inhibition g (IPSP = g·J)",
    "net.eta": "external drive η (× threshold rate)",
    "net.epsilon": "connection probability",
    "net.delay": "transmission delay (s)",
    "net.tau_ref": "refractory period (s)",
    "net.n_neurons": "network size (neurons)",
    "net.strength": "motif synapse strength (mV)",
    "net.sigma": "background noise σ (mV)",
    "net.rate": "background rate (Hz)",
    "method.bin_width": "method bin width (s)",
    "method.window": "method window (s)",
    "method.alpha": "significance level α",
}

METRIC_LABELS = {
    "auc": "existence AUC",
    "auc_exc": "excitatory AUC",
    "auc_inh": "inhibitory AUC",
    "ap": "average precision",
    "mcc": "MCC of detected links",
    "mcc_exc": "MCC, excitatory",
    "mcc_inh": "MCC, inhibitory",
    "f1": "F1 of detected links",
    "precision": "precision",
    "recall": "recall",
    "sign_accuracy": "sign accuracy (fraction)",
    "ei_accuracy": "E/I label accuracy (fraction)",
    "weight_corr": "weight correlation (Pearson r)",
    "frac_direct": "detected: direct (fraction)",
    "frac_indirect": "detected: indirect (fraction)",
    "frac_common_input": "detected: common input (fraction)",
    "frac_spurious": "detected: spurious (fraction)",
    "delay_mae": "delay error, mean abs. (s)",
}

# score a method reaches by guessing (None: no fixed chance level)
CHANCE = {"auc": 0.5, "auc_exc": 0.5, "auc_inh": 0.5, "mcc": 0.0, "mcc_exc": 0.0,
          "mcc_inh": 0.0, "sign_accuracy": 0.5, "weight_corr": 0.0}
# scores whose chance level is checked, and the margin above chance still called "at chance"
CHANCE_METRICS = ["auc", "auc_exc", "auc_inh", "sign_accuracy", "ei_accuracy", "mcc"]
CHANCE_MARGIN = 0.02
# headline scores of the effect statements
EFFECT_METRICS = ["auc", "auc_inh", "mcc", "sign_accuracy", "ei_accuracy"]


def factor_label(name: str) -> str:
    """Axis label with unit for a factor column (``net.J`` → ``"EPSP amplitude J (mV)"``)."""
    if name in FACTOR_LABELS:
        return FACTOR_LABELS[name]
    return f"{name.split('.')[-1]} (unit as in the spec)"


def metric_label(name: str) -> str:
    """Readable label of a score column (``auc_inh`` → ``"inhibitory AUC"``)."""
    return METRIC_LABELS.get(name, name)


def chance_level(metric: str, e_share: float | None = None) -> float | None:
    """The score of a guess: 0.5 for AUCs and sign accuracy, 0 for MCC and correlations,
    and for E/I accuracy the share of the larger cell type (label every unit E)."""
    if metric == "ei_accuracy":
        return None if e_share is None else max(e_share, 1.0 - e_share)
    return CHANCE.get(metric)


def _levels(s: pd.Series) -> list:
    """Distinct values in order of appearance (NaN kept as one level)."""
    out, seen_nan = [], False
    for v in s:
        if isinstance(v, float) and math.isnan(v):
            if not seen_nan:
                out.append(v)
                seen_nan = True
        elif v not in out:
            out.append(v)
    return out


def _key(v):
    return "__nan__" if isinstance(v, float) and math.isnan(v) else v


def _determined_by(df: pd.DataFrame, f: str, g: str) -> bool:
    """True if ``f`` is a function of ``g`` (each level of g has one level of f)."""
    pairs = df[[f, g]].map(_key).drop_duplicates()
    return not pairs[g].duplicated().any()


def _has_nan(df: pd.DataFrame, f: str) -> bool:
    return bool(df[f].map(lambda v: isinstance(v, float) and math.isnan(v)).any())


def _family(ok: pd.DataFrame, which: str) -> pd.Series:
    """The network / observation entry each row came from (its name without the
    ``[factor=value]`` suffix of a ``vary`` sweep)."""
    col = f"{which}_family"
    if col in ok:
        return ok[col].astype(str)
    return ok[which].astype(str).str.replace(r"\[.*\]$", "", regex=True)


def plot_factors(ok: pd.DataFrame, factors: list[str]) -> list[tuple[str, pd.DataFrame, str]]:
    """Factors that can be shown on their own, each with the rows that compare its levels.

    A point of a factor's plot must not average over conditions that its other levels lack
    (the demo's smoothed rates exist only for network variant (e), so a "scores versus
    observation" plot would compare networks, not observations). So for each factor the
    rows are split into *strata*, the combinations of the other factors that are not
    functions of it (for a ``net.*`` factor the network entry stands in for the network
    name, which encodes the factor itself; likewise for ``obs.*``), and only strata in
    which the factor takes at least two levels are kept; a factor with no such stratum is
    not plotted. ``network`` / ``observation`` are left out when a swept column defined on
    every row names the same conditions. Returns ``(factor, rows, note)``, the note naming
    what was held fixed or averaged over.
    """
    if ok.empty:
        return []
    ok = ok.copy()
    ok["network_family"] = _family(ok, "network") if "network" in ok else ""
    ok["observation_family"] = _family(ok, "observation") if "observation" in ok else ""
    cols = list(dict.fromkeys(factors + ["network_family", "observation_family"]))
    func = {(f, g): _determined_by(ok, f, g) for f in cols for g in cols if f != g}
    nan = {f: _has_nan(ok, f) for f in cols}
    out = []
    for f in factors:
        if f in ("network", "observation") and any(
                func[(f, g)] and func[(g, f)] and not nan[g]
                for g in factors if g != f and g not in ("network", "observation")):
            continue
        others = []
        for g in factors:
            if g == f:
                continue
            if f.startswith("net.") and g == "network":
                g = "network_family"
            if f.startswith("obs.") and g == "observation":
                g = "observation_family"
            if not func[(g, f)]:
                others.append(g)
        rows = ok[ok[f].map(lambda v: not (isinstance(v, float) and math.isnan(v)))]
        note = ""
        if others:
            strata = rows[others].map(_key).astype(str).agg("|".join, axis=1)
            n_lev = rows.groupby(strata)[f].nunique()
            rows = rows[strata.isin(n_lev[n_lev >= 2].index)]
            fixed = []
            for g in others:
                lev = [v for v in _levels(rows[g]) if not (isinstance(v, float) and math.isnan(v))]
                label = {"network_family": "network", "observation_family": "observation"}.get(
                    g, factor_label(g))
                if len(lev) == 1:
                    fixed.append(f"{label} = {lev[0]}")
                elif len(lev) > 1:
                    fixed.append(f"averaged over {label}")
            note = "; ".join(fixed)
        if rows.empty or rows[f].nunique() < 2:
            continue
        out.append((f, rows, note))
    return out


@dataclass
class Effect:
    """Change of one score when one factor moves from its reference level to another."""

    factor: str
    method: str
    metric: str
    reference: object
    level: object
    mean_ref: float
    mean_level: float
    diff: float            # mean over seeds of (level − reference)
    sd: float              # s.d. over seeds of the paired difference (nan for one seed)
    n_seeds: int
    pvalue: float          # paired t-test over seeds (nan when it cannot be computed)

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.pvalue) and self.pvalue < 0.05)

    def text(self) -> str:
        """One sentence, e.g. ``ccg: existence AUC 0.80 → 0.91 (+0.11 ± 0.02, ...)``."""
        unc = f" ± {self.sd:.3f}" if np.isfinite(self.sd) else ""
        if np.isfinite(self.pvalue):
            test = (f"paired t-test over {self.n_seeds} seeds p = {_p(self.pvalue)}, "
                    + ("significant at 5 %" if self.significant else "not significant"))
        elif self.n_seeds >= 2 and self.sd == 0:
            test = f"identical change in all {self.n_seeds} seeds"
        else:
            test = f"{self.n_seeds} seed(s): no test possible"
        return (f"{self.method}: {metric_label(self.metric)} {self.mean_ref:.3f} → "
                f"{self.mean_level:.3f} ({self.diff:+.3f}{unc}; {test})")


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else "< 0.001"


def factor_effects(rows: pd.DataFrame, factor: str, metrics: list[str], *,
                   method_col: str = "method", reference_of: dict | None = None) -> list[Effect]:
    """Paired effects of ``factor``: every level against the first one (the reference),
    or against ``reference_of[level]`` where given.

    Each seed's score is first averaged over the other factors within that seed; the
    difference level − reference is then taken per seed (the same seed draws the same
    connectivity, activity and observation, so the comparison is paired), and a paired
    t-test over seeds (``scipy.stats.ttest_rel``) gives the p-value.
    """
    from scipy import stats

    out: list[Effect] = []
    levels = _levels(rows[factor].dropna())
    if len(levels) < 2:
        return out
    reference_of = reference_of or {}
    for method in _levels(rows[method_col]):
        d = rows[rows[method_col] == method]
        for metric in metrics:
            if metric not in d or d[metric].notna().sum() == 0:
                continue
            per_seed = d.groupby([factor, "seed"])[metric].mean().unstack("seed")
            for lev in levels[1:]:
                ref = reference_of.get(lev, levels[0])
                if lev not in per_seed.index or ref not in per_seed.index:
                    continue
                a = per_seed.loc[ref]
                b = per_seed.loc[lev]
                both = a.notna() & b.notna()
                if not both.any():
                    continue
                a, b = a[both].to_numpy(float), b[both].to_numpy(float)
                diff = b - a
                n = diff.size
                sd = float(diff.std(ddof=1)) if n > 1 else float("nan")
                p = float("nan")
                if n > 1 and sd > 0:
                    p = float(stats.ttest_rel(b, a).pvalue)
                out.append(Effect(factor, str(method), metric, ref, lev, float(a.mean()),
                                  float(b.mean()), float(diff.mean()), sd, n, p))
    return out


def conclusions(ok: pd.DataFrame, factors: list[str], metrics: list[str] | None = None, *,
                top: int = 6) -> list[tuple[str, list[str]]]:
    """Conclusions of a study: ``[(heading, [sentences])]``.

    First the best method per condition (by existence AUC), then per factor the changes of
    the headline scores from the reference level, largest significant ones first, with the
    count of comparisons that did not reach significance.
    """
    if ok.empty:
        return []
    metrics = [m for m in (metrics or EFFECT_METRICS) if m in ok and ok[m].notna().any()]
    out: list[tuple[str, list[str]]] = []
    if "auc" in ok and ok["auc"].notna().any():
        keys = [k for k in ("network", "observation") if k in ok]
        best = []
        g = ok.groupby(keys + ["method"], sort=False, dropna=False)["auc"]
        tab = g.agg(["mean", "std", "count"]).reset_index()
        for cond, t in tab.groupby(keys, sort=False, dropna=False):
            t = t.dropna(subset=["mean"])
            if t.empty:
                continue
            r = t.loc[t["mean"].idxmax()]
            worst = t.loc[t["mean"].idxmin()]
            cond = cond if isinstance(cond, tuple) else (cond,)
            sd = f" ± {r['std']:.3f}" if r["count"] > 1 else ""
            best.append(f"{' / '.join(map(str, cond))}: best {r['method']} "
                        f"(existence AUC {r['mean']:.3f}{sd}, {int(r['count'])} seed"
                        f"{'s' if r['count'] != 1 else ''}), "
                        f"worst {worst['method']} ({worst['mean']:.3f}).")
        if best:
            out.append(("Best method per condition", best))
    for f, rows, note in plot_factors(ok, factors):
        col = "method_name" if f.startswith("method.") else "method"
        refs = _same_simulation_references(rows, f)
        effects = factor_effects(rows, f, metrics, method_col=col, reference_of=refs)
        if not effects:
            continue
        sig = sorted([e for e in effects if e.significant], key=lambda e: -abs(e.diff))
        rest = [e for e in effects if not e.significant]
        ref = effects[0].reference
        also = "".join(f"; {lev} against {r} (the same simulation, observed differently)"
                       for lev, r in refs.items())
        lines = [f"Reference level: {ref}{also}" + (f" ({note})" if note else "") + ". "
                 f"{len(sig)} of {len(effects)} method × score × level comparisons change "
                 "significantly (paired t-test over seeds, 5 %)."]
        for e in sig[:top]:
            lines.append(f"{factor_label(f)} {e.reference} → {e.level}: {e.text()}.")
        if rest:
            big = max(rest, key=lambda e: abs(e.diff))
            lines.append(f"Largest change without significance: {factor_label(f)} "
                         f"{big.reference} → {big.level}: {big.text()}.")
        n_seeds = int(rows["seed"].nunique())
        if n_seeds < 3:
            lines.append(f"Only {n_seeds} seed(s): a paired t-test has {max(n_seeds - 1, 0)} "
                         "degree(s) of freedom, so only large, consistent changes can reach "
                         "significance; add seeds (--seeds) to resolve smaller ones.")
        out.append((f"Effect of {factor_label(f)}", lines))
    return out


def _same_simulation_references(rows: pd.DataFrame, factor: str) -> dict:
    """Levels whose jobs observe exactly the simulations of an earlier level (the realism
    study's smoothed rates (e) of variant (d)) → that level: their natural reference."""
    if "sim_key" not in rows:
        return {}
    levels = _levels(rows[factor].dropna())
    keys = {lev: frozenset(rows.loc[rows[factor] == lev, "sim_key"]) for lev in levels}
    out = {}
    for k, lev in enumerate(levels[1:], start=1):
        for earlier in levels[:k]:
            if keys[earlier] == keys[lev] and earlier != levels[0]:
                out[lev] = earlier
                break
    return out


# ---------------------------------------------------------------------------------------
# why a score is at or below chance
# ---------------------------------------------------------------------------------------
def _method_setting(name: str, settings: dict, key: str):
    """A method setting, or its default from the method class's signature."""
    if key in settings and settings[key] is not None:
        return settings[key]
    try:
        import inspect

        from spikewire.infer import get_method

        par = inspect.signature(type(get_method(name)).__init__).parameters.get(key)
        if par is not None and par.default is not inspect.Parameter.empty:
            return par.default
    except Exception:  # noqa: BLE001 - unknown method: no default to report
        return None
    return None


def _natural_bin(name: str) -> float | None:
    """A method's natural bin width (s) before adapting to the data, if it declares one."""
    try:
        from spikewire.infer import get_method_class

        return get_method_class(name).bin_settings.get("bin_width")
    except Exception:  # noqa: BLE001 - unknown method or no bin_settings
        return None


def _resolution(steps: list[dict]) -> tuple[float | None, float | None, str]:
    """After an observation chain: the time grid of the data (s; bins finer than it stay
    empty), the timing blur (s; order of events closer than it is lost) and what set them."""
    grid = blur = None
    what = ""
    for s in steps:
        kind = s.get("step")
        if kind == "quantize" and s.get("sampling_rate"):
            grid = blur = 1.0 / float(s["sampling_rate"])
            what = f"spike times quantized to {float(s['sampling_rate']):g} Hz"
        elif kind == "calcium" and s.get("frame_rate"):
            grid = blur = 1.0 / float(s["frame_rate"])
            what = f"calcium imaging at {float(s['frame_rate']):g} Hz"
        elif kind == "smooth":
            blur = float(s.get("width") or 0.0) or blur
            what = f"rates smoothed over {blur * 1e3:g} ms" if blur else "smoothed rates"
    return grid, blur, what


def _typical_delay(builder: str, params: dict) -> float | None:
    """The network's synaptic delay in s (the mean of a ``[lo, hi]`` range), or None.

    Read from ``delay`` or ``delay_range`` in the spec, else from the registered builder's
    default (e.g. the Izhikevich builder's 1–20 ms); None for one-step transmission.
    """
    import inspect

    d = None
    if "delay" in params or "delay_range" in params:
        d = params.get("delay", params.get("delay_range"))
    else:
        from spikewire.experiments.grid import BUILDERS, resolve_builder

        if builder in BUILDERS:
            sig = inspect.signature(resolve_builder(builder))
            for name in ("delay", "delay_range"):
                if name in sig.parameters:
                    d = sig.parameters[name].default
                    break
    if d is None or d is inspect.Parameter.empty or isinstance(d, str):
        return None
    if isinstance(d, list | tuple):
        return float(np.mean([float(x) for x in d])) if len(d) else None
    return float(d)


def explain_chance(metric: str, value: float, cell: dict, *, e_share: float | None = None,
                   ei_E: float | None = None, ei_I: float | None = None,
                   n_detected: float | None = None, rate: float | None = None,
                   untested: float | None = None, fallback: bool = True) -> str:
    """Why ``metric`` = ``value`` is at or below chance for one job cell.

    ``cell`` is the job's spec (``json.loads(row["spec"])``: network, observation, method,
    dt). The reason names the method's assumption that the data violate where one is
    known, else the data's limit (weak synapses, few spikes).
    """
    net = cell.get("network", {})
    params = net.get("params", {})
    steps = cell.get("observation", {}).get("steps", [])
    method = cell.get("method", {}).get("name", "")
    settings = cell.get("method", {}).get("settings", {})
    dt = float(cell.get("dt", 1e-4))
    delay = _typical_delay(net.get("builder", ""), params)
    grid, blur, what = _resolution(steps)
    kinds = {s.get("step") for s in steps}
    reasons = []
    # None = automatic: the method derives its bins from the recording's time resolution
    # (never finer than the data); only an explicit bin can be finer than the data
    bin_w = _method_setting(method, settings, "bin_width")
    natural = _natural_bin(method)
    if untested is not None and untested > 0.3 and metric != "ei_accuracy":
        extra = ""
        if method == "glmcc":
            mc = _method_setting(method, settings, "min_coincidences")
            extra = (f" (GLMCC fits a pair only with at least {mc:g} coincident spikes in "
                     "its window)") if mc is not None else ""
        reasons.append(f"data vs method: {untested:.0%} of the pairs were left untested{extra} — "
                       "too few spikes in this recording — and untested pairs rank lowest")
    if metric == "ei_accuracy" and ei_E is not None and ei_I is not None \
            and ei_E >= 0.95 and ei_I <= 0.05:
        share = f" ({e_share:.2f})" if e_share is not None else ""
        reasons.append(f"method labels (almost) every unit E: its accuracy equals the share of "
                       f"E units{share}; the I units' outgoing links are too weak or too few "
                       "to be detected as negative")
    if "smooth" in kinds and method in ("ccg", "glmcc", "glm", "te"):
        reasons.append("data are smoothed rates: the spike timing this method needs is gone")
    if grid is not None and bin_w is not None and float(bin_w) < grid * (1 - 1e-9):
        reasons.append(f"method assumption vs data: bins of {float(bin_w) * 1e3:g} ms are finer "
                       f"than the data's time resolution ({grid * 1e3:g} ms, {what}), so bins "
                       "between samples are always empty")
    window = 4e-3 + (delay or 0.0)
    if blur is not None and blur > window:
        reasons.append(f"data: time resolution {blur * 1e3:g} ms ({what}) is coarser than the "
                       f"synaptic effect (delay {(delay or dt) * 1e3:g} ms + a few ms of PSP), "
                       "so pre → post order is lost and only zero-lag correlation remains")
    if method == "partial_corr" and delay is not None:
        reasons.append(f"method assumption: partial correlation is zero-lag (counts in the same "
                       f"{float(bin_w or natural or 5e-3) * 1e3:g} ms bin), the synapse acts "
                       f"{delay * 1e3:g} ms later, so part of each link's effect falls in the "
                       "next bin")
    if method == "glmcc" and delay is None and metric in ("sign_accuracy", "auc_exc",
                                                          "auc_inh", "auc"):
        reasons.append(f"method assumption: GLMCC's delay grid starts at 0.5 ms, so it cannot "
                       f"represent one-step transmission ({dt * 1e3:g} ms)")
    if metric.startswith("mcc") and n_detected is not None and n_detected == 0:
        reasons.append("no link passed the method's significance test (nothing detected), "
                       "so MCC is 0 whatever the ranking (see the AUC)")
    if method in ("partial_corr", "te") and net.get("inputs") and metric != "ei_accuracy":
        reasons.append("data: a hidden shared input modulates all neurons together; a "
                       "method without a model of it counts the shared correlation as links")
    if not reasons and fallback:
        J = params.get("J", params.get("strength"))
        g = params.get("g")
        jtxt = (f"EPSPs of {J:g} mV and IPSPs of {J * g:g} mV" if J is not None and g else
                f"PSPs of {J:g} mV" if J is not None else "these synapses")
        rtxt = f" at {rate:.1f} Hz" if rate is not None else ""
        reasons.append(f"data: {jtxt}{rtxt} over {float(net.get('duration', 0)):g} s change "
                       "the postsynaptic spike counts too little to separate links from chance "
                       "(no violated method assumption identified; longer recordings help)")
    return "; ".join(reasons)


def chance_notes(ok: pd.DataFrame, e_shares: dict | None = None,
                 metrics: list[str] | None = None) -> list[dict]:
    """Every (network, observation, method, score) whose mean over seeds is at or below
    chance (within :data:`CHANCE_MARGIN`), with the reason from :func:`explain_chance`.

    ``e_shares`` maps a network name to the share of E units among the scored units
    (needed for the E/I accuracy's chance level).
    """
    e_shares = e_shares or {}
    metrics = metrics or CHANCE_METRICS
    keys = [k for k in ("network", "observation", "method") if k in ok]
    notes = []
    for key, g in ok.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        info = dict(zip(keys, key, strict=True))
        cell = json.loads(g["spec"].iloc[0]) if "spec" in g else {}
        for m in metrics:
            if m not in g or g[m].notna().sum() == 0:
                continue
            value = float(g[m].mean())
            share = e_shares.get(info.get("network"))
            ch = chance_level(m, share)
            if ch is None or value > ch + CHANCE_MARGIN:
                continue

            def mean_of(col, g=g):
                return float(g[col].mean()) if col in g and g[col].notna().any() else None

            n_pairs, n_untested = mean_of("n_pairs"), mean_of("n_untested")
            untested = n_untested / n_pairs if n_pairs and n_untested is not None else None
            reason = explain_chance(m, value, cell, e_share=share,
                                    ei_E=mean_of("ei_accuracy_E"), ei_I=mean_of("ei_accuracy_I"),
                                    n_detected=mean_of("n_detected"), untested=untested,
                                    rate=mean_of("rate_mean"), fallback=False)
            hint = _better_elsewhere(ok, keys, info, m, ch, cell)
            if hint or not reason:
                reason = "; ".join(x for x in (reason, hint) if x) or explain_chance(
                    m, value, cell, rate=mean_of("rate_mean"))
            notes.append({**info, "score": m, "value": value, "chance": ch, "why": reason})
    return notes


def _flat_cell(cell: dict) -> dict:
    """Network parameters and observation settings of a job cell as ``{name: value}``."""
    out = {f"{k}": v for k, v in cell.get("network", {}).get("params", {}).items()}
    for s in cell.get("observation", {}).get("steps", []):
        for k, v in s.items():
            if k != "step":
                out[f"{s.get('step')}.{k}"] = v
    out["observation steps"] = "+".join(s.get("step", "?") for s in
                                        cell.get("observation", {}).get("steps", [])) or "none"
    return out


def _better_elsewhere(ok: pd.DataFrame, keys: list[str], info: dict, metric: str,
                      chance: float, cell: dict) -> str:
    """Where the same method clearly beats chance in this study, and what differs there."""
    if "method" not in keys:
        return ""
    same = ok[ok["method"] == info["method"]]
    means = same.groupby([k for k in keys if k != "method"], sort=False, dropna=False)[metric] \
        .mean().dropna()
    if means.empty or means.max() < chance + 0.1:
        return ""
    where = means.idxmax()
    where = where if isinstance(where, tuple) else (where,)
    cond = dict(zip([k for k in keys if k != "method"], where, strict=True))
    row = same
    for k, v in cond.items():
        row = row[row[k] == v]
    other = _flat_cell(json.loads(row["spec"].iloc[0])) if "spec" in row and len(row) else {}
    mine = _flat_cell(cell)
    def show(d, k):
        if k not in d:
            return "absent"
        return "one step" if d[k] is None and k == "delay" else d[k]

    diff = [f"{k} {show(mine, k)} here vs {show(other, k)} there"
            for k in sorted(set(mine) | set(other)) if mine.get(k, ()) != other.get(k, ())]
    if not diff:
        return ""
    return (f"the same method reaches {means.max():.3f} on {' / '.join(map(str, where))}, "
            f"which differs only in: {', '.join(diff[:4])}; the loss comes with this change")
