"""The four joint detectors, built from their real configs: they train (every loss term
falls, the branch learns to classify), and with ``inference='stock'`` they predict
exactly what the stock detector with the same (trained) weights predicts."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch.nn.modules.batchnorm import _BatchNorm

from joint_testing import (BASELINE_CONFIG, JOINT_CONFIG, RTMDET_BASELINE, RTMDET_JOINT,
                           YOLO11_BASELINE, YOLO11_JOINT, YOLOX_BASELINE, YOLOX_JOINT,
                           build_detector, load_config, shapes_batch)

pytestmark = pytest.mark.slow  # every test here trains or starts processes

PAIRS = [(BASELINE_CONFIG, JOINT_CONFIG, 'roi_head.bbox_head.contrastive_branch.'),
         (YOLOX_BASELINE, YOLOX_JOINT, 'bbox_head.contrastive_branch.'),
         (RTMDET_BASELINE, RTMDET_JOINT, 'bbox_head.contrastive_branch.'),
         (YOLO11_BASELINE, YOLO11_JOINT, 'bbox_head.contrastive_branch.')]


def settle_batchnorm(model, batch):
    """BatchNorm running statistics of the training batch, as a full training would leave
    them: 20 steps at YOLOX's momentum of 0.03 leave them near their initial 0 and 1, and
    eval-mode scores then depend on how far from those the features happen to be: all
    YOLOX scores came out exactly 0 once unpinned dependencies had moved on (numpy 2.4.6,
    pillow 13.0, opencv-python 5.0 on 2026-11-30), where they had been above 0.01."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [m.momentum for m in norms]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # cumulative average over the batch
    model.train()
    with torch.no_grad():
        model(**model.data_preprocessor(copy.deepcopy(batch), training=True), mode='loss')
    for module, momentum in zip(norms, momenta):
        module.momentum = momentum


@pytest.mark.parametrize('baseline_cfg, joint_cfg, branch', PAIRS,
                         ids=['faster-rcnn', 'yolox', 'rtmdet', 'yolo11'])
def test_joint_detector_learns_and_predicts_as_the_stock_one(tiny_shapes, baseline_cfg,
                                                             joint_cfg, branch):
    root = tiny_shapes[0]
    torch.manual_seed(0)
    joint = build_detector(joint_cfg)
    optim = build_optim_wrapper(joint, load_config(joint_cfg).optim_wrapper)
    batch = shapes_batch(root, [0, 1, 2, 3], joint_cfg)
    history = []
    for _ in range(20):
        losses = joint(**joint.data_preprocessor(copy.deepcopy(batch), training=True),
                       mode='loss')
        assert {'loss_cls', 'loss_bbox', 'loss_infonce', 'loss_aux_ce', 'infonce_acc',
                'text_logit_scale'} <= set(losses)
        total, log = joint.parse_losses(losses)
        optim.update_params(total)
        history.append({k: float(v) for k, v in log.items()})
    first, last = history[0], history[-1]
    # (a clear fall on one batch in 20 steps: 0.61 of the first for RTMDet's GroupNorm head
    # with one thread, as make test runs)
    assert last['loss_infonce'] < 0.65 * first['loss_infonce']
    assert last['loss_aux_ce'] < first['loss_aux_ce']
    assert last['infonce_acc'] > first['infonce_acc'] + 30
    if 'rtmdet' in joint_cfg:
        # RTMDet's dynamic soft-label assigner finds almost no positives for random boxes,
        # so its stock terms start near zero and rise once positives appear; the total
        # then falls from that peak.
        assert last['loss'] < 0.6 * max(h['loss'] for h in history[:5])
    else:
        assert last['loss'] < 0.8 * first['loss']

    # The trained joint weights in the stock detector: the stock keys are unchanged, and
    # only the branch is left over.
    settle_batchnorm(joint, batch)
    baseline = build_detector(baseline_cfg).eval()
    joint.eval()
    incompatible = baseline.load_state_dict(joint.state_dict(), strict=False)
    assert not incompatible.missing_keys
    assert incompatible.unexpected_keys and all(k.startswith(branch)
                                                for k in incompatible.unexpected_keys)
    val = shapes_batch(root, [0, 1, 2], baseline_cfg, 'val')
    with torch.no_grad():
        ours = joint(**joint.data_preprocessor(copy.deepcopy(val)), mode='predict')
        theirs = baseline(**baseline.data_preprocessor(copy.deepcopy(val)), mode='predict')
    assert sum(len(r.pred_instances) for r in theirs) > 0
    for a, b in zip(ours, theirs):
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(a.pred_instances[key], b.pred_instances[key])
