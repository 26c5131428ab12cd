"""Brian2 reference run of an exported Izhikevich network (run in benchmarks/.venv-brian2).

    benchmarks/.venv-brian2/bin/python benchmarks/brian2_izhikevich.py NET.npz DURATION DT

The .npz holds ``pre``, ``post``, ``w`` (current-pulse weights ≈ mV jumps), ``delay`` (s),
per-neuron ``a``, ``b``, ``c``, ``d``, and the Poisson drive ``drive_rate`` (Hz per neuron)
and ``drive_weight``. Brian2 integrates the same ODE by forward Euler at ``DT`` with
``v += w`` on spike arrival (spikewire's pulse carries the same charge, a jump of ``w``
in one Euler step); prints one JSON line with the wall time and the rates.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from brian2 import (
    Hz,
    Network,
    NeuronGroup,
    PoissonInput,
    SpikeMonitor,
    Synapses,
    defaultclock,
    ms,
    prefs,
    second,
)


def main() -> None:
    path, duration, dt = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    prefs.codegen.target = "cython"
    z = np.load(path)
    n = z["a"].size
    defaultclock.dt = dt * second
    eqs = """
    dv/dt = (0.04*v**2 + 5*v + 140 - u) / ms : 1
    du/dt = a * (b*v - u) / ms : 1
    a : 1
    b : 1
    c : 1
    d : 1
    """
    t0 = time.perf_counter()
    g = NeuronGroup(n, eqs, threshold="v >= 30", reset="v = c; u += d", method="euler")
    g.a, g.b, g.c, g.d = z["a"], z["b"], z["c"], z["d"]
    g.v = -65.0
    g.u = z["b"] * -65.0
    s = Synapses(g, g, "w : 1", on_pre="v += w")
    s.connect(i=z["pre"], j=z["post"])
    s.w = z["w"]
    s.delay = z["delay"] * second
    p = PoissonInput(g, "v", 1, float(z["drive_rate"]) * Hz, weight=float(z["drive_weight"]))
    mon = SpikeMonitor(g)
    net = Network(g, s, p, mon)
    net.run(10 * ms)  # compile
    t_setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(duration * second)
    t_run, cpu_run = time.perf_counter() - t0, time.process_time() - c0
    after = np.asarray(mon.t / second) >= 0.010  # spikes of the timed run only
    counts = np.bincount(np.asarray(mon.i)[after], minlength=n)
    exc = z["exc"]
    print(json.dumps({"tool": "brian2", "t_setup": t_setup, "t_run": t_run, "cpu_run": cpu_run,
                      "rate_E": float(counts[exc].mean() / duration),
                      "rate_I": float(counts[~exc].mean() / duration)}))


if __name__ == "__main__":
    main()
