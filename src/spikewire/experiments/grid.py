"""Grid expansion: a validated spec → a list of jobs with stable ids, checked up front."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from spikewire.experiments.spec import ExperimentSpec, SpecError, expand_vary, none_strings

__all__ = ["Job", "expand", "stable_hash", "resolve_builder", "load_plugins", "validate_network",
           "resolve_methods"]


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and math.isfinite(obj) and obj == int(obj) and abs(obj) < 2**53:
        return obj  # keep floats as floats: 1.0 and 1 hash differently on purpose
    return obj


def stable_hash(obj, n: int = 16) -> str:
    """Hex SHA-256 prefix of the canonical JSON of ``obj`` (sorted keys)."""
    text = json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


@dataclass
class Job:
    """One cell of the grid: which network, observation, method and seed.

    ``job_id`` hashes everything that determines the result row; ``sim_key`` hashes only
    what determines the simulation (network spec, inputs, seed, duration, dt), so jobs
    that differ in observation or method share one cached simulation.
    """

    job_id: str
    sim_key: str
    experiment: str
    network: dict
    observation: dict
    method: dict
    seed: int
    dt: float
    factors: dict = field(default_factory=dict)
    plugins: list = field(default_factory=list)
    artifact_units: int = 400

    def sim_spec(self) -> dict:
        """What the simulation depends on (hashed into ``sim_key``)."""
        return sim_spec(self.network, self.seed, self.dt)

    def cell(self) -> dict:
        """The cell as a plain dict (stored with every row)."""
        return asdict(self)


def sim_spec(network: dict, seed: int, dt: float) -> dict:
    return dict(builder=network["builder"], params=network["params"],
                inputs=network.get("inputs"), duration=float(network["duration"]),
                dt=float(dt), seed=int(seed))


# ---------------------------------------------------------------------------------------
# plugins, builders, methods
# ---------------------------------------------------------------------------------------
def load_plugins(plugins, base_dir: str | Path | None = None) -> None:
    """Import user modules (dotted names or ``.py`` paths) that register methods/builders."""
    for plug in plugins or []:
        if plug.endswith(".py"):
            p = Path(plug)
            if not p.is_absolute() and base_dir is not None:
                p = Path(base_dir) / p
            if not p.exists():
                raise SpecError(f"experiment.plugins: file {str(p)!r} does not exist")
            modname = "spikewire_plugin_" + stable_hash(str(p.resolve()), 10)
            if modname in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(modname, p)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            spec.loader.exec_module(mod)
        else:
            try:
                importlib.import_module(plug)
            except ImportError as err:
                raise SpecError(f"experiment.plugins: cannot import {plug!r}: {err}") from None


def resolve_builder(name: str):
    """The network builder called ``name``: ``"brunel"``, ``"motifs.chain"`` (attributes of
    :mod:`spikewire.networks`) or ``"package.module:function"``."""
    if ":" in name:
        mod, attr = name.split(":", 1)
        try:
            obj = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as err:
            raise SpecError(f"builder {name!r} cannot be imported: {err}") from None
        return obj
    import spikewire.networks as nets

    obj = nets
    for part in name.split("."):
        nxt = getattr(obj, part, None)
        if nxt is None and inspect.ismodule(obj):
            try:
                nxt = importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                nxt = None
        if nxt is None:
            avail = sorted(n for n in getattr(nets, "__all__", []) if callable(getattr(nets, n)))
            raise SpecError(f"unknown network builder {name!r}; available in "
                            f"spikewire.networks: {avail} (or 'package.module:function')")
        obj = nxt
    if not callable(obj):
        raise SpecError(f"network builder {name!r} is not a function")
    return obj


def _builder_kwargs(builder, params: dict, seed: int) -> dict:
    sig = inspect.signature(builder)
    kw = dict(params)
    if "seed" in sig.parameters and "seed" not in kw:
        kw["seed"] = int(seed)
    return kw


def build_network(network: dict, seed: int):
    """Build the network of a resolved network dict (connectivity seeded by ``seed`` unless
    the params fix ``seed``)."""
    builder = resolve_builder(network["builder"])
    return builder(**_builder_kwargs(builder, network["params"], seed))


def validate_network(network: dict, where: str) -> None:
    """Unknown builder or parameters, and networks too large for memory, raise SpecError."""
    builder = resolve_builder(network["builder"])
    sig = inspect.signature(builder)
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = [k for k in network["params"] if k not in sig.parameters]
    if unknown and not has_var_kw:
        raise SpecError(f"{where}: builder {network['builder']!r} has no parameter(s) "
                        f"{unknown}; valid: {[p for p in sig.parameters]}")
    _check_memory(network, where)


def _check_memory(network: dict, where: str) -> None:
    """Refuse networks whose weights + simulation would not fit in this machine's memory."""
    from spikewire.networks._connect import available_bytes, estimate_bytes

    builder = resolve_builder(network["builder"])
    sig = inspect.signature(builder)
    p = network["params"]

    def get(name, default=None):
        if name in p:
            return p[name]
        par = sig.parameters.get(name)
        return default if par is None or par.default is inspect.Parameter.empty else par.default

    n = get("n_neurons")
    if not isinstance(n, (int, np.integer)):
        return
    eps = get("epsilon", 0.1) or 0.1
    n_syn = int(n) * int(eps * n)
    # dense N × N estimate matrices (weights, p-values, scores, ...) are held by inference
    need = estimate_bytes(int(n), n_syn) + 6 * 8 * int(n) ** 2
    limit = 0.9 * available_bytes()
    if need > limit:
        raise SpecError(
            f"{where}: network {network['name']!r} with n_neurons={n:,} needs about "
            f"{need / 2**30:.1f} GiB (synapses + dense N×N estimates) but only "
            f"{limit / 2**30:.1f} GiB are available; reduce n_neurons or observe a subset")


