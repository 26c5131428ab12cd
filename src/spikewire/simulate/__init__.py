"""Simulation engines."""

from spikewire.simulate.binary import BinaryActivity, simulate_binary
from spikewire.simulate.inputs import (
    ArrayGain,
    HiddenStates,
    Pulses,
    Schedule,
    combine,
    inputs_from_spec,
    population_groups,
)
from spikewire.simulate.lif import DriveModulation, Stimulation, delay_steps, simulate

__all__ = ["ArrayGain", "BinaryActivity", "DriveModulation", "HiddenStates", "Pulses",
           "Schedule", "Stimulation", "combine", "delay_steps", "inputs_from_spec",
           "population_groups", "simulate", "simulate_binary"]
