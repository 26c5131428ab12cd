"""Simulation engines."""

from spikewire.simulate.lif import DriveModulation, Stimulation, delay_steps, simulate

__all__ = ["DriveModulation", "Stimulation", "delay_steps", "simulate"]
