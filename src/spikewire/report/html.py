"""The experiment report: one self-contained HTML page (figures embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
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


def summary_table(df: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """Mean ± s.d. (over seeds) of each metric per network × observation × method,
    with the number of finished and failed jobs and the mean inference time."""
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
        row["not applicable"] = int((g["status"] == "not applicable").sum())
        for m in metrics:
            v = ok[m].dropna() if m in ok else pd.Series(dtype=float)
            row[m] = (f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else
                      f"{v.mean():.3f}" if len(v) == 1 else "–")
        if "time_infer" in ok and len(ok):
            row["infer s"] = f"{ok['time_infer'].mean():.2f}"
        if row["failed"]:
            errs = g.loc[g["status"] == "error", "error_type"].dropna().unique()
            row["errors"] = ", ".join(map(str, errs[:3]))
        rows.append(row)
    out = pd.DataFrame(rows)
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


def _load_artifact(root: Path, job_id: str) -> dict | None:
    p = root / "artifacts" / f"{job_id}.npz"
    if not p.exists():
        return None
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def report_metrics(df: pd.DataFrame, root: str | Path) -> tuple[list[str], list[str] | None]:
    """(metrics to plot, metrics for the summary table) — the spec's ``[report] metrics``
    where given (those with values), else the defaults."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    metrics = metric_columns(ok) if not ok.empty else []
    chosen = _spec_report_settings(Path(root)).get("metrics")
    if chosen:
        picked = [m for m in chosen if m in ok and ok[m].notna().any()]
        if picked:
            return picked, picked[:7]
    return metrics, None


def _spec_report_settings(root: Path) -> dict:
    """The ``[report]`` table of the saved spec (e.g. ``metrics = ["auc", ...]``)."""
    spec_path = root / "spec.toml"
    if not spec_path.exists():
        return {}
    try:
        from spikewire.experiments.spec import _toml

        return dict(_toml().loads(spec_path.read_text()).get("report", {}))
    except Exception:  # noqa: BLE001 - a JSON-form spec has no [report]
        return {}


def _cache_dir(root: Path) -> Path:
    spec_path = root / "spec.toml"
    if spec_path.exists():
        try:
            from spikewire.experiments.spec import _toml

            cd = _toml().loads(spec_path.read_text()).get("experiment", {}).get("cache_dir")
            if cd:
                return Path(cd).expanduser()
        except Exception:  # noqa: BLE001 - fall back to the default location
            pass
    return root / "cache" / "sims"


def _network_section(root: Path, df: pd.DataFrame, max_networks: int) -> list[str]:
    from spikewire.core.spiketrains import SpikeTrains
    from spikewire.experiments.grid import build_network
    from spikewire.report.figures import ccg_figure, raster_figure

    parts = ["<h2>Networks: activity and example cross-correlograms</h2>"]
    cache = _cache_dir(root)
    first = df.sort_values("seed", kind="stable").drop_duplicates("network")
    first = first.drop_duplicates("sim_key")  # e.g. a rate view of the same simulation
    for _, row in first.head(max_networks).iterrows():
        path = cache / f"{row['sim_key']}.npz"
        if not path.exists():
            parts.append(f"<p>{html.escape(row['network'])}: simulation not cached.</p>")
            continue
        spikes = SpikeTrains.load(path)
        cell = json.loads(row["spec"])
        try:
            # registered builders only: a result folder must not make the report run code
            net = build_network(cell["network"], cell["seed"])
        except Exception as err:  # noqa: BLE001 - report what we can
            parts.append(f"<p>could not rebuild {html.escape(row['network'])}: "
                         f"{html.escape(str(err))}</p>")
            continue
        rates = spikes.rates()
        from spikewire.report.quick import isi_cv

        cv = np.nanmean(isi_cv(spikes))
        parts.append(f"<h3>{html.escape(row['network'])}</h3><p>{html.escape(repr(net))}; "
                     f"mean rate {rates.mean():.2f} Hz, mean ISI CV {cv:.2f}, "
                     f"{spikes.duration:g} s simulated (seed {row['seed']}).</p>")
        parts.append(_img(raster_figure(spikes, net.cell_type, title=row["network"]),
                          f"{row['network']}: raster (blue E, red I) and population rate"))
        delay = net.delays if np.isscalar(net.delays) else None
        parts.append(_img(ccg_figure(spikes, net.dense_weights(), net.cell_type,
                                     title=row["network"], delay=delay),
                          f"{row['network']}: cross-correlograms of an E link, an I link and "
                          "an unconnected pair (dashed: the synaptic delay)"))
    return parts


