"""Methods that learn from data or simulations: training apart from applying, checkpoints,
devices.

A trained method subclasses :class:`TrainedMethod` and implements

- ``_train(self, data, **options) -> dict``: learn its state (from recordings with known
  truth, simulations, ...) and return a small dict of training information;
- ``get_state(self) -> dict[str, numpy.ndarray]`` / ``set_state(self, state)``: the learned
  state as named arrays (a torch ``state_dict`` converted with ``.cpu().numpy()``);
- ``_fit(self, ctx)``: apply the trained model (the shared preamble of
  :meth:`InferenceMethod.fit` runs first, as for every method).

Optional packages (``requires = ("torch",)``) are imported inside these functions only, so
the method is always listed by :func:`~spikewire.infer.list_methods`; building it without
them raises :class:`~spikewire.infer.MissingDependencyError` with the install command.
Checkpoints (:meth:`TrainedMethod.save`, :meth:`TrainedMethod.load`) are ``.npz`` files
holding the state arrays and a JSON header with the method, its settings, the training
information and the versions of Python, numpy, spikewire and the required packages; they
are read without pickle.
"""

from __future__ import annotations

import importlib
import json
import platform
from pathlib import Path
from typing import ClassVar

import numpy as np

from spikewire.infer._params import Options
from spikewire.infer.base import InferenceMethod, get_method_class

__all__ = ["TrainedMethod", "NotTrainedError", "CHECKPOINT_FORMAT"]

#: Version of the checkpoint layout written by :meth:`TrainedMethod.save`.
CHECKPOINT_FORMAT = 1
_META = "__spikewire_meta__"


class NotTrainedError(RuntimeError):
    """A trained method was applied before :meth:`TrainedMethod.train` or
    :meth:`TrainedMethod.load`."""


def _device_available(device: str, requires: tuple[str, ...]) -> bool:
    if device == "cpu":
        return True
    if "torch" not in requires:
        return False
    import torch  # optional; only reached by methods that declare it

    return bool(torch.cuda.is_available())


def _to_json(value):
    if isinstance(value, np.random.SeedSequence):
        return {"__seed_sequence__": {"entropy": int(value.entropy) if value.entropy is not None
                                      else None, "spawn_key": list(value.spawn_key)}}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store {value!r} ({type(value).__name__}) in a checkpoint header; "
                    "settings and training information must be numbers, strings, lists or "
                    "dicts")


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__seed_sequence__"}:
            s = value["__seed_sequence__"]
            return np.random.SeedSequence(s["entropy"], spawn_key=tuple(s["spawn_key"]))
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _versions(requires) -> dict:
    from spikewire import __version__

    out = {"spikewire": __version__, "numpy": np.__version__,
           "python": platform.python_version()}
    for mod in requires:
        try:
            out[mod] = getattr(importlib.import_module(mod), "__version__", "unknown")
        except ImportError:
            out[mod] = None
    return out


