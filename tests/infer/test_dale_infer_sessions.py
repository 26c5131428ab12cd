"""``spikewire.infer`` with several sessions (stitching through ``fit_sessions``)."""

import numpy as np
import pytest
from infer_fixtures import lif_motif

import spikewire as sw
from spikewire.infer.base import NotApplicableError, get_method
from spikewire.observe.subsample import subsample


@pytest.fixture(scope="module")
def sessions():
    """Two independent simulations of the motif E 0 -> 1, I 2 -> 3 (30 s each): A records
    {0, 1, 2}, B records {1, 2, 3}."""
    a = subsample(lif_motif(30.0, seed=1), neurons=[0, 1, 2])
    b = subsample(lif_motif(30.0, seed=2), neurons=[1, 2, 3])
    return a, b


def test_infer_sessions_is_fit_sessions(sessions):
    direct = get_method("dale_glm").fit_sessions(list(sessions))
    for est in (sw.infer(list(sessions), "dale_glm"),
                sw.infer(tuple(sessions), "dale_glm"),
                sw.infer(sessions=list(sessions), method="dale_glm")):
        # the same problem through the same code path: bit-identical results
        np.testing.assert_array_equal(est.units, [0, 1, 2, 3])
        np.testing.assert_array_equal(est.weights, direct.weights)
        np.testing.assert_array_equal(est.pvalues, direct.pvalues)
        np.testing.assert_array_equal(est.pair_status, direct.pair_status)
        assert est.diagnostics["n_sessions"] == 2
    # 0 and 3 were never recorded together
    assert direct.pair_status[3, 0] == 4 and not direct.diagnostics["recorded_together"][3, 0]


def test_infer_sessions_passes_settings_and_per_session_covariates(sessions):
    rate = 100.0
    covs = [np.sin(np.arange(int(s.spikes.duration * rate)) / 50.0) for s in sessions]
    est = sw.infer(list(sessions), "dale_glm", covariates=covs, covariate_rate=rate,
                   max_iter=50)
    assert est.settings["max_iter"] == 50
    assert est.diagnostics["n_covariates"] == 1
    # one covariate per session: a single array is refused with the fix in the message
    with pytest.raises(ValueError, match="one per session"):
        sw.infer(list(sessions), "dale_glm", covariates=[covs[0]], covariate_rate=rate)


def test_infer_sessions_errors(sessions):
    a, b = sessions
    with pytest.raises(NotApplicableError, match=r"'ccg'.*cannot stitch.*dale_glm"):
        sw.infer([a, b], "ccg")
    with pytest.raises(TypeError, match="not both"):
        sw.infer([a, b], "dale_glm", sessions=[a, b])
    with pytest.raises(TypeError, match="not both"):
        sw.infer(a, "dale_glm", sessions=[a, b])
    with pytest.raises(TypeError, match="give a Recording"):
        sw.infer(method="dale_glm")
    with pytest.raises(TypeError, match="sequence of Recording"):
        sw.infer(sessions=a, method="dale_glm")
    with pytest.raises(ValueError, match="pairs cannot be restricted"):
        sw.infer([a, b], "dale_glm", pairs=[(1, 0)])
    # sessions that share no unit cannot be placed in one matrix
    c = subsample(lif_motif(30.0, seed=3), neurons=[3])
    d = subsample(lif_motif(30.0, seed=4), neurons=[0, 1])
    with pytest.raises(ValueError, match="share no unit"):
        sw.infer([d, c], "dale_glm")
    # a single recording still goes through fit
    assert sw.infer(a, "dale_glm").units.size == 3
