"""Bring your own data: NWB files, Kilosort/phy folders, SpikeInterface sortings and plain
spike tables to Recordings (with unit metadata and an open record of every data problem),
and simulations and estimates back to NWB, CSV and Parquet.

Unit metadata (labels, brain area, depth, channel, ...) of a recording read here is
:func:`unit_table` (stored in ``recording.spikes.annotations["unit_table"]``, matched by
unit id); what the messy-data rules found is :func:`quality_report`
(``annotations["quality"]``); see :mod:`spikewire.io.quality` for the rules.
"""

from spikewire.io._common import detect_resolution, quality_report, unit_table
from spikewire.io.estimates import (
    add_estimate_to_nwb,
    estimate_table,
    read_estimate_nwb,
    write_estimate,
)
from spikewire.io.nwb import read_nwb, read_simulation_nwb, write_nwb, write_simulation_nwb
from spikewire.io.phy import read_phy, write_phy
from spikewire.io.quality import DataError, QualityReport, clean_spikes, hill_contamination
from spikewire.io.read import detect_format, read_recording
from spikewire.io.tables import from_spikeinterface, read_table, to_spikeinterface, write_table

__all__ = ["read_nwb", "read_phy", "read_table", "read_recording", "detect_format",
           "from_spikeinterface", "to_spikeinterface", "write_nwb", "write_phy", "write_table",
           "write_simulation_nwb", "read_simulation_nwb", "estimate_table", "write_estimate",
           "add_estimate_to_nwb", "read_estimate_nwb", "unit_table", "quality_report",
           "detect_resolution", "clean_spikes", "hill_contamination", "QualityReport",
           "DataError"]
