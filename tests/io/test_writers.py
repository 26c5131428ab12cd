"""Writers: simulations with their ground truth to NWB and back (identical), estimates to
CSV / Parquet and into an existing NWB file without touching its contents."""

import hashlib
import json

import h5py
import numpy as np
import pandas as pd
import pytest

from spikewire import Recording, simulate
from spikewire.core.network import LIFParams, PoissonDrive
from spikewire.infer import adjust_pvalues, infer
from spikewire.io import (
    add_estimate_to_nwb,
    estimate_table,
    read_estimate_nwb,
    read_simulation_nwb,
    write_estimate,
    write_nwb,
    write_simulation_nwb,
)
from spikewire.networks import brunel, from_matrix


@pytest.fixture(scope="module")
def sim():
    net = brunel(120, epsilon=0.1, J=0.8, g=5.0, eta=2.0, delay=1.5e-3, seed=3)
    st = simulate(net, 3.0, seed=3)
    return net, st


def _same_network(a, b):
    np.testing.assert_array_equal(a.weights.toarray(), b.weights.toarray())
    np.testing.assert_array_equal(a.weights.indptr, b.weights.indptr)
    np.testing.assert_array_equal(a.weights.indices, b.weights.indices)
    np.testing.assert_array_equal(a.cell_type, b.cell_type)
    if a.delays is None or np.ndim(a.delays) == 0:
        assert a.delays == b.delays
    else:
        np.testing.assert_array_equal(a.delays, b.delays)
    assert a.params == b.params
    for k, v in a.neuron_params().items():
        np.testing.assert_array_equal(v, b.neuron_params()[k])
    assert a.name == b.name


def test_simulation_round_trip_is_identical(tmp_path, sim):
    net, st = sim
    path = write_simulation_nwb(tmp_path / "sim.nwb", st, net, spec={"seed": 3, "T": 3.0})
    rec, net2 = read_simulation_nwb(path)
    assert rec.spikes == st                        # float64 times bit for bit, same window
    np.testing.assert_array_equal(rec.true_index, st.units)
    assert rec.time_resolution == st.annotations["dt"]
    _same_network(net, net2)
    assert net2.drive.rate == net.drive.rate and net2.drive.n_inputs == net.drive.n_inputs
    assert rec.spikes.annotations["experiment_spec"] == {"seed": 3, "T": 3.0}
    assert net2.spec == net.spec


def test_simulation_round_trip_per_synapse_delays_positions_and_hidden_units(tmp_path):
    rng = np.random.default_rng(0)
    n = 30
    w = (rng.random((n, n)) < 0.2) * 0.5
    ct = np.array(["E"] * 24 + ["I"] * 6)
    w[:, 24:] *= -4
    np.fill_diagonal(w, 0)
    nnz = int(np.count_nonzero(w))
    net = from_matrix(w, ct, delays=rng.integers(10, 30, nnz) * 1e-4,
                      params=LIFParams(tau_ref=0.0, tau_syn=0.005),
                      drive=PoissonDrive(rate=rng.uniform(5, 10, n), n_inputs=100,
                                         weight=0.2),
                      positions=rng.random((n, 2)))
    st = simulate(net, 1.0, seed=1)
    keep = np.arange(0, n, 3)                       # a third of the neurons is recorded
    obs = Recording(spikes=st.select(keep), true_index=keep, sampling_rate=20_000.0,
                    history=[{"step": "subsample", "fraction": 1 / 3}])
    path = write_simulation_nwb(tmp_path / "sim.nwb", obs.spikes, net, recording=obs)
    rec, net2 = read_simulation_nwb(path)
    _same_network(net, net2)
    np.testing.assert_array_equal(net2.positions, net.positions)
    np.testing.assert_array_equal(net2.drive.rate, net.drive.rate)
    np.testing.assert_array_equal(rec.true_index, keep)
    assert rec.spikes == obs.spikes and rec.sampling_rate == 20_000.0
    assert rec.history == obs.history


@pytest.fixture(scope="module")
def estimate(sim):
    net, st = sim
    return infer(st, "ccg", min_spikes=5)


def test_estimate_table_csv_and_parquet(tmp_path, estimate):
    est = estimate
    frame = estimate_table(est)
    n = est.n_units
    assert len(frame) == n * (n - 1)
    assert list(frame.columns[:7]) == ["pre", "post", "weight", "p_value", "q_value", "sign",
                                       "delay"]
    post = np.searchsorted(est.units, frame["post"])
    pre = np.searchsorted(est.units, frame["pre"])
    np.testing.assert_array_equal(frame["weight"], est.weights[post, pre])
    np.testing.assert_array_equal(frame["sign"], est.adjacency()[post, pre])
    tested = est.pair_status == 0
    q = adjust_pvalues(np.where(tested, est.pvalues, np.nan), est.correction)
    np.testing.assert_array_equal(frame["q_value"], q[post, pre])
    for suffix in (".csv", ".parquet"):
        back = (pd.read_csv if suffix == ".csv" else pd.read_parquet)(
            write_estimate(est, tmp_path / f"e{suffix}"))
        for col in ("pre", "post", "weight", "p_value", "q_value", "sign", "delay"):
            # CSV written with 17 significant digits: float64 round-trips exactly
            np.testing.assert_array_equal(back[col].to_numpy(), frame[col].to_numpy())
        assert set(back["method"]) == {"ccg"}
        assert '"bin_width": 0.0005' in back["settings"].iloc[0]
    # only what differs from the method's defaults: the fixture's min_spikes=5 and the
    # automatic bin as resolved for the data
    changed = estimate_table(est, settings="changed")["settings"]
    assert changed.nunique() == 1
    assert json.loads(changed.iloc[0]) == {"min_spikes": 5,
                                           "bin_width": pytest.approx(est.settings["bin_width"])}


