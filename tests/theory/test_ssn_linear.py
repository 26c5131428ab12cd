"""SSN steady states, regimes, maps; threshold-linear model; Brunel rates; bad input."""

import numpy as np
import pytest
from scipy.optimize import fsolve

from spikewire.theory import (
    SSN,
    brunel_stationary_rates,
    classify_linear_ei,
    design_inputs,
    detect_regimes,
    lif_rate,
    linear_rhs,
    persistent_activity,
    plot_phase_plane,
    plot_regime_map,
    regime_map,
    simulate_linear_ei,
    ssn_simulate,
    ssn_steady_states,
)


def _brute_force_states(m, h, rng, n_starts=120):
    """Steady states found by fsolve from random starts (finds unstable ones too)."""
    sols = []

    def F(v):
        return -v + m.transfer(m.W @ v + h)

    for _ in range(n_starts):
        v, _, ier, _ = fsolve(F, rng.uniform(0, 40, 2), full_output=True, xtol=1e-13)
        if ier == 1 and np.all(v >= -1e-9) and np.abs(F(v)).max() < 1e-8 and v.max() < 1e3:
            if not any(np.allclose(v, s, rtol=1e-5, atol=1e-7) for s in sols):
                sols.append(v)
    return sorted(sols, key=lambda x: x[0])


def test_steady_states_match_brute_force_on_random_networks():
    rng = np.random.default_rng(1)
    multi = 0
    for _ in range(12):
        W = np.array([[rng.uniform(0, 3), -rng.uniform(0, 3)],
                      [rng.uniform(0, 3), -rng.uniform(0, 3)]])
        m = SSN(W, rng.uniform(0.1, 1, 2), rng.uniform(-2, 2, 2), rng.uniform(1.5, 3.5, 2))
        h = rng.uniform(-2, 4, 2)
        ss = ssn_steady_states(m, h, max_rate=1e3)
        bf = _brute_force_states(m, h, rng)
        assert len(ss.rates) == len(bf)
        for x, y in zip(ss.rates, bf, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9)  # fsolve xtol-limited
        multi += len(bf) > 1
        # every reported state is an exact fixed point (bisection to machine precision)
        for r in ss.rates:
            np.testing.assert_allclose(m.transfer(m.W @ r + h), r, rtol=1e-9, atol=1e-12)
    assert multi >= 1  # the sample includes multi-state cases


def _bistable_ssn():
    # E supralinear (n=2), strong recurrent excitation, inhibition with a higher threshold
    return SSN([[1.0, -0.6], [1.2, -0.2]], a=[0.5, 0.5], b=[0.0, 4.0], n=[2.0, 2.0])


def test_bistability_stability_and_dynamics():
    m = _bistable_ssn()
    ss = ssn_steady_states(m, (-0.5, 0.0))
    assert len(ss.rates) == 3 and ss.n_stable == 2
    assert ss.kind[1] == "saddle"  # the middle state separates the two attractors
    # parity: det W > 0 gives an odd number of states
    assert m.det > 0 and len(ss.rates) % 2 == 1
    lo, hi = ss.stable_rates
    # dynamics from just below / above the saddle go to the low / high state
    mid = ss.rates[1]
    for sign, target in ((-1, lo), (1, hi)):
        tr = ssn_simulate(m, (-0.5, 0.0), duration=2.0, dt=2e-4,
                          rates0=mid * (1 + sign * 0.05))
        assert not tr.diverged
        np.testing.assert_allclose(tr.rates[-1], target, rtol=1e-4, atol=1e-6)
    d = detect_regimes(m, (-0.5, 0.0))
    assert d["bistable"]
    # the vector field vanishes at every steady state; phase plane with both attractors
    f = m.rhs((-0.5, 0.0))
    for r in ss.rates:
        np.testing.assert_allclose(f(r[0], r[1]), (0.0, 0.0), atol=1e-8)
    ax = plot_phase_plane(f, xlim=(0, 8), ylim=(0, 8),
                          fixed_points=[(r, s) for r, s in zip(ss.rates, ss.stable, strict=True)])
    assert len(ax.lines) >= 3


def test_no_steady_state_is_reported_not_nan():
    # det W < 0 with strong excitation: rates run away
    m = SSN([[3.0, -0.5], [0.5, -0.5]], a=[1.0, 1.0], b=[0.0, 0.0], n=[2.0, 2.0])
    ss = ssn_steady_states(m, (5.0, 1.0))
    assert not ss.exists and ss.rates.shape == (0, 2)
    assert "no steady state" in ss.summary()
    assert ssn_simulate(m, (5.0, 1.0), duration=1.0).diverged


