"""Pretrain the built-in backbones by classification, export them, measure top-1.

    python tools/train_builtin_backbone.py                       # all four -> data/pretrained/
    python tools/train_builtin_backbone.py r18-slim_shapes-crops.pth --epochs 2

Each backbone is trained by its config under ``configs/pretraining/*_shapes-crops_cls.py``
(mmpretrain's ImageClassifier on the pretraining split's object crops) with mmengine's
Runner (work dir ``work_dirs/builtin_backbones/<name>``; an interrupted run continues
with ``--resume``). Written: ``OUT/<name>`` (the ``backbone.*`` weights, as an ImageNet
checkpoint is) and ``OUT/<name stem>.json`` (top-1 on the held-out scenes' crops).
Detector configs load it with ``backbone.init_cfg=dict(type='Pretrained',
checkpoint='data/pretrained/<name>', prefix='backbone.')``.
"""
import argparse
import os.path as osp

from mmclipjoint.pretraining.artifacts import ARTIFACTS, PACKED_DIR
from mmclipjoint.pretraining.backbones import BACKBONE_CONFIGS, build_builtin_backbone


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('names', nargs='*', choices=[[]] + sorted(BACKBONE_CONFIGS),
                        metavar='NAME', help=f'backbones to build (default: all of '
                        f'{", ".join(sorted(BACKBONE_CONFIGS))})')
    parser.add_argument('--out', default='data/pretrained', help='output folder')
    parser.add_argument('--resume', action='store_true', help='continue an interrupted run')
    parser.add_argument('--pack', action='store_true',
                        help='also write the packed copies the repository ships '
                             '(pretrained/<name stem>.packed.pt)')
    parser.add_argument('--epochs', type=int, help="training epochs (default: the config's)")
    return parser.parse_args()


def main():
    args = parse_args()
    for name in args.names or sorted(BACKBONE_CONFIGS):
        pack_to = osp.join(PACKED_DIR, ARTIFACTS[name].packed) if args.pack else None
        result = build_builtin_backbone(name, args.out, resume=args.resume, pack_to=pack_to,
                                        epochs=args.epochs)
        print(f"built-in backbone: {osp.join(args.out, name)}: top-1 {result['top1']:.3f} on "
              f"{result['val_crops']} held-out crops after {result['epochs']} epochs; trained "
              f"in {result['train_minutes']:.1f} min")


if __name__ == '__main__':
    main()
