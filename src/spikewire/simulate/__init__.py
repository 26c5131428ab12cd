"""Simulation engines."""

from spikewire.simulate.binary import BinaryActivity, simulate_binary
from spikewire.simulate.lif import DriveModulation, Stimulation, delay_steps, simulate

__all__ = ["BinaryActivity", "DriveModulation", "Stimulation", "delay_steps", "simulate",
           "simulate_binary"]
