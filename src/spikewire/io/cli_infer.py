"""``spikewire infer PATH``: a recording on disk to an estimated circuit, a figure and a
plain-language summary.

Outputs in ``--out`` (default ``<name>-spikewire/`` next to the input):

* ``estimate.parquet`` -- :func:`spikewire.io.estimate_table` with the full settings in
  every row; ``estimate.csv`` -- the same table with only the settings that differ from
  the method's defaults (all of them in ``settings.json``), which keeps the CSV of a
  million pairs at a third of the size;
* ``units.csv`` -- one row per unit seen: metadata, spikes, rate, contamination, status
  (used, or why it was dropped by the reader or skipped by the method);
* ``estimate.png`` -- the estimated matrix ordered by inferred E/I type, with a colourbar,
  and the cross-correlograms of the strongest links (with the CCG method's baseline);
* ``summary.txt`` -- units used and dropped with reasons, spikes per unit, significant
  links by sign and the estimated false-discovery rate among them;
* with ``validate=True``: ``validation.csv`` and ``validation_statistics.csv``
  (:func:`spikewire.io.validate.validate`).
"""

from __future__ import annotations

import ast
import inspect
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spikewire.core.recording import Recording
from spikewire.infer.estimate import Estimate

__all__ = ["run_infer", "InferResult", "estimated_fdr", "parse_settings", "choose_bins"]


@dataclass
class InferResult:
    """What :func:`run_infer` produced."""

    recording: Recording
    estimate: Estimate
    out: Path
    files: dict
    summary: str
    timings: dict


def parse_settings(items) -> dict:
    """``["alpha=0.01", "window=(5e-4, 3e-3)"]`` → settings dict (values read as Python
    literals, never executed; anything else is kept as a string)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"setting {item!r} must look like NAME=VALUE")
        key, val = item.split("=", 1)
        key = key.strip()
        if not key.isidentifier():
            raise ValueError(f"setting name {key!r} is not a valid name")
        try:
            out[key] = ast.literal_eval(val.strip())
        except (ValueError, SyntaxError):
            out[key] = val.strip()
    return out


def estimated_fdr(pvalues: np.ndarray, significant: np.ndarray, lam: float = 0.5) -> float:
    """Storey (2002) estimate of the false-discovery rate among the significant pairs.

    ``π0 = #{p > λ} / ((1 − λ) m)`` (capped at 1) estimates the fraction of true nulls among
    the ``m`` tested pairs; with the largest significant raw p-value ``t`` as the rejection
    threshold, ``FDR ≈ π0 m t / R`` for ``R`` discoveries. NaN when nothing is significant.

    Storey JD (2002) A direct approach to false discovery rates. J R Stat Soc B 64:479–498.
    """
    p = np.asarray(pvalues, dtype=float)
    sig = np.asarray(significant, dtype=bool) & np.isfinite(p)
    tested = np.isfinite(p)
    m = int(tested.sum())
    r = int(sig.sum())
    if m == 0 or r == 0:
        return float("nan")
    pi0 = min(1.0, float(np.sum(p[tested] > lam)) / ((1.0 - lam) * m))
    t = float(np.max(p[sig]))
    return float(min(1.0, pi0 * m * t / r))


def choose_bins(cls, settings: dict, recording: Recording) -> tuple[dict, list[str]]:
    """Make the method's ``bin_width`` (if it has one and the user did not set it) a whole
    number of the recording's time resolution and no finer than it."""
    notes = []
    res = recording.time_resolution
    params = inspect.signature(cls.__init__).parameters
    if "bin_width" not in params or "bin_width" in settings or not res:
        return settings, notes
    default = params["bin_width"].default
    if default is None:   # automatic bin (method contract): its natural value, for the note
        default = getattr(cls, "bin_settings", {}).get("bin_width")
    if not isinstance(default, int | float) or default <= 0:
        return settings, notes
    k = max(1, round(default / res))
    bw = k * res
    if not math.isclose(bw, default, rel_tol=1e-9):
        notes.append(f"bin_width set to {bw * 1e3:g} ms ({k} sample(s) of the "
                     f"{1 / res:g} Hz time resolution) instead of {default * 1e3:g} ms")
        settings = {**settings, "bin_width": bw}
    return settings, notes


