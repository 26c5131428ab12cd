"""Low-rank rate networks in sweeps (issue 14): builder, trial protocol, observation, scores.

A network entry with ``builder = "lowrank"`` builds a
:class:`~spikewire.core.lowrank.LowRankNetwork` preset
(:func:`spikewire.networks.lowrank.lowrank_preset`; ``params = { name = "ring",
n_neurons = 200 }``). It is not simulated by the spiking engines: a job runs its latent
dynamics (:func:`spikewire.simulate.lowrank.simulate_lowrank`) in trials of
``trial_steps`` samples of the network's ``dt`` (10 ms), each from an initial latent drawn
uniformly from ``[−extent, extent]^R`` on the job's ``"simulation"`` stream, back to back
until the network's ``duration`` is filled, and reads them out as rate signals
``rate_offset + rate_gain · φ`` (Hz). The protocol is the entry's ``inputs`` table
``{ input = "initial_latents", trial_steps = 50, extent = 2.4, rate_offset = 12.5,
rate_gain = 7.5 }`` (these defaults when absent; 5–20 Hz). ``experiment.dt`` does not
apply (the network's own ``dt`` is the sample step).

Observation chains of such networks start from those rate signals of every unit: the
usual unit-selection steps (``subsample``) apply, followed by at most one read-out step,

- ``{ step = "lowrank_noise", noise_sd = 0.1 }``: noisy rates (noise in units of φ,
  :func:`spikewire.simulate.lowrank.rate_noise`), or
- ``{ step = "lowrank_spikes" }``: Poisson spikes from the rates, one rate per 10-ms bin
  (:func:`spikewire.simulate.lowrank.rate_spikes`);

without one the methods see the noise-free rates. Jobs of these networks are scored by
:func:`spikewire.score.lowrank.score_lowrank` (distribution distances, not link
detection), keep no artifacts and cache no simulation (it takes milliseconds).
"""

from __future__ import annotations

import numpy as np

from spikewire.experiments.spec import SpecError

__all__ = ["LOWRANK_BUILDERS", "READOUT_STEPS", "is_lowrank", "is_lowrank_observation",
           "resolve_lowrank_builder",
           "trial_protocol", "validate_lowrank_network", "validate_lowrank_observation",
           "lowrank_observation_kind", "simulate_and_observe"]

#: Registered builders of low-rank rate networks: spec name -> function of
#: :mod:`spikewire.networks.lowrank` (all take a ``seed``). Kept apart from the spiking
#: builders (:data:`spikewire.experiments.grid.BUILDERS`): their networks are not
#: simulated by :func:`spikewire.simulate.simulate`.
LOWRANK_BUILDERS: dict[str, str] = {"lowrank": "lowrank_preset"}

#: Observation steps that read a low-rank network's rates out (the last step of a chain).
READOUT_STEPS = ("lowrank_noise", "lowrank_spikes")

#: Unit-selection steps of :mod:`spikewire.observe` that apply to rate signals.
_SELECTION_STEPS = ("subsample",)

_PROTOCOL_DEFAULTS = {"trial_steps": 50, "extent": 2.4, "rate_offset": 12.5, "rate_gain": 7.5}


def is_lowrank(builder) -> bool:
    """Whether a network entry's ``builder`` names a low-rank rate network."""
    return isinstance(builder, str) and builder in LOWRANK_BUILDERS


def resolve_lowrank_builder(name: str):
    """The builder function registered as ``name`` in :data:`LOWRANK_BUILDERS`."""
    import spikewire.networks.lowrank as mod

    return getattr(mod, LOWRANK_BUILDERS[name])


def trial_protocol(inputs) -> dict:
    """The trial protocol of a low-rank network entry from its ``inputs`` (see the module
    docstring); raises ``ValueError`` naming a bad key and the fix."""
    inputs = list(inputs or [])
    if len(inputs) > 1:
        raise ValueError(f"a low-rank network takes one inputs table (input = "
                         f"'initial_latents'), got {len(inputs)}")
    table = dict(inputs[0]) if inputs else {"input": "initial_latents"}
    kind = table.pop("input", None)
    if kind != "initial_latents":
        raise ValueError(f"inputs.input = {kind!r}: a low-rank network's only input table is "
                         f"input = 'initial_latents' (the trial protocol)")
    unknown = sorted(set(table) - set(_PROTOCOL_DEFAULTS))
    if unknown:
        raise ValueError(f"inputs: unknown key(s) {unknown} of the low-rank trial protocol; "
                         f"valid: {sorted(_PROTOCOL_DEFAULTS)}")
    out = {**_PROTOCOL_DEFAULTS, **table}
    ts = out["trial_steps"]
    if isinstance(ts, bool) or not isinstance(ts, int | np.integer) or ts < 2:
        raise ValueError(f"inputs.trial_steps = {ts!r} must be an integer >= 2 (samples per "
                         f"trial)")
    for key in ("extent", "rate_gain"):
        if not (isinstance(out[key], int | float) and np.isfinite(out[key]) and out[key] > 0):
            raise ValueError(f"inputs.{key} = {out[key]!r} must be a finite number > 0")
    if not (isinstance(out["rate_offset"], int | float)
            and out["rate_offset"] >= out["rate_gain"]):
        raise ValueError(f"inputs.rate_offset = {out['rate_offset']!r} Hz must be >= "
                         f"rate_gain = {out['rate_gain']!r} Hz (rates must stay >= 0)")
    return out


