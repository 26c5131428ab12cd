"""Declarative settings of inference methods (in the manner of scikit-learn's
``_parameter_constraints``).

Each method class holds one table ``settings_constraints: dict[str, list[Constraint]]``
mapping every constructor argument to the constraints it may satisfy (a value is valid if it
satisfies *any* of them). :func:`validate_settings` checks a settings dict against a table
and raises :class:`InvalidSettingError` naming the method, the setting, its value and the
allowed values. :meth:`Constraint.invalid_examples` generates values that violate a
constraint, so the conformance suite can test a clear error for every bad setting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

__all__ = ["InvalidSettingError", "Constraint", "Interval", "Options", "Boolean", "SeedLike",
           "RealSequence", "MixedSequence", "LabelSequence", "validate_settings",
           "invalid_settings"]


class InvalidSettingError(ValueError, TypeError):
    """A method setting has a wrong type or value (both a ``ValueError`` and a ``TypeError``,
    so callers catching either keep working)."""


def _r(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(v) -> bool:
    return isinstance(v, Real | np.number) and not isinstance(v, bool | np.bool_)


def _elements(value) -> list | None:
    """The elements of a sequence setting (a list, tuple or array), or None for anything
    else (a string is not a sequence of settings)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        return None
    return (list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray)
            else list(value))


class Constraint:
    """One allowed form of a setting."""

    def is_satisfied_by(self, value) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def invalid_examples(self) -> list:
        """Values that violate this constraint (used to generate bad-setting tests)."""
        return ["not-a-valid-value"]


class _NoneConstraint(Constraint):
    def is_satisfied_by(self, value) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


class Interval(Constraint):
    """A real (``kind="real"``) or integer (``kind="int"``) number in an interval.

    Parameters
    ----------
    kind : {"real", "int"}
    low, high : float or None
        Bounds (None: unbounded).
    closed : {"both", "left", "right", "neither"}, default "both"
        Which bounds belong to the interval.
    unit : str, optional
        Unit shown in messages (e.g. ``"s"``).
    """

    def __init__(self, kind: str, low: float | None, high: float | None, *,
                 closed: str = "both", unit: str = ""):
        if kind not in ("real", "int"):
            raise ValueError(f"kind must be 'real' or 'int', got {kind!r}")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got "
                             f"{closed!r}")
        self.kind, self.low, self.high, self.closed, self.unit = kind, low, high, closed, unit

    def _type_ok(self, v) -> bool:
        if self.kind == "int":
            return isinstance(v, Integral | np.integer) and not isinstance(v, bool | np.bool_)
        return _is_number(v)

    def is_satisfied_by(self, value) -> bool:
        if not self._type_ok(value):
            return False
        v = float(value)
        if not math.isfinite(v):
            return False
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.low is not None and (v < self.low or (v == self.low and not lo_in)):
            return False
        return not (self.high is not None and (v > self.high or (v == self.high and not hi_in)))

    def describe(self) -> str:
        what = "an integer" if self.kind == "int" else "a finite number"
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        unit = f" (in {self.unit})" if self.unit else ""
        if self.low is not None and self.high is not None:
            rng = f"{'[' if lo_in else '('}{self.low:g}, {self.high:g}{']' if hi_in else ')'}"
            return f"{what} in {rng}{unit}"
        if self.low is not None:
            return f"{what} {'>=' if lo_in else '>'} {self.low:g}{unit}"
        if self.high is not None:
            return f"{what} {'<=' if hi_in else '<'} {self.high:g}{unit}"
        return what + unit

    def invalid_examples(self) -> list:
        out: list = ["not-a-number", float("nan")]
        if self.low is not None:
            out.append(self.low if self.closed in ("right", "neither") else self.low - 1)
        if self.high is not None:
            out.append(self.high if self.closed in ("left", "neither") else self.high + 1)
        if self.kind == "int":
            out.append(2.5)
        return out


class Options(Constraint):
    """One of a fixed set of values (strings, ints, ...)."""

    def __init__(self, values):
        self.values = tuple(values)

    def is_satisfied_by(self, value) -> bool:
        try:
            return any(type(value) is type(v) and value == v for v in self.values) or (
                isinstance(value, np.generic) and value.item() in self.values)
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        return "one of " + ", ".join(_r(v) for v in self.values)

    def invalid_examples(self) -> list:
        return ["not-an-option", 12345]


class Boolean(Constraint):
    """``True`` or ``False`` (numpy booleans included)."""

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, bool | np.bool_)

    def describe(self) -> str:
        return "a bool"

    def invalid_examples(self) -> list:
        return ["yes", 2]


class SeedLike(Constraint):
    """A seed: an integer >= 0 or a :class:`numpy.random.SeedSequence` (e.g. a child of a
    job's seed tree)."""

    def is_satisfied_by(self, value) -> bool:
        if isinstance(value, np.random.SeedSequence):
            return True
        return (isinstance(value, Integral | np.integer) and not isinstance(value, bool)
                and int(value) >= 0)

    def describe(self) -> str:
        return "an integer >= 0 or a numpy.random.SeedSequence"

    def invalid_examples(self) -> list:
        return [-1, 1.5, "seed"]


