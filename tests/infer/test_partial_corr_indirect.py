"""`partial_corr`'s shared-input null (`shared_input_null`): re-refers the p-values to the
bulk of the pairs only where that bulk departs from N(0, 1), and never lowers a p-value."""

import numpy as np
import pytest
from scipy import stats

import spikewire as sw
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


def _hidden_common_input(n=20, T=300.0, seed=11):
    """``n`` unconnected units, each firing 4 Hz of its own plus copies (jitter sd 1 ms, each
    kept with probability 0.5) of the events of 40 hidden 3 Hz neurons that each project
    to 5 random units: fast shared input, no direct link between any two units."""
    rng = np.random.default_rng(seed)
    trains = [list(rng.uniform(0, T, rng.poisson(4.0 * T))) for _ in range(n)]
    for _ in range(40):
        events = rng.uniform(0, T, rng.poisson(3.0 * T))
        for u in rng.choice(n, 5, replace=False):
            keep = events[rng.random(events.size) < 0.5]
            trains[u].extend(keep + rng.normal(0, 1e-3, keep.size))
    return sw.SpikeTrains.from_lists([np.sort(np.clip(t, 0, T - 1e-6)) for t in trains],
                                     t_stop=T)


def test_default_refers_hidden_common_input_to_the_bulk():
    # no links at all: every default call is false. The shift null moves the fast shared
    # input, so most pairs sharing a hidden neuron reject it; the bulk is the null
    st = _hidden_common_input()
    off = sw.infer(st, "partial_corr", shared_null="off")
    with pytest.warns(UserWarning, match="referred to the bulk of the pairs"):
        est = sw.infer(st, "partial_corr")
    info = est.diagnostics["shared_null"]
    assert info["applied"] and info["share_p_below_0.05"] > 0.3 and info["delta0"] > 0
    assert est.correction == "bh" and info["switched_from"] == "bonferroni"
    assert off.correction == "bonferroni"
    calls_off = int((off.adjacency() != 0).sum())
    calls = int((est.adjacency() != 0).sum())
    assert calls_off > 40 and calls <= calls_off // 4
    # never lower p-values; same weights
    ok = np.isfinite(off.pvalues)
    assert np.all(est.pvalues[ok] >= off.pvalues[ok])
    np.testing.assert_array_equal(est.weights, off.weights)


def test_default_leaves_independent_units_alone():
    from infer_fixtures import independent

    st = independent(20, T=100.0)
    est = sw.infer(st, "partial_corr")
    off = sw.infer(st, "partial_corr", shared_null="off")
    assert not est.diagnostics["shared_null"]["applied"]
    np.testing.assert_array_equal(est.pvalues, off.pvalues)


def test_tiny_pvalues_keep_a_finite_bulk():
    # 15 % of the pairs (about the linked share of network 3's subsets) far beyond double
    # precision's 1 − p (z = 12–40): the bulk's centre and width stay finite and those
    # pairs stay significant after Bonferroni over the 190 tests
    n = 20
    rng = np.random.default_rng(7)
    m = n * (n - 1) // 2
    zu = 2.5 + 1.5 * rng.standard_normal(m)
    far_u = rng.random(m) < 0.15
    zu[far_u] = rng.uniform(12, 40, far_u.sum())
    p, z, tested = _symmetric(zu, n)
    out, info = shared_input_null(p, z, tested, symmetric=True)
    assert info["applied"] and np.isfinite(info["sigma0"]) and np.isfinite(info["delta0"])
    # centre and width of N(2.5, 1.5²) lifted a little by the 15 % above
    assert abs(info["delta0"] - 2.5) < 0.6 and abs(info["sigma0"] - 1.5) < 0.6
    far = np.abs(z) > 12
    assert np.all(out[far] < 0.05 / m)
