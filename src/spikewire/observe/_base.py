"""Shared machinery of the observation models: the step registry, seeds and history.

Every observation model is registered here under a name (``"subsample"``,
``"quantize"``, ...) as a pair of functions:

- ``check(**settings) -> dict``: validates and normalises the settings without seeing any
  data, so that a :class:`Step` built from a TOML/dict spec fails at construction time;
- ``apply(recording, rng, context, **settings) -> dict``: the pure transformation; it
  returns the changed :class:`Recording` fields (plus ``"_info"``: extra facts for the
  history entry, e.g. how many units were kept).

The public functions (``subsample(data, ...)`` etc.) and :class:`Step` objects both
dispatch through :func:`run_step`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from spikewire.core.recording import Recording
from spikewire.core.seeds import rng as seeded_rng
from spikewire.core.seeds import seed_repr
from spikewire.core.spiketrains import SpikeTrains

__all__ = ["Step", "as_recording", "make_rng", "register_step", "run_step", "STEPS"]


@dataclass(frozen=True)
class _Entry:
    name: str
    check: Callable[..., dict]
    apply: Callable[..., Recording]
    random: bool


STEPS: dict[str, _Entry] = {}


def register_step(name: str, check: Callable[..., dict], apply: Callable[..., Recording], *,
                  random: bool) -> None:
    """Register an observation model under ``name`` (used by :func:`from_spec`)."""
    STEPS[name] = _Entry(name, check, apply, random)


def _entry(name) -> _Entry:
    if not isinstance(name, str) or name not in STEPS:
        raise ValueError(f"step must be one of {sorted(STEPS)}, got {name!r}")
    return STEPS[name]


def check_settings(name: str, settings: dict) -> dict:
    """Validate ``settings`` for step ``name``; unknown keys raise a ValueError naming them."""
    entry = _entry(name)
    allowed = [p for p in inspect.signature(entry.check).parameters]
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for step {name!r}; valid settings are "
                         f"{allowed}")
    return entry.check(**settings)


def make_rng(seed, domain: str = "observation") -> np.random.Generator:
    """A ``numpy.random.Generator`` on the ``domain`` stream of an int seed or a
    SeedSequence (:func:`spikewire.core.seeds.rng`); a Generator is used as it is."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise TypeError("seed must be an int, a numpy SeedSequence or Generator, not None: "
                        "observations are reproducible by construction (use seed=0)")
    if isinstance(seed, bool) or not isinstance(seed, Integral | np.random.SeedSequence):
        raise TypeError(f"seed must be an int, a numpy SeedSequence or Generator, got {seed!r}")
    if isinstance(seed, Integral) and seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return seeded_rng(seed, domain)


def _seed_repr(seed):
    return seed_repr(seed)


def as_recording(data) -> Recording:
    """Wrap truth as a :class:`Recording`: SpikeTrains get every unit visible."""
    if isinstance(data, Recording):
        return data
    if isinstance(data, SpikeTrains):
        return Recording.from_spikes(data)
    raise TypeError(f"data must be SpikeTrains or a Recording, got {type(data).__name__}")


def history_value(v):
    """A compact, JSON-friendly form of a setting for ``Recording.history``."""
    if isinstance(v, np.ndarray):
        if v.size <= 64:
            return v.tolist()
        return f"<array shape={v.shape} dtype={v.dtype}>"
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple | list) and len(v) > 64:
        return f"<{type(v).__name__} of {len(v)}>"
    if isinstance(v, tuple):
        return list(v)
    return v


def run_step(name: str, data, settings: dict, *, seed=0, context: dict | None = None,
             checked: bool = False) -> Recording:
    """Apply the registered step ``name`` to ``data`` and record it in the history."""
    entry = _entry(name)
    params = settings if checked else check_settings(name, settings)
    rec = as_recording(data)
    rng = make_rng(seed) if entry.random else None
    changes = dict(entry.apply(rec, rng, context or {}, **params))
    info = changes.pop("_info", {})
    step = {"step": name, **{k: history_value(v) for k, v in params.items()}}
    if entry.random:
        step["seed"] = _seed_repr(seed)
    step.update({k: history_value(v) for k, v in info.items()})
    return rec.with_step(step, **changes)


def _is_default(value, default) -> bool:
    if value is None or default is None:
        return value is None and default is None
    if isinstance(value, np.ndarray) or default is inspect.Parameter.empty:
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Step:
    """One observation model with its settings, ready to apply (see :func:`observe`).

    Build it with the public functions called without data (``subsample(fraction=0.1)``),
    from a dict (``Step.from_dict({"step": "subsample", "fraction": 0.1})``) or directly
    (``Step("subsample", {"fraction": 0.1})``). Settings are validated on construction.

    Parameters
    ----------
    name : str
        A registered step name, see ``spikewire.observe.STEPS``.
    settings : dict
        Keyword settings of that step.
    """

    name: str
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "settings", check_settings(self.name, dict(self.settings)))

    @classmethod
    def from_dict(cls, spec: dict) -> Step:
        """Build from ``{"step": name, **settings}`` (the TOML/JSON form)."""
        if not isinstance(spec, dict):
            raise TypeError(f"a step spec must be a dict like {{'step': 'subsample', "
                            f"'fraction': 0.1}}, got {spec!r}")
        if "step" not in spec:
            raise ValueError(f"step spec {spec!r} has no 'step' key; valid steps are "
                             f"{sorted(STEPS)}")
        settings = {k: v for k, v in spec.items() if k != "step"}
        return cls(spec["step"], settings)

    def to_dict(self) -> dict:
        """The ``{"step": name, **settings}`` form (inverse of :meth:`from_dict`).

        Settings left at their default are omitted, so the dict holds no None values and
        can be written to TOML.
        """
        defaults = {k: p.default for k, p in
                    inspect.signature(STEPS[self.name].check).parameters.items()}
        out = {"step": self.name}
        for k, v in self.settings.items():
            if not _is_default(v, defaults.get(k, inspect.Parameter.empty)):
                out[k] = history_value(v)
        return out

    @property
    def random(self) -> bool:
        """Whether this step draws random numbers (and so uses its seed)."""
        return STEPS[self.name].random

    def __call__(self, data, *, seed=0, network=None) -> Recording:
        """Apply the step to SpikeTrains or a Recording."""
        return run_step(self.name, data, self.settings, seed=seed,
                        context={"network": network}, checked=True)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={history_value(v)!r}" for k, v in self.settings.items())
        return f"Step({self.name}: {args})"
