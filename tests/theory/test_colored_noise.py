"""Siegert with synaptic filtering (Fourcaud & Brunel 2002) against exponential-synapse runs."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import zeta

import spikewire as sw
from spikewire.core.network import LIFParams, PoissonDrive
from spikewire.networks import from_matrix
from spikewire.theory import lif_rate
from spikewire.theory.transfer import colored_noise_shift


def test_shift_formula():
    # σ α/2 √(τ_s/τ_m) with α = √2 |ζ(1/2)| (Fourcaud & Brunel 2002, eq. 4.4)
    alpha = np.sqrt(2) * abs(zeta(0.5))
    assert alpha == pytest.approx(2.0653, abs=5e-5)  # |ζ(1/2)| = 1.4603545...
    assert colored_noise_shift(4.0, 0.02, 0.002) == pytest.approx(4 * alpha / 2 * np.sqrt(0.1),
                                                                   rel=1e-12)
    # τ_s = 0 is white noise; the shifted rate is the Siegert rate at shifted θ, V_r
    assert lif_rate(15.0, 4.0, tau_syn=0.0) == lif_rate(15.0, 4.0)
    sh = colored_noise_shift(4.0, 0.02, 0.003)
    assert lif_rate(15.0, 4.0, tau_syn=0.003) == pytest.approx(
        lif_rate(15.0, 4.0, theta=20 + sh, v_reset=10 + sh), rel=1e-14)
    with pytest.raises(ValueError, match="tau_syn"):
        lif_rate(15.0, 4.0, tau_syn=-1e-3)
    with pytest.raises(ValueError, match="dt"):
        lif_rate(15.0, 4.0, tau_syn=1e-3, dt=1e-4)


def test_exponential_synapse_simulation():
    """Unconnected neurons driven by Poisson input through a τ_s = 2 ms synapse.

    Delta-equivalent amplitude J = 0.1 mV at total rate ν gives μ = J ν τ_m and
    σ² = J² ν τ_m (diffusion limit); a rest potential of -145 mV brings μ near threshold
    with σ ≈ 4 mV, so five input rates span 0.1-15 Hz.
    """
    J, v_rest, tau, ts = 0.1, -145.0, 0.020, 0.002
    sig = np.array([3.95, 3.98, 4.0, 4.02, 4.05])
    npg, T, skip = 200, 4.0, 0.5
    nu_tot = sig**2 / J**2 / tau
    n = sig.size * npg
    net = from_matrix(sp.csc_array((n, n)), np.full(n, "E"),
                      params=LIFParams(tau_m=tau, theta=20.0, v_reset=10.0, v_rest=v_rest,
                                       tau_ref=0.002, tau_syn=ts),
                      drive=PoissonDrive(rate=np.repeat(nu_tot, npg), n_inputs=1,
                                         weight=J * tau / ts))  # current jump of PSP area J
    st = sw.simulate(net, T, dt=1e-4, seed=1).restrict(skip, T)
    rate = st.counts().reshape(sig.size, npg).sum(1) / (npg * (T - skip))
    mu = sig**2 / J  # relative to the rest potential
    th, vr = 20.0 - v_rest, 10.0 - v_rest
    colored = lif_rate(mu, sig, tau, th, vr, 0.002, tau_syn=ts)
    white = lif_rate(mu, sig, tau, th, vr, 0.002)
    ok = colored > 0.5  # enough spikes for a rate estimate
    assert ok.sum() >= 3
    # pooled-rate sd ≈ sqrt(ν/(npg T')) (CV <= 1); the correction is first order in
    # k = √(τ_s/τ_m) ≈ 0.32, leaving O(k²) ~ 10 % model error: bound 4 sd + 10 %
    sd = np.sqrt(colored / (npg * (T - skip)))
    assert np.all(np.abs(rate - colored)[ok] < 4 * sd[ok] + 0.10 * colored[ok]), (rate, colored)
    # and the filtering matters: white-noise Siegert overestimates by > 30 % everywhere
    assert np.all(white[ok] > 1.3 * rate[ok])


@pytest.mark.parametrize("mu, sigma, tau_syn", [(15.0, 4.0, 0.002), (8.0, 6.0, 0.005),
                                                (22.0, 2.0, 0.001), (-5.0, 10.0, 0.003)])
def test_derivatives_with_tau_syn_are_finite_differences(mu, sigma, tau_syn):
    from spikewire.theory import lif_rate_derivatives

    nu, dmu, ds2 = lif_rate_derivatives(mu, sigma, tau_syn=tau_syn)
    assert nu == pytest.approx(float(lif_rate(mu, sigma, tau_syn=tau_syn)), rel=1e-14)
    # central differences of the colored-noise rate, h = 1e-4 mV (mV²): truncation
    # O(h²) ~ 1e-8 relative, rounding ~1e-14/h ~ 1e-10; 1e-6 covers both
    h = 1e-4
    fd_mu = (lif_rate(mu + h, sigma, tau_syn=tau_syn)
             - lif_rate(mu - h, sigma, tau_syn=tau_syn)) / (2 * h)
    s2 = sigma**2
    fd_s2 = (lif_rate(mu, np.sqrt(s2 + h), tau_syn=tau_syn)
             - lif_rate(mu, np.sqrt(s2 - h), tau_syn=tau_syn)) / (2 * h)
    assert dmu == pytest.approx(float(fd_mu), rel=1e-6)
    assert ds2 == pytest.approx(float(fd_s2), rel=1e-6)
    # the σ-dependence of the shift matters: the white-noise formula at the shifted θ, V_r
    # misses -c/(2σ) ∂ν/∂μ (a relative change well above the 1e-6 tolerance)
    sh = colored_noise_shift(sigma, 0.02, tau_syn)
    _, _, ds2_fixed = lif_rate_derivatives(mu, sigma, theta=20 + sh, v_reset=10 + sh)
    assert abs(ds2_fixed - ds2) > 1e-3 * abs(ds2)


def test_derivatives_with_tau_syn_broadcast():
    from spikewire.theory import lif_rate_derivatives

    mu = np.array([[10.0], [15.0]])
    ts = np.array([0.0, 0.001, 0.004])
    nu, dmu, ds2 = lif_rate_derivatives(mu, 5.0, tau_syn=ts)
    assert nu.shape == dmu.shape == ds2.shape == (2, 3)
    for i in range(2):
        for k in range(3):
            ref = lif_rate_derivatives(float(mu[i, 0]), 5.0, tau_syn=float(ts[k]))
            np.testing.assert_allclose([nu[i, k], dmu[i, k], ds2[i, k]], ref, rtol=1e-13)
    # τ_s = 0 is the white-noise result exactly
    np.testing.assert_allclose(ds2[:, 0], lif_rate_derivatives(mu[:, 0], 5.0)[2], rtol=1e-14)
