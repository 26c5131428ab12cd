"""The experiment report: one self-contained HTML page (figures embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_report", "summary_table", "metric_columns", "swept_factors", "in_grid_order",
           "report_metrics"]

# the scores shown first when present (names produced by spikewire.score)
PREFERRED_METRICS = ["auc", "mcc", "auc_exc", "auc_inh", "sign_accuracy", "ei_accuracy",
                     "ap", "f1", "weight_corr", "frac_direct", "frac_indirect",
                     "frac_common_input", "frac_spurious", "delay_mae", "average_precision"]
SUMMARY_METRICS = ["auc", "mcc", "auc_inh", "sign_accuracy", "ei_accuracy"]
_NOT_METRICS = {"seed", "finished_at", "rate_mean", "weight_scale", "delay_bias"}


def metric_columns(df: pd.DataFrame, limit: int = 6) -> list[str]:
    """Score columns of a results table, preferred ones first (at most ``limit``)."""
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])
               and c not in _NOT_METRICS and not c.startswith(("time_", "net.", "obs.",
                                                                "method.", "n_"))
               and df[c].notna().any()]
    pref = [m for m in PREFERRED_METRICS if m in numeric]
    if not pref:
        pref = [m for m in numeric if any(m.endswith(p) for p in PREFERRED_METRICS)]
    rest = [m for m in numeric if m not in pref]
    return (pref + rest)[:limit]


def swept_factors(df: pd.DataFrame) -> list[str]:
    """Columns that vary across the sweep (network, observation and ``vary`` factors)."""
    cand = ["network", "observation"] + [c for c in df.columns
                                         if c.startswith(("net.", "obs.", "method."))]
    return [c for c in cand if c in df.columns and df[c].nunique(dropna=True) > 1]


def summary_table(df: pd.DataFrame, metrics: list[str] | None = None,
                  notes: list[dict] | None = None) -> pd.DataFrame:
    """Mean ± s.d. (over seeds) of each metric per network × observation × method,
    with the number of finished and failed jobs and the mean inference time.

    ``notes`` (from :func:`spikewire.report.findings.chance_notes`) mark each score at or
    below chance with ``[k]``, the number of its explanation in the report's note list.
    """
    marks = {}
    for k, n in enumerate(notes or [], start=1):
        marks[(n.get("network"), n.get("observation"), n.get("method"), n["score"])] = k
    if df.empty:
        return pd.DataFrame()
    if metrics is None:
        ok = df[df["status"] == "ok"]
        metrics = [m for m in SUMMARY_METRICS if m in ok and ok[m].notna().any()] \
            or metric_columns(ok, limit=5)
    keys = [k for k in ("network", "observation", "method") if k in df.columns]
    rows = []
    for key, g in df.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = g[g["status"] == "ok"]
        row = dict(zip(keys, key, strict=True))
        row["ok"] = len(ok)
        row["failed"] = int((g["status"] == "error").sum())
        n_na = int(((g["status"] != "ok") & (g["status"] != "error")).sum())
        if n_na:
            row["not applicable"] = n_na
        for m in metrics:
            v = ok[m].dropna() if m in ok else pd.Series(dtype=float)
            row[m] = (f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else
                      f"{v.mean():.3f}" if len(v) == 1 else "–")
            mark = marks.get((row.get("network"), row.get("observation"), row.get("method"), m))
            if mark is not None:
                row[m] += f" [{mark}]"
        if "time_infer" in ok and len(ok):
            row["infer s"] = f"{ok['time_infer'].mean():.2f}"
        if row["failed"]:
            bad = g[g["status"] == "error"]
            msgs = (bad["error_type"].astype(str) + ": " + bad["error_message"].astype(str)
                    .str.slice(0, 160)) if "error_message" in bad else bad["error_type"]
            row["errors"] = " | ".join(map(str, pd.unique(msgs.dropna())[:2]))
        rows.append(row)
    out = pd.DataFrame(rows)
    if "not applicable" in out:
        out["not applicable"] = out["not applicable"].fillna(0).astype(int)
    if "infer s" in out:
        out["infer s"] = out["infer s"].fillna("–")
    if "errors" in out:
        out["errors"] = out["errors"].fillna("")
    return out


def in_grid_order(df: pd.DataFrame, root: str | Path) -> pd.DataFrame:
    """Rows of the current grid only (``jobs.json``), in the order the spec lists them."""
    jobs_file = Path(root) / "jobs.json"
    if df.empty or not jobs_file.exists():
        return df
    order = {j: k for k, j in enumerate(json.loads(jobs_file.read_text()))}
    df = df[df["job_id"].isin(order)]
    return df.iloc[np.argsort(df["job_id"].map(order).to_numpy(), kind="stable")]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(fig, alt: str) -> str:
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{html.escape(alt)}</figcaption></figure>")


def _artifact_path(root: Path, job_id: str) -> Path:
    """The report arrays of one job, in the folder the result store owns."""
    from spikewire.experiments import ResultStore

    return ResultStore(root).artifacts_dir / f"{job_id}.npz"


def _load_artifact(root: Path, job_id: str, method_name: str | None = None) -> dict | None:
    p = _artifact_path(root, job_id)
    if not p.exists():
        return None
    with np.load(p, allow_pickle=False) as z:
        art = {k: z[k] for k in z.files}
    if "weight_unit" not in art and method_name in _WEIGHT_UNITS:
        art["weight_unit"] = np.array(_WEIGHT_UNITS[method_name])
    return art


# the units built-in methods give their weights (used while artifacts do not store the
# estimate's ``weight_unit``)
_WEIGHT_UNITS = {
    "ccg": "excess spikes per pre spike",
    "glm": "summed coupling filter (log-rate gain)",
    "glmcc": "J (log-rate gain)",
    "partial_corr": "partial correlation",
    "te": "post spikes per bin per pre spike",
}


def report_metrics(df: pd.DataFrame, root: str | Path) -> tuple[list[str], list[str] | None]:
    """(metrics to plot, metrics for the summary table) — the spec's ``[report] metrics``
    where given (those with values), else the defaults."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    metrics = metric_columns(ok) if not ok.empty else []
    chosen = _spec_tables(Path(root)).get("report", {}).get("metrics")
    if chosen:
        picked = [m for m in chosen if m in ok and ok[m].notna().any()]
        if picked:
            return picked, picked[:7]
    return metrics, None


