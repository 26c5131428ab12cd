"""Test-only inference methods, loaded by specs through ``experiment.plugins``."""

import os
import time

import numpy as np

from spikewire.infer import Estimate, InferenceMethod, NotApplicableError, register


@register
class LagCorr(InferenceMethod):
    """Lagged count correlation (test baseline): corr(post(t + lag), pre(t))."""

    name = "lagcorr_test"
    reference = "test only"

    def __init__(self, bin_width: float = 2e-3, sleep: float = 0.0, fail: bool = False,
                 crash_once: str = "", refuse: bool = False):
        self.bin_width = bin_width
        self.sleep = sleep
        self.fail = fail
        self.crash_once = crash_once
        self.refuse = refuse

    @classmethod
    def check_settings(cls, settings: dict) -> None:
        super().check_settings(settings)
        bw = settings.get("bin_width", 2e-3)
        if not bw > 0:
            raise ValueError(f"lagcorr_test: bin_width must be > 0 s, got {bw!r}")

    def fit(self, recording, pairs=None):
        if self.refuse:
            raise NotApplicableError("lagcorr_test: asked to refuse this recording")
        if self.crash_once and not os.path.exists(self.crash_once):
            # kill this (worker) process the first time: as if the node died
            with open(self.crash_once, "w") as f:
                f.write(str(os.getpid()))
            os._exit(1)
        if self.fail:
            raise RuntimeError("asked to fail")
        if self.sleep:
            time.sleep(self.sleep)
        x = recording.spikes.binned(self.bin_width, sparse=False).astype(float)
        x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-12)
        c = x[:, 1:] @ x[:, :-1].T / (x.shape[1] - 1)  # post(t+1) x pre(t)
        np.fill_diagonal(c, 0.0)
        return Estimate(weights=c, method=self.name, settings=self.get_params(),
                        units=recording.spikes.units, scores=np.abs(c),
                        true_index=recording.true_index)