def _unit_frame(recording: Recording, estimate: Estimate) -> pd.DataFrame:
    ann = recording.spikes.annotations.get("unit_table")
    table = pd.DataFrame(ann).set_index("unit") if ann else pd.DataFrame(
        index=pd.Index(recording.spikes.units, name="unit"))
    st = recording.spikes
    dur = max(st.duration, 1e-12)
    status = table["qc_status"].astype(str) if "qc_status" in table else pd.Series(
        "ok", index=table.index)
    status = status.copy()
    kept = dict(zip(st.units.tolist(), st.counts().tolist(), strict=True))
    for u, s in zip(estimate.units.tolist(), estimate.unit_status.tolist(), strict=True):
        if s != "ok":
            status[u] = f"skipped by {estimate.method}: {s}"
    out = table.copy()
    out["n_spikes"] = [kept.get(int(u), 0) for u in out.index]
    out["rate_hz"] = out["n_spikes"] / dur
    out["status"] = ["used" if s == "ok" and int(u) in kept else s
                     for u, s in zip(out.index, status.reindex(out.index).fillna("ok"),
                                     strict=True)]
    ct = dict(zip(estimate.units.tolist(), estimate.cell_type.tolist(), strict=True))
    out["inferred_type"] = [ct.get(int(u), "") for u in out.index]
    return out


def _summary(recording, estimate, units: pd.DataFrame, notes, alpha, correction,
             timings) -> str:
    from spikewire.io._common import quality_report

    st = recording.spikes
    q = quality_report(recording)
    lines = ["spikewire infer summary", "=======================",
             f"source: {st.annotations.get('source')} ({st.annotations.get('format')})",
             f"window: {st.t_start:g}-{st.t_stop:g} s ({st.duration:g} s); time resolution: "
             + (f"{recording.time_resolution * 1e3:g} ms ({1 / recording.time_resolution:g} Hz)"
                if recording.time_resolution else "unknown"),
             f"method: {estimate.method} {estimate.settings}", ""]
    used = units[units["status"] == "used"]
    lines.append(f"units: {len(used)} used, {len(units) - len(used)} dropped or skipped "
                 f"(of {len(units)} seen)")
    reasons = units.loc[units["status"] != "used", "status"].value_counts()
    for why, k in reasons.items():
        ids = units.index[units["status"] == why].tolist()
        lines.append(f"  {k} unit(s): {why}: {ids[:20]}{' ...' if len(ids) > 20 else ''}")
    if len(used):
        n = used["n_spikes"].to_numpy()
        r = used["rate_hz"].to_numpy()
        lines.append(f"spikes per used unit: min {n.min()}, median {int(np.median(n))}, max "
                     f"{n.max()} (rates {r.min():.3g}-{r.max():.3g} Hz, median "
                     f"{np.median(r):.3g} Hz); all units in units.csv")
    lines.append("")
    lines.append("data quality (rules in spikewire.io.quality):")
    for k, v in (q.get("totals") or {}).items():
        lines.append(f"  {k}: {v}")
    for g in (q.get("gaps") or [])[:10]:
        lines.append(f"  gap without spikes: {g[0]:g}-{g[1]:g} s")
    lines.extend(f"  note: {n}" for n in (q.get("notes") or []))
    lines.extend(f"  note: {n}" for n in notes)
    lines.append("")
    sig = estimate.significant(alpha, correction)
    adj = estimate.adjacency(alpha, correction)
    tested = estimate.pair_status == 0
    a = estimate.alpha if alpha is None else alpha
    c = estimate.correction if correction is None else correction
    lines.append(f"pairs tested: {int(tested.sum())}; significant at alpha={a:g} ({c}): "
                 f"{int(sig.sum())} (excitatory {int((adj > 0).sum())}, inhibitory "
                 f"{int((adj < 0).sum())})")
    if estimate.pvalues is not None:
        fdr = estimated_fdr(np.where(tested, estimate.pvalues, np.nan), sig)
        lines.append("estimated false-discovery rate among them (Storey 2002): "
                     + ("n/a (nothing significant)" if math.isnan(fdr) else f"{fdr:.3f}"))
    types = pd.Series(estimate.cell_type).value_counts()
    lines.append("inferred unit types: " + ", ".join(f"{k}: {v}" for k, v in types.items()))
    lines.append("")
    lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return "\n".join(lines) + "\n"


