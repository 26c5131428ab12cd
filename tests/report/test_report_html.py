"""The HTML report: content, embedded figures, rendering in a real browser."""

import base64
import re
import shutil
import subprocess

import pytest
from sweep_fixtures import write_tiny

from spikewire.experiments import run_experiment
from spikewire.report import summary_table, write_report


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    out = tmp / "out"
    run_experiment(write_tiny(tmp), out=out, progress=False, allow_code=True)
    return out


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"',
                                                    page)]


def test_report_is_self_contained_with_all_sections(results):
    path = write_report(results)
    page = path.read_text()
    for heading in ("Conclusions", "Best method per condition", "Effect of network variant",
                    "Summary", "Accuracy versus each factor", "Networks: activity",
                    "Inferred versus true weights", "Spec"):
        assert heading in page
    # no external resources: every image is inline
    assert not re.search(r'src="(?!data:)', page)
    imgs = _images(page)
    # 3 factors shown (network, net.J within the "real" entry, method.bin_width) + 3
    # networks x (raster + CCG) + 3 network/observation pairs x (ROC/PR + weights)
    assert len(imgs) == 3 + 6 + 6
    # axes with units: the factor plots' captions name the unit-bearing labels
    assert "scores versus EPSP amplitude J (mV)" in page
    assert "scores versus method bin width (s)" in page
    assert all(im.startswith(b"\x89PNG") for im in imgs)
    for name in ("toy", "real[J=0.5]", "real[J=1.0]"):
        assert name in page


def test_summary_table_mean_and_sd_over_seeds(results):
    from spikewire.experiments import load_results

    df = load_results(results)
    table = summary_table(df, ["auc"])
    assert len(table) == 6 and (table["ok"] == 2).all() and (table["failed"] == 0).all()
    row = table.iloc[0]
    sel = df[(df["network"] == row["network"]) & (df["method"] == row["method"])]["auc"]
    assert row["auc"] == f"{sel.mean():.3f} ± {sel.std():.3f}"


def test_report_of_empty_folder_and_missing_folder(tmp_path):
    (tmp_path / "empty" / "results").mkdir(parents=True)
    page = write_report(tmp_path / "empty").read_text()
    assert "No results yet" in page
    with pytest.raises(FileNotFoundError, match="no results folder"):
        write_report(tmp_path / "nowhere")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None, reason="Chromium not installed (make sysdeps)")
def test_report_renders_in_headless_chromium(results, tmp_path):
    from matplotlib.image import imread

    page = write_report(results, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
           "--window-size=1200,6000", f"--screenshot={shot}", page.resolve().as_uri()]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    img = imread(shot)[..., :3]
    # tall enough to reach the figures below the conclusions and the summary table
    assert img.shape[:2] == (6000, 1200)
    # a rendered page, not a blank or error page: dark text, coloured figure lines, and a
    # large white background
    grey = img.mean(axis=2)
    assert (grey > 0.95).mean() > 0.5
    assert (grey < 0.3).mean() > 0.002
    colourful = (img.max(axis=2) - img.min(axis=2)) > 0.3
    assert colourful.mean() > 0.001


def test_spec_report_metrics_choose_the_columns(tmp_path):
    import pandas as pd

    from spikewire.report.html import report_metrics

    df = pd.DataFrame({"status": ["ok", "ok"], "auc": [0.5, 0.7], "mcc": [0.1, 0.2],
                       "frac_spurious": [0.3, float("nan")], "frac_direct": [float("nan")] * 2})
    assert report_metrics(df, tmp_path) == (["auc", "mcc", "frac_spurious"], None)
    (tmp_path / "spec.toml").write_text(
        '[report]\nmetrics = ["frac_direct", "frac_spurious", "mcc"]\n')
    # columns without any value are left out; the order is the spec's
    assert report_metrics(df, tmp_path) == (["frac_spurious", "mcc"], ["frac_spurious", "mcc"])


def test_conclusions_are_computed_from_the_results(results):
    import html

    from spikewire.experiments import load_results
    from spikewire.report import in_grid_order, swept_factors
    from spikewire.report.findings import EFFECT_METRICS, factor_effects

    page = write_report(results).read_text()
    df = in_grid_order(load_results(results), results)     # the reference: the spec's first
    ok = df[df["status"] == "ok"]
    # the count of significant paired effects the page states is the one the table implies
    metrics = [m for m in EFFECT_METRICS if m in ok and ok[m].notna().any()]
    effects = factor_effects(ok, "network", metrics)
    assert effects
    # each effect pairs exactly the seeds where both the reference and the level have a
    # value (a score can be undefined in a seed, e.g. sign accuracy with no true link
    # called): recount them from the table
    for e in effects:
        d = ok[ok["method"] == e.method]
        per_seed = d.groupby(["network", "seed"])[e.metric].mean().unstack("seed")
        both = per_seed.loc[e.reference].notna() & per_seed.loc[e.level].notna()
        assert e.n_seeds == int(both.sum()) >= 1, e
    assert any(e.n_seeds == 2 for e in effects)
    n_sig = sum(e.significant for e in effects)
    assert f"{n_sig} of {len(effects)} method × score × level comparisons" in page
    # and each stated effect is one of them, with its numbers
    sig = sorted([e for e in effects if e.significant], key=lambda e: -abs(e.diff))
    shown = sig[:1] or [max(effects, key=lambda e: abs(e.diff))]
    assert html.escape(shown[0].text()) in page
    assert "Only 2 seed(s): a paired t-test has 1 degree(s) of freedom" in page
    assert set(swept_factors(ok)) >= {"network", "net.J", "method.bin_width"}


def test_a_failed_write_keeps_the_previous_report(results, tmp_path, monkeypatch):
    import os

    import spikewire.report.html as rh

    target = tmp_path / "report.html"
    write_report(results, target)
    good = target.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rh.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_report(results, target)
    assert target.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["report.html"]      # no temporary file left


def test_every_builtin_study_states_its_regime():
    from spikewire.experiments import list_studies, load_spec

    for name in list_studies():
        spec = load_spec(name)
        desc = spec.experiment.description
        assert "Regime" in desc and "Why" in desc, name
        for net in spec.resolved_networks():
            if net["builder"] != "brunel":
                continue
            p = net["params"]
            # cortex-like: thousands of neurons, sub-mV EPSPs, a recorded subset
            assert p["n_neurons"] >= 1000 and p["J"] <= 1.0, (name, p)
        for obs in spec.resolved_observations():
            if name != "motifs":
                assert obs["steps"][0]["step"] == "subsample", (name, obs)
        # 10 minutes or more, except the demo sized for a few minutes on 2 cores
        assert spec.experiment.duration >= (120.0 if name == "demo" else 600.0), name


def test_report_never_runs_code_named_by_the_results(results, tmp_path, monkeypatch):
    import json

    import pandas as pd

    import spikewire.experiments.grid as grid

    folder = tmp_path / "copy"
    shutil.copytree(results, folder)
    # a results folder whose rows name a code builder (as a spec run with --allow-code would)
    for p in (folder / "results").glob("*.parquet"):
        df = pd.read_parquet(p)
        cell = json.loads(df.loc[0, "spec"])
        cell["network"]["builder"] = "os:system"
        df.loc[0, "spec"] = json.dumps(cell)
        df.to_parquet(p)

    def forbidden(*args, **kwargs):
        raise AssertionError("the report resolved a builder named by the results")

    monkeypatch.setattr(grid, "resolve_builder", forbidden)
    page = write_report(folder, tmp_path / "r.html").read_text()
    assert page.count("network not rebuilt, its builder os:system is code named by the") == 3
