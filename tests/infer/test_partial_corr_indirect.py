"""`partial_corr`'s shared-input null (`shared_input_null`): re-refers the p-values to the
bulk of the pairs only where that bulk departs from N(0, 1), and never lowers a p-value."""

import numpy as np
import pytest
from scipy import stats

from spikewire.infer.partial_corr import MIN_TESTS_SHARED_NULL, shared_input_null


def _symmetric(z_upper, n):
    """Symmetric (n, n) z and two-sided p from upper-triangle z-values."""
    z = np.zeros((n, n))
    z[np.triu_indices(n, 1)] = z_upper
    z = z + z.T
    p = 2 * stats.norm.sf(np.abs(z))
    np.fill_diagonal(p, np.nan)
    tested = ~np.eye(n, dtype=bool)
    return p, z, tested


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_null_bulk_keeps_the_pvalues(seed):
    # 20 units, 190 unordered pairs from N(0, 1): the bulk agrees with the theory (the
    # departure rule allows 3 sd, ~0.5 % of such problems), nothing changes
    n = 20
    rng = np.random.default_rng(seed)
    p, z, tested = _symmetric(rng.standard_normal(n * (n - 1) // 2), n)
    out, info = shared_input_null(p, z, tested, symmetric=True)
    assert info["n_tests"] == 190 and not info["applied"]
    np.testing.assert_array_equal(out, p)


def test_shifted_bulk_is_the_null_and_links_stay():
    # 170 unconnected pairs lifted by shared input, N(2, 1.5²), and 20 links at z = 12
    n = 20
    rng = np.random.default_rng(4)
    m = n * (n - 1) // 2
    zu = 2 + 1.5 * rng.standard_normal(m)
    link = np.zeros(m, bool)
    link[rng.choice(m, 20, replace=False)] = True
    zu[link] = 12.0
    p, z, tested = _symmetric(zu, n)
    out, info = shared_input_null(p, z, tested, symmetric=True)
    assert info["applied"]
    # median and IQR of 170 N(2, 1.5²) values and 20 outliers above: sampling sd
    # ≈ 1.25 · 1.5 / sqrt(190) = 0.14 for the centre; the outliers lift both a little
    assert abs(info["delta0"] - 2.0) < 0.5 and abs(info["sigma0"] - 1.5) < 0.4
    # never lower than before, symmetric, diagonal untouched
    assert np.all(out[tested] >= p[tested])
    np.testing.assert_array_equal(out, out.T)
    assert np.isnan(np.diag(out)).all()
    iu = np.triu_indices(n, 1)
    pu = out[iu]
    bonf = 0.05 / m
    # before: Bonferroni called most lifted null pairs above z ≈ 3.7 (2 + 1.1 sd: ~14 %);
    # after: only pairs beyond ~3.7 sd of the bulk, none of 170 expected (p ≈ 2e-4 · 170)
    assert np.sum(p[iu][~link] < bonf) > 5
    assert np.sum(pu[~link] < bonf) <= 1
    assert np.all(pu[link] < bonf)


def test_a_mild_departure_with_few_small_pvalues_is_left_alone():
    # bulk N(0.5, 1): centre 0.5 beyond the 3-sd tolerance (3 · 1.6 / sqrt(190) = 0.35), but
    # only ~8 % of the tests at p < 0.05, far below the 0.3 of a failed null (the up/down
    # null family departs like this while its shift null holds)
    n = 20
    rng = np.random.default_rng(0)
    p, z, tested = _symmetric(0.5 + rng.standard_normal(n * (n - 1) // 2), n)
    out, info = shared_input_null(p, z, tested, symmetric=True)
    assert info["delta0"] > 0.35 and info["share_p_below_0.05"] < 0.3
    assert not info["applied"]
    np.testing.assert_array_equal(out, p)


def test_too_few_tests_are_left_alone():
    n = 9           # 36 unordered pairs < 45
    assert n * (n - 1) // 2 < MIN_TESTS_SHARED_NULL
    rng = np.random.default_rng(0)
    p, z, tested = _symmetric(3 + rng.standard_normal(n * (n - 1) // 2), n)
    out, info = shared_input_null(p, z, tested, symmetric=True)
    assert not info["applied"] and "fewer than" in info["reason"]
    np.testing.assert_array_equal(out, p)


def test_large_problems_are_left_to_the_null_check():
    # 46 units: 1,035 distinct tests >= MIN_TESTS_LFDR, a bulk lifted as far as above
    n = 46
    rng = np.random.default_rng(6)
    p, z, tested = _symmetric(2 + 1.5 * rng.standard_normal(n * (n - 1) // 2), n)
    out, info = shared_input_null(p, z, tested, symmetric=True)
    assert info["n_tests"] == 1035 and not info["applied"]
    np.testing.assert_array_equal(out, p)
