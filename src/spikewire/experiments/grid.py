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

from spikewire.experiments.lowrank import (
    is_lowrank,
    is_lowrank_observation,
    lowrank_observation_kind,
    resolve_lowrank_builder,
    validate_lowrank_network,
    validate_lowrank_observation,
)
from spikewire.experiments.spec import ExperimentSpec, SpecError, expand_vary, none_strings

__all__ = ["BUILDERS", "CodeNotAllowedError", "Job", "check_code_allowed", "expand",
           "load_plugins", "observation_kind", "resolve_builder", "resolve_methods",
           "stable_hash", "validate_network", "validate_timing"]

# the engines' limits on dt in s (spikewire.simulate.simulate refuses dt outside them)
DT_RANGE = {"lif": (1.0 / 30_000, 1e-3), "izhikevich": (1e-5, 1e-3), "adex": (1e-5, 1e-4)}
DT_MIN = min(lo for lo, _ in DT_RANGE.values())
DT_MAX = max(hi for _, hi in DT_RANGE.values())


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
    #: "" when the method can analyse the observation's output, else why not ("not
    #: applicable" cells are recorded without simulating anything)
    not_applicable: str = ""

    def sim_spec(self) -> dict:
        """What the simulation depends on (hashed into ``sim_key``)."""
        return sim_spec(self.network, self.seed, self.dt)

    def cell(self) -> dict:
        """The cell as a plain dict (stored with every row)."""
        return asdict(self)


#: How a job's integer seed becomes random streams; part of every job id and simulation
#: key, so results and cached simulations drawn under another scheme are never reused
#: ("tree-1": :func:`spikewire.core.seeds.seed_tree`, 2026-11-29).
SEEDING = "tree-1"


def sim_spec(network: dict, seed: int, dt: float) -> dict:
    return dict(builder=network["builder"], params=network["params"],
                inputs=network.get("inputs"), duration=float(network["duration"]),
                dt=float(dt), seed=int(seed), seeding=SEEDING)


# ---------------------------------------------------------------------------------------
# plugins, builders, methods
# ---------------------------------------------------------------------------------------
class CodeNotAllowedError(SpecError):
    """The spec names code to run (a ``module:function`` builder or ``plugins``) and the
    user did not pass ``allow_code=True`` (``spikewire run --allow-code``)."""


def check_code_allowed(spec: ExperimentSpec, allow_code: bool) -> None:
    """Refuse specs that would import or call code outside spikewire's registries.

    Builders must be registered names (:data:`BUILDERS`) and ``experiment.plugins`` must be
    empty unless ``allow_code``: a spec file is data, and running it must not run a shell
    command or import an arbitrary file without the user saying so.
    """
    if allow_code:
        return
    if spec.experiment.plugins:
        raise CodeNotAllowedError(
            f"experiment.plugins = {spec.experiment.plugins!r} imports code named by the spec; "
            "pass --allow-code (spikewire run) or allow_code=True (run_experiment) if you "
            "trust this spec, otherwise remove the plugins")
    names = [("base_network.builder", spec.base_network.builder)] if spec.base_network else []
    names += [(f"networks[{k}] ({n.name}).builder", n.builder)
              for k, n in enumerate(spec.networks) if n.builder is not None]
    for where, name in names:
        if name not in BUILDERS and not is_lowrank(name):
            raise CodeNotAllowedError(
                f"{where} = {name!r} is not a registered network builder "
                f"({sorted(BUILDERS)}); a 'module:function' builder runs code named by the "
                "spec: pass --allow-code (spikewire run) or allow_code=True if you trust it")


def load_plugins(plugins, base_dir: str | Path | None = None) -> None:
    """Import user modules (dotted names or ``.py`` paths) that register methods/builders.

    This runs the plugins' code; the runner calls it only for specs run with
    ``allow_code=True`` (see :func:`check_code_allowed`).
    """
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


#: Registered network builders: spec name -> (attribute of :mod:`spikewire.networks`,
#: whether it takes a ``seed``). Only these resolve without ``allow_code``. A new public
#: builder of :mod:`spikewire.networks` (a function returning a ``Network``) is added here;
#: ``tests/experiments/test_experiments_outcomes.py`` fails until it is.
BUILDERS: dict[str, tuple[str, bool]] = {
    # binary_balanced is not listed: its networks are simulated by simulate_binary, which
    # the runner does not call
    "brunel": ("brunel", True),
    "from_matrix": ("from_matrix", False),
    "motif": ("motif", False),
    "izhikevich": ("izhikevich", True),
    "adex": ("adex", True),
    "scale_free_lif": ("scale_free_lif", True),
    # Dale-compliant E ring with a global inhibitory pool (issue 19); in a submodule
    "lif_ring": ("lif_ring", False),
}


