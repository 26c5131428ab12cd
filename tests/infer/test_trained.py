"""The trained-method protocol, proved with a small test-only method that learns its null
distribution from recordings of unconnected units."""

from __future__ import annotations

import json

import numpy as np
import pytest
from infer_fixtures import independent
from scipy import stats

import spikewire as sw
from spikewire.infer import (
    InvalidSettingError,
    MissingDependencyError,
    NotTrainedError,
    TrainedMethod,
)
from spikewire.infer import base as infer_base
from spikewire.infer._params import Interval, SeedLike


def _lagged_corr(counts: np.ndarray) -> np.ndarray:
    x = counts - counts.mean(axis=1, keepdims=True)
    x /= np.maximum(x.std(axis=1, keepdims=True), 1e-12)
    c = x[:, 1:] @ x[:, :-1].T / (x.shape[1] - 1)      # post(t + 1) x pre(t)
    np.fill_diagonal(c, 0.0)
    return c


class LearnedNullCorr(TrainedMethod):
    """Lagged count correlation z-scored against a null learned from unconnected data."""

    name = "learned_null_corr_test"
    reference = "test only"
    bin_settings = {"bin_width": 5e-3}
    settings_constraints = {
        "bin_width": [Interval("real", 0, None, closed="neither", unit="s"), None],
        "min_spikes": [Interval("int", 1, None)],
        "device": TrainedMethod.DEVICE_CONSTRAINT,
        "seed": [SeedLike()],
    }

    def __init__(self, bin_width=None, min_spikes: int = 5, device: str = "cpu", seed=0):
        self.bin_width = bin_width
        self.min_spikes = min_spikes
        self.device = device
        self.seed = seed

    def _train(self, recordings):
        bw = self.bin_width or self.bin_settings["bin_width"]
        null = np.concatenate([_lagged_corr(r.binned(bw, sparse=False).astype(float))[
            ~np.eye(r.n_units, dtype=bool)] for r in recordings])
        self.null_ = np.array([null.mean(), null.std()])
        return {"n_recordings": len(recordings), "n_null_pairs": int(null.size)}

    def get_state(self):
        return {"null": self.null_}

    def set_state(self, state):
        self.null_ = np.asarray(state["null"], dtype=float)

    def _fit(self, ctx):
        c = _lagged_corr(ctx.data.binned(ctx.settings["bin_width"], sparse=False).astype(float))
        z = (c - self.null_[0]) / self.null_[1]
        want = ctx.want
        return ctx.estimate(self, weights=np.where(want, c, 0.0),
                            pvalues=np.where(want, 2 * stats.norm.sf(np.abs(z)), np.nan),
                            scores=np.where(want, np.abs(z), 0.0))


class NeedsMissingPackage(LearnedNullCorr):
    """Same method, declaring a package that is not installed."""

    name = "needs_missing_test"
    requires = ("spikewire_no_such_package",)
    install = "spikewire[ml]"


@pytest.fixture
def trained():
    data = [independent(8, T=60.0, seed=s) for s in range(3)]
    return LearnedNullCorr().train(data)


def test_applying_before_training_is_refused():
    with pytest.raises(NotTrainedError, match=r"train\(...\) or load a checkpoint"):
        LearnedNullCorr().fit(independent(3, T=10.0))


def test_trained_null_is_calibrated(trained):
    # z from a null learned on other unconnected data: |z| > 1.96 in ~5 % of 240 pairs;
    # 4 binomial sd (0.056) leave room for the dependence between pairs sharing a unit
    est = trained.fit(independent(16, T=60.0, seed=42))
    p = est.pvalues[~np.eye(16, dtype=bool)]
    assert abs(np.mean(p < 0.05) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / p.size)
    assert trained.training_info_ == {"n_recordings": 3, "n_null_pairs": 3 * 8 * 7}


def test_checkpoint_round_trip(trained, tmp_path, monkeypatch):
    trained.set_params(seed=np.random.SeedSequence(7, spawn_key=(2, 1)))
    path = trained.save(tmp_path / "model")
    assert path.suffix == ".npz" and path.exists()
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__spikewire_meta__"]))
    assert meta["method"] == "learned_null_corr_test" and meta["format"] == 1
    assert meta["versions"]["spikewire"] == sw.__version__
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["settings"]["device"] == "cpu"
    data = independent(6, T=30.0, seed=9)
    ref = trained.fit(data)
    again = LearnedNullCorr.load(path)
    assert again.is_trained_ and again.training_info_ == trained.training_info_
    assert again.seed.entropy == 7 and again.seed.spawn_key == (2, 1)
    np.testing.assert_array_equal(again.fit(data).weights, ref.weights)
    np.testing.assert_array_equal(again.fit(data).pvalues, ref.pvalues)
    # through the registry, by the stored method name
    monkeypatch.setitem(infer_base._REGISTRY, LearnedNullCorr.name, LearnedNullCorr)
    generic = TrainedMethod.load(path)
    assert type(generic) is LearnedNullCorr
    np.testing.assert_array_equal(generic.null_, trained.null_)
    with pytest.raises(ValueError, match="holds method 'learned_null_corr_test'"):
        NeedsMissingPackage.load(path)


def test_clone_is_untrained(trained):
    c = trained.clone()
    assert c.get_params() == trained.get_params() and not c.is_trained_


def test_device_is_checked_when_built():
    with pytest.raises(ValueError, match=r"device='cuda' is not available.*device='cpu'"):
        LearnedNullCorr(device="cuda")
    with pytest.raises(InvalidSettingError, match=r"device='tpu' is not valid.*'cpu', 'cuda'"):
        LearnedNullCorr(device="tpu")


def test_missing_dependency_names_the_install_command():
    with pytest.raises(MissingDependencyError,
                       match=r"spikewire_no_such_package.*pip install 'spikewire\[ml\]'"):
        NeedsMissingPackage()
