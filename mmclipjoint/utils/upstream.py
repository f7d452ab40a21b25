"""Where mmclipjoint relies on what MMEngine and MMDetection do not promise.

Each such use sits in one function here, with the upstream version its reading was taken
from, and fails with an error naming this module when the installed version no longer
matches (``tests/utils/test_upstream.py`` checks each against the installed packages).
Everything else in the package uses public APIs: a joint head hands over its targets
from public methods (``loss_by_feat``, ``get_targets``), the dataset wrappers index
mmengine's ``ConcatDataset`` / ``RepeatDataset`` through their public attributes, and the
branch reads the training iteration from the ``MessageHub``, the channel the Runner
documents for models.
"""
import bisect
from typing import List, Optional, Tuple

from mmengine.logging import MessageHub
from torch import Tensor

MMENGINE_READ = '0.10.7'
MMDET_READ = '3.3.0'


class UpstreamChangedError(RuntimeError):
    """MMEngine or MMDetection no longer has what an adapter of this module reads."""


def _changed(what: str, package: str, version: str) -> UpstreamChangedError:
    import importlib
    installed = getattr(importlib.import_module(package), '__version__', '?')
    return UpstreamChangedError(
        f'{what} (read from {package} {version}, installed {installed}); fix: install the '
        f'pinned {package} (requirements.txt) or update mmclipjoint/utils/upstream.py')


# ---- mmengine.runner.Runner ---------------------------------------------------------
# The Runner keeps its ``load_from`` and ``resume`` arguments in private attributes only
# (``Runner.__init__``, mmengine 0.10.7); ``runner.cfg`` has them only when the Runner was
# built from a config, so it cannot stand in.


def runner_load_from(runner) -> Optional[str]:
    """The checkpoint the Runner loads or resumes from (its ``load_from``), or None."""
    try:
        return runner._load_from
    except AttributeError:
        raise _changed('mmengine Runner has no _load_from', 'mmengine', MMENGINE_READ) from None


def runner_resumes(runner) -> bool:
    """Whether the Runner resumes training (its ``resume``)."""
    try:
        return bool(runner._resume)
    except AttributeError:
        raise _changed('mmengine Runner has no _resume', 'mmengine', MMENGINE_READ) from None


# ---- mmengine.config.Config ---------------------------------------------------------
# ``Config.fromfile(..., format_python_code=False)`` is ignored for ordinary (not lazy-
# import) configs in mmengine 0.10.7: the Config is built without it, and its text is
# formatted with yapf whenever it is logged or dumped. The flag lives in a private
# attribute, ``_format_python_code``.


def without_text_formatting(cfg):
    """``cfg``, its text (logged and dumped) no longer formatted by yapf."""
    if not hasattr(cfg, '_format_python_code'):
        raise _changed('mmengine Config has no _format_python_code', 'mmengine',
                       MMENGINE_READ)
    object.__setattr__(cfg, '_format_python_code', False)
    return cfg


# ---- mmengine.dataset wrappers -------------------------------------------------------


def concat_source_index(dataset, index: int) -> Tuple[int, int]:
    """(part, index in that part) of sample ``index`` of a ``ConcatDataset``, from its
    public ``cumulative_sizes`` (what its private ``_get_ori_dataset_idx`` computes)."""
    if index < 0:
        index += len(dataset)
    part = bisect.bisect_right(dataset.cumulative_sizes, index)
    return part, index - (dataset.cumulative_sizes[part - 1] if part else 0)


def repeat_source_index(dataset, index: int) -> int:
    """Index in the repeated dataset of sample ``index`` of a ``RepeatDataset``."""
    return index % len(dataset.dataset)


# ---- mmdet.models.dense_heads.RTMDetHead ---------------------------------------------
# ``get_targets`` is public but returns a plain tuple (mmdet 3.3.0, rtmdet_head.py):
# (anchors, labels, label_weights, bbox_targets, assign_metrics, sampling_results), each a
# list over levels of (B, N_level, ...) tensors.
RTMDET_TARGETS = ('anchors', 'labels', 'label_weights', 'bbox_targets', 'assign_metrics',
                  'sampling_results')


def rtmdet_labels_and_weights(targets: tuple) -> Tuple[List[Tensor], List[Tensor]]:
    """The per-level labels and label weights of ``RTMDetHead.get_targets``' result."""
    if isinstance(targets, tuple) and len(targets) == len(RTMDET_TARGETS):
        fields = dict(zip(RTMDET_TARGETS, targets))
        labels, weights = fields['labels'], fields['label_weights']
        if (isinstance(labels, list) and all(
                isinstance(x, Tensor) and not x.is_floating_point() for x in labels)
                and isinstance(weights, list) and len(weights) == len(labels)):
            return labels, weights
    raise _changed(f'RTMDetHead.get_targets no longer returns the tuple {RTMDET_TARGETS}',
                   'mmdet', MMDET_READ)


# ---- the training iteration ---------------------------------------------------------


def current_train_iteration() -> Optional[int]:
    """The Runner's current iteration, or None outside a Runner. The Runner publishes it
    through the current ``MessageHub`` for models (mmengine 0.10.7, ``Runner.__init__``),
    as MMDetection's ``BatchSyncRandomResize`` reads it."""
    return MessageHub.get_current_instance().get_info('iter')
