"""The inference protocol, the method registry and :func:`infer`."""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np

from spikewire.core.recording import Recording
from spikewire.core.spiketrains import SpikeTrains
from spikewire.infer.estimate import Estimate

__all__ = ["InferenceMethod", "register", "get_method", "get_method_class", "list_methods",
           "infer", "as_recording", "resolve_pairs", "pair_status_from",
           "MissingDependencyError", "NotApplicableError"]

_REGISTRY: dict[str, type[InferenceMethod]] = {}


class MissingDependencyError(ImportError):
    """An optional dependency needed by a method is not installed."""


class NotApplicableError(ValueError):
    """The method cannot analyse this kind of recording (e.g. spike-timing methods on
    smoothed rates); planners label such combinations "not applicable"."""


class InferenceMethod:
    """Base class of inference methods (scikit-learn style).

    Subclasses take their settings as keyword arguments of ``__init__`` (stored as
    attributes of the same name, validated in ``fit``) and implement
    :meth:`fit` returning an :class:`~spikewire.infer.Estimate`.

    Attributes
    ----------
    name : str
        Registry name (class attribute).
    reference : str
        The paper the method follows (class attribute).
    """

    name: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    #: Recording kinds (:attr:`Recording.kind`) the method can analyse.
    input_kinds: ClassVar[frozenset[str]] = frozenset({"spikes"})

    @classmethod
    def accepts(cls, kind: str) -> bool:
        """Whether recordings of ``kind`` (:attr:`Recording.kind`) can be analysed."""
        return kind in cls.input_kinds

    @classmethod
    def check_settings(cls, settings: dict) -> None:
        """Raise ``ValueError`` naming the setting, its value and the allowed values if
        ``settings`` are not valid for this method (without fitting anything)."""
        sig = inspect.signature(cls.__init__)
        unknown = [k for k in settings if k not in sig.parameters or k == "self"]
        if unknown:
            valid = [k for k in sig.parameters if k != "self"]
            raise ValueError(f"method {cls.name!r} has no setting(s) {unknown}; valid "
                             f"settings: {valid}")
        cls(**settings)

    def get_params(self) -> dict:
        """Settings of this instance, by constructor argument name."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}

    def set_params(self, **params) -> InferenceMethod:
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"{self.name}: unknown setting {k!r}; valid settings are "
                                 f"{sorted(valid)}")
            setattr(self, k, v)
        return self

    def fit(self, recording: Recording, pairs=None) -> Estimate:  # pragma: no cover - abstract
        """Estimate connectivity from ``recording`` (optionally only for ``pairs``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def register(cls: type[InferenceMethod]) -> type[InferenceMethod]:
    """Class decorator adding a method to the registry under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute `name`")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin_methods() -> None:
    # importing the modules registers their methods; missing optional modules are fine
    import importlib

    for mod in ("ccg", "glmcc", "glm", "partial_corr", "te", "tspe", "learned"):
        try:
            importlib.import_module(f"spikewire.infer.{mod}")
        except ModuleNotFoundError as err:
            if not err.name or not err.name.startswith("spikewire.infer"):
                raise


def list_methods() -> dict[str, str]:
    """Registered methods: name → one-line description."""
    _load_builtin_methods()
    return {k: (inspect.getdoc(v) or "").splitlines()[0] for k, v in sorted(_REGISTRY.items())}


def get_method_class(name: str) -> type[InferenceMethod]:
    """The registered method class called ``name``; clear error for unknown names."""
    _load_builtin_methods()
    if name not in _REGISTRY:
        raise ValueError(f"unknown inference method {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def get_method(name: str, **settings) -> InferenceMethod:
    """Instantiate a registered method with ``settings``; clear error for unknown names."""
    cls = get_method_class(name)
    sig = inspect.signature(cls.__init__)
    unknown = [k for k in settings if k not in sig.parameters]
    if unknown:
        valid = [k for k in sig.parameters if k != "self"]
        raise ValueError(f"method {name!r} has no setting(s) {unknown}; valid settings: {valid}")
    for mod in cls.requires:
        try:
            __import__(mod)
        except ImportError as err:
            raise MissingDependencyError(
                f"method {name!r} needs the optional package {mod!r}; install it with "
                f"`pip install 'spikewire[ml]'` (torch==2.13.0 for the CPU build)") from err
    return cls(**settings)


def as_recording(data) -> Recording:
    """Accept a Recording or SpikeTrains and return a Recording."""
    if isinstance(data, Recording):
        return data
    if isinstance(data, SpikeTrains):
        return Recording.from_spikes(data)
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


def infer(data, method: str = "ccg", *, pairs=None, **settings) -> Estimate:
    """Estimate the post × pre connectivity of the units in ``data``.

    Parameters
    ----------
    data : Recording or SpikeTrains
        Observed activity.
    method : str, default "ccg"
        A registered method (see :func:`list_methods`).
    pairs : sequence of (post_id, pre_id), optional
        Restrict the estimate to these pairs (others get status ``not_requested``).
    **settings
        Passed to the method's constructor (e.g. ``alpha=0.01``, ``n_jobs=2``).

    Returns
    -------
    Estimate
    """
    recording = as_recording(data)
    est = get_method(method, **settings)
    return est.fit(recording, pairs=pairs)