def resolve_builder(name: str, allow_code: bool = False):
    """The network builder called ``name``: a registered name (:data:`BUILDERS`), or, with
    ``allow_code``, ``"motifs.chain"`` (attributes of :mod:`spikewire.networks`) or
    ``"package.module:function"``."""
    if is_lowrank(name):
        return resolve_lowrank_builder(name)
    if name in BUILDERS:
        import spikewire.networks as nets

        attr = BUILDERS[name][0]
        if "." in attr:  # a builder in a submodule of spikewire.networks
            mod, _, attr = attr.rpartition(".")
            return getattr(importlib.import_module(f"spikewire.networks.{mod}"), attr)
        return getattr(nets, attr)
    if not allow_code:
        raise CodeNotAllowedError(
            f"network builder {name!r} is not registered ({sorted(BUILDERS)}); other builders "
            "run code named by the spec and need --allow-code / allow_code=True")
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


def int_seed(seq: np.random.SeedSequence) -> int:
    """A 63-bit integer drawn from ``seq`` (for code that takes only int seeds)."""
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def build_network(network: dict, seed, *, allow_code: bool = False):
    """Build the network of a resolved network dict.

    Only registered builders (:data:`BUILDERS`) unless ``allow_code``: the runner passes
    it for jobs of specs that were allowed to run code; anything else that rebuilds a
    network from a stored cell (e.g. a report on a downloaded result folder) cannot be
    made to run the code a spec names.

    ``seed`` is the job's seed (int or SeedSequence); the builder gets the job's
    ``"network"`` stream explicitly: registered seeded builders receive
    ``seed=seed_tree(seed)["network"]`` (a SeedSequence), code builders (``allow_code``)
    always receive ``seed=`` an int drawn from that stream and must accept it. A ``seed``
    in the params overrides it.
    """
    from spikewire.core.seeds import seed_tree

    name = network["builder"]
    builder = resolve_builder(name, allow_code=allow_code)
    kw = dict(network["params"])
    stream = seed_tree(seed)["network"]
    if "seed" not in kw:
        if is_lowrank(name):
            kw["seed"] = stream
        elif name in BUILDERS:
            if BUILDERS[name][1]:
                kw["seed"] = stream
        else:
            kw["seed"] = int_seed(stream)
    return builder(**kw)


def validate_network(network: dict, where: str) -> None:
    """Unknown builder or parameters, and networks too large for memory, raise SpecError."""
    builder = resolve_builder(network["builder"], allow_code=True)  # after check_code_allowed
    sig = inspect.signature(builder)
    has_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = [k for k in network["params"] if k not in sig.parameters]
    if unknown and not has_var_kw:
        raise SpecError(f"{where}: builder {network['builder']!r} has no parameter(s) "
                        f"{unknown}; valid: {[p for p in sig.parameters]}")
    if network["builder"] not in BUILDERS and not is_lowrank(network["builder"]) \
            and "seed" not in network["params"] \
            and "seed" not in sig.parameters and not has_var_kw:
        raise SpecError(f"{where}: code builder {network['builder']!r} must accept a `seed` "
                        "keyword (an int drawn from the job's network stream), or set "
                        "params.seed in the spec")
    _check_memory(network, where)


def _check_memory(network: dict, where: str) -> None:
    """Refuse networks whose weights + simulation would not fit in this machine's memory."""
    from spikewire.networks import available_bytes, estimate_bytes

    builder = resolve_builder(network["builder"], allow_code=True)  # after check_code_allowed
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


def _in_all(name: str, messages: list[str] | None) -> bool:
    """Whether ``name = "all"`` includes method ``name`` (learned methods are named
    explicitly: they train for minutes per fit)."""
    from spikewire.infer import MissingDependencyError, get_method_class

    try:
        include = get_method_class(name).in_all
    except MissingDependencyError:
        return True  # reported (and skipped) with the install command below
    if not include and messages is not None:
        messages.append(f"method {name!r} is not part of name = 'all' (a learned method: "
                        "name it explicitly)")
    return include