def _spec(root: Path) -> dict:
    """The saved spec of a result folder as a plain dict (``{}`` if absent or invalid).

    Read with the public :func:`spikewire.experiments.load_spec` (TOML) or
    :func:`~spikewire.experiments.parse_spec` (the JSON form saved for a dict spec).
    """
    spec_path = root / "spec.toml"
    if not spec_path.exists():
        return {}
    try:
        from spikewire.experiments import load_spec, parse_spec

        text = spec_path.read_text()
        if text.startswith("# generated from a dict spec"):
            data = json.loads("\n".join(line[2:] for line in text.splitlines()[1:]))
            return parse_spec(data).model_dump()
        return load_spec(spec_path).model_dump()
    except Exception:  # noqa: BLE001 - an outdated or partial spec: report without it
        return {}


def _spec_tables(root: Path) -> dict:
    """The saved spec's TOML tables as written (also for a partial spec, e.g. only a
    ``[report]`` table); ``{}`` if absent or not TOML."""
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    spec_path = root / "spec.toml"
    try:
        return tomllib.loads(spec_path.read_text()) if spec_path.exists() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _cache_dir(root: Path) -> Path:
    """Where the run put its simulations: ``experiment.cache_dir`` or the default."""
    cd = _spec(root).get("experiment", {}).get("cache_dir")
    return Path(cd).expanduser() if cd else root / "cache" / "sims"


