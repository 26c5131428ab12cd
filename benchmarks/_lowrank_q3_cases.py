"""Shared loader of helper lrquad3's diagnostic scripts (``bench_lowrank_q3_*.py``): one
cached N = 1,000 front-end fit of ``bench_lowrank_spikes.py`` (``--fit-cache
/tmp/lrquad3/fitcache``) with the quantities the ridge diagnostics compare against."""
from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np

from spikewire.networks.lowrank import lowrank_preset
from spikewire.score.lowrank import align_latent_basis, true_conditional_mean

#: Cache file of one fit: preset, L-BFGS refinement iterations, counts-seed suffix.
FIT_CACHE = "/tmp/lrquad3/fitcache/{}_n1000_r256_i300_ref{}_denNone_s0_g6_t50{}.pkl"


@dataclass
class Case:
    """One cached fit, its true network, and step 3's ridge problem in the fit's basis."""

    preset: str
    refine: str
    counts_seed: str
    fit: object
    net: object
    Ait: np.ndarray       # maps n from the fit's latent basis to the truth's
    E: np.ndarray         # true E[n | m] at the fitted m (truth's basis)
    z: np.ndarray         # latents of the update targets (10-step burn-in)
    y: np.ndarray         # latent updates
    phi: np.ndarray       # tanh(m·z + d) of every unit at those latents


def load_case(arg: str) -> Case:
    """``arg`` = ``preset:refine:counts_seed`` (e.g. ``quadstable:400:0``)."""
    p, ref, cs = arg.split(":")
    with open(FIT_CACHE.format(p, ref, "" if cs == "0" else f"_c{cs}"), "rb") as fh:
        fit = pickle.load(fh)[0]
    net = lowrank_preset(p, 1000, seed=0)
    A = align_latent_basis(fit.m, net.m)
    z, y = fit.update_targets(10)
    return Case(p, ref, cs, fit, net, np.linalg.inv(A).T,
                true_conditional_mean(net, fit.m @ A), z, y,
                np.tanh(z @ fit.m.T + fit.d))