def test_isn_paradoxical_and_supersaturation_conditions():
    m = SSN([[1.2, -1.0], [1.5, -0.5]], a=[0.3, 0.3], b=[0.0, 0.0], n=[2.0, 2.0])
    thr = m.isn_threshold()
    for h in [(0.5, 0.5), (3.0, 3.0)]:
        ss = ssn_steady_states(m, h)
        assert ss.n_stable == 1
        r = ss.stable_rates[0]
        # ISN flag equals "ν_E above the ISN threshold"; paradoxical ⇔ ISN in 2-D
        d = detect_regimes(m, h)
        assert d["isn"] == (r[0] > thr)
        assert d["paradoxical"] == d["isn"]
        # finite-difference response of ν_I to h_I has the sign the flag predicts
        r2 = ssn_steady_states(m, (h[0], h[1] + 1e-4)).stable_rates[0]
        assert (r2[1] < r[1]) == d["paradoxical"]
    # supersaturation along h ∝ (1, r): finite difference in μ_ext agrees with the flag
    for mu, rr in [(2.0, 2.5), (2.0, 0.2)]:
        d = detect_regimes(m, (mu, rr * mu), r=rr)
        e0 = d["steady_states"].stable_rates[0][0]
        e1 = ssn_steady_states(m, (mu + 1e-4, rr * (mu + 1e-4))).stable_rates[0][0]
        assert (e1 < e0) == d["supersaturating"]


def test_regime_map_consistent_with_pointwise_solver_and_fast():
    import time

    m = _bistable_ssn()
    mu = np.linspace(-1, 6, 200)
    r = np.linspace(0, 2, 200)
    t0 = time.perf_counter()
    rm = regime_map(m, mu, r)
    elapsed = time.perf_counter() - t0
    assert elapsed < 20  # the issue asks for "seconds"; ~1-2 s on a laptop core
    rng = np.random.default_rng(0)
    for _ in range(30):
        i, k = rng.integers(200), rng.integers(200)
        ss = ssn_steady_states(m, (mu[k], r[i] * mu[k]))
        assert rm.n_states[i, k] == len(ss.rates)
        assert rm.n_stable[i, k] == ss.n_stable
    assert rm.bistable.any() and not rm.no_steady_state.all()
    ax = plot_regime_map(rm)
    assert ax.get_xlabel().startswith("external input")


def test_persistent_activity_and_balanced_state():
    m = SSN([[1.0, -0.6], [1.2, -0.2]], a=[0.5, 0.5], b=[-0.2, 4.0], n=[2.0, 2.0])
    pa = persistent_activity(m)
    assert pa.shape[0] >= 1 and np.all(pa[:, 0] > 0)
    # balanced limit ν = -W⁻¹h: exists for r < J_II/J_EI and r < J_IE/J_EE, stable iff det>0
    d = detect_regimes(m, (1.0, 0.1))
    np.testing.assert_allclose(d["balanced_rates"], -np.linalg.solve(m.W, [1.0, 0.1]))
    assert d["balanced_exists"] == bool(np.all(d["balanced_rates"] > 0))
    assert d["balanced_stable"] == (d["balanced_exists"] and m.det > 0)


def test_linear_model_analytic_fixed_point_and_eigenvalues():
    M = np.array([[1.5, -2.0], [2.0, -0.5]])
    h = np.array([5.0, 2.0])
    tau = np.array([0.02, 0.01])
    res = classify_linear_ei(M, h, tau)
    fp = res.primary
    # fixed point (1 - M) ν = h
    np.testing.assert_allclose(fp.rates, np.linalg.solve(np.eye(2) - M, h), rtol=1e-12)
    tr = (M[0, 0] - 1) / tau[0] + (M[1, 1] - 1) / tau[1]
    det = ((M[0, 0] - 1) * (M[1, 1] - 1) - M[0, 1] * M[1, 0]) / (tau[0] * tau[1])
    ev = np.sort_complex(fp.eigenvalues)
    expect = np.sort_complex(np.array([tr / 2 + np.sqrt(complex(tr**2 / 4 - det)),
                                       tr / 2 - np.sqrt(complex(tr**2 / 4 - det))]))
    np.testing.assert_allclose(ev, expect, rtol=1e-12)
    assert fp.kind == "stable focus"  # tr < 0, tr² < 4 det


@pytest.mark.parametrize("M, h, kind", [
    ([[0.5, -1.0], [1.0, -0.5]], [10.0, 5.0], "stable focus"),
    ([[0.2, -0.1], [0.1, -3.0]], [10.0, 5.0], "stable node"),
    ([[4.0, -5.0], [2.0, -0.2]], [10.0, 2.0], "unstable focus"),
    ([[3.0, -1.0], [1.0, -1.0]], [-2.0, 5.0], "saddle"),
])
def test_linear_model_classification(M, h, kind):
    res = classify_linear_ei(M, h)
    assert res.primary is not None and res.primary.kind == kind
    if kind == "unstable focus":
        # rectification bounds the oscillation: a limit cycle, not divergence
        t, r, div = simulate_linear_ei(M, h, duration=2.0, rates0=res.primary.rates + 0.1)
        assert res.limit_cycle and not div
        a1 = np.ptp(r[(t > 1.0) & (t <= 1.5), 0])
        a2 = np.ptp(r[t > 1.5, 0])
        # sustained: the amplitude neither decays nor grows between successive windows
        assert a1 > 0.1 and a2 == pytest.approx(a1, rel=0.05)


