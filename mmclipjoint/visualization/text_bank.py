"""Pictures of what a contrastive branch learned: the cosine similarity of its class text
embeddings and its per-class temperatures, as initialised and as learned
(``tools/visualize_text_bank.py`` is the command line)."""
import copy
import os.path as osp
import warnings
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmengine.runner.utils import set_random_seed

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from ..utils.branches import text_banks


def bank_state(bank) -> Dict[str, torch.Tensor]:
    """Cosine similarities (K, K) and per-logit temperatures of a bank."""
    text = F.normalize(bank.text_embeddings().detach().float(), dim=-1)
    return dict(cosine=text @ text.t(), temperature=1.0 / bank.logit_scale().detach().float())


def build_model(cfg: Config, checkpoint: Optional[str] = None):
    """The model of ``cfg`` with the weights of ``checkpoint``, or, without one, as
    training initialised it: built and ``init_weights``-ed under the config's
    ``randomness.seed`` (as mmengine's Runner does before training), so that a bank with
    ``init='random'`` is rebuilt as it started."""
    register_all_modules(init_default_scope=True)
    seed = cfg.get('randomness', {}).get('seed')
    if seed is not None:
        set_random_seed(seed)
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        from ..pretraining.artifacts import prepare_builtin_weights
        prepare_builtin_weights(cfg)  # e.g. the built-in CLIP the bank starts from
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # init='random' says so; known here
            model.init_weights()
    else:
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model


def draw_text_banks(cfg: Config, checkpoint: str, out: str, source: str = 'the config') -> str:
    """Draw every text bank of ``cfg``'s model (one per RoI head stage or one-stage head)
    as initialised and as learned in ``checkpoint`` into the PNG ``out``; prints a line
    per bank and returns the path written."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cfg = copy.deepcopy(cfg)  # Config.copy() is shallow: the caller's stays as it is
    # Only the model: no pretrained backbone is needed to rebuild a bank's start.
    backbone = cfg.model.get('backbone', {})
    if backbone.get('init_cfg'):
        backbone['init_cfg'] = None
    initial = {name: bank_state(b) for name, b in text_banks(build_model(cfg)).items()}
    if not initial:
        raise SystemExit(f'{source}: the model has no TextEmbeddingBank (a stock config?)')
    learned_banks = text_banks(build_model(cfg, checkpoint))
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
    fig.savefig(out, dpi=110)
    return osp.abspath(out)
