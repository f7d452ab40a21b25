"""The built-in pretrained backbones: the crops they are trained on, the shipped weights'
top-1, their loading by the detector configs (as an ImageNet checkpoint is), and a short
run of the real training and export."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmclipjoint.datasets.pretraining import PRETRAINING_SHAPES, PretrainingParams
from mmclipjoint.pretraining.artifacts import ARTIFACTS, PACKED_DIR, ensure_builtin_weights
from mmclipjoint.pretraining.backbones import (BACKBONE_CONFIGS, PretrainingCrops,
                                               build_builtin_backbone, build_classifier,
                                               evaluate_builtin_backbone, save_backbone_weights)
from mmclipjoint.pretraining.packing import load_packed, unpack_weights
from mmclipjoint.utils.families import REPO_ROOT
from mmdet.registry import MODELS

# Each family's stock config with the pretrained backbone, and the file it loads.
PRETRAINED_CONFIGS = {
    'r18-slim_shapes-crops.pth': 'faster_rcnn/faster-rcnn_r18-slim-crops-pre_fpn_8e_shapes.py',
    'cspdarknet-tiny_shapes-crops.pth': 'yolox/yolox_tiny_crops-pre_12e_shapes.py',
    'cspnext-tiny_shapes-crops.pth': 'rtmdet/rtmdet_tiny_crops-pre_12e_shapes.py',
    'yolo11n_shapes-crops.pth': 'yolo11/yolo11_n_crops-pre_24e_shapes.py',
}
JOINT_PRETRAINED_CONFIGS = {
    'r18-slim_shapes-crops.pth':
    'clip_joint/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint_8e_shapes.py',
    'cspdarknet-tiny_shapes-crops.pth': 'clip_joint/yolox_tiny_crops-pre_clip-joint_12e_shapes.py',
    'cspnext-tiny_shapes-crops.pth': 'clip_joint/rtmdet_tiny_crops-pre_clip-joint_12e_shapes.py',
    'yolo11n_shapes-crops.pth': 'clip_joint/yolo11_n_crops-pre_clip-joint_24e_shapes.py',
}
# The backbones with a packed copy in pretrained/ (the others are built on first use).
SHIPPED = sorted(name for name in BACKBONE_CONFIGS
                 if osp.isfile(osp.join(PACKED_DIR, ARTIFACTS[name].packed)))


@pytest.fixture(scope='module')
def tiny_build(tmp_path_factory, detection_root):
    """One epoch of the real CSPDarknet classification config (the one backbone not
    shipped, so also its build on first use) on a 60-scene split, the loss logged at
    every iteration. That training learns is shown by the shipped weights' top-1."""
    tmp = tmp_path_factory.mktemp('tiny_build')
    result = build_builtin_backbone(
        'cspdarknet-tiny_shapes-crops.pth', out_dir=str(tmp / 'out'), work_dir=str(tmp / 'work'),
        pack_to=str(tmp / 'packed.pt'), eval_data_root=detection_root, epochs=1, batch_size=16,
        num_scenes=60, data_root=str(tmp / 'pretraining'),
        options={'default_hooks.logger.interval': 1, 'log_processor.window_size': 1})
    return tmp, result


def test_shipped_packed_copies_are_the_three_the_docs_name():
    assert SHIPPED == ['cspnext-tiny_shapes-crops.pth', 'r18-slim_shapes-crops.pth',
                       'yolo11n_shapes-crops.pth']
    assert set(BACKBONE_CONFIGS) == set(PRETRAINED_CONFIGS) <= set(ARTIFACTS)


def test_crops_split_by_scene_into_train_and_val_in_bgr(tmp_path):
    from mmclipjoint.datasets.pretraining import load_pretraining_objects, object_scenes
    params = dict(num_scenes=40)
    train = PretrainingCrops(str(tmp_path), 'train', params=params)
    val = PretrainingCrops(str(tmp_path), 'val', params=params)
    crops, attributes = load_pretraining_objects(str(tmp_path), PretrainingParams(**params))
    scenes = object_scenes(PretrainingParams(**params))
    assert len(train) + len(val) == len(crops) and len(val) > 0
    assert set(scenes[:len(train)]) == set(range(36))
    assert set(scenes[len(train):]) == {36, 37, 38, 39}
    item = val.get_data_info(0)
    np.testing.assert_array_equal(item['img'], crops[len(train)][..., ::-1])
    assert item['gt_label'] == attributes[len(train), 0]
    assert {train.get_data_info(i)['gt_label'] for i in range(len(train))} <= set(range(10))
    assert train.metainfo['classes'] == PRETRAINING_SHAPES
    with pytest.raises(ValueError, match="PretrainingCrops.split must be 'train' or 'val'"):
        PretrainingCrops(str(tmp_path), 'test', params=params)


