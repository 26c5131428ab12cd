"""Tests of ``dale_glm``'s mirror filter (``acausal``): a pair driven only by a shared
hidden input gets a large causal z but a null causal − mirror contrast, while a true link
keeps its power; the ``"auto"`` rule; parameter validation; determinism."""

import sys

import numpy as np
import pytest
from infer_fixtures import poisson_times, propagate

import spikewire as sw
from spikewire.infer.dale_glm import (
    AUTO_MIRROR_SHIFT,
    AUTO_N_BASIS,
    AUTO_N_BASIS_MIRROR,
    DaleGLM,
    _mirror_sparse_design,
)

BW = 0.001
T = 150.0


def _hidden_pair(rng, T):
    """Two units sharing a hidden 15 Hz driver (each of its spikes passes to each with
    probability 0.5, after a uniform 0–6 ms delay of its own) over 8 Hz Poisson
    background: their spike times, drawn from ``rng``."""
    hidden = poisson_times(rng, 15.0, T)
    trains = []
    for _ in range(2):
        kept = hidden[rng.random(hidden.size) < 0.5]
        own = kept + rng.uniform(0.0, 6e-3, kept.size)
        trains.append(np.concatenate([own[own < T], poisson_times(rng, 8.0, T)]))
    return trains


def _shared_and_linked(seed=0, T=T):
    """Four units, ``T`` s: units 0 and 1 share a hidden 15 Hz driver (each of its spikes
    passes to each of them with probability 0.5, after a uniform 0–6 ms delay of its own;
    no link between them: a symmetric hump of ±6 ms in their correlogram, as shared
    hidden input makes at 90 % hidden); unit 2 → 3 is an excitatory link (each spike of
    2 passes to 3 with probability 0.3 after 3–4 ms). All four have 8 Hz Poisson
    background spikes."""
    rng = np.random.default_rng(seed)
    trains = _hidden_pair(rng, T)
    pre = poisson_times(rng, 12.0, T)
    trains.append(pre)
    trains.append(np.concatenate([propagate(rng, pre, 0.3, 3e-3, T),
                                  poisson_times(rng, 8.0, T)]))
    return sw.SpikeTrains.from_lists([np.sort(t) for t in trains], t_stop=T)


@pytest.fixture(scope="module")
def shared():
    st = _shared_and_linked()
    causal = sw.infer(st, "dale_glm", bin_width=BW)
    mirror = sw.infer(st, "dale_glm", bin_width=BW, acausal="mirror", n_basis=4)
    return st, causal, mirror


def _short(est):
    """(post, pre) short-group z: the causal filter's and (mirror fits) causal − mirror."""
    d = est.diagnostics
    if d["acausal"] == "none":
        return np.asarray(d["scan_z_contrasts"])[..., 0], None
    Z = np.asarray(d["mirror_scan_z"])
    k = (Z.shape[2] - 1) // 2
    return Z[..., 0], Z[..., k]


def test_common_input_pair_has_high_causal_z_but_a_null_contrast(shared):
    """The hump's excess (15 Hz × 0.25 coincident pairs per driver spike over ±6 ms,
    150 s: ≈ 560 excess coincidences, about twice the chance ones in the window) puts the
    causal filter's short-lag z of 0 → 1 and 1 → 0 far above any threshold (> 8),
    with or without the mirror in the model. The pair's joint statistics are
    time-reversible (both units' delays drawn alike), so causal and mirror filters have
    nearly the same expectation: the contrast keeps < 20 % of the causal z (the mirror's
    first function sits on the same bin, the hump's peak, which pulls the contrast
    slightly below 0; MIRROR_FIRST_LAG) and the pair is not called (p > 0.05), while
    the causal test calls it at p < 1e-4."""
    _, causal, mirror = shared
    zc, _ = _short(causal)
    zm_causal, zd = _short(mirror)
    for post, pre in ((1, 0), (0, 1)):
        assert zc[post, pre] > 8.0
        assert zm_causal[post, pre] > 8.0    # the causal half still sees the hump
        assert abs(zd[post, pre]) < 0.2 * zm_causal[post, pre]
        assert causal.pvalues[post, pre] < 1e-4
        assert mirror.pvalues[post, pre] > 0.05
    assert mirror.diagnostics["acausal"] == "mirror"
    assert causal.diagnostics["acausal"] == "none"


