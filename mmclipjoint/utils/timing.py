"""Timing two computations against each other on a noisy machine.

The computations run in interleaved rounds, each round in a fresh random order (seeded),
so that the machine's drift falls on all of them and no computation always follows the
same neighbour (with fixed or alternating orders, a computation timed right after a
heavier one read 3% slow against itself); each round gives one time per computation and
one ratio per pair, and the
reported ratio is the median of the per-round ratios with a bootstrap interval over
rounds. A computation timed against itself (a control) must read 1.00 within that
interval; the interval's width is what the benchmark can resolve.
"""
import json
import os
import os.path as osp
import random
import statistics
import time
from typing import Callable, Dict, List, Sequence


def interleaved_rounds(calls: Dict[str, Callable[[], object]], rounds: int, repeats: int = 1,
                       warmup: int = 2, sync: Callable[[], None] = lambda: None,
                       seed: int = 0) -> Dict[str, List[float]]:
    """Seconds per call of each computation in each round (``repeats`` calls per round),
    after ``warmup`` untimed calls of each; each round runs them in a random order."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    sync()
    times = {name: [] for name in names}
    rng = random.Random(seed)
    for _ in range(rounds):
        for name in rng.sample(names, len(names)):
            start = time.perf_counter()
            for _ in range(repeats):
                calls[name]()
            sync()
            times[name].append((time.perf_counter() - start) / repeats)
    return times


def ratio_with_interval(numerator: Sequence[float], denominator: Sequence[float],
                        level: float = 0.95, resamples: int = 2000, seed: int = 0) -> Dict:
    """Median of the per-round ratios, and its bootstrap interval (rounds resampled)."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError('the two computations need the same, non-zero number of rounds')
    ratios = [a / b for a, b in zip(numerator, denominator)]
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios)))
                     for _ in range(resamples))
    tail = (1 - level) / 2
    return dict(ratio=statistics.median(ratios), low=medians[int(tail * resamples)],
                high=medians[min(int((1 - tail) * resamples), resamples - 1)],
                rounds=len(ratios))


def format_ratio(result: Dict) -> str:
    return f"{result['ratio']:.3f} [{result['low']:.3f}, {result['high']:.3f}]"


def write_results(out: str, results: Dict, text: str) -> str:
    """Write a benchmark's ``results`` to ``STEM.json`` and its markdown ``text`` to
    ``STEM.md``, ``STEM`` being ``out`` without a ``.json`` / ``.md`` ending; returns
    ``STEM``."""
    stem = osp.splitext(out)[0] if out.endswith(('.json', '.md')) else out
    os.makedirs(osp.dirname(osp.abspath(stem)), exist_ok=True)
    with open(stem + '.json', 'w') as f:
        json.dump(results, f, indent=1)
    with open(stem + '.md', 'w') as f:
        f.write(text)
    return stem