@pytest.mark.parametrize('name', sorted(BACKBONE_CONFIGS))
def test_classifier_backbone_is_the_detectors_own(name):
    """The classification config builds the very backbone its detector builds: the
    same parameter and buffer names and shapes (what prefix='backbone.' loads)."""
    classifier = build_classifier(name)
    config = Config.fromfile(f'{REPO_ROOT}/configs/{PRETRAINED_CONFIGS[name]}')
    detector = MODELS.build(config.model)
    ours = {k: v.shape for k, v in classifier.backbone.state_dict().items()}
    theirs = {k: v.shape for k, v in detector.backbone.state_dict().items()}
    assert ours == theirs


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_backbone_classifies_test_split_crops(name, tmp_path, detection_root):
    """Top-1 over the six classes on the detection test split's object crops (never seen
    in pretraining): the shipped weights pass the bar, the same classifier untrained
    does not."""
    path = ensure_builtin_weights(str(tmp_path / name), logger=lambda *a: None)
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    classifier = build_classifier(name)
    untrained = evaluate_builtin_backbone(classifier, detection_root)['top1']
    classifier.load_state_dict(checkpoint['state_dict'])
    result = evaluate_builtin_backbone(classifier, detection_root)
    assert result['objects'] > 1000
    assert result['top1'] >= 0.9 > 0.5 > untrained
    metadata = load_packed(f"{PACKED_DIR}/{ARTIFACTS[name].packed}")['metadata']
    assert metadata['test_split_top1'] == pytest.approx(result['top1'], abs=1e-6)
    assert metadata['top1'] >= 0.9 and metadata['train_minutes'] <= 10


def _loaded_backbone_matches(config_path, weights, monkeypatch):
    cfg = Config.fromfile(config_path)
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=f'data/pretrained/{weights.name}', prefix='backbone.')
    assert f'data/pretrained/{weights.name}' in cfg.builtin_weights
    cfg.model.backbone.init_cfg.checkpoint = str(weights)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    state = torch.load(weights, map_location='cpu', weights_only=True)['state_dict']
    loaded = detector.backbone.state_dict()
    assert loaded.keys() == {k[len('backbone.'):] for k in state if k.startswith('backbone.')}
    for key, value in loaded.items():
        torch.testing.assert_close(value, state[f'backbone.{key}'], rtol=0, atol=0)
    return detector


@pytest.mark.parametrize('name', SHIPPED)
def test_pretrained_configs_load_the_shipped_backbone(name, tmp_path, monkeypatch):
    weights = tmp_path / name
    ensure_builtin_weights(str(weights), logger=lambda *a: None)
    for config in (PRETRAINED_CONFIGS[name], JOINT_PRETRAINED_CONFIGS[name]):
        detector = _loaded_backbone_matches(f'{REPO_ROOT}/configs/{config}', weights, monkeypatch)
    if name.startswith('r18'):  # as MMDetection's ImageNet configs: stem, stage 1 frozen
        detector.train()
        assert not any(p.requires_grad for p in detector.backbone.layer1.parameters())
        assert all(p.requires_grad for p in detector.backbone.layer2.parameters())
        assert not detector.backbone.layer3[0].bn1.training


@pytest.mark.slow
def test_training_runs_exports_packs_and_loads(tiny_build, monkeypatch):
    tmp, result = tiny_build
    # the classification Runner's scope does not outlive the build (mmdet's is found next)
    from mmengine.registry import DefaultScope
    scope = DefaultScope.get_current_instance()
    assert scope is None or scope.scope_name != 'mmpretrain'
    log = next((tmp / 'work').glob('*/vis_data/scalars.json'))
    scalars = [json.loads(line) for line in open(log)]
    losses = [s['loss'] for s in scalars if 'loss' in s]
    train_crops = len(PretrainingCrops(str(tmp / 'pretraining'), params=dict(num_scenes=60)))
    assert len(losses) == -(-train_crops // 16) and np.isfinite(losses).all()
    weights = tmp / 'out' / 'cspdarknet-tiny_shapes-crops.pth'
    checkpoint = torch.load(weights, map_location='cpu', weights_only=True)
    assert {k.split('.')[0] for k in checkpoint['state_dict']} == {'backbone', 'head'}
    assert checkpoint['meta']['top1'] == result['top1']
    figures = json.loads((tmp / 'out' / 'cspdarknet-tiny_shapes-crops.json').read_text())
    assert figures == result and 0 <= result['top1'] <= 1 and result['val_crops'] > 0
    assert result['test_split_objects'] > 1000 and result['epochs'] == 1
    # The file is the packed copy unpacked: a build and a first-use unpacking agree.
    for key, value in unpack_weights(load_packed(str(tmp / 'packed.pt'))).items():
        torch.testing.assert_close(checkpoint['state_dict'][key], value, rtol=0, atol=0)
    for config in (PRETRAINED_CONFIGS[weights.name], JOINT_PRETRAINED_CONFIGS[weights.name]):
        _loaded_backbone_matches(f'{REPO_ROOT}/configs/{config}', weights, monkeypatch)


def test_saving_weights_without_a_backbone_names_the_file(tmp_path):
    with pytest.raises(KeyError, match=r'w.pth: no backbone\.\* entries'):
        save_backbone_weights(dict(head=torch.zeros(1)), str(tmp_path / 'w.pth'))
    with pytest.raises(KeyError, match='is not a built-in backbone'):
        build_builtin_backbone('resnet50.pth', out_dir=str(tmp_path))
