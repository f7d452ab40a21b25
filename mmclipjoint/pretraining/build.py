"""Building the built-in CLIP: train on the Runner, export, measure; on first use too."""
import json
import os.path as osp
import time
from typing import Optional

from ..utils.families import REPO_ROOT
from ..utils.files import atomic_write

DEFAULT_CLIP_CONFIG = osp.join(REPO_ROOT, 'configs/pretraining/shapes-clip_rn16-text128_1100it.py')
CLIP_WEIGHTS = 'mmclipjoint-shapes-clip.pt'


def clip_training_config(config: str = DEFAULT_CLIP_CONFIG, iters: Optional[int] = None,
                         batch_size: Optional[int] = None, num_scenes: Optional[int] = None,
                         data_root: Optional[str] = None, options: Optional[dict] = None):
    """The training config, with the schedule length, batch size, split size or data
    folder changed consistently everywhere they appear (tests use a few iterations), and
    other ``options`` (``{'dotted.key': value}``) merged in."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    dataset = cfg.train_dataloader.dataset
    if iters is not None:
        dataset.num_iters = cfg.train_cfg.max_iters = iters
        warmup, cosine = cfg.param_scheduler
        warmup.end = cosine.begin = min(warmup.end, iters // 2)
        cosine.end, cosine.T_max = iters, max(1, iters - cosine.begin)
        cfg.default_hooks.checkpoint.interval = min(cfg.default_hooks.checkpoint.interval, iters)
    if batch_size is not None:
        dataset.batch_size = cfg.train_dataloader.batch_size = batch_size
    if num_scenes is not None:
        dataset.params = dict(dataset.get('params') or {}, num_scenes=num_scenes)
    if data_root is not None:
        dataset.data_root = data_root
    cfg.merge_from_dict(options or {})
    return cfg


def build_builtin_clip(config: str = DEFAULT_CLIP_CONFIG, out_dir: str = 'data/pretrained',
                       work_dir: str = 'work_dirs/builtin_clip', resume: bool = False,
                       eval_data_root: Optional[str] = None, pack_to: Optional[str] = None,
                       **overrides) -> dict:
    """Train the built-in CLIP, write its open_clip weights to ``out_dir`` and measure it.

    The weights written are the packed copy unpacked (float16-rounded; token rows no
    caption uses are zero), so that a built file and one unpacked from ``pretrained/``
    are the same model, and the figures are measured on it. ``pack_to``: also write the
    packed copy there (what ``pretrained/`` ships), with the figures as its metadata.

    Returns:
        dict: what ``out_dir/zero_shot.json`` holds: zero-shot top-1 (class, colour) on
        the test split's object crops, the weights' file name, training minutes.
    """
    from mmengine.runner import Runner

    from .artifacts import ARTIFACTS
    from .clip import evaluate_builtin_clip, load_builtin_clip, pack_open_clip_weights
    from .packing import save_packed, unpack_weights
    cfg = clip_training_config(config, **overrides)
    cfg.work_dir = work_dir
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()
    minutes = (time.time() - start) / 60
    result = dict(weights=CLIP_WEIGHTS, config=osp.relpath(config, REPO_ROOT),
                  iterations=cfg.train_cfg.max_iters, train_minutes=minutes)
    packed = pack_open_clip_weights(runner.model.state_dict(), result)
    weights = osp.join(out_dir, CLIP_WEIGHTS)
    ARTIFACTS[CLIP_WEIGHTS].save(unpack_weights(packed), weights)
    result.update(evaluate_builtin_clip(load_builtin_clip(weights), eval_data_root))
    atomic_write(osp.join(out_dir, 'zero_shot.json'),
                 lambda f: json.dump(result, f, indent=1), mode='w')
    if pack_to:
        packed['metadata'] = dict(result)
        save_packed(pack_to, packed)
    return result