def _network_section(root: Path, df: pd.DataFrame, max_networks: int) -> list[str]:
    from spikewire.core.spike_stats import isi_cv
    from spikewire.core.spiketrains import SpikeTrains
    from spikewire.experiments.grid import BUILDERS, build_network
    from spikewire.experiments.job import sim_path
    from spikewire.report.figures import ccg_figure, raster_figure

    parts = ["<h2>Networks: activity and example cross-correlograms</h2>",
             "<p>All simulated neurons (the truth, before observation); correlograms of the "
             "most active E link, I link and unconnected pair among 200 neurons (160 E, "
             "40 I), "
             "as the rate of the postsynaptic neuron around a presynaptic spike.</p>"]
    cache = _cache_dir(root)
    first = df.sort_values("seed", kind="stable").drop_duplicates("network")
    first = first.drop_duplicates("sim_key")  # e.g. a rate view of the same simulation
    for _, row in first.head(max_networks).iterrows():
        path = sim_path(cache, row["sim_key"])
        if not path.exists():
            parts.append(f"<p>{html.escape(row['network'])}: simulation not cached.</p>")
            continue
        spikes = SpikeTrains.load(path)
        cell = json.loads(row["spec"])
        if cell["network"]["builder"] not in BUILDERS:
            # writing a report never runs code named by a results folder's spec
            parts.append(f"<p>{html.escape(row['network'])}: network not rebuilt, its builder "
                         f"{html.escape(cell['network']['builder'])!s} is code named by the "
                         "spec (not a registered builder).</p>")
            continue
        try:
            net = build_network(cell["network"], cell["seed"])
        except Exception as err:  # noqa: BLE001 - report what we can
            parts.append(f"<p>could not rebuild {html.escape(row['network'])}: "
                         f"{html.escape(str(err))}</p>")
            continue
        rates = spikes.rates()
        cv = np.nanmean(isi_cv(spikes))
        parts.append(f"<h3>{html.escape(row['network'])}</h3><p>{html.escape(repr(net))}; "
                     f"mean rate {rates.mean():.2f} Hz, mean ISI CV {cv:.2f}, "
                     f"{spikes.duration:g} s simulated (seed {row['seed']}).</p>")
        parts.append(_img(raster_figure(spikes, net.cell_type, title=row["network"]),
                          f"{row['network']}: raster (blue E, red I) and population rate"))
        delay = net.delays if np.isscalar(net.delays) else None
        dt = float(cell.get("dt", 1e-4))
        bw = max(1e-3, dt)
        parts.append(_img(ccg_figure(spikes, net.dense_weights(), net.cell_type,
                                     title=row["network"], delay=delay, bin_width=bw),
                          f"{row['network']}: cross-correlograms ({bw * 1e3:g} ms bins) of "
                          "an E link, an I link and an unconnected pair (dashed: the "
                          "synaptic delay)"))
    return parts


def _estimate_sections(root: Path, ok: pd.DataFrame, max_networks: int) -> list[str]:
    from spikewire.report.figures import roc_pr_figure, weights_figure

    parts = ["<h2>Inferred versus true weights, ROC and precision–recall</h2>",
             "<p>One seed and each network / observation; scatter: blue true E links, "
             "red true I links, grey no link. Matrices are post × pre over the recorded "
             "units, ordered E then I (lines: the block boundary), so Dale's law shows as "
             "blue (positive) E columns and red (negative) I columns; each colourbar gives "
             "the unit.</p>"]
    if ok.empty:
        return parts + ["<p>No finished jobs.</p>"]
    seed0 = ok["seed"].min()
    for (net, obs), g in list(ok[ok["seed"] == seed0].groupby(["network", "observation"],
                                                                sort=False))[:max_networks]:
        items = []
        for _, row in g.iterrows():
            art = _load_artifact(root, row["job_id"], row.get("method_name"))
            if art is not None and art["true_weights"].size:
                items.append((row["method"], art))
        if not items:
            continue
        title = f"{net} / {obs}"
        parts.append(f"<h3>{html.escape(title)}</h3>")
        parts.append(_img(roc_pr_figure(items, title=title),
                          f"{title}: link existence ROC and precision–recall"))
        parts.append(_img(weights_figure(items[:6]),
                          f"{title}: inferred vs true weights and weight matrices"))
        ring = _ring_profile_part(g.iloc[0], items, title)
        if ring:
            parts.append(ring)
    return parts


