"""Point-process pairs with planted one-way and reciprocal links, shared by the ccg and
tspe reciprocal-link tests."""

import numpy as np

import spikewire as sw


def poisson_train(rng, rate, duration):
    """Sorted Poisson spike times at ``rate`` (Hz) on [0, ``duration``) s."""
    return np.sort(rng.uniform(0, duration, rng.poisson(rate * duration)))


def pair_trains(pairs, rate, duration, seed=0):
    """Spike trains of ``pairs`` (units 2p, 2p + 1) and the signed truth (post × pre).

    Each pair is ``(kind_ab, strength_ab, delay_ab, kind_ba, strength_ba, delay_ba)``:
    kind "E" adds to the post train a copy of each pre spike with probability
    ``strength`` at ``delay`` + U(0, 1 ms); kind "I" deletes each post spike that falls
    ``delay``–``delay + 2 ms`` after a pre spike with probability ``strength``; None is
    no link. Units fire as Poisson trains at ``rate`` Hz for ``duration`` s.
    """
    rng = np.random.default_rng(seed)
    n = 2 * len(pairs)
    base = [poisson_train(rng, rate, duration) for _ in range(n)]
    truth = np.zeros((n, n), dtype=int)
    links = []
    for p, (k1, s1, d1, k2, s2, d2) in enumerate(pairs):
        a, b = 2 * p, 2 * p + 1
        if k1:
            links.append((a, b, k1, s1, d1))
        if k2:
            links.append((b, a, k2, s2, d2))
    trains = [t.copy() for t in base]
    for pre, post, kind, s, d in links:       # excitation first: added spikes
        truth[post, pre] = 1 if kind == "E" else -1
        if kind == "E":
            src = base[pre][rng.random(base[pre].size) < s]
            add = src + d + rng.uniform(0, 1e-3, src.size)
            trains[post] = np.sort(np.r_[trains[post], add[add < duration]])
    for pre, post, kind, q, d in links:       # then inhibition: deleted spikes
        if kind == "I":
            x = trains[post]
            k = np.searchsorted(base[pre], x - d, side="right") - 1
            lag = x - base[pre][np.maximum(k, 0)]
            hit = (k >= 0) & (lag >= d) & (lag <= d + 2e-3)
            trains[post] = x[~(hit & (rng.random(x.size) < q))]
    return sw.SpikeTrains.from_lists(trains, t_stop=duration), truth
