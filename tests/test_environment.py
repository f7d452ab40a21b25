"""The environment that tools/setup_env.sh builds: pinned versions, mmcv's compiled ops."""
import os.path as osp
import re
from importlib.metadata import version

import pytest
import torch

from joint_testing import REPO


def _pins():
    pins = {}
    for line in open(osp.join(REPO, 'requirements.txt')):
        match = re.match(r'^([A-Za-z0-9_.-]+)==([^\s#]+)', line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def test_installed_versions_are_the_pinned_ones():
    pins = _pins()
    assert {'torch', 'torchvision', 'mmcv', 'mmdet', 'mmengine', 'open_clip_torch'} <= set(pins)
    installed = {name: version(name) for name in pins}
    # torch reports local build tags (2.12.1+cu130); the release must match.
    assert {n: v.split('+')[0] for n, v in installed.items()} == pins
    assert int(version('setuptools').split('.')[0]) < 81  # pkg_resources is still needed


def test_mmcv_compiled_nms_on_cpu():
    from mmcv.ops import nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert dets.shape == (2, 5)


def test_mmcv_compiled_roi_align_forward_and_backward_on_cpu():
    from mmcv.ops import RoIAlign
    feats = torch.arange(64, dtype=torch.float).view(1, 1, 8, 8).requires_grad_()
    rois = torch.tensor([[0, 0, 0, 4, 4]], dtype=torch.float)  # batch index, x1, y1, x2, y2
    out = RoIAlign(output_size=2, spatial_scale=1.0, sampling_ratio=2, aligned=True)(feats, rois)
    assert out.shape == (1, 1, 2, 2)
    # aligned=True shifts the box by half a pixel: bins average samples at 0 and 1
    # (then 2 and 3), i.e. the ramp 8 * y + x at 0.5 and 2.5.
    expected = torch.tensor([[4.5, 6.5], [20.5, 22.5]])
    torch.testing.assert_close(out[0, 0], expected, atol=1e-4, rtol=0)
    out.sum().backward()
    # Every output distributes a unit gradient over the pixels it sampled.
    assert feats.grad.sum().item() == pytest.approx(4.0, abs=1e-4)
