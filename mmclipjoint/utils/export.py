"""A joint (CLIP-Joint-Detect) model as a stock MMDetection model: the config with every
joint head replaced by the stock head it extends, and the checkpoint without the
contrastive branches (bank, projections), class names kept in ``meta.dataset_meta``."""
from typing import Dict, List

from mmengine.config import Config

from .branches import branch_state_keys
from .config import joint_heads

# Keys a joint head takes on top of its stock head (the branch and the RoI-feature choice).
JOINT_HEAD_FIELDS = ('contrastive_branch', 'contrastive_feature')
# This package's runtime hooks: useful for training, unknown to stock MMDetection.
PACKAGE_HOOKS = ('JointTrainingCheckHook', 'LossGuardHook', 'RandomStateHook')


def stock_head_type(joint_type: str) -> str:
    """The registered stock head a joint head class extends (the first registered class
    after the contrastive mixins in its MRO), e.g. ContrastiveYOLOXHead -> YOLOXHead."""
    from mmdet.registry import MODELS
    from ..models.layers.contrastive_head_mixin import ContrastiveHeadMixin
    cls = MODELS.get(joint_type)
    if cls is None:
        raise KeyError(f'{joint_type} is not registered in MMDetection\'s MODELS')
    for base in cls.__mro__[1:]:
        if issubclass(base, ContrastiveHeadMixin):
            continue
        if MODELS.get(base.__name__) is base:
            return base.__name__
    raise ValueError(f'{joint_type}: no registered stock head among its bases')


def stock_config(cfg: Config, config_name: str = 'the config') -> Config:
    """A copy of ``cfg`` with every joint head replaced by its stock head and this
    package's hooks removed. Refuses a config that fuses at inference (the fused scores
    need the branch) and a config without a joint head."""
    cfg = Config(cfg.to_dict(), filename=cfg.filename)  # a copy
    heads = joint_heads(cfg.model)
    if not heads:
        raise ValueError(f'{config_name} has no head with a contrastive_branch: it is already '
                         f'a stock config; nothing to export')
    for path, head in heads:
        inference = head.contrastive_branch.get('inference', 'stock')
        if inference != 'stock':
            raise ValueError(
                f"{config_name}: {path}.contrastive_branch.inference is '{inference}', which "
                f'needs the contrastive branch at test time; a stock model cannot reproduce '
                f"it. Fix: export with inference='stock' (--cfg-options "
                f"{path[len('model.'):] if path.startswith('model.') else path}"
                f".contrastive_branch.inference=stock), or deploy the joint model")
        head.type = stock_head_type(head.type)
        for field in JOINT_HEAD_FIELDS:
            head.pop(field, None)
    if cfg.get('custom_hooks'):
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h.get('type') not in PACKAGE_HOOKS]
    for key in [k for k in cfg if k.startswith('clip_joint_')]:  # the shared pieces' names
        cfg.pop(key)
    optim = cfg.get('optim_wrapper', {})
    batch_scaled = {'nominal_batch_size', 'batch_size_per_gpu'} & set(
        optim.get('paramwise_cfg', {}))
    if optim.get('constructor') == 'GroupedOptimWrapperConstructor' and not batch_scaled:
        optim.constructor = 'DefaultOptimWrapperConstructor'  # the same updates
    if not any(from_this_package(t) for t in config_types(cfg.to_dict())):
        imports = cfg.get('custom_imports', {}).get('imports', [])
        imports = [i for i in ([imports] if isinstance(imports, str) else imports)
                   if i != 'mmclipjoint']
        if imports:
            cfg.custom_imports.imports = imports
        else:
            cfg.pop('custom_imports', None)
    return cfg


def config_types(node) -> List[str]:
    """Every ``type`` string in a config."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            found.append(node['type'])
        for value in node.values():
            found += config_types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            found += config_types(value)
    return found


def from_this_package(type_name: str) -> bool:
    """Whether a config type is registered by mmclipjoint (so the config needs it)."""
    from mmdet import registry
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'TASK_UTILS', 'HOOKS', 'METRICS',
                 'OPTIM_WRAPPER_CONSTRUCTORS', 'OPTIM_WRAPPERS', 'MODEL_WRAPPERS'):
        cls = getattr(registry, name).get(type_name)
        if cls is not None and cls.__module__.startswith('mmclipjoint'):
            return True
    return False


def strip_checkpoint(checkpoint: Dict, source: str = 'the checkpoint') -> Dict:
    """The checkpoint's model weights without any contrastive-branch tensor, and its
    ``meta.dataset_meta``; training state (optimizer, schedulers, EMA copy) dropped."""
    state_dict = checkpoint.get('state_dict', checkpoint)
    branch = branch_state_keys(state_dict)
    if not branch:
        raise ValueError(f'{source} has no contrastive-branch weights: it is a stock '
                         f'checkpoint already (nothing to strip)')
    meta = dict(checkpoint.get('meta', {}))
    if 'dataset_meta' not in meta:
        raise ValueError(f'{source} has no meta.dataset_meta (class names); a checkpoint '
                         f'saved by the Runner has it. Fix: export a checkpoint written by '
                         f'tools/train.py')
    stock = {k: v for k, v in state_dict.items() if k not in set(branch)}
    return dict(state_dict=stock, meta=dict(
        dataset_meta=meta['dataset_meta'], exported_from_joint=True,
        stripped_keys=len(branch), **{k: meta[k] for k in ('epoch', 'iter') if k in meta}))
