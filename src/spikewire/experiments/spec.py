"""The experiment spec: one TOML file declaring a sweep, validated with pydantic.

A spec names the networks, observation chains, inference methods and seeds of a sweep.
Every combination (a *cell*) becomes one job. Minimal example::

    [experiment]
    name = "tiny"
    duration = 5.0           # s of simulated time per network
    dt = 1e-4                # s
    seeds = [0, 1]           # each seed draws connectivity, simulation and observation

    [base_network]           # optional: defaults every [[networks]] entry overrides
    builder = "brunel"
    params = { n_neurons = 200, J = 0.5 }

    [[networks]]
    name = "toy"
    params = { tau_ref = 0.0, delay = "none" }     # "none" -> Python None (one time step)

    [[networks]]
    name = "realistic"
    params = { tau_ref = 2e-3, delay = 3e-3 }
    vary = { J = [0.3, 0.6] }                      # a swept factor (column net.J)

    [[observations]]
    name = "all"
    steps = []                                     # see spikewire.observe.from_spec

    [[methods]]
    name = "ccg"
    settings = { alpha = 0.01 }

    [runner]
    kind = "local"           # inprocess | local | address | slurm | pbs
    n_workers = 2

Strings ``"none"``/``"null"`` in ``params``, ``settings`` and ``steps`` stand for Python
``None`` (TOML has no null).

Keys
----
``[experiment]``
    ``name`` (folder-safe), ``description``, ``duration`` (s), ``dt`` (s), ``seeds``,
    ``output`` (result folder), ``cache_dir`` (simulation cache shared between
    experiments; default ``<output>/cache/sims``), ``plugins`` (modules or ``.py`` files
    imported on every worker before jobs run: register your own methods or builders;
    **this runs their code** and needs ``--allow-code``),
    ``artifact_units`` (observed units whose estimate/truth are kept for the report).
``[base_network]`` / ``[[networks]]``
    ``builder`` (a registered builder, :data:`spikewire.experiments.BUILDERS`:
    ``"brunel"``, ``"izhikevich"``, ``"adex"``, ``"scale_free_lif"``, ``"from_matrix"``,
    ``"motif"``; a ``"package.module:function"`` builder **runs code named by the spec**
    and needs ``--allow-code``), ``params``, ``vary``, ``inputs``
    (drive modulation and stimulation, see :func:`spikewire.simulate.inputs_from_spec`),
    ``duration``, ``label``, and ``observations`` / ``methods`` to restrict a network to
    some entries.
``[[observations]]``
    ``name``, ``steps`` (:func:`spikewire.observe.from_spec`), ``vary`` with keys
    ``"<step>.<setting>"``. A setting ``"network.spec.KEY"`` takes the network's
    ``spec[KEY]`` (e.g. a motif's observed neurons).
``[[methods]]``
    ``name`` (registry name or ``"all"``), ``settings``, ``vary``, ``label``, ``exclude``
    (with ``"all"``), ``optional`` (skip if its optional dependency is missing).
``[runner]``
    see :class:`RunnerSpec`.

Each cell (network × observation × method × seed) is one job; its id hashes the cell, so
re-running a spec skips finished jobs and editing one entry re-runs only its cells. A
job's seed is the root of its seed tree (:mod:`spikewire.core.seeds`): the network, the
inputs, the simulation, each observation step and the method draw from separate named
streams. Cells whose method cannot analyse the observation's output (e.g. ``ccg`` on
smoothed rates) are recorded as "not applicable".

Code in specs
-------------
A spec is data: without ``--allow-code`` (``allow_code=True`` in
:func:`~spikewire.experiments.run_experiment`) it can only name registered builders
and registered inference methods. ``plugins`` and ``module:function`` builders import
and call arbitrary Python with your permissions (``builder = "os:system"`` would run a
shell command), so they are refused unless you pass that flag for a spec you trust.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = ["ExperimentSpec", "NetworkEntry", "ObservationEntry", "MethodEntry", "RunnerSpec",
           "SpecError", "load_spec", "parse_spec", "expand_vary"]


class SpecError(ValueError):
    """A spec file is invalid; the message names the key (and line, where known)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def _check_vary(v: dict[str, list]) -> dict[str, list]:
    for key, values in v.items():
        if not isinstance(values, list) or len(values) == 0:
            raise ValueError(f"vary.{key} must be a non-empty list of values, got {values!r}")
    return v