def _figure(recording, estimate, path: Path, alpha, correction, n_ccg: int = 4) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikewire.infer.ccg import cross_correlograms, hollowed_gaussian_kernel

    order_key = {"E": 0, "I": 1, "?": 2}
    order = np.argsort([order_key.get(str(c), 3) for c in estimate.cell_type], kind="stable")
    n = estimate.n_units
    sig = estimate.significant(alpha, correction)
    # above 200 units a million noisy pixels hide the links: show the significant ones
    only_sig = n > 200
    shown = np.where(sig, estimate.weights, 0.0) if only_sig else estimate.weights
    w = shown[np.ix_(order, order)]
    fig = plt.figure(figsize=(13, 6), constrained_layout=True)
    gs = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(gs[:, :2])
    lim = float(np.nanpercentile(np.abs(w[w != 0]), 99)) if np.any(w != 0) else 1.0
    if only_sig:        # single pixels vanish when a 1000-row image is downsampled
        r, c = np.nonzero(w)
        im = ax.scatter(c, r, c=w[r, c], s=6, cmap="RdBu_r", vmin=-lim, vmax=lim,
                        marker="s", linewidths=0)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_aspect("equal")
    else:
        im = ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ct = np.asarray(estimate.cell_type)[order]
    for k in (int(np.sum(ct == "E")), int(np.sum((ct == "E") | (ct == "I")))):
        if 0 < k < n:
            ax.axhline(k - 0.5, color="k", lw=0.6)
            ax.axvline(k - 0.5, color="k", lw=0.6)
    ax.set_xlabel("pre unit (ordered E, I, unlabelled)")
    ax.set_ylabel("post unit")
    ax.set_title(f"{estimate.method} estimate{' (significant links)' if only_sig else ''} "
                 f"({n} units; "
                 f"{int(np.sum(ct == 'E'))} E, {int(np.sum(ct == 'I'))} I inferred)")
    fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02).set_label(f"weight ({estimate.weight_unit})")
    score = np.where(sig, estimate.scores if estimate.scores is not None
                     else np.abs(estimate.weights), -np.inf)
    ranked = [int(f) for f in np.argsort(score, axis=None)[::-1][:4 * n_ccg]
              if np.isfinite(score.flat[f])]
    # the strongest links of each sign first (two each), then the next strongest
    picks = [f for sgn in (1, -1)
             for f in [f for f in ranked if np.sign(estimate.weights.flat[f]) == sgn][:2]]
    picks += [f for f in ranked if f not in picks][: max(n_ccg - len(picks), 0)]
    pairs = [(f // n, f % n) for f in picks[:n_ccg]]
    if pairs:
        s = estimate.settings
        bw = float(s.get("bin_width") or 5e-4)      # None: automatic bin of the method
        max_lag = 0.05          # wider than shown, so the baseline is not edge-dominated
        ids = estimate.units
        ccg, lags = cross_correlograms(recording.spikes, bin_width=bw, max_lag=max_lag,
                                       pairs=[(ids[i], ids[j]) for i, j in pairs])
        sigma = float(s.get("baseline_sigma", 0.01)) / bw
        kernel = hollowed_gaussian_kernel(sigma, float(s.get("hollow_fraction", 0.6)))
        for k, (i, j) in enumerate(pairs):
            a = fig.add_subplot(gs[k // 2, 2 + k % 2]) if k < 4 else None
            if a is None:
                break
            c = ccg[i, j].astype(float)
            near = np.abs(lags) <= 0.02 + 1e-12
            a.bar(lags[near] * 1e3, c[near], width=bw * 1e3, color="0.5")
            if estimate.method == "ccg":
                h = kernel.size // 2
                base = np.convolve(np.pad(c, h, mode="reflect"), kernel, mode="valid")
                a.plot(lags[near] * 1e3, base[near], color="C3", lw=1, label="baseline")
            win = s.get("window")
            if win is not None:
                a.axvspan(win[0] * 1e3, win[1] * 1e3, color="C1", alpha=0.15)
            sign = "+" if estimate.weights[i, j] > 0 else "-"
            a.set_title(f"{ids[j]} → {ids[i]} ({sign})", fontsize=9)
            a.set_xlabel("lag post - pre (ms)", fontsize=8)
            a.tick_params(labelsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_infer(path: str | Path, *, method: str = "ccg", labels=None,
              interval: tuple[float, float] | None = None, out: str | Path | None = None,
              settings: dict | None = None, min_spikes: int = 20, alpha: float | None = None,
              correction: str | None = None, progress: bool = True, figure: bool = True,
              read_options: dict | None = None, validate: bool = False,
              validate_methods=(), validate_options: dict | None = None) -> InferResult:
    """Read ``path`` (any format of :func:`spikewire.io.read_recording`), run ``method`` and
    write the estimate table, figure, unit table and summary to ``out``.

    Parameters
    ----------
    path : path
        NWB file, phy folder or spike table.
    method : str, default "ccg"
        A registered inference method (:func:`spikewire.infer.list_methods`).
    labels : str or sequence of str, optional
        Keep units with these quality labels (e.g. "good").
    interval : (float, float), optional
        Analysis window in s.
    out : path, optional
        Output folder (default ``<input name>-spikewire`` beside the input).
    settings : dict, optional
        Method settings (e.g. ``{"alpha": 0.01}``).
    min_spikes : int, default 20
        Units with fewer spikes (after cleaning) are dropped with that reason.
    alpha, correction : optional
        Significance level and multiple-comparison control (default: the method's).
    progress : bool, default True
        Show a progress bar over the stages.
    figure : bool, default True
        Write ``estimate.png``.
    read_options : dict, optional
        Further reader options (selection, messy-data rules).
    validate : bool, default False
        Also run :func:`spikewire.io.validate.validate` on a matched surrogate and write
        ``validation.csv`` (scores per method and seed) and ``validation_statistics.csv``
        (the recording's rates, ISI CV, count correlations and synchrony beside the
        surrogate's); its summary, with a warning where the match is poor, is appended to
        ``summary.txt``.
    validate_methods : sequence of str
        Further methods to compare on the surrogate (``method`` is always included).
    validate_options : dict, optional
        Options of :func:`~spikewire.io.validate.validate` (``n_seeds``, ``max_duration``,
        ``hidden_fraction``, ...).
    """
    from tqdm.auto import tqdm

    from spikewire.infer import get_method_class
    from spikewire.infer.base import NotApplicableError
    from spikewire.io.estimates import write_estimate
    from spikewire.io.read import read_recording

    path = Path(path)
    cls = get_method_class(method)
    settings = dict(settings or {})
    cls.check_settings(settings)
    out = Path(out) if out is not None else path.parent / f"{path.stem}-spikewire"
    timings = {}
    stages = ["read", "infer", "write"] + (["figure"] if figure else []) + (
        ["validate"] if validate else [])
    bar = tqdm(total=len(stages), disable=not progress, desc="read", unit="step")
    try:
        t0 = time.perf_counter()
        rec = read_recording(path, labels=labels, interval=interval, min_spikes=min_spikes,
                             **(read_options or {}))
        timings["read"] = time.perf_counter() - t0
        if not cls.accepts(rec.kind):
            raise NotApplicableError(
                f"method {method!r} analyses {sorted(cls.input_kinds)} recordings; {path} "
                f"holds {rec.kind!r}; pick a method that accepts {rec.kind!r} (see "
                "`spikewire methods`)")
        if rec.n_units < 2:
            raise ValueError(f"{path}: only {rec.n_units} unit(s) left after selection and "
                             "cleaning; connectivity needs at least 2 (see the reasons with "
                             "spikewire.io.quality_report or lower --min-spikes)")
        settings, notes = choose_bins(cls, settings, rec)
        bar.update(1)
        bar.set_description(f"infer ({method}, {rec.n_units} units, "
                            f"{rec.spikes.n_spikes} spikes)")
        t0 = time.perf_counter()
        est = cls(**settings).fit(rec)
        timings["infer"] = time.perf_counter() - t0
        bar.update(1)
        bar.set_description("write")
        t0 = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        files = {"csv": write_estimate(est, out / "estimate.csv", alpha=alpha,
                                       correction=correction, settings="changed"),
                 "parquet": write_estimate(est, out / "estimate.parquet", alpha=alpha,
                                           correction=correction)}
        from spikewire.io.estimates import _settings_json

        (out / "settings.json").write_text(_settings_json({"method": method,
                                                           "settings": est.settings}))
        files["settings"] = out / "settings.json"
        units = _unit_frame(rec, est)
        units.to_csv(out / "units.csv")
        files["units"] = out / "units.csv"
        timings["write"] = time.perf_counter() - t0
        bar.update(1)
        if figure:
            bar.set_description("figure")
            t0 = time.perf_counter()
            files["figure"] = _figure(rec, est, out / "estimate.png", alpha, correction)
            timings["figure"] = time.perf_counter() - t0
            bar.update(1)
        val = None
        if validate:
            from spikewire.io.validate import validate as run_validate

            bar.set_description("validate (surrogate simulations)")
            t0 = time.perf_counter()
            names = [method] + [m for m in validate_methods if m != method]
            val = run_validate(rec, names, settings={method: settings}, alpha=alpha,
                               correction=correction, **(validate_options or {}))
            val.scores.to_csv(out / "validation.csv", index=False)
            files["validation"] = out / "validation.csv"
            if val.statistics is not None:
                val.statistics.rename_axis("statistic").to_csv(
                    out / "validation_statistics.csv")
                files["validation_statistics"] = out / "validation_statistics.csv"
            timings["validate"] = time.perf_counter() - t0
            bar.update(1)
    finally:
        bar.close()
    summary = _summary(rec, est, units, notes, alpha, correction, timings)
    if val is not None:
        summary += "\n" + val.summary() + "\n"
    (out / "summary.txt").write_text(summary)
    files["summary"] = out / "summary.txt"
    return InferResult(recording=rec, estimate=est, out=out, files=files, summary=summary,
                       timings=timings)