def _estimate_sections(root: Path, ok: pd.DataFrame, max_networks: int) -> list[str]:
    from spikewire.report.figures import roc_pr_figure, weights_figure

    parts = ["<h2>Inferred versus true weights, ROC and precision–recall</h2>",
             "<p>One seed and the first observation per network; blue: true E links, "
             "red: true I links, grey: no link.</p>"]
    if ok.empty:
        return parts + ["<p>No finished jobs.</p>"]
    seed0 = ok["seed"].min()
    for (net, obs), g in list(ok[ok["seed"] == seed0].groupby(["network", "observation"],
                                                                sort=False))[:max_networks]:
        items = []
        for _, row in g.iterrows():
            art = _load_artifact(root, row["job_id"])
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
    return parts


def write_report(results_dir: str | Path, out: str | Path | None = None, *,
                 max_networks: int = 8, title: str | None = None) -> Path:
    """Write ``report.html`` for an experiment folder and return its path.

    Sections: summary table; accuracy versus each swept factor (mean ± s.d. over seeds);
    per network a raster with population rate and example cross-correlograms; per network
    and method inferred-vs-true weight scatter, weight matrices and ROC / PR curves;
    failed jobs.
    """
    from spikewire.experiments.store import load_results
    from spikewire.report.figures import factor_figure

    root = Path(results_dir)
    df = in_grid_order(load_results(root), root)
    meta = json.loads((root / "meta.json").read_text()) if (root / "meta.json").exists() else {}
    name = title or meta.get("experiment", root.name)
    parts = [f"<h1>spikewire report: {html.escape(str(name))}</h1>",
             f"<p>{len(df)} jobs in <code>{html.escape(str(root.resolve()))}</code>; spikewire "
             f"{html.escape(str(meta.get('spikewire_version', '?')))}; generated "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>"]
    if df.empty:
        parts.append("<p>No results yet.</p>")
    else:
        ok = df[df["status"] == "ok"]
        metrics, table_metrics = report_metrics(df, root)
        table = summary_table(df, table_metrics)
        parts.append("<h2>Summary</h2><p>Mean ± s.d. over seeds of each score; "
                     "<em>ok</em>/<em>failed</em> count jobs.</p>")
        parts.append(table.to_html(index=False, escape=True, classes="summary", border=0))
        factors = swept_factors(ok)
        if metrics and factors:
            parts.append("<h2>Accuracy versus each swept factor</h2><p>Lines: methods; "
                         "points: mean over seeds (other factors averaged within each seed); "
                         "error bars: s.d. over seeds.</p>")
            for f in factors:
                col = "method_name" if f.startswith("method.") else "method"
                parts.append(_img(factor_figure(ok, f, metrics, method_col=col),
                                  f"scores versus {f}"))
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
            parts.append(f"<h2>Failed jobs ({len(failed)})</h2>")
            parts.append(failed[cols].head(50).to_html(index=False, escape=True, border=0,
                                                       classes="errors"))
    spec_path = root / "spec.toml"
    if spec_path.exists():
        parts.append("<h2>Spec</h2><pre>" + html.escape(spec_path.read_text()) + "</pre>")
    page = _PAGE.format(title=html.escape(str(name)), body="\n".join(parts))
    out = Path(out) if out is not None else root / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>spikewire report: {title}</title>
<style>
body {{ font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.4; padding: 0 1em; }}
h1 {{ font-size: 1.6em; }} h2 {{ border-bottom: 1px solid #ccc; margin-top: 2em; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; }}
th {{ background: #f4f4f4; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
figcaption {{ font-size: 0.85em; color: #555; }}
pre {{ background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.8em; }}
</style></head>
<body>
{body}
</body></html>
"""