def _checksums(path):
    """SHA-256 of every dataset's bytes and every attribute, by HDF5 path."""
    out = {}

    def visit(name, obj):
        attrs = {k: repr(v) for k, v in obj.attrs.items()}
        h = hashlib.sha256(repr(sorted(attrs.items())).encode())
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            h.update(repr(data.tolist() if hasattr(data, "tolist") else data).encode())
        out[name] = h.hexdigest()

    with h5py.File(path, "r") as f:
        f.visititems(visit)
        out["/"] = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in
                                              f.attrs.items())).encode()).hexdigest()
    return out


def test_estimate_into_existing_nwb_leaves_original_untouched(tmp_path, sim, estimate):
    net, st = sim
    path = write_nwb(st, tmp_path / "rec.nwb", cell_type=net.cell_type[st.units])
    before = _checksums(path)
    name = add_estimate_to_nwb(path, estimate)
    name2 = add_estimate_to_nwb(path, estimate)
    assert (name, name2) == ("ccg_estimate", "ccg_estimate_2")
    after = _checksums(path)
    changed = [k for k, v in before.items() if after.get(k) != v]
    # the only group whose attributes may change is none: every original object is intact
    assert changed == []
    assert set(after) > set(before)
    back = read_estimate_nwb(path, name)
    frame = estimate_table(estimate)
    for col in ("pre", "post", "weight", "p_value", "q_value", "sign", "delay"):
        np.testing.assert_array_equal(back[col].to_numpy(), frame[col].to_numpy())
    assert back["status"].tolist() == frame["status"].tolist()


@pytest.mark.parametrize("model", ["izhikevich", "adex", "brunel_alpha"])
def test_simulation_round_trip_keeps_the_neuron_and_synapse_model(tmp_path, model):
    """Izhikevich and AdEx parameters (per-neuron arrays included) and an alpha synapse come
    back as the same model: re-simulating the read network reproduces every spike."""
    import spikewire as sw
    from spikewire.core.synapses import AlphaSynapse

    if model == "izhikevich":
        net = sw.networks.izhikevich(80, out_degree=8, seed=1)
    elif model == "adex":
        net = sw.networks.adex(80, seed=1)
    else:
        net = brunel(80, seed=1).replace(params=LIFParams(synapse=AlphaSynapse(3e-3)))
    st = simulate(net, 0.3, seed=2)
    _, net2 = read_simulation_nwb(write_simulation_nwb(tmp_path / "m.nwb", st, net))
    assert net2.neuron_model == net.neuron_model
    assert repr(net2.params) == repr(net.params)
    np.testing.assert_array_equal(simulate(net2, 0.3, seed=2).times, st.times)


def test_estimate_table_q_values_are_the_decision_of_a_small_problem_switch():
    # 10 units (90 tests) whose unlinked pairs sit on a wide, shifted null (as glmcc on 10
    # of 100 Brunel neurons, results/glmcc90.md) with 9 strong links: check_null switches
    # the estimate to the small-problem local FDR; the table's q_value must be those
    # lfdr values (the sign column's decision), not BH of the raw p-values
    import warnings

    from scipy import stats

    from spikewire.infer import Estimate
    from spikewire.infer.base import check_null

    rng = np.random.default_rng(1)
    n = 10
    off = ~np.eye(n, dtype=bool)
    p = np.full((n, n), np.nan)
    p[off] = stats.norm.sf(np.r_[rng.normal(7.5, 1.3, 9), rng.normal(2.6, 2.0, 81)])
    est = Estimate(weights=off.astype(float), method="toy", settings={}, units=np.arange(n),
                   pvalues=p, correction="bh", alpha=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = check_null(est)
    assert est.diagnostics["null_check"]["small_problem"] and est.correction == "lfdr"
    frame = estimate_table(est)
    q = frame["q_value"].to_numpy()
    np.testing.assert_array_equal(frame["sign"].to_numpy() != 0, q < est.alpha)
    assert 0 < (q < est.alpha).sum() < 90
    # BH of the raw p-values (the former column) would call nearly every pair here
    bh = adjust_pvalues(np.where(off, p, np.nan), "bh")[off]
    assert (bh < est.alpha).sum() > (q < est.alpha).sum() + 20
