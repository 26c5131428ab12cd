"""Conclusions, chance notes and figure conventions of the report (no simulation needed)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spikewire.report.findings import (
    chance_notes,
    conclusions,
    explain_chance,
    factor_effects,
    factor_label,
    plot_factors,
)


def _rows(design, seeds=(0, 1, 2), method="m", auc=None):
    """One row per (condition, seed): ``design`` is a list of factor dicts."""
    rows = []
    for k, cond in enumerate(design):
        for s in seeds:
            spec = {"network": {"params": {"J": 0.2, "g": 5.0, "delay": 2e-3},
                                "duration": 600.0},
                    "observation": {"steps": []}, "method": {"name": method, "settings": {}},
                    "dt": 1e-4}
            value = auc(k, s) if auc else 0.7
            rows.append({"status": "ok", "method": method, "method_name": method, "seed": s,
                         "spec": json.dumps(spec), "auc": value, **cond})
    return pd.DataFrame(rows)


def test_paired_effect_matches_the_t_distribution():
    # per-seed AUCs with a known paired difference of +0.10, +0.12, +0.11
    base = {0: 0.60, 1: 0.62, 2: 0.61}
    extra = {0: 0.10, 1: 0.12, 2: 0.11}
    df = _rows([{"network": "a"}, {"network": "b"}],
               auc=lambda k, s: base[s] + (extra[s] if k else 0.0))
    (eff,) = factor_effects(df, "network", ["auc"])
    d = np.array([0.10, 0.12, 0.11])
    assert eff.reference == "a" and eff.level == "b"
    assert eff.diff == pytest.approx(d.mean()) and eff.sd == pytest.approx(d.std(ddof=1))
    # reference: the two-sided t-test of the mean difference with n - 1 = 2 d.o.f.
    t = d.mean() / (d.std(ddof=1) / np.sqrt(3))
    assert eff.pvalue == pytest.approx(2 * stats.t.sf(t, 2), rel=1e-9)
    assert eff.significant
    text = eff.text()
    assert "0.610 → 0.720" in text and "+0.110 ± 0.010" in text and "significant at 5 %" in text


def test_conclusions_state_best_method_and_significance():
    base = {0: 0.60, 1: 0.62, 2: 0.61}
    df = pd.concat([
        _rows([{"network": "a"}, {"network": "b"}], method="good",
              auc=lambda k, s: base[s] + (0.1 + 0.01 * s if k else 0.0)),
        # no effect at all: the paired difference is exactly zero in every seed
        _rows([{"network": "a"}, {"network": "b"}], method="flat",
              auc=lambda k, s: 0.55 + 0.01 * s),
    ])
    found = dict(conclusions(df, ["network"], ["auc"]))
    best = found["Best method per condition"]
    assert best[1].startswith("b: best good (existence AUC 0.720 ± 0.017, 3 seeds)")
    lines = found["Effect of network variant"]
    assert "1 of 2 method × score × level comparisons change significantly" in lines[0]
    assert lines[1].startswith("network variant a → b: good: existence AUC 0.610 → 0.720")
    assert "Largest change without significance" in lines[2] and "flat" in lines[2]


def test_plot_factors_never_mixes_network_and_observation():
    # the demo's design: smoothed rates exist only for network variant e
    design = [{"network": n, "observation": "spikes"} for n in "abcd"]
    design.append({"network": "e", "observation": "smoothed"})
    shown = {f: rows for f, rows, _ in plot_factors(_rows(design), ["network", "observation"])}
    assert list(shown) == ["network"]          # observation alone would compare networks
    assert sorted(shown["network"]["network"].unique()) == list("abcde")


def test_plot_factors_keeps_only_strata_with_every_level():
    # the resolution study's design: sampling rate on one chain, frame rate on the other
    nan = float("nan")
    design = [{"observation": f"sampled[{fs}]", "obs.quantize.sampling_rate": fs,
               "obs.calcium.frame_rate": nan} for fs in (30000.0, 1000.0, 100.0)]
    design += [{"observation": f"calcium[{fr}]", "obs.quantize.sampling_rate": nan,
                "obs.calcium.frame_rate": fr} for fr in (10.0, 30.0)]
    factors = ["observation", "obs.quantize.sampling_rate", "obs.calcium.frame_rate"]
    shown = {f: rows for f, rows, _ in plot_factors(_rows(design), factors)}
    # each observation chain is one condition: side by side they mix nothing
    assert set(shown) == set(factors)
    assert shown["observation"]["observation"].nunique() == 5
    assert shown["obs.quantize.sampling_rate"]["observation"].str.startswith("sampled").all()
    assert len(shown["obs.calcium.frame_rate"]) == 2 * 3


def _cell(method="ccg", steps=(), delay=2e-3, settings=None):
    return {"network": {"params": {"J": 0.2, "g": 5.0, "delay": delay}, "duration": 600.0},
            "observation": {"steps": list(steps)},
            "method": {"name": method, "settings": settings or {}}, "dt": 1e-4}


def test_chance_explanations_name_the_cause():
    # explicit 0.5 ms CCG bins on spike times quantized to 1 kHz
    q1k = [{"step": "quantize", "sampling_rate": 1000.0}]
    why = explain_chance("auc_inh", 0.41, _cell(steps=q1k, settings={"bin_width": 5e-4}))
    assert "bins of 0.5 ms are finer than the data's time resolution (1 ms" in why
    # automatic bins (the default) follow the data's resolution: not the cause
    assert "finer than" not in explain_chance("auc_inh", 0.41, _cell(steps=q1k))
    # imaging at 10 Hz: 100 ms frames cannot order a 2 ms-delayed effect
    why = explain_chance("auc", 0.5, _cell(steps=[{"step": "calcium", "frame_rate": 10.0}]))
    assert "time resolution 100 ms" in why and "pre → post order is lost" in why
    # glmcc on one-step transmission
    why = explain_chance("sign_accuracy", 0.27, _cell("glmcc", delay="none"))
    assert "delay grid starts at 0.5 ms" in why
    # partial correlation is zero-lag
    why = explain_chance("auc", 0.52, _cell("partial_corr"))
    assert "zero-lag" in why
    # E/I accuracy equal to the E share: every unit labelled E
    why = explain_chance("ei_accuracy", 0.8, _cell("partial_corr"), e_share=0.8, ei_E=1.0,
                         ei_I=0.0)
    assert "labels (almost) every unit E" in why and "(0.80)" in why
    # most pairs untested: glmcc's minimum of coincident spikes
    why = explain_chance("auc", 0.51, _cell("glmcc"), untested=0.85)
    assert "85% of the pairs were left untested (GLMCC fits a pair only with at least 10" in why
    # nothing identifiable: the data's limit, with the synapse sizes and rate
    why = explain_chance("auc", 0.5, _cell("te", delay=2e-3), rate=3.7)
    assert "EPSPs of 0.2 mV and IPSPs of 1 mV at 3.7 Hz over 600 s" in why


def test_chance_notes_flag_only_scores_at_or_below_chance():
    df = _rows([{"network": "a", "observation": "spikes"}], method="partial_corr")
    df["ei_accuracy"] = 0.8
    df["ei_accuracy_E"] = 1.0
    df["ei_accuracy_I"] = 0.0
    df["auc"] = 0.51            # within the 0.02 margin of chance: flagged
    df["sign_accuracy"] = 0.9   # well above chance: not flagged
    notes = chance_notes(df, {"a": 0.8})
    assert sorted(n["score"] for n in notes) == ["auc", "ei_accuracy"]
    ei = next(n for n in notes if n["score"] == "ei_accuracy")
    assert ei["chance"] == pytest.approx(0.8) and "every unit E" in ei["why"]


def test_factor_axes_carry_units():
    from spikewire.report.figures import factor_figure

    design = [{"obs.quantize.sampling_rate": fs} for fs in (30000.0, 1000.0, 10.0)]
    fig = factor_figure(_rows(design), "obs.quantize.sampling_rate", ["auc"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "sampling rate (Hz)" and ax.get_ylabel() == "existence AUC"
    assert factor_label("net.J") == "EPSP amplitude J (mV)"
    assert factor_label("net.unknown") == "unknown (unit as in the spec)"


def test_weight_matrices_ordered_by_cell_type_with_colourbars():
    from spikewire.report.figures import weights_figure

    rng = np.random.default_rng(0)
    ct = np.array(["I", "E", "E", "I", "E", "E"])
    tw = np.where(ct == "E", 0.2, -1.0)[None, :] * (rng.random((6, 6)) < 0.5)
    np.fill_diagonal(tw, 0)
    art = {"true_weights": tw, "est_weights": tw * 3.0 + 0.0, "true_cell_type": ct,
           "weight_unit": np.array("widgets")}
    fig = weights_figure([("m", art)])
    order = np.r_[np.flatnonzero(ct == "E"), np.flatnonzero(ct == "I")]
    shown = np.asarray(fig.axes[1].images[0].get_array())
    np.testing.assert_array_equal(shown, tw[np.ix_(order, order)])
    # 3 panels + one colourbar per matrix, each labelled with its unit
    assert len(fig.axes) == 5
    labels = {a.get_ylabel() for a in fig.axes[3:]}
    assert labels == {"PSP (mV)", "widgets"}
    assert "widgets" in fig.axes[0].get_ylabel()


def test_ccg_panels_are_the_library_cross_correlograms():
    from spikewire import SpikeTrains
    from spikewire.infer.ccg import cross_correlograms
    from spikewire.report.figures import ccg_figure

    rng = np.random.default_rng(1)
    pre = np.sort(rng.uniform(0, 50, 400))
    post = np.sort(np.r_[rng.uniform(0, 50, 400), pre[::2] + 0.003])
    st = SpikeTrains.from_lists([post, pre], t_start=0.0, t_stop=50.1)
    w = np.array([[0.0, 0.5], [0.0, 0.0]])      # unit 1 → unit 0, excitatory
    fig = ccg_figure(st, w, np.array(["E", "E"]), bin_width=1e-3)
    heights = np.array([p.get_height() for p in fig.axes[0].patches])
    ccg, lags = cross_correlograms(st, bin_width=1e-3, max_lag=0.02, pairs=[(0, 1)])
    np.testing.assert_allclose(heights, ccg[0, 1] / pre.size / 1e-3)
    assert lags[np.argmax(heights)] == pytest.approx(0.003)


def test_chance_note_points_to_the_condition_where_the_method_works():
    # the same method: AUC 0.79 with one-step transmission, 0.48 with 2 ms delays
    rows = []
    for net, delay, auc in (("a", "none", 0.79), ("c", 2e-3, 0.48)):
        cell = _cell("ccg", delay=delay)
        for s in (0, 1):
            rows.append({"status": "ok", "network": net, "observation": "spikes",
                         "method": "ccg", "seed": s, "spec": json.dumps(cell), "auc_inh": auc})
    (note,) = chance_notes(pd.DataFrame(rows), metrics=["auc_inh"])
    assert note["network"] == "c"
    assert ("reaches 0.790 on a / spikes, which differs only in: delay 0.002 here vs none "
            "there") in note["why"]


def test_a_view_of_the_same_simulation_is_compared_with_that_simulation():
    # (e) observes the simulations of (d): its effect is e − d, not e − a
    rows = []
    for net, key, auc in (("a", "s_a", 0.6), ("d", "s_d", 0.8), ("e", "s_d", 0.7)):
        for s in (0, 1, 2):
            rows.append({"status": "ok", "network": net, "method": "m", "seed": s,
                         "sim_key": f"{key}{s}", "auc": auc + 0.01 * s * (net == "e")})
    found = dict(conclusions(pd.DataFrame(rows), ["network"], ["auc"]))
    lines = found["Effect of network variant"]
    assert "e against d (the same simulation, observed differently)" in lines[0]
    assert any(x.startswith("network variant d → e: m: existence AUC 0.800 → 0.710")
               for x in lines)


def test_chance_explanations_read_delay_ranges_and_builder_defaults():
    # a [lo, hi] delay range (scale_free_lif, hidden study) used to crash the report
    cell = _cell("partial_corr", delay=[1e-3, 5e-3])
    why = explain_chance("auc", 0.5, cell)
    assert "acts 3 ms later" in why                       # the range's mean
    # no delay in the spec: the registered builder's default (Izhikevich: 1-20 ms), so
    # glmcc is not told it faces one-step transmission
    izh = {"network": {"builder": "izhikevich", "params": {}, "duration": 600.0},
           "observation": {"steps": []}, "method": {"name": "glmcc", "settings": {}},
           "dt": 1e-4}
    assert "delay grid starts" not in explain_chance("sign_accuracy", 0.3, izh)
