"""Where a built model's contrastive branches and text banks are: the one place that walks
a model (or its state dict) for them, by type, through model wrappers (DDP). The hooks,
the stock export, the pictures of the banks, the benchmark and the tests use it; configs
are walked by :func:`mmclipjoint.utils.config.joint_heads`."""
from typing import Dict, List, Mapping

from mmengine.model import is_model_wrapper

from ..models import ContrastiveBranch, TextEmbeddingBank

# The attribute (and config field) of a joint head that holds its branch.
BRANCH_FIELD = 'contrastive_branch'


def unwrap(model):
    """The model inside a model wrapper (DDP and the like), or the model itself."""
    return model.module if is_model_wrapper(model) else model


def contrastive_branches(model) -> Dict[str, ContrastiveBranch]:
    """``{module name: branch}`` of every :class:`ContrastiveBranch` in ``model``."""
    return {name: module for name, module in unwrap(model).named_modules()
            if isinstance(module, ContrastiveBranch)}


def text_banks(model) -> Dict[str, TextEmbeddingBank]:
    """``{module name: bank}`` of every :class:`TextEmbeddingBank` in ``model``; the
    name is also the bank's config field below ``model`` (e.g.
    ``roi_head.bbox_head.contrastive_branch.text_bank``)."""
    return {name: module for name, module in unwrap(model).named_modules()
            if isinstance(module, TextEmbeddingBank)}


def branch_state_keys(state_dict: Mapping) -> List[str]:
    """The keys of a (joint) model's state dict that belong to a contrastive branch."""
    return [key for key in state_dict if f'.{BRANCH_FIELD}.' in f'.{key}']
