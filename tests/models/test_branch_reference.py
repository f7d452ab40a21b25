"""Behaviour kept across the branch contract of 0.2.0: each joint head, given 0.1.0's
weights (its checkpoint keys, loaded through the legacy key mapping) and the same
inputs, computes the losses and fused scores 0.1.0 computed (tests/data/
branch_reference.pt, written by tests/data/make_branch_reference.py from 0.1.0)."""
import os.path as osp

import pytest
import torch

from joint_testing import REPO
from mmdet.registry import MODELS

REFERENCE = osp.join(REPO, 'tests', 'data', 'branch_reference.pt')


def reference():
    return torch.load(REFERENCE, weights_only=True)


def head_config(name):
    """0.1.0's reference head config in 0.2.0's form (branch fields moved)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'make_branch_reference', osp.join(REPO, 'tests', 'data', 'make_branch_reference.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = dict(module.HEADS[name])
    branch = {key: cfg.pop(key) for key in ('text_bank', 'loss_contrastive', 'negative_ratio',
                                            'min_negatives') if key in cfg}
    if 'proj_hidden_dims' in cfg:
        branch['hidden_channels'] = cfg.pop('proj_hidden_dims')
    cfg['type'] = cfg['type'].replace('ContrastiveYOLOHead', 'ContrastiveYOLOXHead')
    return dict(cfg, contrastive_branch=branch), module


@pytest.mark.parametrize('name', ['bbox', 'yolox', 'rtmdet'])
def test_same_losses_and_fused_scores_as_before_the_branch_contract(name):
    ref = reference()
    assert ref['version'] == '0.1.0'
    cfg, maker = head_config(name)
    head = MODELS.build(cfg)
    old_keys = ref[name]['state_dict']
    assert not any('contrastive_branch' in k for k in old_keys)  # 0.1.0's own key names
    incompatible = head.load_state_dict(old_keys, strict=True)
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    losses = maker.head_losses(name, head, ref[name]['inputs'])
    assert set(losses) == set(ref[name]['losses'])
    for key, value in ref[name]['losses'].items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-6, msg=key)
    head.load_state_dict(old_keys)  # BatchNorm statistics as 0.1.0 left them
    head.eval()
    head.contrastive_branch.inference = 'fused'
    inputs = ref[name]['inputs']
    with torch.no_grad():
        fused = head(inputs['rois_feats'] if name == 'bbox' else inputs['feats'])[0]
    expected = ref[name]['fused_scores']
    for ours, theirs in zip(fused if name != 'bbox' else [fused],
                            expected if name != 'bbox' else [expected]):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
