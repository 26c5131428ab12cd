import numpy as np

import spikewire as sw


def test_brunel_runs_and_is_reproducible():
    net = sw.networks.brunel(400, J=0.5, seed=3)
    a = sw.simulate(net, 0.2, seed=5)
    b = sw.simulate(net, 0.2, seed=5)
    assert a == b
    assert a.n_spikes > 0
    assert np.all(a.times[1:] >= a.times[:-1])
