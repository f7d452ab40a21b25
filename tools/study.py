"""Does joint training help, and when: a seeded grid of trainings on the built-in dataset.
The command line of :mod:`mmclipjoint.study`.

    python tools/study.py                                  # the README's study (resumable)
    python tools/study.py --families faster-rcnn --noise 0.2 --seeds 0 1 2 --out studies/x
    python tools/study.py --configs A.py B.py --noise 0 0.4 --out studies/mine
    python tools/study.py --report-only                    # table and figures from results

Every (config, label-noise rate, imbalance ratio, seed) of the grid is one run: a config
derived from the named one (the built-in dataset with that noise and long tail, a
``randomness.seed``, the schedule shortened to ``--epochs`` with its learning-rate steps
and the branch's loss warm-up (``loss_warmup_iters``) scaled alike, COCO metrics per
class) is trained with ``tools/train.py`` and its last
checkpoint evaluated with ``tools/test.py`` on the held-out test split, each in its own
process: the path a user takes. Validation metrics (where options are chosen) and test
metrics (what is reported) are both recorded.

Resumable: finished runs are rows of ``<out>/results.json`` (with their parameters,
metrics, minutes and the code's git commit) and are read back, not redone; a run cut
short is started again. The data seed is fixed (the same images and the same flipped
labels for every training seed), so the spread over seeds is that of training alone.

A joint config whose branch predicts with ``inference='stock'`` is also evaluated with
``inference='fused'`` (the same checkpoint, ``tools/test.py`` with ``--cfg-options``) on
the validation and the test split: its rows carry ``val_fused`` and ``test_fused``, and
the table and figures show it as the variant ``<variant>+fused``. ``--reuse`` takes the
rows of another study's results file whose run is the same (the same config, cell, seed,
epochs and overrides) instead of training them again: an options comparison shares its
stock and joint runs with the main study.

``--noise-pairs circle:hexagon square:cross triangle:star`` makes the label noise pair
flips between look-alike classes instead of symmetric (its own ``--out`` folder).

Prints mean ± std of the test mAP per cell with its worst seed (also as markdown tables of
the test and the validation split in ``<out>/summary.md``, a column per noise rate), and
the collapse check: each joint cell's worst seed over its stock config's mean (same cell;
collapsed below 0.8). Writes
``<out>/map_vs_noise.png`` (one line per config, error bars over seeds) and
``<out>/per_class_ap.png`` (stock vs joint per class, classes from the most to the least
frequent in training).
"""
import argparse
import os
import os.path as osp

from mmclipjoint.study import (DEFAULT_EPOCHS, FAMILIES, FAMILY_EPOCHS, figures, load_results,
                               planned_runs, run_study, write_summaries)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--families', nargs='+', choices=sorted(FAMILIES),
                        default=list(FAMILIES), help='stock/joint pairs to run')
    parser.add_argument('--configs', nargs='+', help='configs to run instead of --families')
    parser.add_argument('--family', default='custom',
                        help='the family the --configs runs are shown under in the table and '
                             'figures (e.g. faster-rcnn, to compare an option with that pair)')
    parser.add_argument('--noise', nargs='+', type=float, default=[0.0, 0.2, 0.4],
                        help='label-noise rates of the training split')
    parser.add_argument('--noise-pairs', nargs='+', metavar='A:B',
                        help='pair-flip label noise: each flipped label of class A becomes B '
                             'and of B becomes A (e.g. circle:hexagon square:cross '
                             'triangle:star; every class in a pair); default symmetric noise '
                             '(to any other class). One kind of noise per --out folder')
    parser.add_argument('--imbalance', nargs='+', type=float, default=[5.0],
                        help='imbalance ratios (most / least frequent training class)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int,
                        help='training epochs of every run (schedules scaled to them; '
                             f'default {DEFAULT_EPOCHS}, or the family\'s own: '
                             f'{FAMILY_EPOCHS})')
    parser.add_argument('--out', default='studies/robustness', help='results folder')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides for every run, as in tools/train.py')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at a time (each with cores / jobs threads); for machines '
                             'with many cores or a GPU')
    parser.add_argument('--reuse', nargs='+', default=[],
                        help="other studies' results.json files: runs found there (same "
                             'id) are copied, not trained again')
    parser.add_argument('--report-only', action='store_true',
                        help='print the table and draw the figures from the results only')
    return parser.parse_args(argv)


def parse_pairs(items):
    """``['circle:hexagon', ...]`` -> ``{'circle': 'hexagon', 'hexagon': 'circle', ...}``."""
    if not items:
        return None
    pairs = {}
    for item in items:
        a, sep, b = item.partition(':')
        if not sep or not a or not b or a == b or a in pairs or b in pairs:
            raise SystemExit(f"study: --noise-pairs {item!r}: give pairs of two different "
                             f"classes as A:B, each class in one pair (e.g. circle:hexagon)")
        pairs[a], pairs[b] = b, a
    return pairs


def main(argv=None):
    args = parse_args(argv)
    out = osp.abspath(args.out)  # the runs' processes work from the repository root
    os.makedirs(out, exist_ok=True)
    if args.report_only:
        rows = load_results(osp.join(out, 'results.json'))
    else:
        runs = planned_runs(families=args.families, configs=args.configs, family=args.family,
                            noise=args.noise, imbalance=args.imbalance, seeds=args.seeds,
                            epochs=args.epochs, cfg_options=args.cfg_options,
                            noise_pairs=parse_pairs(args.noise_pairs))
        rows = run_study(runs, out, jobs=args.jobs, reuse=args.reuse)
    if rows:
        print(write_summaries(rows, out))
        for path in figures(rows, out):
            print(f'wrote {path}')


if __name__ == '__main__':
    main()
