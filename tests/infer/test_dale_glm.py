"""Tests of the Dale-constrained coupled GLM (``dale_glm``) and the state proxy."""

import numpy as np
import pytest
from infer_fixtures import brunel_20_of_200, lif_motif
from scipy.ndimage import gaussian_filter1d

import spikewire as sw
from spikewire.infer.base import get_method
from spikewire.observe.state_proxy import state_proxy
from spikewire.simulate import HiddenStates


@pytest.fixture(scope="module")
def brunel_90_hidden():
    return brunel_20_of_200()


@pytest.fixture(scope="module")
def fits(brunel_90_hidden):
    rec = brunel_90_hidden[0]
    return sw.infer(rec, "dale_glm"), sw.infer(rec, "glm")


def test_every_column_has_one_sign_matching_its_label(fits):
    est, _ = fits
    ok = est.pair_status == 0
    assert ok.sum() == 20 * 19
    labelled = est.cell_type != "?"
    np.testing.assert_array_equal(labelled, est.diagnostics["labelled"])
    for j in np.flatnonzero(labelled):
        col = est.weights[ok[:, j], j]
        sign = 1 if est.cell_type[j] == "E" else -1
        # the bounds of L-BFGS-B are exact: no coefficient crosses 0
        assert np.all(sign * col >= 0), (j, est.cell_type[j], col)
    # the label fallback: a unit is constrained exactly when its confidence reaches the
    # threshold; unlabelled units' links are fitted free (both signs occur)
    conf = est.cell_type_confidence
    assert np.all((conf >= 0.5) & (conf <= 1))
    np.testing.assert_array_equal(labelled, conf >= est.settings["min_label_confidence"])
    for j in np.flatnonzero(~labelled):
        col = est.weights[ok[:, j], j]
        assert (col > 0).any() and (col < 0).any(), (j, col)
    assert np.all(np.isfinite(est.delays[ok]))
    assert np.all((est.delays[ok] > 0) & (est.delays[ok] <= 0.025 + 1e-12))
    assert np.isfinite(est.diagnostics["heldout_bits_per_spike"])


def test_ei_and_sign_accuracy_beat_baselines_and_glm(brunel_90_hidden, fits):
    _, W, ct = brunel_90_hidden
    est, glm = fits
    labelled = est.cell_type != "?"
    acc = np.mean(est.cell_type[labelled] == ct[labelled])
    acc_glm = np.mean(glm.cell_type == ct)
    # labelling every unit E (the majority class) scores the E fraction (17/20 here); the
    # labels must beat it, and not lose to glm's own E/I labels. The fallback may leave a
    # unit with little outgoing evidence unlabelled, but not most: at least 17 of 20 units
    # here carry enough (measured: 19 with the former linear two-sided population
    # covariate, benchmarks/results/dale3.md; 17 with the log past-only one from the
    # previous bin, which also absorbs part of the hidden units' fast shared drive that
    # gave the former z-scores of these units their excess: benchmarks/results/dalecov.md)
    baseline = max(np.mean(ct == "E"), np.mean(ct == "I"))
    assert labelled.sum() >= 17, est.cell_type
    assert acc >= baseline + 1 / 20 - 1e-12, (acc, baseline)
    assert acc >= acc_glm, (acc, acc_glm)
    # every true I unit is labelled I: their strong links (|z| > 5) decide it
    assert np.all(est.cell_type[ct == "I"] == "I"), est.cell_type
    conn = (W != 0) & ~np.eye(20, dtype=bool)
    sign = np.mean(np.sign(est.weights[conn]) == np.sign(W[conn]))
    sign_glm = np.mean(np.sign(glm.weights[conn]) == np.sign(W[conn]))
    # 35 true links: a sign guess scores ~0.5 (sd 0.085); 0.9 is > 4 sd above chance
    assert sign >= 0.9 and sign >= sign_glm, (sign, sign_glm)
    # detection: the significant links are mostly true (90 % hidden: indirect paths make
    # some false positives unavoidable; the measured precision is ~0.5, chance is 0.09)
    sig = est.adjacency().astype(bool)
    assert (sig & conn).sum() / max(sig.sum(), 1) > 0.3


def _modulated_poisson(n=12, T=120.0, seed=0, tau=0.2, depth=0.5, dt=1e-3):
    """Unconnected inhomogeneous Poisson units sharing one known log-gain ``depth·x(t)``."""
    rng = np.random.default_rng(seed)
    steps = int(round(T / dt))
    x = gaussian_filter1d(rng.standard_normal(steps), tau / dt)
    x /= x.std()
    gain = np.exp(depth * x - depth ** 2 / 2)
    trains = []
    for rate in rng.uniform(5.0, 20.0, n):
        t = np.sort(rng.uniform(0, T, rng.poisson(rate * gain.max() * T)))
        keep = rng.random(t.size) < gain[np.minimum((t / dt).astype(int), steps - 1)] / gain.max()
        trains.append(t[keep])
    st = sw.SpikeTrains.from_lists(trains, t_stop=T, annotations={"engine": "test", "dt": dt})
    return st, x, 1.0 / dt


