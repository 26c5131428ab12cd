"""The ring-profile figure of the report (inferred vs true profile per method)."""

import numpy as np
import pytest

from spikewire.networks.ring import ring_attractor
from spikewire.report.figures import ring_profile_figure


def _lines(ax):
    return {ln.get_label(): ln for ln in ax.get_lines()}


def test_profile_panels_show_scaled_estimate_on_the_truth():
    import matplotlib.pyplot as plt

    net = ring_attractor(n=20)
    keep = np.arange(0, 20, 2)                        # half of the ring recorded
    tw = net.weights[np.ix_(keep, keep)]
    rng = np.random.default_rng(0)
    noisy = -4.0 * tw + 1e-4 * rng.standard_normal(tw.shape)
    items = [("exact", {"true_index": keep, "true_weights": tw, "est_weights": -4.0 * tw}),
             ("noisy", {"true_index": keep, "true_weights": tw, "est_weights": noisy})]
    fig = ring_profile_figure(items, 20, title="t")
    try:
        ax = fig.axes[0]
        ln = _lines(ax)
        x_true, y_true = ln["true"].get_data()
        x_est, y_est = ln["exact × c"].get_data()
        # only even offsets have a recorded pair (units 0, 2, 4, ...); offset 0 is left out
        assert set(np.abs(x_true)) == {2, 4, 6, 8, 10}
        # true profile at each offset d = W(|d|); the estimate −4·W scaled by the L1 scale
        # c = −1/4 equals it exactly (up to float rounding)
        np.testing.assert_allclose(y_true, net.profile[np.abs(x_true).astype(int)], atol=1e-15)
        np.testing.assert_allclose(y_est, y_true, atol=1e-15)
        assert "c = -0.25" in ax.get_title()
        # the noisy estimate is close (noise sd 1e-4, 2.5e-5 after the scale c ≈ −1/4,
        # averaged over 10 pairs per offset: sd ≈ 1e-5, so < 1e-4 is a > 9 sd bound for
        # each of the 9 offsets; the profile itself is of magnitude ~1e-3) but not identical
        y_noisy = _lines(fig.axes[1])["noisy × c"].get_data()[1]
        assert 0 < np.max(np.abs(y_noisy - y_true)) < 1e-4
    finally:
        plt.close(fig)


def test_bad_ring_size_and_positions():
    item = ("m", {"true_index": np.arange(5), "true_weights": np.eye(5),
                  "est_weights": np.eye(5)})
    with pytest.raises(ValueError, match="n_ring=2"):
        ring_profile_figure([item], 2)
    with pytest.raises(ValueError, match="ring positions"):
        ring_profile_figure([item], 4)


def test_ring_study_report_shows_the_profile_figure(tmp_path):
    """The report of a tiny lif_ring sweep has the ring-profile figure (issue 19)."""
    from spikewire.experiments import run_experiment
    from spikewire.report import write_report

    spec = tmp_path / "ring.toml"
    spec.write_text("""
[experiment]
name = "tiny_ring"
duration = 20.0
dt = 1e-4
seeds = [0]

[[networks]]
name = "dale_ring"
builder = "lif_ring"
params = { n_exc = 24, n_inh = 6 }

[[observations]]
name = "e_ring"
steps = [{ step = "subsample", population = "E" }]

[[methods]]
name = "partial_corr"
settings = { null = "analytic" }

[runner]
kind = "inprocess"
""")
    out = tmp_path / "out"
    run_experiment(spec, out=out, progress=False)
    page = write_report(out).read_text()
    assert "inferred weight profile" in page
