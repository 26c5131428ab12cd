"""Ring metrics against hand-computed cases."""

import math

import numpy as np
import pytest

from spikewire.networks.ring import ring_attractor, ring_distance
from spikewire.score.ring import aligned_profile, bits_per_spike, l1_scale, profile_error


def test_l1_scale_is_weighted_median():
    # minimise |c-2| + |c-3| + 4|c-1| (x = (1, 1, 4)/ y = (2, 3, 4)): weighted median of
    # ratios (2, 3, 1) with weights (1, 1, 4) is 1
    assert l1_scale([1, 1, 4], [2, 3, 4]) == 1.0
    # exact proportionality: c recovered, including a negative one
    x = np.array([0.5, -1.0, 2.0])
    assert l1_scale(x, -3 * x) == -3.0
    assert l1_scale([0, 0], [1, 2]) == 0.0


def test_aligned_profile_of_circulant_is_its_row():
    net = ring_attractor(n=20)
    prof = aligned_profile(net.weights)
    np.testing.assert_allclose(prof, net.profile, atol=1e-15)


def test_profile_error_zero_for_scaled_truth_and_one_for_zero_estimate():
    net = ring_attractor(n=30)
    out = profile_error(-7.0 * net.weights, net)
    assert out["delta"] < 1e-12 and out["delta_full"] < 1e-12
    assert math.isclose(out["scale"], -1 / 7.0)
    out0 = profile_error(np.zeros((30, 30)), net)
    assert out0["delta"] == 1.0 and out0["delta_full"] == 1.0


def test_profile_error_hand_case():
    # n = 4 ring, true profile by offset (0, 1, 0, 1): W = circulant; estimate rows all
    # (0, 2, 1, 2)-aligned -> w̄ = (0, 2, 1, 2). L1 fit: ratios 0.5 (w 2), 0 (w 1), 0.5
    # (w 2) -> c = 0.5, rebuilt profile (0, 1, .5, 1): error only at offset 2 (4 entries
    # of 0.5) -> Δ = sqrt(4·0.25)/sqrt(8) = 1/sqrt(8).
    d = ring_distance(4)
    w_true = (d == 1).astype(float)
    est = np.where(d == 1, 2.0, np.where(d == 2, 1.0, 0.0))
    out = profile_error(est, w_true)
    assert out["scale"] == 0.5
    assert math.isclose(out["delta"], 1 / math.sqrt(8))


def test_constant_estimate_floor():
    # n = 4 ring, true profile (0, 1, 0, 1). A constant estimate has w̄ = (0, 1, 1, 1);
    # L1 fit: ratios (1, 0, 1) with equal weights -> median c = 1; rebuilt (0, 1, 1, 1):
    # error 1 at the 4 entries of offset 2 -> Δ_constant = sqrt(4)/sqrt(8) = 1/sqrt(2)
    d = ring_distance(4)
    w_true = (d == 1).astype(float)
    out = profile_error(w_true, w_true)
    assert out["delta"] == 0.0 and math.isclose(out["delta_constant"], 1 / math.sqrt(2))
    # any constant estimate (either sign, any size) scores exactly the floor
    const = profile_error(-3.0 * (1 - np.eye(4)), w_true)
    assert math.isclose(const["delta"], out["delta_constant"])
    # a ring whose every pair has the same weight is matched by a constant: floor 0; with
    # hidden neurons the floor is over the observed pairs
    net = ring_attractor(n=40)
    flat = -(1 - np.eye(40))
    assert profile_error(flat, flat)["delta_constant"] < 1e-12
    keep = np.arange(0, 40, 2)
    sub = profile_error(np.ones((20, 20)), net, positions=keep)
    assert math.isclose(sub["delta"], sub["delta_constant"])


