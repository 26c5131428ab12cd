"""`ccg` streamed over blocks of post units (issue 16) and on several threads (issue 18):
the blocked kernel against the unblocked one, block- and thread-invariant random draws, and
identical estimates whatever the block size and the number of threads."""

import tracemalloc
import warnings

import numpy as np
import pytest

import spikewire as sw
from spikewire.infer import _ccg_kernels as K
from spikewire.infer.ccg import CCG, _RowUniforms, baseline_matrix, spike_jitter_kernel
from spikewire.infer.correlograms import _prepare


def _poisson(rng, rate, T):
    return np.sort(rng.uniform(0, T, rng.poisson(rate * T)))


def _linked(n=12, T=200.0, seed=0):
    """Poisson units with planted links, so that the estimates compared below have
    significant pairs of both signs (not only p-values of independent pairs): 0 → 1 and
    1 → 0 excitatory (a reciprocal pair), 2 → 3 excitatory, 4 → 5 inhibitory (post spikes
    1–3 ms after a pre spike deleted with p = 0.8)."""
    rng = np.random.default_rng(seed)
    trains = [_poisson(rng, r, T) for r in rng.uniform(4, 25, n)]
    for pre, post in ((0, 1), (1, 0), (2, 3)):
        src = trains[pre][rng.random(trains[pre].size) < 0.15] + 1.5e-3
        trains[post] = np.sort(np.concatenate([trains[post], src[src < T]]))
    k = np.searchsorted(trains[4], trains[5] - 3e-3)
    prev = trains[4][np.minimum(k, trains[4].size - 1)]
    inside = (k < trains[4].size) & (prev <= trains[5] - 1e-3) & (prev >= trains[5] - 3e-3)
    trains[5] = trains[5][~(inside & (rng.random(trains[5].size) < 0.8))]
    return sw.SpikeTrains.from_lists(trains, t_stop=T)


def _assert_same_estimate(a, b):
    """Every field of two estimates equal (arrays bit for bit, NaN where NaN); the
    diagnostics too, except wall times and the block layout."""
    for f in ("weights", "pvalues", "scores", "delays", "pair_status", "unit_status",
              "cell_type", "cell_type_confidence", "true_index", "units"):
        x, y = getattr(a, f), getattr(b, f)
        if x is None or y is None:
            assert x is None and y is None, f
            continue
        assert np.array_equal(np.asarray(x), np.asarray(y),
                              equal_nan=np.asarray(x).dtype.kind == "f"), f
    assert (a.method, a.weight_unit, a.alpha, a.correction) == (
        b.method, b.weight_unit, b.alpha, b.correction)
    skip = {"block_size", "n_blocks", "n_threads", "time_counting_s", "time_summaries_s",
            "cpu_counting_s", "cpu_summaries_s",
            "time_total_s"}
    assert {k for k in a.settings if k not in ("block_size", "n_jobs")} == {
        k for k in b.settings if k not in ("block_size", "n_jobs")}
    for k in set(a.diagnostics) | set(b.diagnostics):
        if k in skip or k.startswith(("time_", "cpu_")):    # wall and CPU times
            continue
        x, y = a.diagnostics[k], b.diagnostics[k]
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), k
        else:
            assert x == y, k
    assert np.array_equal(a.significant(), b.significant())


# ------------------------------------------------------------------ the blocked kernel
@pytest.mark.parametrize("pairs", [None, [(2, 0), (0, 2), (3, 1), (4, 3)]])
def test_rows_kernel_equals_the_unblocked_kernel(pairs):
    # the block kernel scans each post unit's own spikes and reads the correlogram
    # backwards; counts, baselines (same compiled dot product) and the full correlograms
    # must equal the unblocked kernel's, which counts each unordered pair once by its
    # lower-indexed unit, bit for bit. A subset of pairs uses the per-pair merge.
    rng = np.random.default_rng(5)
    st = sw.SpikeTrains.from_lists([_poisson(rng, r, 40.0) for r in (20, 8, 30, 15, 0.0, 12)],
                                   t_stop=40.0)
    n, bw, kmax = st.n_units, 5e-4, 40
    nk = 2 * kmax + 1
    win = np.arange(1, 31) + kmax
    idx = np.r_[win, 2 * kmax - win, kmax].astype(np.int64)
    ex = np.zeros(nk, dtype=bool)
    base_w = baseline_matrix(spike_jitter_kernel(10), nk, idx, ex)
    want = np.zeros((n, n), dtype=bool)
    if pairs is None:
        want[:] = True
        np.fill_diagonal(want, False)
    else:
        for i, j in pairs:
            want[i, j] = True
    # reference: the unblocked kernel (post x pre arrays for all pairs)
    cnt0 = np.zeros((n, n, idx.size), dtype=np.int32)
    base0 = np.zeros((n, n, idx.size))
    ccg0 = np.zeros((n, n, nk), dtype=np.int64)
    count = np.triu((want | want.T).T, k=1)
    args = _prepare(st, count.T, (nk + 2) * bw)
    K.ccg_bin_stats(*args, bw, kmax, np.ascontiguousarray(want.T), idx, base_w, cnt0, base0,
                    True, ccg0)
    # blocks of 4 and 2 post units
    t, ip, ft, fp, want_rows, scan = _prepare(st, np.ascontiguousarray(want.T),
                                              (nk + 2) * bw)
    if pairs is not None:
        # few pairs: the per-pair merge is chosen for the units with spikes
        assert not scan[want.any(axis=1) & (st.counts() > 0)].any()
    ccg1 = np.zeros_like(ccg0)
    for r0, r1 in ((0, 4), (4, 6)):
        rows = np.arange(r0, r1, dtype=np.int64)
        cnt = np.zeros((rows.size, n, idx.size), dtype=np.int32)
        base = np.zeros((rows.size, n, idx.size))
        K.ccg_rows_bin_stats(t, ip, ft, fp, rows, want_rows[r0:r1], scan, bw, kmax, idx,
                             base_w, cnt, base, True, ccg1)
        assert np.array_equal(cnt, cnt0[r0:r1])
        assert np.array_equal(base, base0[r0:r1])
    assert np.array_equal(ccg1, ccg0)
    assert ccg0.sum() > 0