class NetworkEntry(_Strict):
    """One network of the sweep (or a family of them, with ``vary``).

    ``builder`` names a function of :mod:`spikewire.networks` (``"brunel"``,
    ``"motifs.chain"``, ...) or ``"package.module:function"``; ``params`` are its keyword
    arguments. ``inputs`` is a list of ``{input = "hidden_states" | "pulses" | "schedule" |
    "array", **settings}`` tables built by :func:`spikewire.simulate.inputs_from_spec`
    (drive modulation and stimulation passed to :func:`spikewire.simulate`).
    ``observations`` / ``methods`` restrict this network to the named entries.
    """

    name: str = Field(min_length=1)
    builder: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    vary: dict[str, list] = Field(default_factory=dict)
    inputs: list[dict[str, Any]] | None = None
    duration: float | None = Field(default=None, gt=0)
    observations: list[str] | None = None
    methods: list[str] | None = None
    label: str | None = None

    _vary = field_validator("vary")(_check_vary)


class BaseNetwork(_Strict):
    builder: str = "brunel"
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[dict[str, Any]] | None = None


class ObservationEntry(_Strict):
    """An observation chain: a list of step tables for :func:`spikewire.observe.from_spec`.

    ``vary`` keys are ``"<step>.<setting>"`` (the step's name, or its position in the chain).
    """

    name: str = Field(min_length=1)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    vary: dict[str, list] = Field(default_factory=dict)

    _vary = field_validator("vary")(_check_vary)

    @field_validator("steps")
    @classmethod
    def _steps_named(cls, v):
        for k, step in enumerate(v):
            if "step" not in step:
                raise ValueError(f"steps[{k}] needs a 'step' key naming the observation "
                                 f"(e.g. step = \"subsample\"), got {step!r}")
        return v


class MethodEntry(_Strict):
    """An inference method (registry name) with its settings; ``name = "all"`` expands to
    every available method with default settings, except those listed in ``exclude``
    (e.g. to give one of them its own entry with other settings)."""

    name: str = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    label: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    vary: dict[str, list] = Field(default_factory=dict)
    optional: bool = False

    _vary = field_validator("vary")(_check_vary)