def test_true_link_keeps_its_power(shared):
    """The link 2 → 3 (≈ 540 passed spikes in its 3–4 ms bins) keeps most of its causal
    short-lag z under the contrast (the mirror side has no excess): > half of it, and a
    p-value < 1e-6; unit 2 is labelled E, and weight and delay come from the causal
    filter (positive, 2–6 ms)."""
    _, causal, mirror = shared
    zc, _ = _short(causal)
    zm_causal, zd = _short(mirror)
    assert zc[3, 2] > 8.0
    assert zd[3, 2] > 0.5 * zm_causal[3, 2]
    assert mirror.pvalues[3, 2] < 1e-6
    assert mirror.cell_type[2] == "E"
    assert mirror.weights[3, 2] > 0
    assert 2e-3 <= mirror.delays[3, 2] <= 6e-3


def test_mirror_design_is_the_time_reversed_causal_design():
    """The mirror columns of unit j equal the causal columns of the time-reversed train
    (bin b ↦ n_bins − 1 − b), shifted by the first lag: checked against an explicit
    construction on a short random design."""
    from spikewire.infer.glm import build_design

    rng = np.random.default_rng(4)
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 2.0, 30)) for _ in range(3)],
                                   t_stop=2.0)
    d = build_design(st, bin_width=BW, window=0.02, n_basis=3, units=np.arange(3))
    nb, L = d.n_basis, d.n_lags
    for first in (0, 1):
        X = _mirror_sparse_design(d, first_lag=first).toarray()
        for j in range(3):
            n = np.bincount(d.s_bins[d.s_units == j], weights=d.s_counts[d.s_units == j],
                            minlength=d.n_bins)[:d.n_bins]
            want = np.zeros((d.n_bins, nb))
            for t in range(d.n_bins):
                for m in range(L):
                    if t + first + m < d.n_bins:
                        want[t] += d.basis[m] * n[t + first + m]
            np.testing.assert_allclose(X[:, j * 2 * nb + nb:(j + 1) * 2 * nb], want,
                                       atol=1e-12)
            causal = np.zeros((d.n_bins, nb))
            for t in range(d.n_bins):
                for lag in range(1, L + 1):
                    if t - lag >= 0:
                        causal[t] += d.basis[lag - 1] * n[t - lag]
            np.testing.assert_allclose(X[:, j * 2 * nb:j * 2 * nb + nb], causal, atol=1e-12)


def test_auto_turns_the_mirror_on_only_with_a_shared_hump():
    """``acausal="auto"``: eight units that all share one hidden driver (every pair has
    the hump: median causal short z far above AUTO_MIRROR_SHIFT) get the mirror;
    eight independent Poisson units (median ≈ 0 ± 0.15) do not, and their fit is the
    ``acausal="none"`` fit exactly."""
    rng = np.random.default_rng(1)
    Ts = 60.0
    hidden = poisson_times(rng, 20.0, Ts)
    trains = []
    for _ in range(8):
        kept = hidden[rng.random(hidden.size) < 0.4]
        own = kept + rng.uniform(0.0, 4e-3, kept.size)
        trains.append(np.sort(np.concatenate([own[own < Ts], poisson_times(rng, 6.0, Ts)])))
    hump = sw.SpikeTrains.from_lists(trains, t_stop=Ts)
    est = sw.infer(hump, "dale_glm", bin_width=BW, acausal="auto")
    assert est.diagnostics["synchrony_shift"] > AUTO_MIRROR_SHIFT
    assert est.diagnostics["acausal"] == "mirror"
    # n_basis="auto": the mirror fit has AUTO_N_BASIS_MIRROR functions per filter
    assert est.diagnostics["basis"].shape[1] == AUTO_N_BASIS_MIRROR
    flat = sw.SpikeTrains.from_lists([poisson_times(rng, 14.0, Ts) for _ in range(8)],
                                     t_stop=Ts)
    auto = sw.infer(flat, "dale_glm", bin_width=BW, acausal="auto")
    none = sw.infer(flat, "dale_glm", bin_width=BW)
    assert auto.diagnostics["acausal"] == "none"
    assert abs(auto.diagnostics["synchrony_shift"]) < 1.0
    np.testing.assert_array_equal(auto.pvalues, none.pvalues)
    # ... and the causal fit AUTO_N_BASIS, the former default's 4
    assert auto.diagnostics["basis"].shape[1] == AUTO_N_BASIS == 4
    np.testing.assert_array_equal(
        sw.infer(flat, "dale_glm", bin_width=BW, n_basis=4).pvalues, none.pvalues)


