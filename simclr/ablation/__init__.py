"""Comparisons at one budget: `compare` (methods or experiment variants, `simclr compare`) and `compare_augs`
(augmentation strategies, `simclr compare-augs`); the budget, strategies and experiments as data, the runners
that pretrain and probe one model per run with everything else fixed, and their tables and plots."""
