"""Scores against values computed by hand on tiny examples."""

import math

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import Estimate
from spikewire.score import classify_links, score

NAN = np.nan


def _tiny():
    # truth (post x pre): 1 -> 0 (+1), 2 -> 1 (-1), 0 -> 2 (+2); types E, E, I
    W = np.array([[0, 1.0, 0], [0, 0, -1.0], [2.0, 0, 0]])
    D = np.array([[0, 1e-3, 0], [0, 0, 2e-3], [3e-3, 0, 0]])
    w = np.array([[0, 0.5, -0.2], [0.1, 0, -0.3], [0.8, 0.05, 0]])
    p = np.array([[NAN, 1e-3, 1e-2], [0.5, NAN, 0.2], [1e-4, 0.9, NAN]])
    d = np.array([[NAN, 1.5e-3, 1e-3], [1e-3, NAN, 1e-3], [2e-3, 1e-3, NAN]])
    est = Estimate(weights=w, method="hand", settings={}, units=np.arange(3), pvalues=p,
                   delays=d, alpha=0.05, correction="none")
    return (W, np.array(["E", "E", "I"]), D), est


def test_scores_match_hand_computation():
    truth, est = _tiny()
    s = score(truth, est)
    # evidence −log10 p; positives {3, 0.70, 4} vs negatives {2, 0.30, 0.05}: 8 of 9 ordered
    assert math.isclose(s["auc"], 8 / 9)
    # ranking P P N P N N -> AP = (1/1 + 2/2 + 3/4) / 3
    assert math.isclose(s["ap"], (1 + 1 + 0.75) / 3)
    # detected (0,1) TP, (0,2) FP, (2,0) TP; (1,2) FN; TN = 2
    assert math.isclose(s["precision"], 2 / 3) and math.isclose(s["recall"], 2 / 3)
    assert math.isclose(s["f1"], 2 / 3)
    assert math.isclose(s["mcc"], (2 * 2 - 1 * 1) / 9)
    assert s["n_true"] == 3 and s["n_detected"] == 3 and s["n_pairs"] == 6
    assert s["auc_exc"] == 1.0
    assert math.isclose(s["auc_inh"], 2 / 3)          # 0.70 beats −0.30, −0.05, not 2
    assert s["mcc_exc"] == 1.0
    assert math.isclose(s["mcc_inh"], -1 / 5)         # TP 0, FP 1, FN 1, TN 4
    assert s["sign_accuracy"] == 1.0 and s["sign_accuracy_all"] == 1.0
    wv = np.array([0.5, -0.2, 0.1, -0.3, 0.8, 0.05])
    y = np.array([1, 0, 0, -1, 2, 0.0])
    scale = 2.4 / 1.0325                               # <ŵ, w> / <ŵ, ŵ>
    assert math.isclose(s["weight_scale"], scale)
    assert math.isclose(s["weight_nerr"], np.linalg.norm(scale * wv - y) / math.sqrt(6))
    assert math.isclose(s["weight_corr"], np.corrcoef(wv, y)[0, 1])
    # labels from the detected links: col 0 (+) E, col 1 (+) E, col 2 (−) I
    assert s["ei_accuracy"] == s["ei_accuracy_E"] == s["ei_accuracy_I"] == 1.0
    assert s["ei_labelled"] == 1.0
    # delays on detected true links: +0.5 ms and −1 ms
    assert math.isclose(s["delay_mae"], 0.75e-3) and math.isclose(s["delay_bias"], -0.25e-3)
    assert s["n_delays"] == 2
    # (0,1) and (2,0) direct; (0,2): 2 -> 1 -> 0 is a path of length 2
    assert math.isclose(s["frac_direct"], 2 / 3) and math.isclose(s["frac_indirect"], 1 / 3)
    assert s["frac_spurious"] == 0.0
    assert all(isinstance(v, int | float) for v in s.values())


def test_hidden_neurons_link_classes():
    # neurons 3, 4 hidden; true: 3 -> 0, 3 -> 1 (common input), 2 -> 4 -> 1, 0 -> 1
    N = 5
    W = np.zeros((N, N))
    W[0, 3] = W[1, 3] = 1.0
    W[4, 2] = W[1, 4] = 1.0
    W[1, 0] = 1.0
    p = np.full((3, 3), 0.9)
    np.fill_diagonal(p, NAN)
    links = [(0, 1), (1, 2), (2, 0), (1, 0)]   # common, indirect, spurious, direct
    for i, j in links:
        p[i, j] = 1e-6
    est = Estimate(weights=np.where(p < 0.01, 1.0, 0.0), method="hand", settings={},
                   units=np.arange(3), pvalues=p, true_index=np.array([0, 1, 2]),
                   correction="none")
    cls = classify_links(W, est)
    assert [cls[i, j] for i, j in links] == [2, 1, 3, 0]
    s = score(W, est)
    assert s["frac_direct"] == s["frac_indirect"] == s["frac_common_input"] == 0.25
    assert s["frac_spurious"] == 0.25
    assert s["n_true"] == 1  # only 0 -> 1 is between observed units