def test_profile_error_with_hidden_neurons_uses_positions():
    net = ring_attractor(n=40)
    keep = np.arange(0, 40, 2)
    out = profile_error(3 * net.weights[np.ix_(keep, keep)], net, positions=keep)
    assert out["delta"] < 1e-12
    with pytest.raises(ValueError, match="positions"):
        profile_error(net.weights[np.ix_(keep, keep)], net)


def test_bits_per_spike_hand_case():
    # one unit, 4 bins, counts (1, 0, 1, 0): baseline rate 0.5. A model predicting 0.9 on
    # spike bins and 0.1 elsewhere: LL - LL0 = 2 ln 0.9 - 2 - (2 ln 0.5 - 2) = 2 ln 1.8
    y = np.array([[1, 0, 1, 0]])
    lam = np.array([[0.9, 0.1, 0.9, 0.1]])
    assert math.isclose(bits_per_spike(lam, y), 2 * math.log(1.8) / (2 * math.log(2)))
    # the homogeneous model itself scores 0
    assert bits_per_spike(np.full((1, 4), 0.5), y) == 0.0
    with pytest.raises(ValueError, match="> 0"):
        bits_per_spike(np.zeros((1, 4)), y)


def _estimate(w, true_index=None, diagnostics=None):
    from spikewire.infer import Estimate

    n = w.shape[0]
    return Estimate(weights=w, method="demo", settings={}, units=np.arange(n),
                    true_index=np.arange(n) if true_index is None else true_index,
                    diagnostics=diagnostics or {})


def test_side_ratio_hand_case():
    from spikewire.networks.ring import lif_ring

    net = lif_ring(n_exc=60, n_inh=5, sigma=3.0, j_ee=1.0)
    w = net.dense_weights()[:60, :60]
    assert profile_error(w, w)["side_ratio"] == 0.0          # no trough in the truth
    # add a trough of −0.5 at ring distance 25 (the Gaussian is exp(−625/18) ≈ 1e-15
    # there): side ratio = −0.5 / peak, the peak being exp(−1/18) at distance 1
    d = ring_distance(60)
    est = w - 0.5 * (d == 25)
    expected = (-0.5 + math.exp(-625 / 18)) / math.exp(-1 / 18)
    assert math.isclose(profile_error(est, w)["side_ratio"], expected, rel_tol=1e-9)
    # the ratio does not depend on the estimate's scale or sign (c absorbs it)
    assert math.isclose(profile_error(-4 * est, w)["side_ratio"], expected, rel_tol=1e-9)
    # inhibitory ring (true profile ≤ 0): a positive lobe of the scaled profile is the side
    # artifact; the truth itself has none
    ring = ring_attractor(n=30)
    assert profile_error(ring.weights, ring)["side_ratio"] == 0.0


def test_score_reports_ring_metrics_and_bits_per_spike():
    from spikewire.networks.ring import lif_ring
    from spikewire.score import score

    ring = ring_attractor(n=30)
    s = score(ring, _estimate(2 * ring.weights, diagnostics={"test_bits_per_spike": 0.3}))
    assert s["ring_delta"] < 1e-12 and s["ring_side_ratio"] == 0.0
    assert s["bits_per_spike"] == 0.3
    # a Dale ring recorded on its E ring only (hidden pool): Δ over the ring units
    net = lif_ring(n_exc=40, n_inh=10)
    keep = np.arange(0, 40, 2)
    w = net.dense_weights()[np.ix_(keep, keep)]
    s = score(net, _estimate(w, true_index=keep))
    assert s["ring_delta"] < 1e-12 and math.isnan(s["bits_per_spike"])
    # a flat estimate: the L1 fit of a constant to the Gaussian profile is its median
    # value; Δ is then far from 0 (computed independently through profile_error)
    flat = np.ones_like(w) - np.eye(len(keep))
    s2 = score(net, _estimate(flat, true_index=keep))
    ref = profile_error(flat, net.dense_weights()[:40, :40], positions=keep)
    assert math.isclose(s2["ring_delta"], ref["delta"]) and s2["ring_delta"] > 0.5
    # not a ring: NaN
    from spikewire.networks import brunel

    b = brunel(n_neurons=50, seed=1)
    s3 = score(b, _estimate(b.dense_weights()))
    assert math.isnan(s3["ring_delta"]) and math.isnan(s3["ring_side_ratio"])


