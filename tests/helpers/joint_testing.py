"""Constants and helpers the tests share (fixtures are in conftest.py)."""
import atexit
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import tempfile
import threading

import pytest

import mmclipjoint  # noqa: F401
from mmclipjoint.utils.families import family_configs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# The built-in families' stock and joint configs (the joint ones in the paper's setting:
# the tests of the branch's mechanics and of stock inference build them; the built-in
# Faster R-CNN joint config's own defaults are tested in tests/test_configs.py).
BASELINE_CONFIG, JOINT_CONFIG = family_configs('faster-rcnn', REPO)
YOLOX_BASELINE, YOLOX_JOINT = family_configs('yolox', REPO)
RTMDET_BASELINE, RTMDET_JOINT = family_configs('rtmdet', REPO)
YOLO11_BASELINE, YOLO11_JOINT = family_configs('yolo11', REPO)

# Small and quick, but enough boxes per class for the count checks to be meaningful.
TINY = dict(image_size=96, num_train=40, num_val=8, num_test=6, min_objects=2, max_objects=4)

# A real open_clip model architecture, tiny enough for tests; the tests save its
# random weights to a local file and load them through open_clip's own loading path.
TINY_CLIP = 'mmclipjoint-test-tiny-clip'
TINY_CLIP_CFG = dict(
    embed_dim=512,
    vision_cfg=dict(image_size=32, layers=1, width=64, patch_size=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1))


def load_config(config_path):
    from mmengine.config import Config
    return Config.fromfile(config_path)


def build_detector(config_path, cfg_options=None):
    """A detector built from a real config, nothing pretrained, weights initialised."""
    import warnings

    from mmengine.config import Config

    from mmclipjoint.pretraining.artifacts import prepare_builtin_weights
    from mmdet.registry import MODELS
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    prepare_builtin_weights(cfg, logger=lambda *_: None)
    model = MODELS.build(cfg.model)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # a random-text ablation's init='random' warning
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


# ---- running the real tools on tiny data -------------------------------------------

TINY_RUN = [
    'builtin_dataset.image_size=96', 'builtin_dataset.num_train=8', 'builtin_dataset.num_val=4',
    'builtin_dataset.num_test=4',
    'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1', 'randomness.seed=0',
] + [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
     for key in ('num_workers=0', 'persistent_workers=False')]
ITERS_PER_EPOCH = 4  # 8 images, batch 2
HELPERS = osp.join(REPO, 'tests', 'helpers')


_SERVER = None


def _tool_server():
    """This process's tool server (tool_server.py), started on first use."""
    global _SERVER
    if _SERVER is None or _SERVER.poll() is not None:
        _SERVER = subprocess.Popen([sys.executable, osp.join(HELPERS, 'tool_server.py')],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   cwd=REPO, env=dict(os.environ, PYTHONPATH=HELPERS))
        assert json.loads(_SERVER.stdout.readline()) == {'ready': True}
        atexit.register(_SERVER.stdin.close)  # the server ends when its input does
    return _SERVER


def _run_in_server(path, args, cwd, environ, timeout):
    server = _tool_server()
    fd, out = tempfile.mkstemp(prefix='tool-', suffix='.log')
    os.close(fd)
    try:
        server.stdin.write(json.dumps(dict(tool=path, args=[str(a) for a in args],
                                           cwd=str(cwd), env=environ, out=out)) + '\n')
        server.stdin.flush()
        pid = json.loads(server.stdout.readline())['pid']
        timer = threading.Timer(timeout, os.kill, (pid, signal.SIGKILL))
        timer.start()
        try:
            code = json.loads(server.stdout.readline())['code']
        finally:
            timer.cancel()
        with open(out) as f:
            return code, f.read()
    finally:
        os.remove(out)


def run_tool(tool, *args, cwd, check=True, env=None, launcher=None):
    """Run tools/<tool> as ``python tools/<tool> ARGS`` would, in a process of its own
    forked from the tool server (the imports done once: tool_server.py), or ``launcher``
    (e.g. dist_train.sh) in a fresh process."""
    # Config text logged and dumped unformatted: 1.4 s less per tool start.
    environ = dict(os.environ, PYTHONPATH=HELPERS + os.pathsep + os.environ.get('PYTHONPATH', ''),
                   MMCLIPJOINT_FORMAT_CONFIG='0', **(env or {}))
    if launcher:
        proc = subprocess.run(['bash', osp.join(REPO, 'tools', launcher), *args], cwd=cwd,
                              capture_output=True, text=True, timeout=900, env=environ)
        code, output = proc.returncode, proc.stdout + proc.stderr
    else:
        code, output = _run_in_server(osp.join(REPO, 'tools', tool), args, cwd, environ, 900)
    if check:
        assert code == 0, f'{tool or launcher} failed:\n{output[-6000:]}'
    return output if check else (code, output)


# Bit-for-bit repeatable runs: what the resume tests compare.
DETERMINISTIC = TINY_RUN + ['randomness.deterministic=True', 'log_processor.window_size=1']