class RealSequence(Constraint):
    """A sequence of finite numbers, each in an interval.

    Parameters
    ----------
    low, high, closed, unit
        As for :class:`Interval` (applied to every element).
    length : int, optional
        Exact number of elements (e.g. 2 for a ``(start, stop)`` window).
    min_length : int, default 1
    increasing : bool, default False
        Elements must be strictly increasing.
    """

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 closed: str = "both", unit: str = "", length: int | None = None,
                 min_length: int = 1, increasing: bool = False):
        self.element = Interval("real", low, high, closed=closed, unit=unit)
        self.length, self.min_length, self.increasing = length, min_length, increasing

    def is_satisfied_by(self, value) -> bool:
        vals = _elements(value)
        if vals is None:
            return False
        if self.length is not None and len(vals) != self.length:
            return False
        if len(vals) < self.min_length:
            return False
        if not all(self.element.is_satisfied_by(v) for v in vals):
            return False
        return not (self.increasing and any(float(b) <= float(a)
                                            for a, b in zip(vals, vals[1:], strict=False)))

    def describe(self) -> str:
        n = (f"{self.length} " if self.length is not None
             else f"at least {self.min_length} " if self.min_length > 1 else "")
        inc = "strictly increasing " if self.increasing else ""
        el = self.element.describe().replace("a finite number", "finite numbers", 1)
        return f"a sequence of {n}{inc}{el}"

    def invalid_examples(self) -> list:
        out: list = ["not-a-sequence", [float("nan")] * max(self.length or 1, 1)]
        bad_el = [v for v in self.element.invalid_examples() if _is_number(v)
                  and math.isfinite(float(v))]
        if bad_el:
            out.append([bad_el[0]] * max(self.length or 1, 1))
        if self.length is not None:
            out.append([])
        return out


class MixedSequence(Constraint):
    """A sequence whose elements each are a number in an interval or one of ``options``
    (e.g. candidate widths in s mixed with a named, data-driven choice)."""

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 options=(), closed: str = "both", unit: str = ""):
        self.element = Interval("real", low, high, closed=closed, unit=unit)
        self.options = Options(options)

    def is_satisfied_by(self, value) -> bool:
        vals = _elements(value)
        if vals is None:
            return False
        return len(vals) > 0 and all(self.element.is_satisfied_by(v)
                                     or self.options.is_satisfied_by(v) for v in vals)

    def describe(self) -> str:
        el = self.element.describe().replace("a finite number", "finite numbers", 1)
        return f"a sequence of {el} or {self.options.describe()}"

    def invalid_examples(self) -> list:
        return ["not-a-sequence", [], ["not-an-option"]]


class LabelSequence(Constraint):
    """A sequence of labels drawn from ``labels`` (e.g. one ``"E"``/``"I"`` per unit)."""

    def __init__(self, labels):
        self.labels = tuple(labels)

    def is_satisfied_by(self, value) -> bool:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
            return False
        return len(value) > 0 and all(str(v) in self.labels for v in np.asarray(value).ravel())

    def describe(self) -> str:
        return "a sequence of labels from " + ", ".join(repr(v) for v in self.labels)

    def invalid_examples(self) -> list:
        return ["E", ["X", "Y"]]


def _as_constraint(c) -> Constraint:
    if c is None:
        return _NoneConstraint()
    if isinstance(c, Constraint):
        return c
    raise TypeError(f"unknown constraint {c!r}")


def describe_setting(constraints) -> str:
    """Human-readable list of what a setting accepts."""
    return " or ".join(_as_constraint(c).describe() for c in constraints)


def validate_settings(method: str, table: dict, settings: dict) -> None:
    """Check ``settings`` against the constraint ``table`` of a method.

    Settings without an entry in the table are not checked (methods registered by other
    packages may declare nothing).

    Raises
    ------
    InvalidSettingError
        Naming the method, the setting, its value and what it accepts.
    """
    for name, value in settings.items():
        cons = table.get(name)
        if cons is None:
            continue
        if not any(_as_constraint(c).is_satisfied_by(value) for c in cons):
            raise InvalidSettingError(f"{method}: setting {name}={_r(value)} is not valid; "
                                      f"{name} must be {describe_setting(cons)}")


def invalid_settings(table: dict) -> list[tuple[str, object]]:
    """``(setting, bad value)`` pairs violating every constraint of their setting."""
    out = []
    for name, cons in table.items():
        cs = [_as_constraint(c) for c in cons]
        for c in cs:
            for bad in c.invalid_examples():
                if not any(o.is_satisfied_by(bad) for o in cs):
                    out.append((name, bad))
    return out
