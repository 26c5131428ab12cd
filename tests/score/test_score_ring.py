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
