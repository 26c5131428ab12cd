"""From a two-population LIF network to the SSN (Ekelmans et al. 2023, Materials and methods).

A LIF network with populations E and I is described by in-degrees ``K_XY`` (inputs a
neuron of X receives from Y), PSP amplitudes ``j_XY`` (mV, signed), neuron parameters per
population and an external white-noise drive ``(μ_ext,X, σ_ext,X)`` (the engine's
:class:`spikewire.WhiteNoiseDrive`). For Poisson-like presynaptic spikes the recurrent
input to X has mean ``Σ_Y K_XY j_XY τ_X ν_Y`` and variance ``σ² = Σ_Y K_XY j_XY² τ_X ν_Y``
(Brunel 2000). The SSN keeps the mean only:

- ``W_XY = K_XY j_XY τ_X`` (mV·s), so that ``μ_X = (W ν)_X + μ_ext,X``;
- ``(a_X, b_X, n_X)`` = :func:`~spikewire.theory.fit_power_law` of the Siegert curve with
  ``σ = σ_ext,X`` (recurrent noise neglected, valid for weak PSPs and low rates).

:func:`siegert_network_rates` solves the full self-consistency (mean *and* recurrent
variance through the Siegert formula, "Φsc"), which is the better prediction when the
recurrent noise is not negligible.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numba as nb
import numpy as np

from spikewire.core.synapses import Synapse, as_synapse
from spikewire.theory.ssn import SSN, SteadyStates, _pair, ssn_steady_states
from spikewire.theory.transfer import fit_power_law, lif_rate, lif_rate_derivatives

__all__ = ["EIPopulations", "lif_to_ssn", "predict_rates", "siegert_network_rates",
           "build_ei_network", "build_ei_procedural", "populations_from_network",
           "scale_populations"]


def _mat(name, value, *, nonneg=False):
    arr = np.asarray(value, dtype=float)
    if arr.shape != (2, 2):
        raise ValueError(f"{name} must be a 2 x 2 post x pre (E, I) matrix, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if nonneg and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {arr.tolist()}")
    return arr


@dataclass(frozen=True)
class EIPopulations:
    """A two-population LIF network in population terms.

    Attributes
    ----------
    n_neurons : (int, int)
        Sizes (N_E, N_I).
    K : ndarray (2, 2)
        In-degrees, post × pre: ``K[0, 1]`` = I inputs per E neuron.
    j : ndarray (2, 2)
        Signed PSP amplitudes in mV (column E >= 0, column I <= 0).
    sigma_ext : ndarray (2,)
        External white-noise amplitude σ per population (mV).
    mu_ext : ndarray (2,)
        External mean input per population (mV).
    tau_m, theta, v_reset, tau_ref : ndarray (2,)
        Neuron parameters per population (s, mV).
    tau_syn : float, Synapse or None
        The synapse model (:mod:`spikewire.core.synapses`): ``None`` delta, a time
        constant in s exponential, or a synapse object. ``j`` is always the
        delta-equivalent amplitude (same PSP area).
    """

    n_neurons: tuple
    K: np.ndarray
    j: np.ndarray
    sigma_ext: np.ndarray
    mu_ext: np.ndarray = field(default_factory=lambda: np.zeros(2))
    tau_m: np.ndarray = field(default_factory=lambda: np.array([0.020, 0.020]))
    theta: np.ndarray = field(default_factory=lambda: np.array([20.0, 20.0]))
    v_reset: np.ndarray = field(default_factory=lambda: np.array([10.0, 10.0]))
    tau_ref: np.ndarray = field(default_factory=lambda: np.array([0.002, 0.002]))
    tau_syn: float | Synapse | None = None

    def __post_init__(self):
        nn = tuple(int(x) for x in self.n_neurons)
        if len(nn) != 2 or min(nn) < 1:
            raise ValueError(f"n_neurons must be two positive sizes (N_E, N_I), got "
                             f"{self.n_neurons!r}")
        object.__setattr__(self, "n_neurons", nn)
        K = _mat("K", self.K, nonneg=True)
        if np.any(K[:, 0] > nn[0]) or np.any(K[:, 1] > nn[1]):
            raise ValueError(f"in-degrees K={K.tolist()} exceed the population sizes {nn}")
        object.__setattr__(self, "K", K)
        j = _mat("j", self.j)
        if np.any(j[:, 0] < 0) or np.any(j[:, 1] > 0):
            raise ValueError(f"j must follow Dale's law: column E >= 0, column I <= 0 (mV); got "
                             f"{j.tolist()}. Pass inhibitory PSPs as negative numbers")
        object.__setattr__(self, "j", j)
        sig = _pair("sigma_ext", self.sigma_ext, unit="mV")
        if np.any(sig < 0):
            raise ValueError(f"sigma_ext must be >= 0 mV, got {sig}")
        object.__setattr__(self, "sigma_ext", sig)
        object.__setattr__(self, "mu_ext", _pair("mu_ext", self.mu_ext, unit="mV"))
        object.__setattr__(self, "tau_m", _pair("tau_m", self.tau_m, positive=True, unit="s"))
        object.__setattr__(self, "theta", _pair("theta", self.theta, unit="mV"))
        object.__setattr__(self, "v_reset", _pair("v_reset", self.v_reset, unit="mV"))
        tr = _pair("tau_ref", self.tau_ref, unit="s")
        if np.any(tr < 0):
            raise ValueError(f"tau_ref must be >= 0 s, got {tr}")
        object.__setattr__(self, "tau_ref", tr)
        if np.any(self.v_reset >= self.theta):
            raise ValueError(f"v_reset {self.v_reset} mV must be below theta {self.theta} mV")
        if self.tau_syn is not None and not isinstance(self.tau_syn, Synapse) and not (
                np.isscalar(self.tau_syn) and self.tau_syn > 0):
            raise ValueError(f"tau_syn must be None, > 0 s or a Synapse, got {self.tau_syn!r}")

    @property
    def W(self) -> np.ndarray:
        """SSN coupling ``K j τ_m`` (mV·s), signed, post × pre."""
        return self.K * self.j * self.tau_m[:, None]

    def with_inputs(self, mu_ext) -> EIPopulations:
        return replace(self, mu_ext=np.asarray(mu_ext, float))

    def recurrent_moments(self, rates):
        """Mean (mV) and variance (mV²) of the recurrent input for rates (..., 2) Hz."""
        r = np.asarray(rates, float)
        mean = r @ (self.K * self.j * self.tau_m[:, None]).T
        var = r @ (self.K * self.j**2 * self.tau_m[:, None]).T
        return mean, var


def lif_to_ssn(pops: EIPopulations, *, tau=None, rate_range=(0.0, 10.0),
               dt: float | None = None) -> SSN:
    """SSN parameters (W, a, b, n) of a two-population LIF network.

    Parameters
    ----------
    pops : EIPopulations
    tau : array_like (2,), optional
        SSN time constants (s); default the membrane time constants.
    rate_range : (float, float)
        Rates (Hz) over which the power law is fitted.
    dt : float, optional
        Time step (s) of the spiking simulation to predict: the power law is fitted to the
        time-stepped neuron's rate (threshold checked every ``dt``; see
        :func:`~spikewire.theory.lif_rate`). ``None`` fits the continuous-time rate.
    """
    if not isinstance(pops, EIPopulations):
        raise TypeError(f"pops must be an EIPopulations, got {type(pops).__name__}")
    abn = [fit_power_law(pops.tau_m[x], pops.sigma_ext[x], pops.theta[x], pops.v_reset[x],
                         pops.tau_ref[x], rate_range=rate_range, dt=dt) for x in range(2)]
    a, b, n = (np.array([abn[0][k], abn[1][k]]) for k in range(3))
    return SSN(pops.W, a, b, n, pops.tau_m if tau is None else tau)


def predict_rates(pops, mu_ext=None, *, max_rate: float = 1e4) -> SteadyStates:
    """One call: the SSN steady states (population rates, Hz) of a LIF network.

    Parameters
    ----------
    pops : EIPopulations or spikewire.Network
        A network built with a white-noise drive is converted by
        :func:`populations_from_network`.
    mu_ext : array_like (2,), optional
        External mean input (mV); default ``pops.mu_ext``.
    """
    from spikewire.core.network import Network

    if isinstance(pops, Network):
        pops = populations_from_network(pops)
    model = lif_to_ssn(pops)
    h = pops.mu_ext if mu_ext is None else mu_ext
    return ssn_steady_states(model, h, max_rate=max_rate)


def siegert_network_rates(pops: EIPopulations, mu_ext=None, *, initial=None, dt=None,
                          include_recurrent_noise: bool = True):
    """Self-consistent Siegert rates ("Φsc") of a two-population LIF network.

    Solves ``ν_X = Φ(μ_X(ν), σ_X(ν))`` with recurrent mean and (optionally) variance, from
    each initial guess (default: the SSN steady states plus (0, 0) and (50, 50) Hz).

    Returns
    -------
    list of dict
        Distinct solutions, each with ``rates`` (Hz), ``stable`` (linear stability of the
        rate dynamics ``τ dν/dt = -ν + Φ``) and ``eigenvalues``.
    """
    from scipy.optimize import root

    h = pops.mu_ext if mu_ext is None else _pair("mu_ext", mu_ext, unit="mV")
    sig2_ext = pops.sigma_ext**2
    noise = 1.0 if include_recurrent_noise else 0.0

    def phi(r, deriv=False):
        m, v = pops.recurrent_moments(np.maximum(r, 0.0))
        mu = m + h
        sig = np.sqrt(sig2_ext + noise * v)
        args = (mu, sig, pops.tau_m, pops.theta, pops.v_reset, pops.tau_ref)
        if deriv:
            return lif_rate_derivatives(*args, dt=dt)
        return lif_rate(*args, dt=dt)

    def F(r):
        return phi(r) - r

    if initial is None:
        try:
            ss = predict_rates(pops, h, max_rate=500.0)
            initial = [*ss.rates, (0.0, 0.0), (50.0, 50.0)]
        except ValueError:
            initial = [(0.0, 0.0), (50.0, 50.0)]
    sols = []
    for x0 in initial:
        res = root(F, np.asarray(x0, float), method="hybr", options={"xtol": 1e-12})
        x = np.maximum(res.x, 0.0)
        if not res.success or np.abs(F(x)).max() > 1e-6 * (1 + x.max()):
            continue
        if any(np.allclose(x, s["rates"], rtol=1e-6, atol=1e-8) for s in sols):
            continue
        _, dmu, ds2 = phi(x, deriv=True)
        dm = pops.K * pops.j * pops.tau_m[:, None]
        dv = pops.K * pops.j**2 * pops.tau_m[:, None] * noise
        jac = (dmu[:, None] * dm + ds2[:, None] * dv - np.eye(2)) / pops.tau_m[:, None]
        ev = np.linalg.eigvals(jac)
        sols.append({"rates": x, "stable": bool(np.all(ev.real < 0)), "eigenvalues": ev})
    sols.sort(key=lambda s: s["rates"][0])
    return sols


def scale_populations(pops: EIPopulations, n_total: int) -> EIPopulations:
    """Rescale a network to ``n_total`` neurons at fixed connection probability.

    In-degrees grow ∝ N and PSPs shrink ∝ 1/√N (balanced-state convention), so the SSN
    coupling W grows ∝ √N; scale the external input ∝ √N as well to stay comparable
    (Ekelmans et al. 2023, Fig 6).
    """
    n0 = sum(pops.n_neurons)
    f = float(n_total) / n0
    ne = int(round(pops.n_neurons[0] * f))
    nn = (ne, int(n_total) - ne)
    K = np.rint(pops.K * f)
    return replace(pops, n_neurons=nn, K=K, j=pops.j / np.sqrt(f))


def populations_from_network(network) -> EIPopulations:
    """Population description of a spikewire Network with a white-noise drive.

    In-degrees and PSP amplitudes are population averages of the weight matrix; μ_ext and
    σ_ext are the mean per population of the drive.
    """
    from spikewire.core.network import WhiteNoiseDrive

    if getattr(network, "neuron_model", "lif") != "lif":
        raise ValueError(f"the SSN mapping needs a LIF network; this network's neurons are "
                         f"{network.neuron_model!r}")
    if not isinstance(network.drive, WhiteNoiseDrive):
        raise ValueError("the SSN mapping needs a network driven by WhiteNoiseDrive(mu, sigma); "
                         f"got drive {type(network.drive).__name__}")
    is_e = np.asarray(network.cell_type) == "E"
    n = network.n_neurons
    W = network.weights.tocsr()
    K = np.zeros((2, 2))
    j = np.zeros((2, 2))
    for X, post in enumerate((is_e, ~is_e)):
        for Y, pre in enumerate((is_e, ~is_e)):
            sub = W[post][:, pre]
            cnt = sub.nnz
            K[X, Y] = cnt / max(post.sum(), 1)
            j[X, Y] = sub.sum() / cnt if cnt else 0.0
    mu = np.broadcast_to(np.asarray(network.drive.mu, float), (n,))
    sig = np.broadcast_to(np.asarray(network.drive.sigma, float), (n,))
    if is_e.all() or not is_e.any():
        raise ValueError("the SSN mapping needs both E and I neurons in the network")
    ps = [network.params_of(c) for c in "EI"]
    syn = ps[0].synapse
    if ps[1].synapse != syn:
        raise ValueError("the SSN mapping needs one synapse model and one synaptic time constant "
                         f"for E and I; got {ps[0].synapse} (E) and {ps[1].synapse} (I)")
    tau_m = np.array([p.tau_m for p in ps])
    tau_syn = syn.tau_syn if syn == as_synapse(syn.tau_syn) else syn  # float for exp / delta
    if syn.tau_syn is not None:  # delta-equivalent amplitude (same PSP area)
        j = j * np.array([syn.psp_area(t) for t in tau_m])[:, None] / tau_m[:, None]
    v0 = np.array([p.v_rest for p in ps])
    return EIPopulations(
        (int(is_e.sum()), int((~is_e).sum())), K, j,
        sigma_ext=np.array([sig[is_e].mean(), sig[~is_e].mean()]),
        mu_ext=np.array([mu[is_e].mean(), mu[~is_e].mean()]),
        tau_m=tau_m, theta=np.array([p.theta for p in ps]) - v0,
        v_reset=np.array([p.v_reset for p in ps]) - v0,
        tau_ref=np.array([p.tau_ref for p in ps]), tau_syn=tau_syn)


def _fixed_indegree(rng: np.random.Generator, n_post: int, pool: int, k: int,
                    exclude=None, chunk_entries: int = 1 << 21) -> np.ndarray:
    """``k`` distinct presynaptic indices in ``[0, pool)`` for each of ``n_post`` neurons.

    Returns an int32 array (n_post, k), each row sorted. ``exclude`` (n_post,) removes one
    index per row (the neuron itself, no autapses): rows draw from ``pool - 1`` indices
    and skip it. Sparse rows (k <= pool/2) draw with replacement and keep the first k
    distinct values in draw order, which is an exact uniform k-subset (sequential sampling
    without replacement); rows short of k distinct values are redrawn. Dense rows take the
    k smallest of ``pool`` uniform keys. Work proceeds in chunks of about ``chunk_entries``
    numbers, so memory stays O(n_post k).
    """
    m_pool = pool - (0 if exclude is None else 1)
    if k > m_pool:
        raise ValueError(f"in-degree {k} exceeds the {m_pool} available partners")
    out = np.empty((n_post, k), dtype=np.int32)
    if k == 0:
        return out
    dense = 2 * k > m_pool
    if dense:
        m = m_pool
    else:
        # expected distinct values of m draws: m_pool (1 - exp(-m/m_pool)); 4 sd margin
        need = -m_pool * np.log1p(-k / m_pool)
        m = int(min(np.ceil(need + 4 * np.sqrt(need) + 8), 4 * m_pool))
    rows_per = max(1, chunk_entries // m)
    todo = np.arange(n_post)
    while todo.size:
        retry = []
        for c0 in range(0, todo.size, rows_per):
            rows = todo[c0:c0 + rows_per]
            r = rows.size
            if dense:
                keys = rng.random((r, m_pool))
                pick = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < m_pool else \
                    np.broadcast_to(np.arange(m_pool), (r, m_pool)).copy()
                got = np.ones(r, bool)
            else:
                draws = rng.integers(0, m_pool, size=(r, m))
                order = np.argsort(draws, axis=1, kind="stable")
                sd = np.take_along_axis(draws, order, axis=1)
                first_sorted = np.ones_like(sd, dtype=bool)
                first_sorted[:, 1:] = sd[:, 1:] != sd[:, :-1]
                first = np.empty_like(first_sorted)
                np.put_along_axis(first, order, first_sorted, axis=1)
                rank = np.cumsum(first, axis=1)
                sel = first & (rank <= k)
                got = rank[:, -1] >= k
                pick = np.zeros((r, k), dtype=np.int64)
                ok_rows = np.flatnonzero(got)
                pick[ok_rows] = draws[ok_rows][sel[ok_rows]].reshape(-1, k)
                retry.append(rows[~got])
            pick = pick[got]
            rr = rows[got]
            if exclude is not None:
                pick = pick + (pick >= exclude[rr][:, None])
            pick.sort(axis=1)
            out[rr] = pick
        todo = np.concatenate(retry) if retry else np.empty(0, int)
    return out


@nb.njit(cache=True)
def _fill_csc(pick, row0, col0, w, nxt, indices, data):
    """Write the synapses ``(row0 + r, col0 + pick[r, c])`` of one block into CSC arrays.

    Rows are visited in increasing order, so within every column they come out sorted
    (blocks must be passed in increasing ``row0`` for columns shared between blocks).
    """
    for r in range(pick.shape[0]):
        for c in range(pick.shape[1]):
            col = col0 + pick[r, c]
            pos = nxt[col]
            indices[pos] = row0 + r
            data[pos] = w
            nxt[col] = pos + 1


def build_ei_network(pops: EIPopulations, mu_ext=None, *, seed: int = 0,
                     delay=(1e-3, 3e-3), dt: float = 1e-4, name: str = "ei-ssn",
                     weight_dtype=np.float64):
    """A spiking spikewire Network realising ``pops`` (fixed in-degree).

    Neurons ``0..N_E-1`` are E, the rest I, each population with its own neuron parameters
    (``pops.tau_m``, ``theta``, ``v_reset``, ``tau_ref``). Each neuron of X draws exactly
    ``K_XY`` distinct presynaptic partners from Y (no autapses). Synapses are delta PSPs of
    ``j_XY`` mV, or with ``pops.tau_syn`` current synapses (exponential for a float) of the
    same PSP area (``j_XY τ_X / psp_area``, ``psp_area = τ_s`` for exponential ones). The
    drive is ``WhiteNoiseDrive`` with the population's μ_ext and σ_ext.

    Connectivity is drawn block by block with vectorised sampling (no per-neuron Python
    work) and written straight into CSC arrays with 32-bit indices. Memory per synapse:
    kept, 4 bytes (row index) + 8 (float64 weight; 4 with ``weight_dtype=np.float32``) + 8
    (per-synapse delay, none for a scalar ``delay``); at the peak of the build, the kept
    arrays or, if larger, index + weight + 4 bytes of sampled partners. E.g. ~2 GB for
    N = 100,000 neurons with 800 inputs each (float64, jittered delays). At a fixed
    connection probability the synapse count grows as N² and no stored representation
    reaches N = 100,000 with thousands of inputs per neuron in a few GiB (see
    ``benchmarks/results/theory2.md``).

    Parameters
    ----------
    pops : EIPopulations
    mu_ext : array_like (2,), optional
        External mean input per population (mV); default ``pops.mu_ext``.
    seed : int
        Seed of the connectivity and delay draws.
    delay : float or (float, float)
        Synaptic delay in s, or a range from which per-synapse delays are drawn uniformly on
        the ``dt`` grid (jittered delays prevent population-wide synchrony, as in Ekelmans
        et al.).
    dt : float
        The simulation step the delays must be multiples of.
    name : str
        Network name.
    weight_dtype : {numpy.float64, numpy.float32}, default float64
        Storage type of the weights; float32 saves 4 bytes per synapse and makes the
        engine deliver spikes in float32 (as :func:`spikewire.networks.brunel` does).

    Returns
    -------
    Network
    """
    import scipy.sparse as sp

    from spikewire.core.network import LIFParams, Network, WhiteNoiseDrive

    h = pops.mu_ext if mu_ext is None else _pair("mu_ext", mu_ext, unit="mV")
    syn = as_synapse(pops.tau_syn)
    try:
        wdt = np.dtype(weight_dtype)
    except TypeError:
        raise TypeError(f"weight_dtype must be numpy.float64 or numpy.float32, got "
                        f"{weight_dtype!r}") from None
    if wdt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"weight_dtype must be numpy.float64 or numpy.float32, got {wdt}")
    from spikewire.core.seeds import rng as seeded_rng

    rng = seeded_rng(seed, "network")
    ne, ni = pops.n_neurons
    n = ne + ni
    lo = (0, ne)
    size = (ne, ni)
    if n >= np.iinfo(np.int32).max:
        raise ValueError(f"{n} neurons exceed the 32-bit index range")
    blocks = {}
    for X in range(2):
        for Y in range(2):
            k = int(pops.K[X, Y])
            if k == 0 or pops.j[X, Y] == 0:
                continue
            pool = size[Y]
            excl = np.arange(size[X]) if X == Y else None
            if k > pool - (1 if X == Y else 0):
                raise ValueError(f"K[{X},{Y}] = {k} exceeds the {pool - (X == Y)} available "
                                 "partners; lower the in-degree or enlarge the population")
            blocks[X, Y] = _fixed_indegree(rng, size[X], pool, k, excl)
    # CSC assembly without a CSR intermediate: count synapses per presynaptic column, then
    # place rows in increasing order (so each column comes out sorted)
    col_count = np.zeros(n, dtype=np.int64)
    for (_, Y), b in blocks.items():
        rows_per = max(1, (1 << 22) // max(b.shape[1], 1))  # bincount copies to int64
        for r0 in range(0, b.shape[0], rows_per):
            col_count[lo[Y]:lo[Y] + size[Y]] += np.bincount(b[r0:r0 + rows_per].ravel(),
                                                            minlength=size[Y])
    nnz = int(col_count.sum())
    idx_t = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n + 1, dtype=idx_t)
    np.cumsum(col_count, out=indptr[1:])
    del col_count
    indices = np.empty(nnz, dtype=idx_t)
    data = np.empty(nnz, dtype=wdt)
    nxt = indptr[:-1].astype(np.int64)
    for (X, Y) in sorted(blocks):
        b = blocks.pop((X, Y))
        w = float(pops.j[X, Y])
        if syn.tau_syn is not None:  # same PSP area as the delta amplitude j
            w = w * float(pops.tau_m[X]) / syn.psp_area(float(pops.tau_m[X]))
        _fill_csc(b, lo[X], lo[Y], w, nxt, indices, data)
        del b
    del nxt
    W = sp.csc_array((data, indices, indptr), shape=(n, n))
    W.has_sorted_indices = True
    W.has_canonical_format = True  # distinct partners: no duplicates to sum
    if np.ndim(delay) == 0:
        delays = float(delay)
    else:
        d0, d1 = (int(round(x / dt)) for x in delay)
        delays = np.empty(nnz)
        step = 1 << 20
        for c0 in range(0, nnz, step):  # chunks: no int64 temporary of nnz entries
            c1 = min(c0 + step, nnz)
            delays[c0:c1] = rng.integers(d0, d1 + 1, size=c1 - c0) * dt
    mu = np.where(np.arange(n) < ne, h[0], h[1])
    sig = np.where(np.arange(n) < ne, pops.sigma_ext[0], pops.sigma_ext[1])
    params = {c: LIFParams(tau_m=float(pops.tau_m[x]), theta=float(pops.theta[x]),
                           v_reset=float(pops.v_reset[x]), tau_ref=float(pops.tau_ref[x]),
                           synapse=syn)
              for x, c in enumerate("EI")}  # one set per population (equal ones merge)
    cell = np.where(np.arange(n) < ne, "E", "I")
    # Network directly (from_matrix would copy the weights once more); it keeps CSC input.
    # Dale's law holds by construction (EIPopulations checks the signs of j per column), so
    # the per-synapse check, whose temporaries cost ~17 bytes per synapse, is skipped.
    return Network(weights=W, cell_type=cell, delays=delays, params=params,
                   drive=WhiteNoiseDrive(mu, sig), name=name,
                   spec={"builder": "build_ei_network", "n_neurons": int(n), "seed": seed},
                   check_dale=False)


def build_ei_procedural(pops: EIPopulations, mu_ext=None, *, seed: int = 0,
                        delay=1.5e-3, dt: float = 1e-4, p: float | None = None,
                        name: str = "ei-ssn-procedural", weight_dtype=np.float32,
                        rtol: float = 0.01):
    """``pops`` as a network with procedural connectivity (no stored synapses).

    The E/I network of :func:`build_ei_network` at a fixed connection probability ``p``
    (every pair connected independently, so in-degrees are Binomial(N_Y, p) around
    ``K_XY`` instead of fixed), for :func:`spikewire.simulate.simulate_procedural`:
    synapses are regenerated at each spike, so memory is O(N) and the size-scaling networks
    (``scale_populations``, K ∝ N) reach N = 100,000 (2·10⁹ synapses) in well under a GiB.
    Weights are the delta PSPs ``j_XY`` (one table row per target population), the drive
    the population's white noise (μ_ext, σ_ext), neuron parameters per population.

    Parameters
    ----------
    pops : EIPopulations
        Delta synapses only (``pops.tau_syn`` None); ``K[X, Y] / N_Y`` must be the same in
        every block with a nonzero PSP (to ``rtol``), unless ``p`` is given.
    mu_ext : array_like (2,), optional
        External mean input per population (mV); default ``pops.mu_ext``.
    seed : int
        Seed of the connectivity (its targets are those of a ``ProceduralConnectivity`` with
        the same seed).
    delay : float, (float, float) or None, default 1.5 ms
        One synaptic delay (s) for all synapses (None: one time step), or a range
        ``(d_min, d_max)`` from which each synapse's delay is drawn uniformly on the ``dt``
        grid, as the jittered delays of :func:`build_ei_network` (regenerated by a hash,
        not stored).
    dt : float, default 1e-4
        The simulation step (s) the jittered delays are counted in (simulate with it).
    p : float, optional
        Connection probability; default the common ``K[X, Y] / N_Y``.
    name : str
    weight_dtype : {numpy.float32, numpy.float64}, default float32
        Weight precision (sets the engine's delivery buffer precision).
    rtol : float, default 0.01
        Relative tolerance for the blocks' ``K / N`` to count as one probability.

    Returns
    -------
    network : Network
        No stored weights (a 0-synapse matrix of ``weight_dtype``), the neuron parameters,
        the white-noise drive and the delay.
    connectivity : spikewire.core.procedural.ProceduralPopulations
        ``p``, the (2, N) weight table (row 0: onto E, row 1: onto I) and the post groups.

    Examples
    --------
    >>> from spikewire.simulate import simulate_procedural
    >>> net, conn = build_ei_procedural(scale_populations(pops, 100_000), mu, seed=1)
    ... # doctest: +SKIP
    >>> spikes = simulate_procedural(net, conn, 0.2, seed=1)  # doctest: +SKIP
    """
    import scipy.sparse as sp

    from spikewire.core.network import LIFParams, Network, WhiteNoiseDrive
    from spikewire.core.procedural import ProceduralPopulations

    if not isinstance(pops, EIPopulations):
        raise TypeError(f"pops must be an EIPopulations, got {type(pops).__name__}")
    if as_synapse(pops.tau_syn).tau_syn is not None:
        raise ValueError(f"procedural networks have delta synapses only; pops.tau_syn is "
                         f"{pops.tau_syn!r} (build it with build_ei_network, or pass "
                         "replace(pops, tau_syn=None))")
    h = pops.mu_ext if mu_ext is None else _pair("mu_ext", mu_ext, unit="mV")
    try:
        wdt = np.dtype(weight_dtype)
    except TypeError:
        raise TypeError(f"weight_dtype must be numpy.float64 or numpy.float32, got "
                        f"{weight_dtype!r}") from None
    if wdt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"weight_dtype must be numpy.float64 or numpy.float32, got {wdt}")
    ne, ni = pops.n_neurons
    n = ne + ni
    active = pops.j != 0
    probs = pops.K / np.array([ne, ni], float)[None, :]
    if p is None:
        if not active.any():
            raise ValueError("pops has no synapses (all j are 0); pass p explicitly")
        p = float(probs[active].mean())
        if np.any(np.abs(probs[active] - p) > rtol * p):
            raise ValueError(f"the blocks' connection probabilities K/N = "
                             f"{np.round(probs, 4).tolist()} differ; procedural connectivity "
                             "has one probability (pass p= to override)")
    is_i = np.arange(n) >= ne
    table = np.empty((2, n), dtype=wdt)
    for X in range(2):
        table[X] = np.where(is_i, pops.j[X, 1], pops.j[X, 0])
    jitter = delay is not None and np.ndim(delay) != 0
    conn = ProceduralPopulations(float(p), table, is_i.astype(np.int64), seed,
                                 delays=tuple(delay) if jitter else None,
                                 dt=dt if jitter else None)
    mu = np.where(is_i, h[1], h[0])
    sig = np.where(is_i, pops.sigma_ext[1], pops.sigma_ext[0])
    params = {c: LIFParams(tau_m=float(pops.tau_m[x]), theta=float(pops.theta[x]),
                           v_reset=float(pops.v_reset[x]), tau_ref=float(pops.tau_ref[x]))
              for x, c in enumerate("EI")}
    net = Network(weights=sp.csc_array((n, n), dtype=wdt), cell_type=np.where(is_i, "I", "E"),
                  delays=None if delay is None else float(np.max(delay)), params=params,
                  drive=WhiteNoiseDrive(mu, sig), name=name,
                  spec={"builder": "build_ei_procedural", "n_neurons": int(n), "seed": seed,
                        "p": float(p)}, check_dale=False)
    return net, conn