class RunnerSpec(_Strict):
    """Where jobs run.

    ``kind``: ``inprocess`` (sequential, for tests and debugging), ``local`` (a Dask
    ``LocalCluster`` with ``n_workers`` single-threaded processes), ``address`` (an
    existing Dask scheduler at ``address``), ``slurm`` / ``pbs`` (dask-jobqueue; ``jobqueue``
    holds its keyword arguments such as ``cores``, ``memory``, ``queue``, ``walltime``,
    and ``n_jobs`` the number of batch jobs to start). ``start_timeout`` (s) bounds the wait
    for the first worker of a remote or batch cluster.
    """

    kind: Literal["inprocess", "local", "address", "slurm", "pbs"] = "local"
    n_workers: int | None = Field(default=None, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    memory_limit: str | None = None
    address: str | None = None
    jobqueue: dict[str, Any] = Field(default_factory=dict)
    n_jobs: int = Field(default=1, ge=1)
    start_timeout: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _address_needed(self):
        if self.kind == "address" and not self.address:
            raise ValueError("runner.kind = 'address' needs runner.address, e.g. "
                             "'tcp://scheduler:8786'")
        return self


class ExperimentMeta(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    duration: float = Field(default=10.0, gt=0)
    dt: float = Field(default=1e-4, gt=0)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    output: str | None = None
    cache_dir: str | None = None
    plugins: list[str] = Field(default_factory=list)
    artifact_units: int = Field(default=400, ge=0)

    @field_validator("seeds")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v


class ExperimentSpec(_Strict):
    """A validated experiment spec (see the module docstring for the file format)."""

    experiment: ExperimentMeta
    base_network: BaseNetwork | None = None
    networks: list[NetworkEntry] = Field(min_length=1)
    observations: list[ObservationEntry] = Field(
        default_factory=lambda: [ObservationEntry(name="all", steps=[])])
    methods: list[MethodEntry] = Field(min_length=1)
    runner: RunnerSpec = Field(default_factory=RunnerSpec)
    report: dict[str, Any] = Field(default_factory=dict)
    _source: str = PrivateAttr("<spec>")
    _text: str | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _names(self):
        for field, entries in (("networks", self.networks), ("observations", self.observations)):
            names = [e.name for e in entries]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{field} names must be unique; repeated: {dup}")
        obs_names = {o.name for o in self.observations}
        meth_names = {m.label or m.name for m in self.methods}
        for k, net in enumerate(self.networks):
            if net.builder is None and self.base_network is None:
                raise ValueError(f"networks[{k}] ({net.name!r}) has no builder and there is no "
                                 "[base_network]; add builder = \"brunel\" (or another)")
            for o in net.observations or []:
                if o not in obs_names:
                    raise ValueError(f"networks[{k}].observations names unknown observation "
                                     f"{o!r}; defined: {sorted(obs_names)}")
            for m in net.methods or []:
                if m not in meth_names and "all" not in meth_names:
                    raise ValueError(f"networks[{k}].methods names unknown method {m!r}; "
                                     f"defined: {sorted(meth_names)}")
        return self

    # -- helpers used by the grid --------------------------------------------------------
    def resolved_networks(self) -> list[dict]:
        """Networks with the base merged in and ``vary`` expanded: list of plain dicts."""
        out = []
        base = self.base_network
        for net in self.networks:
            params = {**(base.params if base else {}), **net.params}
            for combo in expand_vary(net.vary):
                p = {**params, **combo}
                name = net.name + _suffix(combo)
                out.append(dict(
                    name=name, family=net.name, label=net.label or net.name,
                    builder=net.builder or base.builder,
                    params=none_strings(p),
                    inputs=none_strings(net.inputs if net.inputs is not None
                                        else (base.inputs if base else None)) or None,
                    duration=net.duration or self.experiment.duration,
                    observations=net.observations, methods=net.methods,
                    factors={f"net.{k}": v for k, v in combo.items()}))
        return out

    def resolved_observations(self) -> list[dict]:
        out = []
        for obs in self.observations:
            for combo in expand_vary(obs.vary):
                steps = [dict(s) for s in obs.steps]
                for key, value in combo.items():
                    _set_step(steps, key, value, obs.name)
                out.append(dict(name=obs.name + _suffix(combo), family=obs.name,
                                steps=none_strings(steps),
                                factors={f"obs.{k}": v for k, v in combo.items()}))
        return out


def _suffix(combo: dict) -> str:
    if not combo:
        return ""
    return "[" + ",".join(f"{k}={v}" for k, v in combo.items()) + "]"


def _set_step(steps: list[dict], key: str, value, obs_name: str) -> None:
    if "." not in key:
        raise ValueError(f"observations {obs_name!r}: vary key {key!r} must be "
                         "'<step>.<setting>' (e.g. 'subsample.fraction')")
    which, setting = key.split(".", 1)
    idx = [k for k, s in enumerate(steps) if s.get("step") == which or str(k) == which]
    if not idx:
        raise ValueError(f"observations {obs_name!r}: vary key {key!r} names no step of the "
                         f"chain {[s.get('step') for s in steps]}")
    for k in idx:
        steps[k][setting] = value


def expand_vary(vary: dict[str, list]) -> list[dict]:
    """Cartesian product of a ``vary`` table: ``{a: [1, 2]}`` → ``[{a: 1}, {a: 2}]``."""
    if not vary:
        return [{}]
    keys = list(vary)
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(vary[k] for k in keys))]


