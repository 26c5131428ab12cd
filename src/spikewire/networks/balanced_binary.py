"""Binary balanced E/I network of van Vreeswijk & Sompolinsky (1996, 1998).

Model
-----
Neuron ``i`` of population ``k`` (E or I) has a binary state ``σ_i ∈ {0, 1}`` and the input

    u_i(t) = Σ_j J_ij σ_j(t) + u_k^0 − θ_k,

with ``J_ij = J_kl / √K`` for a synapse from a neuron of population ``l`` (zero otherwise)
and a constant external input ``u_k^0 = √K · E_k · m0`` (``E_E = E``, ``E_I = I`` in the
paper's notation, ``m0`` the activity of the external population). At the update times of
neuron ``i`` (a Poisson process of rate ``1/τ_k``), ``σ_i ← Θ(u_i)`` with ``Θ(0) = 0``.

Connectivity is random and sparse: each neuron receives on average ``K`` inputs from each
population (``connectivity="random"``: independent Bernoulli(K/N_l) synapses as in the
paper; ``"fixed_indegree"``: exactly ``K`` from each population). No autapses.

Balanced-state prediction
-------------------------
For large ``K`` the O(√K) terms of the mean input must cancel, so the population
activities solve the linear equations

    E_k m0 + Σ_l J_kl m_l = 0      (k = E, I)

i.e. for ``J = [[J_EE, J_EI], [J_IE, J_II]]`` (``J_EI, J_II < 0``)
``m = −J⁻¹ (E, I)ᵀ m0``. With the paper's ``J_EE = J_IE = 1, J_EI = −J_E, J_II = −J_I``:
``m_E = (E J_I − I J_E)/(J_E − J_I) m0`` and ``m_I = (E − I)/(J_E − J_I) m0``.
Finite ``K`` adds O(1/√K) corrections, computed by :func:`binary_mean_field`.

Units: the binary model is dimensionless (inputs and thresholds in units of the
threshold scale); only ``τ`` carries a unit (seconds).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import optimize, stats

from spikewire._validation import (
    check_choice,
    check_finite,
    check_int,
    check_positive,
    check_probability_open,
)
from spikewire.core.binary import TIE_TOLERANCE, BinaryNetwork
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.seeds import seed_repr
from spikewire.networks._connect import as_state, check_memory, fixed_indegree_csc

__all__ = ["TIE_TOLERANCE", "BinaryNetwork", "binary_balanced", "balanced_activity_linear",
           "binary_mean_field"]



def binary_balanced(n_excitatory: int = 4000, n_inhibitory: int = 4000, K: int = 400, *,
                    m0: float = 0.1, J_EE: float = 1.0, J_EI: float = -2.0,
                    J_IE: float = 1.0, J_II: float = -1.8, E: float = 1.0, I: float = 0.8,
                    theta_E: float = 1.0, theta_I: float = 0.7, tau_E: float = 0.010,
                    tau_I: float = 0.009, connectivity: str = "random", seed: int | None = 0,
                    max_memory: float | None = None, name: str | None = None) -> BinaryNetwork:
    """Build van Vreeswijk & Sompolinsky's binary balanced E/I network.

    Defaults follow van Vreeswijk & Sompolinsky (1998): ``J_E = 2``, ``J_I = 1.8``,
    ``E = 1``, ``I = 0.8``, ``θ_E = 1``, ``θ_I = 0.7``, ``m0 = 0.1``; time constants
    τ_E = 10 ms, τ_I = 9 ms. See the module docstring for the equations.

    Parameters
    ----------
    n_excitatory, n_inhibitory : int
        Population sizes N_E, N_I (both > K for sparse connectivity).
    K : int
        Mean number of inputs from each population (and the scale of the weights 1/√K).
    m0 : float
        Activity of the external population, in (0, 1).
    J_EE, J_EI, J_IE, J_II : float
        Coupling strengths ``J_kl`` (post k, pre l) before the 1/√K scaling. Dale's law:
        ``J_EE, J_IE >= 0`` and ``J_EI, J_II <= 0``.
    E, I : float
        External coupling strengths of the E and I populations (external input
        ``√K · E · m0`` and ``√K · I · m0``).
    theta_E, theta_I : float
        Thresholds of E and I neurons.
    tau_E, tau_I : float
        Mean update intervals in s.
    connectivity : {"random", "fixed_indegree"}
        Bernoulli(K/N_l) synapses (in-degrees fluctuate, as in the paper) or exactly K
        inputs from each population.
    seed : int, optional
        Seed of the connectivity.
    max_memory : float, optional
        Refuse to build above this many bytes (default 90 % of the available memory).

    Returns
    -------
    BinaryNetwork
        ``spec`` holds the parameters; ``spec["m_linear"]`` the balanced-state
        prediction (m_E, m_I).
    """
    n_e = check_int("n_excitatory", n_excitatory, minimum=1)
    n_i = check_int("n_inhibitory", n_inhibitory, minimum=1)
    K = check_int("K", K, minimum=1)
    if K > min(n_e, n_i) - 1:
        raise ValueError(f"K = {K} must be below the smaller population size minus one "
                         f"({min(n_e, n_i) - 1}); the model needs K << N_E, N_I")
    m0 = check_probability_open("m0", m0)
    jm = np.array([[J_EE, J_EI], [J_IE, J_II]], dtype=float)
    for nm, v in zip(("J_EE", "J_EI", "J_IE", "J_II"), jm.ravel(), strict=True):
        check_finite(nm, v)
    if J_EE < 0 or J_IE < 0 or J_EI > 0 or J_II > 0:
        raise ValueError("Dale's law: J_EE and J_IE must be >= 0, J_EI and J_II <= 0; got "
                         f"J_EE={J_EE}, J_IE={J_IE}, J_EI={J_EI}, J_II={J_II}")
    E = check_finite("E", E)
    I = check_finite("I", I)
    theta_E = check_finite("theta_E", theta_E)
    theta_I = check_finite("theta_I", theta_I)
    tau_E = check_positive("tau_E", tau_E, unit="s")
    tau_I = check_positive("tau_I", tau_I, unit="s")
    check_choice("connectivity", connectivity, {"random", "fixed_indegree"})
    n = n_e + n_i
    n_syn_est = int(2 * K * n * 1.05) + 100
    check_memory(n, n_syn_est, max_memory, weight_bytes=8)

    if connectivity == "fixed_indegree":
        indptr, indices = fixed_indegree_csc(
            n, np.array([0, n_e], np.int64), np.array([n_e, n], np.int64),
            np.array([K, K], np.int64), n, as_state(seed), False)
    else:
        indptr, indices = _bernoulli_csc(n, n_e, K, seeded_rng(seed, "network"))
    pre_pop = np.repeat((np.arange(n) >= n_e).astype(np.int64), np.diff(indptr))
    post_pop = (indices >= n_e).astype(np.int64)
    data = jm[post_pop, pre_pop] / np.sqrt(K)
    weights = sp.csc_array((data, indices, indptr), shape=(n, n))
    weights.has_sorted_indices = True

    is_i = np.arange(n) >= n_e
    sqk = np.sqrt(K)
    m_lin = balanced_activity_linear(jm, np.array([E, I]) * m0)
    spec = dict(builder="binary_balanced", n_excitatory=n_e, n_inhibitory=n_i, K=K, m0=m0,
                J_EE=J_EE, J_EI=J_EI, J_IE=J_IE, J_II=J_II, E=E, I=I, theta_E=theta_E,
                theta_I=theta_I, tau_E=tau_E, tau_I=tau_I, connectivity=connectivity,
                seed=seed_repr(seed), m_linear=m_lin.tolist())
    return BinaryNetwork(
        weights=weights, cell_type=np.where(is_i, "I", "E"),
        name=name or f"binary_balanced(N={n}, K={K}, m0={m0:g})", spec=spec,
        threshold=np.where(is_i, theta_I, theta_E), tau=np.where(is_i, tau_I, tau_E),
        external=np.where(is_i, sqk * I * m0, sqk * E * m0))


def _bernoulli_csc(n: int, n_e: int, K: int, rng: np.random.Generator):
    """CSC pattern with independent synapses of probability K/N_pre-population, no autapses.

    The successes of a Bernoulli(p) sequence over the flat (pre, post) index of each
    presynaptic block are generated exactly from geometric gaps (vectorized, no N² array).
    """
    counts = np.zeros(n, dtype=np.int64)
    cols, rows = [], []
    for lo, hi in ((0, n_e), (n_e, n)):
        p = K / (hi - lo)
        total = (hi - lo) * n
        pos = np.zeros(0, dtype=np.int64)
        last = -1
        while True:
            need = int((total - last) * p + 6 * np.sqrt(total * p) + 100)
            gaps = rng.geometric(p, size=need)
            new = last + np.cumsum(gaps)
            pos = np.concatenate([pos, new[new < total]])
            if new[-1] >= total:
                break
            last = int(new[-1])
        col = lo + pos // n
        row = pos % n
        keep = row != col
        cols.append(col[keep])
        rows.append(row[keep].astype(np.int32))
    col = np.concatenate(cols)
    indices = np.concatenate(rows)
    counts = np.bincount(col, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, indices


def balanced_activity_linear(J, external) -> np.ndarray:
    """Population activities of the balanced state in the large-K limit.

    Solves ``external_k + Σ_l J_kl m_l = 0`` (the O(√K) input terms cancel).

    Parameters
    ----------
    J : array (2, 2)
        Couplings ``J_kl`` (post k ∈ {E, I}, pre l ∈ {E, I}), before the 1/√K scaling.
    external : array (2,)
        External input per population divided by √K, i.e. ``(E m0, I m0)``.

    Returns
    -------
    ndarray (2,)
        ``(m_E, m_I)``. A solution outside (0, 1) means no balanced state exists.
    """
    J = np.asarray(J, dtype=float)
    ext = np.asarray(external, dtype=float)
    if J.shape != (2, 2) or ext.shape != (2,):
        raise ValueError("J must be 2x2 and external of length 2")
    return np.linalg.solve(J, -ext)


def _count_pmf(m: float, n_pop: int, K: int, connectivity: str) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the number of active inputs from a population at activity ``m``.

    "random": Binomial(M, K/N) with M = m N active neurons; "fixed_indegree":
    Hypergeometric(N, M, K). Non-integer M is handled by linear interpolation between
    floor(M) and ceil(M), which keeps the mean-field map continuous in m.
    """
    M = m * n_pop
    m_lo = int(np.floor(M))
    f = M - m_lo
    kmax = K * 4 + 50 if connectivity == "random" else K
    k = np.arange(min(kmax, n_pop) + 1)

    def pmf(Mi):
        Mi = min(max(Mi, 0), n_pop)
        if connectivity == "random":
            return stats.binom.pmf(k, Mi, K / n_pop)
        return stats.hypergeom.pmf(k, n_pop, Mi, K)

    p = pmf(m_lo) if f == 0 else (1 - f) * pmf(m_lo) + f * pmf(m_lo + 1)
    return k, p


