"""fit_power_law on Ekelmans et al.'s input grid (μ from -50 mV in 0.5 mV steps, ν < 10 Hz)."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from spikewire.theory import lif_rate, power_law
from spikewire.theory.transfer import EKELMANS_MU_GRID, fit_power_law


@pytest.mark.parametrize("tau, sigma", [(0.020, 5.0), (0.010, 8.0)])
def test_paper_grid_matches_direct_least_squares(tau, sigma):
    a, b, n, info = fit_power_law(tau, sigma, mu_grid=EKELMANS_MU_GRID, return_info=True)
    mu = np.arange(-50.0, 100.0, 0.5)
    nu = lif_rate(mu, sigma, tau)
    keep = nu < 10.0
    assert info["mu_range"][0] == -50.0
    assert info["mu_range"][1] == pytest.approx(mu[keep].max())
    # an independent least-squares solve (scipy's trust-region curve_fit on the same
    # points, started 10-20 % away) reaches the same optimum: agreement to 1e-5
    ref, _ = curve_fit(power_law, mu[keep], nu[keep], p0=[a * 1.2, b + 0.5, n * 0.9],
                       maxfev=20000)
    np.testing.assert_allclose([a, b, n], ref, rtol=1e-5, atol=1e-5)
    # and it is a different fit from the default window (0.01-10 Hz of output rate)
    a2, b2, n2 = fit_power_law(tau, sigma)
    assert abs(b2 - b) > 1e-3


def test_grid_validation():
    with pytest.raises(ValueError, match="step"):
        fit_power_law(0.02, 5.0, mu_grid=(-50.0, 0.0))
    with pytest.raises(ValueError, match="start lower"):
        fit_power_law(0.02, 5.0, mu_grid=(40.0, 0.5))
    with pytest.raises(TypeError, match="mu_grid"):
        fit_power_law(0.02, 5.0, mu_grid=-50.0)
