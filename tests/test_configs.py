"""Every config of the project builds its model (nothing pretrained), the joint ones with
their contrastive branch, and every training config carries the safety hooks beside the
stock config's own hooks."""
import glob
import os.path as osp
import warnings

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from joint_testing import REPO
from mmclipjoint.utils.branches import contrastive_branches
from mmclipjoint.utils.config import fused_options, joint_heads
from mmdet.registry import MODELS

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
CONFIGS = [c for c in CONFIGS if '/_base_/' not in c]
SAFETY_HOOKS = {'JointTrainingCheckHook', 'LossGuardHook', 'RandomStateHook'}


def without_downloads(cfg):
    """Backbone without its pretrained weights, banks without CLIP."""
    model = cfg.model
    if model.get('backbone', {}).get('init_cfg'):
        model.backbone.init_cfg = None
    for _, head in joint_heads(model):
        head.contrastive_branch.text_bank.init = 'random'
    return model


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(c, REPO) for c in CONFIGS])
def test_config_builds_its_model_with_the_safety_hooks(path):
    cfg = Config.fromfile(path)
    if cfg.get('default_scope') == 'mmpretrain':  # a backbone's classification pretraining
        from mmpretrain.registry import MODELS as CLASSIFIERS
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = CLASSIFIERS.build(cfg.model)
        assert model.backbone.__class__.__module__.startswith(('mmdet.', 'mmclipjoint.'))
        return
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(without_downloads(cfg))
    branches = contrastive_branches(model)
    assert bool(branches) == ('clip-joint' in osp.basename(path))
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    if '_shapes' in path or 'clip-joint' in path:
        assert SAFETY_HOOKS <= set(hooks)
    stock = {'yolox_s_': {'YOLOXModeSwitchHook', 'SyncNormHook', 'EMAHook'},
             'rtmdet_s_': {'PipelineSwitchHook', 'EMAHook'},
             'rtmdet_tiny_clip-joint_8xb32': {'PipelineSwitchHook', 'EMAHook'},
             'yolox_tiny_clip-joint_8xb8': {'YOLOXModeSwitchHook', 'EMAHook'},
             'yolo11_': {'YOLOLRScheduleHook', 'EMAHook'},
             'yolo11_n_clip-joint_8xb16': {'PipelineSwitchHook'}}
    for name, expected in stock.items():
        if name in osp.basename(path) and 'clip-joint' in path:
            assert expected <= set(hooks), hooks
    if branches:  # the text bank without weight decay, in a handful of optimizer groups
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys['text_bank'] == dict(decay_mult=0.0)
        assert cfg.optim_wrapper.constructor == 'GroupedOptimWrapperConstructor'


def test_faster_rcnn_default_is_the_studied_choice_and_the_paper_setting_stays():
    """The built-in Faster R-CNN joint config uses the option the study chose on
    validation (a tenth of the branch's gradient into the shared FCs, fused inference);
    the end-to-end config is the paper's setting, and the ablations change that one."""
    joint = 'configs/clip_joint/faster-rcnn_r18-slim_fpn_clip-joint{}_12e_shapes.py'
    branches = {}
    for name in ('', '-end-to-end'):
        cfg = Config.fromfile(osp.join(REPO, joint.format(name)))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            model = MODELS.build(without_downloads(cfg))
        branches[name] = model.roi_head.bbox_head.contrastive_branch
    assert branches[''].feature_grad_scale == 0.1 and branches[''].inference == 'fused'
    end_to_end = branches['-end-to-end']
    assert end_to_end.feature_grad_scale == 1.0 and end_to_end.inference == 'stock'
    for path in glob.glob(osp.join(REPO, 'configs/clip_joint/ablations/faster-rcnn_*.py')):
        parent = ("crops-pre_fpn_clip-joint-end-to-end_8e_shapes.py'" if 'crops-pre' in path
                  else "clip-joint-end-to-end_12e_shapes.py'")
        assert parent in open(path).read(), path
    # the same two settings from the pretrained backbone: the main job's joint model
    main, paper = (Config.fromfile(osp.join(
        REPO, f'configs/clip_joint/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint{n}_8e_shapes.py'))
        for n in ('', '-end-to-end'))
    branch = paper.model.roi_head.bbox_head.contrastive_branch
    assert branch.get('feature_grad_scale', 1.0) == 1.0 and branch.inference == 'stock'
    branch.update(feature_grad_scale=0.1, inference='fused')
    assert main.model == paper.model


