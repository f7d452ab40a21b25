"""DetInferencer and tools/image_demo.py on joint configs and checkpoints: the picture
and predictions are written, the labels are the model's classes (from the checkpoint,
or from the config when the checkpoint has none: never COCO's), and fused inference
runs through it."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from joint_testing import JOINT_CONFIG, YOLOX_JOINT, build_detector, run_tool
from mmclipjoint.utils.inference import build_inferencer

CLASSES = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross')


@pytest.fixture(scope='module')
def joint_checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    torch.manual_seed(0)
    model = build_detector(YOLOX_JOINT)
    with_meta, without_meta = str(root / 'with_meta.pth'), str(root / 'without_meta.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES))), with_meta)
    torch.save(dict(state_dict=model.state_dict()), without_meta)
    return root, with_meta, without_meta


@pytest.mark.slow
def test_image_demo_writes_the_picture_with_the_models_classes(tiny_shapes, joint_checkpoints):
    root, with_meta, _ = joint_checkpoints
    image = osp.join(tiny_shapes[0], 'VOC2007/JPEGImages/val_00000.jpg')
    out = str(root / 'out')
    log = run_tool('image_demo.py', image, YOLOX_JOINT, '--weights', with_meta, '--out-dir', out,
                   '--pred-score-thr', '0', '--device', 'cpu', '--cfg-options',
                   'model.test_cfg.score_thr=0', cwd=str(root))  # untrained: low scores
    assert "classes from" in log and "'circle'" in log and 'person' not in log
    assert osp.isfile(osp.join(out, 'vis', 'val_00000.jpg'))
    preds = json.load(open(osp.join(out, 'preds', 'val_00000.json')))
    assert preds['labels'] and max(preds['labels']) < len(CLASSES)


def test_classes_come_from_the_config_when_the_checkpoint_has_none(joint_checkpoints):
    _, with_meta, without_meta = joint_checkpoints
    for weights in (with_meta, without_meta):
        inferencer = build_inferencer(Config.fromfile(YOLOX_JOINT), weights, 'cpu')
        assert inferencer.visualizer.dataset_meta['classes'] == CLASSES
        assert inferencer.model.dataset_meta['classes'] == CLASSES
    # A checkpoint of other classes than the model's is refused, naming both counts.
    other = str(osp.join(osp.dirname(with_meta), 'other.pth'))
    checkpoint = torch.load(with_meta, weights_only=True)
    checkpoint['meta']['dataset_meta']['classes'] = ('a', 'b')
    torch.save(checkpoint, other)
    with pytest.raises(ValueError, match='names 2 classes but the model predicts 6'):
        build_inferencer(Config.fromfile(YOLOX_JOINT), other, 'cpu')


def test_fused_inference_through_the_inferencer(tiny_shapes, joint_checkpoints):
    _, with_meta, _ = joint_checkpoints
    image = osp.join(tiny_shapes[0], 'VOC2007/JPEGImages/val_00001.jpg')
    scores = {}
    for mode in ('stock', 'fused'):
        cfg = Config.fromfile(YOLOX_JOINT)
        cfg.model.bbox_head.contrastive_branch.inference = mode
        cfg.model.test_cfg.score_thr = 0.0
        inferencer = build_inferencer(cfg, with_meta, 'cpu')
        result = inferencer(image, return_datasamples=True)['predictions'][0]
        scores[mode] = result.pred_instances.scores
        branch = inferencer.model.bbox_head.contrastive_branch
        assert branch.inference == mode
    assert len(scores['fused']) and not torch.equal(scores['stock'][:10], scores['fused'][:10])


def test_two_stage_joint_model_through_the_inferencer(tiny_shapes, tmp_path):
    torch.manual_seed(0)
    model = build_detector(JOINT_CONFIG)
    weights = str(tmp_path / 'frcnn.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES))), weights)
    inferencer = build_inferencer(Config.fromfile(JOINT_CONFIG), weights, 'cpu')
    image = osp.join(tiny_shapes[0], 'VOC2007/JPEGImages/val_00000.jpg')
    result = inferencer(image, out_dir=str(tmp_path / 'out'), no_save_pred=False)
    assert osp.isfile(tmp_path / 'out' / 'vis' / 'val_00000.jpg')
    assert inferencer.visualizer.dataset_meta['classes'] == CLASSES
    assert 'predictions' in result
