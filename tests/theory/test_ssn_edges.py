"""ssn_steady_states at the edges of the active set (states with a nearly silent population)."""

import numpy as np
import pytest
from scipy.optimize import brentq

from spikewire.theory import ssn_steady_states

# Hennequin et al. (2018) two-population SSN: k = 0.3 Hz/mV², n = 2, tau_E/I = 20/10 ms
W = np.array([[1.25, -0.65], [1.2, -0.5]])
A, N = 0.3, 2.0
H_OFF = 2600 / 27  # equal inputs h_E = h_I = h: E switches off at h = 169/(0.65·0.3·9)


def _i_alone(h):
    """ν_I with E silent: ν = 0.3 (h - 0.5 ν)², the root below 2h (where h - 0.5ν > 0)."""
    return brentq(lambda v: v - A * (h - 0.5 * v) ** 2, 0.0, 2 * h, xtol=1e-14, rtol=1e-15)


def _check_fixed_point(rates, h):
    """√(ν/a) = [W ν + h]₊ up to the rounding of W ν + h itself (a few ulp of its terms)."""
    h = np.asarray(h, float)
    mu = W @ rates + h
    tol = 8 * np.finfo(float).eps * (np.abs(W) @ np.abs(rates) + np.abs(h))
    err = np.abs(np.sqrt(rates / A) - np.maximum(mu, 0))
    assert np.all(err <= tol + 1e-12 * np.abs(mu)), (rates, mu, err, tol)


def test_switch_off_value():
    # at h = H_OFF the silent-E state's E input -0.65 ν_I + h is exactly zero
    assert H_OFF - 0.65 * _i_alone(H_OFF) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("delta", [1e-6, 1e-4, 1e-2])
def test_state_just_below_switch_off(delta):
    h = H_OFF - delta
    st = ssn_steady_states(W, [h, h], A, 0.0, N)
    assert st.exists and st.n_stable == 1, st.summary()
    assert "without bound" not in st.summary()
    nu_e, nu_i = st.stable_rates[0]
    # near the edge ν_E → 0 and the E equation reduces to √(ν_E/a) = g0 (its linear terms
    # are O(ν_E)), g0 = h - 0.65 ν_I(h) the E input at the silent state: ν_E = a g0²
    # (5.1e-15 Hz at δ = 1e-6); neglected terms are O(√ν_E) relative, < 1e-3 here
    g0 = h - 0.65 * _i_alone(h)
    assert g0 > 0
    nu_e_pred = A * g0**2
    assert nu_e == pytest.approx(nu_e_pred, rel=2e-3 + 10 * np.sqrt(nu_e_pred))
    # and the state satisfies the fixed-point equations to the precision of their inputs
    _check_fixed_point(st.stable_rates[0], [h, h])
    assert nu_i == pytest.approx(_i_alone(h), rel=1e-6)


@pytest.mark.parametrize("delta", [1e-9, 1e-6, 1e-2])
def test_silent_state_just_above_switch_off(delta):
    h = H_OFF + delta
    st = ssn_steady_states(W, [h, h], A, 0.0, N)
    assert st.n_stable == 1, st.summary()
    np.testing.assert_allclose(st.stable_rates[0], [0.0, _i_alone(h)], rtol=1e-12)


def test_no_gap_across_edges():
    """A state exists on both sides of E's switch-off and of I's switch-on, at every δ."""
    deltas = np.concatenate([-np.geomspace(1e-1, 1e-10, 19), np.geomspace(1e-10, 1e-1, 19)])
    for d in deltas:
        st = ssn_steady_states(W, [H_OFF + d, H_OFF + d], A, 0.0, N)
        assert st.n_stable >= 1, (d, st.summary())
    # I switch-on with E active: h_I = b_I - W_IE ν_E exactly at threshold, E alone driven;
    # inhibition off (h_I very negative) the E-alone state solves ν = a (h_E + 1.25 ν)²
    # (lower root, exists for h_E <= 2/3; 2/15 Hz at h_E = 0.5), and I turns on once
    # 1.2 ν_E + h_I > 0
    h_e = 0.5
    nu_e_alone = brentq(lambda v: v - A * (h_e + 1.25 * v) ** 2, 0.0, 0.5, xtol=1e-15)
    assert nu_e_alone == pytest.approx(2 / 15, rel=1e-12)
    h_i_on = -1.2 * nu_e_alone
    for d in (-1e-3, -1e-8, 1e-8, 1e-3):
        st = ssn_steady_states(W, [h_e, h_i_on + d], A, 0.0, N)
        assert st.n_stable >= 1, (d, st.summary())
        low = st.rates[0]
        _check_fixed_point(low, [h_e, h_i_on + d])
        if d < 0:
            assert low[1] == 0.0
        else:  # ν_I ≈ a (1.2 ν_E + h_I)² ~ a d² (0.3e-16 Hz at d = 1e-8)
            assert 0 < low[1] < 10 * A * d**2 + 1e-300
