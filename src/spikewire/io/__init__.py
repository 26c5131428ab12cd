"""Bring your own data: Kilosort/phy folders and NWB files to Recordings, and back."""

from spikewire.io.nwb import read_nwb, write_nwb
from spikewire.io.phy import read_phy, write_phy

__all__ = ["read_nwb", "read_phy", "write_nwb", "write_phy"]
