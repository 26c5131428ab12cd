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
# Six simulation seeds: with the seed tree (spikewire.core.seeds, 2026-11-29) seeds 0-2
# happen to give a mean CV of 1.304, 2.5 SE above spikewire's own 30-seed mean (1.274, s.d.
# 0.027, which agrees with NEST's 1.268), a 3.1-SE miss of the 3-seed tolerance; six seeds
# halve the variance of the mean instead of widening the tolerance.
SEEDS = (0, 1, 2, 3, 4, 5)


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


def build(spec):
    # the reference matrix was drawn before the seed tree (spikewire.core.seeds) from
    # default_rng(seed) directly; a Generator is used as given, which reproduces it
    kw = {k: spec[k] for k in ("n_neurons", "epsilon", "g", "eta", "J", "delay", "tau_m",
                               "theta", "v_reset", "tau_ref")}
    return sw.networks.brunel(**kw, seed=np.random.default_rng(spec["seed"]))


def test_same_connectivity_as_reference(ref):
    for cfg in ref["configs"].values():
        w = build(cfg["spec"]).weights
        h = hashlib.sha256()
        for a in (np.asarray(w.indptr, np.int64), np.asarray(w.indices, np.int64),
                  np.asarray(w.data, np.float64)):
            h.update(a.tobytes())
        assert h.hexdigest() == ref["connectivity_sha256"], (
            "the Brunel builder no longer produces the matrix the NEST reference simulated; "
            "rerun benchmarks/reference/brunel_ai_reference.py")


@pytest.mark.parametrize("config", ["realistic", "unrealistic"])
def test_rate_and_cv_match_nest(ref, config):
    """Tolerance: 3 standard errors of the difference between the mean of our seeds and
    NEST's mean over its 30 seeds, from the seed-to-seed SDs measured for each simulator
    over 30 seeds (realistic: rate 0.92 / 1.26 Hz, CV 0.020 / 0.016 for spikewire / NEST;
    unrealistic: 1.39 / 1.86 Hz, CV 0.038 / 0.043), i.e. 1.7 Hz and 0.035 (realistic),
    2.6 Hz and 0.07 (unrealistic). Realistic: tau_rp = 2 ms, D = 1.5 ms; unrealistic:
    tau_rp = 0, one-step transmission. (30-seed means agree to 0.3 Hz and 0.01.)"""
    cfg = ref["configs"][config]
    s, nest, ours = cfg["spec"], cfg["nest"], cfg["spikewire"]
    net = build(s)
    res = np.array([stats(sw.simulate(net, s["duration"], dt=s["dt"], seed=seed),
                          s["t_skip"], s["duration"]) for seed in SEEDS])
    rate, cv = res.mean(axis=0)
    n_ref = len(nest["seeds"])
    tol_rate = 3 * np.sqrt(ours["rate_sd"] ** 2 / len(SEEDS) + nest["rate_sd"] ** 2 / n_ref)
    tol_cv = 3 * np.sqrt(ours["cv_sd"] ** 2 / len(SEEDS) + nest["cv_sd"] ** 2 / n_ref)
    assert abs(rate - nest["rate_mean"]) < tol_rate, (rate, nest["rate_mean"], tol_rate)
    assert abs(cv - nest["cv_mean"]) < tol_cv, (cv, nest["cv_mean"], tol_cv)
    # irregular firing (CV > 1) at a few tens of Hz, as in NEST
    assert cv > 1.0 and 10 < rate < 100