def resolve_methods(spec: ExperimentSpec, messages: list[str] | None = None) -> list[dict]:
    """Methods of the spec as dicts (name, label, settings, factors), ``"all"`` expanded.

    Unknown methods or settings raise SpecError; a method whose optional dependency is
    missing raises too unless the entry has ``optional = true`` or came from ``"all"``
    (then it is skipped and a note appended to ``messages``).
    """
    from spikewire.infer import MissingDependencyError, get_method, list_methods

    out: list[dict] = []
    for k, entry in enumerate(spec.methods):
        if entry.exclude and entry.name != "all":
            raise SpecError(f"methods[{k}]: `exclude` only applies to name = 'all'")
        names = [m for m in list_methods() if m not in entry.exclude] \
            if entry.name == "all" else [entry.name]
        if entry.name == "all" and not names:
            raise SpecError(f"methods[{k}]: name = 'all' but no inference method is registered")
        for name in names:
            for combo in expand_vary(entry.vary):
                settings = none_strings({**entry.settings, **combo})
                try:
                    get_method(name, **settings)
                except MissingDependencyError as err:
                    if entry.optional or entry.name == "all":
                        if messages is not None:
                            messages.append(f"skipping method {name!r}: {err}")
                        continue
                    raise SpecError(f"methods[{k}]: {err}") from None
                except (ValueError, TypeError) as err:
                    raise SpecError(f"methods[{k}]: {err}") from None
                label = (entry.label if entry.name != "all" and entry.label else name)
                label += "".join(f"[{a}={b}]" for a, b in combo.items())
                out.append(dict(name=name, label=label, family=entry.label or name,
                                settings=settings,
                                factors={f"method.{a}": b for a, b in combo.items()}))
    labels = [m["label"] for m in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise SpecError(f"methods: labels must be unique, repeated {dup}; give entries a "
                        "distinct `label`")
    return out


NETWORK_REF = "network.spec."


def resolve_network_refs(steps: list[dict], network) -> list[dict]:
    """Replace setting values ``"network.spec.KEY"`` by ``network.spec[KEY]`` (e.g. a motif's
    ``observed`` neurons: ``{step = "subsample", neurons = "network.spec.observed"}``)."""
    out = []
    for step in steps:
        new = {}
        for k, v in step.items():
            if isinstance(v, str) and v.startswith(NETWORK_REF):
                key = v[len(NETWORK_REF):]
                if network is None or key not in (network.spec or {}):
                    raise ValueError(f"observation setting {k} = {v!r}: the network's spec has "
                                     f"no {key!r} (keys: {sorted(network.spec or {})})")
                v = network.spec[key]
            new[k] = v
        out.append(new)
    return out


def _placeholder_steps(steps: list[dict]) -> list[dict]:
    return [{k: ([0] if isinstance(v, str) and v.startswith(NETWORK_REF) else v)
             for k, v in s.items()} for s in steps]


def validate_observation(obs: dict, where: str) -> None:
    if not obs["steps"]:
        return
    try:
        from spikewire.observe import from_spec
    except ImportError:
        raise SpecError(f"{where}: observation chain {obs['name']!r} needs spikewire.observe, "
                        "which is not available in this installation") from None
    try:
        from_spec(_placeholder_steps(obs["steps"]))
    except (ValueError, TypeError, KeyError) as err:
        raise SpecError(f"{where}: observation chain {obs['name']!r}: {err}") from None


def validate_inputs(network: dict, where: str) -> None:
    """Check a network's ``inputs`` tables against a small stand-in network."""
    if not network.get("inputs"):
        return
    try:
        from spikewire.observe import inputs_from_spec
    except ImportError:
        raise SpecError(f"{where}: inputs need spikewire.observe.inputs_from_spec") from None
    try:
        inputs_from_spec(network["inputs"], n_neurons=int(network["params"].get(
            "n_neurons", 10)), duration=float(network["duration"]), seed=0)
    except (ValueError, TypeError, KeyError) as err:
        raise SpecError(f"{where}: {err}") from None


# ---------------------------------------------------------------------------------------
# expansion
# ---------------------------------------------------------------------------------------
def expand(spec: ExperimentSpec, *, messages: list[str] | None = None,
           check: bool = True) -> list[Job]:
    """Expand ``spec`` into jobs (networks × observations × methods × seeds).

    With ``check`` (default) every builder, parameter, observation chain and method is
    validated and network memory is estimated *before* any job runs; problems raise
    :class:`~spikewire.experiments.spec.SpecError`. An empty grid raises too.
    """
    meta = spec.experiment
    base_dir = Path(spec._source).parent if spec._source and spec._source != "<spec>" else None
    plugins = [str((base_dir / p).resolve()) if p.endswith(".py") and base_dir
               and not Path(p).is_absolute() else p for p in meta.plugins]
    load_plugins(plugins)
    networks = spec.resolved_networks()
    observations = spec.resolved_observations()
    methods = resolve_methods(spec, messages)
    if check:
        for net in networks:
            validate_network(net, f"networks ({net['name']})")
        for obs in observations:
            validate_observation(obs, f"observations ({obs['name']})")
        for net in networks:
            validate_inputs(net, f"networks ({net['name']}).inputs")
    jobs: list[Job] = []
    for net in networks:
        for obs in observations:
            if net["observations"] is not None and obs["family"] not in net["observations"]:
                continue
            for meth in methods:
                if net["methods"] is not None and meth["family"] not in net["methods"] \
                        and meth["label"] not in net["methods"]:
                    continue
                for seed in meta.seeds:
                    network = {k: net[k] for k in ("name", "family", "label", "builder",
                                                   "params", "inputs", "duration")}
                    observation = {k: obs[k] for k in ("name", "family", "steps")}
                    method = {k: meth[k] for k in ("name", "label", "settings")}
                    cell = dict(network=network, observation=observation, method=method,
                                seed=seed, dt=meta.dt)
                    factors = {**net["factors"], **obs["factors"], **meth["factors"]}
                    jobs.append(Job(
                        job_id=stable_hash(cell), sim_key=stable_hash(sim_spec(net, seed,
                                                                                meta.dt)),
                        experiment=meta.name, network=network, observation=observation,
                        method=method, seed=int(seed), dt=float(meta.dt), factors=factors,
                        plugins=plugins, artifact_units=meta.artifact_units))
    if not jobs:
        raise SpecError("the grid has no cells: check that every network's `observations` / "
                        "`methods` lists name existing entries and that methods are available")
    ids = [j.job_id for j in jobs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SpecError(f"the grid has duplicate cells (same network, observation, method and "
                        f"seed) — job ids {dup[:5]}; remove the repeated entries")
    return jobs
