"""``dale_glm``'s label check (``label_check``, :func:`strongest_link_labels`): a unit's
single strongest outgoing link, significant after a Bonferroni correction over the unit's
one-sided tests, sets an unlabelled unit's sign and frees a label that disagrees with it;
and the mirror fit's excitatory evidence (``MIRROR_EVIDENCE``): the reverse pair of an
inhibitory link is not called excitatory."""

import numpy as np
import pytest
from infer_fixtures import poisson_times
from scipy.stats import norm

import spikewire as sw
from spikewire.infer import dale_glm as dg
from spikewire.infer.dale_glm import DaleGLM, label_units, strongest_link_labels


def _labels(signs):
    """A label_units-like result with the given signs (+1 E, −1 I, 0 unlabelled)."""
    signs = np.asarray(signs, dtype=float)
    return dict(signs=signs, labels=np.where(signs > 0, "E", np.where(signs < 0, "I", "?")),
                log_odds=signs.copy(), confidence=np.full(signs.size, 0.9))


def test_strongest_link_rules_on_constructed_evidence():
    # 4 units × 3 tested targets: threshold Φ⁻¹(1 − 0.05 / 6) = 2.394 for every unit
    ze = np.array([[4.0, 0.1, 0.0, 50.0],     # unit 0, unlabelled: one strong E link
                   [1.0, 0.5, 0.2, 0.0],      # unit 1, labelled E: a strong I link
                   [0.3, -0.2, 0.1, 0.0],     # unit 2, labelled I: a strong I link
                   [2.3, 0.0, 0.0, 0.0]])     # unit 3, labelled I: E evidence below
    zi = ze.copy()
    zi[1, 1] = -5.0
    zi[2, 0] = -6.0
    tested = np.ones_like(ze, dtype=bool)
    tested[:, 3] = False                      # the untested z = 50 is not evidence
    lab = _labels([0, 1, -1, -1])
    out = strongest_link_labels(lab, ze, zi, tested)
    thr = norm.isf(0.05 / 6)
    np.testing.assert_allclose(out["strongest"]["threshold"], thr)
    np.testing.assert_allclose(out["strongest"]["excitatory"], [4.0, 1.0, 0.3, 2.3])
    np.testing.assert_allclose(out["strongest"]["inhibitory"], [0.0, 5.0, 6.0, 0.0])
    np.testing.assert_array_equal(out["signs"], [1, 0, -1, -1])
    np.testing.assert_array_equal(out["labels"], ["E", "?", "I", "I"])
    np.testing.assert_array_equal(out["strongest"]["changed"], ["set", "freed", "", ""])
    # the other entries pass through and the input is not changed
    assert out["confidence"] is lab["confidence"]
    np.testing.assert_array_equal(lab["signs"], [0, 1, -1, -1])
    # the threshold grows with the number of tests: 2.3 clears it with one target
    # (Φ⁻¹(1 − 0.05 / 2) = 1.96) but not with three
    one = np.zeros_like(tested)
    one[3, 0] = True
    out = strongest_link_labels(_labels([0, 0, 0, 0]), ze, zi, one)
    np.testing.assert_array_equal(out["signs"], [0, 0, 0, 1])
    assert np.isinf(out["strongest"]["threshold"][:3]).all()   # untested units: no test


def test_strongest_link_check_holds_its_level_on_null_evidence():
    """Unlabelled units with no link and 20 independent N(0, 1) targets: a unit is set
    when max |z| > Φ⁻¹(1 − α/(2·20)), probability 1 − (1 − α/20)²⁰ = 0.0489 at α = 0.05.
    Over 4000 units the fraction has sd 0.0034, so ±0.012 is > 3.5 sd."""
    z = np.random.default_rng(1).standard_normal((4000, 20))
    out = strongest_link_labels(_labels(np.zeros(4000)), z, z, np.ones_like(z, dtype=bool))
    expected = 1.0 - (1.0 - 0.05 / 20) ** 20
    assert np.mean(out["signs"] != 0) == pytest.approx(expected, abs=0.012)
    # and on label_units' own output the null leaves almost all labels alone
    lab = label_units(z, np.ones_like(z, dtype=bool), min_confidence=0.99)
    out = strongest_link_labels(lab, z, z, np.ones_like(z, dtype=bool))
    assert np.mean(out["strongest"]["changed"] == "freed") < 0.01


