"""Boundary checks shared by public functions.

Each helper raises ``ValueError`` (or ``TypeError``) with a message that names the
argument, the bad value and what would be accepted, so users see the fix instead of
a traceback from deep inside numpy.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


def check_positive(name: str, value, *, allow_zero: bool = False, unit: str = "") -> float:
    """Return ``value`` as float after checking it is a finite number > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, Real | np.number):
        raise TypeError(f"{name} must be a number{_u(unit)}, got {_r(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite{_u(unit)}, got {_r(value)}")
    if allow_zero and v < 0:
        raise ValueError(f"{name} must be >= 0{_u(unit)}, got {_r(value)}")
    if not allow_zero and v <= 0:
        raise ValueError(f"{name} must be > 0{_u(unit)}, got {_r(value)}")
    return v


def check_finite(name: str, value, *, unit: str = "") -> float:
    """Return ``value`` as float after checking it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, Real | np.number):
        raise TypeError(f"{name} must be a number{_u(unit)}, got {_r(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite{_u(unit)}, got {_r(value)}")
    return v


def check_int(name: str, value, *, minimum: int | None = None) -> int:
    """Return ``value`` as int after checking it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {_r(value)}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_fraction(name: str, value, *, closed_low: bool = False) -> float:
    """Return ``value`` after checking it lies in (0, 1] (or [0, 1])."""
    v = check_finite(name, value)
    lo_ok = v >= 0 if closed_low else v > 0
    if not (lo_ok and v <= 1):
        interval = "[0, 1]" if closed_low else "(0, 1]"
        raise ValueError(f"{name} must lie in {interval}, got {_r(value)}")
    return v


def check_probability_open(name: str, value) -> float:
    """Return ``value`` after checking it lies in the open interval (0, 1)."""
    v = check_finite(name, value)
    if not 0 < v < 1:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {_r(value)}")
    return v


def check_choice(name: str, value, choices) -> str:
    """Check ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)!r}, got {_r(value)}")
    return value


def _r(value) -> str:
    """Plain repr of numbers (no ``np.float64(...)`` wrapper under numpy 2)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _u(unit: str) -> str:
    return f" (in {unit})" if unit else ""


def user_stacklevel() -> int:
    """The ``warnings.warn`` stacklevel of the first frame outside the spikewire package
    (so a warning points at the user's call however deep the library calls it from)."""
    import sys
    from pathlib import Path

    pkg = str(Path(__file__).resolve().parent)
    frame, level = sys._getframe(1), 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level