def test_lif_ring_structure_and_bad_input():
    from spikewire.networks.ring import lif_ring, ring_of

    net = lif_ring(n_exc=30, n_inh=6, sigma=4.0, j_ee=1.2, j_ie=0.3, j_ei=0.7, j_ii=0.2)
    w = net.dense_weights()
    assert list(net.cell_type) == ["E"] * 30 + ["I"] * 6
    d = ring_distance(30)
    expect = 1.2 * np.exp(-d ** 2 / 32.0)
    np.fill_diagonal(expect, 0)
    np.testing.assert_allclose(w[:30, :30], expect)
    assert np.all(w[30:, :30] == 0.3) and np.all(w[:30, 30:] == -0.7)
    assert np.all(w[30:, 30:][~np.eye(6, dtype=bool)] == -0.2)
    assert np.all(np.diag(w) == 0)
    w_ring, units = ring_of(net)
    np.testing.assert_array_equal(units, np.arange(30))
    np.testing.assert_allclose(w_ring, expect)
    assert ring_of(ring_attractor(n=10))[1].size == 10
    with pytest.raises(ValueError, match="n_exc"):
        lif_ring(n_exc=2)
    with pytest.raises(ValueError, match="n_inh"):
        lif_ring(n_inh=0)
    with pytest.raises(ValueError, match="sigma"):
        lif_ring(sigma=0.0)


def test_glm_reports_held_out_bits_per_spike_to_score():
    """glm's ``test_bits_per_spike`` (what score() reports) is the validation block's
    prediction by the fit on the other bins, against each unit's mean count in the block:
    recomputed here from a fit on the first 80 % of the recording alone."""
    from spikewire.infer import get_method
    from spikewire.infer.glm import build_design
    from spikewire.infer.likelihood import bits_per_spike
    from spikewire.score import score
    from spikewire.simulate.ring import simulate_ring

    net = ring_attractor(n=24, spiking="lnp")
    st = simulate_ring(net, 6.0, seed=5).select(np.arange(0, 24, 4))   # 6 units
    kw = dict(bin_width=2e-3, penalties=[1.0], validation_fraction=0.2,
              population_timescales=None)
    est = get_method("glm", **kw).fit(st)
    bps = est.diagnostics["test_bits_per_spike"]
    # 3000 bins; the validation block is the last 600 (4.8 s .. 6 s). The training rows
    # see only earlier bins (causal filters), so the fold's fit equals a fit on 0 .. 4.8 s
    early = get_method("glm", **kw).fit(st.restrict(0.0, 4.8))
    m = get_method("glm", **kw)          # glm's default window and basis
    design = build_design(st, bin_width=2e-3, window=m.window, n_basis=m.n_basis,
                          last_peak=m._last_peak())
    eta = design.predictor(early.diagnostics["intercepts"], early.diagnostics["filters"])
    lam = np.exp(eta[2400:]).T
    y = np.asarray(st.binned(2e-3, sparse=False), dtype=float)[:, 2400:]
    ref = bits_per_spike(lam, y)
    # both fits stop at relative objective changes of 1e-7 / 1e-9: their parameters agree to
    # ~1e-4, the bits/spike to well under 1e-3
    assert abs(bps - ref) < 1e-3, (bps, ref)
    # the block's own mean count maximises a homogeneous model's likelihood on the block,
    # so the gain over it is never larger than heldout_bits_per_spike's (training rates)
    assert est.diagnostics["heldout_bits_per_spike"] >= bps - 1e-12
    assert score(net, est)["bits_per_spike"] == bps