def binary_mean_field(network: BinaryNetwork, *, m_start=None) -> np.ndarray:
    """Finite-K mean-field population activities (m_E, m_I) of a binary balanced network.

    Self-consistency ``m_k = P(u_k > θ_k)`` where the input of a population-k neuron is
    ``external_k + Σ_l w_kl n_l`` and ``n_l`` is the number of its active inputs from
    population l, drawn from the exact count distribution of the connectivity (binomial
    for Bernoulli synapses, hypergeometric for fixed in-degree) at activity ``m_l``.
    Neglects correlations between inputs (O(1/N) in the asynchronous state) and the
    quenched correlation between a neuron's in-degree and its own activity. Keeps the
    O(1/√K) corrections that :func:`balanced_activity_linear` drops, including the
    discreteness of the input (weights are multiples of 1/√K) and ``Θ(0) = 0``.

    Parameters
    ----------
    network : BinaryNetwork
        Built by :func:`binary_balanced` (needs ``spec``).
    m_start : array (2,), optional
        Initial guess (default: the linear prediction clipped to (0.01, 0.99)).
    """
    s = network.spec
    if s.get("builder") != "binary_balanced":
        raise ValueError("binary_mean_field needs a network built by binary_balanced")
    K, n_pop = s["K"], (s["n_excitatory"], s["n_inhibitory"])
    sq = np.sqrt(K)
    w = np.array([[s["J_EE"], s["J_EI"]], [s["J_IE"], s["J_II"]]]) / sq
    ext = np.array([s["E"], s["I"]]) * s["m0"] * sq
    theta = np.array([s["theta_E"], s["theta_I"]])
    conn = s["connectivity"]

    def G(m):
        m = np.clip(m, 1e-9, 1 - 1e-9)
        (ke, pe), (ki, pi) = (_count_pmf(m[0], n_pop[0], K, conn),
                              _count_pmf(m[1], n_pop[1], K, conn))
        cdf_i = np.cumsum(pi)
        out = np.empty(2)
        for k in range(2):
            # u > theta  <=>  n_I < (ext + w_E n_E - theta) / |w_I|  (strictly)
            bound = (ext[k] + w[k, 0] * ke - theta[k] - TIE_TOLERANCE) / abs(w[k, 1])
            idx = np.ceil(bound).astype(np.int64) - 1  # largest n_I strictly below bound
            prob_i = np.where(idx < 0, 0.0, cdf_i[np.clip(idx, 0, ki.size - 1)])
            out[k] = float(np.sum(pe * prob_i))
        return out

    m_lin = balanced_activity_linear(w * sq, ext / sq)
    x0 = np.clip(m_lin if m_start is None else np.asarray(m_start, float), 0.01, 0.99)
    sol = optimize.root(lambda m: G(m) - m, x0, method="hybr")
    if not sol.success or np.max(np.abs(G(sol.x) - sol.x)) > 1e-6:
        # damped fixed-point iteration as a fallback
        m = x0
        for _ in range(5000):
            m = 0.9 * m + 0.1 * G(m)
        sol_x = m
    else:
        sol_x = sol.x
    return np.asarray(sol_x, dtype=float)