def test_row_uniforms_do_not_depend_on_the_chunks():
    # the draws of post unit i are the stretch [i·per_row, (i+1)·per_row) of one PCG64
    # stream, whatever chunks ask for them: reference = one plain draw of all rows
    seq = np.random.SeedSequence(7)
    a, b, n_pre, rows = 2, 4, 5, 10
    ref = np.random.Generator(np.random.PCG64(seq)).random(rows * a * b * n_pre)
    ref = np.moveaxis(ref.reshape(rows, a, b, n_pre), 0, 2)
    u = _RowUniforms(seq, 0)
    parts = [u.random((a, b, r, n_pre)) for r in (3, 5, 2)]
    assert np.array_equal(np.concatenate(parts, axis=2), ref)
    # a block starting at row 6
    assert np.array_equal(_RowUniforms(seq, 6).random((a, b, 4, n_pre)), ref[:, :, 6:])


# ------------------------------------------------------------------ estimates
@pytest.fixture(scope="module")
def linked():
    return _linked()


@pytest.mark.parametrize("kwargs", [
    {},
    {"dale": True, "keep_ccg": True},
    {"causal_test": False, "significance": "poisson", "correction": "none"},
])
def test_blocked_estimate_equals_the_unblocked_one(linked, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sw.infer(linked, "ccg", **kwargs)
        assert whole.diagnostics["n_blocks"] == 1       # 12 units fit in one block
        # the decision found the planted links, so signs and delays are compared too
        sig = whole.significant()
        assert sig[1, 0] and sig[3, 2] and whole.weights[3, 2] > 0
        for block in (3, 5, 1):
            est = sw.infer(linked, "ccg", block_size=block, **kwargs)
            assert est.diagnostics["n_blocks"] == -(-linked.n_units // block)
            _assert_same_estimate(whole, est)


def test_blocked_estimate_with_jitter_surrogates_and_a_pair_subset(linked):
    pairs = [(1, 0), (0, 1), (3, 2), (5, 4), (7, 6)]
    kw = dict(significance="jitter", n_surrogates=5, pairs=pairs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = sw.infer(linked, "ccg", **kw)
        est = sw.infer(linked, "ccg", block_size=2, n_jobs=2, **kw)
    _assert_same_estimate(whole, est)
    assert np.isfinite(whole.pvalues[5, 4]) and np.isnan(whole.pvalues[4, 5])


def test_result_does_not_depend_on_n_jobs(linked):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = sw.infer(linked, "ccg", n_jobs=1, block_size=2)
        two = sw.infer(linked, "ccg", n_jobs=2, block_size=2)
        auto = sw.infer(linked, "ccg", n_jobs=2)
    assert two.diagnostics["n_threads"] == min(2, __import__("numba").config.NUMBA_NUM_THREADS)
    _assert_same_estimate(one, two)
    _assert_same_estimate(one, auto)


def test_streaming_bounds_the_memory():
    # 90 units, 50-bin window: the unblocked path holds 90·90·101 int32 counts and float64
    # baselines (9.8 MB) plus the summaries' temporaries for every row at once; blocks of
    # 2 post units hold 2/90 of that. numpy's allocations are traced by tracemalloc, so the
    # peak must fall well below a quarter (what remains: the spikes, the (n, n) summaries
    # and the decision's (n, n) temporaries, which do not depend on the block size).
    rng = np.random.default_rng(2)
    st = sw.SpikeTrains.from_lists([_poisson(rng, 5, 60.0) for _ in range(90)], t_stop=60.0)
    peaks = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sw.infer(st, "ccg", block_size=2)                 # compile outside the tracing
        for block in (90, 2):
            tracemalloc.start()
            sw.infer(st, "ccg", block_size=block)
            peaks[block] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert peaks[2] < peaks[90] / 4, peaks


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4"])
def test_block_size_is_validated(bad):
    with pytest.raises((ValueError, TypeError), match="block_size"):
        CCG(block_size=bad).fit(_linked(n=3, T=30.0))