def _ring_profile_part(row, items: list, title: str) -> str:
    """The inferred-vs-true weight profile figure when the row's network is a ring.

    The network is rebuilt from the row's stored cell through the registered builders
    only (never code a result folder names); items whose recorded units are not all on
    the ring are left out. Returns ``""`` when the network is not a ring.
    """
    from spikewire.experiments.grid import BUILDERS, build_network
    from spikewire.networks.ring import ring_of
    from spikewire.report.figures import ring_profile_figure

    try:
        cell = json.loads(row["spec"])
        if cell["network"]["builder"] not in BUILDERS:
            return ""
        ring = ring_of(build_network(cell["network"], cell["seed"]))
    except (KeyError, TypeError, ValueError):
        return ""
    if ring is None:
        return ""
    units = ring[1]
    on_ring = []
    for label, art in items:
        idx = np.asarray(art["true_index"], dtype=np.int64)
        pos = np.searchsorted(units, idx)
        if idx.size and np.all(pos < units.size) and np.array_equal(units[np.minimum(
                pos, units.size - 1)], idx):
            on_ring.append((label, {**art, "true_index": pos}))
    if not on_ring:
        return ""
    return _img(ring_profile_figure(on_ring, int(units.size), title=title),
                f"{title}: inferred weight profile (times its L1 scale) against the true "
                "profile, by ring offset; side troughs far from offset 0 are the "
                "co-activation artifact")


def _e_shares(root: Path, ok: pd.DataFrame) -> dict[str, float]:
    """Share of E units among each network's scored units (from one artifact)."""
    out = {}
    for net, g in ok.groupby("network", sort=False):
        for job_id in g["job_id"]:
            p = _artifact_path(root, job_id)
            if p.exists():
                with np.load(p, allow_pickle=False) as z:
                    if "true_cell_type" in z.files and z["true_cell_type"].size:
                        out[net] = float(np.mean(z["true_cell_type"] == "E"))
                        break
    return out


