import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

import mmclipjoint  # noqa: F401
from mmclipjoint.datasets import ShapesParams, generate_shapes_dataset
from mmdet.utils import register_all_modules

# Like mmdet's own tests: registries resolved in the 'mmdet' scope.
register_all_modules(init_default_scope=True)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASELINE_CONFIG = osp.join(REPO, 'configs/faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py')

# Small and quick, but enough boxes per class for the count checks to be meaningful.
TINY = dict(image_size=96, num_train=40, num_val=8, min_objects=2, max_objects=4)


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """A generated shapes dataset with imbalance and noise, and its meta.json."""
    root = str(tmp_path_factory.mktemp('shapes') / 'data')
    params = ShapesParams(**TINY, imbalance_ratio=4.0, label_noise=0.25, seed=3)
    meta = generate_shapes_dataset(root, params)
    return root, params, meta

# A real open_clip model architecture, tiny enough for tests; the tests save its
# random weights to a local file and load them through open_clip's own loading path.
TINY_CLIP = 'mmclipjoint-test-tiny-clip'
TINY_CLIP_CFG = dict(
    embed_dim=512,
    vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1))


@pytest.fixture(scope='session')
def tiny_clip_checkpoint(tmp_path_factory):
    """(model name, local checkpoint path) of a registered tiny open_clip model."""
    import json

    import open_clip
    import torch
    folder = tmp_path_factory.mktemp('clip')
    with open(folder / f'{TINY_CLIP}.json', 'w') as f:
        json.dump(TINY_CLIP_CFG, f)
    open_clip.add_model_config(str(folder / f'{TINY_CLIP}.json'))
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    path = str(folder / 'tiny_clip.pt')
    torch.save(model.state_dict(), path)
    return TINY_CLIP, path

JOINT_CONFIG = osp.join(REPO, 'configs/clip_joint/faster-rcnn_r18-slim_fpn_clip-joint_12e_shapes.py')


def build_detector(config_path, cfg_options=None):
    """A detector built from a real config, nothing pretrained, weights initialised."""
    import warnings

    from mmengine.config import Config

    from mmdet.registry import MODELS
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = MODELS.build(cfg.model)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the demo bank's init='random' warning
        model.init_weights()
    return model


def shapes_batch(root, indices, config_path=BASELINE_CONFIG, split='train'):
    """A collated batch of the built-in dataset through a config's own pipeline."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mmdet.datasets import CocoDataset
    cfg = Config.fromfile(config_path)
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    pipeline = [t for t in loader.dataset.pipeline if t['type'] != 'RandomFlip']
    dataset = CocoDataset(data_root=root, ann_file=f'annotations/instances_{split}.json',
                          data_prefix=dict(img='VOC2007/JPEGImages/'),
                          metainfo=loader.dataset.metainfo, pipeline=pipeline,
                          test_mode=split != 'train')
    return pseudo_collate([dataset[i] for i in indices])

YOLOX_BASELINE = osp.join(REPO, 'configs/yolox/yolox_tiny_12e_shapes.py')
YOLOX_JOINT = osp.join(REPO, 'configs/clip_joint/yolox_tiny_clip-joint_12e_shapes.py')
RTMDET_BASELINE = osp.join(REPO, 'configs/rtmdet/rtmdet_tiny_12e_shapes.py')
RTMDET_JOINT = osp.join(REPO, 'configs/clip_joint/rtmdet_tiny_clip-joint_12e_shapes.py')


# ---- running the real tools on tiny data -------------------------------------------

TINY_RUN = [
    'builtin_dataset.image_size=96', 'builtin_dataset.num_train=8', 'builtin_dataset.num_val=4',
    'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1', 'randomness.seed=0',
] + [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
     for key in ('num_workers=0', 'persistent_workers=False')]
ITERS_PER_EPOCH = 4  # 8 images, batch 2
HELPERS = osp.join(REPO, 'tests', 'helpers')


def run_tool(tool, *args, cwd, check=True, env=None, launcher=None):
    """Run tools/<tool> (or ``launcher``, e.g. dist_train.sh) in a fresh process."""
    command = (['bash', osp.join(REPO, 'tools', launcher)] if launcher
               else [sys.executable, osp.join(REPO, 'tools', tool)])
    environ = dict(os.environ, PYTHONPATH=HELPERS + os.pathsep + os.environ.get('PYTHONPATH', ''),
                   **(env or {}))
    proc = subprocess.run(command + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=900, env=environ)
    output = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, f'{tool or launcher} failed:\n{output[-6000:]}'
    return output if check else (proc.returncode, output)


def scalars(work_dir):
    """Log records of the newest run in work_dir (LoggerHook's json log: under vis_data/
    for training, beside the text log for testing)."""
    newest = sorted(glob.glob(osp.join(work_dir, '2*')))[-1]
    stamp = osp.basename(newest)
    (path, ) = [p for p in (osp.join(newest, 'vis_data', f'{stamp}.json'),
                            osp.join(newest, f'{stamp}.json')) if osp.isfile(p)]
    return [json.loads(line) for line in open(path)]


def write_config(path, base, **fields):
    """A config file that inherits ``base`` and sets ``fields`` (Python literals)."""
    lines = [f'_base_ = {base!r}'] + [f'{k} = {v}' for k, v in fields.items()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(path)
