"""E/I labelling (Dale's law) from signed significant links."""

import numpy as np
import pytest
from scipy import stats

from spikewire.infer.labels import apply_dale, label_cell_types


def test_majority_labels_and_beta_posterior_confidence():
    # columns = pre units: 3 positive; 2 pos + 1 neg; 1 neg; none; tie (+1/−1)
    adj = np.array([
        [0, 1, -1, 0, 1],
        [1, 0, 0, 0, -1],
        [1, 1, 0, 0, 0],
        [1, -1, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ])
    w = adj * 1.0
    w[0, 4] = 0.5          # the tie goes to the larger summed weight: −1 + 0.5 < 0 → I
    labels, conf = label_cell_types(adj, weights=w)
    assert labels.tolist() == ["E", "E", "I", "?", "I"]
    # P(q > 1/2) for q ~ Beta(k_for + 1, k_against + 1)
    assert np.isclose(conf[0], stats.beta.sf(0.5, 4, 1))      # 0.9375
    assert np.isclose(conf[1], stats.beta.sf(0.5, 3, 2))      # 0.6875
    assert np.isclose(conf[2], 0.75)
    assert conf[3] == 0.0 and conf[4] == 0.5


def test_label_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        label_cell_types(np.zeros((2, 3)))


def test_apply_dale_keeps_one_sign_per_unit():
    # pre 0: two strong excitatory links and one weak "inhibitory" one -> E, the weak
    # negative link is re-tested one-sided as excitation and disappears
    le = np.log(np.array([[1, 1e-9, 0.5], [1e-8, 1, 0.9], [0.9, 0.04, 1]]))
    li = np.log(np.array([[1, 0.9, 1e-7], [0.9, 1, 0.2], [0.02, 0.9, 1]]))
    w_exc = np.array([[0, 0.2, 0.01], [0.3, 0, 0.01], [0.0, 0.05, 0]])
    w_inh = -np.array([[0, 0.0, 0.2], [0.0, 0, 0.01], [0.05, 0.0, 0]])
    tested = ~np.eye(3, dtype=bool)
    log_p, w, labels, conf = apply_dale(le, li, w_exc, w_inh, tested, 0.05, "none")
    assert labels.tolist() == ["E", "E", "I"]
    assert np.isclose(np.exp(log_p[2, 0]), 0.9)     # one-sided excitation test for E unit 0
    assert w[2, 0] >= 0 and w[0, 2] < 0
    signs = np.sign(w) * (np.exp(log_p) < 0.05) * tested
    assert not np.any((signs > 0).any(axis=0) & (signs < 0).any(axis=0))
