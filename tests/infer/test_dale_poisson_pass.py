"""The compiled loss passes of dale_glm's objective against their numpy definitions."""

import numpy as np

from spikewire.infer.dale_glm import _poisson_pass, _poisson_pass_population


def _reference(eta, y, w, P, gp):
    """Weighted Poisson loss, residual, its column sums and the population gradient, by the
    objective's definition in numpy (η clipped at 50 inside the exp)."""
    v = eta + np.einsum("ktn,kn->tn", P, gp)
    mu = np.exp(np.minimum(v, 50.0))
    f = float(np.sum(w * (mu - y * v)))
    res = w * (mu - y)
    return f, res, res.sum(0), np.einsum("ktn,tn->kn", P, res)


def test_population_pass_equals_the_numpy_definition_and_the_plain_pass():
    """Random (n_bins, n_targets) arrays with zero-weight rows (refractory bins) and a few
    η above the exp's clip: loss, residual, column sums and the population gradient equal
    the numpy definition to rounding; without population scales it is the plain pass."""
    rng = np.random.default_rng(5)
    n, m, k = 2_000, 7, 2
    eta = rng.normal(-3.0, 1.0, (n, m))
    eta[:3, 0] = 60.0                              # beyond the clip of the exp
    y = rng.poisson(0.1, (n, m)).astype(float)
    w = (rng.random((n, m)) > 0.05).astype(float)  # some bins left out (weight 0)
    P = rng.normal(0.0, 1.0, (k, n, m))
    gp = rng.normal(0.0, 0.3, (k, m))
    f_ref, res_ref, rs_ref, gg_ref = _reference(eta, y, w, P, gp)
    e = eta.copy()
    gg = np.zeros((k, m))
    f, rs = _poisson_pass_population(e, y, w, P, gp, gg)
    np.testing.assert_allclose(f, f_ref, rtol=1e-12)
    np.testing.assert_allclose(e, res_ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(rs, rs_ref, rtol=1e-10)
    np.testing.assert_allclose(gg, gg_ref, rtol=1e-10, atol=1e-9 * np.abs(gg_ref).max())
    assert np.all(e[w == 0] == 0.0)
    # no population scales: the plain pass, exactly
    e1, e2 = eta.copy(), eta.copy()
    f1, rs1 = _poisson_pass_population(e1, y, w, np.zeros((0, n, m)), np.zeros((0, m)),
                                       np.zeros((0, m)))
    f2, rs2 = _poisson_pass(e2, y, w)
    assert f1 == f2
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(rs1, rs2)
