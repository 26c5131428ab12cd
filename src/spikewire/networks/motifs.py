"""Toy motifs with hidden neurons: the textbook confounds of connectivity inference.

Each motif is a handful of LIF neurons with background drive (white noise or Poisson input)
tuned so that every neuron fires a few Hz on its own, plus a few strong synapses. Some
neurons are meant to be **hidden** (not recorded); their indices are in
``network.spec["hidden"]``. Motifs (neuron labels in ``spec["labels"]``):

``"chain"``
    A → B → C, B hidden. Observing only A and C suggests a direct A → C connection
    (at the summed delay).
``"common_input"``
    H → A and H → B, H hidden. A and B are correlated without any connection between them.
``"hidden_fork"``
    C → B and C → D, D → A, with C and D hidden (one unseen neuron drives a seen one, B, and
    an unseen one, D). B's spikes predict A's through the hidden path: a spurious B → A
    connection whose sign is that of D (inhibitory by default, so it contradicts B's E type).
``"masked"``
    A → B excitatory, and A → H → B feedforward inhibition through a hidden interneuron H
    whose inhibition arrives at the same time as A's excitation: the real A → B connection
    is masked (fully for ``masking=1``).

``spec["true_edges"]`` lists ``(pre, post, weight_mV, delay_s)`` of every synapse, and
``spec["observed_effects"]`` what an ideal method sees among the observed neurons
(``"direct"``, ``"spurious"``, ``"correlated"``, ``"masked"``). ``copies`` replicates the
motif as independent blocks (block-diagonal weights) to pool statistics.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy import integrate, optimize, special

from spikewire._validation import check_choice, check_finite, check_int, check_positive
from spikewire.core.network import LIFParams, Network, PoissonDrive, WhiteNoiseDrive
from spikewire.networks.matrix import from_matrix

__all__ = ["MOTIFS", "motif", "siegert_rate"]

MOTIFS = ("chain", "common_input", "hidden_fork", "masked")


def siegert_rate(mu: float, sigma: float, params: LIFParams) -> float:
    """Stationary rate (Hz) of a LIF neuron under white noise (Siegert/Ricciardi formula).

    ``τ_m dV/dt = -(V - V_rest) + μ + σ √τ_m ξ`` (μ, σ in mV), threshold θ, reset V_r,
    refractory τ_rp: ``1/ν = τ_rp + τ_m √π ∫_{(V_r-V_rest-μ)/σ}^{(θ-V_rest-μ)/σ}
    e^{u²}(1 + erf u) du``.
    """
    if sigma <= 0:
        mu_abs = params.v_rest + mu
        if mu_abs <= params.theta:
            return 0.0
        return 1.0 / (params.tau_ref + params.tau_m * math.log(
            (mu_abs - params.v_reset) / (mu_abs - params.theta)))
    lo = (params.v_reset - params.v_rest - mu) / sigma
    hi = (params.theta - params.v_rest - mu) / sigma
    val, _ = integrate.quad(lambda u: special.erfcx(-u), lo, hi, limit=200)
    return 1.0 / (params.tau_ref + params.tau_m * math.sqrt(math.pi) * val)


def _layout(name: str, s: float, d: float, masking: float, fork_type: str):
    """labels, cell types, hidden positions, edges (pre, post, w, delay), observed effects."""
    if name == "chain":
        labels, types, hidden = ["A", "B", "C"], ["E", "E", "E"], [1]
        edges = [(0, 1, s, d), (1, 2, s, d)]
        effects = {("A", "C"): "spurious"}
    elif name == "common_input":
        labels, types, hidden = ["A", "B", "H"], ["E", "E", "E"], [2]
        edges = [(2, 0, s, d), (2, 1, s, d)]
        effects = {("A", "B"): "correlated", ("B", "A"): "correlated"}
    elif name == "hidden_fork":
        labels, types, hidden = ["A", "B", "C", "D"], ["E", "E", "E", fork_type], [2, 3]
        sign = 1.0 if fork_type == "E" else -1.0
        edges = [(2, 1, s, d), (2, 3, s, d), (3, 0, sign * s, d)]
        effects = {("B", "A"): "spurious"}
    else:  # masked
        labels, types, hidden = ["A", "B", "H"], ["E", "E", "I"], [2]
        # A -> H is suprathreshold, so H relays each A spike with no latency; the A -> H
        # and H -> B delays add up to the direct delay, so inhibition and excitation of B
        # arrive in the same time step.
        d1 = d / 2
        edges = [(0, 1, s, d), (0, 2, 30.0, d1)]
        if masking > 0:
            edges.append((2, 1, -masking * s, d - d1))
        effects = {("A", "B"): "masked" if masking > 0 else "direct"}
    return labels, types, hidden, edges, effects


def motif(name: str, strength: float = 3.0, *, delay: float = 2e-3, rate: float = 5.0,
          sigma: float = 5.0, background: str = "white", masking: float = 1.0,
          fork_type: str = "I", copies: int = 1, params: LIFParams | None = None,
          poisson_weight: float = 0.2) -> Network:
    """Build a toy motif with hidden neurons (see the module docstring).

    Parameters
    ----------
    name : {"chain", "common_input", "hidden_fork", "masked"}
    strength : float, default 3.0
        PSP amplitude of the motif's synapses in mV (inhibitory ones are ``-strength``).
    delay : float, default 2 ms
        Transmission delay of each synapse in s (the masked motif splits it over the
        two-synapse inhibitory path).
    rate : float, default 5 Hz
        Background firing rate of each neuron without the motif's synapses, in Hz.
    sigma : float, default 5 mV
        Noise amplitude of the white-noise background (free-membrane sd is σ/√2).
    background : {"white", "poisson"}
        White noise (``WhiteNoiseDrive(mu, sigma)``, μ chosen from the Siegert formula for
        ``rate``) or independent Poisson input of weight ``poisson_weight`` (mV), its total
        rate chosen by the same formula in the diffusion approximation.
    masking : float, default 1.0
        ``"masked"`` only: strength of the hidden inhibition relative to the direct
        excitation (1 cancels it, 0 removes the interneuron's effect).
    fork_type : {"E", "I"}, default "I"
        ``"hidden_fork"`` only: type of the hidden neuron D.
    copies : int, default 1
        Number of independent copies of the motif (neuron ``k`` of copy ``c`` has index
        ``c * size + k``).
    params : LIFParams, optional
        Neuron parameters (default Brunel's: τ_m 20 ms, θ 20 mV, V_r 10 mV, τ_rp 2 ms).

    Returns
    -------
    Network
        ``spec`` has ``hidden`` (indices), ``observed``, ``labels`` (per neuron),
        ``true_edges`` and ``observed_effects``.
    """
    check_choice("name", name, set(MOTIFS))
    strength = check_positive("strength", strength, unit="mV")
    delay = check_positive("delay", delay, unit="s")
    rate = check_positive("rate", rate, unit="Hz")
    sigma = check_positive("sigma", sigma, unit="mV")
    check_choice("background", background, {"white", "poisson"})
    masking = check_finite("masking", masking)
    if masking < 0:
        raise ValueError(f"masking must be >= 0 (relative inhibition), got {masking}")
    check_choice("fork_type", fork_type, {"E", "I"})
    copies = check_int("copies", copies, minimum=1)
    poisson_weight = check_positive("poisson_weight", poisson_weight, unit="mV")
    params = params or LIFParams()
    if name == "masked" and params.tau_syn is not None:
        raise ValueError("the 'masked' motif needs delta synapses (params.tau_syn=None): its "
                         "hidden interneuron relays A's spikes in the same time step so that "
                         "inhibition and excitation reach B together")
    if rate >= 0.5 / max(params.tau_ref, 1e-3):
        raise ValueError(f"rate = {rate} Hz is too high for a background rate; use a few Hz")

    labels, types, hidden, edges, effects = _layout(name, strength, delay, masking, fork_type)
    m = len(labels)
    n = m * copies
    pre = np.array([e[0] for e in edges])
    post = np.array([e[1] for e in edges])
    w = np.array([e[2] for e in edges], dtype=float)
    dl = np.array([e[3] for e in edges], dtype=float)
    offs = np.repeat(np.arange(copies) * m, len(edges))
    rows = np.tile(post, copies) + offs
    cols = np.tile(pre, copies) + offs
    weights = sp.csc_array((np.tile(w, copies), (rows, cols)), shape=(n, n))
    delay_mat = sp.csc_array((np.tile(dl, copies), (rows, cols)), shape=(n, n))
    weights.sort_indices()
    delay_mat.sort_indices()
    per_syn = delay_mat.data  # same sparsity pattern and order as weights

    if background == "white":
        mu = _mu_for_rate(rate, sigma, params)
        drive = WhiteNoiseDrive(mu=mu, sigma=sigma)
        bg = {"background": "white", "mu": mu, "sigma": sigma}
    else:
        total = _poisson_rate_for(rate, poisson_weight, params)
        drive = PoissonDrive(rate=total, n_inputs=1, weight=poisson_weight)
        bg = {"background": "poisson", "total_rate": total, "weight": poisson_weight}

    hidden_idx = sorted(c * m + h for c in range(copies) for h in hidden)
    observed = [i for i in range(n) if i not in set(hidden_idx)]
    spec = dict(builder="motif", motif=name, strength=strength, delay=delay, rate=rate,
                masking=masking, fork_type=fork_type, copies=copies, size=m,
                labels=[labels[i % m] for i in range(n)], hidden=hidden_idx,
                observed=observed,
                true_edges=[(int(c * m + a), int(c * m + b), float(x), float(y))
                            for c in range(copies) for (a, b, x, y) in edges],
                observed_effects={f"{a}->{b}": v for (a, b), v in effects.items()}, **bg)
    net = from_matrix(weights, np.tile(types, copies), delays=per_syn, params=params,
                      drive=drive, name=f"motif:{name}(strength={strength:g} mV)")
    net.spec = spec
    return net


def _mu_for_rate(rate: float, sigma: float, params: LIFParams) -> float:
    span = params.theta - params.v_rest
    return float(optimize.brentq(lambda mu: siegert_rate(mu, sigma, params) - rate,
                                 span - 10 * sigma, span + 5 * sigma, xtol=1e-6))


def _poisson_rate_for(rate: float, w: float, params: LIFParams) -> float:
    """Total Poisson input rate (Hz) with weight w giving ``rate`` in the diffusion limit
    (μ = w R τ_m, σ = w √(R τ_m))."""
    tau = params.tau_m

    def f(log_r):
        R = math.exp(log_r)
        return siegert_rate(w * R * tau, w * math.sqrt(R * tau), params) - rate

    span = params.theta - params.v_rest
    lo, hi = math.log(0.2 * span / (w * tau)), math.log(3 * span / (w * tau))
    return float(math.exp(optimize.brentq(f, lo, hi, xtol=1e-8)))