def test_state_covariate_recovers_gain_and_calibrates_pvalues():
    depth = 0.5
    st, x, rate = _modulated_poisson(depth=depth)
    est = sw.infer(st, "dale_glm", covariates=x, covariate_rate=rate,
                   population_covariate=False)
    # the covariate enters standardised; x has unit sd, so its coefficient is the log-gain
    # depth. Its standard error is ~1/sqrt(n_spikes) per unit (>= 1200 spikes: <= 0.03);
    # resampling x to 2 ms bins costs < 1 %: 0.1 is > 3 standard errors
    beta = est.diagnostics["covariate_coefs"].ravel()
    assert np.all(np.abs(beta - depth) < 0.1), beta
    # no links: with the shared input modelled, at most 2 alpha of 132 pairs at p < alpha
    # (12 % would be 11 pairs against 6.6 expected, sd 2.5)
    ok = est.pair_status == 0
    fpr = np.mean(est.pvalues[ok] < 0.05)
    assert fpr <= 0.10, fpr


def test_covariate_errors():
    st = lif_motif(20.0)
    with pytest.raises(ValueError, match=r"1000 samples.*2000 samples"):
        sw.infer(st, "dale_glm", covariates=np.zeros(1000), covariate_rate=100.0)
    with pytest.raises(ValueError, match="covariate_rate"):
        sw.infer(st, "dale_glm", covariates=np.zeros(2000))
    with pytest.raises(ValueError, match=r"returned shape \(3,\)"):
        sw.infer(st, "dale_glm", covariates=lambda t: np.zeros(3))
    with pytest.raises(ValueError, match="delay window"):
        sw.infer(st, "dale_glm", window=0.001, bin_width=0.002)


def test_prior_errors_and_strong_prior_zeroes_its_pairs():
    with pytest.raises(ValueError, match="cell type 'PV'"):
        get_method("dale_glm", prior={("PV", "E"): 0.2})
    st = lif_motif(150.0)
    # min_label_confidence=0.5 types every unit (units 1 and 3 have no outgoing links; the
    # label fallback would leave them untyped and the E -> E prior would name no pair)
    free = sw.infer(st, "dale_glm", min_label_confidence=0.5)
    assert list(free.cell_type[[0, 2]]) == ["E", "I"]
    assert free.weights[1, 0] > 0 and free.pvalues[1, 0] < 1e-6
    # an L1 weight above the largest gradient at 0 makes 0 the exact optimum (KKT) for every
    # E -> E pair; the I -> E link keeps its sign and evidence
    strong = sw.infer(st, "dale_glm", prior={("E", "E"): 1e-9}, prior_strength=1e4,
                      min_label_confidence=0.5)
    ee = np.outer(strong.cell_type == "E", strong.cell_type == "E") & ~np.eye(4, dtype=bool)
    assert np.all(np.abs(strong.weights[ee]) < 1e-8)
    assert strong.weights[3, 2] < 0 and strong.pvalues[3, 2] < 1e-6


def test_state_proxy_from_hidden_states():
    hs = HiddenStates([1.5, 0.5], duration=20.0, dwell_times=[2.0, 1.0], n_neurons=3, seed=1)
    clean = state_proxy(hs.truth(), rate=50.0, noise=0.0)
    assert clean.shape == (1000,)
    np.testing.assert_array_equal(clean, np.where(hs.sequence(50.0) == 0, 1.5, 0.5))
    noisy = state_proxy(hs.truth(), rate=50.0, noise=0.5, seed=2)
    # the noise sd is 0.5 x the clean signal's sd (1000 samples: relative error ~2 %)
    assert np.std(noisy - clean) == pytest.approx(0.5 * clean.std(), rel=0.1)
    with pytest.raises(ValueError, match="hidden_truth has no 'states'"):
        state_proxy(sw.Recording.from_spikes(lif_motif(5.0)))


def test_wrong_type_prior_degrades_gracefully(brunel_90_hidden, fits):
    """A prior that swaps which type pairs connect (true: 0.1 everywhere) at the default
    strength keeps the labels and signs: its L1 weight (log odds ≤ 6.9 per coefficient) is
    small next to the likelihood, so only the weights shrink a little."""
    rec, W, ct = brunel_90_hidden
    free, _ = fits
    wrong = {("E", "E"): 0.9, ("E", "I"): 0.001, ("I", "E"): 0.001, ("I", "I"): 0.9}
    est = sw.infer(rec, "dale_glm", prior=wrong)
    np.testing.assert_array_equal(est.cell_type, free.cell_type)
    conn = (W != 0) & ~np.eye(20, dtype=bool)
    assert np.mean(np.sign(est.weights[conn]) == np.sign(W[conn])) >= 0.9
    # at an optimum the L1 term is at most its value at the unpenalised fit, so the
    # penalised (E -> I, I -> E) coefficients shrink in total; the summed weights weight
    # those one-signed coefficients by the basis sums, hence 5 % slack
    # (unlabelled units have no type: the prior does not apply to their pairs)
    typed = est.cell_type != "?"
    cross = np.not_equal.outer(est.cell_type, est.cell_type) & np.outer(typed, typed)
    assert np.abs(est.weights[cross]).sum() <= np.abs(free.weights[cross]).sum() * 1.05
