"""`spikewire infer PATH`: end to end on files written here, and its helpers."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spikewire import simulate
from spikewire.cli import app
from spikewire.infer.base import _REGISTRY, InferenceMethod, register
from spikewire.io import write_nwb, write_phy
from spikewire.io.cli_infer import choose_bins, estimated_fdr, parse_settings, run_infer
from spikewire.networks import brunel


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    net = brunel(80, epsilon=0.15, J=1.0, g=5.0, eta=2.0, delay=1.5e-3, seed=2)
    st = simulate(net, 5.0, seed=2)
    quality = np.where(np.arange(st.n_units) % 10 == 0, "noise", "good")
    path = write_nwb(st, d / "rec.nwb", sampling_rate=10_000,
                     unit_table=pd.DataFrame({"quality": quality}))
    return d, path, st, quality


def test_cli_infer_writes_table_figure_and_summary(recorded):
    d, path, st, quality = recorded
    out = d / "out"
    res = CliRunner().invoke(app, ["infer", str(path), "--method", "ccg", "--units", "good",
                                   "--interval", "0.5", "4.5", "--out", str(out),
                                   "--no-progress", "--set", "min_spikes=5"])
    assert res.exit_code == 0, res.output
    for f in ("estimate.csv", "estimate.parquet", "estimate.png", "summary.txt", "units.csv"):
        assert (out / f).stat().st_size > 0
    table = pd.read_parquet(out / "estimate.parquet")
    csv = pd.read_csv(out / "estimate.csv")
    # only what differs from the defaults: min_spikes and the automatic bin as resolved
    changed = json.loads(csv["settings"].iloc[0])
    assert csv["settings"].nunique() == 1
    assert changed == {"min_spikes": 5, "bin_width": pytest.approx(5e-4)}
    # the Parquet file keeps the text columns categorical (dictionary-encoded), the CSV as
    # plain text: same values
    assert isinstance(table["status"].dtype, pd.CategoricalDtype)
    text = ["status", "method", "weight_unit"]
    pd.testing.assert_frame_equal(csv.drop(columns="settings"),
                                  table.drop(columns="settings").astype({c: str for c in text}),
                                  check_dtype=False)
    n_good = int(np.sum(quality == "good"))
    assert len(table) == n_good * (n_good - 1)
    units = pd.read_csv(out / "units.csv", index_col=0)
    noise = st.units[quality == "noise"].tolist()
    assert units.loc[noise, "status"].str.startswith("not selected").all()
    # spikes per unit are those inside the interval
    k = int(np.flatnonzero(quality == "good")[0])
    t = st.train(k)
    assert units.loc[st.units[k], "n_spikes"] == int(np.sum((t >= 0.5) & (t < 4.5)))
    summary = (out / "summary.txt").read_text()
    assert f"units: {n_good} used, {len(noise)} dropped" in summary
    assert "not selected: quality='noise'" in summary
    sig = int((table["sign"] != 0).sum())
    exc, inh = int((table["sign"] > 0).sum()), int((table["sign"] < 0).sum())
    from spikewire.infer import get_method

    corr = get_method("ccg").correction          # the method's default correction
    assert f"significant at alpha=0.05 ({corr}): {sig} (excitatory {exc}, inhibitory " \
           f"{inh})" in summary
    assert "window: 0.5-4.5 s" in summary
    assert "false-discovery rate" in summary


def test_cli_infer_refuses_a_method_for_another_kind_of_data(recorded):
    @register
    class _FluorOnly(InferenceMethod):
        """Test method that reads only fluorescence."""

        name = "_test_fluorescence_only"
        input_kinds = frozenset({"fluorescence"})

    try:
        d, path, _, _ = recorded
        res = CliRunner().invoke(app, ["infer", str(path), "--method", "_test_fluorescence_only",
                                       "--out", str(d / "x"), "--no-progress"])
        assert res.exit_code == 2
        assert "analyses ['fluorescence'] recordings" in res.output
        assert "holds 'spikes'" in res.output
    finally:
        _REGISTRY.pop("_test_fluorescence_only", None)


def test_cli_infer_on_a_phy_folder_and_clear_errors(recorded, tmp_path):
    _, _, st, _ = recorded
    write_phy(st, tmp_path / "ks", sample_rate=1_000.0)
    res = run_infer(tmp_path / "ks", out=tmp_path / "o", progress=False, figure=False,
                    settings={"min_spikes": 5})
    # 1 kHz data: the CCG bin becomes one sample (1 ms) instead of 0.5 ms, and says so
    assert res.estimate.settings["bin_width"] == pytest.approx(1e-3)
    assert "bin_width set to 1 ms" in res.summary
    res = CliRunner().invoke(app, ["infer", str(tmp_path / "nothing.nwb"), "--no-progress"])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = CliRunner().invoke(app, ["infer", str(tmp_path / "ks"), "--method", "nope",
                                   "--no-progress"])
    assert res.exit_code == 2 and "unknown inference method 'nope'" in res.output


def test_estimated_fdr_matches_storey_by_hand():
    # 80 nulls spread uniformly on (0, 1) and 20 tiny p-values
    p = np.concatenate([np.linspace(0.0125, 1.0, 80), np.full(20, 1e-6)])
    sig = p < 0.02                       # 20 true + 1 null (p = 0.0125)
    # pi0 = #{p > 0.5} / (0.5 * 100) = 40 / 50; FDR = pi0 * m * max p_sig / R
    assert estimated_fdr(p, sig) == pytest.approx(0.8 * 100 * 0.0125 / 21)
    assert np.isnan(estimated_fdr(p, np.zeros(100, bool)))


def test_parse_settings_reads_literals_only(tmp_path):
    s = parse_settings(["alpha=0.01", "window=(5e-4, 3e-3)", "significance=jitter",
                        f"x=open({str(tmp_path / 'f')!r}, 'w')"])
    assert s["alpha"] == 0.01 and s["window"] == (5e-4, 3e-3)
    assert s["significance"] == "jitter" and isinstance(s["x"], str)
    assert not (tmp_path / "f").exists()
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_settings(["alpha"])


def test_choose_bins_keeps_user_settings():
    from spikewire import Recording, SpikeTrains
    from spikewire.infer import get_method_class

    rec = Recording(spikes=SpikeTrains.from_lists([[0.1], [0.2]], t_stop=1.0),
                    true_index=[-1, -1], sampling_rate=30_000.0)
    cls = get_method_class("ccg")
    assert choose_bins(cls, {}, rec) == ({}, [])            # 0.5 ms = 15 samples exactly
    assert choose_bins(cls, {"bin_width": 1e-3}, rec)[0] == {"bin_width": 1e-3}
    rec.sampling_rate = 3_000.0
    s, notes = choose_bins(cls, {}, rec)
    assert s["bin_width"] == pytest.approx(2 / 3_000) and notes


def test_cli_infer_validate_writes_the_surrogate_scores(recorded):
    d, path, _, _ = recorded
    out = d / "val"
    res = CliRunner().invoke(app, ["infer", str(path), "--units", "good", "--interval", "0",
                                   "2", "--out", str(out), "--no-progress", "--validate",
                                   "--validate-seeds", "1", "--set", "min_spikes=5"])
    assert res.exit_code == 0, res.output
    val = pd.read_csv(out / "validation.csv")
    assert val["method"].tolist() == ["ccg"] and val["auc"].between(0, 1).all()
    summary = (out / "summary.txt").read_text()
    assert "matched ground-truth surrogate" in summary
    assert "recommended:" in summary or "no method is reliable" in summary
    # the recording's statistics beside the surrogate's, in the summary and a table
    stats = pd.read_csv(out / "validation_statistics.csv", index_col="statistic")
    assert {"rate_median", "cv_median", "corr_mean", "synchrony"} <= set(stats.index)
    assert list(stats.columns) == ["recording", "surrogate_mean", "surrogate_sd", "poor"]
    assert "mean count correlation" in summary and "synchrony chi^2" in summary


def test_cli_infer_streamed_blocks_and_threads_give_the_same_table(recorded, tmp_path):
    # `--set block_size=... --set n_jobs=2` (ccg streamed over blocks of post units on two
    # threads, issue 16/18) writes the same estimate table as the default, value for value
    d, path, st, quality = recorded
    tables = []
    for k, extra in enumerate(([], ["--set", "block_size=7", "--set", "n_jobs=2"])):
        out = tmp_path / f"out{k}"
        res = CliRunner().invoke(app, ["infer", str(path), "--method", "ccg", "--out",
                                       str(out), "--no-progress", "--set", "min_spikes=5",
                                       *extra])
        assert res.exit_code == 0, res.output
        tables.append(pd.read_parquet(out / "estimate.parquet").drop(columns="settings"))
    assert (tables[0]["sign"] != 0).any()      # links were called, so signs are compared
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
