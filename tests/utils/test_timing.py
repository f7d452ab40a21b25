"""mmclipjoint.utils.timing: the interleaved rounds go on until what the run must resolve
is resolved, or the cap; the precision test reads the intervals it names."""
import itertools

import pytest

from mmclipjoint.utils.timing import interleaved_rounds, ratio_with_interval, resolves


def test_rounds_continue_until_precise_enough_then_stop():
    seen = []

    def precise_enough(times):
        seen.append(len(times['a']))
        return len(times['a']) >= 25

    times = interleaved_rounds(dict(a=lambda: None, b=lambda: None), rounds=5, warmup=0,
                               max_rounds=100, precise_enough=precise_enough, check_every=10)
    # 5 first, then 10 at a time: checked at 5, 15, 25 and stopped there.
    assert seen == [5, 15, 25]
    assert len(times['a']) == len(times['b']) == 25


def test_rounds_stop_at_the_cap_and_without_a_test_at_the_minimum():
    never = interleaved_rounds(dict(a=lambda: None), rounds=3, warmup=0, max_rounds=17,
                               precise_enough=lambda times: False, check_every=10)
    assert len(never['a']) == 17  # 3, 13, then the 4 left to the cap
    fixed = interleaved_rounds(dict(a=lambda: None), rounds=3, warmup=0)
    assert len(fixed['a']) == 3


def test_resolves_reads_the_controls_and_the_ratios_intervals():
    steady = [1.0, 1.001, 0.999] * 10
    times = dict(stock=steady, control=steady[1:] + steady[:1], joint=[2 * t for t in steady])
    assert resolves([('joint', 'stock')], [('control', 'stock')], 0.02)(times)
    # A control off by 5% is not resolved at 2%, though its interval is narrow.
    times['control'] = [1.05 * t for t in steady]
    assert not resolves([], [('control', 'stock')], 0.02)(times)
    # A ratio whose per-round values spread from 0.5 to 2 is not resolved either.
    times['joint'] = [t * f for t, f in zip(steady, itertools.cycle([0.5, 1.0, 2.0]))]
    assert not resolves([('joint', 'stock')], [], 0.02)(times)


def test_ratio_with_interval():
    same = ratio_with_interval([1.0, 1.1, 0.9, 1.0], [1.0, 1.1, 0.9, 1.0])
    assert same['ratio'] == 1.0 and same['low'] == 1.0 == same['high']
    half = ratio_with_interval([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert half['ratio'] == 0.5 and half['low'] <= 0.5 <= half['high']
    with pytest.raises(ValueError, match='same, non-zero number of rounds'):
        ratio_with_interval([1.0], [])