def test_phase_plane_figure():
    M, h = [[1.5, -2.0], [2.0, -0.5]], [5.0, 2.0]
    _, r, _ = simulate_linear_ei(M, h, rates0=(10.0, 1.0), duration=0.5)
    res = classify_linear_ei(M, h)
    ax = plot_phase_plane(linear_rhs(M, h), trajectories=[r],
                          fixed_points=[(fp.rates, fp.stable) for fp in res.fixed_points],
                          xlim=(0, 12), ylim=(0, 12))
    assert len(ax.lines) >= 3


def test_brunel_rates_self_consistent():
    g = np.array([3.0, 5.0, 6.0, 4.5])
    eta = np.array([2.0, 2.0, 4.0, 0.9])
    br = brunel_stationary_rates(g, eta)
    assert np.all(br.n_solutions % 2 == 1)  # Φ bounded, Φ(0) >= 0: odd number of crossings
    tau, J, C = 0.02, 0.1, 1000
    for k in range(4):
        for nu in br.rates[k][br.valid[k]]:
            nu_ext = eta[k] * 20.0 / (J * C * tau)
            mu = C * J * tau * (nu_ext + nu * (1 - g[k] * 0.25))
            s = np.sqrt(C * J * J * tau * (nu_ext + nu * (1 + g[k] ** 2 * 0.25)))
            assert float(lif_rate(mu, s)) == pytest.approx(nu, rel=1e-8, abs=1e-10)
    # high activity for g < 4, low for g > 4 (Brunel 2000, Fig 2)
    assert br.high[0] > 100 and br.low[1] < 60
    from spikewire.theory import plot_brunel_diagram

    gg, ee = np.linspace(0, 8, 30), np.linspace(0.1, 4, 25)
    G, E = np.meshgrid(gg, ee)
    full = brunel_stationary_rates(G, E)
    assert (full.n_solutions == 3).any()  # low-η multistability (Brunel's Fig 2 bottom)
    ax = plot_brunel_diagram(gg, ee, full, sweep=[{"g": 5.0, "eta": 2.0, "regime": "AI"}])
    assert ax.get_ylabel().startswith("ν_ext")


def test_design_inverts_steady_states():
    m = SSN([[0.5, -0.6], [0.8, -0.4]], a=[0.05, 0.05], b=[2.0, 2.0], n=[2.5, 2.5])
    target = np.array([[1.0, 2.0], [3.0, 5.0], [0.5, 4.0]])
    des = design_inputs(m, target)
    for t, h, st in zip(target, des["inputs"], des["stable"], strict=True):
        ss = ssn_steady_states(m, h)
        assert np.any(np.all(np.isclose(ss.rates, t, rtol=1e-8), axis=1))
        assert st == ss.stable[np.argmin(np.abs(ss.rates - t).sum(1))]


@pytest.mark.parametrize("call, match", [
    (lambda: ssn_steady_states(np.eye(3), (1, 1), 1, 0, 2), "2 x 2"),
    (lambda: ssn_steady_states([[1, 1], [1, -1]], (1, 1), 1, 0, 2), "column I"),
    (lambda: ssn_steady_states([[1, -1], [1, -1]], (1, 1), -1, 0, 2), "a must be > 0"),
    (lambda: ssn_steady_states([[1, -1], [1, -1]], (1, 1, 1), 1, 0, 2), "inputs"),
    (lambda: ssn_steady_states([[1, -1], [1, -1]], (1, 1), 1, 0, 2, tau=(-1, 1)), "tau"),
    (lambda: classify_linear_ei(np.ones((2, 3)), (1, 1)), "2 x 2"),
    (lambda: brunel_stationary_rates(-1.0, 2.0), "g must"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_degenerate_couplings_match_brute_force():
    rng = np.random.default_rng(7)
    # no E→I coupling (I decoupled from E), and no I→E coupling
    for W in ([[1.5, -1.0], [0.0, -0.5]], [[1.5, 0.0], [1.0, -0.5]], [[0.0, 0.0], [0.0, 0.0]]):
        m = SSN(W, a=[0.4, 0.3], b=[0.5, -0.5], n=[2.0, 2.5])
        for h in [(0.2, 1.0), (2.0, 0.0), (-1.0, -1.0)]:
            ss = ssn_steady_states(m, h, max_rate=1e3)
            bf = _brute_force_states(m, np.asarray(h), rng, n_starts=60)
            assert len(ss.rates) == len(bf), (W, h, ss.rates, bf)
            for x, y in zip(ss.rates, bf, strict=True):
                np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9)
