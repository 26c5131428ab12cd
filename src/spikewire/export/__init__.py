"""Export networks to other simulators (``spikewire.export.nest``: NEST, which runs on MPI)."""
