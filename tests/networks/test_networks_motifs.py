"""Toy motifs with hidden neurons: structure, background rates, and the effect each motif
is meant to produce among the observed neurons."""

import numpy as np
import pytest

import spikewire as sw
from spikewire import LIFParams
from spikewire.networks.motifs import MOTIFS, motif, siegert_rate

EXPECTED = {  # label edges (pre, post, sign) and hidden labels
    "chain": ({("A", "B", 1), ("B", "C", 1)}, {"B"}),
    "common_input": ({("H", "A", 1), ("H", "B", 1)}, {"H"}),
    "hidden_fork": ({("C", "B", 1), ("C", "D", 1), ("D", "A", -1)}, {"C", "D"}),
    "masked": ({("A", "B", 1), ("A", "H", 1), ("H", "B", -1)}, {"H"}),
}


@pytest.mark.parametrize("name", MOTIFS)
def test_structure(name):
    net = motif(name, strength=4.0, delay=3e-3, copies=3)
    spec = net.spec
    size = spec["size"]
    assert net.n_neurons == 3 * size
    labels = spec["labels"]
    edges, hidden = EXPECTED[name]
    w = net.weights.tocoo()
    found = {(labels[j], labels[i], int(np.sign(v)))
             for i, j, v in zip(w.row, w.col, w.data, strict=True)}
    assert found == edges
    # copies are independent blocks
    assert np.all(w.row // size == w.col // size)
    assert net.n_synapses == 3 * len(edges)
    assert {labels[i] for i in spec["hidden"]} == hidden
    assert len(spec["hidden"]) == 3 * len(hidden)
    assert sorted(spec["hidden"] + spec["observed"]) == list(range(net.n_neurons))
    assert net.dale_violations().size == 0
    # motif synapses have the requested strength (the masked relay A -> H is 30 mV)
    for pre, post, wt, _ in spec["true_edges"]:
        assert net.weights[post, pre] == wt
        if (labels[pre], labels[post]) != ("A", "H"):
            assert abs(wt) == 4.0
    # every delay is a multiple of 0.1 ms and the masked paths have equal total delay
    dl = net.synapse_delays()
    np.testing.assert_allclose(dl / 1e-4, np.rint(dl / 1e-4), atol=1e-9)
    if name == "masked":
        d = {(labels[p], labels[q]): dd for p, q, _, dd in spec["true_edges"][:3]}
        assert d[("A", "H")] + d[("H", "B")] == pytest.approx(d[("A", "B")])


def test_siegert_rate_limits():
    p = LIFParams()
    # sigma -> 0: the deterministic f-I curve
    det = 1.0 / (0.002 + 0.02 * np.log((30.0 - 10.0) / (30.0 - 20.0)))
    assert siegert_rate(10.0 + 20.0, 0.0, p) == pytest.approx(det)
    assert siegert_rate(30.0, 0.05, p) == pytest.approx(det, rel=1e-2)
    assert siegert_rate(15.0, 0.0, p) == 0.0
    # monotone in mu
    assert siegert_rate(14.0, 5.0, p) < siegert_rate(16.0, 5.0, p)


@pytest.mark.parametrize("background", ["white", "poisson"])
def test_background_rates_are_a_few_hz(background):
    """Uncoupled background (chain with zero-effect copies): the rate set by the Siegert
    formula. Discrete-time white noise misses some threshold crossings between steps, and
    the diffusion approximation of Poisson input is approximate, so allow 20 %."""
    net = motif("common_input", strength=1e-6, copies=100, background=background, rate=5.0)
    st = sw.simulate(net, 4.0, seed=0)
    assert abs(st.rates().mean() - 5.0) < 1.0


def excess(st, pre, post, lo, hi):
    """(observed - expected) / sqrt(expected) count of ``post`` spikes in [t + lo, t + hi)
    after spikes t of ``pre``, pooled over the pairs; expected from post's mean rate."""
    obs = exp = 0.0
    for a, b in zip(pre, post, strict=True):
        ta, tb = st.train(a), st.train(b)
        obs += np.sum(np.searchsorted(tb, ta + hi) - np.searchsorted(tb, ta + lo))
        exp += ta.size * tb.size / st.duration * (hi - lo)
    return (obs - exp) / np.sqrt(exp), obs - exp


def pairs(net, pre_label, post_label):
    lab = np.array(net.spec["labels"])
    return np.flatnonzero(lab == pre_label), np.flatnonzero(lab == post_label)


SIM = dict(copies=100, background="poisson", strength=8.0, delay=2e-3)


def test_chain_gives_delayed_spurious_A_to_C():
    net = motif("chain", **SIM)
    st = sw.simulate(net, 10.0, seed=1)
    z_ab, _ = excess(st, *pairs(net, "A", "B"), 0.002, 0.008)
    z_ac, _ = excess(st, *pairs(net, "A", "C"), 0.004, 0.012)
    z_ac_early, _ = excess(st, *pairs(net, "A", "C"), 0.0, 0.004)
    assert z_ab > 10 and z_ac > 5  # ~0.2 extra spikes per A spike at each stage
    assert abs(z_ac_early) < 4  # nothing before the two-synapse delay


def test_common_input_correlates_A_and_B_at_zero_lag():
    net = motif("common_input", **SIM)
    st = sw.simulate(net, 10.0, seed=2)
    z, _ = excess(st, *pairs(net, "A", "B"), -0.003, 0.003)
    assert z > 5


def test_hidden_fork_gives_spurious_inhibition_B_to_A():
    net = motif("hidden_fork", **SIM)
    st = sw.simulate(net, 20.0, seed=3)
    z, _ = excess(st, *pairs(net, "B", "A"), 0.0, 0.010)
    assert z < -4  # second-order effect: z ~ -6 per 10 s of 100 copies, ~ -8.5 here
    exc = motif("hidden_fork", fork_type="E", **SIM)
    z_e, _ = excess(sw.simulate(exc, 10.0, seed=3), *pairs(exc, "B", "A"), 0.0, 0.010)
    assert z_e > 4


def test_masked_connection_is_hidden_by_inhibition():
    masked = motif("masked", **SIM)
    open_ = motif("masked", masking=0.0, **SIM)
    _, d_masked = excess(sw.simulate(masked, 10.0, seed=4), *pairs(masked, "A", "B"),
                         0.002, 0.008)
    z_open, d_open = excess(sw.simulate(open_, 10.0, seed=4), *pairs(open_, "A", "B"),
                            0.002, 0.008)
    assert z_open > 10
    # H relays A's spikes in the same step (unless refractory, ~2 % of the time), so
    # the excess is at most a small fraction of the unmasked one (measured: < 0.5 %)
    assert abs(d_masked) < 0.05 * d_open


def test_bad_input():
    with pytest.raises(ValueError, match="name must be one of"):
        motif("triangle")
    with pytest.raises(ValueError, match="strength must be > 0"):
        motif("chain", strength=-1.0)
    with pytest.raises(ValueError, match="masking must be >= 0"):
        motif("masked", masking=-0.5)
    with pytest.raises(ValueError, match="copies must be >= 1"):
        motif("chain", copies=0)
    with pytest.raises(ValueError, match="too high"):
        motif("chain", rate=400.0)
    with pytest.raises(ValueError, match="needs delta synapses"):
        motif("masked", params=LIFParams(tau_syn=0.005))
    # other motifs accept exponential synapses
    assert motif("chain", params=LIFParams(tau_syn=0.005)).params.tau_syn == 0.005
