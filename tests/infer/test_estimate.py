"""The Estimate container: multiple-comparison control, adjacency, frame, honesty checks."""

import numpy as np
import pytest

from spikewire.infer import Estimate, adjust_pvalues

NAN = np.nan


def test_bh_and_bonferroni_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2, NAN])
    # BH: sorted 0.01, 0.03, 0.04, 0.2 times m/rank = 0.04, 0.06, 0.0533, 0.2 -> running min
    # from the top: 0.04, 0.0533, 0.0533, 0.2
    np.testing.assert_allclose(adjust_pvalues(p, "bh"),
                               [0.04, 0.16 / 3, 0.16 / 3, 0.2, NAN])
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.8, NAN])
    np.testing.assert_allclose(adjust_pvalues(p, "none"), p)
    with pytest.raises(ValueError, match="correction"):
        adjust_pvalues(p, "holm")


def _est(**kw):
    w = np.array([[0, 0.5, -0.2], [0.1, 0, 0], [0.8, -0.05, 0]])
    p = np.array([[NAN, 1e-3, 1e-2], [0.5, NAN, 0.9], [1e-4, 0.04, NAN]])
    return Estimate(weights=w, method="hand", settings={}, units=np.array([5, 6, 7]),
                    pvalues=p, **kw)


def test_adjacency_signs_and_thresholds():
    est = _est(correction="none")
    np.testing.assert_array_equal(est.adjacency(0.05),
                                  [[0, 1, -1], [0, 0, 0], [1, -1, 0]])
    np.testing.assert_array_equal(est.adjacency(0.005), [[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    # BH over 6 tests: adjusted 0.003, 0.02, 0.6, 0.9, 0.0003, 0.06
    np.testing.assert_array_equal(_est().adjacency(), [[0, 1, -1], [0, 0, 0], [1, 0, 0]])
    assert _est().cell_type.tolist() == ["E", "E", "I"]


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, 2])
def test_alpha_outside_unit_interval(alpha):
    with pytest.raises(ValueError, match="open interval"):
        _est().adjacency(alpha)


def test_nan_weights_and_unexplained_nan_pvalues_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        Estimate(weights=np.array([[0, NAN], [0, 0]]), method="m", settings={},
                 units=np.arange(2))
    with pytest.raises(ValueError, match="without a status"):
        Estimate(weights=np.zeros((2, 2)), method="m", settings={}, units=np.arange(2),
                 pvalues=np.array([[NAN, NAN], [0.1, NAN]]))


def test_to_frame_is_tidy():
    f = _est(correction="none").to_frame()
    assert len(f) == 6
    row = f[(f.pre == 6) & (f.post == 5)].iloc[0]
    assert row.weight == 0.5 and row.p == 1e-3 and row.sign == 1 and row.status == "ok"