def resolve_methods(spec: ExperimentSpec, messages: list[str] | None = None) -> list[dict]:
    """Methods of the spec as dicts (name, label, settings, factors), ``"all"`` expanded.

    Unknown methods or settings raise SpecError; a method whose optional dependency is
    missing raises too unless the entry has ``optional = true`` or came from ``"all"``
    (then it is skipped and a note appended to ``messages``).
    """
    from spikewire.infer import MissingDependencyError, get_method, get_method_class, list_methods

    out: list[dict] = []
    for k, entry in enumerate(spec.methods):
        if entry.exclude and entry.name != "all":
            raise SpecError(f"methods[{k}]: `exclude` only applies to name = 'all'")
        names = [m for m in list_methods() if m not in entry.exclude
                 and _in_all(m, messages)] if entry.name == "all" else [entry.name]
        if entry.name == "all" and not names:
            raise SpecError(f"methods[{k}]: name = 'all' but no inference method is registered")
        for name in names:
            for combo in expand_vary(entry.vary):
                settings = none_strings({**entry.settings, **combo})
                try:
                    get_method(name, **settings)
                    get_method_class(name).check_settings(settings)
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
                                settings=settings, input_kinds=sorted(
                                    get_method_class(name).input_kinds),
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


#: Observation steps that change what a recording holds (:attr:`Recording.kind`), and
#: whether they keep the spike trains by default (``keep_spikes``).
STEP_OUTPUT_KINDS = {"smooth": ("rate", False), "calcium": ("fluorescence", False),
                     "bin": ("counts", True), "deconvolve": ("spikes", True)}


def observation_kind(steps: list[dict]) -> str:
    """What an observation chain hands to inference (:attr:`Recording.kind`):
    ``"spikes"`` unless a step replaces the spikes by signals (``smooth`` → ``"rate"``,
    ``calcium`` → ``"fluorescence"``, ``bin`` with ``keep_spikes = false`` →
    ``"counts"``); ``deconvolve`` gives spikes back, and ``keep_spikes = true`` keeps them."""
    kind = "spikes"
    for step in steps:
        name = step.get("step")
        if name in STEP_OUTPUT_KINDS:
            out, keeps = STEP_OUTPUT_KINDS[name]
            kind = "spikes" if step.get("keep_spikes", keeps) else out
    return kind


def validate_inputs(network: dict, where: str, built=None) -> None:
    """Check a network's ``inputs`` tables (against the built network when given)."""
    if not network.get("inputs"):
        return
    from spikewire.simulate.inputs import inputs_from_spec

    try:
        if built is not None:
            inputs_from_spec(network["inputs"], network=built,
                             duration=float(network["duration"]), seed=0)
        else:
            inputs_from_spec(network["inputs"], n_neurons=int(network["params"].get(
                "n_neurons", 10)), duration=float(network["duration"]), seed=0)
    except (ValueError, TypeError, KeyError) as err:
        raise SpecError(f"{where}: {err}") from None


def _dt_fix(dt: float, what: str, model: str | None = "lif") -> str:
    lo, hi = DT_RANGE.get(model, (DT_MIN, DT_MAX))
    return (f"experiment.dt = {dt:g} s {what}; set experiment.dt to a step between "
            f"{lo:.6g} s and {hi:g} s that divides every delay and duration "
            "(1e-4 s, the default, usually does)")


def _validate_lowrank(net: dict, observations: list[dict], seed, where: str) -> None:
    """Build a low-rank network entry and check its protocol and its observation chains;
    chains with a low-rank read-out step on a spiking network are refused in
    :func:`expand`."""
    try:
        built = build_network(net, seed)
    except (ValueError, TypeError, KeyError, MemoryError) as err:
        raise SpecError(f"{where}: the builder {net['builder']!r} refuses these "
                        f"params: {err}") from None
    validate_lowrank_network(net, built, where)
    for obs in observations:
        if net["observations"] is not None and obs["family"] not in net["observations"]:
            continue
        try:
            validate_lowrank_observation(obs["steps"])
        except (ValueError, TypeError, KeyError) as err:
            raise SpecError(f"observations ({obs['name']}) on low-rank {where}: {err}; "
                            f"restrict the network with observations = [...]") from None