def test_true_index_selects_observed_submatrix():
    net = sw.networks.from_matrix(np.array([[0, 0, 0], [0, 0, 0], [0, 1.0, 0]]),
                                  ["E", "E", "E"], delays=2e-3)
    # observe neurons 2 and 1 (in that order): the link 1 -> 2 is (post 0, pre 1)
    est = Estimate(weights=np.array([[0, 0.3], [0.0, 0]]), method="hand", settings={},
                   units=np.array([10, 11]), pvalues=np.array([[NAN, 1e-5], [0.7, NAN]]),
                   delays=np.array([[NAN, 2.5e-3], [NAN, NAN]]), true_index=np.array([2, 1]))
    s = score(net, est)
    assert s["n_true"] == 1 and s["recall"] == 1.0 and s["precision"] == 1.0
    assert math.isclose(s["delay_mae"], 0.5e-3)


@pytest.mark.parametrize("truth, match", [
    (np.zeros((4, 4)), "no true_index"),
    ("nonsense", "truth must be"),
    ((np.zeros((3, 3)),), "truth tuple"),
])
def test_bad_truth(truth, match):
    _, est = _tiny()
    with pytest.raises((ValueError, TypeError), match=match):
        score(truth, est)


def test_truth_forms_agree():
    (W, ct, D), est = _tiny()
    a = score((W, ct, D), est)
    b = score((W, ct == "E", D), est)        # boolean types, True = E
    net = sw.networks.from_matrix(W, ct, delays=D)
    c = score(net, est)
    assert a == b
    for k in a:   # the Network form takes delays from the synapses: same values
        assert (a[k] == c[k]) or (math.isnan(a[k]) and math.isnan(c[k])), k


def test_bad_alpha_and_estimate():
    truth, est = _tiny()
    with pytest.raises(ValueError, match="alpha"):
        score(truth, est, alpha=1.2)
    with pytest.raises(TypeError, match="Estimate"):
        score(truth, {"weights": 1})


def test_untested_pairs_rank_lowest_and_count_as_missed():
    truth, est = _tiny()
    status = est.pair_status.copy()
    status[1, 2] = 3   # the missed inhibitory link was not even tested
    est2 = Estimate(weights=np.where(status == 0, est.weights, 0), method="hand", settings={},
                    units=np.arange(3), pvalues=np.where(status == 0, est.pvalues, NAN),
                    pair_status=status, correction="none")
    s = score(truth, est2)
    assert s["n_untested"] == 1 and s["n_pairs"] == 6
    assert math.isclose(s["auc"], 6 / 9)   # the untested true link now ranks below all


def test_size_mismatch_without_mapping_raises():
    """Issue 13: hand-made trains of 120 units scored against a 200-neuron network used to
    map unit k to neuron k silently (AUC 0.49); without a true_index it is now an error."""
    rng = np.random.default_rng(3)
    net = sw.networks.brunel(200, seed=0)
    trains = [np.sort(rng.uniform(0, 20.0, rng.poisson(200))) for _ in range(120)]
    st = sw.SpikeTrains.from_lists(trains, t_stop=20.0)
    est = sw.infer(st, "partial_corr")
    assert np.all(est.true_index == -1)          # ids of hand-made trains map to nothing
    with pytest.raises(ValueError, match="120 units but the network has 200 neurons"):
        score(net, est)
    # the user who knows the mapping states it, and gets the mapped submatrix scored
    rec = sw.Recording.from_spikes(st, true_index=np.arange(120))
    s = score(net, sw.infer(rec, "partial_corr"))
    assert s["n_units"] == 120 and s["n_pairs"] == 120 * 119


def test_simulated_spikes_keep_their_neuron_index():
    net = sw.networks.brunel(60, seed=0)
    st = sw.simulate(net, duration=0.2, seed=1)
    est = sw.infer(st.select(np.arange(10, 40)), "partial_corr")
    np.testing.assert_array_equal(est.true_index, np.arange(10, 40))


