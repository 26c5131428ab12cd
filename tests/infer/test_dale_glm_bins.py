"""dale_glm's automatic bin width: 1 ms on the full solver, 2 ms on the screened one.

At 2 ms bins part of a short-delay link's coincidences fall into lag 0, the target's own
bin, which the causal filter cannot use; at 1 ms far fewer do
(benchmarks/results/dalebest.md).
"""

from __future__ import annotations

import warnings

import numpy as np

import spikewire as sw
from spikewire.infer.dale_glm import AUTO_BIN_WIDTH, AUTO_BIN_WIDTH_SCREENED


def _short_link(seed: int, T: float = 120.0, rate: float = 20.0, n: int = 6,
                q: float = 0.1) -> sw.SpikeTrains:
    """``n`` independent Poisson units at ``rate`` Hz; each spike of unit 0 adds, with
    probability ``q``, a spike of unit 1 uniformly 0.5–1.5 ms later (a short-delay
    excitatory link of ``q · rate · T`` ≈ 240 extra coincidences)."""
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0.0, T, rng.poisson(rate * T))) for _ in range(n)]
    pre = trains[0]
    hit = pre[rng.random(pre.size) < q]
    extra = hit + rng.uniform(0.0005, 0.0015, hit.size)
    trains[1] = np.sort(np.concatenate([trains[1], extra[extra < T]]))
    return sw.SpikeTrains.from_lists(trains, t_stop=T)


def test_one_ms_bins_keep_a_short_delay_link_that_two_ms_bins_half_lose():
    """The link 0 → 1 of :func:`_short_link`, fitted at the default (automatic 1 ms) and
    at the former 2 ms bins, on three seeds. A presynaptic spike at a uniform position
    ``u`` in its bin puts its extra spike at ``u + 0.5–1.5 ms``: in the presynaptic bin
    itself (lag 0, not modelled) for a fraction 1/8 of the excess at 1 ms bins and 1/2 at
    2 ms bins, so the short contrast's z, the excess it sees over the noise of about as
    many background coincidences (lags 1–5 ms vs 2–6 ms), should grow by about
    (7/8) / (1/2) = 1.75 from 2 to 1 ms. Summed over the three seeds (z ≈ 25 and 15,
    each seed's z with sd ≈ 1) the ratio has sd ≈ 0.2, so [1.3, 2.3] is ±2 sd around
    the prediction (measured 1.68; per seed 1.43, 1.68, 2.07). The default reports its
    1 ms bins and finds the link with p < 1e-10 on every seed (measured 2e-20 to 2e-14;
    at 2 ms one seed only reaches 6e-4)."""
    z_one, z_two = [], []
    for seed in (7, 8, 9):
        st = _short_link(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fine = sw.infer(st, "dale_glm")
            coarse = sw.infer(st, "dale_glm", bin_width=0.002)
        assert fine.diagnostics["auto_settings"] == {"bin_width": AUTO_BIN_WIDTH}
        assert fine.diagnostics["contrast"] == coarse.diagnostics["contrast"] == "scan"
        assert fine.pvalues[1, 0] < 1e-10, (seed, fine.pvalues[1, 0])
        # short contrast (lags 1–5 ms / 2–6 ms) of the link, unscaled (30 pairs: no scale)
        z_one.append(fine.diagnostics["scan_z_contrasts"][1, 0, 0])
        z_two.append(coarse.diagnostics["scan_z_contrasts"][1, 0, 0])
    ratio = sum(z_one) / sum(z_two)
    assert 1.3 < ratio < 2.3, (z_one, z_two, ratio)


def test_screened_solver_keeps_two_ms_bins():
    """The automatic bin is 1 ms on the full solver only; the screened solver (not
    measured at 1 ms) keeps 2 ms, and an explicit ``bin_width`` is used as given."""
    assert AUTO_BIN_WIDTH == 0.001 and AUTO_BIN_WIDTH_SCREENED == 0.002
    st = _short_link(7, T=30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scr = sw.infer(st, "dale_glm", solver="screened")
        scr_1 = sw.infer(st, "dale_glm", solver="screened", bin_width=0.001)
    assert scr.diagnostics["auto_settings"] == {"bin_width": AUTO_BIN_WIDTH_SCREENED}
    assert scr.settings["bin_width"] == AUTO_BIN_WIDTH_SCREENED
    assert scr_1.diagnostics["auto_settings"] == {}
    assert scr_1.settings["bin_width"] == 0.001


def test_basis_last_peak_makes_the_delay_basis_reach_the_window():
    """At 1 ms bins the default 4-function basis (last function decaying to 0 at the
    25 ms window) sums to 1 only up to 12 ms and to < 0.5 from 18 ms on, so a filter
    hardly reaches 18–25 ms delays; ``basis_last_peak=window`` makes the sum 1 at every
    lag (the raised cosines overlap by half between the first and last peak), the last
    peak at the window's last lag. Bad values are refused with the fix named."""
    import pytest

    st = sw.SpikeTrains.from_lists(
        [np.sort(np.random.default_rng(s).uniform(0.0, 20.0, 200)) for s in range(4)],
        t_stop=20.0)
    fits = {lp: sw.infer(st, "dale_glm", basis_last_peak=lp) for lp in (None, 0.025)}
    lags = np.arange(1, 26)                                      # ms at 1 ms bins
    b0 = np.asarray(fits[None].diagnostics["basis"]).sum(axis=1)
    b1 = np.asarray(fits[0.025].diagnostics["basis"])
    np.testing.assert_allclose(b0[lags <= 12], 1.0, atol=1e-9)
    assert np.all(b0[lags >= 18] < 0.5)
    np.testing.assert_allclose(b1.sum(axis=1), 1.0, atol=1e-9)
    assert int(np.argmax(b1[:, -1])) + 1 == 25
    with pytest.raises(ValueError, match="basis_last_peak"):
        sw.infer(st, "dale_glm", basis_last_peak=0.03)           # beyond the window
    with pytest.raises(ValueError, match="basis_last_peak"):
        sw.infer(st, "dale_glm", basis_last_peak=0.001, bin_width=0.001)