def train(cwd, config, work_dir, max_epochs, *extra, options=(), check=True, **kwargs):
    """tools/train.py on the tiny data, deterministic, no validation before the end."""
    return run_tool('train.py', config, '--work-dir', str(work_dir), *extra, '--cfg-options',
                    *DETERMINISTIC, *options, f'train_cfg.max_epochs={max_epochs}',
                    f'train_cfg.val_interval={max_epochs + 1}', cwd=cwd, check=check, **kwargs)


def losses_by_iter(work_dir):
    """{iteration: {loss term: value}} of the newest run in work_dir."""
    return {r['iter']: {k: v for k, v in r.items() if k.startswith('loss')}
            for r in scalars(str(work_dir)) if 'loss' in r}


def assert_same_losses(expected, resumed, iterations):
    assert set(resumed) == set(iterations), sorted(resumed)
    for it in iterations:
        assert resumed[it].keys() == expected[it].keys()
        for key in expected[it]:
            assert resumed[it][key] == pytest.approx(expected[it][key], rel=1e-5, abs=1e-6), \
                (it, key)


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


def build_runner(cwd, tmp_path, monkeypatch, config=JOINT_CONFIG, **changes):
    """An in-process Runner of ``config`` on the tiny data (generated in ``cwd``),
    deterministic, its work dir in ``tmp_path``."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    monkeypatch.chdir(cwd)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(
        (option.split('=', 1)[0], eval(option.split('=', 1)[1], {}, {}))
        for option in DETERMINISTIC))
    cfg.merge_from_dict(changes)
    cfg.work_dir = str(tmp_path / 'work')
    # mmengine keeps one visualizer per name in a process: give each runner its own.
    cfg.visualizer.name = f'visualizer_{tmp_path.name}'
    from mmclipjoint.datasets import prepare_builtin_dataset
    from mmclipjoint.pretraining.artifacts import prepare_builtin_weights
    prepare_builtin_dataset(cfg, logger=lambda *_: None)
    prepare_builtin_weights(cfg, logger=lambda *_: None)
    return Runner.from_cfg(cfg)


# ---- tiny heads on constructed features ----------------------------------------------

TEST_BANK = dict(type='TextEmbeddingBank', class_names=['a', 'b', 'c'], init='random',
                 embed_dims=24)
YOLOX_HEAD = dict(type='ContrastiveYOLOXHead', num_classes=3, in_channels=16, feat_channels=16,
                  strides=(8, 16, 32), contrastive_branch=dict(text_bank=TEST_BANK),
                  train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
                  test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))
RTMDET_HEAD = dict(type='ContrastiveRTMDetHead', num_classes=3, in_channels=16, feat_channels=16,
                   stacked_convs=1, contrastive_branch=dict(text_bank=TEST_BANK),
                   anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                         strides=[8, 16, 32]),
                   bbox_coder=dict(type='DistancePointBBoxCoder'),
                   loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                                 loss_weight=1.0),
                   loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                   train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
                                  allowed_border=-1, pos_weight=-1, debug=False),
                   test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                                 nms=dict(type='nms', iou_threshold=0.6), max_per_img=10))
YOLO11_HEAD = dict(type='ContrastiveYOLOHead', num_classes=3, in_channels=[16, 16, 16],
                   contrastive_branch=dict(text_bank=TEST_BANK),
                   test_cfg=dict(nms_pre=1000, score_thr=0.01,
                                 nms=dict(type='nms', iou_threshold=0.7), max_per_img=100))
# Non-square images, so that a head and its branch flattening rows and columns
# differently cannot pass.
GRID_HEIGHT, GRID_WIDTH = 64, 96
GRID_FEATS = [(2, 16, GRID_HEIGHT // s, GRID_WIDTH // s) for s in (8, 16, 32)]
GRID_CELLS = sum(h * w for _, _, h, w in GRID_FEATS)
GRID_METAS = [dict(img_shape=(GRID_HEIGHT, GRID_WIDTH), pad_shape=(GRID_HEIGHT, GRID_WIDTH),
                   batch_input_shape=(GRID_HEIGHT, GRID_WIDTH))] * 2


def build_head(cfg, **branch):
    """A head from ``cfg`` (seeded, weights initialised), branch fields overridden."""
    import torch

    from mmdet.registry import MODELS
    torch.manual_seed(0)
    if branch:
        cfg = dict(cfg, contrastive_branch=dict(cfg['contrastive_branch'], **branch))
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def gt(boxes, labels):
    import torch
    from mmengine.structures import InstanceData
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float).view(-1, 4),
                        labels=torch.tensor(labels, dtype=torch.long))


def capture(monkeypatch, obj, name, store):
    """Record (args, kwargs, result) of every call of ``obj.name``."""
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        store.append((args, kwargs, out))
        return out
    monkeypatch.setattr(obj, name, wrapper)