def test_true_index_scores_the_mapped_submatrix():
    truth, est = _tiny()
    W, ct, D = truth
    # embed the 3-neuron truth into 6 neurons at positions (4, 0, 2) plus unrelated links
    big_W = np.zeros((6, 6))
    big_D = np.zeros((6, 6))
    pos = np.array([4, 0, 2])
    big_W[np.ix_(pos, pos)] = W
    big_D[np.ix_(pos, pos)] = D
    big_W[1, 3], big_W[5, 1] = 1.0, -1.0          # links among unobserved neurons
    big_D[1, 3], big_D[5, 1] = 1e-3, 1e-3
    big_ct = np.array(["E"] * 6)
    big_ct[pos] = ct
    big_ct[5] = "I"
    est.true_index = pos
    mapped = score((big_W, big_ct, big_D), est)
    est.true_index = None
    direct = score(truth, est)
    for key in ("auc", "ap", "mcc", "precision", "recall", "auc_exc", "auc_inh"):
        assert math.isclose(mapped[key], direct[key]), key


def test_best_mcc_equals_brute_force_over_thresholds_and_gap_is_its_difference():
    from sklearn.metrics import matthews_corrcoef

    from spikewire.score.metrics import _best_mcc

    rng = np.random.default_rng(5)
    y = rng.random(400) < 0.2
    # tied evidence values (rounded) so that a threshold cannot split a tie
    ev = np.round(y * 0.8 + rng.normal(0, 0.6, y.size), 1)
    brute = max([matthews_corrcoef(y, ev >= t) for t in np.unique(ev)] + [0.0])
    assert _best_mcc(y, ev) == pytest.approx(brute, abs=1e-12)
    # a perfect ranking reaches 1, a constant ranking 0 (only "all" or "none" cut)
    assert _best_mcc(y, y.astype(float)) == pytest.approx(1.0)
    assert _best_mcc(y, np.zeros(y.size)) == 0.0

    net = sw.networks.brunel(200, g=5.0, eta=2.0, J=0.5, delay=3e-3, seed=0)
    st = sw.simulate(net, duration=20.0, dt=1e-4, seed=1)
    s = sw.score(net, sw.infer(st.select(np.arange(30)), "ccg"))
    assert s["mcc_best"] >= 0.0
    assert s["calibration_gap"] == pytest.approx(s["mcc_best"] - s["mcc"])


def test_undirected_scores_count_a_symmetric_call_once():
    # truth (post x pre): 0 <-> 1 reciprocal (+1 each way), 3 -> 2 (−1)
    W = np.zeros((4, 4))
    W[0, 1] = W[1, 0] = 1.0
    W[2, 3] = -1.0
    # a symmetric estimate: {0,1} p 1e-4, {0,2} p 1e-3, {2,3} p 0.3, the rest 0.5
    p = np.full((4, 4), 0.5)
    for (i, j), v in {(0, 1): 1e-4, (0, 2): 1e-3, (2, 3): 0.3}.items():
        p[i, j] = p[j, i] = v
    np.fill_diagonal(p, NAN)
    w = np.where(p < 0.01, 0.2, 0.01)
    np.fill_diagonal(w, 0.0)
    est = Estimate(weights=w, method="hand", settings={}, units=np.arange(4), pvalues=p,
                   alpha=0.05, correction="none", diagnostics={"symmetric": True})
    s = score((W, ["E", "E", "E", "I"]), est)
    # directed: 4 calls (two per called pair) for 3 true links; TP 2, FP 2, FN 1, TN 7
    assert s["n_detected"] == 4 and s["n_true"] == 3
    assert math.isclose(s["mcc"], (2 * 7 - 2 * 1) / math.sqrt(4 * 3 * 9 * 8))
    # unordered: 6 pairs, 2 true ({0,1}, {2,3}), 2 called ({0,1}, {0,2}); TP 1, FP 1, FN 1,
    # TN 3
    assert s["symmetric"] == 1 and s["n_pairs_undirected"] == 6
    assert s["n_true_undirected"] == 2 and s["n_detected_undirected"] == 2
    assert math.isclose(s["mcc_undirected"], (1 * 3 - 1 * 1) / math.sqrt(2 * 2 * 4 * 4))
    # evidence −log10 p: positives {4, 0.52} against negatives {3, 0.30 ×3}: 7 of 8
    assert math.isclose(s["auc_undirected"], 7 / 8)
    # a directed estimate calling one direction of a pair calls the pair; its evidence is
    # the larger direction's
    p2 = p.copy()
    p2[2, 0] = 0.5
    p2[1, 0] = 0.9
    est2 = Estimate(weights=w, method="hand", settings={}, units=np.arange(4), pvalues=p2,
                    alpha=0.05, correction="none")
    s2 = score((W, ["E", "E", "E", "I"]), est2)
    assert s2["symmetric"] == 0 and s2["n_detected"] == 2
    assert s2["n_detected_undirected"] == 2 and math.isclose(s2["auc_undirected"], 7 / 8)
