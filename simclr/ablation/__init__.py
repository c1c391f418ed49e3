"""Augmentation ablations: strategies as data, the runner that pretrains and probes one model per
strategy with everything else fixed, and its tables and plots (`simclr compare-augs`)."""
