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
import os.path as osp
import warnings
from typing import Dict

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmengine.runner.utils import set_random_seed

import mmclipjoint  # noqa: F401  (registers modules, fixes checkpoint loading)
from mmclipjoint.engine.hooks import text_banks
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', default='text_bank.png', help='the PNG to write')
    return parser.parse_args(argv)


def bank_state(bank) -> Dict[str, torch.Tensor]:
    """Cosine similarities (K, K) and per-logit temperatures of a bank."""
    text = F.normalize(bank.text_embeddings().detach().float(), dim=-1)
    return dict(cosine=text @ text.t(), temperature=1.0 / bank.logit_scale().detach().float())


def build(cfg: Config, checkpoint=None):
    register_all_modules(init_default_scope=True)
    seed = cfg.get('randomness', {}).get('seed')
    if seed is not None:
        set_random_seed(seed)
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # init='random' says so; known here
            model.init_weights()
    else:
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cfg = Config.fromfile(args.config)
    # Only the model: no pretrained backbone is needed to rebuild a bank's start.
    backbone = cfg.model.get('backbone', {})
    if backbone.get('init_cfg'):
        backbone['init_cfg'] = None
    initial = {name: bank_state(b) for name, b in text_banks(build(cfg)).items()}
    if not initial:
        raise SystemExit(f'{args.config}: the model has no TextEmbeddingBank (a stock config?)')
    learned_banks = text_banks(build(cfg, args.checkpoint))
    learned = {name: bank_state(b) for name, b in learned_banks.items()}
    fig, axes = plt.subplots(len(learned), 3, figsize=(15, 4.6 * len(learned)), squeeze=False)
    for row, (name, bank) in enumerate(learned_banks.items()):
        labels = list(bank.class_names) + (['background'] if bank.with_background else [])
        for col, (title, state) in enumerate((('initial', initial[name]),
                                              ('learned', learned[name]))):
            ax = axes[row][col]
            image = ax.imshow(state['cosine'].numpy(), vmin=-1, vmax=1, cmap='RdBu_r')
            ax.set_title(f'{name}\ncosine similarity, {title}', fontsize=9)
            ax.set_xticks(range(len(labels)))
            ax.set_yticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=90, fontsize=7)
            ax.set_yticklabels(labels, fontsize=7)
            fig.colorbar(image, ax=ax, fraction=0.046)
        ax = axes[row][2]
        before, after = initial[name]['temperature'], learned[name]['temperature']
        ticks = labels if len(after) == len(labels) else ['shared']
        positions = torch.arange(len(after)).numpy()
        ax.bar(positions - 0.2, before.numpy(), 0.4, label='initial')
        ax.bar(positions + 0.2, after.numpy(), 0.4, label='learned')
        ax.set_xticks(positions)
        ax.set_xticklabels(ticks, rotation=90, fontsize=7)
        ax.set_title('temperature (1 / logit scale)', fontsize=9)
        ax.legend(fontsize=8)
        off = ~torch.eye(len(labels), dtype=torch.bool)
        print(f'{name}: mean off-diagonal cosine {initial[name]["cosine"][off].mean():.3f} '
              f'(initial) -> {learned[name]["cosine"][off].mean():.3f} (learned); '
              f'temperatures {[round(t, 4) for t in after.tolist()]}')
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f'wrote {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
