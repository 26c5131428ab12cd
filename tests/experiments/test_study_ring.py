"""The built-in study `ring` (issue 19): listed, expands, and its builder is registered."""

import numpy as np

from spikewire.experiments import list_studies, plan
from spikewire.experiments.grid import BUILDERS, build_network, resolve_builder
from spikewire.networks.ring import lif_ring


def test_ring_study_is_listed_and_expands():
    assert "ring" in list_studies()
    spec, jobs, out = plan("ring")
    assert out.name == "ring"
    methods = {j.method["name"] for j in jobs}
    assert methods == {"gnn", "ccg", "partial_corr", "te"}
    assert {j.observation["name"] for j in jobs} == {"e_ring", "e_ring_half"}
    # every job records only the excitatory ring (the inhibitory pool stays hidden)
    for j in jobs:
        assert j.observation["steps"][0]["population"] == "E"
    assert "ring_delta" in spec.report["metrics"]


def test_lif_ring_builder_is_registered_without_code():
    assert "lif_ring" in BUILDERS
    assert resolve_builder("lif_ring") is lif_ring
    net = build_network({"builder": "lif_ring", "params": {"n_exc": 12, "n_inh": 3}}, 0)
    assert net.spec["ring"]["n"] == 12
    np.testing.assert_array_equal(net.cell_type, ["E"] * 12 + ["I"] * 3)
