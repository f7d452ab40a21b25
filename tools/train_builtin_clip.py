"""Build the built-in CLIP: train it, export its open_clip weights, measure zero-shot.

    python tools/train_builtin_clip.py                  # -> data/pretrained/
    python tools/train_builtin_clip.py --out DIR --iters 200

Trains ``configs/pretraining/shapes-clip_*.py`` with mmengine's Runner (work dir
``work_dirs/builtin_clip``; an interrupted run continues with ``--resume``), writes the
open_clip state dict to ``OUT/mmclipjoint-shapes-clip.pt`` and the zero-shot top-1 on
the built-in test split's object crops (six classes, eight colours) to
``OUT/zero_shot.json``. Detector configs use the file through
``text_bank.clip = dict(model='mmclipjoint-shapes-clip', pretrained=<the file>)``.
"""
import argparse
import os.path as osp

from mmclipjoint.pretraining.artifacts import ARTIFACTS, PACKED_DIR
from mmclipjoint.pretraining.build import CLIP_WEIGHTS, DEFAULT_CLIP_CONFIG, build_builtin_clip


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CLIP_CONFIG,
                        help='the training config (default: %(default)s)')
    parser.add_argument('--out', default='data/pretrained', help='output folder')
    parser.add_argument('--work-dir', default='work_dirs/builtin_clip')
    parser.add_argument('--resume', action='store_true', help='continue an interrupted run')
    parser.add_argument('--pack', action='store_true',
                        help='also write the packed copy the repository ships '
                             '(pretrained/mmclipjoint-shapes-clip.packed.pt)')
    parser.add_argument('--iters', type=int, help="training iterations (default: the config's)")
    return parser.parse_args()


def main():
    args = parse_args()
    result = build_builtin_clip(args.config, args.out, work_dir=args.work_dir,
                                resume=args.resume, iters=args.iters,
                                pack_to=osp.join(PACKED_DIR, ARTIFACTS[CLIP_WEIGHTS].packed)
                                if args.pack else None)
    print(f"built-in CLIP: {osp.join(args.out, result['weights'])}\n"
          f"zero-shot top-1 on {result['objects']} test-split object crops: "
          f"class {result['class_top1']:.3f} (chance {result['class_chance']:.3f}), "
          f"colour {result['colour_top1']:.3f} (majority {result['colour_chance']:.3f}); "
          f"trained in {result['train_minutes']:.1f} min")


if __name__ == '__main__':
    main()