def test_n_basis_validation_names_the_value_and_the_fix():
    st = _shared_and_linked(T=10.0)
    with pytest.raises(ValueError, match="n_basis"):
        sw.infer(st, "dale_glm", n_basis="six")
    with pytest.raises(ValueError, match="n_basis"):
        sw.infer(st, "dale_glm", n_basis=0)
    # 2 functions cannot carry the scan's three groups
    with pytest.raises(ValueError, match="n_basis >= 3"):
        sw.infer(st, "dale_glm", n_basis=2, contrast="scan")


def test_acausal_validation_names_the_value_and_the_fix():
    st = _shared_and_linked(T=10.0)
    with pytest.raises(ValueError, match="acausal"):
        sw.infer(st, "dale_glm", acausal="reverse")
    with pytest.raises(ValueError, match=r"acausal='mirror' needs the full solver.*"
                                         r"solver='full'"):
        sw.infer(st, "dale_glm", acausal="mirror", solver="screened")
    with pytest.raises(ValueError, match=r"empirical_null.*acausal='auto'"):
        sw.infer(st, "dale_glm", acausal="mirror", empirical_null=True, contrast="area")
    # the default ("auto", session 28) keeps the causal fit where the mirror cannot be
    # fitted: with the empirical null and on the screened solver
    assert DaleGLM().acausal == "auto"
    est = sw.infer(st, "dale_glm", empirical_null=True, contrast="area")
    assert est.diagnostics["acausal"] == "none"
    est = sw.infer(st, "dale_glm", solver="screened")
    assert est.settings["acausal"] == "auto"


def test_mirror_fit_is_deterministic(shared):
    st, _, mirror = shared
    again = sw.infer(st, "dale_glm", bin_width=BW, acausal="mirror", n_basis=4)
    np.testing.assert_array_equal(again.pvalues, mirror.pvalues)
    np.testing.assert_array_equal(again.weights, mirror.weights)


def test_mirror_stitches_sessions():
    """:meth:`fit_sessions` with the mirror: two sessions (units 0–2 and 1–3, 60 s)
    give NaN for the pairs never recorded together (0, 3), call the link 2 → 3 and not
    the common-input pair 0 ↔ 1 (recorded together in session one only)."""
    st = _shared_and_linked(T=60.0)
    est = DaleGLM(bin_width=BW, acausal="mirror", n_basis=4).fit_sessions(
        [st.select([0, 1, 2]), st.select([1, 2, 3])])
    assert est.diagnostics["acausal"] == "mirror"
    assert np.isnan(est.pvalues[3, 0]) and np.isnan(est.pvalues[0, 3])
    assert est.pvalues[3, 2] < 1e-6
    assert est.pvalues[1, 0] > 0.05 and est.pvalues[0, 1] > 0.05


def test_the_reverse_pair_of_a_link_is_not_called_with_the_mirror(shared):
    """A link 2 → 3 puts 2's spikes before 3's, so for the reverse pair (post 2, pre 3)
    the *mirror* filter carries the link and causal − mirror is strongly negative: read
    as evidence it would call an inhibitory 3 → 2 (unit 3, with no outgoing links, is
    unlabelled and tested both ways). Evidence of inhibition therefore comes from the
    causal filter alone, which holds nothing there; the link itself stays called, at
    the level any single-pair test of this size would pass (p < 1e-6)."""
    _, causal, mirror = shared
    assert mirror.pvalues[3, 2] < 1e-6
    assert mirror.pvalues[2, 3] > 0.05
    assert not mirror.significant()[2, 3]
    # the mirror's reverse contrast is indeed strongly negative (the reason for the rule)
    _, diff = _short(mirror)
    assert diff[2, 3] < -5.0


def _slow_inhibition(seed=0, T=T):
    """Four units, ``T`` s: units 0 and 1 share a hidden driver (as
    :func:`_shared_and_linked`); unit 2 → 3 is an inhibitory link whose trough lies
    4–9 ms after each spike of 2 (each spike of 3, 30 Hz Poisson, that falls there is
    deleted with probability 0.8), slower than the mirror's short scan group (lags 1–2
    at 1 ms bins with 6 functions)."""
    rng = np.random.default_rng(seed)
    trains = _hidden_pair(rng, T)
    pre = poisson_times(rng, 12.0, T)
    post = poisson_times(rng, 30.0, T)
    # time since the most recent spike of 2 that is at least 4 ms earlier
    since = np.full(post.size, np.inf)
    last = np.searchsorted(pre, post - 4e-3, side="right") - 1
    ok = last >= 0
    since[ok] = post[ok] - pre[last[ok]]
    hit = since <= 9e-3
    post = post[~(hit & (rng.random(post.size) < 0.8))]
    trains += [pre, post]
    return sw.SpikeTrains.from_lists([np.sort(t) for t in trains], t_stop=T)


