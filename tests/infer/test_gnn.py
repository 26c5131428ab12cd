"""The graph-network method `gnn`: lazy torch import, bad input, learning, seeds,
checkpoints."""

import subprocess
import sys

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import get_method
from spikewire.networks.ring import ring_attractor
from spikewire.score.ring import profile_error
from spikewire.simulate.ring import simulate_ring

FAST = dict(chunk=0.2, max_epochs=4, batches_per_epoch=8, batch_size=2, hidden=16, embed=16,
            n_kernels=8)


@pytest.fixture(scope="module")
def ring_data():
    """A 24-neuron LNP ring (σ ≈ 7 profile: two bumps) recorded for 6 s."""
    net = ring_attractor(n=24, spiking="lnp")
    return net, simulate_ring(net, 6.0, seed=5)


def test_listing_does_not_import_torch():
    code = ("import sys, spikewire as sw; from spikewire.infer import list_methods; "
            "assert 'gnn' in list_methods(); import spikewire.infer.gnn; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_settings_and_inputs(ring_data):
    with pytest.raises(ValueError, match="device='cuda' is not available"):
        get_method("gnn", device="cuda")
    with pytest.raises(ValueError, match="chunk="):
        get_method("gnn", chunk=0.01, bin_width=2e-3)
    with pytest.raises(ValueError, match="validation_fraction"):
        get_method("gnn", validation_fraction=0.3, test_fraction=0.3)
    _, st = ring_data
    sparse = sw.SpikeTrains.from_lists([st.train(0)[:30], st.train(1)[:30]], t_stop=6.0)
    with pytest.raises(ValueError, match="too few spikes to train"):
        get_method("gnn", **FAST, min_spikes=1).train(sparse)
    with pytest.raises(ValueError, match="record longer or use a shorter chunk"):
        get_method("gnn", chunk=3.0).train(st)


def test_nan_loss_stops_with_message(ring_data, monkeypatch):
    import importlib

    gnn_mod = importlib.import_module("spikewire.infer.gnn")

    monkeypatch.setattr(gnn_mod, "_poisson_nll", lambda lr, y: (lr * np.nan).mean())
    with pytest.raises(gnn_mod.TrainingDivergedError, match="lower lr"):
        get_method("gnn", **FAST).train(ring_data[1])


@pytest.fixture(scope="module")
def trained(ring_data):
    return get_method("gnn", **FAST, lr=3e-3, seed=7).train(ring_data[1])


def test_learning_reduces_the_loss_and_predicts_held_out_spikes(trained, ring_data):
    hist = trained.training_info_["history"]
    # the model starts at each unit's homogeneous rate; training must lower the
    # validation loss below the first epoch's (a model that learns nothing stays flat)
    assert trained.training_info_["best_val_loss"] < hist[0]["val_loss"]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    est = trained.fit(ring_data[1])
    # held-out gain over homogeneous rates: spike history predicts LNP counts whose rate
    # is set by the slowly varying synaptic activation, so the gain must be positive
    assert est.diagnostics["test_bits_per_spike"] > 0
    assert est.weights.shape == (24, 24) and np.all(np.isfinite(est.weights))
    np.testing.assert_allclose(est.weights, est.weights.T)   # symmetric=True
    assert np.all(np.diag(est.weights) == 0)
    # default weight_null="rates": per-pair p-values of the rate-stratified null (symmetric,
    # NaN on the diagonal); weight_null="weights" leaves them to the estimate's plain null
    wn = est.diagnostics["weight_null"]
    assert (wn["rule"], wn["pairs"], wn["reference"]) == ("rates", 276, "t")
    np.testing.assert_array_equal(est.pvalues, est.pvalues.T)
    assert np.all(np.isnan(np.diag(est.pvalues)))
    off = ~np.eye(24, dtype=bool)
    assert np.all((est.pvalues[off] > 0) & (est.pvalues[off] <= 1))
    trained.set_params(weight_null="weights")
    try:
        plain = trained.fit(ring_data[1])
    finally:
        trained.set_params(weight_null="rates")
    assert plain.pvalues is None and "weight_null" not in plain.diagnostics
    np.testing.assert_array_equal(plain.weights, est.weights)   # only the decision differs
    # weight_null="rates-normal" (gnnnull's rule) and "rates-split": the same fits, another
    # reference / scaling; every variant is rate_null_pvalues of the weights and the
    # units' rates over the fitted bins
    from spikewire.infer.gnn import rate_null_pvalues

    bw = trained.bin_width_
    counts = np.asarray(ring_data[1].binned(bw, sparse=False))
    dur = counts.shape[1] * bw
    args = (est.weights, counts.sum(axis=1) / dur, (est.pair_status == 0) & off)
    for option, kw in (("rates", {}), ("rates-normal", {"reference": "normal"}),
                       ("rates-split", {"split_scale": True})):
        trained.set_params(weight_null=option)
        try:
            other = trained.fit(ring_data[1])
        finally:
            trained.set_params(weight_null="rates")
        np.testing.assert_array_equal(other.weights, est.weights)
        info = other.diagnostics["weight_null"]
        assert info["reference"] == kw.get("reference", "t")
        assert info["split_scale"] is kw.get("split_scale", False)
        # gnn sums float32 counts: p agree to 1e-4 relative (measured max 2.4e-5)
        np.testing.assert_allclose(other.pvalues, rate_null_pvalues(
            *args, min_rate=0.5 / dur, **kw)[0], rtol=1e-4)


def test_recovered_profile_follows_the_ring(trained, ring_data):
    net, st = ring_data
    pe = profile_error(trained.fit(st), net)
    corr = np.corrcoef(pe["profile"][1:], pe["true_profile"][1:])[0, 1]
    # weights are defined up to sign, hence |corr|. Null: an estimate unrelated to ring
    # distance gives an aligned profile (12 distinct offsets of a symmetric 24-ring)
    # correlated with the truth by chance with sd ≈ 1/sqrt(11) ≈ 0.3; 0.8 is > 2.6 sd.
    # (Measured: 0.99 with this seed; 0.94-0.99 in absolute value over seeds 1-3.)
    assert abs(corr) > 0.8
    # a zero or constant estimate scores Δ = 1 or close to it; measured 0.34 here
    assert pe["delta"] < 0.6


def test_checkpoint_round_trip_and_seed(trained, ring_data, tmp_path):
    _, st = ring_data
    ref = trained.fit(st)
    path = trained.save(tmp_path / "gnn")
    again = type(trained).load(path)
    np.testing.assert_array_equal(again.fit(st).weights, ref.weights)
    # the same seed retrains to the same model
    twin = get_method("gnn", **FAST, lr=3e-3, seed=7).train(st)
    np.testing.assert_array_equal(twin.fit(st).weights, ref.weights)
    with pytest.raises(ValueError, match="trained on 24 units"):
        trained.fit(st.select(np.arange(10)))


def test_auxiliary_nodes(ring_data):
    _, st = ring_data
    observed = st.select(np.arange(0, 24, 2))          # every other neuron hidden
    with pytest.raises(ValueError, match="n_aux=13 auxiliary nodes for 12 observed"):
        get_method("gnn", **FAST, n_aux=13).train(observed)
    m = get_method("gnn", **FAST, n_aux=12, lr=3e-3, seed=1).train(observed)
    # the auxiliary nodes take part in message passing: their learned offsets move away
    # from the interpolation they start at (no gradient would reach them otherwise)
    assert float(m.model_.aux_z.detach().abs().max()) > 0
    assert float(m.model_.aux_h.detach().abs().max()) > 0
    est = m.fit(observed)
    assert est.weights.shape == (12, 12) and np.all(np.isfinite(est.weights))


def test_structure_options(ring_data):
    """``structure="pooled"`` predicts with one matrix for the batch and reports the matrix
    it predicts with; ``identity=True`` adds learned per-unit embeddings that training
    moves away from their zero start."""
    _, st = ring_data
    with pytest.raises(ValueError, match="structure"):
        get_method("gnn", structure="mean")
    m = get_method("gnn", **FAST, structure="pooled", structure_batch=3, identity=True,
                   lr=3e-3, seed=2).train(st)
    assert float(m.model_.unit_z.detach().abs().max()) > 0
    est = m.fit(st)
    assert np.all(np.isfinite(est.weights)) and est.weights.shape == (24, 24)
    # the reported weights are the mean structure over every chunk of the recording,
    # recomputed here independently of fit()
    import torch

    geo = m._geometry(m.bin_width_)
    x = m._chunks(np.asarray(st.binned(m.bin_width_, sparse=False), dtype=np.float32), 0,
                  st.binned(m.bin_width_, sparse=False).shape[1], geo["chunk_bins"])
    m.model_.eval()
    with torch.no_grad():
        w = m.model_.structure(torch.from_numpy(x)).mean(0).double().numpy()
    np.fill_diagonal(w, 0.0)
    # float32 sums in a different order: agreement to float32 precision
    np.testing.assert_allclose(est.weights, w, rtol=1e-4, atol=1e-6 * np.abs(w).max())
    assert np.isfinite(est.diagnostics["test_bits_per_spike"])


def test_global_node_and_l1_penalty(trained, ring_data):
    _, st = ring_data
    with pytest.raises(ValueError, match="w_l1"):
        get_method("gnn", w_l1=-1.0)
    m = get_method("gnn", **FAST, lr=3e-3, seed=7, global_node=True, w_l1=10.0).train(st)
    # the global pathway is trained (its last layer moves from its initialisation)
    import torch

    with torch.random.fork_rng():                   # the initialisation training starts from
        torch.manual_seed(m._torch_seed())
        init = m._build_model(24, m._geometry(m.bin_width_))
    assert not np.allclose(m.model_.glob[2].weight.detach().numpy(),
                           init.glob[2].weight.detach().numpy())
    # a strong L1 penalty (10 × mean|w| against a loss of order 0.1) shrinks the weights
    # well below those of the unpenalised model trained on the same data and seed
    w_pen = np.abs(m.fit(st).weights).mean()
    w_ref = np.abs(trained.fit(st).weights).mean()
    assert w_pen < 0.5 * w_ref


@pytest.fixture(scope="module")
def driven():
    """12 independent Poisson units tuned to an input angle θ(t) (rate 20 Hz·exp(2 cos(φ_i −
    θ))), θ drawn anew every 10 ms: the spike history says little about the current θ,
    the input says everything. 20 s, 2 ms bins."""
    rng = np.random.default_rng(3)
    n, dur, bw, piece = 12, 20.0, 2e-3, 5
    nb = int(round(dur / bw))
    theta = np.repeat(rng.uniform(-np.pi, np.pi, nb // piece), piece)
    phi = 2 * np.pi * np.arange(n) / n
    lam = 20.0 * bw * np.exp(2.0 * np.cos(phi[:, None] - theta[None, :]))
    counts = rng.poisson(lam)
    times = [(np.repeat(np.arange(nb), c) + rng.uniform(0, 1, c.sum())) * bw for c in counts]
    st = sw.SpikeTrains.from_times(np.concatenate(times),
                                   np.repeat(np.arange(n), [t.size for t in times]),
                                   t_start=0.0, t_stop=dur, units=np.arange(n), sort=True)
    return st, theta, lam, counts


def test_input_angle_encoder_predicts_driven_spikes(driven, tmp_path):
    from spikewire.infer.likelihood import bits_per_spike

    st, theta, lam, counts = driven
    settings = dict(FAST, max_epochs=8, batches_per_epoch=10, lr=1e-2, patience=10, seed=1,
                    bin_width=2e-3)
    with_input = get_method("gnn", **settings, input_angle=theta).train(st)
    without = get_method("gnn", **settings).train(st)
    b_in = with_input.fit(st).diagnostics["test_bits_per_spike"]
    b_no = without.fit(st).diagnostics["test_bits_per_spike"]
    # the true rates reach 0.87 bits/spike on the held-out last 10 %; a model of the spike
    # history alone sees θ only through the few spikes of the current 10 ms piece (measured
    # 0.18), one given θ can learn each unit's tuning (measured 0.83). 0.6 and a 0.3 margin
    # sit far from both (training noise between seeds: ±0.1); no model beats the true rates
    # beyond the sampling difference of the bins scored (the first ℓ bins of each chunk are
    # not predicted): a few hundredths
    oracle = bits_per_spike(lam[:, -1000:], counts[:, -1000:])
    assert b_in > 0.6 and b_in < oracle + 0.05
    assert b_in > b_no + 0.3
    # the checkpoint keeps the input encoder (and the angle series, a setting)
    again = type(with_input).load(with_input.save(tmp_path / "gnn_input"))
    assert again.fit(st).diagnostics["test_bits_per_spike"] == b_in
    # the angle series must cover the recording and fit() needs the same kind of input
    with pytest.raises(ValueError, match="input_angle holds 100 samples"):
        get_method("gnn", **settings, input_angle=theta[:100]).train(st)
    with pytest.raises(ValueError, match="same kind of input"):
        without.set_params(input_angle=theta).fit(st)
    with pytest.raises(ValueError, match="input_rate"):
        get_method("gnn", input_angle=theta, input_rate=-1.0)


def test_free_structure_reports_its_parameter_matrix(ring_data):
    """``structure="free"``: w is a trained parameter (no structure module); the estimate
    is that matrix, symmetrised, with a zero diagonal."""
    _, st = ring_data
    m = get_method("gnn", **FAST, structure="free", lr=3e-3, seed=3).train(st)
    w = m.model_.w_free.detach().double().numpy()
    assert np.abs(w).max() > 0                       # trained away from its zero start
    ref = 0.5 * (w + w.T)
    np.fill_diagonal(ref, 0.0)
    est = m.fit(st)
    # float32 parameters against the float64 estimate: equal to float32 rounding
    np.testing.assert_allclose(est.weights, ref, rtol=1e-6, atol=1e-7 * np.abs(ref).max())


def test_recurrent_auxiliary_state_is_causal_with_long_memory(ring_data):
    """``aux_state="recurrent"``: each auxiliary node carries a GRU state through the chunk.
    With a fixed w, a spike added at bin t0 cannot change the predicted rate of any bin
    ≤ t0 (causal), and, through the auxiliary state, it still changes predictions more
    than one history window after t0, which the static (interpolated) auxiliary node
    cannot: its dependence on the past ends with the window."""
    import torch

    _, st = ring_data
    observed = st.select(np.arange(0, 24, 2))
    with pytest.raises(ValueError, match="aux_state"):
        get_method("gnn", aux_state="gru")
    outs = {}
    for kind in ("static", "recurrent"):
        m = get_method("gnn", **FAST, n_aux=6, aux_state=kind, seed=4)
        geo = m._geometry(2e-3)
        model = m._build_model(12, geo).eval()
        torch.manual_seed(0)
        w = torch.randn(1, 18, 18)                  # a fixed w: the structure module reads
        x = torch.from_numpy(m._chunks(           # the whole chunk, so it is left out here
            np.asarray(observed.binned(2e-3, sparse=False), dtype=np.float32), 0, 100,
            geo["chunk_bins"]))[:1]
        t0, hist = 30, geo["history"]
        x2 = x.clone()
        x2[0, 3, t0] += 3.0
        with torch.no_grad():
            a, _ = model(x, w)
            b, _ = model(x2, w)
        diff = (a - b).abs()[0].max(0).values.numpy()   # per predicted bin hist + p
        outs[kind] = diff
        # predicted bin hist + p uses bins < hist + p: bins <= t0 are untouched (exactly:
        # the same float operations on the same inputs)
        assert np.all(diff[: t0 - hist + 1] == 0.0)
        assert diff[t0 - hist + 1] > 0
    late = t0 + hist + 5 - hist                     # predicted bin t0 + hist + 5
    assert outs["static"][late:].max() == 0.0       # memory of one window only
    # the recurrent state keeps the perturbation: well above float32 rounding (~1e-7)
    assert outs["recurrent"][late] > 1e-5
    # and it trains: the auxiliary GRU moves from its initialisation
    m = get_method("gnn", **dict(FAST, max_epochs=2, batches_per_epoch=4), n_aux=6,
                   aux_state="recurrent", lr=3e-3, seed=1)
    with torch.random.fork_rng():                   # the initialisation training starts from
        torch.manual_seed(m._torch_seed())
        init = m._build_model(12, m._geometry(2e-3)).aux_gru.weight_ih.detach().numpy()
    m.train(observed)
    assert not np.allclose(m.model_.aux_gru.weight_ih.detach().numpy(), init)
    est = m.fit(observed)
    assert est.weights.shape == (12, 12) and np.all(np.isfinite(est.weights))


def test_restarts_keep_the_run_with_the_lowest_validation_loss(trained, ring_data):
    """``restarts=k`` trains k initialisations and keeps the one with the lowest validation
    loss; restart 0 is the single run of the same seed, so restarts never do worse on the
    validation block than one run."""
    _, st = ring_data
    with pytest.raises(ValueError, match="restarts"):
        get_method("gnn", restarts=0)
    m = get_method("gnn", **FAST, lr=3e-3, seed=7, restarts=2).train(st)
    info = m.training_info_
    losses = info["restart_val_losses"]
    assert len(losses) == 2 and info["chosen_restart"] == int(np.argmin(losses))
    assert info["best_val_loss"] == min(losses)
    # restart 0 is bit-identical to the single run with the same seed (the fixture)
    assert losses[0] == trained.training_info_["best_val_loss"]
    # the other restart starts elsewhere: a different validation loss
    assert losses[1] != losses[0]
    # deterministic: the same settings retrain to the same chosen model
    twin = get_method("gnn", **FAST, lr=3e-3, seed=7, restarts=2).train(st)
    np.testing.assert_array_equal(twin.fit(st).weights, m.fit(st).weights)
    if info["chosen_restart"] == 0:
        np.testing.assert_array_equal(m.fit(st).weights, trained.fit(st).weights)


def test_w_l2_and_gradient_clipping(trained, ring_data):
    _, st = ring_data
    with pytest.raises(ValueError, match="clip_grad"):
        get_method("gnn", clip_grad=0.0)
    with pytest.raises(ValueError, match="w_l2"):
        get_method("gnn", w_l2=-1.0)
    # a strong L2 penalty (100 × mean w² against a loss of order 0.1) shrinks the weights
    # well below those of the unpenalised model trained on the same data and seed
    m = get_method("gnn", **FAST, lr=3e-3, seed=7, w_l2=100.0).train(st)
    w_ref = np.abs(trained.fit(st).weights).mean()
    assert np.abs(m.fit(st).weights).mean() < 0.5 * w_ref
    # clipping is applied: with a bound far below the gradient norms seen in training
    # (the loss is of order 0.1 with O(1) gradients) the steps change, so the same seed
    # trains to different weights; training still converges to a finite loss
    c = get_method("gnn", **FAST, lr=3e-3, seed=7, clip_grad=1e-3).train(st)
    assert np.isfinite(c.training_info_["best_val_loss"])
    assert not np.allclose(c.fit(st).weights, trained.fit(st).weights)


def test_average_epochs_is_the_mean_of_the_stored_snapshots(trained, ring_data, tmp_path):
    """``average_epochs=k`` reports the mean of the chunk-averaged w of the k epochs ending
    at the best one: each stored snapshot applied alone (a model loaded with its
    parameters) gives one matrix, and the reported weights are their mean."""
    _, st = ring_data
    with pytest.raises(ValueError, match="average_epochs"):
        get_method("gnn", average_epochs=0)
    m = get_method("gnn", **FAST, lr=3e-3, seed=7, average_epochs=3).train(st)
    info = m.training_info_
    best_epoch = int(np.argmin([h["val_loss"] for h in info["history"]]))
    k = min(3, best_epoch + 1)
    assert info["averaged_epochs"] == len(m.snapshots_) == k and k > 1
    # averaging does not change training: the best epoch's model (it predicts the spikes)
    # is bit-identical to the single-snapshot run of the same seed (the fixture)
    assert info["best_val_loss"] == trained.training_info_["best_val_loss"]
    # and the last snapshot is that best epoch's parameters
    for key, v in m.model_.state_dict().items():
        np.testing.assert_array_equal(m.snapshots_[-1][key].numpy(), v.numpy())
    est = m.fit(st)
    state = m.get_state()
    singles = []
    for snap in m.snapshots_:
        one = get_method("gnn", **FAST, lr=3e-3, seed=7)
        one.set_state({**{k_: v for k_, v in state.items() if not k_.startswith("snap")},
                       **{f"model.{key}": v.numpy() for key, v in snap.items()}})
        one.is_trained_ = True
        singles.append(one.fit(st).weights)
    # float32 sums in a different order: agreement to float32 rounding of O(1) weights
    np.testing.assert_allclose(est.weights, np.mean(singles, axis=0), rtol=1e-5, atol=1e-6)
    # the snapshots differ (training moved the parameters), so the mean is not any one
    assert not np.allclose(singles[0], singles[-1])
    # the last snapshot alone is the unaveraged estimate
    np.testing.assert_array_equal(singles[-1], trained.fit(st).weights)
    # deterministic with the seed, and the snapshots survive a checkpoint
    twin = get_method("gnn", **FAST, lr=3e-3, seed=7, average_epochs=3).train(st)
    np.testing.assert_array_equal(twin.fit(st).weights, est.weights)
    again = type(m).load(m.save(tmp_path / "avg"))
    np.testing.assert_array_equal(again.fit(st).weights, est.weights)


def test_random_chunk_sampling_stays_in_the_training_part(trained, ring_data):
    """``chunk_sampling="random"`` draws windows at any start bin of the training part: the
    training losses must not depend on the spikes after it (here removed), they differ from
    the grid's (other windows), and the same seed gives the same model."""
    _, st = ring_data
    with pytest.raises(ValueError, match="chunk_sampling"):
        get_method("gnn", chunk_sampling="shifted")
    settings = dict(**FAST, lr=3e-3, seed=7, chunk_sampling="random")
    m = get_method("gnn", **settings).train(st)
    # validation and test are the last 10 % + 10 % of the 6 s: training ends at 4.8 s
    cut = sw.SpikeTrains.from_lists([st.train(i)[st.train(i) < 4.8] for i in range(24)],
                                    t_stop=6.0)
    m_cut = get_method("gnn", **settings).train(cut)
    a, b = m.training_info_["history"], m_cut.training_info_["history"]
    common = min(len(a), len(b))
    assert common >= 2
    assert [h["train_loss"] for h in a[:common]] == [h["train_loss"] for h in b[:common]]
    # the validation block differs (silent in ``cut``), so its loss does
    assert a[0]["val_loss"] != b[0]["val_loss"]
    grid = trained.training_info_["history"]
    assert a[0]["train_loss"] != grid[0]["train_loss"]
    twin = get_method("gnn", **settings).train(st)
    np.testing.assert_array_equal(twin.fit(st).weights, m.fit(st).weights)


def test_context_windows_feed_the_structure_module(trained, ring_data, tmp_path):
    """``context`` > ``chunk``: the structure module reads windows of ``context`` s whose
    central ``chunk`` bins are predicted; the central parts tile the block, ``context ==
    chunk`` is the default model, and a context model is deterministic and checkpointed."""
    _, st = ring_data
    with pytest.raises(ValueError, match="context=0.1 s is shorter than chunk=0.2"):
        get_method("gnn", chunk=0.2, context=0.1, bin_width=2e-3)
    m = get_method("gnn", **FAST, lr=3e-3, seed=7, context=0.6)
    geo = m._geometry(2e-3)
    L, S, off = geo["chunk_bins"], geo["context_bins"], geo["offset"]
    assert (L, S, off) == (100, 300, 100)
    counts = np.arange(3 * 1000, dtype=np.float32).reshape(3, 1000)
    win = m._chunks(counts, 0, 1000, L, S)
    # windows every L bins that fit: (1000 − 300) // 100 + 1 = 8, each S bins long
    assert win.shape == (8, 3, S)
    centres = np.concatenate(list(win[:, :, off:off + L]), axis=1)
    np.testing.assert_array_equal(centres, counts[:, off:off + 8 * L])
    # context == chunk is the default model, bit for bit
    same = get_method("gnn", **FAST, lr=3e-3, seed=7, context=0.2).train(st)
    np.testing.assert_array_equal(same.fit(st).weights, trained.fit(st).weights)
    m.train(st)
    # the structure module's input layer reads the whole context window
    n_out = (S - geo["kernel"]) // geo["stride"] + 1
    assert m.model_.fc.in_features == FAST["n_kernels"] * n_out
    est = m.fit(st)
    assert np.all(np.isfinite(est.weights)) and np.isfinite(
        est.diagnostics["test_bits_per_spike"])
    twin = get_method("gnn", **FAST, lr=3e-3, seed=7, context=0.6).train(st)
    np.testing.assert_array_equal(twin.fit(st).weights, est.weights)
    again = type(m).load(m.save(tmp_path / "ctx"))
    np.testing.assert_array_equal(again.fit(st).weights, est.weights)


@pytest.fixture(scope="module")
def planted_chain():
    """8 Poisson units in a directed ring: unit i is excited by unit i − 1 and inhibited by
    unit i + 1 (±1.5 per spike filtered by exp(−k/5) over the last 10 bins, log link,
    20 Hz baseline, rate capped at 0.5 per bin); 40 s of 2 ms bins. Returns the spike
    trains, the true per-bin rates and the counts."""
    rng = np.random.default_rng(11)
    n, dur, bw = 8, 40.0, 2e-3
    nb = int(round(dur / bw))
    w = np.zeros((n, n))
    for i in range(n):
        w[i, (i - 1) % n], w[i, (i + 1) % n] = 1.5, -1.5
    kern = np.exp(-np.arange(1, 11) / 5.0)
    x = np.zeros((n, nb), dtype=np.int64)
    lam = np.zeros((n, nb))
    for t in range(nb):
        k = min(t, 10)
        s = x[:, t - k:t][:, ::-1] @ kern[:k] if k else np.zeros(n)
        lam[:, t] = np.minimum(np.exp(np.log(20.0 * bw) + w @ s), 0.5)
        x[:, t] = rng.poisson(lam[:, t])
    times = [(np.repeat(np.arange(nb), c) + rng.uniform(0, 1, c.sum())) * bw for c in x]
    st = sw.SpikeTrains.from_times(np.concatenate(times),
                                   np.repeat(np.arange(n), [t.size for t in times]),
                                   t_start=0.0, t_stop=dur, units=np.arange(n), sort=True)
    return st, lam, x


def test_training_reaches_the_planted_networks_bits_per_spike(planted_chain):
    """Training must get close to the true model's held-out prediction on a network the
    model can represent (w free, directed), and its w must show the planted chain."""
    from spikewire.infer.likelihood import bits_per_spike

    st, lam, x = planted_chain
    m = get_method("gnn", chunk=0.2, hidden=16, embed=16, n_kernels=8, structure="free",
                   symmetric=False, lr=1e-2, max_epochs=10, batches_per_epoch=20,
                   batch_size=4, patience=4, seed=1).train(st)
    est = m.fit(st)
    got = est.diagnostics["test_bits_per_spike"]
    # the true rates give 0.49 bits/spike on the held-out last 10 % (4 000 bins, ~1 000
    # spikes: sampling sd of a bits/spike estimate ≈ 0.03); measured 0.44 (seed 1; seed 2
    # passes too). An
    # under-trained model (the 200-step budget of the former defaults on the ring
    # reached half the GLM's figure) lands well below 0.8 × the oracle; no model beats the
    # true rates beyond the sampling difference of the scored bins (a few hundredths)
    oracle = bits_per_spike(lam[:, -4000:], x[:, -4000:])
    assert 0.8 * oracle < got < oracle + 0.05
    # the chain, up to gnn's arbitrary global sign: in every row the two planted inputs
    # have opposite signs and are the two largest |w| (6 unconnected pairs per row)
    w = est.weights
    for i in range(8):
        pre, post = w[i, (i - 1) % 8], w[i, (i + 1) % 8]
        assert np.sign(pre) == -np.sign(post)
        others = np.delete(np.abs(w[i]), [i, (i - 1) % 8, (i + 1) % 8])
        assert min(abs(pre), abs(post)) > others.max()
    signs = np.sign([w[i, (i - 1) % 8] for i in range(8)])
    assert np.all(signs == signs[0])             # one global sign for all rows