def test_the_paper_setting_is_the_parent_and_the_default_changes_two_fields():
    """Inheritance runs from the paper's setting to the tuned default, so a field added to
    the default cannot change the paper's setting or its ablations."""
    joint = osp.join(REPO, 'configs/clip_joint/faster-rcnn_r18-slim_fpn_clip-joint{}_12e_shapes.py')
    paper, default = (Config.fromfile(joint.format(n)) for n in ('-end-to-end', ''))
    assert "_base_ = '../faster_rcnn/faster-rcnn_r18-slim_fpn_12e_shapes.py'" in \
        open(joint.format('-end-to-end')).read()
    assert "_base_ = './faster-rcnn_r18-slim_fpn_clip-joint-end-to-end_12e_shapes.py'" in \
        open(joint.format('')).read()
    expected = paper.to_dict()
    branch = expected['model']['roi_head']['bbox_head']['contrastive_branch']
    branch.update(feature_grad_scale=0.1, inference='fused')
    tuned = default.to_dict()
    tuned.pop('filename', None), expected.pop('filename', None)
    assert tuned == expected


def test_joint_heads_are_found_at_every_depth_and_in_every_cascade_stage():
    def heads(name):
        return joint_heads(Config.fromfile(osp.join(REPO, 'configs/clip_joint', name)).model)
    assert [p for p, _ in heads('cascade-rcnn_r50_fpn_clip-joint_1x_coco.py')] == [
        f'model.roi_head.bbox_head[{i}]' for i in range(3)]
    assert [p for p, _ in heads('yolox_tiny_clip-joint_12e_shapes.py')] == ['model.bbox_head']
    cascade = Config.fromfile(osp.join(REPO, 'configs/clip_joint/'
                                       'cascade-rcnn_r50_fpn_clip-joint_1x_coco.py'))
    options = fused_options(cascade.model)
    assert options == [f'model.roi_head.bbox_head.{i}.contrastive_branch.inference=fused'
                       for i in range(3)]
    cascade.merge_from_dict(dict(o.split('=') for o in options))  # what --cfg-options does
    assert all(h.contrastive_branch.inference == 'fused' for _, h in joint_heads(cascade.model))
    assert fused_options(cascade.model) == []  # fused already


def test_joint_shapes_configs_start_from_the_builtin_clip_and_random_is_an_ablation():
    """The joint shapes configs of every family read their class embeddings from the
    built-in CLIP, whose file they list in builtin_weights (unpacked on first use); each
    family's random-text ablation differs from it in the text start only."""
    from mmclipjoint.models.layers.clip_text import BUILTIN_CLIP_MODEL
    from mmclipjoint.utils.families import BUILTIN_FAMILIES
    joints = [joint for _, joint in BUILTIN_FAMILIES.values()]
    joints.append('configs/clip_joint/faster-rcnn_r18-slim_fpn_clip-joint_12e_shapes.py')
    joints += glob.glob('configs/clip_joint/*crops-pre*_shapes.py', root_dir=REPO)
    assert len(joints) == 10
    checked = []
    for joint in joints:
        cfg = Config.fromfile(osp.join(REPO, joint))
        (_, head), = joint_heads(cfg.model)
        bank = head.contrastive_branch.text_bank
        assert bank.init == 'clip' and bank.clip.model == BUILTIN_CLIP_MODEL, joint
        assert bank.clip.pretrained in cfg.builtin_weights, joint
        # every family's end-to-end joint config has a random-text ablation (the main
        # Faster R-CNN ones are an end-to-end config with two settings changed)
        main = 'faster-rcnn' in joint and 'end-to-end' not in joint
        if joint in joints[:4] or ('crops-pre' in joint and not main):
            name = osp.basename(joint).replace('clip-joint_', 'clip-joint-random-text_').replace(
                'clip-joint-end-to-end_', 'clip-joint-random-text_')
            ablation = Config.fromfile(osp.join(REPO, 'configs/clip_joint/ablations', name))
            (_, random_head), = joint_heads(ablation.model)
            assert random_head.contrastive_branch.text_bank.init == 'random'
            random_head.contrastive_branch.text_bank.init = 'clip'
            assert ablation.model == cfg.model, name
            # no CLIP file needed; a pretrained backbone's file still is
            assert ablation.builtin_weights == [w for w in cfg.builtin_weights
                                                if w != bank.clip.pretrained], name
            checked.append(name)
    assert len(checked) == 8


