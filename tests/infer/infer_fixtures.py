"""Small simulated data shared by the inference tests (imported, not collected)."""

import numpy as np

import spikewire as sw
from spikewire.core import LIFParams, WhiteNoiseDrive


def lif_motif(duration=150.0, seed=1):
    """E 0 -> 1 (+2 mV), I 2 -> 3 (−2 mV), 1.5 ms delays, white-noise drive, ~12 Hz."""
    W = np.zeros((4, 4))
    W[1, 0] = 2.0
    W[3, 2] = -2.0
    net = sw.networks.from_matrix(W, ["E", "E", "I", "E"], delays=1.5e-3,
                                  drive=WhiteNoiseDrive(mu=15.0, sigma=6.0),
                                  params=LIFParams(tau_ref=2e-3))
    return sw.simulate(net, duration, seed=seed)


def independent(n=40, T=200.0, rate=10.0, seed=7):
    """Independent homogeneous Poisson trains (no links at all)."""
    rng = np.random.default_rng(seed)
    return sw.SpikeTrains.from_lists(
        [np.sort(rng.uniform(0, T, rng.poisson(rate * T))) for _ in range(n)], t_stop=T)


def brunel_20_of_200():
    """200-neuron Brunel network (E ≈ I ≈ 9 Hz), 60 s, 20 units recorded (90 % hidden):
    (recording, true weights among them, their cell types). The dale_glm tests' data."""
    from spikewire.observe.subsample import subsample

    net = sw.networks.brunel(200, epsilon=0.1, g=5.0, eta=0.6, J=2.0, seed=3)
    st = sw.simulate(net, 60.0, seed=1)
    rec = subsample(st, count=20, network=net, seed=2)
    W = net.dense_weights()[np.ix_(rec.true_index, rec.true_index)]
    return rec, W, net.cell_type[rec.true_index]


def dale_stage1_fit(st, bin_width=0.002, **kw):
    """The unconstrained stage-1 fit of ``dale_glm`` on ``st``: (problem, x, row weights,
    design), built as ``DaleGLM._fit`` builds it."""
    from spikewire.infer.dale_glm import DaleGLM, _Problem

    m = DaleGLM(bin_width=bin_width, **kw)
    n = st.n_units
    idx = np.arange(n)
    sess, R, _, design = m._session(st, idx, idx, idx, idx, bin_width, None, drop_flat=True)
    npop = 0 if sess.P is None else sess.P.shape[0]
    prob = _Problem([sess], [R], n, idx, design.n_basis, 0, npop, m.ridge, m.history_ridge)
    x0 = prob.pack(np.log(prob.rate)[None], np.zeros((prob.F, n)), np.zeros((0, n)),
                   np.zeros((npop, n)))
    x, ok, _, msg = prob.fit(x0, [R], max_iter=300)
    assert ok, msg
    return prob, x, R, design


def small_glm_problem(seed=2, bin_width=1e-3):
    """Three independent ~20 Hz units (20 s), their GLM design (10 ms window, 3 basis
    functions), log baseline rates and random coupling coefficients (3, 3, 3): the small
    case the glm kernel tests compare against explicit dense computations."""
    from spikewire.infer.glm import build_design

    rng = np.random.default_rng(seed)
    st = sw.SpikeTrains.from_lists([np.sort(rng.uniform(0, 20, rng.integers(300, 600)))
                                    for _ in range(3)], t_stop=20.0)
    d = build_design(st, bin_width=bin_width, window=0.01, n_basis=3)
    bias = np.log(np.array([20.0, 30.0, 25.0]) * bin_width)
    coef = rng.normal(0, 0.3, (3, 3, 3))
    return st, d, bias, coef


def dense_sandwich_parts(prob, x, R, blk):
    """Dense numpy reference of ``dale_glm``'s Wald variance, per target unit ``i``.

    Yields ``(i, W, nb, dim, Hinv, M, cr1)`` for the stage-1 problem ``prob`` (one session)
    at ``x`` with row weights ``R``: ``W`` the coupling coefficients (pre·basis × post),
    ``Hinv`` the inverse penalised Fisher information of the design ``[X, 1, P_i]``
    (bread), ``M = Σ_b g_b g_bᵀ`` the scores summed over blocks of ``blk`` bins (meat) and
    ``cr1`` the CR1 small-sample factor; the robust variance of a contrast ``c`` is
    ``cr1 · cᵀ Hinv M Hinv c``, the model variance ``cᵀ Hinv c``.
    """
    s = prob.S[0]
    b, W, Bc, g = prob.unpack(x)
    eta = prob.eta(0, b, W, Bc, g)
    X = s.X.toarray()
    G = -(-s.n_bins // blk)
    for i in range(prob.nu):
        A = np.hstack([X, np.ones((s.n_bins, 1)), s.P[:, :, i].T])
        dim = A.shape[1]
        mu = np.exp(eta[:, i])
        H = A.T @ (A * (mu * R[:, i])[:, None])
        H[np.arange(prob.F), np.arange(prob.F)] += prob.lam2[:, i]
        H += 1e-10 * np.trace(H) / dim * np.eye(dim)
        Hinv = np.linalg.inv(H)
        score = A * (R[:, i] * (s.Y[:, i] - mu))[:, None]
        pad = np.zeros((G * blk - s.n_bins, dim))
        gb = np.vstack([score, pad]).reshape(G, blk, dim).sum(axis=1)
        M = gb.T @ gb
        N = int(np.count_nonzero(R[:, i]))
        cr1 = G / (G - 1) * (N - 1) / (N - dim)
        yield i, W, prob.nb, dim, Hinv, M, cr1


def poisson_times(rng, rate, duration):
    """Sorted spike times (s) of a homogeneous Poisson train of ``rate`` Hz on [0, duration)."""
    return np.sort(rng.uniform(0, duration, rng.poisson(rate * duration)))


def propagate(rng, src, w, delay, duration):
    """Spikes that a point-process synapse passes on: each source spike (s) with
    probability ``w``, after ``delay`` s plus a uniform 0–1 ms jitter, kept below
    ``duration``."""
    kept = src[rng.random(src.size) < w]
    out = kept + delay + rng.uniform(0, 1e-3, kept.size)
    return out[out < duration]


def symmetric_pvalues(n, upper):
    """An (n, n) p-value matrix of a symmetric estimate: ``upper`` (the n(n−1)/2 distinct
    tests, in ``np.triu_indices(n, 1)`` order) mirrored below the diagonal, NaN on it."""
    iu = np.triu_indices(n, 1)
    P = np.full((n, n), np.nan)
    P[iu] = upper
    P.T[iu] = P[iu]
    return P


def directed_toy_estimate(z, alpha=0.01):
    """A directed toy ``Estimate`` of n units whose n(n−1) off-diagonal pairs carry the
    one-sided z-values ``z`` (p = 1 − Φ(z); row-major off the diagonal), BH at ``alpha``;
    returns the estimate and the off-diagonal mask."""
    from scipy import stats

    from spikewire.infer.estimate import Estimate

    z = np.asarray(z, dtype=float)
    n = int(round((1 + np.sqrt(1 + 4 * z.size)) / 2))
    if n * (n - 1) != z.size:
        raise ValueError(f"{z.size} z-values are not n(n-1) for any n")
    p = np.full((n, n), np.nan)
    off = ~np.eye(n, dtype=bool)
    p[off] = stats.norm.sf(z)
    est = Estimate(weights=off.astype(float), method="toy", settings={}, units=np.arange(n),
                   pvalues=p, correction="bh", alpha=alpha)
    return est, off
