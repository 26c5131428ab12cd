"""Ring-attractor simulator: pattern formation, seeds, LNP, input rotation."""

import numpy as np
import pytest

from spikewire.networks.ring import ring_attractor, single_bump_ring
from spikewire.simulate.ring import simulate_ring


def _dominant_mode(rates):
    return int(np.argmax(np.abs(np.fft.rfft(rates - rates.mean()))[1:]) + 1)


def test_builder_profile_and_validation():
    net = ring_attractor()
    w = net.weights
    assert w.shape == (100, 100) and np.all(np.diag(w) == 0)
    np.testing.assert_allclose(w, w.T)
    # analytic: W(d) = exp(-d²/2·6.98²) − 1.0005·exp(-d²/2·7²) at d = 10
    assert np.isclose(w[0, 10], np.exp(-100 / (2 * 6.98 ** 2)) - 1.0005 * np.exp(-100 / 98))
    assert np.all(w[~np.eye(100, dtype=bool)] < 0)   # the paper's profile is all-inhibitory
    with pytest.raises(ValueError, match="spiking="):
        ring_attractor(spiking="rate")
    with pytest.raises(ValueError, match="n="):
        ring_attractor(n=2)


@pytest.mark.parametrize("spiking", ["threshold", "lnp"])
def test_four_bumps_form_and_seed_reproduces(spiking):
    net = ring_attractor(spiking=spiking)
    st = simulate_ring(net, 1.0, seed=3)
    rates = st.rates()
    # linear stability: the most unstable Fourier mode is the largest eigenvalue of the
    # circulant W, at k = 4 (period 25 neurons)
    k_w = int(np.argmax(np.fft.rfft(net.profile).real[1:]) + 1)
    assert k_w == 4
    assert _dominant_mode(rates) == 4
    # patterned: silent troughs and active bumps
    assert rates.min() < 0.05 * rates.max()
    again = simulate_ring(net, 1.0, seed=3)
    np.testing.assert_array_equal(st.times, again.times)
    other = simulate_ring(net, 1.0, seed=4)
    assert not np.array_equal(st.times, other.times)


def test_single_bump():
    st = simulate_ring(single_bump_ring(), 1.0, seed=0)
    assert _dominant_mode(st.rates()) == 1


def test_input_moves_the_bump():
    # a strong input at angle θ(t) drags the single bump: the population vector follows it
    net = single_bump_ring(input_amplitude=2e-3, input_frequency=1.0)
    st = simulate_ring(net, 1.0, seed=0)
    counts = np.asarray(st.binned(0.05).todense() if hasattr(st.binned(0.05), "todense")
                        else st.binned(0.05), dtype=float)
    angle = np.angle(np.exp(1j * net.phases) @ counts)
    t = (np.arange(counts.shape[1]) + 0.5) * 0.05
    target = net.theta(t)
    err = np.angle(np.exp(1j * (angle - target)))
    # the bump lags but stays within 1 rad of the input (random placement: 2 rad mean error)
    assert np.median(np.abs(err)) < 1.0


def test_runaway_lnp_is_refused():
    net = ring_attractor(n=50, sigma1=20.0, sigma2=28.0, a=0.75, spiking="lnp")
    with pytest.raises(RuntimeError, match="ran away"):
        simulate_ring(net, 0.5, seed=0)


def _bump_strength(st, n_exc, width=0.1):
    """Mean over windows of |Σ counts·e^{iφ}| / Σ counts of the E ring (1 = all spikes at
    one angle, ~1/sqrt(spikes) for activity unrelated to the ring angle)."""
    c = st.binned(width, sparse=False)[:n_exc]
    z = (c * np.exp(2j * np.pi * np.arange(n_exc) / n_exc)[:, None]).sum(0)
    tot = c.sum(0)
    ok = tot > 0
    return float(np.mean(np.abs(z[ok]) / tot[ok])), float(np.mean(tot))


def test_lif_ring_forms_a_bump_only_with_local_excitation():
    import spikewire as sw
    from spikewire.networks.ring import lif_ring

    strength, per_window = _bump_strength(sw.simulate(lif_ring(n_exc=60, n_inh=15), 2.0,
                                                      seed=3), 60)
    # without E→E the activity is unrelated to the ring angle: the strength is that of
    # random phases, ≈ sqrt(π/4)/sqrt(spikes per window); with it one bump holds most
    # spikes (measured 0.85 at n_exc = 100, 5 s; 0.55 here, where σ = 5 is a larger part
    # of the smaller ring; the null measured 0.11)
    flat, flat_per_window = _bump_strength(sw.simulate(lif_ring(n_exc=60, n_inh=15, j_ee=0.0),
                                                       2.0, seed=3), 60)
    assert flat_per_window > 10            # enough spikes for the null to be small
    assert flat < 3 / np.sqrt(flat_per_window)
    assert strength > 0.4 and per_window > 10
