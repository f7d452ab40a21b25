"""What the contrastive branch learned: class text embeddings and temperatures.

    python tools/visualize_text_bank.py CONFIG CHECKPOINT [--out text_bank.png]

For every text bank of the joint model (one per RoI head stage or one-stage head), draws
the cosine similarity of the class text embeddings (background last, when present)
as initialised and as learned, and the per-class temperatures (1 / logit scale) before
and after training. The initial embeddings are rebuilt as training built them: from
CLIP or the embedding file, or, for ``init='random'``, the model built from the config
under its ``randomness.seed`` (as mmengine's Runner does before training).
"""
import argparse

from mmengine.config import Config

import mmclipjoint  # noqa: F401  (registers modules, fixes checkpoint loading)
from mmclipjoint.visualization import draw_text_banks


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', default='text_bank.png', help='the PNG to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    path = draw_text_banks(Config.fromfile(args.config), args.checkpoint, args.out,
                           source=args.config)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
