"""GLMCC: statistics, recovery on its own generative model, LIF pairs, low rates, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import expi
from scipy.stats import chi2

import spikewire as sw
from spikewire.infer import _glmcc_kernels as K
from spikewire.infer.glmcc import GLMCC, glmcc_rate, lr_statistic
from spikewire.networks import from_matrix

W, DELTA, TAU = 0.05, 0.001, 0.004


def _stats_from_lags(lags, delays, window=W, delta=DELTA, tau=TAU):
    """Brute-force sufficient statistics of a list of lags (reference)."""
    m = int(round(2 * window / delta))
    counts = np.histogram(lags, bins=m, range=(-window, window))[0]
    s_pos = np.array([np.sum(np.exp(-(lags[lags > d] - d) / tau)) for d in delays])
    s_neg = np.array([np.sum(np.exp(-(-lags[lags < -d] - d) / tau)) for d in delays])
    return counts, s_pos, s_neg


def test_special_functions_match_scipy():
    # E(x) = Ei(x) - γ - ln|x|; the bin integral against adaptive quadrature
    for x in (-5.0, -0.7, -1e-3, 2e-3, 0.9, 4.0):
        e0, e1, e2 = K._e_funcs(x)
        assert e0 == pytest.approx(expi(x) - np.euler_gamma - np.log(abs(x)), abs=1e-12)
        assert e1 == pytest.approx(np.expm1(x) / x, rel=1e-12)
        assert e2 == pytest.approx((x * np.exp(x) - np.expm1(x)) / x**2, rel=1e-7, abs=1e-12)
    d, t0, t1 = 0.001, 0.0015, 0.0025
    fhi, flo = np.exp(-(t0 - d) / TAU), np.exp(-(t1 - d) / TAU)
    for J in (-3.0, 0.4, 2.5):
        v, d1, _ = K._bin_integral(J, fhi, flo, DELTA, TAU)
        f = lambda t, J=J: np.exp(J * np.exp(-(t - d) / TAU))  # noqa: E731
        assert v == pytest.approx(quad(f, t0, t1, epsabs=1e-14)[0], rel=1e-10)
        g = lambda t, J=J: np.exp(-(t - d) / TAU) * np.exp(J * np.exp(-(t - d) / TAU))  # noqa: E731, E501
        assert d1 == pytest.approx(quad(g, t0, t1, epsabs=1e-14)[0], rel=1e-10)


def test_ccg_statistics_equal_brute_force():
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 20, 300))
    b = np.sort(rng.uniform(0, 20, 250))
    delays = np.array([0.0005, 0.002, 0.004])
    st = sw.SpikeTrains.from_lists([a, b], t_stop=20.0)
    counts, sp, sn = K.ccg_stats(st.grouped_times, st.indptr, np.array([0]), np.array([1]),
                                 W, DELTA, 100, TAU, delays)
    lags = (b[None, :] - a[:, None]).ravel()
    lags = lags[(lags >= -W) & (lags < W)]
    rc, rp, rn = _stats_from_lags(lags, delays)
    np.testing.assert_array_equal(counts[0], rc)  # exact integer counts, bin for bin
    np.testing.assert_allclose(sp[0], rp, rtol=1e-12)
    np.testing.assert_allclose(sn[0], rn, rtol=1e-12)
    # the population scan (used for all pairs) gives the same numbers
    order = np.argsort(st.grouped_times, kind="stable")
    pos = np.repeat(np.arange(2), np.diff(st.indptr))
    c2, sp2, sn2 = K.ccg_stats_scan(st.grouped_times[order], pos[order], st.grouped_times,
                                    st.indptr, np.array([[-1, 0], [-1, -1]]), 1, W, DELTA, 100,
                                    TAU, delays)
    np.testing.assert_array_equal(c2, counts)
    np.testing.assert_allclose(sp2, sp, rtol=1e-12)
    np.testing.assert_allclose(sn2, sn, rtol=1e-12)


def _simulate_lags(rng, a_fun, J_pos, J_neg, delay, n_draws):
    """Lags from the GLMCC point process on [-W, W) by thinning."""
    t = np.linspace(-W, W, 20001)
    fp = np.where(t > delay, np.exp(-(t - delay) / TAU), 0)
    fn = np.where(-t > delay, np.exp(-(-t - delay) / TAU), 0)
    lam_max = np.max(np.exp(a_fun(t) + J_pos * fp + J_neg * fn)) * 1.01
    n = rng.poisson(lam_max * 2 * W * n_draws)
    cand = rng.uniform(-W, W, n)
    fp = np.where(cand > delay, np.exp(-(cand - delay) / TAU), 0)
    fn = np.where(-cand > delay, np.exp(-(-cand - delay) / TAU), 0)
    lam = np.exp(a_fun(cand) + J_pos * fp + J_neg * fn)
    return cand[rng.random(n) < lam / lam_max]


@pytest.mark.parametrize("J_pos, J_neg, seed", [(0.8, -0.6, 1), (0.0, 1.2, 2), (-1.0, 0.0, 3)])
def test_recovers_coupling_on_its_own_generative_model(J_pos, J_neg, seed):
    rng = np.random.default_rng(seed)
    delays = np.array([0.001, 0.002, 0.003])
    true_delay = 0.002

    def a_fun(t):  # slow modulation: 2e5 lags per s (20,000 in the CCG), 60 ms-period wiggle
        return np.log(2e5) + 0.3 * np.sin(2 * np.pi * t / 0.06)

    lags = _simulate_lags(rng, a_fun, J_pos, J_neg, true_delay, 1)
    counts, sp, sn = _stats_from_lags(lags, delays)
    method = GLMCC(delays=tuple(delays), tau=TAU)  # the kernel the lags were drawn with
    out, _ = method.fit_statistics(counts[None], sp[None], sn[None])
    assert out[0, 8] == 1.0  # converged
    assert delays[int(out[0, 6])] == true_delay
    for J_true, J_hat, var in ((J_pos, out[0, 0], out[0, 2]), (J_neg, out[0, 1], out[0, 3])):
        sd = np.sqrt(var)
        # ~20,000 coincidences give a posterior sd of about 0.05-0.1; 4 sd bounds the error of
        # a correct estimator with probability > 0.9999 (the smoothness prior adds a small
        # bias towards 0, well inside this band)
        assert sd < 0.15
        assert abs(J_hat - J_true) < 4 * sd, (J_hat, J_true, sd)


def test_rate_function_and_lr_statistic():
    a = np.full(100, np.log(50.0))
    lam = glmcc_rate([0.0005, 0.003, -0.003], a, 1.0, -1.0, window=W, bin_width=DELTA,
                     tau=TAU, delay=0.001)
    np.testing.assert_allclose(lam, [50.0, 50 * np.exp(np.exp(-0.5)),
                                     50 * np.exp(-np.exp(-0.5))], rtol=1e-12)
    # small-J limit of 2 τ c̄ [e^J - 1 - E(J)] is τ c̄ J²/2 (Fisher information τ c̄ / 2)
    assert lr_statistic(1e-3, 20.0)[0] == pytest.approx(20.0 * 1e-6 / 2, rel=1e-3)


def _lif_spikes(duration=300.0, seed=1):
    w = np.zeros((4, 4))
    w[2, 0] = 2.0    # E: 0 -> 2
    w[3, 1] = -2.0   # I: 1 -> 3
    net = from_matrix(w, ["E", "I", "E", "E"], delays=0.001,
                      drive=sw.WhiteNoiseDrive(mu=18.0, sigma=4.0))
    return sw.simulate(net, duration, seed=seed)


def test_lif_known_synapses_found_and_absent_ones_not():
    st = _lif_spikes()
    est = sw.infer(st, method="glmcc")
    adj = est.adjacency()
    assert adj[2, 0] == 1 and adj[3, 1] == -1
    # pairs without a synapse in either direction: no link
    unconnected = np.ones((4, 4), dtype=bool)
    unconnected[[2, 0, 3, 1], [0, 2, 1, 3]] = False
    np.fill_diagonal(unconnected, False)
    assert not adj[unconnected].any()
    # the reverse direction of a synapse shares its cross-correlogram; over seeds it carries
    # a small positive J (0.1-0.4, p < 0.01 in 1 of 8 seeds of this network), far below the
    # forward coupling. Checked without the synchrony term: with it, a 1 ms-delay excitatory
    # link (shorter than sync_tau = 2 ms) is partly taken for symmetric synchrony and its
    # reverse direction carries J ≈ 0.25 of the forward one (documented limitation)
    est0 = sw.infer(st, method="glmcc", sync_tau=None)
    assert abs(est0.weights[0, 2]) < 0.25 * abs(est0.weights[2, 0])
    assert abs(est0.weights[1, 3]) < 0.25 * abs(est0.weights[3, 1])
    assert abs(est.weights[1, 3]) < 0.25 * abs(est.weights[3, 1])
    assert est.cell_type[0] == "E" and est.cell_type[1] == "I"
    assert est0.delays[2, 0] == pytest.approx(0.001)  # the 1 ms synaptic delay
    assert est.delays[3, 1] == pytest.approx(0.001)
    # with the synchrony term the short excitatory link's delay is off by one grid step
    assert abs(est.delays[2, 0] - 0.001) <= 0.0005 + 1e-12
    assert est.weight_unit.startswith("J")
    frame = est.to_frame()
    assert len(frame) == 12


def test_low_rate_pair_is_undecided_not_a_link():
    rng = np.random.default_rng(5)
    T = 200.0
    a = np.sort(rng.uniform(0, T, 60))   # 0.3 Hz
    b = np.sort(a[:40] + 0.002)          # every other spike of b follows a by 2 ms
    b = np.sort(np.concatenate([b, rng.uniform(0, T, 20)]))
    st = sw.SpikeTrains.from_lists([a, b], t_stop=T)
    est = GLMCC().fit(st)
    # τ c̄ ≈ 0.004 s × 60 × 60 / 200 s ≈ 0.07 expected coincidences: undecided, no link
    assert est.pair_status[1, 0] == 4 and est.pair_status[0, 1] == 4
    assert not est.significant().any()
    assert np.all(est.weights == 0) and np.all(np.isnan(est.pvalues))


def test_false_positive_rate_on_independent_poisson_is_at_most_nominal():
    rng = np.random.default_rng(11)
    T, n = 300.0, 30
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, T, rng.poisson(8 * T)))
                                    for _ in range(n)], t_stop=T)
    est = GLMCC(delays=(0.002,)).fit(st)
    p = est.pvalues[est.pair_status == 0]
    assert p.size == n * (n - 1)
    for alpha in (0.01, 0.05, 0.2):
        # one-sided: at most α plus 3 binomial sd (pairs share units, so tests are only
        # nearly independent); the smoothness prior makes the LR test slightly conservative
        assert np.mean(p < alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / p.size)
    # and not absurdly conservative: some p-values below 0.2
    assert np.mean(p < 0.2) > 0.1


def test_units_with_too_few_spikes_and_requested_pairs():
    rng = np.random.default_rng(3)
    T = 100.0
    trains = [np.sort(rng.uniform(0, T, 800)) for _ in range(3)] + [np.array([1.0, 2.0])]
    st = sw.SpikeTrains.from_lists(trains, units=[10, 11, 12, 13], t_stop=T)
    est = GLMCC().fit(st, pairs=[(11, 10), (13, 10)])
    assert est.unit_status[3] == "too_few_spikes"
    assert est.pair_status[1, 0] == 0
    assert est.pair_status[3, 0] == 3
    assert est.pair_status[0, 1] == 2      # reverse direction not requested
    assert est.pair_status[2, 0] == 2
    assert np.isfinite(est.pvalues[1, 0])
    assert est.diagnostics["skipped_units"] == [13]


@pytest.mark.parametrize("settings, match", [
    ({"window": 0.05, "bin_width": 0.0007}, "integer"),
    ({"bin_width": 0.1}, "must not exceed window"),
    ({"delays": (0.06,)}, "every delay"),
    ({"delays": ()}, r"delays=\(\) is not valid"),
    ({"alpha": 1.5}, "alpha"),
    ({"test": "bogus"}, "test"),
    ({"tau": -1.0}, "tau"),
    ({"n_jobs": 0}, "n_jobs"),
])
def test_bad_settings(settings, match):
    st = sw.SpikeTrains.from_lists([np.arange(0, 10, 0.1), np.arange(0.05, 10, 0.1)],
                                   t_stop=10.0)
    with pytest.raises(ValueError, match=match):
        GLMCC(**settings).fit(st)


def test_bad_input():
    short = sw.SpikeTrains.from_lists([[0.01, 0.02], [0.03]], t_stop=0.08)
    with pytest.raises(ValueError, match="not longer than"):
        GLMCC(min_spikes=1).fit(short)  # with too few spikes it returns all-status-3
    st = sw.SpikeTrains.from_lists([np.arange(0, 10, 0.1)] * 2, t_stop=10.0)
    with pytest.raises(ValueError, match="unknown unit"):
        GLMCC().fit(st, pairs=[(0, 7)])
    with pytest.raises(TypeError):
        GLMCC().fit(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="no setting"):
        sw.infer(st, method="glmcc", bogus=1)


def test_quantised_independent_trains_are_not_links():
    # Spike times on a 1 ms grid (as in recordings stored at 1 kHz). Before lags were fitted
    # on the lattice, the continuous-lag likelihood saw Σ_k exp(−k/4) = 4.52 kernel-weighted
    # coincidences where it expected 4 at every delay on the grid, and called 44 % of these
    # independent pairs at α = 0.01 (60 % at 0.05).
    rng = np.random.default_rng(12)
    T, n = 300.0, 20
    trains = [np.unique(np.round(rng.uniform(0, T, rng.poisson(8 * T)), 3)) for _ in range(n)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=T)
    est = GLMCC().fit(st)
    assert est.diagnostics["lattice"] is True
    p = est.pvalues[est.pair_status == 0]
    assert p.size == n * (n - 1)
    for alpha in (0.01, 0.05, 0.2):
        # at most α plus 3 binomial sd, as for continuous Poisson trains above
        assert np.mean(p < alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / p.size)
    assert np.mean(p < 0.2) > 0.05


def test_lattice_fit_recovers_discrete_glm():
    # counts drawn from the discrete model c_k ~ Poisson(δ exp(a + J f(t_k − d))) on centred
    # 1 ms bins; the lattice fit must return the delay and J within 4 posterior sd
    rng = np.random.default_rng(4)
    m = int(round(2 * W / DELTA)) + 1
    t = DELTA * (np.arange(m) - (m - 1) // 2)          # lags −50 … 50 ms
    d, Jp, Jn = 0.003, 0.5, -0.4
    fp = np.where(t > d - 1e-9, np.exp(-np.maximum(t - d, 0) / TAU), 0.0)
    fn = np.where(-t > d - 1e-9, np.exp(-np.maximum(-t - d, 0) / TAU), 0.0)
    mu = DELTA * 4e5 * np.exp(Jp * fp + Jn * fn)      # 400 coincidences per bin
    counts = rng.poisson(mu)
    delays = np.array([0.001, 0.002, 0.003, 0.004])
    sp = np.array([np.sum(counts * np.where(t > q - 1e-9, np.exp(-(t - q) / TAU), 0))
                   for q in delays])
    sn = np.array([np.sum(counts * np.where(-t > q - 1e-9, np.exp(-(-t - q) / TAU), 0))
                   for q in delays])
    out, _ = GLMCC(delays=tuple(delays), tau=TAU).fit_statistics(counts[None], sp[None], sn[None],
                                                        lattice=True)
    assert out[0, 8] == 1.0 and delays[int(out[0, 6])] == d
    for J_true, J_hat, var in ((Jp, out[0, 0], out[0, 2]), (Jn, out[0, 1], out[0, 3])):
        assert abs(J_hat - J_true) < 4 * np.sqrt(var), (J_hat, J_true, np.sqrt(var))
    with pytest.raises(ValueError, match="centred"):
        GLMCC().fit_statistics(counts[None, :-1], sp[None], sn[None], lattice=True)


def test_lags_on_the_delay_count_half():
    # synchronous spikes (lag exactly 0) have no direction: ½ on each side at d = 0, nothing
    # at d = 1 ms; a lag exactly at a delay counts ½ (trapezoid rule), one beyond it fully
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 2.0, 3.0, 3.001, 3.5015])
    st = sw.SpikeTrains.from_lists([a, b], t_stop=5.0)
    counts, sp, sn = K.ccg_stats(st.grouped_times, st.indptr, np.array([0]), np.array([1]),
                                 W + DELTA / 2, DELTA, 101, TAU, np.array([0.0, 0.001]))
    assert counts[0, 50] == 3 and counts[0, 51] == 1 and counts.sum() == 4
    # lags: 0 (×3), +1 ms (from 3.0 to 3.001), −1 ms... none; 3.5015 is > 50 ms from all
    np.testing.assert_allclose(sp[0], [1.5 + np.exp(-0.001 / TAU), 0.5], rtol=1e-9)
    np.testing.assert_allclose(sn[0], [1.5, 0.0], atol=1e-12)


def test_synchrony_peak_and_oscillation_do_not_take_the_delay():
    # Lattice CCGs (1 ms lags) as in recurrent LIF networks recorded at 1 kHz: a symmetric
    # synchrony peak (+18 % at lag 0, decaying over 2 ms), a 12 ms oscillation (±5 %), and
    # in half the pairs a one-bin excitatory bump (+0.25 in log rate) at +3 ms (a delta
    # synapse with a 3 ms delay). Before the synchrony term and the 1 ms kernel the fit took
    # the common peak for a coupling at a short delay or bent its 4 ms kernel over the
    # oscillation (on spikewire's quick-start network the delay of 1,046 of 1,064 links was
    # 1 ms and the ranking near chance).
    from spikewire.infer.glmcc import DEFAULT_DELAYS
    rng = np.random.default_rng(0)
    t = DELTA * (np.arange(101) - 50)
    base = 800.0 * np.exp(0.18 * np.exp(-np.abs(t) / 0.002)
                          - 0.05 * np.cos(2 * np.pi * t / 0.012))
    n_pairs, n_d = 40, len(DEFAULT_DELAYS)
    zeros = np.zeros((n_pairs, n_d))
    method = GLMCC()
    calls = {}
    for link in (0, 1):
        mu = base * np.where(np.isclose(t, 0.003), np.exp(0.25 * link), 1.0)
        out, _ = method.fit_statistics(rng.poisson(np.tile(mu, (n_pairs, 1))), zeros, zeros,
                                       lattice=True)
        assert np.all(out[:, 8] == 1.0)
        p_fwd = np.minimum(1, n_d * chi2.sf(np.maximum(2 * (out[:, 7] - out[:, 9]), 0), 1))
        p_rev = np.minimum(1, n_d * chi2.sf(np.maximum(2 * (out[:, 7] - out[:, 10]), 0), 1))
        calls[link] = (np.mean(p_fwd < 0.01), np.mean(p_rev < 0.01))
        if link:
            # the delay of every linked pair is the true 3 ms; J is the bump (0.25) within
            # 0.03 on average over 40 pairs (single-pair sd ≈ 0.04 at 800 counts per bin,
            # so the mean's sd is ≈ 0.007; 0.03 leaves room for the small prior bias)
            assert np.all(np.asarray(DEFAULT_DELAYS)[out[:, 6].astype(int)] == 0.003)
            assert abs(out[:, 0].mean() - 0.25) < 0.03
            assert abs(out[:, 1].mean()) < 0.03
    # linked pairs: the bump (≈ 7 sd in its bin) is found in nearly every pair, the reverse
    # direction and pairs without a link stay near the level of the test (α = 0.01 per
    # direction; ≤ 4 of 40 allows for chance and the approximations of the LR test)
    assert calls[1][0] >= 0.9
    assert calls[1][1] <= 0.1 and calls[0][0] <= 0.1 and calls[0][1] <= 0.1


def test_tau_grid_picks_the_kernel_of_the_data():
    # lags drawn with a 4 ms kernel: from the grid (1, 4) ms the posterior picks 4 ms and
    # J matches the single-τ fit at 4 ms exactly (same statistics, same model); the
    # p-value is Šidák-corrected over delays × τ values
    rng = np.random.default_rng(8)
    T = 400.0
    a = np.sort(rng.uniform(0, T, 4000))
    b = a[rng.random(a.size) < 0.3] + 0.002
    b = b + rng.exponential(0.004, b.size)  # 30 % of a's spikes echoed after 2 ms + Exp(4 ms)
    b = np.sort(np.concatenate([b[b < T], rng.uniform(0, T, 4000)]))
    st = sw.SpikeTrains.from_lists([a, b], t_stop=T)
    grid = GLMCC(tau=(0.001, 0.004), delays=(0.001, 0.002), sync_tau=None).fit(st)
    one = GLMCC(tau=0.004, delays=(0.001, 0.002), sync_tau=None).fit(st)
    assert grid.diagnostics["tau_grid_s"] == [0.001, 0.004]
    assert grid.weights[1, 0] == pytest.approx(one.weights[1, 0], rel=1e-12)
    assert grid.delays[1, 0] == 0.002 and grid.significant()[1, 0]
    p1 = 1 - (1 - one.pvalues[0, 1]) ** (1 / 2)          # undo Šidák over 2 delays
    assert grid.pvalues[0, 1] == pytest.approx(1 - (1 - p1) ** 4, rel=1e-6)
    with pytest.raises(ValueError, match="fit_statistics"):
        GLMCC(tau=(0.001, 0.004)).fit_statistics(np.zeros((1, 100)), np.zeros((1, 16)),
                                                  np.zeros((1, 16)))


def test_sync_tau_grid_takes_a_wider_width_only_beyond_its_margin_on_a_failing_null():
    # a grid of synchrony widths fits every pair with each and keeps, for the whole
    # recording, the narrowest unless a wider one's summed log posterior beats it by more
    # than SYNC_WIDTH_MARGIN nats per 1,000 coincidences: the result must equal the
    # single-width fit with the chosen value, and the sums must be the single fits' sums
    from spikewire.infer.glmcc import DEFAULT_DELAYS, SYNC_WIDTH_MARGIN

    st = _lif_spikes()
    grid = GLMCC(sync_tau=(0.002, 0.008)).fit(st)
    chosen = grid.diagnostics["sync_tau_s"]
    sums = grid.diagnostics["sync_tau_log_posterior"]
    gains = grid.diagnostics["sync_gain_per_1000"]
    assert set(sums) == set(gains) == {"0.002", "0.008"} and gains["0.002"] == 0.0
    assert np.sign(gains["0.008"]) == np.sign(sums["0.008"] - sums["0.002"])
    # a wider width only where the 2 ms term leaves the null failing (share of p < 0.05
    # above check_null's 0.3); the share is the one the 2 ms estimate itself shows
    share = grid.diagnostics["sync_reference_share_p05"]
    narrow = GLMCC(sync_tau=0.002).fit(st)
    p = narrow.pvalues[(narrow.pair_status == 0) & np.isfinite(narrow.pvalues)]
    assert share == pytest.approx(np.mean(p < 0.05))
    assert chosen == (0.008 if gains["0.008"] > SYNC_WIDTH_MARGIN and share > 0.3 else 0.002)
    single = GLMCC(sync_tau=chosen).fit(st)
    np.testing.assert_array_equal(grid.weights, single.weights)
    np.testing.assert_array_equal(grid.pvalues, single.pvalues)
    # fit_statistics on precomputed statistics follows the same rule: counts with an 8 ms
    # wide zero-lag peak; a tall one (×3.7) gains 1.7 nats per 1,000 coincidences with the
    # 8 ms width, fails the 2 ms null and takes it, a low one (×1.35) gains 0.09 > 0 and
    # stays at 2 ms
    t = DELTA * (np.arange(101) - 50)
    zeros = np.zeros((20, len(DEFAULT_DELAYS)))
    for amplitude, expect in ((1.3, 0.008), (0.3, 0.002)):
        rng = np.random.default_rng(5)
        counts = rng.poisson(np.tile(500.0 * np.exp(amplitude * np.exp(-np.abs(t) / 0.008)),
                                     (20, 1)))
        outs = {v: GLMCC(sync_tau=v).fit_statistics(counts, zeros, zeros, lattice=True)[0]
                for v in (0.002, 0.008)}
        gain = 1e3 * (outs[0.008][:, 7].sum() - outs[0.002][:, 7].sum()) / counts.sum()
        assert gain > 0.0
        assert (gain > SYNC_WIDTH_MARGIN) == (expect == 0.008)
        if expect == 0.008:
            share = GLMCC()._reference_null_share(outs[0.002], 0.001, len(DEFAULT_DELAYS))
            assert share > 0.3
        out, _ = GLMCC(sync_tau=(0.002, 0.008)).fit_statistics(counts, zeros, zeros,
                                                               lattice=True)
        np.testing.assert_array_equal(out, outs[expect])
    with pytest.raises(ValueError, match="sync_tau"):
        GLMCC(sync_tau=(0.002, -1.0)).fit(st)