def test_slow_inhibition_is_tested_over_every_lag_group(monkeypatch):
    """Inhibitory troughs are broad: the mirror fit's inhibition side scans every lag
    group's causal − mirror (:data:`MIRROR_INHIBITION_SCAN` ``"all"``), so a 4–9 ms
    trough is called as a causal fit calls it (here z ≈ −9 in the middle group), where
    the short group alone (the excitation side's test) holds nothing. On a 1,000-neuron
    Brunel network (40 recorded, delays 0.5–5 ms) the short group alone called 17 of its
    44 inhibitory links, every group 44 (benchmarks/results/dale27.md)."""
    import sys

    dg = sys.modules[DaleGLM.__module__]   # the module (sw.infer is also a function)
    st = _slow_inhibition()
    causal = sw.infer(st, "dale_glm", bin_width=BW)
    assert causal.pvalues[3, 2] < 1e-10 and causal.weights[3, 2] < 0
    assert dg.MIRROR_INHIBITION_SCAN == "all"
    mirror = sw.infer(st, "dale_glm", bin_width=BW, acausal="mirror")
    assert mirror.diagnostics["acausal"] == "mirror"
    Z = np.asarray(mirror.diagnostics["mirror_scan_z"])
    k = (Z.shape[2] - 1) // 2
    assert abs(Z[3, 2, k]) < 2.0 and Z[3, 2, k + 1] < -5.0   # short null, middle trough
    assert mirror.pvalues[3, 2] < 1e-10 and mirror.significant()[3, 2]
    assert mirror.weights[3, 2] < 0
    # the reverse pair (post 2, pre 3) stays uncalled (its causal filter holds nothing)
    assert not mirror.significant()[2, 3]
    # with the short group alone on both sides the trough goes untested
    monkeypatch.setattr(dg, "MIRROR_INHIBITION_SCAN", "short")
    short = sw.infer(st, "dale_glm", bin_width=BW, acausal="mirror")
    assert short.pvalues[3, 2] > 0.01


def test_excitation_score_combines_both_filters_and_keeps_the_flagged_pairs_strict():
    """:func:`_mirror_excitation_score` (the mirror fit's ranking): where both z are null
    with correlation ρ, Stouffer's ``(z_c + z_k) / √(2 + 2ρ)`` is N(0, 1) (40,000 pairs:
    sd of the mean 0.005 and of the variance 0.007; tolerances ≈ 4 sd); where the reverse
    pair flags inhibition (z below −MIRROR_REVERSE_INHIBITION, or NaN: unknown) it is the
    smaller of the two z. A link seen by the causal filter alone (contrast 1, causal 4)
    outranks a pair seen by neither."""
    from scipy.stats import norm

    dg = sys.modules[DaleGLM.__module__]
    rng = np.random.default_rng(5)
    n, rho = 40000, 0.67
    zc = rng.standard_normal(n)
    zk = rho * zc + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    s = dg._mirror_excitation_score(zc, zk, np.zeros(n), rho)
    assert abs(s.mean()) < 0.02 and s.var() == pytest.approx(1.0, abs=0.03)
    assert np.mean(s > norm.isf(0.05)) == pytest.approx(0.05, abs=0.005)
    thr = dg.MIRROR_REVERSE_INHIBITION
    flagged = dg._mirror_excitation_score(zc, zk, np.full(n, -thr - 0.1), rho)
    np.testing.assert_array_equal(flagged, np.minimum(zc, zk))
    unknown = dg._mirror_excitation_score(zc, zk, np.full(n, np.nan), rho)
    np.testing.assert_array_equal(unknown, flagged)
    weak = dg._mirror_excitation_score(np.array([1.0, 0.0]), np.array([4.0, 0.0]),
                                       np.zeros(2), rho)
    assert weak[0] > norm.isf(0.01) > weak[1]


def test_mirror_scores_rank_on_the_combined_evidence(shared):
    """In a mirror fit ``scores`` of an E-labelled unit's pairs are the combined ranking
    score, not the test's z (the p-values stay the contrast's test): the link 2 → 3
    ranks first among unit 2's pairs and the shared-input pair 0 → 1 stays below it."""
    from scipy.stats import norm

    _, _, mirror = shared
    assert mirror.cell_type[2] == "E"
    test_z = norm.isf(np.clip(mirror.pvalues[3, 2], 1e-300, 1.0))
    assert mirror.scores[3, 2] != pytest.approx(test_z)
    assert mirror.scores[3, 2] == np.nanmax(mirror.scores[:, 2])
    assert mirror.scores[3, 2] > mirror.scores[1, 0]
