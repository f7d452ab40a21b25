"""The robustness study as a library: does joint training help, and when.

A seeded grid of trainings on the built-in dataset (:mod:`.grid`), each run trained and
tested in its own processes with the checkout's tools (:mod:`.runner`), finished runs
kept in a results file the next study resumes from (:mod:`.results`), and the tables
(:mod:`.report`) and figures (:mod:`.figures`) drawn from it. ``tools/study.py`` is its
command line; docs/robustness_study.md describes the study and its results.
"""
from .figures import figures, short_names, variant_colours
from .grid import (DEFAULT_EPOCHS, FAMILIES, FAMILY_EPOCHS, REPO_ROOT, fused_option, planned_runs,
                   run_config, scaled_schedulers)
from .report import (COLLAPSE_FRACTION, METRICS, cells, collapse_check, markdown_table, mean_std,
                     noise_mode, report, stock_config_of, with_fused, write_summaries)
from .results import load_results, reused_row, save_results
from .runner import execute, prepare, run_study

__all__ = [
    'COLLAPSE_FRACTION', 'DEFAULT_EPOCHS', 'FAMILIES', 'FAMILY_EPOCHS', 'METRICS', 'REPO_ROOT',
    'cells', 'collapse_check', 'execute', 'noise_mode', 'stock_config_of',
    'figures', 'fused_option', 'load_results', 'markdown_table', 'mean_std', 'planned_runs',
    'prepare', 'report', 'reused_row', 'run_config', 'run_study', 'save_results',
    'scaled_schedulers', 'short_names', 'variant_colours', 'with_fused', 'write_summaries'
]