def _n_trials(duration: float, protocol: dict, dt: float) -> int:
    return int(np.floor(float(duration) / (protocol["trial_steps"] * dt) + 1e-9))


def validate_lowrank_network(network: dict, built, where: str) -> None:
    """Check a built low-rank network entry: its trial protocol and that its duration
    holds at least one trial (:class:`SpecError` naming the key and the fix)."""
    from spikewire.core.lowrank import LowRankNetwork

    if not isinstance(built, LowRankNetwork):
        raise SpecError(f"{where}: builder {network['builder']!r} did not return a "
                        f"LowRankNetwork")
    try:
        protocol = trial_protocol(network.get("inputs"))
    except ValueError as err:
        raise SpecError(f"{where}: {err}") from None
    if _n_trials(network["duration"], protocol, built.dt) < 1:
        raise SpecError(f"{where}: duration = {network['duration']:g} s is shorter than one "
                        f"trial ({protocol['trial_steps']} samples of {built.dt:g} s); "
                        f"lengthen the duration or shorten inputs.trial_steps")


def _split(steps: list[dict]) -> tuple[list[dict], dict | None]:
    readout = [k for k, s in enumerate(steps) if s.get("step") in READOUT_STEPS]
    if len(readout) > 1 or (readout and readout[0] != len(steps) - 1):
        raise ValueError(f"a low-rank observation chain takes at most one read-out step "
                         f"{list(READOUT_STEPS)}, as its last step; got "
                         f"{[s.get('step') for s in steps]}")
    if readout:
        return steps[:-1], dict(steps[-1])
    return steps, None


def is_lowrank_observation(steps: list[dict]) -> bool:
    """Whether a chain has a low-rank read-out step (so it observes low-rank networks only)."""
    return any(s.get("step") in READOUT_STEPS for s in steps)


def validate_lowrank_observation(steps: list[dict]) -> None:
    """Check a chain applied to a low-rank network (``ValueError`` naming the step)."""
    head, readout = _split(steps)
    bad = [s.get("step") for s in head if s.get("step") not in _SELECTION_STEPS]
    if bad:
        raise ValueError(f"steps {bad} do not apply to a low-rank network's rate signals; "
                         f"use {list(_SELECTION_STEPS)} then at most one of "
                         f"{list(READOUT_STEPS)}")
    if readout is not None:
        name = readout.pop("step")
        allowed = {"lowrank_noise": {"noise_sd"}, "lowrank_spikes": set()}[name]
        unknown = sorted(set(readout) - allowed)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown} for step {name!r}; valid: "
                             f"{sorted(allowed)}")
        sd = readout.get("noise_sd", 0.0 if name == "lowrank_spikes" else None)
        if name == "lowrank_noise" and not (isinstance(sd, int | float) and sd >= 0):
            raise ValueError(f"lowrank_noise.noise_sd = {sd!r} must be a number >= 0 "
                             f"(units of φ)")
    if head:
        from spikewire.observe import from_spec

        from_spec(head)


def lowrank_observation_kind(steps: list[dict]) -> str:
    """What a chain on a low-rank network hands to inference: ``"spikes"`` after
    ``lowrank_spikes``, else ``"rate"``."""
    return "spikes" if any(s.get("step") == "lowrank_spikes" for s in steps) else "rate"


def simulate_and_observe(network, entry: dict, steps: list[dict], seed):
    """Simulate a low-rank network's trials and observe them through ``steps``.

    Parameters
    ----------
    network : LowRankNetwork
    entry : dict
        The resolved network entry (``duration`` in s, ``inputs``: the trial protocol).
    steps : list of dict
        The observation chain (selection steps, then at most one read-out step).
    seed : int or SeedSequence
        The job's seed: initial latents from its ``"simulation"`` stream, observation step
        ``k`` from ``child(seed, "observation", k)``.

    Returns
    -------
    Recording
        ``hidden_truth`` holds the latents and the network.
    """
    from spikewire.core.seeds import child, seed_tree
    from spikewire.observe import observe
    from spikewire.simulate.lowrank import observe_rates, rate_noise, rate_spikes, simulate_lowrank

    protocol = trial_protocol(entry.get("inputs"))
    n_trials = _n_trials(entry["duration"], protocol, network.dt)
    rng = np.random.default_rng(seed_tree(seed)["simulation"])
    z0 = rng.uniform(-protocol["extent"], protocol["extent"], (n_trials, network.rank))
    activity = simulate_lowrank(network, z0, int(protocol["trial_steps"]))
    rec = observe_rates(activity, rate_offset=float(protocol["rate_offset"]),
                        rate_gain=float(protocol["rate_gain"]))
    head, readout = _split(steps)
    if head:
        rec = observe(rec, head, seed=seed)
    if readout is not None:
        s = child(seed, "observation", len(head))
        if readout["step"] == "lowrank_noise":
            rec = rate_noise(rec, float(readout["noise_sd"]), seed=np.random.default_rng(s))
        else:
            rec = rate_spikes(rec, seed=np.random.default_rng(s))
    return rec
