import sys, time, numpy as np
sys.path.insert(0, "/tmp/oldmods")
import bptt_old
import importlib; L = importlib.import_module("spikewire.infer.lowrank")
from spikewire.infer._lowrank_bptt import make_objective as new
from spikewire.networks.lowrank import lowrank_preset
from spikewire.simulate.lowrank import initial_grid, simulate_lowrank
net = lowrank_preset("limit_cycle", 60, seed=0); act = simulate_lowrank(net, initial_grid(3, 2.4), 40)
Y = np.random.default_rng(0).poisson((12.5 + 7.5 * act.activity()) * 0.01 * 20).astype(float)
for name, mk in (("old", bptt_old.make_objective), ("new", new)):
    calls = [0]
    def wrap(*a, mk=mk, **k):
        f = mk(*a, **k)
        def g(*x):
            calls[0] += 1; return f(*x)
        return g
    L.make_objective = wrap
    t0 = time.perf_counter()
    fit = L.fit_lowrank(Y, 2, observation="poisson", exposure=20, rate_offset=12.5, rate_gain=7.5, n_restarts=1, n_iter=100, refine_iter=400)
    print(name, round(time.perf_counter()-t0, 2), calls[0], fit.restart_losses)
