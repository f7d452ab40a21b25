"""Generate the built-in shapes dataset (COCO json + Pascal VOC xml layouts).

    python tools/generate_dataset.py                       # what the default config uses
    python tools/generate_dataset.py --config CONFIG       # what CONFIG's builtin_dataset asks for
    python tools/generate_dataset.py --root data/shapes-lt --imbalance-ratio 10 --label-noise 0.2

Reuses the files already there when the parameters match; --force regenerates.
"""
import argparse
from dataclasses import asdict, fields

from mmengine.config import Config

from mmclipjoint.datasets import ShapesParams, generate_shapes_dataset


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', help='take root and parameters from this config')
    parser.add_argument('--root', help="output folder (default: the config's, else data/shapes)")
    parser.add_argument('--force', action='store_true', help='regenerate even if up to date')
    for field in fields(ShapesParams):
        parser.add_argument(f'--{field.name.replace("_", "-")}', type=field.type,
                            default=None, help=f'default {field.default}')
    return parser.parse_args()


def main():
    args = parse_args()
    # Explicit flags win over the config, which wins over the defaults.
    spec = dict(root='data/shapes')
    if args.config:
        spec.update(Config.fromfile(args.config).builtin_dataset)
    if args.root:
        spec['root'] = args.root
    for field in fields(ShapesParams):
        value = getattr(args, field.name)
        if value is not None:
            spec[field.name] = value
    root = spec.pop('root')
    params = ShapesParams.from_dict(spec)
    meta = generate_shapes_dataset(root, params, force=args.force)
    print(f'shapes dataset in {root}: {asdict(params)}')
    for split in ('train', 'val', 'test'):
        info = meta[split]
        counts = dict(zip(meta['classes'], info['label_class_counts']))
        print(f'  {split}: {info["num_images"]} images, {info["num_boxes"]} boxes, '
              f'labelled per class {counts}, flipped labels {len(info["flipped_annotation_ids"])}')


if __name__ == '__main__':
    main()