def test_strongest_link_labels_rejects_bad_input():
    z = np.zeros((3, 4))
    ok = np.ones((3, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"must be \(n_pre, n_post\) arrays of one shape"):
        strongest_link_labels(_labels([0, 0, 0]), z, np.zeros((3, 5)), ok)
    with pytest.raises(ValueError, match="alpha=1.5"):
        strongest_link_labels(_labels([0, 0, 0]), z, z, ok, alpha=1.5)
    with pytest.raises(ValueError, match="labels cover 2 units"):
        strongest_link_labels(_labels([0, 0]), z, z, ok)


@pytest.mark.parametrize("shift", [0.0, 4.0])
def test_mirror_tests_level_with_and_without_a_hump(shift, monkeypatch):
    """Unlinked pairs: contrast and causal z bivariate normal (ρ = 0.7), the causal z
    shifted by a shared-input hump of ``shift`` (sd 0.5 between pairs, as at 90 %
    hidden). Under the hump the excitatory test is the contrast's own, rate 0.05 at
    0.05; without one both z must pass, rate P(Zc > 1.645, Zk > 1.645) for the
    bivariate normal (scipy, ≈ 0.02). 40,000 pairs: sd ≤ 0.0011, tolerance 0.005 (> 4 sd).
    The inhibitory test is conservative under the hump (the causal z far above 0)."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(4)
    n = 40000
    zc = rng.standard_normal(n)
    zk = 0.7 * zc + np.sqrt(1 - 0.49) * rng.standard_normal(n)
    if shift:
        zk += shift + 0.5 * rng.standard_normal(n)
    p_exc, p_inh = dg._mirror_evidence(zc, zk)
    t = norm.isf(0.05)
    both = multivariate_normal.cdf([-t, -t], mean=[0, 0], cov=[[1, 0.7], [0.7, 1]])
    expected = 0.05 if shift else both
    assert 0.015 < both < 0.03
    assert np.mean(p_exc < 0.05) == pytest.approx(expected, abs=0.005)
    if shift:
        assert np.mean(p_inh < 0.05) < 0.001
    else:
        assert np.mean(p_inh < 0.05) == pytest.approx(both, abs=0.005)
    # the default rule ("reverse"): without a reverse pair's z it is the test above;
    # with reverse pairs that flag no inhibition, excitation is the contrast's own test
    # (rate 0.05 with or without a hump); a flagged (or unknown) reverse pair brings the
    # intersection–union test back, pair by pair
    assert dg.MIRROR_EVIDENCE == "reverse"
    thr = dg.MIRROR_REVERSE_INHIBITION
    rev = rng.standard_normal(n)
    p_rev, p_inh_rev = dg._mirror_evidence(zc, zk, z_reverse=np.maximum(rev, -thr))
    assert np.mean(p_rev < 0.05) == pytest.approx(0.05, abs=0.005)
    np.testing.assert_array_equal(p_inh_rev, p_inh)
    flag = rev < 0.0
    p_mixed, _ = dg._mirror_evidence(zc, zk, z_reverse=np.where(flag, -thr - 0.1, np.nan * rev))
    np.testing.assert_array_equal(p_mixed, p_exc)          # flagged or unknown: both
    p_half, _ = dg._mirror_evidence(zc, zk, z_reverse=np.where(flag, -thr - 0.1, 0.0))
    np.testing.assert_array_equal(p_half[flag], p_exc[flag])
    np.testing.assert_array_equal(p_half[~flag], norm.sf(zc[~flag]))
    # "both" (sessions 25–27) ignores the reverse pairs
    monkeypatch.setattr(dg, "MIRROR_EVIDENCE", "both")
    p_both, _ = dg._mirror_evidence(zc, zk, z_reverse=np.zeros(n))
    np.testing.assert_array_equal(p_both, p_exc)
    # the split rule (sessions 22–24) tests the contrast alone for excitation
    monkeypatch.setattr(dg, "MIRROR_EVIDENCE", "split")
    p_split, _ = dg._mirror_evidence(zc, zk)
    assert np.mean(p_split < 0.05) == pytest.approx(0.05, abs=0.005)


def test_label_check_option_is_validated_and_resolved():
    assert DaleGLM().label_check == "auto"
    assert DaleGLM()._label_check_used(mirror=True) == "strongest"
    assert DaleGLM()._label_check_used(mirror=False) == "none"
    assert DaleGLM(label_check="none")._label_check_used(mirror=True) == "none"
    st = sw.SpikeTrains.from_lists([np.sort(np.random.default_rng(0).uniform(0, 10, 50))
                                    for _ in range(3)], t_stop=10.0)
    with pytest.raises(ValueError, match="label_check"):
        sw.infer(st, "dale_glm", label_check="largest")
    with pytest.raises(ValueError, match="label_check='strongest' needs the full solver"):
        sw.infer(st, "dale_glm", label_check="strongest", solver="screened")


T = 150.0


def _inhibitor(seed=0, n_shared=6, p_delete=0.3):
    """Unit 0 inhibits unit 1 (each of 1's 30 Hz Poisson spikes within 1–6 ms after a
    spike of 0 is deleted with probability ``p_delete``) and shares a hidden 15 Hz driver with
    ``n_shared`` units 2, 3, … (each driver spike passes to each of them with probability
    0.6 after a uniform 0–6 ms delay; 8 Hz background each): no other link. The shared
    input lifts unit 0's causal filters to its ``n_shared`` partners, so the summed
    evidence leaves it unlabelled though its one link is strong."""
    rng = np.random.default_rng(seed)
    hidden = poisson_times(rng, 15.0, T)

    def child():
        kept = hidden[rng.random(hidden.size) < 0.6]
        own = kept + rng.uniform(0.0, 6e-3, kept.size)
        return np.sort(np.concatenate([own[own < T], poisson_times(rng, 8.0, T)]))

    inhibitor = child()
    post = poisson_times(rng, 30.0, T)
    last = np.searchsorted(inhibitor, post - 1e-3, side="right") - 1
    near = (last >= 0) & (post - inhibitor[np.clip(last, 0, None)] <= 6e-3)
    post = post[~(near & (rng.random(post.size) < p_delete))]
    return sw.SpikeTrains.from_lists([inhibitor, post] + [child() for _ in range(n_shared)],
                                     t_stop=T)


@pytest.fixture(scope="module")
def inhibitor_fits():
    st = _inhibitor()
    kw = dict(bin_width=1e-3, acausal="mirror", n_basis=4)
    return {lc: sw.infer(st, "dale_glm", label_check=lc, **kw) for lc in ("none", "auto")}


def test_check_labels_the_weak_inhibitor_and_keeps_the_link(inhibitor_fits):
    none, checked = inhibitor_fits["none"], inhibitor_fits["auto"]
    # the summed evidence leaves unit 0 unlabelled; its strongest link makes it I
    assert none.cell_type[0] == "?"
    assert "label_check" not in none.diagnostics
    assert checked.cell_type[0] == "I"
    lc = checked.diagnostics["label_check"]
    assert lc["changed"][0] == "set"
    assert lc["inhibitory"][0] > lc["threshold"][0] > lc["excitatory"][0]
    # the shared-input partners keep their labels; nothing else changes
    np.testing.assert_array_equal(checked.cell_type[2:], none.cell_type[2:])
    assert set(lc["changed"][1:]) == {""}
    # the link 0 → 1 is called inhibitory either way (two-sided before, one-sided after:
    # a smaller p-value), and nothing else is called
    for est in (none, checked):
        adj = est.adjacency()
        assert adj[1, 0] == -1
        assert np.count_nonzero(adj) == 1
    assert checked.pvalues[1, 0] < none.pvalues[1, 0]


def test_reverse_pair_of_an_inhibitory_link_is_not_called_excitatory(monkeypatch):
    """With causal − mirror alone as excitatory evidence, the reverse pair (post 0,
    pre 1) reads as excitation (1's spikes are missing just *after* 0's: a negative
    mirror); requiring the causal filter too (``MIRROR_EVIDENCE = "both"``) removes it,
    and so does the default ``"reverse"``, which requires it only where the reverse pair
    (post 1, pre 0: the link itself) flags inhibition. The strong link (deletion
    probability 0.8) makes the artefact certain."""
    st = _inhibitor(seed=1, n_shared=2, p_delete=0.8)
    ests = {}
    for rule in ("split", "both", "reverse"):
        monkeypatch.setattr(dg, "MIRROR_EVIDENCE", rule)
        ests[rule] = sw.infer(st, "dale_glm", bin_width=1e-3, acausal="mirror",
                              n_basis=4)
    assert ests["split"].adjacency()[0, 1] == 1
    for rule in ("both", "reverse"):
        assert ests[rule].adjacency()[0, 1] == 0, rule
        assert ests[rule].adjacency()[1, 0] == -1, rule
    assert ests["reverse"].diagnostics["wald_z_causal"][1, 0] < -dg.MIRROR_REVERSE_INHIBITION