def none_strings(obj):
    """Replace the strings "none"/"null" (any case) by None, recursively."""
    if isinstance(obj, str) and obj.lower() in ("none", "null"):
        return None
    if isinstance(obj, dict):
        return {k: none_strings(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [none_strings(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------
# loading with error locations
# ---------------------------------------------------------------------------------------
def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def locate(text: str, loc: tuple) -> int | None:
    """Best-effort 1-based line of the key at ``loc`` (a pydantic error location) in ``text``.

    Walks the path: a name followed by an index finds the n-th ``[[name]]`` header; a
    plain name finds ``name =`` or ``[...name]`` after the current position.
    """
    lines = text.splitlines()
    pos = 0  # line index where the search continues
    parents: list[str] = []
    i = 0
    found: int | None = None
    loc = tuple(loc)
    while i < len(loc):
        part = loc[i]
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(part, str) and isinstance(nxt, int):
            name = ".".join([*parents, part])
            pat = re.compile(r"^\s*\[\[\s*" + re.escape(name) + r"\s*\]\]")
            hits = [k for k, ln in enumerate(lines) if k >= pos and pat.match(ln)]
            if len(hits) > nxt:
                pos = found = hits[nxt]
                parents = [*parents, part]
                i += 2
                continue
            # inline array: `part = [` ... ; fall back to the key itself
            pat = re.compile(r"^\s*" + re.escape(str(part)) + r"\s*=")
            hits = [k for k, ln in enumerate(lines) if k >= pos and pat.match(ln)]
            return hits[0] + 1 if hits else (found + 1 if found is not None else None)
        if isinstance(part, str):
            pat_key = re.compile(r"(^|[\s{,])" + re.escape(part) + r"\s*=")
            pat_tab = re.compile(r"^\s*\[\s*" + re.escape(".".join([*parents, part]))
                                 + r"\s*\]")
            hit = None
            for k in range(pos, len(lines)):
                stripped = lines[k].split("#", 1)[0]
                if pat_tab.match(stripped) or pat_key.search(stripped):
                    hit = k
                    break
                if k > pos and re.match(r"^\s*\[", lines[k]) and parents:
                    break  # left the current table
            if hit is None:
                return found + 1 if found is not None else None
            pos = found = hit
            if pat_tab.match(lines[hit]):
                parents = [*parents, part]
        i += 1
    return found + 1 if found is not None else None


def _format_errors(err: ValidationError, text: str | None, source: str) -> str:
    msgs = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc)
        key = key.replace(".[", "[")
        line = locate(text, loc) if text else None
        where = f"{source}:{line}" if line else source
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see spikewire.experiments.spec)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        msgs.append(f"  {where}: {key or '<root>'}: {msg}")
    return f"invalid experiment spec {source}:\n" + "\n".join(msgs)


def parse_spec(data: dict | str, *, source: str = "<spec>") -> ExperimentSpec:
    """Validate a spec given as a dict or TOML text; raise :class:`SpecError` on problems."""
    text = None
    if isinstance(data, str):
        text = data
        try:
            data = _toml().loads(text)
        except Exception as err:
            raise SpecError(f"{source}: not valid TOML: {err}") from None
    if not isinstance(data, dict):
        raise TypeError(f"spec must be a dict or TOML text, got {type(data).__name__}")
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(_format_errors(err, text, source)) from None
    spec._source = source
    spec._text = text
    return spec


def load_spec(path_or_name: str | Path) -> ExperimentSpec:
    """Load a spec from a TOML file, or a built-in study by name (see ``list_studies``)."""
    from spikewire.experiments.studies import study_path

    p = Path(path_or_name)
    if not p.exists():
        if p.suffix == "" and "/" not in str(path_or_name):
            p = study_path(str(path_or_name))
        else:
            raise FileNotFoundError(f"spec file {str(p)!r} does not exist")
    return parse_spec(p.read_text(), source=str(p))