@pytest.mark.slow
def test_main_joint_model_starts_from_the_builtin_clip_without_random_warning(
        tmp_path, monkeypatch):
    """What `make demo` builds: the bank's initial embeddings are the built-in CLIP's
    encoding of "a photo of a {class}.", no random-start warning is given, and the
    backbone is the built-in pretrained one."""
    import torch

    from mmclipjoint.models.layers.clip_text import BUILTIN_CLIP_MODEL, encode_class_names
    from mmclipjoint.pretraining.artifacts import prepare_builtin_weights
    from mmclipjoint.utils.branches import text_banks
    monkeypatch.chdir(tmp_path)  # the weights are unpacked under the working directory
    main_joint = 'clip_joint/faster-rcnn_r18-slim-crops-pre_fpn_clip-joint_8e_shapes.py'
    with open(osp.join(REPO, 'tools/demo.py')) as f:
        assert f"'{main_joint}')]" in f.read()  # the demo's second config
    cfg = Config.fromfile(osp.join(REPO, 'configs', main_joint))
    assert prepare_builtin_weights(cfg) == ['data/pretrained/mmclipjoint-shapes-clip.pt',
                                            'data/pretrained/r18-slim_shapes-crops.pth']
    model = MODELS.build(cfg.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model.init_weights()
    assert not [w for w in caught if "init='random'" in str(w.message)]
    (bank, ) = text_banks(model).values()
    expected = encode_class_names(bank.class_names, BUILTIN_CLIP_MODEL,
                                  'data/pretrained/mmclipjoint-shapes-clip.pt')
    torch.testing.assert_close(bank.embeddings.data, expected, rtol=0, atol=1e-6)
    pretrained = torch.load('data/pretrained/r18-slim_shapes-crops.pth', weights_only=True)
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight,
                               pretrained['state_dict']['backbone.layer4.1.conv2.weight'])


@pytest.mark.parametrize('config', [
    'configs/rtmdet/rtmdet_tiny_12e_shapes.py',
    'configs/clip_joint/rtmdet_tiny_crops-pre_clip-joint_12e_shapes.py',
    'configs/rtmdet/rtmdet_tiny_sepbn-head_12e_shapes.py'])
def test_rtmdet_shapes_head_normalises_each_image_by_itself(config):
    """The built-in RTMDet-tiny configs' head has no BatchNorm: its outputs are the same in
    training and in evaluation mode and do not depend on the other images of the batch
    (docs/robustness_study.md: the stride-32 level's BatchNorm statistics made the head
    fire on a few test images). The SepBN ablation, MMDetection's head, does not."""
    import torch
    cfg = Config.fromfile(osp.join(REPO, config))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(without_downloads(cfg))
    head = model.bbox_head
    sepbn = 'sepbn' in config
    norms = {type(conv.norm).__name__ for level in head.cls_convs + head.reg_convs
             for conv in level}
    if sepbn:
        assert norms and norms <= {'BatchNorm2d', 'SyncBatchNorm'}, norms
    else:
        assert norms == {'GroupNorm'}, norms
    torch.manual_seed(0)
    feats = [torch.randn(2, 96, s, s) for s in (20, 10, 5)]
    model.eval()
    with torch.no_grad():
        eval_scores = head(feats)[0]
        alone = head([f[:1] for f in feats])[0]
        head.train()
        branch = getattr(head, 'contrastive_branch', None)
        train_scores = head(feats)[0]
        if branch is not None:
            branch.train()  # drop the training step's record
    # (1e-6 apart: the same image convolved in batches of two sizes)
    same = all(torch.allclose(a, b, atol=1e-5) and torch.allclose(a[:1], c, atol=1e-5)
               for a, b, c in zip(eval_scores, train_scores, alone))
    assert same != sepbn
