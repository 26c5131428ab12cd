"""Brunel AI state: spikewire's mean rate and CV match NEST on the same connectivity.

The reference numbers (benchmarks/reference/brunel_ai_reference.json) come from NEST 3.10
simulating the exact weight matrix and delays that spikewire builds for this spec; the
script and command that produced them are in benchmarks/reference/brunel_ai_reference.py.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import spikewire as sw

REF = Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / \
    "brunel_ai_reference.json"
SEEDS = (0, 1, 2)


def stats(st, t0, t1):
    """Same definition as the reference script: mean rate over all neurons, mean CV of
    ISIs over neurons with >= 10 ISIs in [t0, t1)."""
    counts, cvs = [], []
    for k in range(st.n_units):
        tr = st.train(k)
        tr = tr[(tr >= t0) & (tr < t1)]
        counts.append(tr.size)
        if tr.size >= 11:
            isi = np.diff(tr)
            cvs.append(isi.std() / isi.mean())
    return np.mean(counts) / (t1 - t0), np.mean(cvs)


@pytest.fixture(scope="module")
def ref():
    return json.loads(REF.read_text())


@pytest.fixture(scope="module")
def network(ref):
    spec = {k: ref["spec"][k] for k in ("n_neurons", "epsilon", "g", "eta", "J", "delay",
                                        "tau_m", "theta", "v_reset", "tau_ref", "seed")}
    return sw.networks.brunel(**spec)


def test_same_connectivity_as_reference(network, ref):
    w = network.weights
    h = hashlib.sha256()
    for a in (np.asarray(w.indptr, np.int64), np.asarray(w.indices, np.int64),
              np.asarray(w.data, np.float64)):
        h.update(a.tobytes())
    assert h.hexdigest() == ref["connectivity_sha256"], (
        "the Brunel builder no longer produces the matrix the NEST reference simulated; "
        "rerun benchmarks/reference/brunel_ai_reference.py")


def test_rate_and_cv_match_nest(network, ref):
    """Tolerance: 3 standard errors of the difference between the mean of our 3 seeds and
    NEST's mean over 10 seeds, using the seed-to-seed SDs measured for each simulator
    (rate: spikewire 0.91 Hz, NEST 1.21 Hz; CV: 0.022, 0.013), i.e. ~1.9 Hz and ~0.04."""
    s = ref["spec"]
    res = np.array([stats(sw.simulate(network, s["duration"], dt=s["dt"], seed=seed),
                          s["t_skip"], s["duration"]) for seed in SEEDS])
    rate, cv = res.mean(axis=0)
    n_ref = len(ref["nest"]["seeds"])
    tol_rate = 3 * np.sqrt(ref["spikewire"]["rate_sd"] ** 2 / len(SEEDS)
                           + ref["nest"]["rate_sd"] ** 2 / n_ref)
    tol_cv = 3 * np.sqrt(ref["spikewire"]["cv_sd"] ** 2 / len(SEEDS)
                         + ref["nest"]["cv_sd"] ** 2 / n_ref)
    assert abs(rate - ref["nest"]["rate_mean"]) < tol_rate, (rate, ref["nest"]["rate_mean"])
    assert abs(cv - ref["nest"]["cv_mean"]) < tol_cv, (cv, ref["nest"]["cv_mean"])
    # the state is irregular (CV ~ 1.26) with rates of a few tens of Hz, as in NEST
    assert 0.8 < cv and 10 < rate < 100
