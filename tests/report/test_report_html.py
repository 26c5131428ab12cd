"""The HTML report: content, embedded figures, rendering in a real browser."""

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
from sweep_fixtures import write_tiny

from spikewire.experiments import run_experiment
from spikewire.report import summary_table, write_report
from spikewire.report.figures import cross_correlogram


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
    for heading in ("Summary", "Accuracy versus each swept factor", "Networks: activity",
                    "Inferred versus true weights", "Spec"):
        assert heading in page
    # no external resources: every image is inline
    assert not re.search(r'src="(?!data:)', page)
    imgs = _images(page)
    # 3 swept factors (network, net.J, method.bin_width) + 3 networks x (raster + CCG)
    # + 3 network/observation pairs x (ROC/PR + weights)
    assert len(imgs) == 3 + 6 + 6
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


def test_cross_correlogram_matches_brute_force():
    rng = np.random.default_rng(0)
    pre = np.sort(rng.uniform(0, 5, 300))
    post = np.sort(np.r_[rng.uniform(0, 5, 300), pre[::3] + 0.003])
    centres, counts = cross_correlogram(pre, post, window=0.02, bin_width=1e-3)
    diffs = (post[None, :] - pre[:, None]).ravel()
    edges = np.arange(-0.02, 0.02 + 5e-4, 1e-3)
    expected, _ = np.histogram(diffs, edges)
    np.testing.assert_array_equal(counts, expected)
    assert centres[np.argmax(counts)] == pytest.approx(0.0035, abs=1e-3)


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
           "--window-size=1200,2400", f"--screenshot={shot}", page.resolve().as_uri()]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    img = imread(shot)[..., :3]
    assert img.shape[:2] == (2400, 1200)
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
