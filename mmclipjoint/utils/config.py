"""Where a config's contrastive branches are: the one place that walks a model config
for its joint heads (used by the stock export, the inference helper, the study and the
tests). Built models are walked by type instead (:mod:`mmclipjoint.utils.branches`)."""
import re
from typing import List, Tuple

from mmengine.config import ConfigDict


def joint_heads(node, path: str = 'model') -> List[Tuple[str, ConfigDict]]:
    """``(config path, head dict)`` of every head config with a ``contrastive_branch``,
    in a model config of any depth: ``model.bbox_head``, ``model.roi_head.bbox_head``, and
    each stage of a Cascade R-CNN (``model.roi_head.bbox_head[1]``)."""
    found = []
    if isinstance(node, dict):
        if 'contrastive_branch' in node and 'type' in node:
            found.append((path, node))
        for key, value in node.items():
            found += joint_heads(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found += joint_heads(value, f'{path}[{i}]')
    return found


def option_key(path: str) -> str:
    """A :func:`joint_heads` path as a ``--cfg-options`` key (list items as ``.i``)."""
    return re.sub(r'\[(\d+)\]', r'.\1', path)


def fused_options(model) -> List[str]:
    """The ``--cfg-options`` items that make every branch of ``model`` that predicts
    with the stock scores predict fused ones (none when there is no such branch)."""
    return [f'{option_key(path)}.contrastive_branch.inference=fused'
            for path, head in joint_heads(model)
            if head.contrastive_branch.get('inference', 'stock') == 'stock']