class TrainedMethod(InferenceMethod):
    """Base class of methods with a learned state (see the module docstring).

    Settings common to all trained methods: ``device`` (``"cpu"`` or ``"cuda"``; checked when
    the method is built: ``"cuda"`` without a CUDA device, or without torch, is refused with
    the reason). Subclasses add ``"device"`` to their ``settings_constraints`` through
    :attr:`DEVICE_CONSTRAINT`.

    Attributes
    ----------
    is_trained_ : bool
        Whether a state was learned or loaded.
    training_info_ : dict
        What ``_train`` returned (also stored in checkpoints).
    """

    in_all = False  # trained by gradient descent: named explicitly in sweeps

    DEVICE_CONSTRAINT: ClassVar[list] = [Options(("cpu", "cuda"))]

    is_trained_: bool = False

    def _validate_params(self) -> None:
        super()._validate_params()
        device = getattr(self, "device", "cpu")
        if not _device_available(device, self.requires):
            why = ("this method does not use torch" if "torch" not in self.requires
                   else "torch reports no CUDA device (torch.cuda.is_available() is False)")
            raise ValueError(f"{self.name}: device={device!r} is not available: {why}; use "
                             "device='cpu'")

    # ------------------------------------------------------------------ training
    def train(self, data, **options) -> TrainedMethod:
        """Learn the method's state from ``data`` (what it is depends on the method:
        recordings with their true networks, simulation settings, ...). Returns ``self``."""
        self._validate_params()
        info = self._train(data, **options)
        self.training_info_ = dict(info or {})
        self.is_trained_ = True
        return self

    def _train(self, data, **options) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement _train")

    def get_state(self) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        """The learned state as named numpy arrays."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_state")

    def set_state(self, state: dict[str, np.ndarray]) -> None:  # pragma: no cover - abstract
        """Restore a state returned by :meth:`get_state`."""
        raise NotImplementedError(f"{type(self).__name__} must implement set_state")

    def fit(self, recording, pairs=None):
        """Apply the trained model (see :meth:`InferenceMethod.fit`).

        Raises
        ------
        NotTrainedError
            If the method was neither trained nor loaded from a checkpoint.
        """
        if not self.is_trained_:
            raise NotTrainedError(f"{self.name} must be trained before it is applied: call "
                                  f".train(...) or load a checkpoint with "
                                  f"{type(self).__name__}.load(path)")
        return super().fit(recording, pairs=pairs)

    def clone(self) -> TrainedMethod:
        """A new, *untrained* method with the same settings (scikit-learn semantics)."""
        return super().clone()

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> Path:
        """Write the learned state, settings, training information and versions to ``path``
        (``.npz``; the suffix is added if missing). Returns the path written."""
        if not self.is_trained_:
            raise NotTrainedError(f"{self.name} has nothing to save: train it first")
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        state = self.get_state()
        bad = [k for k, v in state.items() if not isinstance(v, np.ndarray) or k == _META]
        if bad:
            raise TypeError(f"get_state must return numpy arrays under names other than "
                            f"{_META!r}; offending entries: {bad}")
        meta = {"format": CHECKPOINT_FORMAT, "method": self.name,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "settings": _to_json(self.get_params()),
                "training_info": _to_json(getattr(self, "training_info_", {})),
                "versions": _versions(self.requires)}
        arrays = {k: np.asarray(v) for k, v in state.items()}
        arrays[_META] = np.array(json.dumps(meta))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)   # atomic: a failed write never leaves a truncated checkpoint
        return path

    @classmethod
    def load(cls, path: str | Path, **overrides) -> TrainedMethod:
        """Rebuild a trained method from a checkpoint written by :meth:`save`.

        ``overrides`` replace stored settings that do not change the learned state (e.g.
        ``device="cpu"`` to apply a model trained on a GPU). Called on :class:`TrainedMethod`
        itself, the class is looked up in the registry by the stored method name.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint at {path}")
        with np.load(path, allow_pickle=False) as z:
            if _META not in z.files:
                raise ValueError(f"{path} is not a spikewire checkpoint (no {_META} entry)")
            meta = json.loads(str(z[_META]))
            state = {k: z[k] for k in z.files if k != _META}
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: checkpoint format {meta.get('format')!r}, this "
                             f"spikewire reads format {CHECKPOINT_FORMAT}")
        target = cls
        if cls is TrainedMethod or cls.name != meta["method"]:
            if cls is not TrainedMethod:
                raise ValueError(f"{path} holds method {meta['method']!r}, not {cls.name!r}")
            target = get_method_class(meta["method"])
        if not (isinstance(target, type) and issubclass(target, TrainedMethod)):
            raise ValueError(f"method {meta['method']!r} is not a trained method")
        settings = _from_json(meta["settings"])
        target._check_names(overrides)
        settings.update(overrides)
        method = target(**settings)
        method.set_state(state)
        method.training_info_ = _from_json(meta.get("training_info", {}))
        method.checkpoint_versions_ = meta.get("versions", {})
        method.is_trained_ = True
        return method
