"""Helper run inside benchmarks/.venv-theory: nnmt's Siegert on the points in an npz file."""

import sys
import time

import numpy as np
from nnmt.lif.delta import _firing_rates_for_given_input

data = np.load(sys.argv[1])
mu, sigma = data["mu"], data["sigma"]
kw = dict(V_0_rel=float(data["v_reset"]), V_th_rel=float(data["theta"]),
          tau_m=float(data["tau_m"]), tau_r=float(data["tau_ref"]))
_firing_rates_for_given_input(mu[:10], sigma[:10], **kw)  # warm-up
t0 = time.perf_counter()
nu = _firing_rates_for_given_input(mu, sigma, **kw)
elapsed = time.perf_counter() - t0
np.savez(sys.argv[2], nu=np.asarray(nu), elapsed=elapsed)
