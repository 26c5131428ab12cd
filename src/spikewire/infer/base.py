"""The inference protocol, the method registry and :func:`infer`.

Adding a method
---------------
Subclass :class:`InferenceMethod`; set ``name``, ``reference`` and ``input_kinds``; take the
settings as keyword arguments of ``__init__`` stored under the same names; declare every
setting in ``settings_constraints`` (see :mod:`spikewire.infer._params`) and bin-like
settings with their natural value in ``bin_settings`` (default ``None`` = automatic); put
checks across settings in ``_check_combination``; implement ``_fit(ctx)`` on the
:class:`FitContext` and return ``ctx.estimate(self, weights=..., pvalues=..., ...)``. Then
make it known: ``@register`` in a module listed in ``_BUILTIN_METHODS`` (built-ins), or an
entry point of another package::

    [project.entry-points."spikewire.methods"]
    my_method = "my_package.module:MyMethod"

The conformance suite (``tests/infer/test_conformance.py``) then checks it with every
other method. Methods that learn a state derive from
:class:`spikewire.infer.trained.TrainedMethod`.
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import inspect
import sys
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.infer._params import InvalidSettingError, validate_settings
from spikewire.infer.estimate import Estimate

__all__ = ["InferenceMethod", "FitContext", "register", "get_method", "get_method_class",
           "list_methods", "infer", "as_recording", "resolve_pairs", "pair_status_from",
           "MissingDependencyError", "NotApplicableError", "InvalidSettingError",
           "ENTRY_POINT_GROUP", "check_null", "NULL_FAILURE_SHARE"]

#: Package entry-point group through which other packages add methods
#: (``[project.entry-points."spikewire.methods"] mymethod = "mypkg.module:MyMethod"``).
ENTRY_POINT_GROUP = "spikewire.methods"

#: Built-in methods: registry name → module that defines (and registers) it. Modules are
#: imported only when a method is used or listed; they must import optional packages
#: (torch, ...) inside functions, never at module level.
_BUILTIN_METHODS: dict[str, str] = {
    "ccg": "spikewire.infer.ccg",
    "dale_glm": "spikewire.infer.dale_glm",
    "glmcc": "spikewire.infer.glmcc",
    "glm": "spikewire.infer.glm",
    "gnn": "spikewire.infer.gnn",
    "lowrank": "spikewire.infer.lowrank",
    "lowrank_flow": "spikewire.infer.lowrank_flow",
    "partial_corr": "spikewire.infer.partial_corr",
    "te": "spikewire.infer.te",
    "tspe": "spikewire.infer.tspe",
}

_REGISTRY: dict[str, type[InferenceMethod]] = {}
_EP_CACHE: dict[tuple, dict] = {}


class MissingDependencyError(ImportError):
    """An optional dependency needed by a method is not installed (the message says which
    and gives the install command)."""


class NotApplicableError(ValueError):
    """The method cannot analyse this kind of recording (e.g. spike-timing methods on
    smoothed rates); planners label such combinations "not applicable"."""


_KIND_HINTS = {
    "fluorescence": "deconvolve the fluorescence to spikes first (spikewire.observe.deconvolve)",
    "rate": "keep the spike times (smooth(..., keep_spikes=True)) or use a method that "
            "accepts rates (partial_corr, te)",
    "counts": "use a method that accepts binned counts, or observe spike times instead of bins",
}


@dataclass
class FitContext:
    """What the shared preamble of :meth:`InferenceMethod.fit` hands to a method's
    :meth:`~InferenceMethod._fit` hook.

    Attributes
    ----------
    recording : Recording
    data : SpikeTrains or BinnedSignals
        The recording's spike trains, or (for methods accepting signals) its continuous
        signals seen through the binned-count API.
    request : ndarray of bool, shape (n, n)
        Requested (post, pre) pairs (diagonal False).
    counts : ndarray, shape (n,)
        Spikes per unit (for signals: the signal's integral).
    unit_ok : ndarray of bool, shape (n,)
        Units with at least ``min_spikes`` spikes.
    pair_status : ndarray of int8, shape (n, n)
        Initial :data:`~spikewire.infer.PAIR_STATUS` codes (0 = to be estimated); the hook
        may refine them (undecided, fit_failed).
    settings : dict
        The method's settings with automatic (``None``) bins replaced by resolved values.
    time_resolution : float or None
        The data's time resolution in s (:attr:`Recording.time_resolution`).
    t0 : float
        ``time.perf_counter()`` at the start of the fit.
    """

    recording: Recording
    data: object
    request: np.ndarray
    counts: np.ndarray
    unit_ok: np.ndarray
    pair_status: np.ndarray
    settings: dict
    time_resolution: float | None
    t0: float
    auto: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.request.shape[0])

    @property
    def units(self) -> np.ndarray:
        return np.asarray(self.data.units)

    @property
    def want(self) -> np.ndarray:
        """Pairs to estimate (status 0)."""
        return self.pair_status == 0

    @property
    def unit_status(self) -> np.ndarray:
        return np.where(self.unit_ok, "ok", "too_few_spikes").astype(object)

    def base_diagnostics(self) -> dict:
        """Diagnostics every method reports: skipped units, resolution, automatic bins."""
        return {"skipped_units": self.units[~self.unit_ok].tolist(),
                "time_resolution_s": self.time_resolution,
                "auto_settings": dict(self.auto)}

    def estimate(self, method: InferenceMethod, **fields) -> Estimate:
        """An :class:`Estimate` with the context's defaults (units, statuses, settings,
        true_index, alpha, correction) overridden by ``fields``."""
        diag = self.base_diagnostics()
        diag.update(fields.pop("diagnostics", None) or {})
        diag.setdefault("time_total_s", time.perf_counter() - self.t0)
        out = dict(method=method.name, settings=dict(self.settings), units=self.units.copy(),
                   pair_status=self.pair_status, unit_status=self.unit_status,
                   true_index=self.recording.true_index, diagnostics=diag)
        if self.settings.get("alpha") is not None:
            out["alpha"] = float(self.settings["alpha"])
        if "correction" in self.settings:
            out["correction"] = self.settings["correction"]
        out.update(fields)
        return Estimate(**out)


class InferenceMethod:
    """Base class of inference methods (scikit-learn style).

    A method takes its settings as keyword arguments of ``__init__`` (stored as attributes
    of the same name) and declares them in ``settings_constraints`` (setting → list of
    allowed forms, see :mod:`spikewire.infer._params`). Settings are validated when the
    method is built, by :meth:`check_settings` and by :meth:`set_params`; errors name the
    setting, its value and the allowed range. :meth:`fit` is a template: it does the shared
    preamble (recording, input kind, requested pairs, time resolution and automatic bins,
    ``min_spikes`` unit and pair status) once and calls the method's :meth:`_fit` hook with a
    :class:`FitContext`.

    Attributes
    ----------
    name : str
        Registry name (class attribute).
    reference : str
        The paper the method follows (class attribute).
    input_kinds : frozenset of str
        Recording kinds (:attr:`Recording.kind`) the method can analyse.
    settings_constraints : dict
        Setting name → list of constraints (a value is valid if it satisfies one).
    bin_settings : dict
        Bin-like settings (s) → the method's natural value. ``None`` for such a setting
        means "automatic": the natural value, but never finer than the data's time
        resolution and rounded to a whole multiple of it. A value finer than the data is
        refused at :meth:`fit`.
    requires : tuple of str
        Optional packages needed to build the method (checked when it is built).
    install : str
        What to ``pip install`` for them (e.g. ``"spikewire[ml]"``).
    """

    name: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    install: ClassVar[str] = "spikewire[ml]"
    #: Whether a sweep's ``name = "all"`` includes the method. Learned methods (training
    #: by gradient descent: minutes per fit) are named explicitly instead.
    in_all: ClassVar[bool] = True
    #: Recording kinds (:attr:`Recording.kind`) the method can analyse.
    input_kinds: ClassVar[frozenset[str]] = frozenset({"spikes"})
    settings_constraints: ClassVar[dict[str, list]] = {}
    bin_settings: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_spikewire_validating", False):
            return

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            init(self, *args, **kw)
            if type(self).__init__ is __init__:   # only the outermost constructor validates
                self._validate_params()

        __init__._spikewire_validating = True
        cls.__init__ = __init__

    # ------------------------------------------------------------------ settings
    @classmethod
    def accepts(cls, kind: str) -> bool:
        """Whether recordings of ``kind`` (:attr:`Recording.kind`) can be analysed."""
        return kind in cls.input_kinds

    @classmethod
    def setting_names(cls) -> list[str]:
        """Names of the constructor's settings."""
        sig = inspect.signature(cls.__init__)
        return [k for k, p in sig.parameters.items()
                if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    @classmethod
    def check_settings(cls, settings: dict) -> None:
        """Raise :class:`InvalidSettingError` (a ``ValueError``) naming the setting, its
        value and the allowed values if ``settings`` are not valid for this method (builds
        the method, fits nothing)."""
        cls._check_names(settings)
        cls(**settings)

    @classmethod
    def _check_names(cls, settings: dict) -> None:
        valid = cls.setting_names()
        unknown = [k for k in settings if k not in valid]
        if unknown:
            raise InvalidSettingError(f"method {cls.name!r} has no setting(s) {unknown}; "
                                      f"valid settings: {valid}")

    def get_params(self, deep: bool = True) -> dict:
        """Settings of this instance, by constructor argument name."""
        return {k: getattr(self, k) for k in self.setting_names() if hasattr(self, k)}

    def set_params(self, **params) -> InferenceMethod:
        """Change settings (validated like the constructor's; on error nothing changes)."""
        self._check_names(params)
        old = self.get_params()
        for k, v in params.items():
            setattr(self, k, v)
        try:
            self._validate_params()
        except Exception:
            for k, v in old.items():
                setattr(self, k, v)
            raise
        return self

    def clone(self) -> InferenceMethod:
        """A new, unfitted (untrained) method with deep copies of the same settings."""
        return type(self)(**copy.deepcopy(self.get_params()))

    def _check_requirements(self) -> None:
        for mod in self.requires:
            if importlib.util.find_spec(mod) is None:
                raise MissingDependencyError(
                    f"method {self.name!r} needs the optional package {mod!r}, which is not "
                    f"installed; install it with `pip install '{self.install}'`")

    def _validate_params(self) -> None:
        """Check every declared setting, then the method's combination checks."""
        self._check_requirements()
        validate_settings(self.name or type(self).__name__, self.settings_constraints,
                          self.get_params())
        self._check_combination({k: getattr(self, k, None) for k in self.bin_settings})

    def _check_combination(self, bins: dict) -> None:
        """Checks across settings (hook). ``bins`` maps each bin setting to its value in s,
        or None while it is automatic (resolved only when the data are known)."""

    # ------------------------------------------------------------------ bins
    def resolve_bins(self, recording: Recording) -> tuple[dict, dict]:
        """Bin settings (s) for ``recording``: ``(all bins, the automatic ones)``.

        Raises
        ------
        ValueError
            If a bin set by the user is finer than the data's time resolution.
        """
        res = recording.time_resolution
        out, auto = {}, {}
        for key, natural in self.bin_settings.items():
            value = getattr(self, key)
            if value is None:
                if res is None:
                    value = float(natural)
                else:
                    value = max(1, round(float(natural) / res)) * res
                auto[key] = value
            elif res is not None and float(value) < res * (1 - 1e-6):
                raise ValueError(
                    f"{self.name}: {key}={float(value) * 1e3:g} ms is finer than the data's "
                    f"time resolution of {res * 1e3:g} ms ({1 / res:g} Hz); bins finer than "
                    f"the data are partly empty. Use {key} >= {res:g} s (a whole multiple of "
                    f"it) or {key}=None for an automatic bin")
            out[key] = float(value)
        return out, auto

    # ------------------------------------------------------------------ fit
    def fit(self, recording, pairs=None) -> Estimate:
        """Estimate connectivity from ``recording`` (optionally only for ``pairs``).

        Parameters
        ----------
        recording : Recording or SpikeTrains
        pairs : sequence of (post_id, pre_id), optional
            Only these directed pairs (others get status ``not_requested``).

        Returns
        -------
        Estimate
            Post × pre.

        Raises
        ------
        NotApplicableError
            If the recording's kind is not in :attr:`input_kinds`.
        """
        t0 = time.perf_counter()
        self._validate_params()
        rec = as_recording(recording)
        kind = rec.kind
        if not self.accepts(kind):
            hint = _KIND_HINTS.get(kind, "use a method that accepts it")
            raise NotApplicableError(
                f"method {self.name!r} analyses {sorted(self.input_kinds)} recordings, but "
                f"this recording holds {kind!r}; {hint}")
        if kind == "spikes":
            data = rec.spikes
        else:
            from spikewire.infer._signals import activity_source

            data = activity_source(rec, self.name)
        bins, auto = self.resolve_bins(rec)
        if bins:
            try:
                self._check_combination(bins)
            except ValueError as err:
                coarsened = [k for k, v in auto.items()
                             if v > float(self.bin_settings[k]) * (1 + 1e-9)]
                if not coarsened:  # the settings themselves conflict, not the data
                    raise
                res = rec.time_resolution
                chosen = ", ".join(f"{k}={v * 1e3:g} ms" for k, v in auto.items())
                raise NotApplicableError(
                    f"method {self.name!r} cannot resolve what it tests in these data: their "
                    f"time resolution is {res * 1e3:g} ms, so the automatic {chosen} is too "
                    f"coarse ({err})") from err
        request = resolve_pairs(rec, pairs)
        counts = np.asarray(data.counts())
        min_spikes = getattr(self, "min_spikes", None)
        unit_ok = counts >= min_spikes if min_spikes is not None else np.ones(
            counts.size, dtype=bool)
        status = pair_status_from(request, unit_ok)
        ctx = FitContext(recording=rec, data=data, request=request, counts=counts,
                         unit_ok=unit_ok, pair_status=status,
                         settings={**self.get_params(), **bins},
                         time_resolution=rec.time_resolution, t0=t0, auto=auto)
        if not np.any(status == 0):
            n = ctx.n
            return ctx.estimate(self, weights=np.zeros((n, n)),
                                pvalues=np.full((n, n), np.nan), scores=np.zeros((n, n)),
                                diagnostics={"message": "no pair to estimate: every requested "
                                             "pair has a unit with fewer than min_spikes "
                                             "spikes (or no pair was requested)"})
        est = self._after_null_check(check_null(self._fit(ctx)))
        if est.diagnostics.get("cell_type_from") == "calls":
            # labels voted from the calls at construction: vote again on the settled
            # decision (check_null's switch to the local FDR and the centring change it;
            # glmcc's labels on the study's Brunel network were 80 / 100 right, 100 / 100
            # from its final calls)
            from spikewire.infer.labels import label_cell_types

            est.cell_type, est.cell_type_confidence = label_cell_types(
                est.adjacency(), weights=est.weights)
        return est

    def _after_null_check(self, est: Estimate) -> Estimate:
        """Hook run on the estimate after :func:`check_null` judged the method's own
        p-values (identity here): a method may refine its p-values once the decision rule
        is settled (glm's ``presynaptic_centre``)."""
        return est

    def _fit(self, ctx: FitContext) -> Estimate:  # pragma: no cover - abstract
        """The method proper (hook called by :meth:`fit` after the shared preamble)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _fit(ctx) or fit()")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


#: Share of tested pairs significant per pair at α = 0.05 above which a theoretical-null
#: correction is not trusted (:func:`check_null`). In a sparsely connected circuit most
#: recorded pairs are unconnected; a calibrated test calls about 5 % of them, plus the
#: links. More than half the pairs "significant" means the test's null does not hold for
#: these data.
NULL_FAILURE_SHARE = 0.5


def _distinct_tests(est: Estimate, tested: np.ndarray) -> tuple[np.ndarray, bool]:
    """Mask of the distinct tests among ``tested`` and whether the estimate is symmetric
    (one test per unordered pair, reported twice: then the upper triangle only).

    Symmetric when ``diagnostics["symmetric"]`` says so (``partial_corr`` with ``lag=0``),
    or, where it says nothing, when the tested pairs, their p-values and their weights all
    equal their transposes exactly (a directed method's weights never do)."""
    flag = est.diagnostics.get("symmetric")
    if flag is None:
        p = np.where(tested, est.pvalues, 0.0)
        flag = bool(np.array_equal(tested, tested.T) and np.array_equal(p, p.T)
                    and np.array_equal(est.weights, est.weights.T) and tested.any())
    flag = bool(flag) and bool(np.array_equal(tested, tested.T))
    return (np.triu(tested, k=1) if flag else tested), flag


def check_null(est: Estimate, small_problems: bool | None = None) -> Estimate:
    """Check that a fitted estimate's p-values are plausible for a sparse circuit.

    The check counts *distinct* tests: a symmetric estimate (``diagnostics["symmetric"]``,
    or p-values and weights equal to their transposes) tests each unordered pair once and
    reports it twice, so only its upper triangle counts. With at least
    :data:`~spikewire.infer.fdr.MIN_TESTS_SMALL_NULL` (45) distinct tests and a default
    correction that trusts the theoretical null (``"none"``, ``"bonferroni"``, ``"bh"``),
    if more than :data:`NULL_FAILURE_SHARE` (for ``"bh"`` and ``"none"``, and for every
    correction below :data:`~spikewire.infer.fdr.MIN_TESTS_LFDR` tests: more than
    :data:`~spikewire.infer.fdr.NULL_FAILURE_SHARE_FDR`, 0.3) of the distinct tests have
    p < 0.05 the null of the test does not describe the unconnected pairs of these data
    (typically fast shared input or network synchrony that the model does not capture): such
    a correction would call far too many pairs. A ``UserWarning`` says so and:

    - from :data:`~spikewire.infer.fdr.MIN_TESTS_LFDR` (1,000) distinct tests, where the
      empirical null can be estimated (p-values not tied), the estimate's default
      correction is switched to the empirical-null local FDR (Efron), which estimates the
      null from the bulk of the pairs, and its level ``alpha`` is raised to
      :data:`~spikewire.infer.fdr.LFDR_SWITCH_LEVEL` (lfdr < 0.5) if it was lower;
    - with 45 to 999 distinct tests (the **small-problem rule**), too few for the local
      FDR's density fit, where Efron's central maximum-likelihood null
      (:func:`~spikewire.infer.fdr.central_null`, fitted to the distinct tests) departs
      from N(0, 1) beyond its sampling error
      (:func:`~spikewire.infer.fdr.departs_from_theory`: 3 × 1.6 / sqrt(m)), the
      correction is switched to ``"lfdr"`` and α raised to
      :data:`~spikewire.infer.fdr.LFDR_SWITCH_LEVEL` (lfdr < 0.5) as for large problems;
      :meth:`Estimate.significant` then decides by the small-problem local FDR
      (:func:`~spikewire.infer.fdr.small_local_fdr`: that null — or, where a separated
      cluster of links narrower than the null is supported, the null of a two-group fit,
      :func:`~spikewire.infer.fdr.mixture_null`, recorded as ``"two_group_null"`` —
      against a Gaussian kernel density of the distinct tests' z-values, never below the
      lfdr under N(0, 1), non-increasing in z). :attr:`Estimate.pvalues` stay the
      method's own. (Session 20 decided such estimates by Benjamini–Hochberg on the
      p-values re-referred to the null, :func:`~spikewire.infer.fdr.rereferred_pvalues`,
      at the method's α; that is still what ``adjust_pvalues(p, "lfdr")`` returns for
      45–999 tests.)
      ``small_problems=False``, or
      ``diagnostics["small_problem_rule"] = False`` set by the method
      (``partial_corr(shared_null="off")``), keeps the correction with the warning instead;
    - otherwise the correction is kept and the warning says the calls are not to be
      trusted.

    Why the small-problem rule, and why from 45 tests (benchmarks/results/smallnull.md):
    on normal mixtures (1,000 seeds; 10 % links at z ~ N(4, 1)) it switched 0.3 / 0.1 /
    0 / 0 % of calibrated estimates (N(0, 1) null) at 45 / 56 / 90 / 190 tests — a
    re-referral there would cost 3–7 % of the true calls, which the share condition
    avoids — and 63–82 % of estimates under a broken N(0.5, 1.8²) null, whose false
    calls fell from 6.8 to 1.8 (45 tests) and from 28 to 4.1 (190 tests). On 20 units of
    NEST network 3 (``partial_corr``, 190 distinct tests) the calls fell from 474 to 114
    of 149 links at 60 min; on 10 recorded units of 100 (90 tests) glm's from 81 / 84 to
    8 / 3 (9 / 15 links), and on the 10-unit bursting null family glm's from 52 / 42 false
    calls to 0 / 1; glmcc's there from 49 / 71 to 0: its unlinked pairs spread as wide as
    N(2.6, 2.0²) and a normal null that wide leaves its links (z 5.5–9.8) inside its tail
    as far as BH over 90 tests can see. Why the local FDR instead (session 21,
    benchmarks/results/glmcc90.md): its links form a cluster where the z-values' density
    is several times the null's, which a density ratio calls and BH cannot.
    Why 0.3 for Bonferroni too on small problems: on 20-unit NEST subsets Bonferroni
    under a failed null (shares 0.34–0.77) called up to 4.4× the links
    (benchmarks/results/indirect.md).

    Why lfdr < 0.5 after a switch: α was an error rate under the theoretical null, which
    the check has just found broken; what is left to decide is which pairs are links, and
    the lfdr is each pair's posterior probability of being null, so calling the pairs more
    probably linked than not (the two-group model's Bayes rule) minimises the expected
    number of misclassified pairs. Efron's 0.2 (:data:`~spikewire.infer.fdr.LFDR_LEVEL`) is a
    screening level, kept where a method chose the local FDR itself (tspe). Measured on the
    built-in study ``calibration`` (100 of 1,000 neurons, 10 min, 1 kHz): glmcc under hidden
    up/down states (54 % of pairs at p < 0.05) called 320 links of 996 at lfdr < 0.2 with
    the two-sided null (MCC 0.546, best threshold 0.842); with the right half-peak null
    (:mod:`spikewire.infer.fdr`, step 3b) 587 at 0.2 (0.735) and 915 at 0.5 (0.834). On
    every switched estimate of that study 0.5 beat 0.2 (benchmarks/results/calib.md).

    Why the share of small p-values (and not a test of the theoretical null): on the same
    study the empirical null departs from N(0, 1) beyond its sampling error (sd of δ0 and
    σ0 ≈ 1.6 / sqrt(m), 0.016 at 9,900 tests) for almost every estimate (ccg on the plain
    Brunel network: δ0 = 0.35), but switching those whose share is below 0.3 to lfdr < 0.5
    changed ccg's MCC by −0.001 to −0.012 (five families) and glmcc's by +0.016 / +0.023
    (scale-free LIF, AdEx): a null a little off in the bulk does not make BH call far too
    many pairs; a large share does. Nor would such a test spare a dense network: with
    30 % links the empirical null itself comes out off (δ0 ≈ −0.08, σ0 ≈ 1.07 for a true
    N(0, 1)), beyond that sampling error; it is then switched, and lfdr < 0.5 classifies its
    pairs within 1.2× the oracle's errors (tests/infer/test_fdr_skew.py).
    ``est.diagnostics["null_check"]`` records the share, ``n_tests`` (distinct) and
    ``symmetric`` in every judged case, and ``"switched_from"``, ``"alpha_from"`` and
    ``"empirical_null"`` (the fitted null: ``delta0``, ``sigma0``, ``pi0``, ``side`` —
    ``"right"`` when the bulk was skewed and the right half-peak was used — and the
    two-sided ``sigma0_both``; with ``small_problem=True`` for the small-problem rule),
    or ``"not_switched"`` (the reason), when the check failed.

    Parameters
    ----------
    est : Estimate
        The fitted estimate (changed in place and returned).
    small_problems : bool or None, default None
        Whether the small-problem rule may switch the estimate; None: as
        ``est.diagnostics["small_problem_rule"]`` says (default True).

    Returns
    -------
    Estimate
        ``est``.
    """
    from spikewire._validation import user_stacklevel
    from spikewire.infer.estimate import _small_problem_null_why
    from spikewire.infer.fdr import (
        LFDR_SWITCH_LEVEL,
        MIN_TESTS_LFDR,
        MIN_TESTS_SMALL_NULL,
        NULL_FAILURE_SHARE_FDR,
        SMALL_SIGMA0_RANGE,
        empirical_null,
        lfdr_fallback_reason,
        two_group_null,
    )

    if est.pvalues is None or est.pair_status is None:
        return est
    if small_problems is None:
        small_problems = bool(est.diagnostics.get("small_problem_rule", True))
    tested = (est.pair_status == 0) & np.isfinite(est.pvalues)
    distinct, symmetric = _distinct_tests(est, tested)
    p = est.pvalues[distinct]
    if p.size < MIN_TESTS_SMALL_NULL:
        return est
    share = float(np.mean(p < 0.05))
    est.diagnostics["null_check"] = {"share_p_below_0.05": share, "n_tests": int(p.size),
                                     "symmetric": symmetric}
    small = p.size < MIN_TESTS_LFDR
    failed = ((share > NULL_FAILURE_SHARE and est.correction in ("none", "bonferroni", "bh"))
              or (share > NULL_FAILURE_SHARE_FDR
                  and est.correction in (("none", "bh", "bonferroni") if small
                                         else ("none", "bh"))))
    if not failed:
        return est
    import warnings

    head = (f"{est.method}: {share:.0%} of the {p.size} distinct tested pairs have p < 0.05, "
            "but in a sparsely connected circuit most pairs are unconnected: the test's null "
            "does not hold for these data (fast shared input or synchrony the model does "
            f"not capture). The default correction {est.correction!r} would call most "
            "pairs")
    if small:
        null, reason = _small_problem_null_why(p, MIN_TESTS_SMALL_NULL, SMALL_SIGMA0_RANGE)
        if null is not None and not small_problems:
            null, reason = None, "the method's small-problem rule is off"
        if null is not None:
            level = max(float(est.alpha), LFDR_SWITCH_LEVEL)
            mix = two_group_null(p)
            used = (f"N({null.delta0:.2f}, {null.sigma0:.2f}²) fitted to the central peak "
                    "of the z-values" if mix is None else
                    f"N({mix.null.delta0:.2f}, {mix.null.sigma0:.2f}²) of a two-group fit, "
                    f"which found a separated cluster of links at z ≈ {mix.mu1:.1f}")
            warnings.warn(
                head + ", so this estimate uses the small-problem local FDR "
                f"(correction='lfdr' with fewer than {MIN_TESTS_LFDR} tests: the empirical "
                f"null {used}, against a kernel density of the z-values) and calls the "
                f"pairs more probably linked than not, lfdr < {level:g} (est.alpha); its "
                "ranking (scores) may still be informative.",
                UserWarning, stacklevel=user_stacklevel())
            est.diagnostics["null_check"].update(
                switched_from=est.correction, alpha_from=float(est.alpha),
                empirical_null=null.as_dict(), small_problem=True)
            if mix is not None:
                est.diagnostics["null_check"]["two_group_null"] = mix.as_dict()
            est.correction = "lfdr"
            est.alpha = level
            return est
    else:
        reason = lfdr_fallback_reason(p)
        null = None
        if reason is None:
            try:
                null = empirical_null(p)
            except ValueError as err:  # the fit failed: adjust_pvalues would fall back
                reason = str(err)
        if null is not None:
            level = max(float(est.alpha), LFDR_SWITCH_LEVEL)
            side = ("its right half-peak (the bulk is skewed)" if null.side == "right"
                    else "its central peak")
            warnings.warn(
                head + ", so this estimate uses the empirical-null local FDR "
                f"(correction='lfdr'; null N({null.delta0:.2f}, {null.sigma0:.2f}²) fitted "
                f"to {side}) instead and calls the pairs more probably linked than not, "
                f"lfdr < {level:g} (est.alpha); its ranking (scores) may still be "
                "informative.", UserWarning, stacklevel=user_stacklevel())
            est.diagnostics["null_check"].update(switched_from=est.correction,
                                                 alpha_from=float(est.alpha),
                                                 empirical_null=null.as_dict())
            est.correction = "lfdr"
            est.alpha = level
            return est
    warnings.warn(
        head + f"; it is kept because {reason}: do not trust these calls, use the "
        "ranking (scores) or record more units.", UserWarning,
        stacklevel=user_stacklevel())
    est.diagnostics["null_check"]["not_switched"] = reason
    return est


def register(cls: type[InferenceMethod]) -> type[InferenceMethod]:
    """Class decorator adding a method to the registry under ``cls.name``."""
    if not isinstance(cls, type) or not issubclass(cls, InferenceMethod):
        raise TypeError(f"register expects an InferenceMethod subclass, got {cls!r}")
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute `name`")
    _REGISTRY[cls.name] = cls
    return cls


def _entry_points() -> dict:
    """Entry points of the ``spikewire.methods`` group by name (cached per ``sys.path``)."""
    key = tuple(sys.path)
    if key not in _EP_CACHE:
        from importlib.metadata import entry_points

        _EP_CACHE.clear()
        _EP_CACHE[key] = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _EP_CACHE[key]


def _method_names() -> list[str]:
    return sorted(set(_BUILTIN_METHODS) | set(_entry_points()) | set(_REGISTRY))


def _missing(name: str, err: ImportError, install: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"method {name!r} needs the package {err.name or str(err)!r}, which is not installed; "
        f"install it with `pip install '{install}'`")


def _load(name: str) -> type[InferenceMethod]:
    """Import the module (or entry point) that defines method ``name``."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BUILTIN_METHODS:
        mod = _BUILTIN_METHODS[name]
        try:
            module = importlib.import_module(mod)
        except ImportError as err:
            if err.name and err.name.startswith("spikewire"):
                raise
            raise _missing(name, err, "spikewire[ml]") from err
        if name not in _REGISTRY:   # imported earlier while the registry was replaced
            for obj in vars(module).values():
                if (isinstance(obj, type) and issubclass(obj, InferenceMethod)
                        and obj.name == name):
                    register(obj)
    elif name in _entry_points():
        ep = _entry_points()[name]
        try:
            obj = ep.load()
        except ImportError as err:
            raise _missing(name, err, err.name or ep.value) from err
        if isinstance(obj, type) and issubclass(obj, InferenceMethod):
            if obj.name != name:
                raise ValueError(f"entry point {name!r} ({ep.value}) names a method class "
                                 f"whose name is {obj.name!r}; they must agree")
            register(obj)
    if name not in _REGISTRY:
        raise ValueError(f"unknown inference method {name!r}; available: {_method_names()}")
    return _REGISTRY[name]


def list_methods() -> dict[str, str]:
    """All available methods: name → one-line description.

    Methods whose optional dependency is missing are listed too, with the install command
    (using them raises :class:`MissingDependencyError`).
    """
    out = {}
    for name in _method_names():
        try:
            cls = _load(name)
        except MissingDependencyError as err:
            out[name] = f"(unavailable: {err})"
            continue
        except Exception as err:  # another package's broken entry point must not hide ours
            if name in _BUILTIN_METHODS:
                raise
            out[name] = f"(broken entry point: {type(err).__name__}: {err})"
            continue
        out[name] = (inspect.getdoc(cls) or "").splitlines()[0]
    return out


def get_method_class(name: str) -> type[InferenceMethod]:
    """The registered method class called ``name``; clear error for unknown names."""
    if not isinstance(name, str):
        raise TypeError(f"method name must be a string, got {name!r}")
    return _load(name)


def get_method(name: str, **settings) -> InferenceMethod:
    """Build a registered method with ``settings`` (validated: unknown or invalid settings
    raise :class:`InvalidSettingError` naming the setting, its value and what it accepts)."""
    cls = get_method_class(name)
    cls._check_names(settings)
    return cls(**settings)


def as_recording(data) -> Recording:
    """Accept a Recording or SpikeTrains and return a Recording.

    Bare spike trains keep their unit ids as ``true_index`` only when they come from a
    simulation engine (``annotations["engine"]``; engines number units by neuron index);
    otherwise the mapping to a network's neurons is unknown (-1), so that scoring them
    against a network of another size is refused instead of silently wrong. Pass
    ``Recording.from_spikes(spikes, true_index=...)`` to state a mapping.
    """
    if isinstance(data, Recording):
        return data
    if isinstance(data, SpikeTrains):
        if "engine" in data.annotations:
            return Recording.from_spikes(data)
        return Recording.from_spikes(data, true_index=np.full(data.n_units, -1))
    raise TypeError(f"expected a Recording or SpikeTrains, got {type(data).__name__}")


def resolve_pairs(recording: Recording, pairs) -> np.ndarray:
    """Turn ``pairs`` (iterable of ``(post_id, pre_id)`` unit ids) into a boolean request mask.

    ``None`` requests all off-diagonal pairs. Unknown unit ids raise ``ValueError``.
    """
    n = recording.n_units
    mask = np.zeros((n, n), dtype=bool)
    if pairs is None:
        mask[:] = True
        np.fill_diagonal(mask, False)
        return mask
    arr = np.asarray(pairs)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"pairs must be a sequence of (post, pre) unit ids, got shape "
                         f"{arr.shape}")
    units = recording.spikes.units if recording.spikes is not None else np.arange(n)
    lookup = {int(u): k for k, u in enumerate(units)}
    bad = sorted({int(u) for u in arr.ravel() if int(u) not in lookup})
    if bad:
        raise ValueError(f"pairs name unknown unit id(s) {bad[:10]}; the recording has units "
                         f"{units[:10].tolist()}{'...' if n > 10 else ''}")
    for post, pre in arr:
        if post != pre:
            mask[lookup[int(post)], lookup[int(pre)]] = True
    return mask


def pair_status_from(requested: np.ndarray, unit_ok: np.ndarray) -> np.ndarray:
    """Initial :data:`~spikewire.infer.PAIR_STATUS` codes: 0 for requested pairs of usable
    units, 3 where a unit of a requested pair was skipped (too few spikes), 2 for pairs
    not requested, 1 on the diagonal."""
    status = np.full(requested.shape, 2, dtype=np.int8)
    status[requested] = 0
    status[requested & ~(unit_ok[:, None] & unit_ok[None, :])] = 3
    np.fill_diagonal(status, 1)
    return status


def infer(data=None, method: str = "ccg", *, pairs=None, sessions=None,
          **settings) -> Estimate:
    """Estimate the post × pre connectivity of the units in ``data``.

    Parameters
    ----------
    data : Recording or SpikeTrains, or a sequence of them
        Observed activity. A list or tuple of recordings is taken as several sessions of
        one network (the same as ``sessions=``).
    method : str, default "ccg"
        A registered method (see :func:`list_methods`).
    pairs : sequence of (post_id, pre_id), optional
        Restrict the estimate to these pairs (others get status ``not_requested``); not
        with several sessions.
    sessions : sequence of Recording or SpikeTrains, optional
        Several recordings of overlapping subsets of one network, each unit identified
        across sessions by its unit id, fitted jointly into one weight matrix over the
        union of the units (stitching). Only methods with a ``fit_sessions`` method
        support it (``dale_glm``); others raise :class:`NotApplicableError`. With
        sessions, a ``covariates`` setting is a sequence with one entry per session.
    **settings
        Passed to the method's constructor (e.g. ``alpha=0.01``, ``n_jobs=2``).

    Returns
    -------
    Estimate

    Raises
    ------
    TypeError
        If both ``data`` and ``sessions`` are given, or neither.
    NotApplicableError
        If several sessions are given to a method that cannot stitch them.
    ValueError
        If ``pairs`` is given with several sessions.
    """
    if isinstance(data, list | tuple):
        if sessions is not None:
            raise TypeError("infer: give the sessions either as data or as sessions=, "
                            "not both")
        data, sessions = None, data
    if sessions is None:
        if data is None:
            raise TypeError("infer: give a Recording or SpikeTrains as data (or several "
                            "as sessions=[...])")
        recording = as_recording(data)
        est = get_method(method, **settings)
        return est.fit(recording, pairs=pairs)
    if data is not None:
        raise TypeError("infer: give the sessions either as data or as sessions=, not both "
                        f"(data is a {type(data).__name__})")
    if isinstance(sessions, Recording | SpikeTrains) or not hasattr(sessions, "__len__"):
        raise TypeError("sessions must be a sequence of Recording or SpikeTrains (one per "
                        f"session), got {type(sessions).__name__}")
    cls = get_method_class(method)
    if not callable(getattr(cls, "fit_sessions", None)):
        capable = [name for name in _method_names()
                   if _stitches(name)]
        raise NotApplicableError(
            f"method {method!r} fits one recording and cannot stitch {len(sessions)} "
            f"sessions; use a method with fit_sessions ({', '.join(capable) or 'none'}) or "
            "fit each session separately")
    if pairs is not None:
        raise ValueError("infer: pairs cannot be restricted when stitching sessions (the "
                         "estimate covers every pair of the union of the units); leave "
                         "pairs=None and select pairs from the estimate")
    covariates = settings.pop("covariates", None)
    est = get_method(method, **settings)
    return est.fit_sessions(sessions, covariates=covariates)


def _stitches(name: str) -> bool:
    """Whether the method ``name`` can fit several sessions (has ``fit_sessions``);
    methods whose optional dependency is missing count as not."""
    try:
        return callable(getattr(get_method_class(name), "fit_sessions", None))
    except ImportError:
        return False
