"""The seed tree: named streams are stable, independent, and no stage replays another's."""

import hashlib
import importlib

import numpy as np
import pytest

from spikewire.core.rng import new_state
from spikewire.core.seeds import as_seed_sequence, child, domain_key, rng, seed_repr, seed_tree
from spikewire.networks import brunel
from spikewire.networks._connect import as_state
from spikewire.simulate import simulate

# the module (``spikewire.simulate`` the attribute is the function, so import by name)
lif = importlib.import_module("spikewire.simulate.lif")


def test_domain_key_is_the_sha256_prefix_of_the_name():
    # reference: the documented mapping, computed independently here
    for name in ("network", "simulation", "observation", "inputs", "method"):
        ref = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        assert domain_key(name) == ref
    assert len({domain_key(n) for n in ("network", "simulation", "inputs", "method")}) == 4


def test_int_and_seed_sequence_roots_agree():
    a = child(7, "network")
    b = child(np.random.SeedSequence(7), "network")
    assert a.spawn_key == b.spawn_key == (domain_key("network"),)
    np.testing.assert_array_equal(a.generate_state(4), b.generate_state(4))
    # nested: a child of a child appends to the key
    c = child(child(7, "observation", 2), "observation")
    assert c.spawn_key == (domain_key("observation"), 2, domain_key("observation"))


def test_tree_streams_are_distinct_and_reproducible():
    tree = seed_tree(3, n_observation_steps=2)
    assert set(tree) == {"network", "inputs", "simulation", "method", "observation.0",
                         "observation.1"}
    states = {k: tuple(v.generate_state(4)) for k, v in tree.items()}
    assert len(set(states.values())) == len(states)  # no two streams share their numbers
    again = seed_tree(3, n_observation_steps=2)
    assert all(tuple(again[k].generate_state(4)) == states[k] for k in states)
    assert tree["observation.1"].spawn_key == child(3, "observation", 1).spawn_key


def test_generator_is_used_as_given_and_bad_seeds_are_refused():
    g = np.random.default_rng(0)
    assert rng(g, "network") is g
    ss = as_seed_sequence(np.random.default_rng(0))
    assert isinstance(ss, np.random.SeedSequence)
    assert seed_repr(child(1, "method"))["spawn_key"] == [domain_key("method")]
    with pytest.raises(ValueError, match="seed must be >= 0"):
        child(-1, "network")
    with pytest.raises(TypeError, match="seed must be an int"):
        child(1.5, "network")
    with pytest.raises(TypeError, match="seed must be an int"):
        child(True, "network")
    with pytest.raises(ValueError, match="non-negative int"):
        child(1, "observation", -2)


def _record_drive_states(monkeypatch):
    """Capture the xoshiro states the LIF engine draws for its drive."""
    seen = []
    orig = lif.new_state

    def spy(gen):
        state = orig(gen)
        seen.append(state.copy())  # the kernel advances the state in place
        return state

    monkeypatch.setattr(lif, "new_state", spy)
    return seen


def test_drive_never_replays_the_connectivity_numbers(monkeypatch):
    # the same integer for builder and simulation (before the seed tree, with
    # v_init="reset" the drive's first state WAS the connectivity's state)
    seen = _record_drive_states(monkeypatch)
    net = brunel(100, epsilon=0.2, seed=0)
    simulate(net, 0.01, seed=0, v_init="reset")
    assert len(seen) == 1, "the engine no longer draws its state through lif.new_state"
    assert not np.array_equal(seen[0], as_state(0))
    np.testing.assert_array_equal(seen[0], new_state(rng(0, "simulation")))


def test_simulation_stream_and_connectivity_are_independent(monkeypatch):
    seen = _record_drive_states(monkeypatch)
    tree_a, tree_b = seed_tree(0), seed_tree(1)
    net_a = brunel(100, epsilon=0.2, seed=tree_a["network"])
    w_a = net_a.weights.copy()
    # changing the simulation's stream leaves the connectivity bit-identical ...
    st1 = simulate(net_a, 0.05, seed=tree_a["simulation"])
    st2 = simulate(net_a, 0.05, seed=tree_b["simulation"])
    assert st1 != st2
    w_again = brunel(100, epsilon=0.2, seed=tree_a["network"]).weights
    for x in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(w_a, x), getattr(w_again, x))
    # ... and changing the connectivity's stream leaves the simulation's numbers identical
    net_b = brunel(100, epsilon=0.2, seed=tree_b["network"])
    assert (net_b.weights != net_a.weights).nnz > 0
    seen.clear()
    simulate(net_a, 0.01, seed=tree_a["simulation"], v_init="reset")
    simulate(net_b, 0.01, seed=tree_a["simulation"], v_init="reset")
    np.testing.assert_array_equal(seen[0], seen[1])


@pytest.mark.parametrize("make", [lambda: 5, lambda: np.random.SeedSequence(5),
                                  lambda: np.random.default_rng(5)])
def test_library_functions_take_int_seed_sequence_and_generator(make):
    from spikewire.observe import inputs_from_spec, jitter, observe

    net = brunel(50, epsilon=0.2, seed=make())
    st = simulate(net, 0.05, seed=make())
    rec = observe(st, [jitter(sigma=1e-3)], seed=make())
    built = inputs_from_spec([{"input": "pulses", "amplitude": 5.0, "count": 3,
                               "n_trials": 2, "interval": 0.01}], network=net,
                             duration=0.05, seed=make())
    assert rec.spikes.n_spikes == st.n_spikes and len(built["stimulation"]) == 6


def test_int_and_seed_sequence_give_the_same_network_and_spikes():
    a = brunel(50, epsilon=0.2, seed=5)
    b = brunel(50, epsilon=0.2, seed=np.random.SeedSequence(5))
    np.testing.assert_array_equal(a.weights.indices, b.weights.indices)
    np.testing.assert_array_equal(simulate(a, 0.05, seed=2).times,
                                  simulate(a, 0.05, seed=np.random.SeedSequence(2)).times)
