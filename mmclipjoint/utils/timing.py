"""Timing two computations against each other on a noisy machine.

The computations run in interleaved rounds, each round in a fresh random order (seeded),
so that the machine's drift falls on all of them and no computation always follows the
same neighbour (with fixed or alternating orders, a computation timed right after a
heavier one read 3% slow against itself); each round gives one time per computation and
one ratio per pair, and the
reported ratio is the median of the per-round ratios with a bootstrap interval over
rounds. A computation timed against itself (a control) must read 1.00 within that
interval; the interval's width is what the benchmark can resolve. With ``max_rounds``
and a ``precise_enough`` test (e.g. :func:`resolves`), rounds go on past the minimum until
the test passes: on a noisy machine a run takes the rounds it needs, on a quiet one no
more.
"""
import json
import os
import os.path as osp
import random
import statistics
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

Times = Dict[str, List[float]]


def interleaved_rounds(calls: Dict[str, Callable[[], object]], rounds: int, repeats: int = 1,
                       warmup: int = 2, sync: Callable[[], None] = lambda: None,
                       seed: int = 0, max_rounds: Optional[int] = None,
                       precise_enough: Optional[Callable[[Times], bool]] = None,
                       check_every: int = 10) -> Times:
    """Seconds per call of each computation in each round (``repeats`` calls per round),
    after ``warmup`` untimed calls of each; each round runs them in a random order.

    ``rounds`` rounds at least; with ``precise_enough`` and ``max_rounds``, then
    ``check_every`` more at a time until ``precise_enough(times)`` holds or
    ``max_rounds`` are done."""
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            calls[name]()
    sync()
    times = {name: [] for name in names}
    rng = random.Random(seed)

    def run(count):
        for _ in range(count):
            for name in rng.sample(names, len(names)):
                start = time.perf_counter()
                for _ in range(repeats):
                    calls[name]()
                sync()
                times[name].append((time.perf_counter() - start) / repeats)

    run(rounds)
    if precise_enough is not None and max_rounds:
        while len(times[names[0]]) < max_rounds and not precise_enough(times):
            run(min(check_every, max_rounds - len(times[names[0]])))
    return times


def resolves(ratios: Iterable[Tuple[str, str]], controls: Iterable[Tuple[str, str]],
             precision: float) -> Callable[[Times], bool]:
    """A ``precise_enough`` test: every control ``(numerator, denominator)`` has its
    interval inside ``1 +- precision``, and every ratio's interval is no wider than
    ``+- precision`` of the ratio."""
    ratios, controls = list(ratios), list(controls)

    def test(times: Times) -> bool:
        for num, den in controls:
            r = ratio_with_interval(times[num], times[den])
            if r['low'] < 1 - precision or r['high'] > 1 + precision:
                return False
        for num, den in ratios:
            r = ratio_with_interval(times[num], times[den])
            if (r['high'] - r['low']) / 2 > precision * r['ratio']:
                return False
        return True
    return test


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


def add_round_arguments(parser, rounds: int = 30, max_rounds: int = 150,
                        precision: float = 0.02) -> None:
    """The benchmark tools' ``--rounds`` / ``--max-rounds`` / ``--precision`` options."""
    parser.add_argument('--rounds', type=int, default=rounds,
                        help='interleaved rounds at least (%(default)s)')
    parser.add_argument('--max-rounds', type=int, default=max_rounds,
                        help='rounds at most: after --rounds, 10 more at a time until every '
                             "control's 95%% interval is inside 1 +- PRECISION and every "
                             "ratio's no wider than +- PRECISION (%(default)s; equal to "
                             '--rounds: a fixed number)')
    parser.add_argument('--precision', type=float, default=precision,
                        help='what the run must resolve, relative (%(default)s)')


def check_round_arguments(parser, args) -> None:
    if args.rounds < 2:
        parser.error('--rounds must be at least 2 (the interval is over rounds)')
    if args.max_rounds < args.rounds:
        parser.error('--max-rounds must be at least --rounds')
    if not 0 < args.precision < 1:
        parser.error('--precision is relative: between 0 and 1, e.g. 0.02')


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
