"""Comparisons at one budget: `compare` (methods or experiment variants, `simclr compare`) and `compare_augs`
(augmentation strategies, `simclr compare-augs`); the budget, strategies and experiments as data, the runners
that pretrain and probe one model per run with everything else fixed, and their tables and plots; the data file
of one row per run (`run_data`), the noise rule (`noise_rule`), the results pages rendered from the data
(`page_specs`, `pages`; the rows of a variant `variant_runs`) with the papers' claims they test (`claims`,
`paper_claims`), and the README's summary of those (`results_summary`)."""