def validate_timing(network: dict, dt: float, where: str, built=None) -> None:
    """Check ``dt`` against the engine's limits, the network's duration, delays and time
    constants *before* anything is simulated; raise :class:`SpecError` naming the key,
    its value and the fix."""
    dt = float(dt)
    model = getattr(built, "neuron_model", "lif") if built is not None else None
    lo, hi = DT_RANGE.get(model, (DT_MIN, DT_MAX))
    if not lo * (1 - 1e-9) <= dt <= hi * (1 + 1e-12):
        engine = f"the {model} engine's" if model else "every engine's"
        raise SpecError(_dt_fix(dt, f"is outside {engine} range [{lo:.6g}, {hi:g}] s",
                                model))
    duration = float(network["duration"])
    n_steps = round(duration / dt)
    if abs(n_steps * dt - duration) > 1e-9 * max(1.0, duration) + 1e-12:
        raise SpecError(f"{where}: duration = {duration:g} s is not a multiple of "
                        f"experiment.dt = {dt:g} s; choose a duration of whole steps")
    if built is None:
        return
    from spikewire.core.binary import BinaryNetwork
    from spikewire.simulate import delay_steps

    if isinstance(built, BinaryNetwork):
        raise SpecError(f"{where}: builder {network['builder']!r} makes a binary network, "
                        "which sweeps cannot simulate (use spikewire.simulate.simulate_binary)")
    try:
        delay_steps(built, dt)
    except ValueError as err:
        what = f"does not fit the delays ({err})"
        raise SpecError(f"{where}: {_dt_fix(dt, what, model)}") from None
    if model != "lif":
        return
    q = built.neuron_params()
    tau_m = float(np.min(q["tau_m"])) if built.n_neurons else np.inf
    if tau_m < 2 * dt:
        what = f"is more than half the membrane time constant tau_m = {tau_m:g} s"
        raise SpecError(f"{where}: {_dt_fix(dt, what)}")


# ---------------------------------------------------------------------------------------
# expansion
# ---------------------------------------------------------------------------------------
def expand(spec: ExperimentSpec, *, messages: list[str] | None = None,
           check: bool = True, allow_code: bool = False) -> list[Job]:
    """Expand ``spec`` into jobs (networks × observations × methods × seeds).

    With ``check`` (default) every builder, parameter, observation chain and method
    setting is validated, ``dt`` is checked against the engine, durations and delays, each
    network is built once and its memory estimated, all *before* any job runs; problems
    raise :class:`~spikewire.experiments.spec.SpecError`. An empty grid raises too.
    Cells whose method cannot analyse the observation's output (:func:`observation_kind`)
    get ``Job.not_applicable`` set to the reason.

    Without ``allow_code`` a spec with ``plugins`` or a builder that is not registered
    (:data:`BUILDERS`) raises :class:`CodeNotAllowedError`: those run code named by the
    spec file.
    """
    check_code_allowed(spec, allow_code)
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
            if not is_lowrank_observation(obs["steps"]):
                validate_observation(obs, f"observations ({obs['name']})")
        for net in networks:
            where = f"networks ({net['name']})"
            if is_lowrank(net["builder"]):
                _validate_lowrank(net, observations, meta.seeds[0], where)
                continue
            validate_timing(net, meta.dt, where)  # cheap checks before building anything
            try:
                built = build_network(net, meta.seeds[0], allow_code=allow_code)
            except (ValueError, TypeError, KeyError, MemoryError) as err:
                raise SpecError(f"{where}: the builder {net['builder']!r} refuses these "
                                f"params: {err}") from None
            validate_timing(net, meta.dt, where, built)
            validate_inputs(net, f"{where}.inputs", built)
    jobs: list[Job] = []
    for net in networks:
        for obs in observations:
            if net["observations"] is not None and obs["family"] not in net["observations"]:
                continue
            if is_lowrank_observation(obs["steps"]) and not is_lowrank(net["builder"]):
                raise SpecError(f"observations ({obs['name']}) reads out a low-rank network "
                                f"({[s['step'] for s in obs['steps']]}) but networks "
                                f"({net['name']}) is a spiking network; restrict it with "
                                f"observations = [...]")
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
                                seed=seed, dt=meta.dt, seeding=SEEDING)
                    kind = (lowrank_observation_kind(obs["steps"]) if is_lowrank(net["builder"])
                            else observation_kind(obs["steps"]))
                    why = "" if kind in meth["input_kinds"] else (
                        f"method {meth['name']!r} analyses {meth['input_kinds']}, but "
                        f"observation {obs['name']!r} gives {kind!r}")
                    factors = {**net["factors"], **obs["factors"], **meth["factors"]}
                    jobs.append(Job(
                        job_id=stable_hash(cell), sim_key=stable_hash(sim_spec(net, seed,
                                                                                meta.dt)),
                        experiment=meta.name, network=network, observation=observation,
                        method=method, seed=int(seed), dt=float(meta.dt), factors=factors,
                        plugins=plugins, artifact_units=meta.artifact_units,
                        not_applicable=why))
    if not jobs:
        raise SpecError("the grid has no cells: check that every network's `observations` / "
                        "`methods` lists name existing entries and that methods are available")
    ids = [j.job_id for j in jobs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise SpecError(f"the grid has duplicate cells (same network, observation, method and "
                        f"seed) — job ids {dup[:5]}; remove the repeated entries")
    return jobs
