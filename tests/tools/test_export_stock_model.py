"""tools/export_stock_model.py: a joint checkpoint of each family becomes a stock
MMDetection checkpoint and config that load with no missing or unexpected key, in a
process that never imports mmclipjoint (the YOLO11 detector itself is this package's),
and predict exactly what the joint model predicts with inference='stock'; a fused
config and a checkpoint with nothing to strip are refused."""
import copy
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from joint_testing import (JOINT_CONFIG, RTMDET_JOINT, YOLO11_JOINT, YOLOX_JOINT, build_detector,
                           load_config, run_tool, shapes_batch)

pytestmark = pytest.mark.slow  # every test here trains or starts processes

CLASSES = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross')
FAMILIES = pytest.mark.parametrize(
    'config, stock_head', [(JOINT_CONFIG, 'Shared2FCBBoxHead'), (YOLOX_JOINT, 'YOLOXHead'),
                           (RTMDET_JOINT, 'RTMDetSepBNHead'), (YOLO11_JOINT, 'YOLO11Head')],
    ids=['faster-rcnn', 'yolox', 'rtmdet', 'yolo11'])

# Build the exported config's model and load the exported weights, in a fresh process;
# the check `mmclipjoint` never imported holds unless the model is YOLO11 (this package's).
LOAD_STOCK = '''
import json, sys, torch
from mmengine.config import Config
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
register_all_modules()
cfg = Config.fromfile(sys.argv[1])
model = MODELS.build(cfg.model)
checkpoint = torch.load(sys.argv[2], map_location='cpu')  # weights_only: plain content
result = model.load_state_dict(checkpoint['state_dict'], strict=False)
print(json.dumps(dict(missing=result.missing_keys, unexpected=result.unexpected_keys,
                      mmclipjoint='mmclipjoint' in sys.modules,
                      head=type(model.roi_head.bbox_head if hasattr(model, 'roi_head')
                                else model.bbox_head).__name__)))
'''


def flatten(outputs):
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs for t in flatten(item)]


def save_joint_checkpoint(model, path):
    torch.save(dict(state_dict=model.state_dict(), optimizer={'state': {}},
                    meta=dict(dataset_meta=dict(classes=CLASSES), epoch=3)), path)


@FAMILIES
def test_exported_model_is_stock_and_predicts_as_the_joint_one(tiny_shapes, tmp_path, config,
                                                               stock_head):
    torch.manual_seed(0)
    joint = build_detector(config)
    optim = build_optim_wrapper(joint, load_config(config).optim_wrapper)
    batch = shapes_batch(tiny_shapes[0], [0, 1, 2, 3], config)
    for _ in range(5):  # a few steps, so that every head predicts boxes
        losses = joint(**joint.data_preprocessor(copy.deepcopy(batch), training=True),
                       mode='loss')
        optim.update_params(joint.parse_losses(losses)[0])
    joint.eval()
    ckpt = str(tmp_path / 'epoch_3.pth')
    save_joint_checkpoint(joint, ckpt)
    log = run_tool('export_stock_model.py', config, ckpt, '--out-dir', str(tmp_path / 'out'),
                   cwd=str(tmp_path))
    name = osp.splitext(osp.basename(config))[0]
    stock_cfg = tmp_path / 'out' / f'{name}_stock.py'
    stock_ckpt = tmp_path / 'out' / 'epoch_3_stock.pth'
    assert 'of the contrastive branch removed' in log and stock_cfg.exists()
    exported = torch.load(stock_ckpt, weights_only=True)
    assert exported['meta']['dataset_meta']['classes'] == CLASSES
    assert not any('contrastive_branch' in k for k in exported['state_dict'])
    assert 'optimizer' not in exported

    proc = subprocess.run([sys.executable, '-c', LOAD_STOCK, str(stock_cfg), str(stock_ckpt)],
                          capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded['missing'] == [] and loaded['unexpected'] == []
    assert loaded['head'] == stock_head
    assert loaded['mmclipjoint'] == (stock_head == 'YOLO11Head')

    # Same predictions as the joint model with inference='stock'.
    from mmengine.config import Config

    from mmdet.registry import MODELS
    stock = MODELS.build(Config.fromfile(str(stock_cfg)).model).eval()
    stock.load_state_dict(exported['state_dict'], strict=True)
    for model in (joint, stock):  # untrained one-stage scores are low: keep every box
        for module in model.modules():
            if isinstance(getattr(module, 'test_cfg', None), dict) and \
                    'score_thr' in module.test_cfg:
                module.test_cfg['score_thr'] = 0.0
    val = shapes_batch(tiny_shapes[0], [0, 1, 2], config, 'val')
    with torch.no_grad():
        ours = joint(**joint.data_preprocessor(copy.deepcopy(val)), mode='predict')
        theirs = stock(**stock.data_preprocessor(copy.deepcopy(val)), mode='predict')
        raw_ours = joint(**joint.data_preprocessor(copy.deepcopy(val)), mode='tensor')
        raw_theirs = stock(**stock.data_preprocessor(copy.deepcopy(val)), mode='tensor')
    flat_ours, flat_theirs = flatten(raw_ours), flatten(raw_theirs)
    assert len(flat_ours) == len(flat_theirs) > 0
    for a, b in zip(flat_ours, flat_theirs):  # the raw head outputs, exactly
        assert torch.equal(a, b)
    if 'rtmdet' not in config:  # 5 steps leave RTMDet's boxes on 96-px images degenerate
        assert sum(len(r.pred_instances) for r in ours) > 0
    for a, b in zip(ours, theirs):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(a.pred_instances[key], b.pred_instances[key])


def test_fused_config_and_stock_checkpoint_are_refused(tmp_path):
    torch.manual_seed(0)
    joint = build_detector(YOLOX_JOINT)
    ckpt = str(tmp_path / 'joint.pth')
    save_joint_checkpoint(joint, ckpt)
    code, log = run_tool('export_stock_model.py', YOLOX_JOINT, ckpt, '--cfg-options',
                         'model.bbox_head.contrastive_branch.inference=fused',
                         cwd=str(tmp_path), check=False)
    assert code != 0 and "inference is 'fused', which needs the contrastive branch" in log
    assert 'bbox_head.contrastive_branch.inference=stock' in log
    stock_ckpt = str(tmp_path / 'stock.pth')
    torch.save(dict(state_dict={k: v for k, v in joint.state_dict().items()
                                if 'contrastive_branch' not in k},
                    meta=dict(dataset_meta=dict(classes=CLASSES))), stock_ckpt)
    code, log = run_tool('export_stock_model.py', YOLOX_JOINT, stock_ckpt, cwd=str(tmp_path),
                         check=False)
    assert code != 0 and 'has no contrastive-branch weights: it is a stock checkpoint' in log
    assert not osp.exists(tmp_path / 'exported')