def _findings_section(ok: pd.DataFrame, factors: list[str], notes: list[dict]) -> list[str]:
    from spikewire.report.findings import conclusions, metric_label

    parts = ["<h2>Conclusions</h2>",
             "<p class=lead>Computed from the results table: each factor's levels are "
             "compared with its first level seed by seed (the same seed draws the same "
             "connectivity, activity and observation), as mean ± s.d. over seeds of the "
             "paired difference with a paired t-test.</p>"]
    found = conclusions(ok, factors)
    if not found:
        parts.append("<p>No finished jobs to draw conclusions from.</p>")
    for heading, lines in found:
        parts.append(f"<h3>{html.escape(heading)}</h3><ul class=findings>"
                     + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>")
    if notes:
        parts.append("<h3>Scores at or below chance, and why</h3>"
                     "<p>Numbered as the [k] marks in the summary table. Chance: AUC and sign "
                     "accuracy 0.5, MCC 0, E/I accuracy the share of the larger cell type "
                     "(labelling every unit E).</p><ol class=notes>")
        for n in notes:
            where = " / ".join(str(n[k]) for k in ("network", "observation", "method") if k in n)
            parts.append(f"<li><b>{html.escape(where)}</b>: {html.escape(metric_label(n['score']))}"
                         f" {n['value']:.3f} (chance {n['chance']:.3f}) — "
                         f"{html.escape(n['why'])}.</li>")
        parts.append("</ol>")
    else:
        parts.append("<p>No score is at or below chance.</p>")
    return parts


def write_report(results_dir: str | Path, out: str | Path | None = None, *,
                 max_networks: int = 8, title: str | None = None) -> Path:
    """Write ``report.html`` for an experiment folder and return its path.

    Sections: the study's regime (its spec description); conclusions computed from the
    results (effect of each factor with seed-to-seed uncertainty and a paired test) and a
    numbered note for every score at or below chance saying why; summary table; accuracy
    versus each factor that can be shown without confounding (mean ± s.d. over seeds);
    per network a raster with population rate and example cross-correlograms; per network
    and method inferred-vs-true weight scatter, E/I-ordered weight matrices with colourbars
    and ROC / PR curves; failed jobs; the spec.

    The page is written to a temporary file in the target folder and moved into place with
    ``os.replace``, so a failed write never replaces a good report.
    """
    from spikewire.experiments import load_results
    from spikewire.report.figures import factor_figure
    from spikewire.report.findings import chance_notes, factor_label, plot_factors

    root = Path(results_dir)
    df = in_grid_order(load_results(root), root)
    meta = json.loads((root / "meta.json").read_text()) if (root / "meta.json").exists() else {}
    spec = _spec(root)
    name = title or meta.get("experiment", root.name)
    parts = [f"<h1>spikewire report: {html.escape(str(name))}</h1>",
             f"<p class=meta>{len(df)} jobs in <code>{html.escape(str(root.resolve()))}</code>; "
             f"spikewire {html.escape(str(meta.get('spikewire_version', '?')))}; generated "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>"]
    desc = spec.get("experiment", {}).get("description")
    if desc:
        parts.append(f"<h2>Study</h2><p class=regime>{html.escape(desc.strip())}</p>")
    if df.empty:
        parts.append("<p>No results yet.</p>")
    else:
        ok = df[df["status"] == "ok"]
        metrics, table_metrics = report_metrics(df, root)
        factors = swept_factors(ok)
        notes = chance_notes(ok, _e_shares(root, ok)) if not ok.empty else []
        parts += _findings_section(ok, factors, notes)
        table = summary_table(df, table_metrics, notes=notes)
        parts.append("<h2>Summary</h2><p>Mean ± s.d. over seeds of each score; "
                     "<em>ok</em>/<em>failed</em> count jobs; [k]: at or below chance, see "
                     "note k under Conclusions.</p><div class=scroll>")
        parts.append(table.to_html(index=False, escape=True, classes="summary", border=0))
        parts.append("</div>")
        shown = plot_factors(ok, factors) if metrics else []
        if shown:
            parts.append("<h2>Accuracy versus each factor</h2><p>Lines: methods; points: "
                         "mean over seeds (other factors averaged within each seed, only over "
                         "conditions that include every level); error bars: s.d. over seeds; "
                         "dashed: chance. A factor fixed by another (e.g. the observation "
                         "of a network variant) is shown within that factor's plot.</p>")
            for f, rows, note in shown:
                col = "method_name" if f.startswith("method.") else "method"
                parts.append(_img(factor_figure(rows, f, metrics, method_col=col, note=note),
                                  f"scores versus {factor_label(f)}"
                                  + (f" ({note})" if note else "")))
        try:
            parts += _network_section(root, df, max_networks)
        except Exception as err:  # noqa: BLE001 - a broken figure must not lose the report
            parts.append(f"<p>network figures failed: {html.escape(repr(err))}</p>")
        try:
            parts += _estimate_sections(root, ok, max_networks)
        except Exception as err:  # noqa: BLE001
            parts.append(f"<p>estimate figures failed: {html.escape(repr(err))}</p>")
        failed = df[df["status"] == "error"]  # "not applicable" cells are not failures
        if not failed.empty:
            cols = [c for c in ("network", "observation", "method", "seed", "stage",
                                "error_type", "error_message") if c in failed]
            parts.append(f"<h2>Failed jobs ({len(failed)})</h2><div class=scroll>")
            parts.append(failed[cols].head(50).to_html(index=False, escape=True, border=0,
                                                       classes="errors"))
            parts.append("</div>")
    spec_path = root / "spec.toml"
    if spec_path.exists():
        parts.append("<h2>Spec</h2><pre>" + html.escape(spec_path.read_text()) + "</pre>")
    page = _PAGE.format(title=html.escape(str(name)), body="\n".join(parts))
    out = Path(out) if out is not None else root / "report.html"
    _atomic_write(out, page)
    return out


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then ``os.replace`` it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spikewire report: {title}</title>
<style>
body {{ font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }}
h1 {{ font-size: 1.6em; overflow-wrap: anywhere; }}
h2 {{ border-bottom: 1px solid #ccc; margin-top: 2em; }}
code {{ overflow-wrap: anywhere; }}
.regime {{ background: #f5f8fc; border-left: 3px solid #4a7bb7; padding: 0.6em 0.9em; }}
ul.findings li, ol.notes li {{ margin: 0.25em 0; }}
.scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; }}
table.summary td {{ white-space: nowrap; }}
th {{ background: #f4f4f4; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; height: auto; }}
figcaption {{ font-size: 0.85em; color: #555; }}
pre {{ background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em;
      white-space: pre-wrap; overflow-wrap: anywhere; }}
@media (max-width: 600px) {{ body {{ margin: 1em auto; padding: 0 0.6em; }}
  table {{ font-size: 0.75em; }} h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.25em; }}
  /* figures keep a legible size and scroll sideways instead of shrinking to 1/3 */
  figure {{ overflow-x: auto; }} figure img {{ max-width: none; width: 720px; }} }}
</style></head>
<body>
{body}
</body></html>
"""
